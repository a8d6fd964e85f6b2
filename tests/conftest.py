"""Fixtures: a workspace with its own settings file, drop folders and SQLite store; the CLI run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.factories import Registry

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "amsn_batch"]


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

    @property
    def db_path(self) -> Path:
        return self.root / "data" / "amsn.sqlite"

    def cli(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `amsn-batch ARGS --config <this workspace>` in a real process."""
        proc = subprocess.run([*CLI, *args, "--config", str(self.config)], capture_output=True, text=True,
                              cwd=self.root, env={**os.environ, **(env or {})}, timeout=600)
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

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

    def sql(self, query: str, *params) -> list[tuple]:
        import sqlite3

        conn = sqlite3.connect(self.db_path)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()


def make_workspace(root: Path, registry: Registry | None = None, extra_config: str = "") -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "reglages.toml"
    # Tests drop whole files at once: no stability delay, unless a test sets its own [depot] table.
    depot = "" if "[depot]" in extra_config else "[depot]\ndelai_stabilite = 0\n"
    config.write_text(
        '[paths]\ninbox = "inbox"\noutbox = "outbox"\narchive = "archive"\nquarantine = "quarantine"\n'
        'database = "data/amsn.sqlite"\n' + extra_config + ("\n" + depot if depot else ""),
        encoding="utf-8",
    )
    return Workspace(root, config, registry or Registry())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace whose registry (4 adhérents, mandataire PAIE01 for 10002 and 10003) is imported."""
    w = make_workspace(tmp_path / "ws")
    reg, mand = w.registry.write(tmp_path / "registre")
    w.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    return w
