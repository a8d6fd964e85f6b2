"""The FEC (fichier des écritures comptables, article A47 A-1 du LPF), read as the tax administration's tools
read it: 18 fields, `|` separated, a header line, dates AAAAMMJJ, amounts with a decimal comma, each entry
(EcritureNum) balanced, totals equal to the invoices, lettering on the settled invoices; VAT on receipts
waiting on 44574 until paid; a reversed period refused."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal

import pytest

from tests.billing_helpers import BILLING_CONFIG, ISSUER_SIREN, billing_workspace, declare
from tests.factories import write_csv

D = Decimal
JAN = dt.datetime(2026, 1, 15, 10)
FIELDS = ["JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum", "CompAuxLib",
          "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet", "ValidDate", "Montantdevise",
          "Idevise"]


def read_fec(path) -> list[dict]:
    """The checks of a FEC reader: the name, the header, 18 fields per line, dates, amounts, balanced entries."""
    assert re.fullmatch(r"\d{9}FEC\d{8}\.txt", path.name), path.name
    text = path.read_bytes().decode("iso8859_15")
    lines = text.splitlines()
    assert lines[0].split("|") == FIELDS
    rows = []
    for line in lines[1:]:
        cells = line.split("|")
        assert len(cells) == 18, line
        row = dict(zip(FIELDS, cells))
        for key in ("EcritureDate", "PieceDate", "ValidDate") + (("DateLet",) if row["DateLet"] else ()):
            dt.datetime.strptime(row[key], "%Y%m%d")
        for key in ("Debit", "Credit"):
            assert re.fullmatch(r"\d+,\d{2}", row[key]), row[key]
            row[key] = D(row[key].replace(",", "."))
        assert row["JournalCode"] and row["EcritureNum"] and row["CompteNum"] and row["EcritureLib"]
        rows.append(row)
    per_entry = defaultdict(lambda: [D(0), D(0)])
    for r in rows:
        per_entry[(r["JournalCode"], r["EcritureNum"])][0] += r["Debit"]
        per_entry[(r["JournalCode"], r["EcritureNum"])][1] += r["Credit"]
    assert all(d == c for d, c in per_entry.values()), per_entry
    return rows


def balance(rows: list[dict], account: str) -> Decimal:
    """Credit minus debit of an account."""
    return sum((r["Credit"] - r["Debit"] for r in rows if r["CompteNum"] == account), D(0))


def _workspace(tmp_path, vat_on_debits: bool):
    cfg = BILLING_CONFIG.replace("premier_numero = 420930", f"premier_numero = 420930\ntva_sur_debits = {str(vat_on_debits).lower()}")
    ws = billing_workspace(tmp_path, config=cfg)
    declare(ws, "10001", JAN, si=6)  # 833,76
    declare(ws, "10004", JAN, si=2)  # 277,92
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    pay = write_csv(ws.root / "releve.csv", ["N° facture", "Date", "Montant", "Référence"],
                    [["420931", "05/02/2026", "277,92", "VIR-77"], ["420930", "06/02/2026", "416,88", ""]])
    ws.cli("paiements", "importer", str(pay))
    # 10004 corrects its declaration (3 SI): avoir on its paid invoice, then 416,88, partly settled by the payment
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 10, 9), si=3, name="correction.csv")
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "11/02/2026")
    return ws


@pytest.fixture(params=[False, True], ids=["tva-encaissements", "tva-debits"])
def campaign(request, tmp_path):
    return _workspace(tmp_path, request.param), request.param


def test_fec_is_read_as_the_tax_administration_reads_it(campaign):
    ws, vat_on_debits = campaign
    folder = ws.root / "fec"
    folder.mkdir()
    out = ws.cli("journal", "--du", "01/02/2026", "--au", "28/02/2026", "--format", "fec", "--sortie", str(folder)).stdout
    assert "4 pièce(s)" in out and "2 règlement(s)" in out
    rows = read_fec(folder / f"{ISSUER_SIREN}FEC20260228.txt")
    pieces = ws.sql("SELECT numero, total_ht, total_tva, total_ttc FROM factures ORDER BY sequence")
    ht = sum(D(p[1]) for p in pieces)
    vat = sum(D(p[2]) for p in pieces)
    ttc = sum(D(p[3]) for p in pieces)
    assert balance(rows, "706000") == ht == D("694.80") + D("231.60") - D("231.60") + D("347.40")
    assert -balance(rows, "411000") == ttc - D("277.92") - D("416.88")  # invoiced minus received
    assert -balance(rows, "512000") == D("277.92") + D("416.88")
    assert balance(rows, "445710") + balance(rows, "445740") == vat
    sales = [r for r in rows if r["JournalCode"] == "VE"]
    bank = [r for r in rows if r["JournalCode"] == "BQ"]
    assert {r["EcritureNum"] for r in sales} == {p[0] for p in pieces}
    assert len({r["EcritureNum"] for r in bank}) == 2
    assert {r["CompAuxNum"] for r in rows if r["CompteNum"] == "411000"} == {"10001", "10004"}
    assert any("VIR-77" in r["EcritureLib"] for r in bank)
    if vat_on_debits:
        assert balance(rows, "445740") == 0 and not any(r["CompteNum"] == "445740" for r in rows)
    else:
        # the VAT of what was received (pro rata) is collected, the rest waits: 10001 paid half of 833,76 (69,48
        # of its 138,96); 10004's payment, freed by the avoir, settles 277,92 of 416,88 (46,32 of 69,48)
        assert balance(rows, "445710") == D("69.48") + D("46.32")
        assert balance(rows, "445740") == vat - D("69.48") - D("46.32")

    # lettering: the settled invoices and what settles them share a code, each code balanced on 411
    client = [r for r in rows if r["CompteNum"] == "411000"]
    letters = defaultdict(lambda: D(0))
    for r in client:
        if r["EcritureLet"]:
            assert r["DateLet"]
            letters[r["EcritureLet"]] += r["Debit"] - r["Credit"]
    assert letters and all(v == 0 for v in letters.values())
    settled = {r["PieceRef"] for r in client if r["EcritureLet"] and r["Debit"]}
    assert settled == {"420931"}  # 10004's first invoice, cancelled by its avoir; 420930 and 420933 are part paid
    codes = dict(ws.sql("SELECT f.numero, l.code FROM lettrages l JOIN factures f ON f.id=l.facture_id"))
    assert codes.keys() == settled and {r["EcritureLet"] for r in client if r["EcritureLet"]} == set(codes.values())

    # the CSV journal for people says the same, without a total row
    csv_out = ws.cli("journal", "--du", "01/02/2026", "--au", "28/02/2026").stdout
    assert out.split("débit")[1].split("→")[0] == csv_out.split("débit")[1].split("→")[0]


def test_a_fully_paid_invoice_is_lettered_with_its_payment(tmp_path):
    ws = billing_workspace(tmp_path)
    declare(ws, "10001", JAN, si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    pay = write_csv(ws.root / "p.csv", ["N° facture", "Date", "Montant"],
                    [["420930", "10/02/2026", "500,00"], ["420930", "03/03/2026", "333,76"]])
    ws.cli("paiements", "importer", str(pay))
    out = ws.root / "fec.txt"
    ws.cli("journal", "--du", "01/01/2026", "--au", "31/12/2026", "--format", "fec", "--sortie", str(out))
    target = ws.root / f"{ISSUER_SIREN}FEC20261231.txt"
    out.rename(target)
    rows = [r for r in read_fec(target) if r["CompteNum"] == "411000"]
    assert [(r["PieceRef"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"]) for r in rows] == [
        ("420930", D("833.76"), D(0), "AA", "20260303"), ("420930", D(0), D("500.00"), "AA", "20260303"),
        ("420930", D(0), D("333.76"), "AA", "20260303")]
    # VAT on receipts: all of it collected once paid, in two steps that add up exactly
    assert balance(read_fec(target), "445710") == D("138.96")
    assert balance(read_fec(target), "445740") == 0


def test_a_reversed_period_is_refused(tmp_path):
    ws = billing_workspace(tmp_path)
    res = ws.cli("journal", "--du", "28/02/2026", "--au", "01/02/2026", "--format", "fec", check=False)
    assert res.returncode == 1
    assert "Période inversée : le 28/02/2026 est après le 01/02/2026" in res.stderr
    assert not (ws.root / "comptabilite").exists() or not list((ws.root / "comptabilite").glob("*FEC*"))
    bad = ws.cli("journal", "--du", "01/02/2026", "--au", "28/02/2026", "--format", "pdf", check=False)
    assert bad.returncode != 0 and "format inconnu « pdf »" in bad.stderr


def test_accounts_and_journal_codes_come_from_the_settings(tmp_path):
    extra = '\n[facturation.comptes]\nclient = "411100"\ntva_attente = "445800"\nbanque = "512100"\njournal_banque = "BNP"\n'
    cfg = BILLING_CONFIG.replace("\n[declaration]", extra + "\n[declaration]")
    ws = billing_workspace(tmp_path, config=cfg)
    declare(ws, "10001", JAN, si=1)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    pay = write_csv(ws.root / "p.csv", ["N° facture", "Date", "Montant"], [["420930", "10/02/2026", "138,96"]])
    ws.cli("paiements", "importer", str(pay))
    ws.cli("journal", "--du", "01/02/2026", "--au", "28/02/2026", "--format", "fec")
    rows = read_fec(ws.root / "comptabilite" / f"{ISSUER_SIREN}FEC20260228.txt")
    assert {r["CompteNum"] for r in rows} == {"411100", "706000", "445800", "445710", "512100"}
    assert {r["JournalCode"] for r in rows} == {"VE", "BNP"}
    assert balance(rows, "445800") == 0 and balance(rows, "445710") == D("23.16")
