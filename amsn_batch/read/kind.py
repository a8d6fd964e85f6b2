"""Which kind of file a sender dropped, decided from its header row.

Employee movement files and annual headcount declarations arrive in the same inbox folder. The header
row tells them apart: a declaration names the year declared (`Année`) and the fields of the declaration
vocabulary; anything else, or anything unreadable, is left to the employee-file path, which reports it.
Only the first rows are read.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .headers import score_header_row, vocabulary
from .table import HEADER_SEARCH_ROWS, XLS_MAGIC, XLSX_MAGIC, UnreadableFile, _sample_lines, detect_encoding, detect_separator

MOVEMENTS, DECLARATION = "mouvements", "declaration"


def _head_rows(path: Path, max_bytes: int) -> list[list[str]]:
    if path.stat().st_size > max_bytes:
        return []
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith(XLSX_MAGIC):
        try:  # openpyxl's read-only mode streams: only the first rows of each sheet are parsed
            from openpyxl import load_workbook

            book = load_workbook(path, read_only=True, data_only=True)
            try:
                return [["" if c is None else str(c) for c in r] for ws in book.worksheets
                        for r in ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)]
            finally:
                book.close()
        except Exception:  # ODS or XLSM variants openpyxl does not read: calamine below
            pass
    if head.startswith(XLSX_MAGIC) or head.startswith(XLS_MAGIC):
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        rows: list[list[str]] = []
        for name in book.sheet_names:
            rows += [[str(c) for c in r] for r in book.get_sheet_by_name(name).to_python(nrows=HEADER_SEARCH_ROWS)]
        return rows
    encoding = detect_encoding(head)
    lines = _sample_lines(head, encoding)
    sep = detect_separator(lines)
    return [next(csv.reader([line], delimiter=sep), []) for line in lines[:HEADER_SEARCH_ROWS]]


def detect_kind(path: Path, max_bytes: int = 200 * 1024 * 1024) -> str:
    """'declaration' when a header row names the declared year and more declaration fields than employee
    fields; 'mouvements' otherwise (including any file that cannot be read: that path reports it)."""
    try:
        rows = _head_rows(path, max_bytes)
    except (UnreadableFile, UnicodeDecodeError, OSError, ValueError, csv.Error):
        return MOVEMENTS
    except Exception:  # calamine's own errors for damaged workbooks
        return MOVEMENTS
    decl, moves = vocabulary(DECLARATION), vocabulary(MOVEMENTS)
    from .headers import normalize

    for row in rows:
        keys = {decl.lookup.get(normalize(c)) for c in row}
        if "annee" in keys and score_header_row(row, decl) >= 2 and score_header_row(row, decl) > score_header_row(row, moves):
            return DECLARATION
    return MOVEMENTS
