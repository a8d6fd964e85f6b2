"""Parallel workers on PostgreSQL: several `traiter` at once, each sender's files taken by one worker at a time and
in order (a sender's group, the senders sharing a member, is held in the database: store.take_sender), a member's
and its payroll firm's files applied in the order received, a worker killed mid-file leaving its work to
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
from tests.conftest import CLI, TEST_DB, Workspace
from tests.exchange import ACK_TOKEN, copy_workspace, fixed_clock, registered_workspace, wait_for  # noqa: F401 (fixed_clock: autouse)
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv

pytestmark = pytest.mark.skipif(not TEST_DB, reason="parallel workers need PostgreSQL (AMSN_BATCH_TEST_DB)")

# Each sender sends its hires, then a file changing them: taken out of order, the second would be refused.
SENDERS = {"10001": "10001", "10002": "10002", "10004": "10004", "PAIE01": "10003"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("modele") / "ws"
    ws = registered_workspace(root)
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


def _second_while_first_held(ws: Workspace, point: str) -> tuple[str, str]:
    """Worker 1 stopped at a fault point, worker 2 run to its end meanwhile, then worker 1 let go and run to its
    end: (worker 1's output, worker 2's output)."""
    first = _worker(ws, point + ":stop")
    try:
        wait_for(lambda: _stopped(first.pid))
        second = ws.cli_process("traiter")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    return out, second.stdout


def test_two_workers_share_the_senders_each_in_order(template, reference, tmp_path):
    """A worker holding a sender (stopped just after taking its first file) and a second worker at the same time:
    the second takes every other sender and leaves that one; the first, let go, finishes its sender in order."""
    ws = copy_workspace(template, tmp_path / "ws")
    out, second = _second_while_first_held(ws, "prise_faite:1")
    assert "10001/a-embauches.csv" not in second and "10002/a-embauches.csv" in second
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


# A payroll firm and a member it serves are two senders sharing a member: the member hires, then the firm (PAIE01,
# mandated for 10002) changes the hired employees' job; two unrelated members send their hires after both.
RELATED = (("10002", "10002", "a-embauches.csv", "Entrée"), ("PAIE01", "10002", "b-changements.csv", "Modification"),
           ("10001", "10001", "a-embauches.csv", "Entrée"), ("10004", "10004", "a-embauches.csv", "Entrée"))


@pytest.fixture(scope="module")
def related(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("lies") / "ws"
    ws = registered_workspace(root)
    rng, t = random.Random(7), 1_790_000_000
    hired = [make_nir(rng) for _ in range(4)]
    for sender, member, name, movement in RELATED:
        siret = ws.registry.members[member][0]
        nirs = hired if member == "10002" else [make_nir(rng) for _ in range(3)]
        rows = [employee_row(n, siret, movement=movement, name=f"E{i}",
                             job="Chef de rayon" if movement == "Modification" else "Vendeuse")
                for i, n in enumerate(nirs[:2] if movement == "Modification" else nirs)]
        f = write_csv(ws.drop(sender, name), MOVEMENT_HEADERS, rows)
        t += 60
        os.utime(f, ns=(t * 10**9, t * 10**9))  # received in the order of RELATED
    return ws


@pytest.fixture(scope="module")
def related_reference(related, tmp_path_factory) -> dict:
    ws = copy_workspace(related, tmp_path_factory.mktemp("reference-lies") / "ws")
    ws.cli("traiter")
    ref = content(ws)
    assert [f[2] for files in ref["files"].values() for f in files] == ["accepte"] * 4
    assert [v[5] for v in ref["versions"] if v[3] == "b-changements.csv"] == ["Chef de rayon"] * 2
    return ref


@pytest.mark.parametrize("point", ["empreinte:1", "controle_fait:1"])
def test_a_firm_waits_for_the_earlier_file_of_its_member(related, related_reference, tmp_path, point):
    """Worker 1 held inside the member's hire (received first); worker 2, started meanwhile, must not apply the firm's
    change of those employees before it (it would refuse it: unknown employee), but finishes the unrelated senders'
    files while worker 1 is held; worker 1, let go, applies the hire then the change."""
    ws = copy_workspace(related, tmp_path / "ws")
    out, second = _second_while_first_held(ws, point)
    assert "10001/a-embauches.csv" in second and "10004/a-embauches.csv" in second
    assert "PAIE01/" not in second and "10002/" not in second
    assert "10002/a-embauches.csv" in out and "PAIE01/b-changements.csv" in out
    runs = _runs_of(ws)
    assert runs["10002"] == runs["PAIE01"] != runs["10001"] == runs["10004"]
    assert content(ws) == related_reference


def test_a_killed_worker_s_member_file_is_finished_before_the_firm_s(related, related_reference, tmp_path):
    """Worker 1 killed inside the member's hire while worker 2 runs: the next worker finishes the hire left in
    travail/ first, then the firm's change."""
    ws = copy_workspace(related, tmp_path / "ws")
    victim = _worker(ws, "controle_fait:1:stop")
    try:
        wait_for(lambda: _stopped(victim.pid))
        other = ws.cli_process("traiter")
        assert "PAIE01/" not in other.stdout and "10001/a-embauches.csv" in other.stdout
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=60)
    last = ws.cli_process("traiter")
    assert last.stdout.index("10002/a-embauches.csv") < last.stdout.index("PAIE01/b-changements.csv")
    assert content(ws) == related_reference


def test_a_worker_that_surveyed_first_but_took_nothing_finds_the_related_files_done(related, related_reference, tmp_path):
    """The other start order: worker 1 held after its look at the inbox, before taking any file; worker 2 applies
    the hire then the change; worker 1, let go with its stale list, finds nothing left to take."""
    ws = copy_workspace(related, tmp_path / "ws")
    first = _worker(ws, "depot_repere:1:stop")
    try:
        wait_for(lambda: _stopped(first.pid))
        second = ws.cli_process("traiter")
        assert second.stdout.index("10002/a-embauches.csv") < second.stdout.index("PAIE01/b-changements.csv")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "PAIE01/" not in out and "10002/" not in out
    assert content(ws) == related_reference
