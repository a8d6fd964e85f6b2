"""Planning in and out (issue 15, parts 1 and 2), through the real CLI: a planning export with moves and
cancellations imported twice, history kept, unknown members and employees reported, nothing lost; each member's
(and mandataire's) rendez-vous folder, its .ics read back by the icalendar library."""

from __future__ import annotations

import csv
import datetime as dt
import random
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar
from openpyxl import load_workbook

from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx

PLANNING_HEADERS = ["N° RDV", "Date", "Heure", "Centre", "Professionnel de santé", "Fonction", "Type de visite",
                    "N° sécurité sociale", "Nom", "Prénom", "N° adhérent", "SIRET", "Statut"]
NOW = "2026-12-01T08:00"


def hire(ws, rows_by_member: dict[str, list[list[str]]]) -> None:
    for member, rows in rows_by_member.items():
        write_csv(ws.drop(member, f"entrees-{member}.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter", env={"AMSN_BATCH_MAINTENANT": "2026-11-02T09:00"})


def people(ws, n: int = 3) -> dict[str, str]:
    rng = random.Random(15)
    nirs = {name: make_nir(rng) for name in ("MARTIN", "BERNARD", "PETIT")[:n]}
    s2 = ws.registry.members["10002"][0]
    hire(ws, {"10002": [employee_row(nir, s2, name=name, hired="01/06/2026") for name, nir in nirs.items()]})
    return nirs


def planning_row(rdv, day, time, nir, name, member="10002", status="Prévu", kind="VIP", siret=""):
    return [rdv, day, time, "Centre de Caen", "Dr Claire Exemple", "Médecin du travail", kind, nir, name, "Marie",
            member, siret, status]


def read_ics(path: Path) -> dict[str, object]:
    cal = Calendar.from_ical(path.read_bytes())
    return {str(ev["UID"]): ev for ev in cal.walk("VEVENT")}


def test_planning_imported_twice_with_moves_and_cancellations(ws, tmp_path):
    nirs = people(ws)
    stranger = make_nir(random.Random(99))
    first = write_csv(tmp_path / "planning-1.csv", PLANNING_HEADERS, [
        planning_row("A-1", "08/12/2026", "09:00", nirs["MARTIN"], "MARTIN"),
        planning_row("A-2", "09/12/2026", "10h30", nirs["BERNARD"], "BERNARD", kind="Visite de reprise"),
        planning_row("A-3", "10/12/2026", "14:00", nirs["PETIT"], "PETIT"),
        planning_row("A-4", "11/12/2026", "11:00", stranger, "INCONNU"),  # employee unknown to the service
        planning_row("A-5", "11/12/2026", "11:30", nirs["PETIT"], "PETIT", member="99999"),  # member unknown
        planning_row("", "11/12/2026", "12:00", nirs["PETIT"], "PETIT"),  # no id: reported, not importable
    ], encoding="utf-8")
    env = {"AMSN_BATCH_MAINTENANT": NOW}
    out = ws.cli("rendez-vous", "importer", str(first), env=env).stdout
    assert "6 ligne(s) — 5 rendez-vous nouveau(x), 0 modifié(s), 0 inchangé(s)." in out
    assert "2 rendez-vous gardé(s) avec un problème" in out and "1 ligne(s) non importée(s)" in out
    report = next((ws.root / "rapports" / "rendez-vous").glob("import-planning-1-*.csv"))
    lines = list(csv.DictReader(report.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    problems = {r["N° rendez-vous"]: r["Problème"] for r in lines}
    assert problems["A-4"] == "salarié inconnu du service"
    assert problems["A-5"] == "adhérent inconnu"
    assert problems[""] == "N° de rendez-vous absent : ligne non importée"
    assert stranger not in report.read_text(encoding="utf-8-sig")
    assert ws.sql("SELECT id, probleme FROM rendez_vous WHERE probleme IS NOT NULL ORDER BY id") == [
        ("A-4", "salarié inconnu du service"), ("A-5", "adhérent inconnu")]

    folder = ws.outbox / "10002" / "rendez-vous"
    events = read_ics(folder / "rendez-vous-10002.ics")
    uids = sorted(events)
    assert uids == ["rdv-A-1@amsn.fr", "rdv-A-2@amsn.fr", "rdv-A-3@amsn.fr", "rdv-A-4@amsn.fr"]
    a1 = events["rdv-A-1@amsn.fr"]
    assert a1["SEQUENCE"] == 0 and str(a1["STATUS"]) == "CONFIRMED"
    start = a1.decoded("DTSTART")
    assert start == dt.datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert a1["DTSTART"].params["TZID"] == "Europe/Paris"
    assert start.utcoffset() == dt.timedelta(hours=1)  # winter time
    cal = Calendar.from_ical((folder / "rendez-vous-10002.ics").read_bytes())
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert str(events["rdv-A-2@amsn.fr"]["SUMMARY"]) == "Visite de reprise – Marie BERNARD"
    # the mandataire of 10002 gets the same files; no full NIR anywhere
    assert (ws.outbox / "PAIE01" / "rendez-vous" / "rendez-vous-10002.ics").read_bytes() == \
        (folder / "rendez-vous-10002.ics").read_bytes()
    for path in [*folder.iterdir(), *(ws.outbox / "PAIE01" / "rendez-vous").iterdir()]:
        text = path.read_bytes().decode("utf-8", "ignore") if path.suffix != ".xlsx" else \
            " ".join(str(c) for row in load_workbook(path).active.iter_rows(values_only=True) for c in row)
        assert not any(n in text for n in nirs.values()), path
    rows = list(csv.DictReader((folder / "rendez-vous-10002.csv").read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert [(r["Date"], r["Heure"], r["Statut"]) for r in rows][:2] == [("08/12/2026", "09:00", "Prévu"), ("09/12/2026", "10:30", "Prévu")]
    assert rows[0]["N° sécurité sociale (masqué)"] == nirs["MARTIN"][:5] + "*" * 10
    assert not (ws.outbox / "10001" / "rendez-vous").exists()

    # the same export again: nothing changes
    again = ws.cli("rendez-vous", "importer", str(first), env={"AMSN_BATCH_MAINTENANT": "2026-12-01T09:00"}).stdout
    assert "0 rendez-vous nouveau(x), 0 modifié(s), 5 inchangé(s)." in again
    assert ws.sql("SELECT count(*) FROM rendez_vous_versions") == [(5,)]

    # the next export: A-1 moved, A-3 cancelled (XLSX this time), then the same export once more
    second = write_xlsx(tmp_path / "planning-2.xlsx", PLANNING_HEADERS, [
        planning_row("A-1", "15/12/2026", "16:15", nirs["MARTIN"], "MARTIN"),
        planning_row("A-2", "09/12/2026", "10:30", nirs["BERNARD"], "BERNARD", kind="Visite de reprise"),
        planning_row("A-3", "10/12/2026", "14:00", nirs["PETIT"], "PETIT", status="Annulé"),
    ], sheet="Planning")
    for i in range(2):
        out = ws.cli("rendez-vous", "importer", str(second), env={"AMSN_BATCH_MAINTENANT": f"2026-12-02T0{8 + i}:00"}).stdout
        assert ("2 modifié(s), 1 inchangé(s)" if i == 0 else "0 modifié(s), 3 inchangé(s)") in out
    events = read_ics(folder / "rendez-vous-10002.ics")
    assert sorted(events) == uids  # UIDs stable across imports
    assert events["rdv-A-1@amsn.fr"]["SEQUENCE"] == 1
    assert events["rdv-A-1@amsn.fr"].decoded("DTSTART") == dt.datetime(2026, 12, 15, 16, 15, tzinfo=ZoneInfo("Europe/Paris"))
    assert str(events["rdv-A-3@amsn.fr"]["STATUS"]) == "CANCELLED" and events["rdv-A-3@amsn.fr"]["SEQUENCE"] == 1
    assert events["rdv-A-2@amsn.fr"]["SEQUENCE"] == 0
    # the moved appointment keeps its past
    assert ws.sql("SELECT sequence, debut, statut, source FROM rendez_vous_versions WHERE rdv_id='A-1' ORDER BY sequence") == [
        (0, "2026-12-08T09:00", "prevu", "planning-1.csv"), (1, "2026-12-15T16:15", "prevu", "planning-2.xlsx")]
    wb = load_workbook(folder / "rendez-vous-10002.xlsx")
    sheet = wb["Mes rendez-vous"]
    values = [r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0]]
    assert values[0][0] == dt.datetime(2026, 12, 9) and sheet.cell(3, 1).number_format == "dd/mm/yyyy"


def test_missed_appointment_recorded_for_billing_when_the_tariff_says_so(tmp_path):
    from tests.conftest import import_registry, make_workspace

    extra = ('[tarifs.2026]\ncotisation_par_salarie = "115.80"\ntaux_tva = "20"\ncout_moyen_national = "116.00"\n'
             'absence_non_excusee = "45.00"\n')
    ws = import_registry(make_workspace(tmp_path / "ws", extra_config=extra), tmp_path / "registre")
    nirs = people(ws, 2)
    export = write_csv(tmp_path / "planning.csv", PLANNING_HEADERS, [
        planning_row("B-1", "24/11/2026", "09:00", nirs["MARTIN"], "MARTIN", status="Non honoré"),
        planning_row("B-2", "25/11/2026", "09:00", nirs["BERNARD"], "BERNARD", status="Honoré"),
    ], encoding="utf-8")
    for _ in range(2):
        out = ws.cli("rendez-vous", "importer", str(export), env={"AMSN_BATCH_MAINTENANT": NOW}).stdout
    assert "absence(s) non excusée(s)" not in out  # recorded once, at the first import
    assert ws.sql("SELECT rdv_id, adherent, jour, montant, facture_id FROM absences_facturables") == [
        ("B-1", "10002", "2026-11-24", "45.00", None)]


def test_missed_appointments_invoiced_once_on_the_complementary_invoice(tmp_path):
    from tests.billing_helpers import BILLING_CONFIG, billing_workspace, declare, pieces

    config = BILLING_CONFIG.replace("echeances = 1\n", 'echeances = 1\nabsence_non_excusee = "45.00"\n')
    ws = billing_workspace(tmp_path, config=config)
    declare(ws, "10002", dt.datetime(2026, 1, 15, 10), si=3)
    ws.cli("traiter")
    nir = make_nir(random.Random(3))
    export = write_csv(tmp_path / "planning.csv", PLANNING_HEADERS, [
        planning_row("M-1", "03/03/2026", "09:00", nir, "MARTIN", status="Non honoré"),
        planning_row("M-2", "04/03/2026", "09:00", nir, "MARTIN", status="Absent"),
        planning_row("M-3", "05/03/2026", "09:00", nir, "MARTIN", status="Honoré"),
    ], encoding="utf-8")
    ws.clock = dt.datetime(2026, 3, 10, 8, 0)
    assert "2 absence(s) non excusée(s) enregistrée(s) pour la facturation." in ws.cli("rendez-vous", "importer", str(export)).stdout
    ws.cli("facturer", "--annee", "2026", "--date", "20/03/2026")
    issued = [(p[1], p[2], p[4]) for p in pieces(ws)]
    assert issued == [("facture", "10002", "347.40"), ("facture_complementaire", "10002", "90.00")]
    assert ws.sql("SELECT l.libelle, l.quantite, l.prix_unitaire_ht, f.motif FROM factures_lignes l "
                  "JOIN factures f ON f.id = l.facture_id WHERE f.type = 'facture_complementaire'") == [
        ("Rendez-vous 2026 non honorés sans excuse", 2, "45.00", "Rendez-vous de suivi 2026 non honorés sans excuse.")]
    assert ws.sql("SELECT count(*) FROM absences_facturables WHERE facture_id IS NOT NULL") == [(2,)]
    ws.cli("facturer", "--annee", "2026", "--date", "21/03/2026")
    assert len(pieces(ws)) == 2  # billed once


def test_members_are_told_of_their_changed_appointments_by_email(ws, tmp_path):
    """Each planning import tells each member, once, which of its appointments were added, moved or cancelled,
    the calendar attached (no [smtp]: a .eml in envois/); the same export again tells nothing."""
    nirs = people(ws)
    rows = [planning_row("B-1", "08/12/2026", "09:00", nirs["MARTIN"], "MARTIN"),
            planning_row("B-2", "09/12/2026", "10:30", nirs["BERNARD"], "BERNARD")]
    env = {"AMSN_BATCH_MAINTENANT": NOW}
    ws.cli("rendez-vous", "importer", str(write_csv(tmp_path / "p1.csv", PLANNING_HEADERS, rows, encoding="utf-8")), env=env)
    ws.cli("rendez-vous", "importer", str(write_csv(tmp_path / "p1bis.csv", PLANNING_HEADERS, rows, encoding="utf-8")), env=env)
    rows[1] = planning_row("B-2", "09/12/2026", "10:30", nirs["BERNARD"], "BERNARD", status="Annulé")
    ws.cli("rendez-vous", "importer", str(write_csv(tmp_path / "p2.csv", PLANNING_HEADERS, rows, encoding="utf-8")), env=env)

    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((ws.root / "envois").glob("*.eml"))]
    about = [m for m in mails if "rendez-vous" in m["Subject"]]
    assert [m["Subject"] for m in about] == ["Vos rendez-vous de santé au travail : 2 changements",
                                             "Vos rendez-vous de santé au travail : 1 changement"]
    first, second = (m.get_body(("plain",)).get_content() for m in about)
    assert "Nouveau : 08/12/2026 à 09:00" in first and "Nouveau : 09/12/2026 à 10:30" in first
    assert "Annulé : 09/12/2026 à 10:30" in second and "08/12/2026" not in second
    [ics] = [part for part in about[1].iter_attachments()]
    assert ics.get_filename() == "rendez-vous-10002.ics" and ics.get_content_type() == "text/calendar"
    events = {str(e["UID"]): e for e in Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")}
    assert str(events["rdv-B-2@amsn.fr"]["STATUS"]) == "CANCELLED"
    for m in about:  # no full NIR, raw or decoded (the names are told, the NIR masked)
        texts = [m.as_bytes()] + [p.get_payload(decode=True) for p in m.walk() if not p.is_multipart()]
        assert not any(n.encode() in t for t in texts for n in nirs.values())
    assert nirs["MARTIN"][:5] + "*" * 10 in first
