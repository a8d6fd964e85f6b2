"""Workbooks (XLSX, XLSM, XLS, ODS) through python-calamine, every cell turned into the text a person sees."""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from pathlib import Path

from .table import UnreadableFile


def cell_text(value: object) -> str:
    """The text of a cell: dates as JJ/MM/AAAA, whole numbers without '.0' (a NIR typed as a number keeps
    its 15 digits: they fit exactly in a double), other numbers with a decimal comma."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value).replace(".", ",")
    return str(value)


def row_text(row: list) -> list[str]:
    return [v if type(v) is str else cell_text(v) for v in row]


def column_text(column: tuple) -> tuple | list:
    """A column's cells as text; a column of text cells only (the usual case) is returned as it is."""
    if set(map(type, column)) <= {str}:
        return column
    return [v if type(v) is str else cell_text(v) for v in column]


def read_workbook(path: Path, max_rows: int, max_columns: int) -> list[tuple[str, list[list]]]:
    """Every sheet as rows of cell values (text, numbers, dates: see `row_text`, `column_text`). The last
    workbook read is kept (same path, size and time): one file is looked at several times in a run (its
    kind, its checks, its correction workbook) but parsed once. Callers must not change the rows."""
    st = path.stat()
    return _read_workbook(str(path), st.st_size, st.st_mtime_ns, max_rows, max_columns)


@lru_cache(maxsize=1)
def _read_workbook(path: str, _size: int, _mtime_ns: int, max_rows: int, max_columns: int) -> list[tuple[str, list[list]]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(path)
        out = []
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            if sheet.height > max_rows + HEADER_ROOM or sheet.width > max_columns * 4:
                raise UnreadableFile(
                    f"La feuille « {name} » dépasse les limites ({max_rows:,} lignes, {max_columns} colonnes). "
                    "Découpez le fichier.".replace(",", " ")
                )
            out.append((name, sheet.to_python(skip_empty_area=False)))
        return out
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise UnreadableFile(
            f"Classeur illisible ({type(exc).__name__}). Ouvrez-le dans Excel, vérifiez qu'il n'est pas protégé "
            "par un mot de passe et enregistrez-le à nouveau au format XLSX."
        ) from exc


HEADER_ROOM = 30
