"""The member's administrative information by file (fiche adhérent), through `traiter`: VAT number, billing
address, contacts by type and a change of situation applied with history; the situation's effects on the
declaration status and the factures d'office; a mandataire without mandate refused; a new SIRET or company
name queued for the billing team, never applied; French findings with line and column; the template."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from openpyxl import load_workbook

from amsn_batch.store import connect
from amsn_batch.store.fiche import contacts, pending_requests
from tests.billing_helpers import BILLING_CONFIG, BillingWorkspace, employees_file, pieces, received
from tests.conftest import import_registry, make_workspace
from tests.factories import Registry, employee_row, make_nir, make_siren, make_siret, make_vat, write_csv, write_xlsx

HEADERS = ["N° adhérent", "N° TVA intracommunautaire", "Adresse de facturation et de dématérialisation",
           "Changement de situation", "Date du changement de situation", "Type de contact", "Nom", "Prénom",
           "E-mail", "Téléphone"]
OTHER_SIREN = make_siren("44332211")


def row(numero="", tva="", billing="", situation="", date="", type_="", nom="", prenom="", email="", phone=""):
    return [numero, tva, billing, situation, date, type_, nom, prenom, email, phone]


@pytest.fixture
def bws(tmp_path) -> BillingWorkspace:
    """A billing workspace whose registry gives 10001 the VAT number of another company (a registry warning)."""
    reg = Registry()
    reg.vat["10001"] = make_vat(OTHER_SIREN)
    base = make_workspace(tmp_path / "ws", extra_config=BILLING_CONFIG)
    return import_registry(BillingWorkspace(base.root, base.config, reg), tmp_path / "registre")


def _employees(ws, adherent: str, n: int, when: dt.datetime, seed: int) -> None:
    rng = random.Random(seed)
    s = ws.registry.members[adherent][0]
    employees_file(ws, adherent, f"salaries-{adherent}.csv",
                   [employee_row(make_nir(rng), s, name=f"SAL{seed}{i}", hired="01/09/2025") for i in range(n)], when)
    ws.cli("traiter")


def _statuses(ws, year: int, day: str) -> dict[str, str]:
    out = ws.cli("declaration", "statuts", "--annee", str(year), "--date", day).stdout
    return {line.split(" ", 1)[0]: line.split(" : ", 1)[1].split(" — ")[0] for line in out.splitlines() if " : " in line}


def test_vat_change_two_contacts_and_a_cessation(bws):
    ws = bws
    _employees(ws, "10001", 3, dt.datetime(2026, 1, 5, 9), 1)
    _employees(ws, "10004", 2, dt.datetime(2026, 1, 5, 9), 2)
    siren = ws.registry.members["10001"][0][:9]
    vat = make_vat(siren)
    path = write_csv(ws.drop("10001", "fiche.csv"), HEADERS, [
        row(tva=vat, billing="Factures@Entreprise10001.fr"),
        row(type_="Dirigeant", nom="MARTIN", prenom="Claire", email="c.martin@entreprise10001.fr", phone="06 12 34 56 78"),
        row(type_="Responsable RH", nom="DURAND", prenom="Paul", email="rh@entreprise10001.fr", phone="+33 2 31 00 00 00"),
        row(situation="Cessation d'activité", date="28/02/2026"),
    ])
    received(ws, path, dt.datetime(2026, 2, 10, 9))
    ws.cli("traiter")
    ack, rows = ws.ack("10001", "fiche"), ws.ack_rows("10001", "fiche")
    assert (ack["statut"], ack["lignes"], ack["lignes_acceptees"]) == ("accepte", 4, 4), rows
    assert rows == []

    assert ws.sql("SELECT tva, email_facturation, statut, statut_depuis FROM adherents WHERE numero='10001'") == [
        (vat, "factures@entreprise10001.fr", "cessation", "2026-02-28")]
    history = ws.sql("SELECT objet, cle, champ, avant, apres FROM registre_historique WHERE source LIKE 'fiche adhérent%' "
                     "ORDER BY id")
    assert history == [
        ("adherent", "10001", "tva", make_vat(OTHER_SIREN), vat),
        ("adherent", "10001", "email_facturation", "compta10001@example.fr", "factures@entreprise10001.fr"),
        ("contact", "10001/dirigeant", "*", None, "Claire MARTIN <c.martin@entreprise10001.fr> 06 12 34 56 78"),
        ("contact", "10001/rh", "*", None, "Paul DURAND <rh@entreprise10001.fr> 02 31 00 00 00"),
        ("adherent", "10001", "statut", "actif", "cessation"),
        ("adherent", "10001", "statut_depuis", None, "2026-02-28"),
    ]
    conn = connect(ws.db_path).conn
    try:
        found = contacts(conn, "10001")
        only_rh = contacts(conn, "10001", types=["rh"])
        assert contacts(conn, "99999") is None
    finally:
        conn.close()
    assert found.email_facturation == "factures@entreprise10001.fr"
    assert [(c.type, c.nom, c.prenom, c.email, c.telephone) for c in found.contacts] == [
        ("dirigeant", "MARTIN", "Claire", "c.martin@entreprise10001.fr", "06 12 34 56 78"),
        ("rh", "DURAND", "Paul", "rh@entreprise10001.fr", "02 31 00 00 00")]
    assert [c.nom for c in only_rh.contacts] == ["DURAND"]

    # The declaration is « Non saisissable » from the situation's date, not before.
    assert _statuses(ws, 2026, "20/02/2026")["10001"] == "Non déclarée"
    assert _statuses(ws, 2026, "02/03/2026")["10001"] == "Non saisissable"
    assert _statuses(ws, 2027, "15/01/2027")["10001"] == "Non saisissable"
    assert _statuses(ws, 2027, "15/01/2027")["10004"] == "À saisir"
    # No facture d'office after the cessation; the other member without declaration gets one.
    ws.cli("facturer", "--annee", "2026", "--date", "02/03/2026")
    assert [(p[1], p[2]) for p in pieces(ws)] == [("facture_office", "10004")]
