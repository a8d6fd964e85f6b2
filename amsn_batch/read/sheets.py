"""The child process that reads a workbook with python-calamine, under a memory limit.

A damaged or hostile workbook can make calamine allocate far more than the machine has: the Rust
allocator then aborts the whole process. So workbooks are read here, in a process of their own whose
address space is capped (RLIMIT_AS): an abort or a MemoryError ends this child only, and the parent
(excel.read_workbook) refuses the file. Every cell is turned into its text here, and the sheets go back
to the parent on standard output as one `marshal` blob (plain lists of str: much faster than pickle).

Run by path with `python -I` (no site, no PYTHONPATH, no script folder on sys.path), so this module
imports only the standard library and python_calamine: the child starts in a few tens of milliseconds
instead of loading pandas through the package. Also imported by excel.py for `cell_text`.

Output: ("ok", [(sheet name, rows of text cells)]) | ("trop_grand", sheet, rows, columns) |
("illisible", error type name). An abort or a MemoryError leaves no output (exit status says which).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import marshal
import sys

HEADER_ROOM = 30  # rows above the header a sheet may hold beyond the row limit (titles)
COLUMN_ROOM = 4  # a sheet may be this many times wider than the column limit (notes, empty formatted columns)
EXIT_MEMORY = 3  # exit status of a child that ran out of memory in Python code


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


def rows_text(rows: list[list]) -> list[list[str]]:
    """The rows with every cell as text; the rows themselves when they hold text only (one pass in C)."""
    if set(map(type, itertools.chain.from_iterable(rows))) <= {str}:
        return rows
    return [r if set(map(type, r)) <= {str} else row_text(r) for r in rows]


def grid_limits(max_rows: int, max_columns: int) -> tuple[int, int]:
    """The largest sheet (rows, columns) read for files limited to max_rows rows of max_columns columns."""
    return max_rows + HEADER_ROOM, max_columns * COLUMN_ROOM


def read_sheets(path: str, max_rows: int, max_columns: int) -> tuple:
    """The workbook's sheets as rows of text cells, or why not (see the module's docstring)."""
    from python_calamine import CalamineWorkbook

    rows_max, columns_max = grid_limits(max_rows, max_columns)
    try:
        book = CalamineWorkbook.from_path(path)
        out = []
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            if sheet.height > rows_max or sheet.width > columns_max:
                return ("trop_grand", name, sheet.height, sheet.width)
            out.append((name, rows_text(sheet.to_python(skip_empty_area=False))))
        return ("ok", out)
    except MemoryError:
        raise
    except Exception as exc:  # calamine raises its own error types for damaged files
        return ("illisible", type(exc).__name__)


def _limit_memory(max_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))


def main(argv: list[str]) -> int:
    path, max_rows, max_columns, max_bytes = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    _limit_memory(max_bytes)
    try:
        data = marshal.dumps(read_sheets(path, max_rows, max_columns))
    except MemoryError:
        return EXIT_MEMORY
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # the parent is gone (a stopped run): nothing to do
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
