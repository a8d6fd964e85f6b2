"""Values round-trip (issue 11): what the product writes for a sender to edit and send back reads back as the
value it was. The correction workbook holds a value starting with =, +, -, @ as itself, in a string cell with
the quote-prefix style (never a formula, no apostrophe added); a protective apostrophe (the one formats.safe_cell
adds, or an earlier workbook's) is stripped on reading any file, CSV or XLSX."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from amsn_batch.formats import safe_cell, unprotect, unprotect_columns
from tests.acks import ack_path
from tests.factories import MOVEMENT_HEADERS, write_csv, write_xlsx
from tests.report_data import COMMENTAIRE, PCS, POSTE, generate

FORMULA_LIKE = ["-Vendeuse", "+33 6 12 34 56 78", "=SOMME(A1:A3)", "@accueil"]


def stored(ws, nir: str) -> tuple[str, str]:
    return ws.sql("SELECT poste, commentaire FROM salaries_actuels WHERE nir=?", nir)[0]


def sheet_xml(book: Path) -> dict[str, str]:
    with zipfile.ZipFile(book) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")}


def test_unprotect_strips_only_the_protective_apostrophe():
    for value in FORMULA_LIKE + ["\tx", "\rx"]:
        assert unprotect(safe_cell(value)) == value
    for kept in ["'Bonjour", "l'atelier", "Vendeuse", "", "'", "' =1", "x'=1", "''=1"]:  # not safe_cell's
        assert unprotect(kept) == kept

    frame = pd.DataFrame({"a": ["'-Vendeuse", "x", "l'atelier"], "b": ["1", "2", "3"], "c": ["'Bonjour", "'@x", ""]})
    unprotect_columns(frame)
    assert frame.to_dict("list") == {"a": ["-Vendeuse", "x", "l'atelier"], "b": ["1", "2", "3"], "c": ["'Bonjour", "@x", ""]}


def test_workbook_corrected_in_a_spreadsheet_stores_the_values_themselves(ws):
    sirets = ws.registry.members["10001"]
    g = generate(sirets, 8, {"pcs": 4}, seed=21)
    refused = sorted(g.mistakes)
    for i, value in zip(refused, FORMULA_LIKE):
        g.rows[i][POSTE] = "-Vendeuse"
        g.rows[i][COMMENTAIRE] = value
    write_csv(ws.drop("10001", "magasin.csv"), g.headers, g.rows)
    ws.cli("traiter")
    book = ack_path(ws.outbox / "10001", "magasin", "rejets.xlsx")

    # Opening the workbook never runs anything: no formula in any sheet, and the values are the sender's own.
    xml = sheet_xml(book)
    assert not any(re.search(r"<f[ >]", text) for name, text in xml.items() if name.startswith("xl/worksheets/"))
    # the strings of the workbook: shared ones (header, notice), inline ones in the data sheet (the refused rows)
    strings = xml["xl/sharedStrings.xml"] + xml["xl/worksheets/sheet1.xml"]
    for value in ("-Vendeuse", "+33 6 12 34 56 78", "=SOMME(A1:A3)", "@accueil"):
        assert f">{value}<" in strings and f">'{value}<" not in strings
    assert 'quotePrefix="1"' in xml["xl/styles.xml"]

    # Corrected the way a person does in a spreadsheet: the highlighted PCS cells retyped, saved, sent back.
    wb = load_workbook(book)
    sheet = wb.worksheets[0]
    headers = [c.value for c in sheet[1]]
    poste, commentaire, pcs = (headers.index(MOVEMENT_HEADERS[c]) + 1 for c in (POSTE, COMMENTAIRE, PCS))
    for r in range(2, sheet.max_row + 1):
        assert sheet.cell(r, poste).value == "-Vendeuse" and sheet.cell(r, poste).data_type == "s"
        assert sheet.cell(r, poste).quotePrefix and sheet.cell(r, commentaire).quotePrefix
        sheet.cell(r, pcs).value = "552a"
    dropped = ws.drop("10001", book.name)
    wb.save(dropped)
    ws.cli("traiter")
    ack = ws.ack("10001", "magasin.rejets")
    assert (ack["statut"], ack["lignes_acceptees"]) == ("accepte", 4)
    for i, value in zip(refused, FORMULA_LIKE):
        assert stored(ws, g.good_nirs[i]) == ("-Vendeuse", value)


@pytest.mark.parametrize("write", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_a_protective_apostrophe_is_not_kept(ws, write):
    """A file holding the apostrophe the product once added (an earlier correction workbook, or a CSV export
    protected the OWASP way) stores the value without it; any other apostrophe is the sender's and stays."""
    g = generate(ws.registry.members["10001"], 5, seed=22)
    values = [("'-Vendeuse", "'+33 6 12 34 56 78"), ("'=Caissière", "'@accueil"), ("l'atelier", "'Bonjour"),
              ("Vendeuse'", "Poste '-' mixte"), ("Vendeuse", "''-deux")]
    for row, (job, comment) in zip(g.rows, values):
        row[POSTE], row[COMMENTAIRE] = job, comment
    write(ws.drop("10001", f"apostrophes.{'csv' if write is write_csv else 'xlsx'}"), g.headers, g.rows)
    ws.cli("traiter")
    assert ws.ack("10001", "apostrophes")["statut"] == "accepte"
    expected = [("-Vendeuse", "+33 6 12 34 56 78"), ("=Caissière", "@accueil"), ("l'atelier", "'Bonjour"),
                ("Vendeuse'", "Poste '-' mixte"), ("Vendeuse", "''-deux")]
    assert [stored(ws, g.good_nirs[i]) for i in range(5)] == expected
