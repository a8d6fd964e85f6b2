"""One balance everywhere (issue 12): a facture d'office paid before the avoir that cancels it, the payment
becoming a credit set against the member's next invoice and the rest listed for refund; overpayments; the
lettering kept in the store; the same figures in "Mes factures", the échéancier and the refunds list."""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal

import pytest

from amsn_batch.billing.balances import compute, lettering_code
from amsn_batch.store.billing import Invoice, Payment
from tests.billing_helpers import billing_workspace, declare, employees_file
from tests.factories import employee_row, make_nir, write_csv

D = Decimal


def _csv(path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))


def _money(text: str) -> Decimal:
    return D(text.lstrip("'").replace("\u00a0€", "").replace("\u202f", "").replace(",", ".")) if text else D(0)


def _pay(ws, name: str, rows: list[list[str]]):
    path = write_csv(ws.root / name, ["N° facture", "Date", "Montant"], rows)
    return ws.cli("paiements", "importer", str(path))


@pytest.fixture
def paid_office(tmp_path):
    """10003: a facture d'office (895,08 €) on 05/02, paid in full on 10/02; its late declaration (5 SI) then
    gives, on 20/02, the avoir (−895,08 €) and an invoice of 694,80 €."""
    ws = billing_workspace(tmp_path)
    rng = random.Random(12)
    s3 = ws.registry.members["10003"][0]
    rows = [employee_row(make_nir(rng), s3, name=f"SALARIE{i}", category="SIR" if i == 0 else "SI") for i in range(6)]
    employees_file(ws, "PAIE01", "paie-decembre.csv", rows, dt.datetime(2025, 12, 20))
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "05/02/2026")
    assert ws.sql("SELECT numero, type, total_ttc FROM factures") == [("420930", "facture_office", "895.08")]
    assert "1 paiement(s) enregistré(s)" in _pay(ws, "releve-fevrier.csv", [["420930", "10/02/2026", "895,08"]]).stdout
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "31/12/2099", "--adherent", "10003")
    declare(ws, "10003", dt.datetime(2026, 2, 15, 9), si=5, sender="PAIE01")
    ws.cli("traiter")
    ws.cli("declaration", "fermer", "--annee", "2026", "--adherent", "10003")
    out = ws.cli("facturer", "--annee", "2026", "--date", "20/02/2026").stdout
    assert "Avoir n° 420931" in out and "Facture n° 420932 — adhérent 10003 — 694,80" in out
    return ws


def test_paid_facture_d_office_credit_goes_to_the_next_invoice_and_the_rest_to_refund(paid_office):
    ws = paid_office
    folder = ws.outbox / "10003" / "factures"
    listed = {r["N°"] + "/" + r["Type de facture"]: r for r in _csv(folder / "factures-10003.csv")}
    # the new invoice is settled by the freed payment: nothing due on it
    assert (listed["420932/Facture"]["Statut"], _money(listed["420932/Facture"]["Reste dû"])) == ("Acquittée", D(0))
    assert listed["420930/Facture d'office"]["Statut"] == "Acquittée"
    assert listed["420931/Avoir"]["Statut"] == "Acquitté"
    # the rest of the payment (895,08 − 694,80) is shown as a credit to refund
    credit = listed["420930/Trop-perçu"]
    assert (credit["Statut"], _money(credit["Reste dû"]), credit["Date"]) == ("À rembourser", D("-200.28"), "20/02/2026")
    # the échéancier ends at the same balance, and never goes below zero before the invoice it pays
    sched = _csv(folder / "echeancier-10003.csv")
    soldes = [_money(r["Solde"]) for r in sched]
    assert soldes[-1] == D("-200.28") == sum(_money(r["Reste dû"]) for r in listed.values())
    assert all(s >= 0 for s in soldes[:-1])
    assert [r["Type de pièce"] for r in sched] == ["Facture d'office", "Règlement", "Facture", "Avoir"]
    # the service-wide refunds list says the same
    refunds = _csv(ws.root / "comptabilite" / "avoirs-et-trop-percus-a-rembourser.csv")
    assert [(r["N° adhérent"], r["Origine"], r["N° pièce"], _money(r["Montant à rembourser"])) for r in refunds] == [
        ("10003", "Trop-perçu", "420930", D("200.28"))]
    # the lettering is in the store: the avoir against the invoice it cancels, the payment against the new invoice
    assert ws.sql("SELECT f.numero, a.numero, i.paiement_id IS NOT NULL, i.montant, i.le FROM imputations i "
                  "JOIN factures f ON f.id=i.facture_id LEFT JOIN factures a ON a.id=i.avoir_id ORDER BY i.id") == [
        ("420930", "420931", 0, "895.08", "2026-02-20"), ("420932", None, 1, "694.80", "2026-02-20")]
    # 420930 was lettered AA when paid; the avoir now settles it (its day follows), the code stays
    assert ws.sql("SELECT f.numero, l.code, l.date_lettrage FROM lettrages l JOIN factures f ON f.id=l.facture_id "
                  "ORDER BY l.code") == [("420930", "AA", "2026-02-20"), ("420932", "AB", "2026-02-20")]
    # rewriting the documents changes nothing, and keeps the codes
    ws.cli("echeanciers")
    assert _csv(folder / "factures-10003.csv") == list(listed.values())
    assert [c for (c,) in ws.sql("SELECT code FROM lettrages ORDER BY code")] == ["AA", "AB"]


