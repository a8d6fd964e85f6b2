"""Multi-employer workers in the fee: the tariff says whether a worker employed by several members counts in
full for each (`multi_employeur = "entier"`, the default) or 1/n for each (`"partage"`); the invoice shows it.
The detection across members is the service's (present employees, declarations by list), never a member's."""

from __future__ import annotations

import datetime as dt
import random

from pypdf import PdfReader

from tests.billing_helpers import BILLING_CONFIG, LIST_HEADERS, billing_workspace, drop_counts, employees_file, pieces
from tests.factories import employee_row, make_nir

JAN = dt.datetime(2026, 1, 15, 10)


def _campaign(tmp_path, mode: str | None):
    cfg = BILLING_CONFIG if mode is None else BILLING_CONFIG.replace(
        'cout_moyen_national = "116.00"', f'cout_moyen_national = "116.00"\nmulti_employeur = "{mode}"')
    ws = billing_workspace(tmp_path, config=cfg)
    rng = random.Random(21)
    shared, shared3 = make_nir(rng), make_nir(rng)
    s1, s2, s4 = (ws.registry.members[a][0] for a in ("10001", "10002", "10004"))
    employees_file(ws, "10001", "a.csv", [employee_row(shared, s1, name="PARTAGE")] + [employee_row(shared3, s1, name="TROIS")]
                   + [employee_row(make_nir(rng), s1, name=f"A{i}") for i in range(3)])
    employees_file(ws, "10002", "b.csv", [employee_row(shared, s2, name="PARTAGE"), employee_row(shared3, s2, name="TROIS")])
    ws.cli("traiter")
    # 10004 declares by list, naming the third employer's worker
    drop_counts(ws, "10004", "liste.csv", [[2026, s4, "TROIS", "Jean", shared3, "SI"], [2026, s4, "SEUL", "Luc", make_nir(rng), "SI"]],
                JAN, headers=LIST_HEADERS)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    return ws


def _lines(ws, adherent: str) -> list[tuple]:
    return ws.sql("SELECT l.libelle, l.quantite, l.prix_unitaire_ht, l.montant_ht FROM factures_lignes l "
                  "JOIN factures f ON f.id=l.facture_id WHERE f.adherent=? ORDER BY l.rang", adherent)


def _pdf(ws, adherent: str, numero: str) -> str:
    path = ws.outbox / adherent / "factures" / f"facture-{numero}.pdf"
    return " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())


def test_shared_fee_each_member_counts_one_nth(tmp_path):
    ws = _campaign(tmp_path, "partage")
    got = {p[2]: (p[0], p[1], p[4]) for p in pieces(ws)}
    assert _lines(ws, "10001") == [
        ("Cotisation 2026 : salariés suivis", 3, "115.80", "347.40"),
        ("Cotisation 2026 : salariés multi-employeurs (part 1/2)", 1, "57.90", "57.90"),
        ("Cotisation 2026 : salariés multi-employeurs (part 1/3)", 1, "38.60", "38.60"),
    ]
    assert got["10001"][2] == "443.90"
    assert _lines(ws, "10002") == [
        ("Cotisation 2026 : salariés multi-employeurs (part 1/2)", 1, "57.90", "57.90"),
        ("Cotisation 2026 : salariés multi-employeurs (part 1/3)", 1, "38.60", "38.60"),
    ]
    assert _lines(ws, "10004") == [
        ("Cotisation 2026 : salariés suivis", 1, "115.80", "115.80"),
        ("Cotisation 2026 : salariés multi-employeurs (part 1/3)", 1, "38.60", "38.60"),
    ]
    text = _pdf(ws, "10001", got["10001"][0])
    assert "Salariés multi-employeurs : 2 salarié(s) employé(s) aussi par d'autres adhérents" in text
    assert "partagée à parts égales entre leurs employeurs" in text
    assert "PARTAGE" not in text and "10002" not in text  # nothing about the other members


def test_in_full_by_default_and_said_on_the_invoice(tmp_path):
    ws = _campaign(tmp_path, None)
    assert _lines(ws, "10001") == [("Cotisation 2026 : salariés suivis", 5, "115.80", "579.00")]
    numero = next(p[0] for p in pieces(ws) if p[2] == "10001")
    assert "2 salarié(s) employé(s) aussi par d'autres adhérents, compté(s) en entier par chaque employeur (tarif 2026)" \
        in _pdf(ws, "10001", numero)


def test_unknown_mode_refused(tmp_path):
    ws = billing_workspace(tmp_path, config=BILLING_CONFIG.replace(
        'cout_moyen_national = "116.00"', 'cout_moyen_national = "116.00"\nmulti_employeur = "moitie"'))
    out = ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026", check=False)
    assert out.returncode == 1 and "multi_employeur" in out.stderr and "partage" in out.stderr
