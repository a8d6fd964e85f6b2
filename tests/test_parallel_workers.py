"""Parallel workers on PostgreSQL: several `traiter` at once, each sender's files taken by one worker at a time and
in order (a sender is held in the database: store.take_sender), a worker killed mid-file leaving its work to
another; nothing lost, nothing applied twice. The suite's PostgreSQL run only (AMSN_BATCH_TEST_DB): on SQLite one
run at a time (tests/test_exchange_crash.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from amsn_batch.faults import ENV
from tests.conftest import CLI, TEST_DB, Workspace, make_workspace
from tests.exchange import ACK_TOKEN, copy_workspace, wait_for
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv

pytestmark = pytest.mark.skipif(not TEST_DB, reason="parallel workers need PostgreSQL (AMSN_BATCH_TEST_DB)")

# Each sender sends its hires, then a file changing them: taken out of order, the second would be refused.
SENDERS = {"10001": "10001", "10002": "10002", "10004": "10004", "PAIE01": "10003"}


@pytest.fixture(scope="module", autouse=True)
def fixed_clock():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMSN_BATCH_MAINTENANT", "2026-11-02T10:00:00")
        yield


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("modele") / "ws"
    ws = make_workspace(root)
    reg, mand = ws.registry.write(root.parent / "registre")
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    rng, t = random.Random(5), 1_790_000_000
    for sender, member in SENDERS.items():
        siret = ws.registry.members[member][0]
        nirs = [make_nir(rng) for _ in range(4)]
        first = write_csv(ws.drop(sender, "a-embauches.csv"), MOVEMENT_HEADERS,
                          [employee_row(n, siret, name=f"E{i}") for i, n in enumerate(nirs)])
        second = write_csv(ws.drop(sender, "b-changements.csv"), MOVEMENT_HEADERS,
                           [employee_row(n, siret, movement="Modification", job="Chef de rayon") for n in nirs[:2]])
        for f in (first, second):
            t += 60
            os.utime(f, ns=(t * 10**9, t * 10**9))
    return ws


def content(ws: Workspace) -> dict:
    """What the runs left, without the ids and run numbers that depend on which worker went first."""
    files = ws.sql("SELECT expediteur, nom, statut, etape, lignes, lignes_acceptees, lignes_rejetees, entrees, "
                   "modifications FROM fichiers ORDER BY id")
    return {
        "files": {s: [f for f in files if f[0] == s] for s in SENDERS},  # each sender's in the order applied
        "versions": sorted(ws.sql(
            "SELECT s.adherent, s.nir, v.mouvement, f.nom, v.ligne, v.poste FROM salaries_versions v "
            "JOIN salaries s ON s.id = v.salarie_id JOIN fichiers f ON f.id = v.fichier_id")),
        "present": sorted(ws.sql("SELECT adherent, nir, present FROM salaries")),
        "acks": sorted(ACK_TOKEN.sub("", str(p.relative_to(ws.outbox))) for p in ws.outbox.rglob("*") if p.is_file()),
        "archive": sorted(p.name for p in ws.archive.rglob("*") if p.is_file()),
        "left": sorted(str(p) for p in [*ws.inbox.rglob("*.csv"), *(ws.root / "travail").rglob("*.csv")]),
    }


@pytest.fixture(scope="module")
def reference(template, tmp_path_factory) -> dict:
    ws = copy_workspace(template, tmp_path_factory.mktemp("reference") / "ws")
    ws.cli("traiter")
    ref = content(ws)
    assert all([f[2] for f in files] == ["accepte", "accepte"] for files in ref["files"].values())
    assert len(ref["acks"]) == 8 * 3 and ref["left"] == []
    return ref


def _runs_of(ws: Workspace) -> dict[str, set[int]]:
    """The runs (workers) that processed each sender's files."""
    out: dict[str, set[int]] = {}
    for sender, details in ws.sql("SELECT expediteur, details FROM fichiers"):
        out.setdefault(sender, set()).add(json.loads(details)["traitement"])
    return out


def _worker(ws: Workspace, fault: str = "") -> subprocess.Popen:
    env = {**os.environ, **({ENV: fault} if fault else {})}
    return subprocess.Popen([*CLI, "traiter", "--config", str(ws.config)], cwd=ws.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("T")
    except OSError:
        return False


def test_two_workers_share_the_senders_each_in_order(template, reference, tmp_path):
    """A worker holding a sender (stopped just after taking its first file) and a second worker at the same time:
    the second takes every other sender and leaves that one; the first, let go, finishes its sender in order."""
    ws = copy_workspace(template, tmp_path / "ws")
    first = _worker(ws, "prise_faite:1:stop")
    try:
        wait_for(lambda: _stopped(first.pid))
        second = ws.cli_process("traiter")
        assert "10001/a-embauches.csv" not in second.stdout and "10002/a-embauches.csv" in second.stdout
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "10001/a-embauches.csv" in out and "10001/b-changements.csv" in out and "10002/" not in out
    runs = _runs_of(ws)
    assert all(len(r) == 1 for r in runs.values())  # a sender's files all went through one worker
    assert runs["10001"] != runs["10002"] == runs["10004"] == runs["PAIE01"]
    assert content(ws) == reference


def test_two_workers_started_together(template, reference, tmp_path):
    ws = copy_workspace(template, tmp_path / "ws")
    workers = [_worker(ws) for _ in range(2)]
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    assert all(len(r) == 1 for r in _runs_of(ws).values())
    assert content(ws) == reference


@pytest.mark.parametrize("point", ["tx_mouvements:1", "applique:2", "accuse_ecrit:1", "archive:2"])
def test_a_worker_killed_mid_file_leaves_it_to_another(template, reference, tmp_path, point):
    """A worker stopped mid-file while another starts, then killed (SIGKILL): its sender is free again (its
    database session is gone) and the next workers finish that sender's files; nothing lost or doubled. (The
    other worker may wait for the stopped one's transaction: employees are written one transaction at a time.)"""
    ws = copy_workspace(template, tmp_path / "ws")
    victim = _worker(ws, point + ":stop")
    try:
        wait_for(lambda: _stopped(victim.pid))
        other = _worker(ws)  # side by side with the stopped one, on the other senders
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=60)
    out, err = other.communicate(timeout=300)
    assert other.returncode == 0, err
    workers = [_worker(ws) for _ in range(2)]  # two workers again: one of them takes the dead worker's sender
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    assert content(ws) == reference
    again = ws.cli("traiter")
    assert "Aucun fichier à traiter" in again.stdout
    assert content(ws) == reference
