"""Requests from members (issue 15, part 3), through `traiter`: cancellations received 4, 3 and 2 working days
ahead, around a bank holiday and a weekend, and in an Alsace-Moselle centre; visit requests from a mandataire
with and without mandate; templates; the planning team's file and the dashboard."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from openpyxl import load_workbook

from amsn_batch.appointments.workdays import deadline
from tests.conftest import import_registry, make_workspace
from tests.factories import employee_row, make_nir, write_csv, write_xlsx
from tests.test_rendez_vous_planning import PLANNING_HEADERS, hire, people, planning_row

CANCEL_HEADERS = ["N° rendez-vous à annuler", "N° sécurité sociale", "Nom", "Date du rendez-vous", "Motif de l'annulation"]
VISIT_HEADERS = ["N° sécurité sociale", "Nom", "Prénom", "SIRET", "Visite demandée", "Motif de la demande",
                 "Période souhaitée", "Contraintes de convocation"]


def workspace(tmp_path):
    directory = Path(__file__).resolve().parent.parent / "examples" / "annuaire.toml"  # Centre de Caen and its phone
    extra = f'annuaire = "{directory}"\n[rendez_vous.departements]\n"Centre de Strasbourg" = "67"\n'
    return import_registry(make_workspace(tmp_path / "ws", extra_config=extra), tmp_path / "registre")


def send(ws, sender, name, headers, rows, when):
    write_csv(ws.drop(sender, name), headers, rows, encoding="utf-8")
    ws.cli("traiter", env={"AMSN_BATCH_MAINTENANT": when})
    return ws.ack(sender, name.rsplit(".", 1)[0])


def blocking(ack):
    return [(c["ligne"], c["code"], c["message"]) for c in ack["constats"] if c["gravite"] == "bloquant"]


def test_working_days_with_the_holidays_library():
    caen, strasbourg, metz = "", "67", "57"
    # Wednesday 18/11/2026: Tuesday, Monday, then Friday 13
    assert deadline(dt.date(2026, 11, 18), 3, caen) == dt.date(2026, 11, 13)
    # Friday 13/11/2026: Thursday, (Wednesday 11 November, Armistice), Tuesday, Monday 9
    assert deadline(dt.date(2026, 11, 13), 3, caen) == dt.date(2026, 11, 9)
    # Friday 29/12/2028: Thursday, Wednesday, Tuesday 26 December (a working day in Caen, not in Alsace-Moselle)
    assert deadline(dt.date(2028, 12, 29), 3, caen) == dt.date(2028, 12, 26)
    assert deadline(dt.date(2028, 12, 29), 3, strasbourg) == dt.date(2028, 12, 22)
    assert deadline(dt.date(2028, 12, 29), 3, metz) == dt.date(2028, 12, 22)
    # Wednesday 31/03/2027: Tuesday, (Easter Monday), (Good Friday 26/03 in Alsace-Moselle only), Thursday, Wednesday
    assert deadline(dt.date(2027, 3, 31), 3, caen) == dt.date(2027, 3, 25)
    assert deadline(dt.date(2027, 3, 31), 3, strasbourg) == dt.date(2027, 3, 24)


def test_cancellations_three_working_days_ahead(tmp_path):
    ws = workspace(tmp_path)
    nirs = people(ws)
    m, b, p = nirs["MARTIN"], nirs["BERNARD"], nirs["PETIT"]
    rows = [planning_row("C-1", "18/11/2026", "09:00", m, "MARTIN"),
            planning_row("C-2", "18/11/2026", "10:00", b, "BERNARD"),
            planning_row("C-3", "18/11/2026", "11:00", p, "PETIT"),
            planning_row("C-8", "18/11/2026", "15:00", b, "BERNARD"),
            planning_row("C-4", "13/11/2026", "09:00", m, "MARTIN"),
            planning_row("C-5", "31/03/2027", "09:00", m, "MARTIN"),
            planning_row("C-6", "31/03/2027", "10:00", b, "BERNARD"),
            planning_row("C-9", "20/11/2026", "10:00", p, "PETIT", status="Annulé")]
    rows[5][3] = "Centre de Strasbourg"
    export = write_csv(tmp_path / "planning.csv", PLANNING_HEADERS, rows, encoding="utf-8")
    ws.cli("rendez-vous", "importer", str(export), env={"AMSN_BATCH_MAINTENANT": "2026-11-09T08:00"})

    # Thursday 12/11, 4 working days ahead of Wednesday 18/11: accepted
    ack = send(ws, "10002", "annulation-1.csv", CANCEL_HEADERS, [["C-1", "", "", "", "Salarié en congé"]], "2026-11-12T10:00")
    assert (ack["statut"], ack["lignes_acceptees"], blocking(ack)) == ("accepte", 1, [])
    # Friday 13/11 at 17:30, 3 working days ahead: accepted
    ack = send(ws, "10002", "annulation-2.csv", CANCEL_HEADERS, [["C-2", "", "", "", ""]], "2026-11-13T17:30")
    assert (ack["statut"], blocking(ack)) == ("accepte", [])
    # Saturday 14/11 (by NIR and day): the weekend leaves 2 working days: refused, with the deadline and whom to call
    ack = send(ws, "10002", "annulation-3.csv", CANCEL_HEADERS, [["", p, "PETIT", "18/11/2026", ""]], "2026-11-14T09:00")
    assert ack["statut"] == "rejete"
    [(line, code, message)] = blocking(ack)
    assert code == "RDV_ANNULATION_TARDIVE" and line == 2
    assert "Demande reçue le 14/11/2026 pour le rendez-vous C-3 du 18/11/2026 à 11:00" in message
    assert "au moins 3 jours ouvrés à l'avance, au plus tard le 13/11/2026" in message
    assert "Le rendez-vous est maintenu. Pour un empêchement de dernière minute, appelez le Centre de Caen au 02 31 00 00 10." in message
    # Monday 16/11, 2 working days ahead: refused
    ack = send(ws, "10002", "annulation-4.csv", CANCEL_HEADERS, [["C-8", "", "", "", ""]], "2026-11-16T08:00")
    assert [c for _, c, _ in blocking(ack)] == ["RDV_ANNULATION_TARDIVE"] and "au plus tard le 13/11/2026" in blocking(ack)[0][2]
    # Tuesday 10/11 for Friday 13/11: Wednesday 11 November is a bank holiday: the deadline was Monday 9/11
    ack = send(ws, "10002", "annulation-5.csv", CANCEL_HEADERS, [["C-4", "", "", "", ""]], "2026-11-10T09:00")
    assert "au plus tard le 09/11/2026" in blocking(ack)[0][2]
    # Thursday 25/03/2027 for Wednesday 31/03/2027: accepted in Caen, refused in Strasbourg (Good Friday)
    ack = send(ws, "10002", "annulation-6.csv", CANCEL_HEADERS, [["C-5", "", "", "", ""], ["C-6", "", "", "", ""]],
               "2027-03-25T09:00")
    assert ack["statut"] == "accepte_partiellement"
    assert [(line, code) for line, code, _ in blocking(ack)] == [(2, "RDV_ANNULATION_TARDIVE")]
    assert "au plus tard le 24/03/2027" in blocking(ack)[0][2]
    # a centre the directory does not describe: the acknowledgement's contacts and the service's e-mail
    assert "appelez le Centre de Strasbourg (coordonnées dans « Qui contacter » ci-dessous, ou " in blocking(ack)[0][2]

    # what cannot be cancelled: no reference, unknown, already cancelled
    ack = send(ws, "10002", "annulation-7.csv", CANCEL_HEADERS,
               [["", "", "PETIT", "", ""], ["Z-404", "", "", "", ""], ["C-9", "", "", "", ""]], "2026-11-12T11:00")
    assert [(line, code) for line, code, _ in blocking(ack)] == [
        (2, "RDV_REFERENCE_MANQUANTE"), (3, "RDV_INCONNU"), (4, "RDV_NON_ANNULABLE")]
    assert "est annulé" in blocking(ack)[2][2]
    # another member's appointment, sent by a member with no mandate for it: as unknown as one that does not exist
    ack = send(ws, "10001", "annulation-8.csv", CANCEL_HEADERS, [["C-2", "", "", "", "Erreur"]], "2026-11-12T11:00")
    assert [code for _, code, _ in blocking(ack)] == ["RDV_INCONNU"]

    recorded = ws.sql("SELECT rdv_id, decision, date_limite, recue_le FROM demandes_rdv WHERE genre='annulation' "
                      "AND rdv_id IS NOT NULL ORDER BY id")
    assert recorded[:7] == [
        ("C-1", "acceptee", "2026-11-13", "2026-11-12T10:00:00"), ("C-2", "acceptee", "2026-11-13", "2026-11-13T17:30:00"),
        ("C-3", "refusee", "2026-11-13", "2026-11-14T09:00:00"), ("C-8", "refusee", "2026-11-13", "2026-11-16T08:00:00"),
        ("C-4", "refusee", "2026-11-09", "2026-11-10T09:00:00"), ("C-5", "refusee", "2027-03-24", "2027-03-25T09:00:00"),
        ("C-6", "acceptee", "2027-03-25", "2027-03-25T09:00:00")]
    # the planning team's file of the day: the accepted cancellations, importable (one line each)
    team = ws.root / "rapports" / "rendez-vous"
    day = list(csv.DictReader((team / "demandes-2026-11-12.csv").read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert [(r["Demande"], r["N° rendez-vous"], r["Date du rendez-vous"], r["N° adhérent"], r["N° sécurité sociale"])
            for r in day] == [("Annulation", "C-1", "18/11/2026", "10002", m)]
    assert [r["N° rendez-vous"] for r in csv.DictReader(
        (team / "demandes-2027-03-25.csv").read_text(encoding="utf-8-sig").splitlines(), delimiter=";")] == ["C-6"]
    # nothing sent back to the sender carries a full NIR
    for path in (ws.outbox / "10002").glob("annulation-3*"):
        assert p not in path.read_text(encoding="utf-8", errors="ignore")


def test_visit_requests_from_a_mandataire_with_and_without_mandate(tmp_path):
    ws = workspace(tmp_path)
    nirs = people(ws, 1)
    other = make_nir(random.Random(5))
    s1 = ws.registry.members["10001"][0]
    hire(ws, {"10001": [employee_row(other, s1, name="DURAND", hired="01/03/2026")]})
    s2 = ws.registry.members["10002"][0]
    rows = [[nirs["MARTIN"], "MARTIN", "Marie", s2, "Visite de reprise", "Arrêt de 2 mois", "semaine du 07/12/2026", "matin"],
            [other, "DURAND", "Marie", "", "Visite à la demande de l'employeur", "", "", ""],  # 10001's: never said
            [other, "DURAND", "Marie", s1, "Visite de pré-reprise", "", "", ""],  # 10001's SIRET: no mandate
            [make_nir(random.Random(6)), "NOUVEAU", "Jean", "", "Visite de mi-carrière", "", "", ""],  # unknown
            [nirs["MARTIN"], "MARTIN", "Marie", "", "Visite de confort", "", "", ""]]  # no such visit
    write_xlsx(ws.drop("PAIE01", "demandes.xlsx"), VISIT_HEADERS, rows, sheet="Demandes")
    ws.cli("traiter", env={"AMSN_BATCH_MAINTENANT": "2026-11-30T10:00"})
    ack = ws.ack("PAIE01", "demandes")
    assert (ack["statut"], ack["lignes"], ack["lignes_acceptees"]) == ("accepte_partiellement", 5, 1)
    assert [(line, code) for line, code, _ in blocking(ack)] == [
        (3, "RDV_SALARIE_INCONNU"), (4, "RDV_HORS_MANDAT"), (5, "RDV_SALARIE_INCONNU"), (6, "RDV_TYPE_VISITE_INCONNU")]
    assert f"L'établissement {s1} n'est pas le vôtre" in blocking(ack)[1][2]
    assert "« Visite de confort » n'est pas un type de visite connu" in blocking(ack)[3][2]
    assert "Visite de reprise" in blocking(ack)[3][2]  # the list of visits is in the message
    # the same lines from the member itself: its own employee, accepted
    write_csv(ws.drop("10001", "demande.csv"), VISIT_HEADERS, [rows[1]], encoding="utf-8")
    ws.cli("traiter", env={"AMSN_BATCH_MAINTENANT": "2026-11-30T11:00"})
    assert ws.ack("10001", "demande")["statut"] == "accepte"
    assert ws.sql("SELECT adherent, type_visite, motif, periode, contraintes, decision FROM demandes_rdv "
                  "WHERE decision='acceptee' ORDER BY id") == [("10002", "reprise", "Arrêt de 2 mois", "semaine du 07/12/2026", "matin", "acceptee"),
                                                                ("10001", "demande_employeur", "", "", "", "acceptee")]
    team = ws.root / "rapports" / "rendez-vous" / "demandes-2026-11-30.csv"
    line, own = csv.DictReader(team.read_text(encoding="utf-8-sig").splitlines(), delimiter=";")
    assert (line["Demande"], line["Visite demandée"], line["Expéditeur"], line["N° adhérent"]) == (
        "Demande de visite", "Visite de reprise", "PAIE01", "10002")
    assert (own["Visite demandée"], own["Expéditeur"], own["N° adhérent"]) == (
        "Visite à la demande de l'employeur", "10001", "10001")
    text = " ".join(p.read_text(encoding="utf-8", errors="ignore") for p in (ws.outbox / "PAIE01").glob("demandes*.ar.*"))
    assert other not in text and nirs["MARTIN"] not in text

    # the staff dashboard of the day lists the requests
    ws.cli("rapport", "quotidien", "--date", "30/11/2026")
    page = (ws.root / "rapports").glob("*2026-11-30*.html")
    html = next(page).read_text(encoding="utf-8")
    assert "Demandes de rendez-vous" in html and "2 acceptée(s), 4 refusée(s)" in html


def test_request_templates(ws, tmp_path):
    out = ws.cli("modele", "demande-visite", "--sortie", str(tmp_path)).stdout
    assert "modele-demande-visite.xlsx" in out and "modele-demande-visite.csv" in out
    wb = load_workbook(tmp_path / "modele-demande-visite.xlsx")
    sheet = wb["Demandes de visite"]
    headers = [c.value for c in sheet[1]]
    assert headers == VISIT_HEADERS
    [dv] = [d for d in sheet.data_validations.dataValidation if "E2" in str(d.sqref)]
    items = [c.value for c in wb["Listes"]["A"][1:]]
    assert "Visite de pré-reprise" in items and "Visite d'information et de prévention" in items and "Listes" in dv.formula1
    ws.cli("modele", "annulation", "--sortie", str(tmp_path))
    assert (tmp_path / "modele-annulation.csv").read_text(encoding="utf-8-sig").strip() == ";".join(
        ["N° rendez-vous à annuler", "N° sécurité sociale", "Nom", "Prénom", "Date du rendez-vous", "Motif de l'annulation"])
    notice = " ".join(str(c.value) for row in load_workbook(tmp_path / "modele-annulation.xlsx")["Notice"].iter_rows() for c in row)
    assert "3 jours ouvrés" in notice
