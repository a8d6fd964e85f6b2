"""Claims: a ready file is moved out of the sender's drop folder into travail/<sender>/<id>/ before anything
else happens to it, so that the sender can no longer change it and a run stopped at any instant knows
exactly where each file is.

A claim folder holds `prise.json` (who sent what, and what the file looked like in the drop folder), then
the file itself (under its safe name), then possibly `destination` (where the original goes once done).
Every step is a rename or an atomic write, in an order that a later run can read back:

    prise.json only, file still in the drop folder   → claim abandoned, the file is taken again later
    prise.json + file                                → claimed: process it (or finish it, by its ledger entry)
    prise.json, no file, file not in the drop folder → archived already: finish by the ledger entry, clean up

`prise.json` also says whether the file is being read (`lecture_en_cours`, set around the reading and
checking of the file, see `Claim.reading`): a run that died there (a reader's crash, the OOM killer) left
it set, and the next run counts one more interrupted read (`interrupted_reads`). A file whose reading
stopped MAX_READS runs is set aside without being read again: it cannot stop every run.
"""

from __future__ import annotations

import datetime as dt
import errno
import itertools
import json
import logging
import os
import shutil
import stat
import time
from collections.abc import Collection
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import faults, logs
from .config import DIR_MODE, make_dirs
from .intake import Candidate, copy_whole, fsync_dir, open_folder, safe_name
from .formats import write_atomic

log = logging.getLogger("amsn_batch")

RECORD = "prise.json"
DESTINATION = "destination"
MAX_READS = 2  # runs that may die while reading a file before it is set aside unread
_seq = itertools.count()


@dataclass
class Claim:
    folder: Path  # travail/<sender>/<id>
    record: dict

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def sender(self) -> str:
        return self.record["expediteur"]

    @property
    def name(self) -> str:
        """The name as dropped (may hold anything a file name can)."""
        return self.record["nom"]

    @property
    def safe_name(self) -> str:
        return self.record["nom_sur"]

    @property
    def data(self) -> Path:
        return self.folder / self.safe_name

    @property
    def received(self) -> str:
        return self.record["recu_le"]

    @property
    def source(self) -> Path:
        return Path(self.record["source"])

    def destination(self) -> Path | None:
        p = self.folder / DESTINATION
        return Path(p.read_text(encoding="utf-8")) if p.exists() else None

    def set_destination(self, dest: Path) -> None:
        write_atomic(self.folder / DESTINATION, str(dest))

    def changed(self) -> bool:
        """Whether the claimed file was still being written after the claim (its writer kept it open)."""
        st = os.lstat(self.data)
        return (st.st_size, st.st_mtime_ns) != (self.record["taille"], self.record["mtime_ns"])

    def refresh(self) -> None:
        """Record the file as it is now; it will be taken once it has stayed so for the stability delay."""
        st = os.lstat(self.data)
        self.record.setdefault("taille_prise", self.record["taille"])
        self.record.setdefault("mtime_ns_prise", self.record["mtime_ns"])
        self.record.update(taille=st.st_size, mtime_ns=st.st_mtime_ns, revu_le=time.time())
        write_atomic(self.folder / RECORD, json.dumps(self.record))

    @property
    def interrupted_reads(self) -> int:
        """How many runs died while reading and checking this file."""
        return self.record.get("lectures_interrompues", 0) + bool(self.record.get("lecture_en_cours"))

    @contextmanager
    def reading(self):
        """Mark the file as being read while the block runs. Cleared on the way out, exception or not: only
        a run that dies inside leaves the mark, for the next run to count."""
        self.record.update(lectures_interrompues=self.interrupted_reads, lecture_en_cours=True)
        write_atomic(self.folder / RECORD, json.dumps(self.record))
        try:
            yield
        finally:
            self.record["lecture_en_cours"] = False
            write_atomic(self.folder / RECORD, json.dumps(self.record))

    def settled_since(self) -> float:
        return max(self.record.get("revu_le", 0.0), self.record["mtime_ns"] / 1e9)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()  # the sender's folder, once empty
        except OSError:
            fsync_dir(self.folder.parent)


def _new_id() -> str:
    return f"{time.time_ns():020d}-{os.getpid()}-{next(_seq):04d}"


