"""The correction workbook opened in a real LibreOffice (issue 11: "the workbook opened in LibreOffice"),
headless (tests/libreoffice.py): the reasons are the first column, each data row keeps the height written for its
text (LibreOffice does not fit wrapped rows by itself: without it the lines overlap), the drop-down lists
survive, a value starting with - or = is text, never a formula; and a workbook saved again by LibreOffice (as a person does after correcting it) reads back with the values
themselves, no apostrophe."""

from __future__ import annotations

import math

import shutil

from openpyxl import load_workbook

from amsn_batch.reports.rejects import LINE_HEIGHT
from tests.acks import ack_path
from tests.factories import MOVEMENT_HEADERS, write_csv
from tests.libreoffice import NS, cell_text, cm, convert, ods_parts, rows_of
from tests.report_data import COMMENTAIRE, NIR, NOM, POSTE, PRENOM, generate


def test_correction_workbook_as_libreoffice_reads_it(ws, tmp_path):
    g = generate(ws.registry.members["10001"], 8, {"pcs": 3, "nir_cle": 1}, seed=31)
    for i in sorted(g.mistakes):
        g.rows[i][POSTE], g.rows[i][COMMENTAIRE] = "-Vendeuse", "=SOMME(A1:A3)"
    write_csv(ws.drop("10001", "magasin.csv"), g.headers, g.rows)
    ws.cli("traiter")
    book = ack_path(ws.outbox / "10001", "magasin", "rejets.xlsx")

    content, _ = ods_parts(convert(book, "ods", tmp_path / "ods"))
    sheet = content.find(".//table:table", NS)
    rows = rows_of(sheet)
    header = [cell_text(c) for c in rows[0][1]]
    assert header[0] == "Motifs du refus"
    assert header[1:4] == [MOVEMENT_HEADERS[k] for k in (NOM, PRENOM, NIR)]

    styles = {s.get(f"{{{NS['style']}}}name"): s for s in content.iter(f"{{{NS['style']}}}style")}
    data = [(r, cells) for r, cells in rows[1:] if cell_text(cells[0])]
    assert len(data) == len(g.mistakes)
    poste = header.index(MOVEMENT_HEADERS[POSTE])
    commentaire = header.index(MOVEMENT_HEADERS[COMMENTAIRE])
    for row, cells in data:
        props = styles[row.get(f"{{{NS['table']}}}style-name")].find("style:table-row-properties", NS)
        height = cm(props.get(f"{{{NS['style']}}}row-height"))
        # the reasons column is about 50 characters wide: a paragraph of n characters takes at least n / 60 lines
        reason_lines = sum(max(1, math.ceil(len(p) / 60)) for p in cell_text(cells[0]).splitlines())
        assert reason_lines >= 2  # several reasons, or a long one: a default row height would cut them
        # the height written for the text, kept by LibreOffice: at least one line of 11-point text per line
        assert height >= reason_lines * LINE_HEIGHT * 2.54 / 72 * 0.95, (height, reason_lines)
        for col, value in ((poste, "-Vendeuse"), (commentaire, "=SOMME(A1:A3)")):
            assert cell_text(cells[col]) == value
            assert cells[col].get(f"{{{NS['office']}}}value-type") == "string"
            assert cells[col].get(f"{{{NS['table']}}}formula") is None

    # the drop-down lists survive (frozen panes are a view setting, which a headless conversion does not keep:
    # test_rejects_workbook checks them in the file)
    assert content.find(".//table:content-validation", NS) is not None

    # saved again by LibreOffice, as after a correction: the values are themselves, never an apostrophe or a formula
    resaved = convert(book, "xlsx:Calc MS Excel 2007 XML", tmp_path / "xlsx")
    wb = load_workbook(resaved)
    first = wb.worksheets[0]
    heads = [c.value for c in first[1]]
    col = heads.index(MOVEMENT_HEADERS[POSTE]) + 1
    values = {first.cell(r, col).value for r in range(2, first.max_row + 1)} - {None}
    assert values == {"-Vendeuse"}
    dropped = ws.drop("10001", "magasin-libreoffice.xlsx")
    shutil.copy(resaved, dropped)
    ws.cli("traiter")
    ack = ws.ack("10001", "magasin-libreoffice")
    assert ack["lignes"] == len(g.mistakes)
    assert all(f["valeur"] != "'-Vendeuse" for f in ack["constats"])
