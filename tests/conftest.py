"""Fixtures: a workspace with its own settings file, drop folders and SQLite store; the CLI run in this process
exactly as the real command runs (same exit codes, stdout and stderr), or in a real process when that is the point."""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amsn_batch import faults
from amsn_batch.cli import run_cli
from tests.factories import Registry

# The store engine of the run: SQLite files (the default), or, when AMSN_BATCH_TEST_DB gives the URL of a
# PostgreSQL server's maintenance database (postgresql://user:password@host/postgres), a fresh database per
# workspace, copied from a template that holds the migrated schema (scripts/test-postgresql starts a server).
TEST_DB = os.environ.get("AMSN_BATCH_TEST_DB", "")
_DATABASES: list[str] = []  # PostgreSQL databases created in the current test module, dropped after it


def _pg_admin():
    import psycopg

    return psycopg.connect(TEST_DB, autocommit=True)


def _pg_url(name: str) -> str:
    return TEST_DB.rsplit("/", 1)[0] + "/" + name


def new_database(template: str = "") -> str:
    """A fresh PostgreSQL database (from `template`, else from the session's migrated template): its URL."""
    import uuid

    from amsn_batch.store import connect

    if not template:
        if not _TEMPLATES:
            name = f"amsn_modele_{os.getpid()}"
            with _pg_admin() as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name}")
                admin.execute(f"CREATE DATABASE {name}")
            atexit.register(_drop_database, name)
            connect(_pg_url(name)).conn.close()
            _TEMPLATES.append(name)
        template = _TEMPLATES[0]
    name = f"amsn_t_{uuid.uuid4().hex[:16]}"
    with _pg_admin() as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    _DATABASES.append(name)
    return _pg_url(name)


_TEMPLATES: list[str] = []


def _drop_database(name: str) -> None:
    with _pg_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(autouse=True, scope="module")
def _drop_test_databases():  # module scope: a module's fixtures may share a workspace between its tests
    yield
    while _DATABASES:
        _drop_database(_DATABASES.pop())

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "amsn_batch"]
# Fault injection kills (or stops) the process it runs in: a call setting one of these runs in a real process.
FAULT_VARS = (faults.ENV, "AMSN_BATCH_TEST_FAULT")


