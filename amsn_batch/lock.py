"""One run at a time: an advisory lock (flock) on travail/.verrou, released by the kernel however the run
ends, SIGKILL and power cuts included. The file says who holds it, for the message and for `statut`."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from .config import FILE_MODE, make_dirs

LOCK_NAME = ".verrou"


class AlreadyRunning(Exception):
    """Another run holds the lock (French message)."""


def _holder_text(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def describe_holder(text: str) -> str:
    """"<pid> <ISO start>" as shown: "processus 123, depuis le 30/11/2026 à 16:46:00"."""
    parts = text.split(" ", 1)
    if len(parts) == 2 and parts[0].isdigit():
        try:
            since = dt.datetime.fromisoformat(parts[1]).strftime("%d/%m/%Y à %H:%M:%S")
        except ValueError:
            since = parts[1]
        return f"processus {parts[0]}, depuis le {since}"
    return "processus inconnu"


@contextmanager
def hold(path: Path):
    """Take the lock or raise AlreadyRunning at once (never waits)."""
    make_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    if os.fstat(fd).st_mode & 0o777 != FILE_MODE:  # the umask filtered it
        os.fchmod(fd, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"un traitement est déjà en cours ({describe_holder(_holder_text(fd))}). "
                "Celui-ci s'arrête sans rien faire ; les fichiers seront pris par le traitement en cours ou le suivant."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {dt.datetime.now().isoformat(timespec='seconds')}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # a clean end leaves an empty file; a killed run leaves its pid
    finally:
        os.close(fd)


def holder(path: Path) -> str | None:
    """Who runs now ('processus 123, depuis le …'), or None. Never takes the lock (a run starting at this
    instant must not be turned away by a mere look)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    parts = text.split(" ", 1)
    if not text or not parts[0].isdigit():
        return None
    try:
        cmdline = Path(f"/proc/{parts[0]}/cmdline").read_bytes()
    except OSError:
        return None  # the run that wrote it is gone (killed): nobody runs
    return describe_holder(text) if b"amsn" in cmdline else None
