"""Opening the store and keeping its schema up to date (numbered SQL files, run in order, once each)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import sqlite_utils

from ..config import FILE_MODE, make_dirs

MIGRATIONS = files(__package__).joinpath("migrations")  # shipped as package data

def connect(path: Path, durable: bool = False) -> sqlite_utils.Database:
    """Open (and create or migrate) the store. WAL lets staff read while a run writes. `durable`: every
    commit is on disk before it returns (synchronous=FULL), for a run whose originals move after each commit."""
    make_dirs(path.parent)
    try:  # a new store gets FILE_MODE whatever the umask; SQLite gives its -wal and -shm files the same mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
        os.chmod(path, FILE_MODE)
    except FileExistsError:
        pass
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    conn.execute("PRAGMA page_size=16384")  # new stores only: fewer, larger pages make big files' inserts ~15 % faster
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-65536")
    db = sqlite_utils.Database(conn)
    migrate(conn)
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    return db


def records(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    """The rows of a query as dicts keyed by column name (alias the columns to the dataclass fields they fill)."""
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


# What callers outside the store catch or annotate, so that only the store imports sqlite3.
StoreError = sqlite3.Error
Connection = sqlite3.Connection


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """The one way to write: `with transaction(conn):` takes the write lock at once (BEGIN IMMEDIATE, so two
    writers never deadlock halfway), commits when the block ends, rolls back on any exception (KeyboardInterrupt
    included) and re-raises it. The connection is in autocommit mode (isolation_level=None), as `connect` opens it.

    Inside another transaction it is a savepoint: its writes commit or roll back with the outer one (so a
    caller can check something after the writes and before COMMIT, and undo them all)."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT inner")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO inner")
            conn.execute("RELEASE inner")
            raise
        conn.execute("RELEASE inner")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection) -> None:
    """Apply, in name order, each migrations/NNNN_*.sql not yet recorded in schema_migrations.

    Migrations are files named by number so that features developed side by side add their own file
    without touching anyone else's."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (nom TEXT PRIMARY KEY, appliquee_le TEXT NOT NULL)")
    done = {r[0] for r in conn.execute("SELECT nom FROM schema_migrations")}
    for path in sorted((p for p in MIGRATIONS.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        if path.name in done:
            continue
        with transaction(conn):
            if conn.execute("SELECT 1 FROM schema_migrations WHERE nom=?", (path.name,)).fetchone() is None:
                for statement in _statements(path.read_text(encoding="utf-8")):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (path.name,))


def _statements(script: str) -> list[str]:
    out, buf = [], []
    for line in script.splitlines():
        buf.append(line)
        if sqlite3.complete_statement("\n".join(buf)):
            out.append("\n".join(buf))
            buf = []
    return [s for s in out if s.strip()]
