"""Opening the store and keeping its schema up to date (numbered SQL files, run in order, once each).

Two engines: SQLite (a file, the embedded default) and PostgreSQL (`[paths] database = "postgresql://…"`, for
a service that outgrows one file or runs several workers). The store modules write SQLite's SQL with `?`
placeholders; on PostgreSQL, `PgConnection` gives the same small API (execute, executemany, in_transaction,
close) and translates each statement once (`pg_sql`: placeholders and the few SQLite-isms the store uses).
Migrations are the same files for both; `pg_ddl` translates their SQLite-isms, statement by statement."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from ..config import FILE_MODE, is_database_url, make_dirs

psycopg = None  # PostgreSQL (the `postgresql` extra): imported by the first PostgreSQL connection, see _psycopg


MIGRATIONS = files(__package__).joinpath("migrations")  # shipped as package data
SQLITE, POSTGRESQL = "sqlite", "postgresql"


class SqliteConnection(sqlite3.Connection):
    engine = SQLITE


class Store:
    """An open store: `.conn` is the connection every store function takes."""

    def __init__(self, conn) -> None:
        self.conn = conn


def connect(location: Path | str, durable: bool = False) -> Store:
    """Open (and create or migrate) the store: a SQLite file, or a PostgreSQL database given by URL.
    SQLite: WAL lets staff read while a run writes; `durable`: every commit is on disk before it returns
    (synchronous=FULL), for a run whose originals move after each commit (PostgreSQL commits are durable)."""
    if is_database_url(location):
        conn = PgConnection.open(location)
        migrate(conn)
        return Store(conn)
    path = Path(location)
    make_dirs(path.parent)
    try:  # a new store gets FILE_MODE whatever the umask; SQLite gives its -wal and -shm files the same mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
        os.chmod(path, FILE_MODE)
    except FileExistsError:
        pass
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, factory=SqliteConnection)
    conn.execute("PRAGMA page_size=16384")  # new stores only: fewer, larger pages make big files' inserts ~15 % faster
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-65536")
    migrate(conn)
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    return Store(conn)


def engine(conn) -> str:
    """SQLITE or POSTGRESQL (a bare sqlite3 connection, as some tests open, is SQLite)."""
    return getattr(conn, "engine", SQLITE)


def records(conn, sql: str, params=()) -> list[dict]:
    """The rows of a query as dicts keyed by column name (alias the columns to the dataclass fields they fill)."""
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def bulk_rows(conn, table: str, names: list[str], rows: Iterable[tuple]) -> None:
    """Insert many rows at once: COPY on PostgreSQL (then the table's id sequence moves past the ids the rows
    gave), executemany on SQLite."""
    if engine(conn) == POSTGRESQL:
        conn.copy(table, names, rows)
        return
    conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)


def take_sender(conn, sender: str) -> bool:
    """Parallel workers (PostgreSQL): take a sender for this connection's life, or False at once when another
    worker has it. A worker holding a sender is the only one to claim and process that sender's files, in
    order; its lock (a session advisory lock) goes with its connection, however the worker ends."""
    return bool(conn.execute("SELECT pg_try_advisory_lock(?, hashtext(?))", (_SENDER_LOCKS, sender)).fetchone()[0])


def serialize_writes(conn, what: str) -> None:
    """Inside a transaction: wait until no other worker's transaction writes `what` (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already lets one writer at a time), e.g. where ids are given as the largest plus one."""
    if engine(conn) == POSTGRESQL:
        conn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_WRITE_LOCKS, what))


_SENDER_LOCKS, _WRITE_LOCKS = 0x616D7331, 0x616D7332  # advisory lock namespaces ('ams1', 'ams2')


# What callers outside the store catch or annotate, so that only the store imports sqlite3 and psycopg
# (PostgreSQL's errors are raised as subclasses of it: PgError, PgIntegrityError).
StoreError = sqlite3.Error
Connection = sqlite3.Connection


