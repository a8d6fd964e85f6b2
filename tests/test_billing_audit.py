"""The defects the billing audit found (issue 12), each replayed from the outside: issue dates bounded by the
service's clock, statuses, 0-employee declarations, disputes, unknown members, wording, unit prices with more
than two decimals, instalment dates, PDF/A metadata, and typed spreadsheets."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.billing_helpers import (
    BILLING_CONFIG, CLOCK_ENV, billing_workspace, declare, drop_counts, employees_file, late_declaration, pieces, statuses,
)
from tests.facturx_checks import check_pdf_metadata, check_xml, xmp_of
from tests.factories import employee_row, make_nir
from tests.libreoffice import NS, cell_text, convert, ods_parts, rows_of

JAN = dt.datetime(2026, 1, 15, 10)


@pytest.fixture
def ws(tmp_path):
    return billing_workspace(tmp_path)


def _known_employees(ws, adherent: str, n: int, seed: int = 9):
    rng = random.Random(seed)
    s = ws.registry.members[adherent][0]
    employees_file(ws, adherent, f"salaries-{adherent}.csv",
                   [employee_row(make_nir(rng), s, name=f"SAL{seed}{i}", hired="01/09/2025") for i in range(n)])
    ws.cli("traiter")


def _pdf_text(path) -> str:
    return " ".join(page.extract_text() for page in PdfReader(path).pages)


# --- 1. issue dates ---------------------------------------------------------------------------------


def test_far_future_issue_date_refused_nothing_issued_then_a_normal_run_works(ws):
    declare(ws, "10001", JAN, si=6)
    ws.cli("traiter")
    today = {CLOCK_ENV: "2026-02-05T10:00:00"}
    far = ws.cli("facturer", "--annee", "2026", "--date", "15/03/2062", check=False, env=today)
    assert far.returncode == 1
    assert "15/03/2062 est dans le futur" in far.stderr and "Rien n'a été émis" in far.stderr
    tomorrow = ws.cli("facturer", "--annee", "2026", "--date", "06/02/2026", check=False, env=today)
    assert tomorrow.returncode == 1 and "dans le futur" in tomorrow.stderr
    before_year = ws.cli("facturer", "--annee", "2026", "--date", "31/12/2025", check=False, env=today)
    assert before_year.returncode == 1 and "entre le 01/01/2026 et le 31/12/2027" in before_year.stderr
    assert ws.sql("SELECT COUNT(*) FROM factures") == [(0,)]
    assert ws.sql("SELECT COUNT(*) FROM numerotation") == [(0,)]  # no number taken
    assert not list(ws.outbox.glob("*/factures/*.pdf"))
    out = ws.cli("facturer", "--annee", "2026", "--date", "05/02/2026", env=today).stdout
    assert "Facture n° 420930 — adhérent 10001" in out
    # without --date, the piece is dated from the service's clock
    declare(ws, "10002", dt.datetime(2026, 1, 20, 10), si=1)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", env={CLOCK_ENV: "2026-02-07T10:00:00"})
    assert [p[3] for p in pieces(ws)] == ["2026-02-05", "2026-02-07"]


# --- 2. statuses, 0 employee, disputes, unknown members ----------------------------------------------


def test_another_members_refused_line_leaves_this_members_status(ws):
    a, b = ws.registry.members["10002"], ws.registry.members["10003"]
    drop_counts(ws, "PAIE01", "mixte.csv", [[2026, "10002", s, 3, 0, 0, 0] for s in a]
                + [[2026, "10003", b[0], "trois", 0, 0, 0]], JAN)
    ws.cli("traiter")
    st = statuses(ws, "20/01/2026")
    assert st["10002"] == f"Confirmée — {3 * len(a)} salarié(s)" and st["10003"] == "En cours"
    # a later file of the mandataire with a refused line for 10003 only: 10002 stays confirmed
    drop_counts(ws, "PAIE01", "mixte2.csv", [[2026, "10003", b[0], -1, 0, 0, 0]], JAN + dt.timedelta(days=1))
    ws.cli("traiter")
    assert statuses(ws, "20/01/2026")["10002"] == f"Confirmée — {3 * len(a)} salarié(s)"


def test_zero_employee_declaration_is_not_invoiced_and_uses_no_number(ws):
    declare(ws, "10001", JAN, si=0)
    declare(ws, "10002", JAN, si=2)
    ws.cli("traiter")
    out = ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026").stdout
    assert "10001 : déclaration 2026 à 0 salarié, aucune facture émise (aucun numéro utilisé)." in out
    assert [(p[0], p[2]) for p in pieces(ws)] == [("420930", "10002")]
    assert "Aucune pièce" in ws.cli("facturer", "--annee", "2026", "--date", "03/02/2026").stdout


def test_facture_d_office_status_then_a_zero_declaration_cancels_it_without_new_invoice(ws):
    _known_employees(ws, "10004", 2)
    assert statuses(ws, "02/02/2026")["10004"] == "Non déclarée"
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    assert statuses(ws, "03/02/2026")["10004"] == "Facture d'office — facture 420930"
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 10, 9), si=0)
    ws.cli("traiter")
    out = ws.cli("facturer", "--annee", "2026", "--date", "11/02/2026").stdout
    assert [(p[0], p[1]) for p in pieces(ws)] == [("420930", "facture_office"), ("420931", "avoir")]
    assert "à 0 salarié, aucune facture émise" in out


def test_avoir_cannot_be_put_in_contentieux(ws):
    _known_employees(ws, "10004", 2)
    late_declaration(ws, "10004", "02/02/2026", dt.datetime(2026, 2, 10, 9), "11/02/2026", si=3)
    refused = ws.cli("contentieux", "ajouter", "420931", check=False)
    assert refused.returncode == 1 and "420931 est un avoir" in refused.stderr
    assert ws.sql("SELECT COUNT(*) FROM contentieux") == [(0,)]
    added = ws.cli("contentieux", "ajouter", "420932").stdout
    assert "Facture 420932 mise en contentieux : retirée de l'échéancier de l'adhérent 10004." in added


def test_echeanciers_of_an_unknown_member_refused(ws):
    out = ws.cli("echeanciers", "--adherent", "99999", check=False)
    assert out.returncode == 1 and "Adhérent inconnu : 99999" in out.stderr
    assert not (ws.outbox / "99999").exists()


# --- 3. wording ---------------------------------------------------------------------------------------


def test_facture_d_office_reason_reads_well(ws):
    _known_employees(ws, "10004", 2)
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    motif = ws.sql("SELECT motif FROM factures")[0][0]
    assert "établie sur l'effectif connu du service (fichiers de mouvements)." in motif


def test_last_year_file_in_january_names_the_open_campaign_and_is_never_cut(ws):
    declare(ws, "10001", dt.datetime(2026, 1, 10, 9), si=2, year=2025, name="vieux.csv")
    ws.cli("traiter")
    row = ws.ack_rows("10001", "vieux")[0]
    assert row["code"] == "DECL_HORS_CAMPAGNE"
    message = row["message"]
    assert "La campagne 2025 est close depuis le 31/01/2025" in message
    assert "la campagne en cours est celle des effectifs 2026, ouverte jusqu'au 31/01/2026" in message
    assert "ouvrira le 01/01/2026" not in message
    assert message.rstrip().endswith("qui peut la rouvrir pour vous.") and "caractères)" not in message


def test_three_decimal_tariff_printed_as_computed(tmp_path):
    ws = billing_workspace(tmp_path, config=BILLING_CONFIG.replace('"115.80"', '"115.805"'))
    declare(ws, "10001", JAN, si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    assert pieces(ws)[0][4] == "694.83"  # 6 × 115,805 = 694,83 (rounded once, on the line)
    text = _pdf_text(ws.outbox / "10001" / "factures" / "facture-420930.pdf")
    assert "115,805" in text and "694,83" in text
    xml = (ws.outbox / "10001" / "factures" / "facture-420930.xml").read_text()
    assert "<ram:ChargeAmount>115.805</ram:ChargeAmount>" in xml


@pytest.mark.parametrize("terms", ["delai_paiement_jours = 30", "delai_paiement_jours = 45\nfin_de_mois = true"])
def test_instalments_fall_on_distinct_dates_within_the_term(tmp_path, terms):
    cfg = BILLING_CONFIG.replace("delai_paiement_jours = 30", terms).replace("echeances = 1", "echeances = 3")
    ws = billing_workspace(tmp_path, config=cfg)
    declare(ws, "10001", JAN, si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    dues = [dt.date.fromisoformat(r[0]) for r in ws.sql("SELECT date_exigibilite FROM factures_echeances ORDER BY rang")]
    assert len(dues) == 3 and len(set(dues)) == 3 and dues == sorted(dues)
    last = dt.date(2026, 3, 4) if "fin_de_mois" not in terms else dt.date(2026, 3, 31)
    assert dues[-1] == last and dues[0] > dt.date(2026, 2, 2)


def test_more_instalments_than_days_of_term_refused_at_load(tmp_path):
    cfg = BILLING_CONFIG.replace("delai_paiement_jours = 30", "delai_paiement_jours = 2").replace("echeances = 1", "echeances = 3")
    ws = billing_workspace(tmp_path, config=cfg)
    out = ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026", check=False)
    assert out.returncode == 1 and "3 échéances pour un délai de paiement de 2 jour(s)" in out.stderr


# --- 4. PDF/A metadata and the independent checks ---------------------------------------------------


def test_pdf_metadata_complete_and_the_checks_catch_a_broken_invoice(ws):
    _known_employees(ws, "10004", 2)
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    folder = ws.outbox / "10004" / "factures"
    pdf = (folder / "facture-420930.pdf").read_bytes()
    check_pdf_metadata(pdf, "facture-420930.pdf")
    xmp = xmp_of(pdf)
    assert xmp.xpath("//pdf:Keywords/text()", namespaces={"pdf": "http://ns.adobe.com/pdf/1.3/"}) == ["Factur-X, facture"]
    assert PdfReader(io.BytesIO(pdf)).metadata["/CreationDate"].startswith("D:20260202")
    xml = (folder / "facture-420930.xml").read_bytes()
    check_xml(xml, "facture-420930.xml")
    broken = xml.replace(b"<ram:TaxTotalAmount currencyID=\"EUR\">", b"<ram:TaxTotalAmount currencyID=\"EUR\">1")
    with pytest.raises(pytest.fail.Exception, match=r"BR-CO-15"):
        check_xml(broken, "cassée")


# --- 5. spreadsheets ----------------------------------------------------------------------------------


def test_spreadsheets_hold_numbers_and_dates_in_french_formats(ws):
    _known_employees(ws, "10004", 6)
    late_declaration(ws, "10004", "01/02/2026", dt.datetime(2026, 2, 20, 9), "23/02/2026", si=6)
    folder = ws.outbox / "10004" / "factures"
    sheet = load_workbook(folder / "echeancier-10004.xlsx")["Mon échéancier"]
    rows = [[c for c in r] for r in sheet.iter_rows(min_row=3) if r[0].value]
    avoir = next(r for r in rows if r[3].value == "Avoir")
    assert avoir[5].value == pytest.approx(833.76) and "€" in avoir[5].number_format
    balances = [r[7] for r in rows]
    assert all(isinstance(c.value, (int, float)) and "€" in c.number_format for c in balances)
    dates = [r[1] for r in rows]
    assert all(isinstance(c.value, dt.datetime) and c.number_format == "dd/mm/yyyy" for c in dates)
    assert {d.value for d in dates} == {dt.datetime(2026, 2, 1), dt.datetime(2026, 2, 23)}
    lst = load_workbook(folder / "factures-10004.xlsx")["Mes factures"]
    amounts = [r[3] for r in lst.iter_rows() if r[0].value in ("420930", "420931", "420932")]
    assert sorted(c.value for c in amounts) == [pytest.approx(-833.76), pytest.approx(833.76), pytest.approx(833.76)]
    assert all(c.data_type == "n" and "€" in c.number_format for c in amounts)
    # the CSV keeps the French text
    assert "-833,76\u00a0€" in (folder / "factures-10004.csv").read_text(encoding="utf-8-sig")
    # and LibreOffice reads the amounts as numbers, the negative one included
    content, _ = ods_parts(convert(folder / "factures-10004.xlsx", "ods", ws.root / "ods"))
    rows = [cells for _, cells in rows_of(content.find(".//table:table", NS))]
    ttc = [cells[3] for cells in rows if cell_text(cells[0]) in ("420930", "420931", "420932")]
    assert all(c.get(f"{{{NS['office']}}}value-type") in ("currency", "float") and "€" in cell_text(c) for c in ttc)
    assert sorted(float(c.get(f"{{{NS['office']}}}value")) for c in ttc) == [
        pytest.approx(-833.76), pytest.approx(833.76), pytest.approx(833.76)]
    assert not any(cell_text(c).startswith("'") for cells in rows for c in cells)
