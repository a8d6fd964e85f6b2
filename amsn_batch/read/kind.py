"""Which kind of file a sender dropped, decided from its header row.

Employee movement files and annual headcount declarations arrive in the same inbox folder. The header
row tells them apart: a declaration names the year declared (`Année`) and the fields of the declaration
vocabulary; anything else, or anything unreadable, is left to the employee-file path, which reports it.
Only the first rows are read.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..config import Limits
from .guard import check_zip
from ..vocab import normalize, vocabulary
from .headers import score_header_row
from .table import HEADER_SEARCH_ROWS, XLS_MAGIC, XLSX_MAGIC, UnreadableFile, _sample_lines, detect_encoding, detect_separator

MOVEMENTS, DECLARATION = "mouvements", "declaration"


def _head_rows(path: Path, limits: Limits) -> list[list[str]]:
    if path.stat().st_size > limits.max_file_bytes:
        return []
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith(XLSX_MAGIC):
        check_zip(path, limits.max_unzipped_bytes, limits.max_zip_ratio)  # before any decompression
    if head.startswith(XLSX_MAGIC) or head.startswith(XLS_MAGIC):  # parsed once: the checks reuse it
        from .excel import read_workbook, row_text

        return [row_text(row) for _, rows in read_workbook(path, limits.max_rows, limits.max_columns)
                for row in rows[:HEADER_SEARCH_ROWS]]
    encoding = detect_encoding(head)
    lines = _sample_lines(head, encoding)
    sep = detect_separator(lines)
    return [next(csv.reader([line], delimiter=sep), []) for line in lines[:HEADER_SEARCH_ROWS]]


def detect_kind(path: Path, limits: Limits | None = None) -> str:
    """'declaration' when a header row names the declared year and more declaration fields than employee
    fields; 'mouvements' otherwise (including any file that cannot be read: that path reports it)."""
    try:
        rows = _head_rows(path, limits or Limits())
    except (UnreadableFile, UnicodeDecodeError, OSError, ValueError, csv.Error):
        return MOVEMENTS
    except Exception:  # calamine's own errors for damaged workbooks
        return MOVEMENTS
    decl, moves = vocabulary(DECLARATION), vocabulary(MOVEMENTS)
    for row in rows:
        keys = {decl.lookup.get(normalize(c)) for c in row}
        if "annee" in keys and score_header_row(row, decl) >= 2 and score_header_row(row, decl) > score_header_row(row, moves):
            return DECLARATION
    return MOVEMENTS