@contextmanager
def transaction(conn) -> Iterator:
    """The one way to write: `with transaction(conn):` takes the write lock at once (BEGIN IMMEDIATE, so two
    writers never deadlock halfway), commits when the block ends, rolls back on any exception (KeyboardInterrupt
    included) and re-raises it. The connection is in autocommit mode (isolation_level=None), as `connect` opens it.

    Inside another transaction it is a savepoint: its writes commit or roll back with the outer one (so a
    caller can check something after the writes and before COMMIT, and undo them all)."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE" if engine(conn) == SQLITE else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn) -> None:
    """Apply, in name order, each migrations/NNNN_*.sql not yet recorded in schema_migrations.

    Migrations are files named by number so that features developed side by side add their own file
    without touching anyone else's. The same files serve both engines: on PostgreSQL each statement goes
    through `pg_ddl` (and the migrations of concurrent workers wait for each other on an advisory lock)."""
    pg = engine(conn) == POSTGRESQL
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (nom TEXT PRIMARY KEY, appliquee_le TEXT NOT NULL)")
    done = {r[0] for r in conn.execute("SELECT nom FROM schema_migrations")}
    for path in sorted((p for p in MIGRATIONS.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        if path.name in done:
            continue
        with transaction(conn):
            if pg:
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            if conn.execute("SELECT 1 FROM schema_migrations WHERE nom=?", (path.name,)).fetchone() is None:
                keys: list[str] = []
                for statement in _statements(path.read_text(encoding="utf-8")):
                    conn.execute(pg_ddl(statement, keys) if pg else statement)
                for key in keys:  # PostgreSQL wants the referenced table first: foreign keys once all exist
                    conn.execute(key)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (path.name, _now()))


_MIGRATION_LOCK = 0x616D736E  # 'amsn': one migrating connection at a time on a PostgreSQL server


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _statements(script: str) -> list[str]:
    out, buf = [], []
    for line in script.splitlines():
        buf.append(line)
        if sqlite3.complete_statement("\n".join(buf)):
            out.append("\n".join(buf))
            buf = []
    return [s for s in out if s.strip()]


# ---- PostgreSQL ---------------------------------------------------------------------------------------------

_TRIGGER = re.compile(r"CREATE TRIGGER (\w+) BEFORE (UPDATE|DELETE) ON (\w+)\s+BEGIN SELECT RAISE\(ABORT, '((?:[^']|'')*)'\); END;?",
                      re.S)


_CREATE = re.compile(r"CREATE TABLE (\w+)")
_FOREIGN = re.compile(r"\b(\w+) ((?:[A-Z]+ )+?)REFERENCES (\w+)\s*\((\w+)\)")


def pg_ddl(statement: str, keys: list[str]) -> str:
    """A migration statement in PostgreSQL's dialect: rowid keys become identity columns, REAL double
    precision, BLOB bytea, json_object json_build_object, a SQLite trigger that refuses a change (RAISE(ABORT)) a
    trigger function that raises; a new table's foreign keys are appended to `keys` (ALTER TABLE statements
    to run once the file's tables all exist)."""
    created = _CREATE.search(statement)
    if created:
        def defer(m: re.Match) -> str:
            keys.append(f"ALTER TABLE {created.group(1)} ADD FOREIGN KEY ({m.group(1)}) REFERENCES {m.group(3)}({m.group(4)})")
            return f"{m.group(1)} {m.group(2).rstrip()}"
        statement = _FOREIGN.sub(defer, statement)
    trigger = _TRIGGER.search(statement)
    if trigger:
        name, event, table, message = trigger.groups()
        return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%', "
                f"'{message}' USING ERRCODE = 'integrity_constraint_violation'; END $$; CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
    s = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    s = re.sub(r"\bREAL\b", "DOUBLE PRECISION", s)
    s = re.sub(r"\bBLOB\b", "BYTEA", s)
    s = s.replace("json_object(", "json_build_object(")
    return _json_paths(s)


def _json_paths(sql: str) -> str:
    """json_extract(col, '$.key') → the key's value as text."""
    return re.sub(r"json_extract\(([\w.]+), '\$\.(\w+)'\)", r"(CAST(\1 AS jsonb) ->> '\2')", sql)


_TOKEN = re.compile(r"'(?:[^']|'')*'|\?|%")


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """A store statement in PostgreSQL's dialect: `?` placeholders (outside quotes) become %s and % is
    escaped, and the few SQLite-isms of the store modules are rewritten."""
    s = sql.strip()
    if re.match(r"INSERT OR IGNORE INTO", s, re.I):
        s = re.sub(r"INSERT OR IGNORE INTO", "INSERT INTO", s, count=1, flags=re.I) + " ON CONFLICT DO NOTHING"
    s = s.replace("BEGIN IMMEDIATE", "BEGIN")
    s = re.sub(r"\bIS \?", "IS NOT DISTINCT FROM ?", s)
    s = re.sub(r"\bIS NOT \?", "IS DISTINCT FROM ?", s)
    s = re.sub(r"\browid\b", "ctid", s)  # the order rows were written in (constats has no key of its own)
    s = re.sub(r"json_each\(\?\) (\w+) CROSS JOIN (\w+ \w+) ON",  # a JSON list of texts driving a join
               r"jsonb_array_elements_text(CAST(? AS jsonb)) AS \1(value) JOIN \2 ON", s)
    s = re.sub(r"(\b[\w.]*(?:nir|nom)) (NOT IN|IN) \(SELECT value FROM json_each\(\?\)\)",  # a list of NIRs or names: texts
               r"\1 \2 (SELECT value FROM jsonb_array_elements_text(CAST(? AS jsonb)))", s)
    s = re.sub(r"SELECT value FROM json_each\(\?\)", "SELECT CAST(value AS bigint) FROM jsonb_array_elements_text(CAST(? AS jsonb))", s)
    s = re.sub(r"json_set\((COALESCE\(\w+, '\{\}'\)|\w+), '\$\.(\w+)', (\?|json\('\w+'\))\)", _pg_json_set, s)
    s = re.sub(r"WHERE json_extract\(([\w.]+), '\$\.(\w+)'\)(?!\s*(?:[=<>!]|IS\b|IN\b|LIKE\b))",
               r"WHERE (CAST(\1 AS jsonb) -> '\2') = 'true'::jsonb", s)  # a flag the store only ever sets to true
    s = _json_paths(s)
    return _TOKEN.sub(lambda m: "%s" if m.group() == "?" else m.group().replace("%", "%%"), s)


