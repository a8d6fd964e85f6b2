"""`amsn-batch facturer`: invoices, factures d'office, credit notes citing the invoice, corrections,
gapless numbering across interrupted runs, nothing issued twice, issued pieces never modified."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3

import pytest

from tests.billing_helpers import assert_gapless, billing_workspace, declare, employees_file, pieces, received
from tests.factories import employee_row, make_nir

JAN = dt.datetime(2026, 1, 15, 10)


@pytest.fixture
def ws(tmp_path):
    return billing_workspace(tmp_path)


def _known_employees(ws, adherent: str, n: int, seed: int = 9, hired: str = "01/09/2025", sender: str | None = None):
    rng = random.Random(seed)
    s = ws.registry.members[adherent][0]
    rows = [employee_row(make_nir(rng), s, name=f"SAL{seed}{i}", hired=hired) for i in range(n)]
    employees_file(ws, sender or adherent, f"salaries-{adherent}-{seed}.csv", rows)
    ws.cli("traiter")


def test_portal_example_facture_d_office_then_its_avoir(ws):
    _known_employees(ws, "10004", 6)
    ws.cli("facturer", "--annee", "2026", "--date", "01/02/2026")
    assert pieces(ws) == [("420930", "facture_office", "10004", "2026-02-01", "694.80", "138.96", "833.76", None)]
    motif = ws.sql("SELECT motif FROM factures")[0][0]
    assert "déclaration des effectifs 2026 non reçue" in motif and "effectif connu du service" in motif
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 20, 9), si=6)
    ws.cli("traiter")
    out = ws.cli("facturer", "--annee", "2026", "--date", "23/02/2026").stdout
    assert pieces(ws)[1:] == [
        ("420931", "avoir", "10004", "2026-02-23", "-694.80", "-138.96", "-833.76", "420930"),
        ("420932", "facture", "10004", "2026-02-23", "694.80", "138.96", "833.76", None),
    ]
    assert "Avoir n° 420931 — adhérent 10004 — -833,76\u00a0€ TTC" in out
    assert ws.sql("SELECT quantite, prix_unitaire_ht, montant_ht FROM factures_lignes WHERE facture_id=2") == [(6, "-115.80", "-694.80")]


def test_no_facture_d_office_while_the_window_is_open_nor_for_inactive_members(ws):
    _known_employees(ws, "10004", 2)
    out = ws.cli("facturer", "--annee", "2026", "--date", "20/01/2026").stdout
    assert "Aucune pièce à émettre pour 2026." in out
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "15/02/2026")
    assert "Aucune pièce" in ws.cli("facturer", "--annee", "2026", "--date", "10/02/2026").stdout
    assert [p[1] for p in pieces(ws)] == []
    ws.cli("facturer", "--annee", "2026", "--date", "16/02/2026")
    assert [(p[1], p[2]) for p in pieces(ws)] == [("facture_office", "10004")]


def test_facture_d_office_on_last_year_declaration_when_the_store_knows_nobody(ws):
    declare(ws, "10002", dt.datetime(2025, 1, 10, 9), si=2, sir=1, year=2025)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    # 3 × 115,80 + 1 × 51,10 = 398,50 HT
    assert pieces(ws)[0][1:7] == ("facture_office", "10002", "2026-02-02", "398.50", "79.70", "478.20")
    assert "dernière déclaration des effectifs (2025)" in ws.sql("SELECT motif FROM factures")[0][0]


def test_correction_after_invoicing_gives_credit_note_and_new_invoice(ws):
    declare(ws, "10004", JAN, si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "20/01/2026")
    declare(ws, "10004", JAN + dt.timedelta(days=10), si=4, sir=1, name="correction.csv")
    ws.cli("traiter")
    assert "DECL_CORRECTION_APRES_FACTURE" in {r["code"] for r in ws.ack_rows("10004", "correction")}
    ws.cli("facturer", "--annee", "2026", "--date", "27/01/2026")
    assert pieces(ws) == [
        ("420930", "facture", "10004", "2026-01-20", "694.80", "138.96", "833.76", None),
        ("420931", "avoir", "10004", "2026-01-27", "-694.80", "-138.96", "-833.76", "420930"),
        # 5 × 115,80 + 1 × 51,10 = 630,10 HT
        ("420932", "facture", "10004", "2026-01-27", "630.10", "126.02", "756.12", None),
    ]
    assert "déclaration des effectifs corrigée" in ws.sql("SELECT motif FROM factures WHERE numero='420931'")[0][0]


def test_correction_with_the_same_headcount_issues_nothing(ws):
    declare(ws, "10004", JAN, si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "20/01/2026")
    same = declare(ws, "10004", JAN + dt.timedelta(days=5), si=6, name="meme.csv")
    same.write_bytes(same.read_bytes() + b"\r\n")  # another file (a blank line more), the same headcount
    received(ws, same, JAN + dt.timedelta(days=5))
    ws.cli("traiter")
    out = ws.cli("facturer", "--annee", "2026", "--date", "27/01/2026").stdout
    assert "la facture 420930 reste en vigueur" in out
    assert len(pieces(ws)) == 1


def test_rerun_issues_nothing_twice(ws):
    declare(ws, "10001", JAN, si=3)
    declare(ws, "10002", JAN, si=2)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    first = pieces(ws)
    assert len(first) == 2
    for day in ("02/02/2026", "03/02/2026"):
        assert "Aucune pièce à émettre" in ws.cli("facturer", "--annee", "2026", "--date", day).stdout
    assert pieces(ws) == first


@pytest.mark.parametrize("point", ["facturer-avant-commit:2", "facturer-apres-commit:2"])
def test_killed_run_leaves_no_gap_and_no_duplicate(ws, point):
    for adherent in ("10001", "10002", "10003", "10004"):
        declare(ws, adherent, JAN, si=int(adherent[-1]) + 1, sender="PAIE01" if adherent in ("10002", "10003") else None)
    ws.cli("traiter")
    killed = ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026", check=False, env={"AMSN_BATCH_PANNE": point})
    assert killed.returncode == -9
    done = pieces(ws)
    assert len(done) == (1 if point.startswith("facturer-avant") else 2)
    assert ws.sql("SELECT dernier FROM numerotation") == [(420929 + len(done),)]
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    assert assert_gapless(ws) == [420930, 420931, 420932, 420933]
    assert [p[2] for p in pieces(ws)] == ["10001", "10002", "10003", "10004"]
    # The documents of the piece committed just before the kill were written by the rerun.
    for numero, _, adherent, *_ in pieces(ws):
        assert (ws.outbox / adherent / "factures" / f"facture-{numero}.pdf").is_file()
    assert "Aucune pièce" in ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026").stdout


def test_issue_dates_stay_chronological(ws):
    declare(ws, "10004", JAN, si=1)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "10/02/2026")
    declare(ws, "10001", JAN, si=1)
    ws.cli("traiter")
    late = ws.cli("facturer", "--annee", "2026", "--date", "05/02/2026", check=False)
    assert late.returncode == 1
    assert "antérieure à celle de la dernière pièce émise (10/02/2026)" in late.stderr
    assert len(pieces(ws)) == 1


def test_issued_pieces_cannot_be_modified_or_deleted(ws):
    declare(ws, "10004", JAN, si=1)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    conn = ws.connection()
    try:
        for sql in ("UPDATE factures SET total_ttc='1.00'", "DELETE FROM factures",
                    "UPDATE factures_lignes SET quantite=2", "DELETE FROM factures_lignes"):
            with pytest.raises(sqlite3.IntegrityError, match="facture émise"):  # on PostgreSQL, a subclass
                conn.execute(sql)
    finally:
        conn.close()


def test_hires_missing_from_the_declaration_billed_once(ws):
    _known_employees(ws, "10004", 2, seed=1, hired="01/06/2025")
    declare(ws, "10004", JAN, si=2)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    _known_employees(ws, "10004", 3, seed=2, hired="01/03/2026")  # hired after the declaration
    ws.cli("facturer", "--annee", "2026", "--date", "01/04/2026")
    got = pieces(ws)
    assert got[1][1:7] == ("facture_complementaire", "10004", "2026-04-01", "228.00", "45.60", "273.60")  # 3 × 76
    assert "Aucune pièce" in ws.cli("facturer", "--annee", "2026", "--date", "02/04/2026").stdout
    assert ws.sql("SELECT COUNT(*) FROM embauches_facturees") == [(3,)]


def test_facturer_needs_the_service_identity(tmp_path):
    from tests.billing_helpers import BILLING_CONFIG
    from tests.conftest import make_workspace

    tariffs_only = "[tarifs.2026]" + BILLING_CONFIG.split("[tarifs.2026]")[1]
    ws = billing_workspace(tmp_path, config=tariffs_only)
    out = ws.cli("facturer", "--annee", "2026", check=False)
    assert out.returncode == 1 and "Section [facturation] absente du fichier de réglages" in out.stderr
    half = "\n".join(line for line in BILLING_CONFIG.splitlines() if not line.startswith(("siren", "tva =")))
    other = make_workspace(tmp_path / "autre", extra_config=half)
    out = other.cli("facturer", "--annee", "2026", check=False)
    assert out.returncode == 1 and "Clé obligatoire absente de [facturation] : siren, tva" in out.stderr
