"""`amsn-batch relances`: the list of unpaid invoices by age, reminder letters at the configured stages (each
sent once), the formal notice with the L441-10 penalties and the D441-5 indemnity computed, disputed invoices
left alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.billing_helpers import BILLING_CONFIG, CLOCK_ENV, billing_workspace, declare
from tests.factories import write_csv

JAN = dt.datetime(2026, 1, 15, 10)


@pytest.fixture
def ws(tmp_path):
    """10001 (833,76 € due 04/03/2026), 10002 (2 workers: 277,92 €, paid 100 €) and 10004 (1 worker: 138,96 €,
    disputed), all issued on 02/02/2026, payable at 30 days."""
    w = billing_workspace(tmp_path)
    declare(w, "10001", JAN, si=6)
    declare(w, "10002", JAN, si=2)
    declare(w, "10004", JAN, si=1)
    w.cli("traiter")
    w.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    numbers = dict(w.sql("SELECT adherent, numero FROM factures"))
    pay = write_csv(w.root / "paiements.csv", ["N° facture", "Date", "Montant"], [[numbers["10002"], "20/02/2026", "100,00"]])
    w.cli("paiements", "importer", str(pay))
    w.cli("contentieux", "ajouter", numbers["10004"])
    return w


def relances(ws, day: str, check: bool = True):
    d = dt.datetime.strptime(day, "%d/%m/%Y")
    return ws.cli("relances", "--date", day, env={CLOCK_ENV: d.replace(hour=9).isoformat()}, check=check)


def _csv(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))


def _text(path) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())


def test_stages_sent_once_each_in_order_and_the_formal_notice_computes_penalties(ws):
    # 10/03: 6 days late, under the first stage (15 days)
    assert "Aucune relance à envoyer au 10/03/2026." in relances(ws, "10/03/2026").stdout
    out = relances(ws, "19/03/2026").stdout  # 15 days late
    assert "Relance 1 — facture 420930 — adhérent 10001 — 833,76\u00a0€ dus, 15 jour(s) de retard" in out
    assert "Relance 1 — facture 420931 — adhérent 10002 — 177,92\u00a0€ dus, 15 jour(s) de retard" in out
    assert "420932" not in out  # disputed: no reminder
    assert "2 lettre(s) de relance au 19/03/2026." in out
    again = relances(ws, "19/03/2026").stdout
    assert "Aucune relance à envoyer" in again and "Publipostage du jour" in again
    assert ws.sql("SELECT COUNT(*) FROM relances") == [(2,)]
    # much later, one stage per run, in order, each at least as long after the previous one as the stages are apart
    out = relances(ws, "30/04/2026").stdout  # 57 days late
    assert out.count("Relance 2") == 2 and "Mise en demeure" not in out
    assert "Aucune relance à envoyer" in relances(ws, "01/05/2026").stdout  # 45 days late, but relance 2 was yesterday
    out = relances(ws, "15/05/2026").stdout  # 15 days after relance 2
    assert out.count("Mise en demeure") == 2
    assert "Aucune relance à envoyer" in relances(ws, "30/06/2026").stdout  # no stage after the last one
    assert ws.sql("SELECT etape, libelle FROM relances WHERE facture_id=1 ORDER BY etape") == [
        (1, "Relance 1"), (2, "Relance 2"), (3, "Mise en demeure")]

    # penalties: 833,76 × 12,15 % × 72 / 365 = 19,98 €; 177,92 € × 12,15 % × 72 / 365 = 4,26 €
    rows = {r["N° facture"]: r for r in _csv(ws.root / "comptabilite" / "relances-20260515.csv")}
    assert rows["420930"]["Pénalités de retard"] == "19,98\u00a0€" and rows["420930"]["Indemnité forfaitaire"] == "40,00\u00a0€"
    assert rows["420930"]["Total réclamé"] == "893,74\u00a0€" and rows["420930"]["Jours de retard"] == "72"
    assert rows["420931"]["Pénalités de retard"] == "4,26\u00a0€" and rows["420931"]["Étape"] == "Mise en demeure"
    assert rows["420930"]["Email facturation"] and rows["420930"]["Lettre"] == "10001/relances/relance-420930-3.pdf"
    assert (Decimal("833.76") * Decimal("12.15") / 100 * 72 / 365).quantize(Decimal("0.01")) == Decimal("19.98")

    notice = _text(ws.outbox / "10001" / "relances" / "relance-420930-3.pdf")
    for mention in ("Objet : Mise en demeure de payer — facture n° 420930 du 02/02/2026", "893,74 €", "19,98 €",
                    "taux annuel de 12,15 %", "L441-10", "D441-5", "40,00 €", "relance 1 du 19/03/2026",
                    "relance 2 du 30/04/2026", "Lettre recommandée"):
        assert mention in notice, mention
    first = _text(ws.outbox / "10001" / "relances" / "relance-420930-1.pdf")
    assert "Objet : Relance 1" in first and "833,76 € restent dus" in first and "mise en demeure" not in first.lower()


def test_unpaid_list_by_age_with_disputes_marked(ws):
    relances(ws, "19/03/2026")
    rows = _csv(ws.root / "comptabilite" / "impayes-20260319.csv")
    assert [(r["N° facture"], r["Reste dû"], r["Jours de retard"], r["Tranche"], r["Contentieux"]) for r in rows] == [
        ("420930", "833,76\u00a0€", "15", "1 à 30 jours", "non"),
        ("420931", "177,92\u00a0€", "15", "1 à 30 jours", "non"),
        ("420932", "138,96\u00a0€", "15", "1 à 30 jours", "oui"),
    ]
    assert rows[0]["Dernière relance"] == "Relance 1 du 19/03/2026" and rows[2]["Dernière relance"] == ""
    relances(ws, "15/06/2026")
    sheet = load_workbook(ws.root / "comptabilite" / "impayes-20260615.xlsx")["Impayés"]
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    start = next(i for i, r in enumerate(cells) if r[0] == "Tranche")
    buckets = {r[0]: (r[1], r[2]) for r in cells[start + 1:start + 6]}
    assert buckets["61 à 90 jours"] == (0, 0) and buckets["plus de 90 jours"][0] == 3
    assert buckets["plus de 90 jours"][1] == pytest.approx(833.76 + 177.92 + 138.96)
    # before its due date an invoice is "non échue"
    relances(ws, "03/03/2026")
    assert {r["Tranche"] for r in _csv(ws.root / "comptabilite" / "impayes-20260303.csv")} == {"non échue"}


def test_a_paid_invoice_is_no_longer_listed_nor_reminded(ws):
    pay = write_csv(ws.root / "p2.csv", ["N° facture", "Date", "Montant"], [["420930", "10/03/2026", "833,76"]])
    ws.cli("paiements", "importer", str(pay))
    out = relances(ws, "19/03/2026").stdout
    assert "420930" not in out
    assert "420930" not in {r["N° facture"] for r in _csv(ws.root / "comptabilite" / "impayes-20260319.csv")}


def test_stages_and_rate_come_from_the_settings(tmp_path):
    cfg = BILLING_CONFIG.replace("premier_numero = 420930", "premier_numero = 420930\nrelances = [5, 10]\n"
                                 'taux_penalites_retard = "10"')
    ws = billing_workspace(tmp_path, config=cfg)
    declare(ws, "10001", JAN, si=6)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    assert "Relance 1" in relances(ws, "09/03/2026").stdout
    out = relances(ws, "14/03/2026").stdout  # 10 days late: the second and last stage is the formal notice
    assert "Mise en demeure — facture 420930" in out
    # 833,76 × 10 % × 10 / 365 = 2,28 €
    assert "pénalités 2,28\u00a0€ et indemnité 40,00\u00a0€" in out
    pdf = _text(ws.outbox / "10001" / "factures" / "facture-420930.pdf")
    assert "pénalités au taux annuel de 10 %" in pdf


def test_future_date_and_wrong_settings_refused(ws, tmp_path):
    out = ws.cli("relances", "--date", "01/01/2030", env={CLOCK_ENV: "2026-03-19T09:00:00"}, check=False)
    assert out.returncode == 1 and "dans le futur" in out.stderr
    assert ws.sql("SELECT COUNT(*) FROM relances") == [(0,)]
    bad = billing_workspace(tmp_path / "bad", config=BILLING_CONFIG.replace(
        "premier_numero = 420930", "premier_numero = 420930\nrelances = [30, 15]"))
    refused = bad.cli("relances", check=False)
    assert refused.returncode == 1 and "[facturation] relances" in refused.stderr


def test_staff_dashboard_shows_unpaid_invoices_by_age(ws):
    page = ws.cli("rapport", "quotidien", "--date", "19/03/2026").stdout.split("Tableau de bord du 19/03/2026 : ")[1].split("\n")[0]
    html = re.sub(r"[ \t\n]+", " ", open(page, encoding="utf-8").read())
    assert 'id="impayes"' in html and "Factures impayées" in html
    total = "1\u202f150,64\u00a0€"  # 833,76 + 177,92 + 138,96
    assert f"Reste dû : <strong>{total}</strong>, dont 1 facture en contentieux" in html
    assert "<td data-label=\"Retard\">1 à 30 jours</td><td data-label=\"Factures\" class=\"num\">3</td>" in html
    assert "420930</td><td data-label=\"Adhérent\">10001 – " in html
