"""A whole campaign through the real CLI: a member register with declaring and non-declaring adhérents,
files inside and outside January, a facture d'office then a late declaration, a correction after invoicing,
an invoicing run killed midway, payments. Amounts checked against a hand computation."""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal

import facturx
import pytest

from tests.billing_helpers import (
    LIST_HEADERS, assert_gapless, billing_workspace, declare, employees_file, pieces, received,
)
from tests.factories import employee_row, make_nir, write_csv

D = Decimal


@pytest.fixture
def campaign(tmp_path):
    ws = billing_workspace(tmp_path)
    rng = random.Random(5)
    # 10003 (through its payroll provider PAIE01) has 6 employees known from movement files, 1 of them SIR.
    s3 = ws.registry.members["10003"][0]
    rows = [employee_row(make_nir(rng), s3, name=f"SALARIE{i}", category="SIR" if i == 0 else "SI") for i in range(6)]
    employees_file(ws, "PAIE01", "paie-decembre.csv", rows, dt.datetime(2025, 12, 20))
    ws.cli("traiter")
    return ws, rng


def test_whole_campaign(campaign):
    ws, rng = campaign
    s2 = ws.registry.members["10002"][0]

    # Before the window opens: refused, saying when it opens.
    declare(ws, "10001", dt.datetime(2025, 12, 28, 10), si=6, name="trop-tot.csv")
    ws.cli("traiter")  # one run per reception day: the reception time is the service's clock
    # Inside January: 10001 by counts, 10002 (through PAIE01) as a list of employees (4 SI, 1 SIR).
    declare(ws, "10001", dt.datetime(2026, 1, 10, 9), si=6, name="effectifs-2026.csv")
    ws.cli("traiter")
    people = [[2026, s2, f"NOM{i}", "Jean", make_nir(rng), "SIR" if i == 0 else "SI"] for i in range(5)]
    received(ws, write_csv(ws.drop("PAIE01", "declaration-10002.csv"), LIST_HEADERS, people), dt.datetime(2026, 1, 12, 9))
    ws.cli("traiter")
    # After the window: 10003 is refused, saying it is closed and when the next one opens.
    declare(ws, "10003", dt.datetime(2026, 2, 3, 9), si=5, name="en-retard.csv", sender="PAIE01")
    ws.cli("traiter")

    early = ws.ack_rows("10001", "trop-tot")
    assert ws.ack("10001", "trop-tot")["statut"] == "rejete"
    assert early[0]["code"] == "DECL_HORS_CAMPAGNE" and "ouvrira le 01/01/2026" in early[0]["message"]
    late = ws.ack_rows("PAIE01", "en-retard")
    assert late[0]["code"] == "DECL_HORS_CAMPAGNE"
    assert "close depuis le 31/01/2026" in late[0]["message"] and "ouvrira le 01/01/2027" in late[0]["message"]
    assert ws.ack("10001", "effectifs-2026")["statut"] == "accepte"
    assert ws.ack("PAIE01", "declaration-10002")["statut"] == "accepte"

    status = ws.cli("declaration", "statuts", "--annee", "2026", "--date", "03/02/2026").stdout
    assert "10001 Entreprise 10001 : Confirmée — 6 salarié(s)" in status
    assert "10002 Entreprise 10002 : Confirmée — 5 salarié(s)" in status
    assert "10003 Entreprise 10003 : Non déclarée" in status  # not the label of a member in liquidation (issue 12)

    # 5 February: invoices for the confirmed declarations, a facture d'office for 10003 (6 known, 1 SIR).
    out = ws.cli("facturer", "--annee", "2026", "--date", "05/02/2026").stdout
    assert "Facture d'office n° 420932" in out
    got = pieces(ws)
    assert got == [
        ("420930", "facture", "10001", "2026-02-05", "694.80", "138.96", "833.76", None),
        # 5 × 115,80 + 1 × 51,10 = 630,10 HT; TVA 126,02; TTC 756,12
        ("420931", "facture", "10002", "2026-02-05", "630.10", "126.02", "756.12", None),
        # 6 × 115,80 + 1 × 51,10 = 745,90 HT; TVA 149,18; TTC 895,08
        ("420932", "facture_office", "10003", "2026-02-05", "745.90", "149.18", "895.08", None),
    ]
    # 10004 has neither a declaration nor a known employee: no facture d'office, and it is said.
    assert "10004 : aucune déclaration et aucun effectif connu" in out

    # Staff reopen the window for 10003 only; its late declaration comes in. 10001 corrects its own
    # (7 workers): the window is closed for it, so staff reopen it too.
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10003")
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10001")
    declare(ws, "10003", dt.datetime(2026, 2, 10, 9), si=5, name="tardive.csv", sender="PAIE01")
    declare(ws, "10001", dt.datetime(2026, 2, 15, 9), si=7, name="correction.csv")
    ws.cli("traiter")
    assert ws.ack("PAIE01", "tardive")["statut"] == "accepte"
    codes = {r["code"] for r in ws.ack_rows("PAIE01", "tardive")}
    assert "DECL_ECART_EFFECTIF" in codes  # declares 5, the service knows 6
    correction = ws.ack_rows("10001", "correction")
    assert any(r["code"] == "DECL_CORRECTION_APRES_FACTURE" and "420930" in r["message"] for r in correction)

    # 20 February: the run is killed (SIGKILL) while writing its second piece, before the commit.
    killed = ws.cli("facturer", "--annee", "2026", "--date", "20/02/2026", check=False,
                    env={"AMSN_BATCH_PANNE": "facturer-avant-commit:2"})
    assert killed.returncode == -9
    assert [p[0] for p in pieces(ws)] == ["420930", "420931", "420932", "420933"]
    # Rerun: the rest is issued, no number skipped or used twice.
    ws.cli("facturer", "--annee", "2026", "--date", "20/02/2026")
    assert_gapless(ws)
    got = pieces(ws)[3:]
    assert got == [
        ("420933", "avoir", "10001", "2026-02-20", "-694.80", "-138.96", "-833.76", "420930"),
        ("420934", "facture", "10001", "2026-02-20", "810.60", "162.12", "972.72", None),  # 7 × 115,80
        ("420935", "avoir", "10003", "2026-02-20", "-745.90", "-149.18", "-895.08", "420932"),
        ("420936", "facture", "10003", "2026-02-20", "579.00", "115.80", "694.80", None),  # 5 × 115,80
    ]
    motif = ws.sql("SELECT motif FROM factures WHERE numero='420935'")[0][0]
    assert "facture n° 420932 du 05/02/2026" in motif and "facture d'office" in motif
    # Running it again issues nothing.
    again = ws.cli("facturer", "--annee", "2026", "--date", "21/02/2026").stdout
    assert "Aucune pièce à émettre pour 2026." in again
    assert len(pieces(ws)) == 7

    status = ws.cli("declaration", "statuts", "--annee", "2026", "--date", "21/02/2026").stdout
    assert "10001 Entreprise 10001 : Facturée — 7 salarié(s) — facture 420934" in status
    assert "10003 Entreprise 10003 : Facturée — 5 salarié(s) — facture 420936" in status

    # Payments: 420931 in full, 420936 in part, a line for an unknown invoice refused.
    pay = write_csv(ws.root / "paiements.csv", ["N° facture", "Date", "Montant"],
                    [["420931", "01/03/2026", "756,12"], ["420936", "02/03/2026", "300,00"], ["999999", "02/03/2026", "10,00"]])
    res = ws.cli("paiements", "importer", str(pay))
    assert "2 paiement(s) enregistré(s) sur 3 ligne(s)." in res.stdout
    assert "facture « 999999 » inconnue" in res.stderr

    lists = {a: _csv(ws.outbox / a / "factures" / f"factures-{a}.csv") for a in ("10001", "10002", "10003")}
    status_of = {r["N°"]: r["Statut"] for rows in lists.values() for r in rows}
    assert status_of == {"420930": "Acquittée", "420933": "Acquitté", "420934": "À payer", "420931": "Acquittée",
                         "420932": "Acquittée", "420935": "Acquitté", "420936": "Partiellement payée"}

    # Every piece has a Factur-X PDF whose XML passes the schema check.
    for numero, kind, adherent, *_ in pieces(ws):
        prefix = "avoir" if kind == "avoir" else "facture"
        pdf = (ws.outbox / adherent / "factures" / f"{prefix}-{numero}.pdf").read_bytes()
        _, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
        assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")

    # The accounting journal of February balances and matches the pieces.
    out = ws.cli("journal", "--du", "01/02/2026", "--au", "28/02/2026", "--sortie", str(ws.root / "journal.csv")).stdout
    rows = _csv(ws.root / "journal.csv")
    assert all(r["Journal"] for r in rows)  # issue 12: no "Total" row among the data; the totals are in the output
    debit = sum(D(r["Débit"].replace(",", ".") or "0") for r in rows)
    assert debit == sum(D(r["Crédit"].replace(",", ".") or "0") for r in rows)
    expected_debit = sum(D(p[6]) for p in pieces(ws) if D(p[6]) > 0) + sum(-D(p[4]) - D(p[5]) for p in pieces(ws) if D(p[6]) < 0)
    assert debit == expected_debit
    assert f"débit {expected_debit:,.2f}".replace(",", "\u202f").replace(".", ",") in out
    assert "7 pièce(s)" in out


def _csv(path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