def _pg_json_set(m: re.Match) -> str:
    target, key, value = m.groups()
    value = "to_jsonb(CAST(? AS text))" if value == "?" else f"CAST({value[5:-1]} AS jsonb)"
    return f"CAST(jsonb_set(CAST({target} AS jsonb), '{{{key}}}', {value}) AS text)"


def _psycopg():
    """psycopg, imported on first use: a run on SQLite does not pay for it (a tenth of a second per run)."""
    global psycopg
    if psycopg is None:
        try:
            import psycopg as module
            import psycopg.types.string  # noqa: F401  (TextLoader)
        except ImportError:  # pragma: no cover - exercised only where the extra is not installed
            raise RuntimeError("PostgreSQL : installez l'extra `postgresql` (psycopg) pour utiliser une base postgresql://")
        psycopg = module
    return psycopg


@cache
def _dumpers() -> dict:
    """Python type → psycopg Dumper: numpy numbers as numbers, booleans as the store's INTEGER 0/1 (as SQLite binds them)."""
    pg = _psycopg()
    int8, float8 = pg.adapters.types["int8"].oid, pg.adapters.types["float8"].oid

    def dumper(oid: int, text) -> type:
        return type("Dumper", (pg.adapt.Dumper,), {"oid": oid, "dump": lambda self, obj: text(obj).encode()})

    ints, floats = dumper(int8, lambda o: str(int(o))), dumper(float8, lambda o: repr(float(o)))
    flags = dumper(int8, lambda o: "1" if o else "0")
    return {**{t: ints for t in (np.int64, np.int32, np.int16, np.int8, np.uint32, np.uint16, np.uint8)},
            **{t: floats for t in (np.float64, np.float32)}, **{t: flags for t in (bool, np.bool_)}}


class PgError(sqlite3.DatabaseError):
    """An error of PostgreSQL, raised as a StoreError (its psycopg error is the __cause__, its SQLSTATE `sqlstate`)."""

    sqlstate: str | None = None


class PgIntegrityError(PgError, sqlite3.IntegrityError):
    """A constraint or a refusing trigger, as sqlite3.IntegrityError on SQLite."""


@contextmanager
def _pg_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        err = (PgIntegrityError if isinstance(exc, psycopg.IntegrityError) else PgError)(str(exc))
        err.sqlstate = exc.sqlstate
        raise err from exc


class PgConnection:
    """A psycopg connection in autocommit mode with the sqlite3-like API the store modules use."""

    engine = POSTGRESQL

    def __init__(self, raw) -> None:
        self.raw = raw

    @classmethod
    def open(cls, url: str) -> PgConnection:
        pg = _psycopg()
        with _pg_errors():
            raw = pg.connect(url, autocommit=True)
        for t, dumper in _dumpers().items():
            raw.adapters.register_dumper(t, dumper)
        for t in ("json", "jsonb"):  # JSON comes back as text, as SQLite gives it (callers json.loads it)
            raw.adapters.register_loader(t, pg.types.string.TextLoader)
        return cls(raw)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params=()):
        with _pg_errors():
            return self.raw.execute(pg_sql(sql), tuple(params) if params is not None else ())

    def executemany(self, sql: str, seq):
        cur = self.raw.cursor()
        with _pg_errors():
            cur.executemany(pg_sql(sql), seq)
        return cur

    def copy(self, table: str, names: list[str], rows: Iterable[tuple]) -> None:
        """COPY of rows of Python values (psycopg turns each value into text)."""
        self._copy(table, names, "", "write_row", rows)

    def copy_csv(self, table: str, names: list[str], parts: Iterable) -> None:
        """COPY of rows already written as CSV (parts: bytes-like, whole rows each; an empty unquoted field is
        NULL, a quoted one an empty text): no Python call per value."""
        self._copy(table, names, " (FORMAT csv)", "write", parts)

    def _copy(self, table: str, names: list[str], options: str, method: str, items: Iterable) -> None:
        """COPY, then the table's id sequence moved past the ids the rows gave."""
        with _pg_errors(), self.raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN{options}") as copy:
                put = getattr(copy, method)
                for item in items:
                    put(item)
            if "id" in names:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), m) FROM (SELECT MAX(id) AS m FROM {table}) t "
                            "WHERE m IS NOT NULL")

    def close(self) -> None:
        self.raw.close()
