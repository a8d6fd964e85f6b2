"""The correction workbook <nom>.rejets.xlsx: the refused rows as sent, the reasons, the faulty cells marked;
reopened with openpyxl, fixed the way a person would, dropped back into the inbox as it is, and accepted."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook

from amsn_batch.cli import CLOCK_ENV
from tests.conftest import make_workspace
from tests.factories import MOVEMENT_HEADERS, write_csv, write_xlsx
from tests.report_data import FIXES, MISTAKES, NIR, NOM, drop_without_column, generate
from tests.acks import ack_path, ack_paths

REASONS = "Motifs du refus"
BAD_FILL = "FFC7CE"


def read_book(path: Path):
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return wb, ws, rows[0], rows[1:]


def highlighted(ws, row: int, ncols: int) -> list[int]:
    """0-based columns of the highlighted cells of a worksheet row (1-based)."""
    return [c for c in range(ncols) if (ws.cell(row, c + 1).fill.fgColor.rgb or "").endswith(BAD_FILL)]


def fix_like_a_person(path: Path, good_nir_by_name: dict[str, str], good_siret: str) -> int:
    """Open the workbook, correct every highlighted cell from what the reason says, save it. Returns rows fixed."""
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    fixed = 0
    for r in range(2, ws.max_row + 1):
        name = ws.cell(r, headers.index("Nom de naissance") + 1).value
        for c in highlighted(ws, r, len(headers)):
            header = headers[c]
            cell = ws.cell(r, c + 1)
            if header == "N° sécurité sociale":
                cell.value = good_nir_by_name[name]  # typed in a Text cell: stays text
            elif header == "SIRET":
                cell.value = good_siret
            else:
                cell.value = FIXES[MOVEMENT_HEADERS.index(header)]
            fixed += 1
    wb.save(path)
    return fixed


def test_workbook_holds_the_refused_rows_as_sent(ws):
    g = generate(ws.registry.members["10001"], 120, {"nir_cle": 9, "date": 7, "pcs": 5, "contrat": 3, "siret": 2, "nir_excel": 2})
    refused_rows = sorted(g.mistakes)
    formulas = ["=HYPERLINK(\"http://exemple.invalid\",\"clic\")", "+33 6 12 34 56 78", "-10 % temps partiel", "@SOMME(A1)"]
    for i, text in zip(refused_rows, formulas):
        g.rows[i][13] = text
    write_csv(ws.drop("10001", "embauches.csv"), g.headers, g.rows)
    ws.cli("traiter")
    path = ack_path(ws.outbox / "10001", "embauches", "rejets.xlsx")
    wb, sheet, headers, rows = read_book(path)
    assert wb.sheetnames == ["Lignes refusées", "Mode d'emploi", "Listes"]
    assert headers == [REASONS] + MOVEMENT_HEADERS  # issue 11: the reasons first
    assert len(rows) == g.refused == ws.ack("10001", "embauches")["lignes_rejetees"]

    for k, i in enumerate(refused_rows):
        sent = ["" if v is None else str(v) for v in g.rows[i]]
        got = ["" if v is None else v for v in rows[k][1:]]
        assert got == sent  # issue 11: the values themselves, no apostrophe added...
        for c, v in enumerate(sent):  # ...a formula-like one in a string cell with the quote-prefix style
            cell = sheet.cell(k + 2, c + 2)
            assert cell.data_type == "s" if v else cell.value is None
            assert bool(cell.quotePrefix) == (v[:1] in ("=", "+", "-", "@"))
        line = i + 2  # header on line 1
        reasons = rows[k][0]
        assert reasons.startswith(f"Ligne {line} du fichier envoyé.")
        col, _, code = MISTAKES[g.mistakes[i]]
        assert f"• {MOVEMENT_HEADERS[col]} : " in reasons
        # The faulty cell, and only it, is highlighted, with the reason as a comment.
        assert highlighted(sheet, k + 2, len(headers)) == [col + 1]
        assert sheet.cell(k + 2, col + 2).comment is not None
        nir_cell = sheet.cell(k + 2, NIR + 2)
        assert nir_cell.number_format == "@" and nir_cell.data_type == "s"
    assert sheet.column_dimensions["D"].number_format == "@"  # new rows typed in the column stay text
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    notice = " ".join(str(c.value or "") for c in wb["Mode d'emploi"]["A"])
    assert "embauches.csv" in notice and "ignorée à la lecture" in notice


def test_fixed_workbook_dropped_back_is_accepted(ws):
    sirets = ws.registry.members["10001"]
    g = generate(sirets, 200, {"nir_cle": 20, "date": 10, "pcs": 6, "contrat": 4, "siret": 3, "nir_excel": 3})
    write_csv(ws.drop("10001", "novembre.csv"), g.headers, g.rows)
    ws.cli("traiter")
    assert ws.ack("10001", "novembre")["lignes_acceptees"] == 200 - 46
    book = ack_path(ws.outbox / "10001", "novembre", "rejets.xlsx")

    dropped = ws.drop("10001", book.name)
    dropped.write_bytes(book.read_bytes())
    names = {row[0]: g.good_nirs[i] for i, row in enumerate(g.rows)}
    assert fix_like_a_person(dropped, names, sirets[0]) == 46
    ws.cli("traiter")
    ack = ws.ack("10001", "novembre.rejets")
    assert (ack["statut"], ack["lignes"], ack["lignes_acceptees"], ack["avertissements"]) == ("accepte", 46, 46, 0)
    assert ws.ack_rows("10001", "novembre.rejets") == []  # the reasons column is ignored, not even a warning
    assert ws.sql("SELECT COUNT(*) FROM salaries WHERE adherent='10001' AND present=1") == [(200,)]
    assert not ack_path(ws.outbox / "10001", "novembre.rejets", "rejets.xlsx").exists()


def test_xlsx_with_title_and_dates_round_trip(ws):
    import datetime as dt

    g = generate(ws.registry.members["10001"], 30, {"pcs": 3, "nir_cle": 2})
    rows = [r[:] for r in g.rows]
    for r in rows:
        d, m, y = (int(x) for x in r[6].split("/"))
        r[6] = dt.datetime(y, m, d)  # a real Excel date
    write_xlsx(ws.drop("10001", "export-paie.xlsx"), g.headers, rows, title=["Export paie – novembre 2026", ""])
    ws.cli("traiter")
    book = ack_path(ws.outbox / "10001", "export-paie", "rejets.xlsx")
    _, _, headers, wrows = read_book(book)
    assert headers[1:] == MOVEMENT_HEADERS
    first = sorted(g.mistakes)[0]
    assert wrows[0][7] == g.rows[first][6]  # the date as the sender sees it, JJ/MM/AAAA
    assert wrows[0][0].startswith(f"Ligne {first + 4} du fichier envoyé.")  # title, blank line, header above
    dropped = ws.drop("10001", "export-paie.rejets.xlsx")
    dropped.write_bytes(book.read_bytes())
    fix_like_a_person(dropped, {r[0]: g.good_nirs[i] for i, r in enumerate(g.rows)}, "")
    ws.cli("traiter")
    assert ws.ack("10001", "export-paie.rejets")["statut"] == "accepte"


def test_whole_file_refused_then_completed_in_the_workbook(ws):
    headers = drop_without_column(ws, "sans-pcs.csv", "Code PCS")
    book = ack_path(ws.outbox / "10001", "sans-pcs", "rejets.xlsx")
    wb, _, wheaders, wrows = read_book(book)
    assert wheaders == [REASONS] + headers and len(wrows) == 12
    assert all("Fichier entier : La colonne obligatoire « Code PCS » est absente" in r[0] for r in wrows)
    notice = " ".join(str(c.value or "") for c in wb["Mode d'emploi"]["A"])
    assert "Il manque la colonne « Code PCS » : ajoutez-la" in notice
    assert "surlignées" not in notice  # issue 11: no cell to correct is highlighted, none is said to be

    dropped = ws.drop("10001", book.name)
    dropped.write_bytes(book.read_bytes())
    wb = load_workbook(dropped)
    sheet = wb.worksheets[0]
    new = len(headers) + 2  # the person adds the missing column after the last one
    sheet.cell(1, new).value = "Code PCS"
    for r in range(2, 14):
        sheet.cell(r, new).value = "552a"
    wb.save(dropped)
    ws.cli("traiter")
    ack = ws.ack("10001", "sans-pcs.rejets")
    assert (ack["statut"], ack["lignes_acceptees"]) == ("accepte", 12)


def test_mandate_refusal_explains_every_row(ws):
    """A mandataire sends rows for an adhérent it has no mandate for: the whole file is refused, and each row
    of the workbook says why, including the rows that were right."""
    sirets = ws.registry.members["10002"] + ws.registry.members["10001"][:1]
    g = generate(sirets, 6)
    write_csv(ws.drop("PAIE01", "paie.csv"), g.headers, g.rows, encoding="utf-8", bom=True)
    ws.cli("traiter")
    _, _, _, wrows = read_book(ack_path(ws.outbox / "PAIE01", "paie", "rejets.xlsx"))
    assert len(wrows) == 6
    for i, r in enumerate(wrows):
        assert "Pas de mandat pour cet adhérent" in r[0]
        if g.rows[i][4] == ws.registry.members["10001"][0]:
            assert "• SIRET : Le SIRET" in r[0]


def test_same_name_accepted_later_keeps_the_first_workbook(ws):
    """The answer to the second file has no workbook; the first file's workbook is its own and stays
    (issue 10: a later file never deletes an earlier answer)."""
    g = generate(ws.registry.members["10001"], 5, {"date": 1})
    write_csv(ws.drop("10001", "mensuel.csv"), g.headers, g.rows)
    ws.cli("traiter")
    first = ack_path(ws.outbox / "10001", "mensuel", "rejets.xlsx")
    assert first.is_file()
    g2 = generate(ws.registry.members["10001"], 5, seed=99)
    write_csv(ws.drop("10001", "mensuel.csv"), g2.headers, g2.rows)
    ws.cli("traiter")
    assert ws.ack("10001", "mensuel")["statut"] == "accepte"
    second = ack_path(ws.outbox / "10001", "mensuel", "ar.json")
    assert not second.with_name(second.name.replace(".ar.json", ".rejets.xlsx")).exists()
    assert ack_paths(ws.outbox / "10001", "mensuel", "rejets.xlsx") == [first]


def test_workbook_sent_back_still_wrong_gets_fresh_reasons(ws):
    g = generate(ws.registry.members["10001"], 10, {"pcs": 2, "date": 2})
    write_csv(ws.drop("10001", "lot.csv"), g.headers, g.rows)
    ws.cli("traiter")
    book = ack_path(ws.outbox / "10001", "lot", "rejets.xlsx")
    dropped = ws.drop("10001", book.name)
    dropped.write_bytes(book.read_bytes())  # sent back without fixing anything
    ws.cli("traiter")
    ack = ws.ack("10001", "lot.rejets")
    assert (ack["lignes"], ack["lignes_rejetees"], ack["avertissements"]) == (4, 4, 0)
    _, _, headers, rows = read_book(ack_path(ws.outbox / "10001", "lot.rejets", "rejets.xlsx"))
    assert headers.count(REASONS) == 1 and headers == [REASONS] + MOVEMENT_HEADERS
    assert all(r[0].startswith(f"Ligne {k + 2} du fichier envoyé.") for k, r in enumerate(rows))


def test_too_many_refused_rows_for_a_workbook(tmp_path):
    w = make_workspace(tmp_path / "ws", extra_config="\n[limites]\nlignes_classeur_rejets = 5\n")
    reg, mand = w.registry.write(tmp_path / "registre")
    w.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    g = generate(w.registry.members["10001"], 20, {"date": 8})
    write_csv(w.drop("10001", "gros.csv"), g.headers, g.rows)
    w.cli("traiter")
    assert not ack_path(w.outbox / "10001", "gros", "rejets.xlsx").exists()
    html = ack_path(w.outbox / "10001", "gros", "ar.html").read_text(encoding="utf-8")
    assert "Trop de lignes refusées (8)" in html



def test_workbook_layout_and_every_cell_is_text(ws):
    """What the sender sees on opening the workbook: the reasons first, header, panes on the identity columns,
    filter, print setup, the template's drop-down lists, identifier columns as text, comments on the faulty
    cells, row heights that show every line of the reasons; and every cell a string, read back by openpyxl and
    by calamine (what the inbox reads it with)."""
    from python_calamine import CalamineWorkbook

    from amsn_batch.reports.rejects import HEADER_FILL, LINE_HEIGHT, LISTS_SHEET, NOTICE_SHEET, SHEET
    from amsn_batch.reports.template import drop_down_lists

    g = generate(ws.registry.members["10001"], 40, {"nir_cle": 3, "siret": 2, "date": 2, "pcs": 1})
    refused = sorted(g.mistakes)
    g.rows[refused[0]][13] = "bip\x07 fin"  # a control character XML cannot hold
    g.rows[refused[1]][13] = "0123"  # looks like a number: stays the sender's text
    g.rows[refused[2]][13] = "=1+1"
    write_csv(ws.drop("10001", "mise-en-page.csv"), g.headers, g.rows)
    ws.cli("traiter")
    path = ack_path(ws.outbox / "10001", "mise-en-page", "rejets.xlsx")
    n = len(refused)

    wb = load_workbook(path)
    assert wb.properties.creator == "amsn-batch" and wb.properties.title == "Lignes refusées – mise-en-page.csv"
    sheet = wb[SHEET]
    assert all(c.font.b and c.fill.fgColor.rgb.endswith(HEADER_FILL) for c in sheet[1])
    assert sheet.freeze_panes == "E2"  # issue 11: reasons, name, first name and NIR stay in view
    assert sheet.auto_filter.ref == f"A1:O{n + 1}"
    assert sheet.print_title_rows == "$1:$1"
    setup = sheet.page_setup
    fit_width = 1 if setup.fitToWidth is None else setup.fitToWidth  # 1 is the default, may be left out
    assert (setup.orientation, str(setup.paperSize), fit_width, setup.fitToHeight) == ("landscape", "9", 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # issue 11: the sender template's lists (in its « Listes » sheet), on Mouvement, Contrat, PCS, multi-employeur
    # and Catégorie, strict where the template is strict.
    lists = {str(dv.sqref): (dv.type, dv.formula1, dv.allow_blank, dv.showErrorMessage) for dv in sheet.data_validations.dataValidation}
    end = n + 501
    assert lists == {f"G2:G{end}": ("list", "'Listes'!$A$2:$A$4", True, True),
                     f"J2:J{end}": ("list", f"'Listes'!$B$2:$B${len(drop_down_lists()['Contrat']) + 1}", True, False),
                     f"L2:L{end}": ("list", f"'Listes'!$E$2:$E${len(drop_down_lists()['Code PCS-ESE']) + 1}", True, False),
                     f"M2:M{end}": ("list", "'Listes'!$D$2:$D$3", True, False),
                     f"N2:N{end}": ("list", "'Listes'!$C$2:$C$5", True, True)}
    listed = wb[LISTS_SHEET]
    for j, (name, items) in enumerate(drop_down_lists().items(), start=1):
        assert [c.value for c in listed[listed.cell(1, j).column_letter] if c.value is not None] == [f"Liste « {name} »", *items]
    for letter in "DF":  # N° sécurité sociale, SIRET
        assert sheet.column_dimensions[letter].number_format == "@"
        assert all(c.number_format == "@" for c in sheet[letter][1:])
    assert round(sheet.column_dimensions["A"].width) in (50, 51)
    assert all(c.alignment.wrap_text and c.alignment.vertical == "top" for c in sheet["A"][1:])
    for k in range(n):  # every line of the reasons has room, in a spreadsheet that does not fit rows itself
        reasons = sheet.cell(k + 2, 1).value
        needed = sum(-(-len(part) // 48) or 1 for part in reasons.split("\n"))
        assert sheet.row_dimensions[k + 2].height >= needed * LINE_HEIGHT and sheet.row_dimensions[k + 2].customHeight

    for k, i in enumerate(refused):
        col = MISTAKES[g.mistakes[i]][0]
        cell = sheet.cell(k + 2, col + 2)
        assert cell.font.b and cell.font.color.rgb.endswith("9C0006") and cell.border.left.style == "thin"
        assert cell.comment is not None and cell.comment.author == "amsn-batch"
        assert cell.comment.text.strip() and cell.comment.text in sheet.cell(k + 2, 1).value
        assert sheet.cell(k + 2, 9).value is None  # Date de sortie: empty in the file, empty here
    # The control character is a refusal of its own: that cell is marked too, the character already gone.
    assert "caractère de contrôle" in sheet.cell(2, 15).comment.text
    comments = [c for row in sheet.iter_rows() for c in row if c.comment is not None]
    assert len(comments) == n + 1
    # issue 11: the formula-like value as it was, in a string cell with the quote-prefix style (no apostrophe)
    assert [sheet.cell(k + 2, 15).value for k in range(3)] == ["bip fin", "0123", "=1+1"]
    assert [bool(sheet.cell(k + 2, 15).quotePrefix) for k in range(3)] == [False, False, True]

    notice = wb[NOTICE_SHEET]
    assert notice["A1"].font.b and notice["A1"].font.sz == 14 and "mise-en-page.csv" in notice["A1"].value
    assert round(notice.column_dimensions["A"].width) in (110, 111)
    assert all(c.alignment.wrap_text for c in notice["A"][1:])

    book = CalamineWorkbook.from_path(str(path))
    for name in (SHEET, NOTICE_SHEET):
        values = [v for row in book.get_sheet_by_name(name).to_python() for v in row]
        assert all(isinstance(v, str) for v in values), [v for v in values if not isinstance(v, str)]
    rows = book.get_sheet_by_name(SHEET).to_python()
    assert [r[14] for r in rows[1:4]] == ["bip fin", "0123", "=1+1"]
    assert rows[1][3] == g.rows[refused[0]][2]  # the NIR as sent, all its digits


def _refusals(tmp_path: Path, n: int, *, column: str = "Code PCS"):
    """A file of n rows, each with a blocking finding on `column` (as the rules would report it)."""
    from amsn_batch.vocab import BLOCKING

    g = generate(["73249128700017"], n, seed=5)
    source = write_csv(tmp_path / "lot.csv", g.headers, g.rows)
    findings = [{"ligne": i + 2, "colonne": column, "message": "« 5521 » n'est pas un code PCS-ESE.",
                 "gravite": BLOCKING, "code": "PCS_FORMAT"} for i in range(n)]
    return source, findings


def test_comments_stop_at_the_limit_but_every_faulty_cell_is_marked(tmp_path):
    from amsn_batch.reports.rejects import MAX_COMMENTS, write_rejects

    n = MAX_COMMENTS + 30
    source, findings = _refusals(tmp_path, n)
    out = write_rejects(tmp_path / "out", "lot", source, "accepte_partiellement", findings)
    assert out.rows == n
    wb = load_workbook(out.path)
    sheet = wb.worksheets[0]
    pcs = MOVEMENT_HEADERS.index("Code PCS") + 2
    cells = [sheet.cell(r, pcs) for r in range(2, n + 2)]
    assert all(c.fill.fgColor.rgb.endswith(BAD_FILL) for c in cells)
    assert sum(c.comment is not None for c in cells) == MAX_COMMENTS
    assert all("n'est pas un code PCS-ESE" in sheet.cell(r, 1).value for r in range(2, n + 2))


def test_a_failed_write_leaves_the_previous_workbook_whole(tmp_path):
    import pytest

    from amsn_batch.reports.rejects import write_rejects

    source, findings = _refusals(tmp_path, 3)
    outdir = tmp_path / "out"
    outdir.mkdir()
    target = outdir / "lot.rejets.xlsx"
    target.write_bytes(b"previous workbook")
    (outdir / ".lot.rejets.xlsx.tmp").mkdir()  # the temporary name cannot be written: close() fails
    with pytest.raises(Exception):
        write_rejects(outdir, "lot", source, "accepte_partiellement", findings)
    assert target.read_bytes() == b"previous workbook"
    assert sorted(p.name for p in outdir.iterdir()) == [".lot.rejets.xlsx.tmp", "lot.rejets.xlsx"]


def _workbook_cells(path: Path) -> dict:
    wb = load_workbook(path)
    out = {}
    for sheet in wb.worksheets:
        out[sheet.title] = [[(c.value, c.number_format, c.fill.fgColor.rgb, c.comment.text if c.comment else None)
                             for c in row] for row in sheet.iter_rows()]
    return out


RECEIVED = "2026-09-21T10:15:00"  # the service's clock of both runs


def _two_runs(tmp_path, n_rows: int, mistakes: dict, env: dict | None = None):
    """The same file through a workspace writing the workbook itself and one handing it to a second process."""
    from tests.conftest import make_workspace

    out = []
    for name, extra in (("soi", ""), ("parallele", "\n[limites]\nclasseur_rejets_en_parallele = 1\n")):
        w = make_workspace(tmp_path / name, extra_config=extra)
        reg, mand = w.registry.write(tmp_path / f"registre-{name}")
        w.cli("adherents", "importer", str(reg), "--mandats", str(mand))
        g = generate(w.registry.members["10001"], n_rows, mistakes)
        write_csv(w.drop("10001", "gros.csv"), g.headers, g.rows)
        clock = {CLOCK_ENV: RECEIVED}  # the workbook's title says when the file was received: the same for both
        out.append((w, w.cli("traiter", env={**clock, **(env or {})} if name == "parallele" else clock), g))
    return out


def test_a_big_files_workbook_written_by_a_second_process_is_the_same(tmp_path):
    (own, _, g), (par, proc, _) = _two_runs(tmp_path, 300, {"nir_cle": 40, "date": 30, "pcs": 20, "siret": 10})
    assert "classeur_rejets" not in proc.stderr  # the second process did it
    a, b = ack_path(own.outbox / "10001", "gros", "rejets.xlsx"), ack_path(par.outbox / "10001", "gros", "rejets.xlsx")
    assert _workbook_cells(a) == _workbook_cells(b)
    assert len(_workbook_cells(b)["Lignes refusées"]) == g.refused + 1
    assert [p.name for p in (par.root / "travail").rglob("*") if p.name != ".verrou"] == []  # plan file gone


def test_a_failed_second_process_leaves_the_run_to_write_the_workbook(tmp_path):
    from amsn_batch.faults import ENV

    (own, _, _), (par, proc, _) = _two_runs(tmp_path, 120, {"nir_cle": 9, "contrat": 4},
                                            env={ENV: "classeur_rejets"})  # the child is killed there
    assert "classeur_rejets_processus_echec code=-9" in proc.stderr
    assert _workbook_cells(ack_path(own.outbox / "10001", "gros", "rejets.xlsx")) == _workbook_cells(ack_path(par.outbox / "10001", "gros", "rejets.xlsx"))


# --- the data rows' XML, made in bulk (rejects._rows_xml) ---------------------------------------------------

TRICKY = ["a & b <c> \"d\" 'e' ]]>", "&amp; &#13;", "<r>texte</r>", "  espaces autour  ", " ", "\u00a0insécable",
          "ligne 1\nligne 2", "retour\r\nchariot", "\ttabulation", "_x0041_ littéral", "=1+1", "+33 6 12", "-Vendeuse",
          "@accueil", "0123", "1E5", "TRUE", "émoji 😀", "x" * 40_000, None, None, "fin"]


def _plan(values: list, faulty: set[int], n_rows: int | None = None):
    """A plan by hand: a Nom column, a NIR column (text), and `values` in a Commentaire column, the rows of
    `faulty` (indexes) with a blocking finding on it."""
    from amsn_batch.reports.rejects import REASONS_HEADER, Plan

    n = n_rows or len(values)
    values = (values * (n // len(values) + 1))[:n]
    return Plan(headers=["Nom", "NIR", "Commentaire"], written_headers=[REASONS_HEADER, "Nom", "NIR", "Commentaire"],
                widths=[50, 12, 17, 30], frozen=3, text_idx=[2], dropdowns=[],
                columns=[[f"NOM{k}" for k in range(n)], [f"1800175{k:08d}" for k in range(n)], values],
                lines=[k + 2 for k in range(n)],
                own=[[("Commentaire", f"valeur « {k} » refusée" + ", à corriger d'après le modèle de fichier" * (k % 2))]
                     if k in faulty else [("", "Ligne en double.")]
                     for k in range(n)],
                wide_text=[], missing=[], file_name="lot.csv", received="", help_email="", statut="accepte_partiellement")


def test_data_rows_read_back_as_sent_with_openpyxl_and_calamine(tmp_path):
    """Every value of the refused rows is a string cell that reads back as the sender wrote it (cut at a cell's
    32,767 characters), escaped for XML, whitespace kept, the quote prefix exactly on the values that start
    like a formula; faulty cells highlighted (an empty one too), the others plain; each row its height."""
    from python_calamine import CalamineWorkbook

    from amsn_batch.formats import FORMULA_START
    from amsn_batch.reports.rejects import LISTS_SHEET, book_bytes, row_height

    faulty = {0, 2, 7, 19}  # 19: an empty cell, highlighted all the same
    plan = _plan(TRICKY, faulty)
    path = tmp_path / "lot.rejets.xlsx"
    path.write_bytes(book_bytes(plan))
    expected = [None if v is None else v[:32767] for v in TRICKY]

    sheet = load_workbook(path).worksheets[0]
    n = len(TRICKY)
    assert sheet.dimensions == f"A1:D{n + 1}" and sheet.auto_filter.ref == f"A1:D{n + 1}"
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert [r[3] for r in rows[1:]] == ["" if v is None else v for v in expected]  # what the inbox reads it with
    assert [r[1:3] for r in rows[1:]] == [[f"NOM{k}", f"1800175{k:08d}"] for k in range(n)]
    for k, value in enumerate(expected):
        cell = sheet.cell(k + 2, 4)
        # openpyxl leaves Excel's _xHHHH_ escapes of an inline string as they are (calamine and LibreOffice
        # read them): the carriage return and the literal _x0041_, escaped as Excel writes them
        if value is not None and "\r" not in value and "_x" not in value:
            assert cell.value == value, k
        assert bool(cell.quotePrefix) == bool(value and value.startswith(FORMULA_START)), k
        assert cell.data_type == ("n" if value is None else "s"), k  # openpyxl's type of an empty cell: "n"
        assert (cell.fill.fgColor.rgb or "").endswith(BAD_FILL) == (k in faulty), k
        assert (cell.comment is not None) == (k in faulty), k
        nir = sheet.cell(k + 2, 3)
        assert (nir.value, nir.number_format, nir.fill.fill_type) == (f"1800175{k:08d}", "@", None)
        reasons = sheet.cell(k + 2, 1)
        assert reasons.value.startswith(f"Ligne {k + 2} du fichier envoyé.") and reasons.alignment.wrap_text
        assert sheet.row_dimensions[k + 2].height == row_height(reasons.value, 50)
    assert sheet.cell(22, 4).value is None and sheet.cell(22, 4).fill.fill_type is None  # empty, not faulty: no cell
    assert (sheet.cell(21, 4).value, sheet.cell(21, 4).fill.fgColor.rgb[-6:]) == (None, BAD_FILL)
    assert LISTS_SHEET not in load_workbook(path).sheetnames  # no drop-down lists in this plan


def test_data_rows_beyond_the_comments_keep_their_heights(tmp_path, monkeypatch):
    """Past MAX_COMMENTS faulty rows xlsxwriter is told no more row heights (it needs them only to place the
    comments' boxes): every row still has its own, the comments' boxes are where they would be had it been told
    every height, and the sheet's dimension spans all the rows."""
    import re
    import zipfile

    from amsn_batch.reports import rejects
    from amsn_batch.reports.rejects import MAX_COMMENTS, book_bytes, row_height

    def part(data: bytes, name: str) -> str:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return z.read(name).decode()

    n = MAX_COMMENTS + 40
    plan = _plan(["valeur", "=formule", None], set(range(n)), n_rows=n)
    path = tmp_path / "lot.rejets.xlsx"
    path.write_bytes(book_bytes(plan))
    monkeypatch.setattr(rejects, "COMMENT_ROWS", n)  # xlsxwriter told every row's height
    vml = "xl/drawings/vmlDrawing1.vml"
    assert part(path.read_bytes(), vml) == part(book_bytes(plan), vml)
    xml = part(path.read_bytes(), "xl/worksheets/sheet1.xml")
    assert re.findall(r'<dimension ref="([^"]+)"', xml) == [f"A1:D{n + 1}"]
    sheet = load_workbook(path).worksheets[0]
    assert sheet.max_row == n + 1
    heights = [sheet.row_dimensions[r].height for r in range(2, n + 2)]
    assert heights == [row_height(sheet.cell(r, 1).value, 50) for r in range(2, n + 2)]
    assert len(set(heights)) == 2  # the two kinds of reasons, of different lengths
    assert [r for r in range(2, n + 2) if sheet.cell(r, 4).comment is not None] == list(range(2, MAX_COMMENTS + 2))
    assert all(sheet.cell(r, 4).fill.fgColor.rgb.endswith(BAD_FILL) for r in range(2, n + 2))
    assert [sheet.cell(r, 4).value for r in range(2, n + 2)] == [["valeur", "=formule", None][k % 3] for k in range(n)]


# --- an old workbook retired once all its rows were accepted (issue 11) -----------------------------------


def _send_back_fixed(ws, book: Path, g, sirets, only: int | None = None) -> Path:
    """Drop the workbook back, its highlighted cells fixed (the first `only` rows; the others as they were)."""
    dropped = ws.drop("10001", book.name)
    dropped.write_bytes(book.read_bytes())
    fix_like_a_person(dropped, {row[0]: g.good_nirs[i] for i, row in enumerate(g.rows)}, sirets[0])
    if only is not None:  # the rows after `only` put back as they were sent
        fixed, original = load_workbook(dropped), load_workbook(book)
        for r in range(2 + only, original.worksheets[0].max_row + 1):
            for c, cell in enumerate(original.worksheets[0][r], start=1):
                fixed.worksheets[0].cell(r, c).value = cell.value
        fixed.save(dropped)
    ws.cli("traiter")
    return dropped


def test_workbook_sent_back_and_accepted_retires_the_old_one(ws):
    sirets = ws.registry.members["10001"]
    g = generate(sirets, 10, {"pcs": 2, "nir_cle": 1}, seed=31)
    write_csv(ws.drop("10001", "lot.csv"), g.headers, g.rows)
    ws.cli("traiter")
    book = ack_path(ws.outbox / "10001", "lot", "rejets.xlsx")
    sent = book.read_bytes()
    _send_back_fixed(ws, book, g, sirets)
    ack = ws.ack("10001", "lot.rejets")
    assert ack["statut"] == "accepte" and ack["classeurs_retires"] == [book.name]
    assert not book.exists()
    assert (ws.outbox / "10001" / "archives" / book.name).read_bytes() == sent  # moved aside, never lost
    assert "classeurs_retires" not in ws.ack("10001", "lot")  # nothing retired: the field is left out


def _team_with_a_workbook(ws):
    """A file of 8 employees, one with a wrong date and one with a wrong NIR key, processed: its rows and its
    correction workbook."""
    g = generate(ws.registry.members["10001"], 8, {"date": 1, "nir_cle": 1}, seed=32)
    write_csv(ws.drop("10001", "equipe.csv"), g.headers, g.rows)
    ws.cli("traiter")
    book = ack_path(ws.outbox / "10001", "equipe", "rejets.xlsx")
    assert book.is_file()
    return g, book


def _fix(g, rename: bool) -> None:
    """The refused rows corrected in place (`rename`: the name of the one with a wrong date spelt otherwise too)."""
    for i, kind in g.mistakes.items():
        if kind == "nir_cle":
            g.rows[i][NIR] = g.good_nirs[i]
        else:
            g.rows[i][MISTAKES[kind][0]] = FIXES[MISTAKES[kind][0]]
            if rename:
                g.rows[i][NOM] += "E"


def test_corrected_original_resent_whole_retires_the_workbook(ws):
    """The usual reflex: the cells fixed in the original and all of it sent again. The refused rows, now
    recorded (one under its corrected N° de sécurité sociale, found by name; the other, its name's spelling
    fixed on the way, found by its N°), make the workbook needless."""
    g, book = _team_with_a_workbook(ws)
    _fix(g, rename=True)
    write_csv(ws.drop("10001", "equipe.csv"), g.headers, g.rows)
    ws.cli("traiter")
    ack = ws.ack("10001", "equipe")
    assert ack["lignes_rejetees"] == 0 and ack["classeurs_retires"] == [book.name]
    assert (ws.outbox / "10001" / "archives" / book.name).is_file() and not book.exists()


def test_a_night_of_files_looks_again_at_a_workbook_only_when_a_file_writes_its_people(ws):
    """A run of many files of one sender does not read every workbook of its outbox again for each file (a
    payroll firm's night: quadratic): a workbook still waiting after one file is looked up again only when a
    later file writes someone it names. Files of other people in between, and a refused one, leave it where it
    is; the corrected original, in the same run, still retires it; and what the outbox ends with is what one run
    per file leaves."""
    import os

    g, book = _team_with_a_workbook(ws)
    sirets = ws.registry.members["10001"]
    others = [generate(sirets, 5, {}, seed=seed) for seed in (60, 61)]
    refused = generate(sirets, 3, {"nir_cle": 3}, seed=62)
    _fix(g, rename=False)
    night = [("autres1.csv", others[0]), ("refus.csv", refused), ("autres2.csv", others[1]), ("equipe.csv", g)]
    for k, (name, rows) in enumerate(night):  # received in this order
        path = ws.drop("10001", name)
        write_csv(path, rows.headers, rows.rows)
        os.utime(path, ns=(1_700_000_000_000_000_000 + k * 10**9,) * 2)
    ws.cli("traiter")
    assert ws.ack("10001", "refus")["statut"] == "rejete"
    for stem in ("autres1", "autres2"):
        assert ws.ack("10001", stem)["statut"] == "accepte" and "classeurs_retires" not in ws.ack("10001", stem)
    assert ws.ack("10001", "equipe")["classeurs_retires"] == [book.name] and not book.exists()
    assert [p.name for p in (ws.outbox / "10001" / "archives").iterdir()] == [book.name]
    assert [p.name for p in (ws.outbox / "10001").glob("*.rejets.xlsx")] == [
        ack_path(ws.outbox / "10001", "refus", "rejets.xlsx").name]


def test_workbook_kept_until_its_last_row_is_accepted(ws):
    sirets = ws.registry.members["10001"]
    g = generate(sirets, 9, {"pcs": 2}, seed=33)
    write_csv(ws.drop("10001", "paie.csv"), g.headers, g.rows)
    ws.cli("traiter")
    first = ack_path(ws.outbox / "10001", "paie", "rejets.xlsx")
    _send_back_fixed(ws, first, g, sirets, only=1)  # one row of two fixed
    second_ack = ws.ack("10001", "paie.rejets")
    assert (second_ack["statut"], second_ack["lignes_rejetees"]) == ("accepte_partiellement", 1)
    assert "classeurs_retires" not in second_ack and first.is_file()  # one of its rows still refused
    second = ack_path(ws.outbox / "10001", "paie.rejets", "rejets.xlsx")
    _send_back_fixed(ws, second, g, sirets)
    third_ack = ws.ack("10001", "paie.rejets.rejets")
    assert third_ack["statut"] == "accepte"
    assert sorted(third_ack["classeurs_retires"]) == sorted([first.name, second.name])
    assert sorted(p.name for p in (ws.outbox / "10001" / "archives").iterdir()) == sorted([first.name, second.name])
    assert ack_paths(ws.outbox / "10001", "paie", "rejets.xlsx") == []
