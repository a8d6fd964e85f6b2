"""The drop folders: which files are ready, their fingerprint, and where originals go once taken."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

IGNORED_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".partial")
MARKER_SUFFIXES = (".ok", ".done")


@dataclass(frozen=True)
class Dropped:
    sender: str  # name of the sender's folder
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def is_candidate(path: Path) -> bool:
    name = path.name
    return (
        path.is_file()
        and not path.is_symlink()
        and not name.startswith(".")
        and not name.lower().endswith(IGNORED_SUFFIXES + MARKER_SUFFIXES)
        and not name.startswith("~$")  # Excel's lock file
    )


def scan(inbox: Path) -> list[Dropped]:
    """Files waiting in inbox/<sender>/, oldest first."""
    found = []
    if not inbox.is_dir():
        return found
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in folder.iterdir():
            if is_candidate(path):
                found.append(Dropped(folder.name, path))
    return sorted(found, key=lambda d: (d.path.stat().st_mtime, d.sender, d.name))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def received_at(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")


def _free_name(folder: Path, name: str, tag: str) -> Path:
    target = folder / name
    if not target.exists():
        return target
    p = Path(name)
    return folder / f"{p.stem}.{tag}{p.suffix}"


def move_to(path: Path, folder: Path, tag: str) -> Path:
    """Move a file into `folder`, never overwriting: a name already taken gets the tag (hash prefix)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder, path.name, tag)
    os.replace(path, target) if _same_fs(path, folder) else shutil.move(str(path), str(target))
    return target


def archive_folder(root: Path, sender: str, when: dt.datetime) -> Path:
    return root / sender / f"{when:%Y}" / f"{when:%m}"


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False
