"""Many rows written at once, the fast way of each engine: multi-row INSERTs with constants written into
the statement on SQLite, COPY of CSV written by Arrow on PostgreSQL."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..read.arrow import arrow_strings
from .db import POSTGRESQL, engine

BATCH = 50_000
ROWS_PER_STATEMENT = 400
MAX_PARAMETERS = 32_766  # SQLite's limit on ? per statement (since 3.32)
_LITERAL = re.compile(r"[^'\x00-\x1f\x7f]{0,200}")  # constants written into the statement as they are, between quotes
TEXT, FLAG = "texte", "drapeau"  # column kinds: '' stored as NULL / NULL stored as 0


def _literal(value, kind: str | None) -> str | None:
    """SQL text of a constant column value, or None when it must stay a bound parameter."""
    if value is None or (isinstance(value, float) and value != value) or (kind == TEXT and value == ""):
        return "0" if kind == FLAG else "NULL"
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return str(int(value))
    if isinstance(value, str) and _LITERAL.fullmatch(value):
        return f"'{value}'"
    return None


def _constant(values) -> tuple[bool, object]:
    """Whether a column holds one value throughout (None, NaN and '' told apart), and that value."""
    if not isinstance(values, (np.ndarray, pd.Series)):
        return True, values
    if len(values) == 0:
        return True, None
    arr = values.to_numpy() if isinstance(values, pd.Series) and values.dtype == object else values
    first = arr.iloc[0] if isinstance(arr, pd.Series) else arr[0]
    if first is None or (isinstance(first, float) and first != first):
        return bool(pd.isna(arr).all()), None
    if isinstance(arr, np.ndarray):
        sample = arr[:: max(1, len(arr) // 1000)]  # most columns differ somewhere in a sample: no full pass for them
        if not all(v is first or (type(v) is type(first) and v == first) for v in sample):
            return False, None
    return bool((arr == first).all()), first


def _columns(values) -> object:
    """A bound column in a form cheap to cut into batches: numpy for object data, Arrow for text."""
    if isinstance(values, pd.Series):
        if values.dtype == object:
            return values.to_numpy()
        text = arrow_strings(values)
        return text if text is not None else values.to_numpy(dtype=object)
    return values


def _take(values, rows: np.ndarray) -> list:
    if isinstance(values, np.ndarray):
        return values[rows].tolist()
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.take(rows).to_numpy(zero_copy_only=False).tolist()
    return [values] * len(rows)  # a scalar that cannot be written as a literal


def bulk_insert(conn: sqlite3.Connection, table: str, columns: dict[str, object], rows: np.ndarray,
                kinds: dict[str, str] | None = None) -> None:
    """INSERT rows (positions in the columns, in this order) of columns given as arrays, Series or scalars.

    Binding parameters is most of the cost of executemany, so a column holding one value throughout (a
    member's only SIRET, an empty comment column, the file id) is written into the statement itself when
    it holds no quote (any text a cell can hold otherwise), and bound on every row otherwise; and each
    statement inserts ROWS_PER_STATEMENT rows (multi-row VALUES), which saves SQLite a step per row (-20 %
    here). Kinds: TEXT columns store '' as NULL, FLAG columns store NULL as 0. Batches of BATCH rows keep
    the Python objects bounded."""
    kinds = kinds or {}
    if engine(conn) == POSTGRESQL:  # COPY of the rows written as CSV by Arrow, kinds applied here
        conn.copy_csv(table, list(columns), _csv_batches(columns, rows, kinds))
        return
    exprs, bound = [], []
    for name, values in columns.items():
        kind = kinds.get(name)
        same, value = _constant(values)
        literal = _literal(value, kind) if same else None
        if literal is not None:
            exprs.append(literal)
        else:
            exprs.append({TEXT: "NULLIF(?, '')", FLAG: "COALESCE(?, 0)"}.get(kind, "?"))
            bound.append(_columns(values))
    head, row = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ", f"({', '.join(exprs)})"
    if not bound:
        conn.executemany(head + row, [()] * len(rows))
        return
    per = max(1, min(ROWS_PER_STATEMENT, MAX_PARAMETERS // len(bound)))
    width = per * len(bound)
    for start in range(0, len(rows), BATCH):
        part = rows[start:start + BATCH]
        flat = [None] * (len(part) * len(bound))  # row by row: column j of a row at j, j + len(bound)…
        for j, values in enumerate(bound):
            flat[j::len(bound)] = _take(values, part)
        whole = len(part) // per * per * len(bound)
        if whole:
            conn.executemany(head + ", ".join([row] * per), (flat[i:i + width] for i in range(0, whole, width)))
        if whole < len(flat):
            conn.execute(head + ", ".join([row] * ((len(flat) - whole) // len(bound))), flat[whole:])


def _csv_batches(columns: dict[str, object], rows: np.ndarray, kinds: dict[str, str]):
    """The rows as CSV for COPY, BATCH rows at a time: each batch an Arrow table written by Arrow's CSV writer
    (text always quoted, so that a null is an empty unquoted field and '' a quoted one, as COPY reads them)."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for start in range(0, len(rows), BATCH):
        part = rows[start:start + BATCH]
        out = pa.BufferOutputStream()
        pacsv.write_csv(pa.table({n: _copy_column(v, part, kinds.get(n)) for n, v in columns.items()}), out, options)
        yield out.getvalue()


def _copy_column(values, rows: np.ndarray, kind: str | None) -> pa.Array:
    """One column of the rows for COPY, in Arrow: NaN and None as null, then the column's kind applied (TEXT:
    '' as null; FLAG: null as 0)."""
    if isinstance(values, (np.ndarray, pd.Series, pa.Array, pa.ChunkedArray)):
        col = _columns(values)
        arr = col[rows] if isinstance(col, np.ndarray) else col.take(rows)
        arr = pa.array(arr, from_pandas=True) if isinstance(arr, np.ndarray) else arr
    else:
        value = values.item() if isinstance(values, np.generic) else values
        arr = pa.nulls(len(rows)) if value is None else pa.repeat(pa.scalar(value), len(rows))
    if kind == TEXT and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    if kind == FLAG:
        return pc.fill_null(arr, 0) if arr.type != pa.null() else pa.repeat(pa.scalar(0), len(rows))
    return arr