def take(candidate: Candidate, travail: Path, now: dt.datetime | None = None) -> Claim | None:
    """Move a ready file from its drop folder into a new claim folder. None when the file changed or went
    away since it was found ready (it will be looked at again on the next run).

    The reception time (`recu_le`) is the service's clock at the claim (`now`, the present by default),
    never the file's dates, which a sender's client sets at will (`put -p`); it is kept in the claim record,
    so a claim resumed by a later run keeps it."""
    dropped, seen = candidate.dropped, candidate.seen
    name = dropped.name
    folder = travail / dropped.sender / _new_id()
    make_dirs(folder.parent)
    os.mkdir(folder)
    os.chmod(folder, DIR_MODE)  # whatever the umask
    record = {
        "expediteur": dropped.sender,
        "nom": name,
        "nom_sur": safe_name(name),
        "source": str(dropped.path),
        "ino": seen.ino,
        "dev": seen.dev,
        "taille": seen.size,
        "mtime_ns": seen.mtime_ns,
        "recu_le": (now or dt.datetime.now()).isoformat(timespec="seconds"),
        "marqueur": str(candidate.marker) if candidate.marker else None,
        "marqueur_ino": os.lstat(candidate.marker).st_ino if candidate.marker and candidate.marker.exists() else None,
    }
    write_atomic(folder / RECORD, json.dumps(record))  # ensure_ascii: a name's stray bytes survive the trip
    fsync_dir(folder.parent)
    faults.point("prise_notee")
    claim = Claim(folder, record)
    try:  # the drop folder itself, never through a link (a sender folder swapped for a link to /etc)
        src_dir = open_folder(dropped.path.parent)
    except OSError:
        claim.remove()
        return None
    try:
        try:
            st = os.stat(name, dir_fd=src_dir, follow_symlinks=False)
        except OSError:
            st = None
        if st is None or (st.st_size, st.st_mtime_ns, st.st_ino) != (seen.size, seen.mtime_ns, seen.ino):
            claim.remove()
            return None
        try:
            os.rename(name, claim.data, src_dir_fd=src_dir)  # moves the entry itself: a link stays a link
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                claim.remove()
                raise
            _copy_in(dropped.path, claim)  # opens the original without following a link
        else:
            moved = os.lstat(claim.data)
            if not stat.S_ISREG(moved.st_mode) or (moved.st_ino, moved.st_dev) != (seen.ino, seen.dev):
                _give_back(claim, name, src_dir)  # swapped (for a link?) between the check and the rename
                return None
        fsync_dir(folder)
        os.fsync(src_dir)
    finally:
        os.close(src_dir)
    faults.point("prise_faite")
    _drop_leftovers(claim)
    return claim


def _give_back(claim: Claim, name: str, src_dir: int) -> None:
    """What was moved in is not the file found ready: put it back untouched (never read), drop the claim."""
    log.warning("depot_remplace %s", logs.fields(expediteur=claim.sender, nom=claim.safe_name, depot=claim.id))
    try:
        os.stat(name, dir_fd=src_dir, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(claim.data, name, dst_dir_fd=src_dir)
    claim.remove()


COPY = ".copie"  # a claim's copy across filesystems, while it is being made


def _copy_in(src: Path, claim: Claim) -> None:
    """Claim across filesystems: a whole copy first, then the original is removed. A failed copy (full
    disk) leaves nothing behind."""
    tmp = claim.folder / COPY
    copy_whole(src, tmp)
    os.rename(tmp, claim.data)
    fsync_dir(claim.folder)
    _drop_leftovers(claim)


def _same_file(path: Path, ino, dev=None, size=None, mtime_ns=None) -> bool:
    """Whether path is still that file: inode numbers are reused at once, so size and mtime count too
    (a sender writing again over the same name changes them)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_ino == ino and (dev is None or st.st_dev == dev) and (size is None or st.st_size == size)
            and (mtime_ns is None or st.st_mtime_ns == mtime_ns))


def _is_original(claim: Claim, path: Path) -> bool:
    rec = claim.record
    return _same_file(path, rec["ino"], rec["dev"], rec.get("taille_prise", rec["taille"]),
                      rec.get("mtime_ns_prise", rec["mtime_ns"]))


def _drop_leftovers(claim: Claim) -> None:
    """Once the claimed copy is whole: the original (after a copy across filesystems) and the marker go."""
    rec = claim.record
    if _is_original(claim, claim.source) and not _is_original(claim, claim.data):
        try:
            os.unlink(claim.source)
        except OSError:
            pass
    if rec.get("marqueur") and _same_file(Path(rec["marqueur"]), rec.get("marqueur_ino")):
        try:
            os.unlink(rec["marqueur"])
        except OSError:
            pass


def senders(travail: Path) -> list[str]:
    """The senders that have claim folders in travail/."""
    return sorted(p.name for p in travail.iterdir() if p.is_dir() and not p.is_symlink()) if travail.is_dir() else []


def pending(travail: Path, tidy: bool = True, only: Collection[str] | None = None) -> list[Claim]:
    """Claims left by earlier runs (or this one), oldest first (claim ids grow with time, whoever the sender); of
    the senders `only` when given. With `tidy` (only under the run lock, or holding those senders:
    store.take_sender), half-made claims are undone on the way; without it, nothing is touched (for `statut`)."""
    out = []
    if not travail.is_dir():
        return out
    for sender_dir in (travail / s for s in senders(travail) if only is None or s in only):
        if not sender_dir.is_dir() or sender_dir.is_symlink():
            continue
        for folder in sorted(p for p in sender_dir.iterdir() if p.is_dir()):
            rec_path = folder / RECORD
            try:
                record = json.loads(rec_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                if tidy:
                    shutil.rmtree(folder, ignore_errors=True)  # stopped before the claim was recorded
                continue
            claim = Claim(folder, record)
            if tidy and os.path.lexists(folder / COPY):  # a copy cut short by a crash
                os.unlink(folder / COPY)
            if not claim.data.exists() and _is_original(claim, claim.source):
                if tidy:
                    claim.remove()  # stopped before the file was moved: it is still in the drop folder
                continue
            if tidy and claim.data.exists():
                _drop_leftovers(claim)
            out.append(claim)
        if tidy:
            try:
                sender_dir.rmdir()  # only when empty
            except OSError:
                pass
    return sorted(out, key=lambda c: c.id)