def test_an_overpayment_is_shown_and_listed_for_refund(tmp_path):
    ws = billing_workspace(tmp_path)
    declare(ws, "10001", dt.datetime(2026, 1, 15, 10), si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    _pay(ws, "p.csv", [["420930", "01/03/2026", "1 000,00"]])
    folder = ws.outbox / "10001" / "factures"
    rows = _csv(folder / "factures-10001.csv")
    assert [(r["N°"], r["Type de facture"], r["Statut"], _money(r["Reste dû"])) for r in rows] == [
        ("420930", "Facture", "Acquittée", D(0)), ("420930", "Trop-perçu", "À rembourser", D("-166.24"))]
    assert _money(_csv(folder / "echeancier-10001.csv")[-1]["Solde"]) == D("-166.24")
    refunds = _csv(ws.root / "comptabilite" / "avoirs-et-trop-percus-a-rembourser.csv")
    assert [(r["N° adhérent"], _money(r["Montant à rembourser"])) for r in refunds] == [("10001", D("166.24"))]


def _invoice(fid: int, numero: str, day: str, ttc: str, origin: int | None = None, kind: str = "facture") -> Invoice:
    d = dt.date.fromisoformat(day)
    amount = D(ttc)
    return Invoice(fid, numero, "avoir" if amount < 0 else kind, "10001", 2026, d, d, amount, D(0), amount, D(20),
                   origine_id=origin, client={"name": "X"}, conditions={})


def test_credit_waits_for_the_next_invoice_and_partial_payments_are_released_in_part():
    pieces = [_invoice(1, "1", "2026-02-01", "300.00"), _invoice(2, "2", "2026-03-01", "-300.00", origin=1),
              _invoice(3, "3", "2026-05-01", "100.00", kind="facture_complementaire")]
    payments = [Payment(1, "2026-02-10", D("120.00"), id=7), Payment(1, "2026-02-20", D("50.00"), id=8)]
    # before the third invoice: the two payments released by the avoir are the member's credit
    early = compute(pieces[:2], payments, set(), "10001")
    assert [(c.payment_id, c.amount, c.day) for c in early.credits] == [(8, D("50.00"), dt.date(2026, 3, 1)),
                                                                         (7, D("120.00"), dt.date(2026, 3, 1))]
    assert (early.due, early.credit, early.balance) == (D(0), D("170.00"), D("-170.00"))
    assert early.by_id[1].settled and early.by_id[1].credited == D("300.00") and early.by_id[1].paid == D(0)
    # the next invoice takes the oldest credit first, on its own day
    bal = compute(pieces, payments, set(), "10001")
    assert (bal.by_id[3].paid, bal.by_id[3].due, bal.by_id[3].status) == (D("100.00"), D(0), "Acquittée")
    assert [(c.payment_id, c.amount) for c in bal.credits] == [(7, D("70.00"))]
    assert bal.balance == D("-70.00")
    moves = [(m.day.isoformat(), m.invoice_id, m.amount, m.payment_id, m.credit_note_id) for m in bal.movements]
    assert moves == [("2026-02-10", 1, D("120.00"), 7, None), ("2026-02-20", 1, D("50.00"), 8, None),
                     ("2026-03-01", 1, D("-50.00"), 8, None), ("2026-03-01", 1, D("-120.00"), 7, None),
                     ("2026-03-01", 1, D("300.00"), None, 2), ("2026-05-01", 3, D("50.00"), 8, None),
                     ("2026-05-01", 3, D("50.00"), 7, None)]


def test_lettering_codes_follow_each_other():
    assert [lettering_code(n) for n in (0, 1, 25, 26, 675, 676)] == ["AA", "AB", "AZ", "BA", "ZZ", "AAA"]
