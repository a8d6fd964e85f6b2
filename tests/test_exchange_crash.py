"""Exactly once, whatever happens: a run killed (SIGKILL) at any point leaves a state that the next run
completes, and the end result (store, archive, quarantine, acknowledgements) is the one of a run that was
never interrupted: no file lost, none applied twice or in half, every acknowledgement written."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from amsn_batch.faults import ENV, POINTS
from tests.conftest import CLI, TEST_DB, Workspace
from tests.exchange import build_drop, copy_workspace, fixed_clock, registered_workspace, snapshot, wait_for  # noqa: F401 (fixed_clock: autouse)

# (point, n): kill the run the n-th time it reaches the point. The drop has 8 files: 7 go through the
# store (one is a duplicate), 2 of them to the quarantine.
KILL_POINTS = [
    ("verrou_pris", 1), ("traitement_ouvert", 1), ("depot_repere", 1),
    ("prise_notee", 1), ("prise_notee", 4), ("prise_faite", 1), ("prise_faite", 5),
    ("empreinte", 2), ("empreinte", 5), ("lecture", 1), ("lecture", 6), ("controle_fait", 1), ("controle_fait", 3),
    ("tx_fichier", 1), ("tx_fichier", 4), ("tx_mouvements", 1), ("tx_mouvements", 3),
    ("applique", 2), ("applique", 4), ("accuse_ecrit", 1), ("accuse_ecrit", 6),
    ("destination_notee", 2), ("destination_notee", 5), ("raison_ecrite", 1), ("raison_ecrite", 2),
    ("archive", 3), ("archive", 6), ("termine", 1), ("termine", 7), ("nettoye", 2), ("nettoye", 7),
    ("doublon_accuse", 1), ("doublon_archive", 1), ("compte", 3), ("compte", 8), ("fin", 1),
]
# A run killed, then the run that resumes it killed too, then a clean one.
DOUBLE_KILLS = [
    (("tx_mouvements", 2), ("accuse_ecrit", 1)),
    (("archive", 2), ("termine", 1)),
    (("prise_faite", 3), ("tx_fichier", 1)),
    (("doublon_accuse", 1), ("prise_notee", 1)),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Workspace:
    """A workspace with the registry imported and the drop in place, copied by each test."""
    root = tmp_path_factory.mktemp("modele") / "ws"
    # Every correction workbook by the second process (reports.rejects.Background): killed runs leave it running.
    ws = registered_workspace(root, extra_config="\n[limites]\nclasseur_rejets_en_parallele = 1\n")
    build_drop(ws)
    return ws


@pytest.fixture(scope="module")
def reference(template, tmp_path_factory) -> dict:
    ws = copy_workspace(template, tmp_path_factory.mktemp("reference") / "ws")
    ws.cli("traiter")
    snap = snapshot(ws)
    statuses = sorted(r[6] for r in snap["store"]["fichiers"])
    assert statuses == ["accepte", "accepte", "accepte", "accepte_partiellement", "rejete", "rejete", "rejete"]
    acks = [name for name in snap["outbox"] if ".ar." in name]
    assert len(acks) == 8 * 3  # every file acknowledged, the duplicate too
    assert len(snap["outbox"]) - len(acks) == 1  # and one correction workbook for the partly refused file
    assert snap["inbox"] == [] and snap["travail"] == []
    return snap


def killed_run(ws: Workspace, point: str, n: int) -> subprocess.CompletedProcess:
    return ws.cli("traiter", check=False, env={ENV: f"{point}:{n}"})


def test_points_cover_every_stage():
    assert {p for p, _ in KILL_POINTS} == set(POINTS)
    assert len(KILL_POINTS) >= 30


@pytest.mark.parametrize("point,n", KILL_POINTS, ids=[f"{p}-{n}" for p, n in KILL_POINTS])
def test_killed_run_is_completed_by_the_next(template, reference, tmp_path, point, n):
    ws = copy_workspace(template, tmp_path / "ws")
    proc = killed_run(ws, point, n)
    assert proc.returncode == -signal.SIGKILL, f"jamais arrivé au point {point} n°{n} : {proc.stdout}{proc.stderr}"
    ws.cli("traiter")
    assert snapshot(ws) == reference
    again = ws.cli("traiter")  # and nothing is left to do
    assert "Aucun fichier à traiter" in again.stdout
    assert snapshot(ws) == reference


@pytest.mark.parametrize("first,second", DOUBLE_KILLS, ids=[f"{a[0]}-{b[0]}" for a, b in DOUBLE_KILLS])
def test_resuming_run_killed_too(template, reference, tmp_path, first, second):
    ws = copy_workspace(template, tmp_path / "ws")
    assert killed_run(ws, *first).returncode == -signal.SIGKILL
    assert killed_run(ws, *second).returncode == -signal.SIGKILL
    ws.cli("traiter")
    assert snapshot(ws) == reference


@pytest.mark.parametrize("seed", range(8))
def test_killed_at_a_random_instant(template, reference, tmp_path, seed):
    """SIGKILL from outside at a random instant of the run (anywhere, inside a library call too)."""
    ws = copy_workspace(template, tmp_path / "ws")
    rng = random.Random(seed)
    for _ in range(2):  # two interrupted runs in a row, then a clean one
        proc = subprocess.Popen([*CLI, "traiter", "--config", str(ws.config)], cwd=ws.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ws.cli("traiter")
    assert snapshot(ws) == reference


# On PostgreSQL runs are workers side by side, not one at a time (issue 16): tests/test_parallel_workers.py.
sqlite_lock = pytest.mark.skipif(bool(TEST_DB), reason="PostgreSQL: parallel workers, no run lock")


@sqlite_lock
def test_second_run_exits_at_once_while_one_runs(template, reference, tmp_path):
    ws = copy_workspace(template, tmp_path / "ws")
    first = subprocess.Popen([*CLI, "traiter", "--config", str(ws.config)], cwd=ws.root, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, ENV: "verrou_pris:1:stop"})
    try:
        wait_for(lambda: _stopped(first.pid))
        second = ws.cli_process("traiter", check=False)
        assert second.returncode == 3
        assert "un traitement est déjà en cours" in second.stderr
        assert f"processus {first.pid}" in second.stderr
        assert second.stdout == ""
        status = ws.cli("statut")
        assert f"Traitement en cours : processus {first.pid}" in status.stdout
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert snapshot(ws) == reference


@sqlite_lock
def test_runs_started_together(template, reference, tmp_path):
    """Four runs launched at the same instant: whichever gets the lock works, the others exit with 3."""
    ws = copy_workspace(template, tmp_path / "ws")
    procs = [subprocess.Popen([*CLI, "traiter", "--config", str(ws.config)], cwd=ws.root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    codes = [p.wait(timeout=300) for p in procs]
    assert set(codes) <= {0, 3} and 0 in codes, [p.stderr.read() for p in procs]
    ws.cli("traiter")
    assert snapshot(ws) == reference


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("T")
    except OSError:
        return False
