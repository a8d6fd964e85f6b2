"""Payment schedule (échéancier), invoice lists, payments, disputes and the accounting journal."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.billing_helpers import BILLING_CONFIG, billing_workspace, declare
from tests.factories import write_csv

JAN = dt.datetime(2026, 1, 15, 10)
NBSP = "\u202f"


def _csv(path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))


def _money(text: str) -> Decimal:
    return Decimal(text.replace("\u00a0€", "").replace(NBSP, "").replace(",", ".")) if text else Decimal(0)


@pytest.fixture
def ws(tmp_path):
    """10001: 6 workers (833,76 € in 3 instalments); 10004: 2 workers (277,92 €); invoiced on 02/02/2026."""
    cfg = BILLING_CONFIG.replace("echeances = 1", "echeances = 3").replace("delai_paiement_jours = 30", "delai_paiement_jours = 60")
    w = billing_workspace(tmp_path, config=cfg)
    declare(w, "10001", JAN, si=6)
    declare(w, "10004", JAN, si=2)
    w.cli("traiter")
    w.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    return w


def _schedule(ws, adherent: str) -> list[dict]:
    return _csv(ws.outbox / adherent / "factures" / f"echeancier-{adherent}.csv")


def _invoices(ws, adherent: str) -> list[dict]:
    return _csv(ws.outbox / adherent / "factures" / f"factures-{adherent}.csv")


def test_schedule_has_the_portal_columns_and_instalments(ws):
    rows = _schedule(ws, "10001")
    assert list(rows[0]) == ["N°", "Date d'émission", "Date d'exigibilité", "Type de pièce", "Débit", "Crédit", "Période", "Solde"]
    assert [(r["N°"], r["Date d'émission"], r["Date d'exigibilité"], r["Type de pièce"], r["Débit"], r["Période"]) for r in rows] == [
        ("420930 (1/3)", "02/02/2026", "22/02/2026", "Facture — échéance 1/3", "277,92\u00a0€", "Année 2026"),
        ("420930 (2/3)", "02/02/2026", "14/03/2026", "Facture — échéance 2/3", "277,92\u00a0€", "Année 2026"),
        ("420930 (3/3)", "02/02/2026", "03/04/2026", "Facture — échéance 3/3", "277,92\u00a0€", "Année 2026"),
    ]
    assert _money(rows[-1]["Solde"]) == Decimal("833.76")
    # every due date within 60 days of the invoice date (L441-10)
    for r in rows:
        due = dt.datetime.strptime(r["Date d'exigibilité"], "%d/%m/%Y").date()
        assert (due - dt.date(2026, 2, 2)).days <= 60
    inv = _invoices(ws, "10001")
    assert list(inv[0])[:5] == ["N°", "Date", "Type de facture", "Montant TTC", "Période"]
    assert (inv[0]["N°"], inv[0]["Type de facture"], inv[0]["Statut"]) == ("420930", "Facture", "À payer")


def test_payments_make_invoices_acquittees(ws):
    pay = write_csv(ws.root / "paiements.csv", ["N° facture", "Date de paiement", "Montant payé"],
                    [["420930", "10/02/2026", "277,92"], ["420931", "12/02/2026", "277,92 €"]])
    out = ws.cli("paiements", "importer", str(pay))
    assert "2 paiement(s) enregistré(s) sur 2 ligne(s)." in out.stdout
    assert _invoices(ws, "10004")[0]["Statut"] == "Acquittée"
    first = _invoices(ws, "10001")[0]
    assert (first["Statut"], _money(first["Reste dû"])) == ("Partiellement payée", Decimal("555.84"))
    rows = _schedule(ws, "10001")
    paid = [r for r in rows if r["Type de pièce"] == "Règlement"]
    assert [(p["N°"], p["Date d'émission"], _money(p["Crédit"])) for p in paid] == [("420930", "10/02/2026", Decimal("277.92"))]
    assert _money(rows[-1]["Solde"]) == Decimal("555.84")
    # the workbook shows paid invoices apart
    wb = load_workbook(ws.outbox / "10004" / "factures" / "factures-10004.xlsx")
    cells = [[c.value for c in r] for r in wb["Mes factures"].iter_rows()]
    titles = [r[0] for r in cells]
    assert titles.index("Mes factures acquittées") < titles.index("420931")
    wb = load_workbook(ws.outbox / "10001" / "factures" / "echeancier-10001.xlsx")
    assert [c.value for c in next(wb["Mon échéancier"].iter_rows(min_row=2, max_row=2))][:4] == [
        "N°", "Date d'émission", "Date d'exigibilité", "Type de pièce"]
    # the same file again records nothing
    again = ws.cli("paiements", "importer", str(pay))
    assert "déjà importé" in again.stdout
    assert ws.sql("SELECT COUNT(*) FROM paiements") == [(2,)]


def test_payment_lines_with_problems_are_refused_and_said(ws):
    pay = write_csv(ws.root / "p.csv", ["N° facture", "Date", "Montant"],
                    [["420930", "31/02/2026", "10,00"], ["420930", "01/03/2026", "dix"], ["420930", "01/03/2026", "-5"],
                     ["420999", "01/03/2026", "5,00"], ["420930", "01/03/2026", "1 000,00"]])
    out = ws.cli("paiements", "importer", str(pay))
    assert "1 paiement(s) enregistré(s) sur 5 ligne(s)." in out.stdout
    assert "ligne 2 : date « 31/02/2026 » invalide" in out.stderr
    assert "ligne 3 : montant « dix » invalide" in out.stderr
    assert "ligne 4 : montant « -5 » invalide" in out.stderr
    assert "ligne 5 : facture « 420999 » inconnue" in out.stderr
    inv = _invoices(ws, "10001")[0]
    assert inv["Statut"] == "Acquittée"  # overpaid: 1 000,00 for 833,76
    bad = write_csv(ws.root / "q.csv", ["Facture", "Montant"], [["420930", "1"]])
    res = ws.cli("paiements", "importer", str(bad), check=False)
    assert res.returncode == 1 and "Colonne(s) absente(s) du fichier des paiements : Date" in res.stderr


def test_disputed_invoices_leave_the_schedule_and_come_back(ws):
    out = ws.cli("contentieux", "ajouter", "420930", "--motif", "désaccord sur l'effectif").stdout
    assert "mise en contentieux" in out
    assert _schedule(ws, "10001") == []
    assert _invoices(ws, "10001")[0]["Statut"] == "En contentieux"
    assert len(_schedule(ws, "10004")) == 3  # other members unaffected
    twice = ws.cli("contentieux", "ajouter", "420930", check=False)
    assert twice.returncode == 1 and "déjà en contentieux" in twice.stderr
    ws.cli("contentieux", "retirer", "420930")
    assert len(_schedule(ws, "10001")) == 3
    assert ws.sql("SELECT actif, motif FROM contentieux ORDER BY id") == [(1, "désaccord sur l'effectif"), (0, None)]
    unknown = ws.cli("contentieux", "ajouter", "1", check=False)
    assert unknown.returncode == 1 and "Facture inconnue : 1" in unknown.stderr


def test_credit_note_appears_as_credit_in_the_schedule(ws):
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 10, 9), si=3, name="correction.csv")
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "11/02/2026")
    rows = _schedule(ws, "10004")
    credit = [r for r in rows if r["Type de pièce"] == "Avoir"]
    assert [(r["N°"], _money(r["Crédit"])) for r in credit] == [("420932", Decimal("277.92"))]
    # 277,92 invoiced, 277,92 credited, then 3 × 115,80 × 1,2 = 416,88
    assert _money(rows[-1]["Solde"]) == Decimal("416.88")
    status = {r["N°"]: r["Statut"] for r in _invoices(ws, "10004")}
    assert status == {"420931": "Acquittée", "420932": "Acquitté", "420933": "À payer"}


def test_journal_balances_and_reverses_credit_notes(ws):
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 10, 9), si=3, name="correction.csv")
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "11/02/2026")
    out = ws.cli("journal", "--du", "01/02/2026", "--au", "28/02/2026").stdout
    assert "4 pièce(s)" in out
    path = ws.root / "comptabilite" / "journal-ventes-20260201-20260228.csv"
    body = _csv(path)
    # issue 12: the totals are a summary (the command's output), no longer a "Total" row among the data
    assert all(r["Journal"] for r in body) and not any("Total" in r["Libellé"] for r in body)
    debit = sum(_money(r["Débit"]) for r in body)
    credit = sum(_money(r["Crédit"]) for r in body)
    assert debit == credit
    assert f"débit {debit:.2f}".replace(".", ",") in out.replace("\u202f", "") and f"crédit {credit:.2f}".replace(".", ",") in out.replace("\u202f", "")
    # 833,76 + 277,92 + 416,88 invoiced; the credit note 277,92 on the member account's credit side
    client = [r for r in body if r["Compte"] == "411000"]
    assert sum(_money(r["Débit"]) for r in client) == Decimal("1528.56")
    assert [(_money(r["Crédit"]), r["N° pièce"]) for r in client if r["Crédit"]] == [(Decimal("277.92"), "420932")]
    sales = [r for r in body if r["Compte"] == "706000"]
    assert sum(_money(r["Crédit"]) - _money(r["Débit"]) for r in sales) == Decimal("694.80") + Decimal("347.40")
    assert {r["Compte auxiliaire"] for r in client} == {"10001", "10004"}
    # a period with nothing in it balances at zero
    empty = ws.cli("journal", "--du", "01/01/2026", "--au", "31/01/2026", "--sortie", str(ws.root / "vide.csv")).stdout
    assert "0 pièce(s)" in empty


def test_the_same_statement_exported_again_records_nothing_twice(ws):
    rows = [["420930", "10/02/2026", "277,92"], ["420931", "12/02/2026", "277,92"]]
    first = write_csv(ws.root / "releve.csv", ["N° facture", "Date", "Montant"], rows)
    assert "2 paiement(s) enregistré(s) sur 2 ligne(s)." in ws.cli("paiements", "importer", str(first)).stdout
    # the bank's export again, one byte different (another header spelling), plus one new payment
    again = write_csv(ws.root / "releve-bis.csv", ["N° facture", "Date de paiement", "Montant"],
                      rows + [["420930", "20/02/2026", "277,92"]])
    out = ws.cli("paiements", "importer", str(again)).stdout
    assert "1 paiement(s) enregistré(s) sur 3 ligne(s) ; 2 déjà enregistré(s) (relevé déjà importé), ignoré(s)." in out
    assert ws.sql("SELECT COUNT(*) FROM paiements") == [(3,)]
    assert _money(_invoices(ws, "10001")[0]["Reste dû"]) == Decimal("277.92")


def test_two_transfers_alike_are_told_apart_by_their_bank_reference(ws):
    headers = ["N° facture", "Date", "Montant", "Référence bancaire"]
    rows = [["420930", "10/02/2026", "277,92", "VIR-001"], ["420930", "10/02/2026", "277,92", "VIR-002"]]
    out = ws.cli("paiements", "importer", str(write_csv(ws.root / "a.csv", headers, rows))).stdout
    assert "2 paiement(s) enregistré(s) sur 2 ligne(s)." in out
    out = ws.cli("paiements", "importer", str(write_csv(ws.root / "b.csv", headers, rows + [["420930", "10/02/2026", "277,92", "VIR-003"]]))).stdout
    assert "1 paiement(s) enregistré(s) sur 3 ligne(s) ; 2 déjà enregistré(s)" in out
    assert ws.sql("SELECT reference FROM paiements ORDER BY id") == [("VIR-001",), ("VIR-002",), ("VIR-003",)]
    assert _invoices(ws, "10001")[0]["Statut"] == "Acquittée"


def test_payments_on_a_cancelled_invoice_or_before_the_invoice_are_refused(ws):
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 10, 9), si=3, name="correction.csv")
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "11/02/2026")  # 420932 cancels 420931; 420933 replaces it
    pay = write_csv(ws.root / "p.csv", ["N° facture", "Date", "Montant"],
                    [["420930", "01/02/2026", "100,00"], ["420931", "12/02/2026", "277,92"],
                     ["420931", "05/02/2026", "277,92"]])
    out = ws.cli("paiements", "importer", str(pay))
    assert "1 paiement(s) enregistré(s) sur 3 ligne(s)." in out.stdout
    assert ("ligne 2 : paiement du 01/02/2026 antérieur à la facture 420930 du 02/02/2026 : paiement non enregistré"
            in out.stderr)
    assert ("ligne 3 : la facture 420931 est annulée par l'avoir 420932 du 11/02/2026 : paiement non enregistré"
            in out.stderr)
    # paid before it was cancelled: recorded, and it becomes a credit set against the new invoice
    status = {r["N°"]: (r["Statut"], _money(r["Reste dû"])) for r in _invoices(ws, "10004")}
    assert status["420933"] == ("Partiellement payée", Decimal("416.88") - Decimal("277.92"))


def test_the_schedule_follows_the_order_of_the_movements(ws):
    # paid on the day of the invoice, before the first instalment is due: listed after the invoice
    pay = write_csv(ws.root / "p.csv", ["N° facture", "Date", "Montant"], [["420931", "02/02/2026", "277,92"]])
    ws.cli("paiements", "importer", str(pay))
    rows = _schedule(ws, "10004")
    assert [r["Type de pièce"] for r in rows] == ["Facture — échéance 1/3", "Facture — échéance 2/3",
                                                  "Facture — échéance 3/3", "Règlement"]
    soldes = [_money(r["Solde"]) for r in rows]
    assert all(s >= 0 for s in soldes) and soldes[-1] == 0
