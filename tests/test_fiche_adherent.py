"""The member's administrative information by file (fiche adhérent), through `traiter`: VAT number, billing
address, contacts by type and a change of situation applied with history; the situation's effects on the
declaration status and the factures d'office; a mandataire without mandate refused; a new SIRET or company
name queued for the billing team, never applied; French findings with line and column; the template."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from openpyxl import load_workbook

from amsn_batch.rules.fiche import email_problem, phone_number
from amsn_batch.store import connect
from amsn_batch.store.fiche import contacts, pending_requests
from tests.acks import ack_path
from tests.billing_helpers import BILLING_CONFIG, BillingWorkspace, employees_file, pieces, received
from tests.conftest import import_registry, make_workspace
from tests.factories import Registry, employee_row, make_nir, make_siren, make_siret, make_vat, write_csv
from tests.fiche_factory import HEADERS, row

OTHER_SIREN = make_siren("44332211")


@pytest.fixture
def bws(tmp_path) -> BillingWorkspace:
    """A billing workspace whose registry gives 10001 the VAT number of another company (a registry warning) and
    10003 none."""
    reg = Registry()
    reg.vat["10001"] = make_vat(OTHER_SIREN)
    reg.vat["10003"] = ""
    base = make_workspace(tmp_path / "ws", extra_config=BILLING_CONFIG)
    return import_registry(BillingWorkspace(base.root, base.config, reg, base.database), tmp_path / "registre")


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
    assert (ack["entrees"], ack["sorties"], ack["modifications"]) == (0, 0, 5)  # VAT, billing address, 2 contacts, situation
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
    conn = connect(ws.store).conn
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


def test_a_payroll_firm_without_mandate_for_the_member_is_refused(bws):
    ws = bws
    before = ws.sql("SELECT * FROM adherents ORDER BY numero")
    path = write_csv(ws.drop("PAIE01", "fiche-clients.csv"), HEADERS, [
        row("10002", type_="Comptabilité", nom="LEROY", prenom="Anne", email="anne.leroy@paie01.fr"),
        row("10001", billing="pirate@example.com", type_="Dirigeant", nom="X", email="x@example.com"),
    ])
    received(ws, path, dt.datetime(2026, 3, 2, 9))
    ws.cli("traiter")
    ack, rows = ws.ack("PAIE01", "fiche-clients"), ws.ack_rows("PAIE01", "fiche-clients")
    assert (ack["statut"], ack["lignes_acceptees"]) == ("rejete", 0)
    assert [(r["ligne"], r["colonne"], r["code"], r["gravite"]) for r in rows] == [
        ("3", "N° adhérent", "FICHE_MANDAT_ABSENT", "bloquant")]
    assert "PAIE01 a un mandat" in rows[0]["message"] and "Le fichier entier est refusé" in rows[0]["message"]
    assert ws.sql("SELECT * FROM adherents ORDER BY numero") == before
    assert ws.sql("SELECT count(*) FROM contacts") == [(0,)]

    # With the mandate only, the same firm's file is applied; an adhérent never changes another's information.
    write_csv(ws.drop("PAIE01", "fiche-10002.csv"), HEADERS,
              [row("10002", type_="Comptabilité", nom="LEROY", prenom="Anne", email="anne.leroy@paie01.fr")])
    write_csv(ws.drop("10002", "fiche-voisin.csv"), HEADERS, [row("10003", type_="Dirigeant", nom="Y", email="y@ex.fr")])
    ws.cli("traiter")
    assert ws.ack("PAIE01", "fiche-10002")["statut"] == "accepte"
    assert ws.sql("SELECT adherent, type, nom FROM contacts") == [("10002", "comptabilite", "LEROY")]
    voisin = ws.ack_rows("10002", "fiche-voisin")
    assert ws.ack("10002", "fiche-voisin")["statut"] == "rejete"
    assert [(r["ligne"], r["code"]) for r in voisin] == [("2", "FICHE_AUTRE_ADHERENT")]


def test_a_new_siret_or_company_name_is_queued_for_the_billing_team_not_applied(bws):
    ws = bws
    siren = ws.registry.members["10002"][0][:9]
    new_siret = make_siret(siren, "0042")
    path = write_csv(ws.drop("10002", "changement.csv"), ["N° adhérent", "SIRET", "Raison sociale", "Type de contact",
                                                          "Nom", "E-mail"], [
        ["10002", new_siret, "Nouvelle Entreprise SAS", "Dirigeant", "BLANC", "blanc@nouvelle.fr"],
        ["10002", ws.registry.members["10002"][0], "ENTREPRISE 10002", "", "", ""],  # as known: nothing asked
    ])
    received(ws, path, dt.datetime(2026, 3, 2, 9))
    ws.cli("traiter")
    ack, rows = ws.ack("10002", "changement"), ws.ack_rows("10002", "changement")
    assert (ack["statut"], ack["lignes_acceptees"]) == ("accepte", 2)
    assert [(r["ligne"], r["colonne"], r["code"], r["gravite"]) for r in rows] == [
        ("2", "SIRET", "FICHE_DEMANDE_TRANSMISE", "avertissement"),
        ("2", "Raison sociale", "FICHE_DEMANDE_TRANSMISE", "avertissement")]
    assert all("service facturation, qui vous contactera" in r["message"] for r in rows)
    assert f"Le changement de SIRET (« {new_siret} »)" in " ".join(r["message"] for r in rows)
    # Not applied: the registry is as it was; the contact on the same line is.
    assert ws.sql("SELECT siret FROM etablissements WHERE adherent='10002'") == [(ws.registry.members["10002"][0],)]
    assert ws.sql("SELECT raison_sociale FROM adherents WHERE numero='10002'") == [("Entreprise 10002",)]
    assert ws.sql("SELECT nom FROM contacts WHERE adherent='10002'") == [("BLANC",)]
    assert ws.sql("SELECT adherent, champ, actuel, demande, expediteur, ligne, traitee_le FROM demandes_facturation "
                  "ORDER BY id") == [
        ("10002", "siret", ws.registry.members["10002"][0], new_siret, "10002", 2, None),
        ("10002", "raison_sociale", "Entreprise 10002", "Nouvelle Entreprise SAS", "10002", 2, None)]
    conn = connect(ws.store).conn
    try:
        assert [r.demande for r in pending_requests(conn)] == [new_siret, "Nouvelle Entreprise SAS"]
    finally:
        conn.close()
    out = ws.cli("statut").stdout
    assert "Demandes à traiter par le service facturation : 2" in out
    siret_request, name_request = ws.sql("SELECT id FROM demandes_facturation ORDER BY id")
    assert f"n° {siret_request[0]} : 10002 Entreprise 10002 — nouveau SIRET « {new_siret} »" in out
    page, _ = _daily(ws, "02/03/2026")
    assert 'id="demandes-facturation"' in page and f"Nouveau SIRET : {new_siret}" in page
    assert "Nouvelle raison sociale : Nouvelle Entreprise SAS" in page

    # The billing team applied the new SIRET to the registry: the request leaves the queue, the other stays.
    done = ws.cli("adherents", "demande-traitee", str(siret_request[0]))
    assert f"Demande n° {siret_request[0]} traitée : 10002 Entreprise 10002 — nouveau SIRET « {new_siret} »." in done.stdout
    assert ws.sql("SELECT id FROM demandes_facturation WHERE traitee_le IS NULL") == [name_request]
    out = ws.cli("statut").stdout
    assert "Demandes à traiter par le service facturation : 1" in out and new_siret not in out
    page, _ = _daily(ws, "02/03/2026")
    assert f"Nouveau SIRET : {new_siret}" not in page and "Nouvelle raison sociale : Nouvelle Entreprise SAS" in page
    again = ws.cli("adherents", "demande-traitee", str(siret_request[0]), check=False)
    assert again.returncode != 0 and "Aucune demande n°" in again.stderr and "déjà traitée" in again.stderr


def _daily(ws, day: str) -> tuple[str, str]:
    out = ws.cli("rapport", "quotidien", "--date", day).stdout
    d, m, y = day.split("/")
    page = (ws.root / "rapports" / f"quotidien-{y}-{m}-{d}.html")
    return page.read_text(encoding="utf-8"), out


def test_bad_values_get_french_findings_with_line_and_column(bws):
    ws = bws
    siren = ws.registry.members["10001"][0][:9]
    good = make_vat(siren)
    wrong_key = f"FR{(int(good[2:4]) + 1) % 100:02d}{siren}"
    other = make_vat(OTHER_SIREN)
    rows_ = [
        row("10001", tva=wrong_key),                                                     # 2
        row("10001", tva=other.replace("FR", "FR ")),                                    # 3
        row("10001", billing="factures@@entreprise.fr"),                                 # 4
        row("10001", type_="Dirigeant", nom="MARTIN", email="martin.entreprise.fr"),     # 5
        row("10001", type_="Comptabilité", nom="NOIR", email="noir@entreprise", phone="12345"),  # 6
        row("10001", situation="Cessation d'activité", date="31/02/2026"),               # 7
        row("10001", situation="Liquidation judiciaire"),                                # 8
        row("10001", type_="Stagiaire", nom="ROUX", email="roux@entreprise.fr"),         # 9
        row("10001", situation="En sommeil", date="01/03/2026"),                         # 10
        row("10001", type_="Dirigeant", nom="", email="a b@entreprise.fr"),              # 11
        row("10001", situation="Cession de fonds", date="01/03/2030"),                   # 12
        row("10003", type_="Dirigeant", nom="VERT", email="vert@entreprise.fr"),         # 13: 10003 has no VAT
        row("10002", tva="DE136695976"),                                                 # 14
    ]
    write_csv(ws.drop("PAIE01", "x.csv"), HEADERS, rows_)  # the firm has no mandate for 10001: refused first
    write_csv(ws.drop("10001", "erreurs.csv"), HEADERS, rows_[:11])
    write_csv(ws.drop("PAIE01", "erreurs.csv"), HEADERS, rows_[11:])
    ws.clock = dt.datetime(2026, 3, 2, 9)  # received that day: 01/03/2030 is more than a year ahead
    ws.cli("traiter")
    assert ws.ack("PAIE01", "x")["statut"] == "rejete"
    found = {(int(r["ligne"]), r["colonne"], r["code"], r["gravite"]) for r in ws.ack_rows("10001", "erreurs")}
    assert found == {
        (2, "N° TVA intracommunautaire", "FICHE_TVA_INVALIDE", "bloquant"),
        (3, "N° TVA intracommunautaire", "FICHE_TVA_AUTRE_SIREN", "bloquant"),
        (4, "Adresse de facturation et de dématérialisation", "FICHE_EMAIL_INVALIDE", "bloquant"),
        (5, "E-mail", "FICHE_EMAIL_INVALIDE", "bloquant"),
        (6, "E-mail", "FICHE_EMAIL_INVALIDE", "bloquant"),
        (6, "Téléphone", "FICHE_TELEPHONE_INVALIDE", "bloquant"),
        (7, "Date du changement de situation", "DATE_INVALIDE", "bloquant"),
        (8, "Date du changement de situation", "FICHE_SITUATION_INCOMPLETE", "bloquant"),
        (9, "Type de contact", "FICHE_TYPE_CONTACT_INCONNU", "bloquant"),
        (10, "Changement de situation", "FICHE_SITUATION_INCONNUE", "bloquant"),
        (11, "Nom", "CHAMP_OBLIGATOIRE", "bloquant"),
        (11, "E-mail", "FICHE_EMAIL_INVALIDE", "bloquant"),
        (12, "Date du changement de situation", "FICHE_DATE_SITUATION_LOINTAINE", "bloquant"),
    }
    messages = {(int(r["ligne"]), r["code"]): r["message"] for r in ws.ack_rows("10001", "erreurs")}
    assert "la clé (les 2 caractères après FR) ne correspond pas au SIREN" in messages[(2, "FICHE_TVA_INVALIDE")]
    assert f"construit sur le SIREN {OTHER_SIREN}, qui n'est pas celui de l'adhérent 10001 (SIREN {siren})" in \
        messages[(3, "FICHE_TVA_AUTRE_SIREN")]
    assert "il faut un seul @" in messages[(4, "FICHE_EMAIL_INVALIDE")]
    assert "il manque le @" in messages[(5, "FICHE_EMAIL_INVALIDE")]
    assert "le domaine « entreprise » n'a pas d'extension" in messages[(6, "FICHE_EMAIL_INVALIDE")]
    assert "n'est pas un numéro de téléphone français" in messages[(6, "FICHE_TELEPHONE_INVALIDE")]
    assert "« 31/02/2026 » n'est pas une date valide" in messages[(7, "DATE_INVALIDE")]
    assert "Responsable ressources humaines" in messages[(9, "FICHE_TYPE_CONTACT_INCONNU")]
    assert "Liquidation judiciaire" in messages[(10, "FICHE_SITUATION_INCONNUE")]
    assert ws.ack("10001", "erreurs")["statut"] == "rejete"
    assert ws.sql("SELECT statut, tva FROM adherents WHERE numero='10001'") == [("actif", make_vat(OTHER_SIREN))]
    page = ack_path(ws.outbox / "10001", "erreurs", "ar.html").read_text(encoding="utf-8")
    assert '<th scope="col">Contact</th>' in page and "MARTIN" in page  # the person a line is about: a contact
    assert '<th scope="col">Salarié</th>' not in page and 'data-compteur="entrees"' not in page  # not employees

    found = {(int(r["ligne"]), r["colonne"], r["code"]) for r in ws.ack_rows("PAIE01", "erreurs")}
    assert found == {
        (2, "N° TVA intracommunautaire", "FICHE_TVA_MANQUANTE"),
        (3, "N° TVA intracommunautaire", "FICHE_TVA_INVALIDE"),
    }
    messages = {r["code"]: r["message"] for r in ws.ack_rows("PAIE01", "erreurs")}
    assert "à renseigner impérativement" in messages["FICHE_TVA_MANQUANTE"]
    assert "c'est un numéro d'un autre pays" in messages["FICHE_TVA_INVALIDE"]


def test_one_value_per_member_and_one_contact_per_type(bws):
    ws = bws
    siren = ws.registry.members["10001"][0][:9]
    write_csv(ws.drop("10001", "doublons.csv"), HEADERS + ["SIRET"], [
        row(tva=make_vat(siren), billing="a@e.fr", type_="Dirigeant", nom="UN", email="un@e.fr") + [""],
        row(tva=make_vat(OTHER_SIREN), billing="b@e.fr") + [""],
        row(type_="Dirigeant", nom="DEUX", email="deux@e.fr") + ["123"],
        row(type_="Paie", nom="TROIS", email="trois@e.fr", phone="0033 (0)6.12.34.56.78") + [""],
    ])
    ws.cli("traiter")
    found = {(int(r["ligne"]), r["colonne"], r["code"]) for r in ws.ack_rows("10001", "doublons")}
    assert found == {
        (3, "N° TVA intracommunautaire", "FICHE_TVA_AUTRE_SIREN"),
        (3, "Adresse de facturation et de dématérialisation", "FICHE_VALEUR_CONTRADICTOIRE"),
        (4, "Type de contact", "FICHE_CONTACT_EN_DOUBLE"),
        (4, "SIRET", "FICHE_SIRET_INVALIDE"),
    }
    message = next(r["message"] for r in ws.ack_rows("10001", "doublons") if r["code"] == "FICHE_VALEUR_CONTRADICTOIRE")
    assert message.startswith("L'adhérent 10001 a ici « Adresse de facturation et de dématérialisation » = « b@e.fr », "
                              "mais « a@e.fr » ligne 2.")
    assert ws.ack("10001", "doublons")["statut"] == "accepte_partiellement"
    assert ws.sql("SELECT type, nom, telephone FROM contacts ORDER BY type") == [
        ("dirigeant", "UN", None), ("paie", "TROIS", "06 12 34 56 78")]

    # A new contact of a type replaces the current one, kept in the versions and the history.
    write_csv(ws.drop("10001", "nouveau.csv"), HEADERS, [row(type_="Gérant", nom="QUATRE", email="quatre@e.fr")])
    ws.cli("traiter")
    assert ws.sql("SELECT nom, jusqu_au IS NULL FROM contacts WHERE type='dirigeant' ORDER BY id") == [
        ("UN", 0), ("QUATRE", 1)]
    assert ws.sql("SELECT avant, apres FROM registre_historique WHERE cle='10001/dirigeant' ORDER BY id")[-1] == (
        "UN <un@e.fr>", "QUATRE <quatre@e.fr>")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_template_round_trips(bws, tmp_path, fmt):
    ws = bws
    out = ws.cli("modele", "fiche-adherent", "--sortie", str(tmp_path / "modeles")).stdout
    assert "modele-fiche-adherent.xlsx" in out and "modele-fiche-adherent.csv" in out
    siren = ws.registry.members["10003"][0][:9]
    values = {"N° adhérent": "10003", "N° TVA intracommunautaire": make_vat(siren),
              "Adresse de facturation et de dématérialisation": "factures@entreprise10003.fr",
              "Changement de situation": "Redressement judiciaire", "Date du changement de situation": "15/03/2026",
              "Type de contact": "Comptabilité", "Nom": "GRIS", "Prénom": "Léa", "E-mail": "lea.gris@entreprise10003.fr",
              "Téléphone": "02.76.08.12.23"}
    if fmt == "xlsx":
        wb = load_workbook(tmp_path / "modeles" / "modele-fiche-adherent.xlsx")
        assert wb.sheetnames == ["Notice", "Informations", "Listes"]
        sheet = wb["Informations"]
        headers = [c.value for c in sheet[1]]
        lists = wb["Listes"]
        assert [c.value for c in lists[1]] == ["Changement de situation", "Type de contact"]
        offered = [c.value for c in next(lists.iter_cols(min_col=2, max_col=2))][1:]
        assert offered[:3] == ["Dirigeant", "Responsable ressources humaines", "Comptabilité"]
        assert len(sheet.data_validations.dataValidation) == 2
        for i, h in enumerate(headers, start=1):
            sheet.cell(row=2, column=i, value=values.get(h, ""))
        wb.save(ws.drop("10003", "fiche.xlsx"))
    else:
        text = (tmp_path / "modeles" / "modele-fiche-adherent.csv").read_text(encoding="utf-8-sig")
        headers = text.strip().split(";")
        write_csv(ws.drop("10003", f"fiche.{fmt}"), headers, [[values.get(h, "") for h in headers]], encoding="utf-8")
    assert set(values) <= set(headers)
    ws.cli("traiter")
    ack = ws.ack("10003", "fiche")
    assert (ack["statut"], ack["lignes_acceptees"]) == ("accepte", 1), ws.ack_rows("10003", "fiche")
    assert ws.sql("SELECT tva, email_facturation, statut, statut_depuis FROM adherents WHERE numero='10003'") == [
        (make_vat(siren), "factures@entreprise10003.fr", "redressement", "2026-03-15")]
    assert ws.sql("SELECT type, nom, prenom, telephone FROM contacts") == [("comptabilite", "GRIS", "Léa", "02 76 08 12 23")]


def test_situation_change_shows_on_the_staff_dashboard(bws):
    ws = bws
    path = write_csv(ws.drop("10004", "situation.csv"), HEADERS, [row(situation="Plus de personnel", date="01/04/2026")])
    received(ws, path, dt.datetime(2026, 3, 20, 9))
    ws.cli("traiter")
    page, _ = _daily(ws, "20/03/2026")
    assert 'id="changements-situation"' in page
    assert "10004 – Entreprise 10004" in page and "Plus de personnel" in page and "01/04/2026" in page
    # Not in force before its date: the member still declares in a campaign opened before it.
    assert _statuses(ws, 2026, "25/03/2026")["10004"] != "Non saisissable"
    assert _statuses(ws, 2026, "02/04/2026")["10004"] == "Non saisissable"


def test_told_apart_from_employee_files_by_its_headers(ws):
    s = ws.registry.members["10001"][0]
    rng = random.Random(4)
    # An employee export with an e-mail, a phone and a « Situation » column stays an employee file.
    write_csv(ws.drop("10001", "export.csv"), ["Nom", "Prénom", "N° sécurité sociale", "SIRET", "Situation", "E-mail",
                                               "Téléphone", "Mouvement", "Date d'embauche", "Contrat", "Poste", "Code PCS"],
              [["DUPONT", "Marie", make_nir(rng), s, "Mariée", "m@e.fr", "0612345678", "Entrée", "01/09/2026", "CDI",
                "Vendeuse", "554a"]])
    # A fiche with only the contact columns and its type is one.
    write_csv(ws.drop("10001", "contacts.csv"), ["Type de contact", "Nom", "Prénom", "E-mail", "Téléphone"],
              [["Dirigeant", "MARTIN", "Claire", "claire@e.fr", "0612345678"]])
    ws.cli("traiter")
    assert ws.sql("SELECT nom FROM salaries_actuels") == [("DUPONT",)]
    assert ws.sql("SELECT adherent, type, nom FROM contacts") == [("10001", "dirigeant", "MARTIN")]
    assert ws.sql("SELECT nom, json_extract(details, '$.genre') FROM fichiers ORDER BY nom") == [
        ("contacts.csv", "fiche_adherent"), ("export.csv", None)]


@pytest.mark.parametrize("text, problem", [
    ("prenom.nom@entreprise.fr", None),
    ("Prenom.Nom+factures@sous-domaine.entreprise.co.uk", None),
    ("nom@entreprise", "n'a pas d'extension"),
    ("nom.entreprise.fr", "il manque le @"),
    ("a@b@entreprise.fr", "un seul @"),
    ("a@entreprise.fr; b@entreprise.fr", "une seule adresse"),
    ("nom..double@entreprise.fr", "point mal placé"),
    ("nom@-entreprise.fr", "est mal formé"),
    ("nom@entreprise.f2", "est mal formé"),
    ("@entreprise.fr", "rien avant le @"),
])
def test_email_form(text, problem):
    found = email_problem(text)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("text, number", [
    ("02.76.08.12.23", "02 76 08 12 23"), ("0612345678", "06 12 34 56 78"), ("+33 6 12 34 56 78", "06 12 34 56 78"),
    ("+33 (0)2 31 00 00 00", "02 31 00 00 00"), ("0033 1-23-45-67-89", "01 23 45 67 89"),
    ("612345678", None), ("00 12 34 56 78", None), ("06 12 34 56 7", None), ("+44 20 7946 0958", None),
])
def test_french_phone_numbers(text, number):
    assert phone_number(text) == number


def test_the_registry_import_overrides_a_dated_situation(bws, tmp_path):
    ws = bws
    write_csv(ws.drop("10004", "situation.csv"), HEADERS, [row(situation="Cessation d'activité", date="01/04/2026")])
    ws.cli("traiter")
    assert ws.sql("SELECT statut, statut_depuis FROM adherents WHERE numero='10004'") == [("cessation", "2026-04-01")]
    reg, mand = ws.registry.write(tmp_path / "registre-staff")  # staff: 10004 is « Actif »
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    assert ws.sql("SELECT statut, statut_depuis FROM adherents WHERE numero='10004'") == [("actif", None)]
    assert ws.sql("SELECT champ, avant, apres FROM registre_historique WHERE cle='10004' AND source NOT LIKE 'fiche%' "
                  "AND champ LIKE 'statut%' ORDER BY id") == [("statut", "cessation", "actif"),
                                                               ("statut_depuis", "2026-04-01", None)]


def test_a_registry_import_that_still_says_the_same_keeps_what_the_member_declared(bws, tmp_path):
    """Three-way merge of the registry with the member's own changes: an unchanged registry value leaves the member's
    newer VAT number and billing address in place (and says so); a value the staff changed in the registry applies."""
    ws = bws
    siren = ws.registry.members["10001"][0][:9]
    vat = make_vat(siren)
    write_csv(ws.drop("10001", "fiche.csv"), HEADERS, [row(tva=vat, billing="factures@entreprise10001.fr")])
    ws.cli("traiter")
    member = "SELECT tva, email_facturation FROM adherents WHERE numero='10001'"
    assert ws.sql(member) == [(vat, "factures@entreprise10001.fr")]
    from_registry = ("SELECT champ, avant, apres FROM registre_historique WHERE cle='10001' AND source NOT LIKE 'fiche%' "
                     "AND champ IN ('tva', 'email_facturation') ORDER BY id")

    # The staff import the registry again, unchanged: it still gives the values the member replaced.
    reg, mand = ws.registry.write(tmp_path / "registre-staff")
    out = ws.cli("adherents", "importer", str(reg), "--mandats", str(mand)).stdout
    assert ws.sql(member) == [(vat, "factures@entreprise10001.fr")]
    assert ws.sql(from_registry) == []
    assert "2 valeur(s) déclarée(s) par les adhérents dans leur fiche conservée(s)" in out
    assert f"10001 — N° de TVA : « {vat} » conservée (le registre donne « {make_vat(OTHER_SIREN)} »)" in out
    assert "10001 — adresse e-mail de facturation : « factures@entreprise10001.fr » conservée (le registre donne " \
           "« compta10001@example.fr »)" in out

    # The same on a store that predates the record of the registry's values: the member's change is read from history.
    ws.sql("DELETE FROM registre_valeurs")
    out = ws.cli("adherents", "importer", str(reg), "--mandats", str(mand)).stdout
    assert ws.sql(member) == [(vat, "factures@entreprise10001.fr")]
    assert "2 valeur(s) déclarée(s)" in out

    # The staff change the billing address in the registry: theirs applies; the VAT number, still unchanged there, stays.
    rows = ws.registry.rows()
    for r in rows:
        if r[0] == "10001":
            r[4] = "comptabilite@entreprise10001.fr"
    write_csv(reg, Registry.HEADERS, rows, encoding="utf-8")
    out = ws.cli("adherents", "importer", str(reg), "--mandats", str(mand)).stdout
    assert ws.sql(member) == [(vat, "comptabilite@entreprise10001.fr")]
    assert ws.sql(from_registry) == [("email_facturation", "factures@entreprise10001.fr", "comptabilite@entreprise10001.fr")]
    assert "1 valeur(s) déclarée(s)" in out and "N° de TVA" in out and "adresse e-mail de facturation" not in out

    # Imported once more as it is: nothing to change, nothing more in the history.
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    assert ws.sql(member) == [(vat, "comptabilite@entreprise10001.fr")]
    assert len(ws.sql(from_registry)) == 1
