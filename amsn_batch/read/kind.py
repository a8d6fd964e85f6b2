"""The first rows of a file, as text cells, read cheaply: what the kinds of file (amsn_batch/kinds/) are
recognised from. Employee movement files, full staff lists and annual headcount declarations arrive in the
same inbox folder; their header row tells them apart. Only the first rows are read.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..config import Limits
from .guard import check_zip
from .errors import XLS_MAGIC, XLSX_MAGIC
from .excel import read_workbook, row_text
from .table import HEADER_SEARCH_ROWS, _sample_lines, detect_encoding, detect_separator


def head_rows(path: Path, limits: Limits) -> list[list[str]]:
    """The first rows of a CSV or a workbook's sheets (none for a file over the size limit). Raises what the
    readers raise on a file that cannot be read."""
    if path.stat().st_size > limits.max_file_bytes:
        return []
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith(XLSX_MAGIC):
        check_zip(path, limits.max_unzipped_bytes, limits.max_zip_ratio)  # before any decompression
    if head.startswith(XLSX_MAGIC) or head.startswith(XLS_MAGIC):  # parsed once: the checks reuse it
        return [row_text(row) for _, rows in read_workbook(path, limits.max_rows, limits.max_columns,
                                                            limits.max_read_bytes)
                for row in rows[:HEADER_SEARCH_ROWS]]
    encoding = detect_encoding(head)
    lines = _sample_lines(head, encoding)
    sep = detect_separator(lines)
    return [next(csv.reader([line], delimiter=sep), []) for line in lines[:HEADER_SEARCH_ROWS]]
