"""`amsn-batch demo` shows billing too: a small campaign on the example members, on a fixed service clock, so
that a newcomer sees declarations, invoices, a facture d'office and its avoir, payments, an échéancier and a
reminder; the same pieces whatever the day, and nothing issued twice when the demo is run again."""

from __future__ import annotations

from tests.billing_helpers import BILLING_CONFIG, pieces
from tests.conftest import make_workspace
from tests.facturx_checks import check_outbox


def test_demo_runs_a_small_billing_campaign(tmp_path):
    ws = make_workspace(tmp_path / "demo", extra_config=BILLING_CONFIG)
    out = ws.cli("demo").stdout
    assert "Facturation d'exemple 2026 (horloge du service fixée à chaque étape) :" in out
    assert pieces(ws) == [
        ("420930", "facture", "10001", "2026-02-05", "694.80", "138.96", "833.76", None),
        ("420931", "facture", "10002", "2026-02-05", "282.70", "56.54", "339.24", None),
        ("420932", "facture_office", "10003", "2026-02-05", "231.60", "46.32", "277.92", None),
        ("420933", "avoir", "10003", "2026-02-20", "-231.60", "-46.32", "-277.92", "420932"),
        ("420934", "facture", "10003", "2026-02-20", "347.40", "69.48", "416.88", None),
    ]
    assert "05/02/2026 facturer : Facture d'office n° 420932 — adhérent 10003 — 277,92\u00a0€ TTC" in out
    assert "Relance 1 — facture 420931 — adhérent 10002" in out
    assert ws.sql("SELECT f.numero, p.montant FROM paiements p JOIN factures f ON f.id=p.facture_id") == [("420930", "833.76")]
    folder = ws.outbox / "10003" / "factures"
    assert {p.name for p in folder.iterdir()} >= {"facture-420932.pdf", "avoir-420933.pdf", "facture-420934.pdf",
                                                  "echeancier-10003.csv", "echeancier-10003.xlsx"}
    assert (ws.outbox / "10002" / "relances" / "relance-420931-1.pdf").is_file()
    assert check_outbox(ws.outbox) == 5  # every piece through the XSD, the EN 16931 schematron, the PDF/A checks
    again = ws.cli("demo").stdout
    assert "Facturation 2026 d'exemple déjà jouée" in again
    assert len(pieces(ws)) == 5


def test_demo_without_billing_settings_says_so(tmp_path):
    ws = make_workspace(tmp_path / "demo")
    out = ws.cli("demo").stdout
    assert "Facturation : non démontrée" in out and "Tableau de bord du service" in out
