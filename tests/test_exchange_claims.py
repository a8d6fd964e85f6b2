"""Claims and durable moves when the work folder or the archive sit on another filesystem than the drop
folders (a rename is then impossible: copy, then remove), including a crash between the two."""

from __future__ import annotations

import errno
import os

import pytest

from amsn_batch import claims, intake
from amsn_batch.config import Intake, Paths

real_rename = os.rename


def _cross_device(monkeypatch, marker: str):
    """os.rename fails with EXDEV when the source path contains `marker`, as between two filesystems."""
    def rename(src, dst, *a, **kw):
        if kw.get("src_dir_fd") is not None:  # a name in a folder opened without following links
            src = os.path.join(os.readlink(f"/proc/self/fd/{kw['src_dir_fd']}"), src)
        if marker in str(src) and not os.path.basename(str(src)).startswith("."):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(src, dst, *a, **kw)
    monkeypatch.setattr(os, "rename", rename)


def _dropped(tmp_path, name="paie.csv", data=b"a;b\r\n1;2\r\n"):
    f = tmp_path / "inbox" / "10001" / name
    f.parent.mkdir(parents=True)
    f.write_bytes(data)
    return intake.survey(tmp_path / "inbox", Intake(stable_seconds=0)).ready[0]


def test_claim_across_filesystems(tmp_path, monkeypatch):
    cand = _dropped(tmp_path)
    _cross_device(monkeypatch, "/inbox/")
    claim = claims.take(cand, tmp_path / "travail")
    assert claim.data.read_bytes() == b"a;b\r\n1;2\r\n"
    assert not cand.dropped.path.exists()
    assert claim.record["recu_le"] and claim.data.stat().st_mtime_ns == cand.seen.mtime_ns


def test_claim_across_filesystems_stopped_before_the_original_went(tmp_path, monkeypatch):
    cand = _dropped(tmp_path)
    _cross_device(monkeypatch, "/inbox/")
    monkeypatch.setattr(claims, "_drop_leftovers", lambda claim: None)  # as if killed right after the copy
    claim = claims.take(cand, tmp_path / "travail")
    assert cand.dropped.path.exists() and claim.data.exists()
    monkeypatch.undo()
    found = claims.pending(tmp_path / "travail")
    assert [c.id for c in found] == [claim.id]
    assert not cand.dropped.path.exists()  # the original is removed, the whole copy kept
    assert found[0].data.read_bytes() == b"a;b\r\n1;2\r\n"


def test_original_replaced_meanwhile_is_not_removed(tmp_path, monkeypatch):
    """The sender dropped a new file under the same name: it is another inode, and stays."""
    cand = _dropped(tmp_path)
    _cross_device(monkeypatch, "/inbox/")
    monkeypatch.setattr(claims, "_drop_leftovers", lambda claim: None)
    claims.take(cand, tmp_path / "travail")
    monkeypatch.undo()
    cand.dropped.path.unlink()
    cand.dropped.path.write_bytes(b"nouveau\r\n")
    claims.pending(tmp_path / "travail")
    assert cand.dropped.path.read_bytes() == b"nouveau\r\n"


def test_half_made_claims_are_undone(tmp_path):
    cand = _dropped(tmp_path)
    travail = tmp_path / "travail"
    (travail / "10001" / "00000000000000000001-1-0000").mkdir(parents=True)  # killed before the record
    claim = claims.take(cand, travail)
    real_rename(claim.data, cand.dropped.path)  # as if killed between the record and the move
    assert claims.pending(travail, tidy=False) == []
    assert (travail / "10001").exists()
    assert claims.pending(travail) == []
    assert not (travail / "10001").exists() and cand.dropped.path.exists()


def test_durable_move_across_filesystems(tmp_path, monkeypatch):
    src = tmp_path / "travail" / "x.csv"
    src.parent.mkdir()
    src.write_bytes(b"contenu")
    dest = tmp_path / "archive" / "x.csv"
    _cross_device(monkeypatch, "/travail/")
    intake.move_durably(src, dest)
    assert dest.read_bytes() == b"contenu" and not src.exists()
    assert [p.name for p in dest.parent.iterdir()] == ["x.csv"]
    src.write_bytes(b"contenu")  # a crash after the copy's rename, before the original went: finish it
    intake.move_durably(src, dest)
    assert not src.exists() and dest.read_bytes() == b"contenu"


def test_paths_built_by_hand_get_a_work_folder(tmp_path):
    p = Paths(tmp_path / "i", tmp_path / "o", tmp_path / "a", tmp_path / "q", tmp_path / "data" / "x.sqlite")
    assert p.travail == tmp_path / "data" / "travail"


@pytest.mark.parametrize("name", ["paie.csv", "Été 2026.xlsx"])
def test_claim_keeps_the_name(tmp_path, name):
    cand = _dropped(tmp_path, name)
    claim = claims.take(cand, tmp_path / "travail")
    assert claim.data.name == name and claim.sender == "10001"
