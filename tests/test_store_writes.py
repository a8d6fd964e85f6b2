"""The store's bulk writer: on SQLite constant columns are written into the statement, others bound; on
PostgreSQL the rows are copied (COPY); either way the stored values are exactly the given ones (the suite's
engine: a real SQLite file, or a real PostgreSQL database)."""

import numpy as np
import pandas as pd
import pytest

from amsn_batch.store.db import POSTGRESQL, connect, engine, pg_ddl
from amsn_batch.store.bulk import FLAG, TEXT, bulk_insert
from tests.conftest import make_workspace


@pytest.fixture
def conn(tmp_path):
    c = connect(make_workspace(tmp_path / "ws").store).conn
    table = "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, flag INTEGER, d TEXT)"
    c.execute(pg_ddl(table, []) if engine(c) == POSTGRESQL else table)
    yield c
    c.close()


def rows(conn):
    return conn.execute("SELECT id, a, b, flag, d FROM t ORDER BY id").fetchall()


HOSTILE = ["O'Brien", "x'); DROP TABLE t; --", "Zoé \"Zaza\"", "a\x01b", "ligne\nsuivante", "2,95109E+14", "é" * 300]


@pytest.mark.parametrize("value", HOSTILE + ["Prénom", "01", "2026-11-28T06:00:00"])
def test_a_constant_column_is_stored_exactly_whatever_it_holds(conn, value):
    n = 3
    bulk_insert(conn, "t", {"id": np.arange(1, n + 1), "a": np.array([value] * n, dtype=object),
                            "b": pd.Series([value] * n, dtype="str"), "flag": None, "d": value},
                np.arange(n), {"a": TEXT, "b": TEXT, "flag": FLAG})
    assert rows(conn) == [(i, value, value, 0, value) for i in range(1, n + 1)]


def test_empty_text_is_null_flags_default_to_zero_and_untyped_empties_are_kept(conn):
    bulk_insert(conn, "t", {"id": np.arange(1, 4), "a": np.array(["", "", ""], dtype=object),
                            "b": np.array(["x", "", None], dtype=object), "flag": np.array([None, 1, None], dtype=object),
                            "d": np.array(["", "", ""], dtype=object)},
                np.arange(3), {"a": TEXT, "b": TEXT, "flag": FLAG})
    assert rows(conn) == [(1, None, "x", 0, ""), (2, None, None, 1, ""), (3, None, None, 0, "")]


@pytest.mark.parametrize("batch,per_statement", [(4, 100), (7, 3), (50, 5), (10, 1)])
def test_rows_are_written_in_the_order_given_across_batches(conn, monkeypatch, batch, per_statement):
    import amsn_batch.store.bulk as emp

    monkeypatch.setattr(emp, "BATCH", batch)
    monkeypatch.setattr(emp, "ROWS_PER_STATEMENT", per_statement)
    n = 10
    order = np.array([9, 3, 0, 7, 1, 8, 2, 6, 4, 5])
    values = np.array([f"v{i}" for i in range(n)], dtype=object)
    bulk_insert(conn, "t", {"a": values, "b": pd.Series(list(values), dtype="str"), "flag": np.arange(n), "d": "même"},
                order)
    assert rows(conn) == [(k + 1, f"v{i}", f"v{i}", i, "même") for k, i in enumerate(order)]


def test_nothing_to_write_writes_nothing(conn):
    bulk_insert(conn, "t", {"a": np.array([], dtype=object), "d": "x"}, np.array([], dtype=np.int64))
    assert rows(conn) == []
