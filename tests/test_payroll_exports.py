"""Files as payroll software exports them, read as a person reads them (issue 11, item 10): a title block or a
cover sheet above the data, decorated headers, blank separator lines, a total and a page footer below the
table, both a usage-name and a birth-name column. Through the real CLI: the store and the acknowledgement."""

from __future__ import annotations

import random

import pytest

from tests.factories import make_nir

EXPORT_HEADERS = [
    "Matricule", "Nom", "Nom de naissance", "Prénom(s)", "N° de sécurité sociale (NIR)",
    "Date de naissance (JJ/MM/AAAA)", "N° SIRET de l'établissement", "Mouvement", "Date d'entrée dans l'entreprise",
    "Date de sortie (le cas échéant)", "Nature du contrat de travail", "Emploi occupé", "Code PCS-ESE",
]


def _csv(rows: list[list[str]], sep: str = ";") -> str:
    return "\r\n".join(sep.join(r) for r in rows) + "\r\n"


def _findings(ws, sender: str, stem: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in ws.ack_rows(sender, stem):
        out.setdefault(f["code"], []).append(f)
    return out


@pytest.fixture
def rng():
    return random.Random(110)


def _birth(nir: str) -> str:
    return f"15/{nir[3:5]}/19{nir[1:3]}"


def test_payroll_firm_csv_cp1252_with_title_block_total_and_both_names(ws, rng):
    """The issue's case: a payroll firm's CSV for two clients, in Windows-1252, a title block, a blank line
    between the clients, `Nom` (usage) beside `Nom de naissance`, SIRET header with words around it, then a
    total line and a printed-on footer."""
    s2, s3 = ws.registry.members["10002"][0], ws.registry.members["10003"][0]
    nirs = [make_nir(rng, sex="2", year=1985, month=4), make_nir(rng, sex="1", year=1990, month=7),
            make_nir(rng, sex="2", year=1979, month=12), make_nir(rng, sex="2", year=1992, month=1)]
    people = [
        ["0012", "MARTIN", "LEFÈVRE", "Hélène", nirs[0], _birth(nirs[0]), s2, "Entrée", "02/11/2026", "", "CDI", "Vendeuse", "554a"],
        ["0013", "DURAND", "DURAND", "Jérôme", nirs[1], _birth(nirs[1]), s2, "Entrée", "02/11/2026", "", "CDD", "Magasinier", "676a"],
        # a real employee whose birth name is TOTAL: a data row, never a footer
        ["0201", "TOTAL", "TOTAL", "Amélie", nirs[2], _birth(nirs[2]), s3, "Entrée", "03/11/2026", "", "CDI", "Comptable", "543b"],
        # a broken employee row near the end: no NIR; refused with its line number, not skipped
        ["0202", "ROUX", "ROUX", "Inès", "", _birth(nirs[3]), s3, "Entrée", "03/11/2026", "", "CDI", "Caissière", "552a"],
    ]
    width = len(EXPORT_HEADERS)
    lines = [
        ["Cabinet Paie Conseil – export des mouvements"],  # 1
        ["Période : novembre 2026", "Édité le 30/11/2026"],  # 2
        [""],  # 3
        EXPORT_HEADERS,  # 4
        people[0], people[1],  # 5, 6
        [""] * width,  # 7: blank separator between the two clients
        people[2], people[3],  # 8, 9
        [""],  # 10
        ["Total : 4 salariés"] + [""] * (width - 1),  # 11
        ["Édité le 30/11/2026 à 10:12 – page 1/1"],  # 12
    ]
    path = ws.drop("PAIE01", "export paie novembre.csv")
    path.write_bytes(_csv(lines).encode("cp1252"))
    ws.cli("traiter")

    ack = ws.ack("PAIE01", "export paie novembre")
    assert (ack["lignes"], ack["lignes_acceptees"], ack["lignes_rejetees"], ack["entrees"]) == (4, 3, 1, 3)
    found = _findings(ws, "PAIE01", "export paie novembre")
    # the header with words around SIRET and the other decorated headers are read: nothing missing
    assert "COLONNE_MANQUANTE" not in found and "COLONNE_EN_DOUBLE" not in found
    assert [f["colonne"] for f in found["COLONNE_INCONNUE"]] == ["Matricule"]
    # the broken row is refused on its line, the total and the footer are skipped with one warning
    assert [(f["ligne"], f["colonne"]) for f in found["CHAMP_OBLIGATOIRE"]] == [("9", "N° de sécurité sociale (NIR)")]
    total = found["LIGNE_TOTAL_IGNOREE"]
    assert len(total) == 1 and total[0]["gravite"] == "avertissement"
    assert total[0]["message"].startswith("Lignes 11 et 12 (« Total : 4 salariés », « Édité le 30/11/2026 à 10:12")
    assert not any(f["ligne"] in ("3", "7", "10", "11", "12") for fs in found.values() for f in fs if f["code"] != "LIGNE_TOTAL_IGNOREE")
    # the birth name is the name; the usage name is kept beside it
    stored = ws.sql("SELECT nir, nom, nom_usage, prenom, siret FROM salaries_actuels ORDER BY nir")
    assert sorted(stored) == sorted([(nirs[0], "LEFÈVRE", "MARTIN", "Hélène", s2), (nirs[1], "DURAND", None, "Jérôme", s2),
                                     (nirs[2], "TOTAL", None, "Amélie", s3)])


def test_utf8_bom_export_with_count_lines_and_end_of_file_marker(ws, rng):
    siret = ws.registry.members["10004"][0]
    nirs = [make_nir(rng, year=1980 + i, month=3) for i in range(2)]
    headers = ["Nom salarié", "Prénom", "Numéro de sécurité sociale", "SIRET établissement employeur", "Mouvement",
               "Date d'embauche", "Type de contrat", "Poste", "PCS-ESE"]
    rows = [headers,
            ["PETIT", "Léa", nirs[0], siret, "Entrée", "01/10/2026", "CDI", "Serveuse", "561b"],
            ["", "", "", "", "", "", "", "", ""],
            ["BLANC", "Théo", nirs[1], siret, "Entrée", "05/10/2026", "CDD", "Cuisinier", "636d"],
            ["Nombre de salariés : 2", "", "", "", "", "", "", "", ""],
            ["2"],
            ["*** Fin de fichier ***"]]
    path = ws.drop("10004", "Silae_export.csv")
    path.write_bytes(b"\xef\xbb\xbf" + _csv(rows).encode("utf-8"))
    ws.cli("traiter")
    ack = ws.ack("10004", "Silae_export")
    assert (ack["statut"], ack["lignes"], ack["entrees"]) == ("accepte", 2, 2)
    found = _findings(ws, "10004", "Silae_export")
    assert list(found) == ["LIGNE_TOTAL_IGNOREE"]
    assert found["LIGNE_TOTAL_IGNOREE"][0]["message"].startswith(
        "Lignes 5, 6 et 7 (« Nombre de salariés : 2 », « 2 », « *** Fin de fichier *** »), après le tableau")
    # only `Nom salarié`: it stays the name, and no usage name is invented
    assert sorted(ws.sql("SELECT nom, nom_usage FROM salaries_actuels")) == [("BLANC", None), ("PETIT", None)]


def test_xlsx_cover_sheet_title_block_blank_rows_total_and_both_names(ws, rng):
    from openpyxl import Workbook

    s1, s1b = ws.registry.members["10001"]
    nirs = [make_nir(rng, sex="2", year=1988, month=5), make_nir(rng, sex="1", year=1975, month=9),
            make_nir(rng, sex="2", year=1996, month=2)]
    wb = Workbook()
    cover = wb.active
    cover.title = "Page de garde"
    for line in (["SOCIÉTÉ DUPONT & FILS"], ["[logo]"], ["Déclaration des mouvements de personnel"], [],
                 ["Établie le", "30/11/2026"], ["Nombre de salariés", 3]):
        cover.append(line)
    data = wb.create_sheet("Mouvements")
    data.append(["Mouvements du mois de novembre 2026"])
    data.append(["Établissement de Caen"])
    data.append([])
    data.append(["Nom marital", "Nom patronymique", "Prénom", "N° SS", "Date de naissance", "Siret (14 chiffres)",
                 "Mouvement", "Date d'embauche", "Contrat", "Intitulé du poste", "Code PCS", "Catégorie de suivi médical"])
    data.append(["BERNARD", "GIRAUD", "Chloé", nirs[0], _birth(nirs[0]), s1, "Entrée", "04/11/2026", "CDI", "Assistante", "543b", "SI"])
    data.append([None] * 12)
    data.append([None, "MOREAU", "Luc", nirs[1], _birth(nirs[1]), s1b, "Entrée", "12/11/2026", "CDD", "Chauffeur", "643a", "SIR"])
    data.append([])
    data.append(["FAURE", "LAMBERT", "Emma", nirs[2], _birth(nirs[2]), s1, "Entrée", "20/11/2026", "CDI", "Vendeuse", "554a", "SI"])
    data.append([])
    data.append(["Total", None, None, 3])
    wb.save(ws.drop("10001", "mouvements novembre.xlsx"))
    ws.cli("traiter")

    ack = ws.ack("10001", "mouvements novembre")
    assert (ack["statut"], ack["lignes"], ack["entrees"]) == ("accepte", 3, 3)
    found = _findings(ws, "10001", "mouvements novembre")
    assert set(found) == {"LIGNE_TOTAL_IGNOREE"}
    assert found["LIGNE_TOTAL_IGNOREE"][0]["message"].startswith("Ligne 11 (« Total 3 »), après le tableau")
    stored = dict((n, (nom, usage, cat)) for n, nom, usage, cat in
                  ws.sql("SELECT nir, nom, nom_usage, categorie FROM salaries_actuels"))
    assert stored == {nirs[0]: ("GIRAUD", "BERNARD", "SI"), nirs[1]: ("MOREAU", None, "SIR"),
                      nirs[2]: ("LAMBERT", "FAURE", "SI")}
    assert ws.sql("SELECT ligne FROM salaries_versions ORDER BY ligne") == [(5,), (7,), (9,)]


def test_a_change_of_usage_name_alone_is_a_modification_with_history(ws, rng):
    siret = ws.registry.members["10004"][0]
    nir = make_nir(rng, sex="2", year=1990, month=6)
    headers = ["Nom de naissance", "Nom d'usage", "Prénom", "N° sécurité sociale", "SIRET", "Mouvement",
               "Date d'embauche", "Contrat", "Poste de travail", "Code PCS"]
    first = ws.drop("10004", "entree.csv")
    first.write_bytes(_csv([headers, ["LEROY", "", "Julie", nir, siret, "Entrée", "01/09/2026", "CDI", "Vendeuse", "554a"]]).encode("cp1252"))
    ws.cli("traiter")
    second = ws.drop("10004", "mariage.csv")
    second.write_bytes(_csv([headers, ["LEROY", "MERCIER", "Julie", nir, siret, "Modification", "", "", "", ""]]).encode("cp1252"))
    ws.cli("traiter")
    ack = ws.ack("10004", "mariage")
    assert (ack["statut"], ack["modifications"]) == ("accepte", 1)
    assert ws.sql("SELECT nom, nom_usage, poste FROM salaries_actuels") == [("LEROY", "MERCIER", "Vendeuse")]
    history = ws.sql("SELECT mouvement, champs_modifies, json_extract(avant, '$.nom_usage'), json_extract(apres, '$.nom_usage') "
                     "FROM evenements ORDER BY id")
    assert history == [("entree", None, None, None), ("modification", "nom_usage", None, "MERCIER")]


def test_ambiguous_decorated_headers_are_reported_not_guessed(ws, rng):
    siret = ws.registry.members["10004"][0]
    nir = make_nir(rng)
    headers = ["Nom", "Prénom", "NIR", "SIRET", "Mouvement", "Date d'embauche (JJ/MM/AAAA)",
               "Date d'entrée dans l'entreprise", "Contrat", "Poste", "Code PCS", "Nom employeur"]
    path = ws.drop("10004", "deux dates.csv")
    path.write_bytes(_csv([headers, ["LEROY", "Julie", nir, siret, "Entrée", "01/09/2026", "01/01/2020", "CDI",
                                     "Vendeuse", "554a", "DUPONT SA"]]).encode("utf-8"))
    ws.cli("traiter")
    ack = ws.ack("10004", "deux dates")
    assert ack["statut"] == "rejete"
    found = _findings(ws, "10004", "deux dates")
    ambiguous = {f["colonne"]: f for f in found["COLONNE_AMBIGUE"]}
    assert set(ambiguous) == {"Date d'embauche (JJ/MM/AAAA)", "Date d'entrée dans l'entreprise"}
    assert "« Date d'embauche », comme la colonne « Date d'entrée dans l'entreprise »" in \
        ambiguous["Date d'embauche (JJ/MM/AAAA)"]["message"]
    assert ambiguous["Date d'embauche (JJ/MM/AAAA)"]["gravite"] == "avertissement"
    # neither is read: the hire date is missing, and the file says so instead of taking one at random
    assert ["Date d'embauche" in f["message"] for f in found["COLONNE_MANQUANTE"]] == [True]
    # a decorated "Nom …" never displaces the column named `Nom`
    assert [f["colonne"] for f in found["COLONNE_INCONNUE"]] == ["Nom employeur"]
    assert ws.sql("SELECT COUNT(*) FROM salaries") == [(0,)]


def test_full_staff_list_with_both_names_changes_only_the_usage_name(ws, rng):
    """A full list (no Mouvement column) from payroll software: `Nom` is the usage name beside `Nom de
    naissance`; a new usage name is the one change found, versioned, and the birth name is left as it was."""
    siret = ws.registry.members["10003"][0]
    nirs = [make_nir(rng, sex="2", year=1984, month=3), make_nir(rng, sex="1", year=1979, month=10)]
    entries = ["Nom de naissance", "Prénom", "N° sécurité sociale", "SIRET", "Mouvement", "Date d'embauche",
               "Contrat", "Poste de travail", "Code PCS"]
    first = ws.drop("PAIE01", "entrees.csv")
    first.write_bytes(_csv([entries, ["ROBIN", "Anne", nirs[0], siret, "Entrée", "01/03/2025", "CDI", "Vendeuse", "554a"],
                            ["GARNIER", "Marc", nirs[1], siret, "Entrée", "01/03/2025", "CDI", "Magasinier", "676a"]]).encode("cp1252"))
    ws.cli("traiter")
    headers = ["Nom", "Nom de naissance", "Prénom", "N° de sécurité sociale (NIR)", "SIRET établissement employeur",
               "Date d'entrée dans l'entreprise", "Nature du contrat", "Emploi occupé", "Code PCS-ESE", "Date de la liste"]
    listing = ws.drop("PAIE01", "liste au 30 novembre.csv")
    listing.write_bytes(_csv([
        ["Effectif au 30/11/2026"], headers,
        ["FONTAINE", "ROBIN", "Anne", nirs[0], siret, "01/03/2025", "CDI", "Vendeuse", "554a", "30/11/2026"],
        ["GARNIER", "GARNIER", "Marc", nirs[1], siret, "01/03/2025", "CDI", "Magasinier", "676a", "30/11/2026"],
        ["Effectif total : 2"]]).encode("utf-8-sig"))
    ws.cli("traiter")
    ack = ws.ack("PAIE01", "liste au 30 novembre")
    assert (ack["statut"], ack["modifications"], ack["sorties"]) == ("accepte", 1, 0)
    found = _findings(ws, "PAIE01", "liste au 30 novembre")
    changed = [f for f in found["LISTE_MODIFICATION"] if f["ligne"] == "3"]
    assert len(changed) == 1 and "Nom d'usage" in changed[0]["message"] and "Nom de naissance" not in changed[0]["message"]
    assert found["LIGNE_TOTAL_IGNOREE"][0]["message"].startswith("Ligne 5 (« Effectif total : 2 »)")
    assert dict((n, (nom, usage)) for n, nom, usage in ws.sql("SELECT nir, nom, nom_usage FROM salaries_actuels")) == {
        nirs[0]: ("ROBIN", "FONTAINE"), nirs[1]: ("GARNIER", None)}  # a usage name equal to the birth name: none
    history = ws.sql("SELECT e.champs_modifies FROM evenements e WHERE e.nir=? ORDER BY e.id", nirs[0])
    assert history == [(None,), ("nom_usage",)]
