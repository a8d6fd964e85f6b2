"""The sender templates: a workbook filled in as it asks (and the CSV variant) passes the checks."""

from __future__ import annotations

import csv
import random

from openpyxl import load_workbook

from amsn_batch.rules import values
from amsn_batch.reports.template import contract_choices
from tests.factories import make_nir


def test_xlsx_template_filled_in_is_accepted(ws, tmp_path):
    ws.cli("modele", "effectifs", "--sortie", str(tmp_path))
    wb = load_workbook(tmp_path / "modele-effectifs.xlsx")
    assert wb.sheetnames == ["Notice", "Salariés", "Listes"]
    sheet = wb["Salariés"]
    headers = [c.value for c in sheet[1]]
    assert headers[:4] == ["Nom de naissance", "Nom d'usage", "Prénom", "N° sécurité sociale"] and "Habilitation électrique" in headers
    col = {h: i + 1 for i, h in enumerate(headers)}
    assert sheet.cell(row=2, column=col["N° sécurité sociale"]).number_format == "@"
    assert sheet.cell(row=50, column=col["SIRET"]).number_format == "@"
    assert sheet.cell(row=2, column=col["Date d'embauche"]).number_format == "DD/MM/YYYY"
    lists = {next(iter(dv.sqref.ranges)).coord.split(":")[0][:-1]: dv.formula1 for dv in sheet.data_validations.dataValidation}
    letter = lambda h: sheet.cell(row=1, column=col[h]).column_letter  # noqa: E731
    assert "Listes" in lists[letter("Contrat")] and "Listes" in lists[letter("Catégorie déclarée")]
    assert "Listes" in lists[letter("Mouvement")] and "Listes" in lists[letter("Code PCS")]
    notice = " ".join(str(c.value) for row in wb["Notice"].iter_rows() for c in row if c.value)
    assert "mode d'emploi" in notice and "15 caractères" in notice

    rng = random.Random(9)
    siret = ws.registry.members["10001"][0]
    people = [("MARTIN", "Élodie", "CDI", "SI", {}), ("DURAND", "Paul", "CDD", "SIH", {"Habilitation électrique": "Oui"}),
              ("PETIT", "Léa", "Intérim", "SIR", {"CMR": "Oui"})]
    import datetime as dt

    for r, (name, first, contract, cat, dets) in enumerate(people, start=2):
        cells = {"Nom de naissance": name, "Prénom": first, "N° sécurité sociale": make_nir(rng, year=1980),
                 "SIRET": siret, "Mouvement": "Entrée", "Date d'embauche": dt.date(2026, 10, r), "Contrat": contract,
                 "Poste de travail": "Employé", "Code PCS": "552a", "Salarié multi-employeurs": "Non",
                 "Catégorie déclarée": cat, **dets}
        for h, v in cells.items():
            sheet.cell(row=r, column=col[h], value=v)
    wb.save(ws.drop("10001", "modele rempli.xlsx"))
    ws.cli("traiter")
    ack = ws.ack("10001", "modele rempli")
    assert ack["statut"] == "accepte" and ack["entrees"] == 3
    assert ws.ack_rows("10001", "modele rempli") == []
    assert dict(ws.sql("SELECT nom, categorie FROM salaries_actuels")) == {"MARTIN": "SI", "DURAND": "SIH", "PETIT": "SIR"}


def test_every_drop_down_value_is_understood():
    for label in contract_choices():
        codes, _, unknown = values.lookup(__import__("pandas").Series([label], dtype="str"), "contrats.toml")
        assert not unknown[0] and codes[0], label
    assert len(set(contract_choices())) == len(contract_choices())


def test_csv_template_filled_in_is_accepted(ws, tmp_path):
    ws.cli("modele", "effectifs", "--sortie", str(tmp_path))
    raw = (tmp_path / "modele-effectifs.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    headers = next(csv.reader([raw.decode("utf-8-sig").splitlines()[0]], delimiter=";"))
    row = dict.fromkeys(headers, "")
    row.update({"Nom de naissance": "BLANC", "Prénom": "Théo", "N° sécurité sociale": make_nir(random.Random(2)),
                "SIRET": ws.registry.members["10001"][0], "Mouvement": "Entrée", "Date d'embauche": "02/11/2026",
                "Contrat": "CDI", "Poste de travail": "Cariste", "Code PCS": "652a", "Catégorie déclarée": "SI"})
    with open(ws.drop("10001", "modele.csv"), "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(headers)
        w.writerow([row[h] for h in headers])
    ws.cli("traiter")
    assert ws.ack("10001", "modele")["statut"] == "accepte" and ws.ack_rows("10001", "modele") == []