def cli_in_process(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`amsn-batch ARGS` run in this process, in `cwd`, with typer's CliRunner capturing stdout and stderr; the
    logging set-up and the working directory are put back afterwards. An exception nobody caught is printed on
    stderr with exit code 1, as Python does. The package's caches stay warm between calls: those that depend on a
    file are keyed on its path, size and modification time, the others on the schemas shipped with the code."""
    root, package = logging.getLogger(), logging.getLogger("amsn_batch")
    saved = (list(root.handlers), root.level, package.level, os.getcwd())
    with CliRunner().isolation(env=env) as (out, err, _):
        try:
            os.chdir(cwd)
            code = run_cli(list(args), prog_name="amsn-batch")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.chdir(saved[3])
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
            package.setLevel(saved[2])
        stdout, stderr = out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")
    return subprocess.CompletedProcess(["amsn-batch", *args], code, stdout, stderr)


@dataclass
class Workspace:
    root: Path
    config: Path
    registry: Registry

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    database: str = ""  # a PostgreSQL URL when the run uses PostgreSQL, else '' (the SQLite file db_path)

    @property
    def db_path(self) -> Path:
        return self.root / "data" / "amsn.sqlite"

    @property
    def store(self) -> Path | str:
        """The store's location as the settings give it: the SQLite file or the PostgreSQL URL."""
        return self.database or self.db_path

    def cli(self, *args: str, check: bool = True, env: dict | None = None, process: bool = False) -> subprocess.CompletedProcess:
        """Run `amsn-batch ARGS --config <this workspace>` from the workspace's root: in this process, or in a real
        one with `process=True` or when `env` sets a fault-injection variable."""
        argv = [*args, "--config", str(self.config)]
        if process or any(k in FAULT_VARS for k in env or {}):
            proc = subprocess.run([*CLI, *argv], capture_output=True, text=True, cwd=self.root,
                                  env={**os.environ, **(env or {})}, timeout=600)
            for watching in _WATCHING:  # a real process logs to its stderr: what _checks_never_trip looks for
                watching.lines += [line for line in proc.stderr.splitlines() if "lecture_impossible" in line]
        else:
            proc = cli_in_process(argv, self.root, env)
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def cli_process(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        """`cli` in a real process, for the tests where the process boundary is the point."""
        return self.cli(*args, check=check, env=env, process=True)

    def drop(self, sender: str, name: str) -> Path:
        """Path of a file to write into the sender's inbox folder."""
        p = self.inbox / sender / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def ack(self, sender: str, stem: str, nth: int = -1) -> dict:
        """The JSON answer to the sender's file of that stem (the latest written; `nth`: another one)."""
        from tests.acks import ack_path

        return json.loads(ack_path(self.outbox / sender, stem, "ar.json", nth).read_text(encoding="utf-8"))

    def ack_rows(self, sender: str, stem: str, nth: int = -1) -> list[dict]:
        import csv

        from tests.acks import ack_path

        text = ack_path(self.outbox / sender, stem, "ar.csv", nth).read_text(encoding="utf-8-sig")
        return list(csv.DictReader(text.splitlines(), delimiter=";"))

    def connection(self):
        """A connection to the workspace's store (sqlite3's, or the store's PostgreSQL one: same `?` SQL)."""
        from amsn_batch.store import connect

        return connect(self.database).conn if self.database else sqlite3.connect(self.db_path)

    def sql(self, query: str, *params) -> list[tuple]:
        """The rows of a query on the store; a write is committed (and gives no rows)."""
        conn = self.connection()
        try:
            cur = conn.execute(query, params)
            rows = cur.fetchall() if cur.description else []
            if not self.database:
                conn.commit()
            return rows
        finally:
            conn.close()


def make_workspace(root: Path, registry: Registry | None = None, extra_config: str = "") -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "reglages.toml"
    # Tests drop whole files at once: no stability delay, unless a test sets its own [depot] table.
    depot = "" if "[depot]" in extra_config else "[depot]\ndelai_stabilite = 0\n"
    database = new_database() if TEST_DB else ""
    config.write_text(
        '[paths]\ninbox = "inbox"\noutbox = "outbox"\narchive = "archive"\nquarantine = "quarantine"\n'
        f'database = "{database or "data/amsn.sqlite"}"\n' + extra_config + ("\n" + depot if depot else ""),
        encoding="utf-8",
    )
    return Workspace(root, config, registry or Registry(), database)


_REGISTRY_STORE: list = []  # the default registry imported into a store, once per session (a file, or a database name)


def import_registry(w: Workspace, folder: Path) -> Workspace:
    """`amsn-batch adherents importer` of the workspace's registry and mandates (written in `folder`) into its new
    store. The default registry is imported once per session and its store copied (an import takes about a
    second on a loaded machine)."""
    reg, mand = w.registry.write(folder)
    default = Registry()
    stored = bool(w.sql("SELECT 1 FROM adherents LIMIT 1")) if TEST_DB else w.db_path.exists()
    if stored or (w.registry.rows(), w.registry.mandates) != (default.rows(), default.mandates):
        w.cli("adherents", "importer", str(reg), "--mandats", str(mand))
        return w
    if not _REGISTRY_STORE:
        base = Path(tempfile.mkdtemp(prefix="amsn-batch-registre-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        model = make_workspace(base / "ws")
        model.cli("adherents", "importer", str(reg), "--mandats", str(mand))
        if TEST_DB:  # kept as a template for the session: not dropped after this test
            name = _DATABASES.pop()
            atexit.register(_drop_database, name)
            _REGISTRY_STORE.append(name)
        else:
            _REGISTRY_STORE.append(model.db_path)
    if TEST_DB:  # the workspace's empty database replaced by a copy of the template with the registry
        _drop_database(w.database.rsplit("/", 1)[1])
        _DATABASES.remove(w.database.rsplit("/", 1)[1])
        url = new_database(_REGISTRY_STORE[0])
        w.config.write_text(w.config.read_text(encoding="utf-8").replace(w.database, url), encoding="utf-8")
        w.database = url
        return w
    w.db_path.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(_REGISTRY_STORE[0]), sqlite3.connect(w.db_path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return w


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace whose registry (4 adhérents, mandataire PAIE01 for 10002 and 10003) is imported."""
    return import_registry(make_workspace(tmp_path / "ws"), tmp_path / "registre")


class _CheckTrips(logging.Handler):
    """The `lecture_impossible` lines logged: a check (or a parser) that raised on a file."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("lecture_impossible"):
            self.lines.append(record.getMessage())


_WATCHING: list[_CheckTrips] = []  # the running test's, for the CLI runs in a real process (Workspace.cli)


@pytest.fixture(autouse=True)
def _checks_never_trip(request):
    """A check that raises on a file refuses the file instead of stopping the run (pipeline: bad input never
    crashes). In the suite such a refusal is a bug that tests would otherwise see only by its effect (a file
    said unreadable): it fails the test, unless the test trips one on purpose (@pytest.mark.check_trips). Runs
    in this process, and for Workspace.cli in a real process, on its stderr."""
    handler = _CheckTrips()
    logger = logging.getLogger("amsn_batch")
    logger.addHandler(handler)
    _WATCHING.append(handler)
    yield handler
    _WATCHING.remove(handler)
    logger.removeHandler(handler)
    if handler.lines and request.node.get_closest_marker("check_trips") is None:
        pytest.fail(f"a check raised on a test file, which was refused for it: {handler.lines[0]}", pytrace=False)
