"""Amounts, due dates and tariffs: Decimal arithmetic, VAT on the total, legal payment terms, the 80-120 % band."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from amsn_batch.billing.invoices import Line, due_date, headcount_lines, instalments, totals
from amsn_batch.tariffs import load_tariff
from amsn_batch.config import ConfigError
from tests.billing_helpers import BILLING_CONFIG, billing_workspace, declare, pieces

D = Decimal
TARIFF = {"cotisation_par_salarie": "115.80", "supplements": {"SIR": "51.10"}, "embauche_non_declaree": "76",
          "taux_tva": "20", "delai_paiement_jours": 30, "cout_moyen_national": "116"}


def test_portal_example_six_workers():
    t = load_tariff(2026, TARIFF)
    lines = headcount_lines({"SI": 6, "SIA": 0, "SIR": 0, "SIH": 0}, t, 2026)
    assert [(ln.quantity, ln.unit_price, ln.amount) for ln in lines] == [(6, D("115.80"), D("694.80"))]
    tot = totals(lines, t.vat_rate)
    assert (tot.ht, tot.tva, tot.ttc) == (D("694.80"), D("138.96"), D("833.76"))


def test_sir_supplement_and_sih_counted_as_workers():
    t = load_tariff(2026, TARIFF)
    lines = headcount_lines({"SI": 2, "SIA": 1, "SIR": 2, "SIH": 1}, t, 2026)
    assert [(ln.quantity, ln.amount) for ln in lines] == [(6, D("694.80")), (2, D("102.20"))]
    tot = totals(lines, t.vat_rate)
    assert (tot.ht, tot.tva, tot.ttc) == (D("797.00"), D("159.40"), D("956.40"))


def test_vat_on_the_total_rounded_half_up_to_the_cent():
    lines = [Line("a", 1, D("0.03")), Line("b", 1, D("0.04"))]  # VAT per line would be 0.01 + 0.01
    tot = totals(lines, D("20"))
    assert (tot.ht, tot.tva, tot.ttc) == (D("0.07"), D("0.01"), D("0.08"))
    tot = totals([Line("c", 3, D("0.125"))], D("20"))  # 0.375 → 0.38 HT per line, VAT 0.076 → 0.08
    assert (tot.ht, tot.tva) == (D("0.38"), D("0.08"))
    assert all(isinstance(x, Decimal) for x in (tot.ht, tot.tva, tot.ttc))


def test_instalments_sum_to_the_total_and_stay_within_the_term():
    t = load_tariff(2026, {**TARIFF, "echeances": 3, "delai_paiement_jours": 60})
    issued = dt.date(2026, 2, 5)
    parts = instalments(issued, D("833.76"), t)
    assert sum(a for _, a in parts) == D("833.76")
    assert [a for _, a in parts] == [D("277.92")] * 3
    assert [d for d, _ in parts] == [dt.date(2026, 2, 25), dt.date(2026, 3, 17), dt.date(2026, 4, 6)]
    assert max(d for d, _ in parts) <= issued + dt.timedelta(days=60)
    odd = instalments(issued, D("100.00"), t)
    assert [a for _, a in odd] == [D("33.34"), D("33.33"), D("33.33")]


def test_due_dates_end_of_month():
    assert due_date(dt.date(2026, 2, 5), 30, False) == dt.date(2026, 3, 7)
    assert due_date(dt.date(2026, 2, 5), 45, True) == dt.date(2026, 3, 31)


def test_payment_terms_beyond_l441_10_are_refused():
    with pytest.raises(ConfigError, match="L441-10"):
        load_tariff(2026, {**TARIFF, "delai_paiement_jours": 61})
    with pytest.raises(ConfigError, match="45 jours fin de mois"):
        load_tariff(2026, {**TARIFF, "delai_paiement_jours": 50, "fin_de_mois": True})
    assert load_tariff(2026, {**TARIFF, "delai_paiement_jours": 45, "fin_de_mois": True}).end_of_month


def test_fee_outside_80_120_percent_of_national_average_warns(caplog):
    ok = load_tariff(2026, TARIFF)
    assert ok.warnings == ()
    low = load_tariff(2026, {**TARIFF, "cotisation_par_salarie": "84.50"})  # 72.8 % of 116
    assert len(low.warnings) == 1 and "72.8 %" in low.warnings[0] and "80 % à 120 %" in low.warnings[0]
    high = load_tariff(2025, {**TARIFF, "cout_moyen_national": "115.50", "cotisation_par_salarie": "140"})
    assert "121.2 %" in high.warnings[0]
    missing = load_tariff(2026, {k: v for k, v in TARIFF.items() if k != "cout_moyen_national"})
    assert "non renseigné" in missing.warnings[0]
    assert any("hors de la fourchette" in r.message for r in caplog.records)


def test_tariff_errors_are_french():
    with pytest.raises(ConfigError, match="Clé inconnue dans \\[tarifs.2026\\]"):
        load_tariff(2026, {**TARIFF, "cotisation": "1"})
    with pytest.raises(ConfigError, match="Montant invalide"):
        load_tariff(2026, {**TARIFF, "cotisation_par_salarie": "cent"})
    with pytest.raises(ConfigError, match="Catégorie inconnue"):
        load_tariff(2026, {**TARIFF, "supplements": {"XYZ": "1"}})


def test_cli_warns_about_the_band_and_needs_a_tariff_for_the_year(tmp_path):
    low = BILLING_CONFIG.replace('cotisation_par_salarie = "115.80"', 'cotisation_par_salarie = "84.50"')
    ws = billing_workspace(tmp_path, config=low)
    out = ws.cli("declaration", "statuts", "--annee", "2026", "--date", "10/01/2026")
    assert "hors de la fourchette légale de 80 % à 120 %" in out.stderr
    missing = ws.cli("facturer", "--annee", "2027", "--date", "10/02/2027", check=False)
    assert missing.returncode == 1
    assert "Aucun tarif pour 2027 : ajoutez une table [tarifs.2027]" in missing.stderr


def test_tariffs_from_a_separate_file(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "tarifs.toml").write_text(
        '[tarifs.2026]\ncotisation_par_salarie = "100.00"\ntaux_tva = "20"\ncout_moyen_national = "116"\n', encoding="utf-8")
    cfg = BILLING_CONFIG.split("[tarifs.2026]")[0].replace("premier_numero = 420930", 'premier_numero = 420930\ntarifs = "tarifs.toml"')
    ws = billing_workspace(tmp_path, config=cfg)
    declare(ws, "10004", dt.datetime(2026, 1, 20, 10), si=3)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    assert pieces(ws)[0][4:7] == ("300.00", "60.00", "360.00")
