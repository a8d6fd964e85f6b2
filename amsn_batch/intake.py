"""The drop folders: which files are ready, their fingerprint, and where originals go once taken."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import math
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import logs
from .config import FILE_MODE, make_dirs
from .masking import scrub_name
from .rules.cells import BIDI_CHARS

log = logging.getLogger("amsn_batch")

IGNORED_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".partial")
MARKER_SUFFIXES = (".ok", ".done")


@dataclass(frozen=True)
class Dropped:
    sender: str  # name of the sender's folder
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


class NotRegular(OSError):
    """A path that is a link, a folder or a special file where a dropped file was expected."""


def open_regular(path: Path, dir_fd: int | None = None) -> int:
    """A file descriptor to read `path`, never through a link (O_NOFOLLOW on the last component; the folders
    above are the service's, or opened the same way by the caller and passed as `dir_fd`), checked to be a
    regular file on the open handle, so a swap between a check and the open cannot matter."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, "pas un fichier ordinaire", str(path))
    return fd


def open_folder(path: Path | str, dir_fd: int | None = None) -> int:
    """A file descriptor of a folder, never through a link."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def free_name(folder: Path, name: str, tag: str) -> Path:
    """`folder/name`, or `folder/<stem>.<tag><suffix>` when the name is taken."""
    target = folder / name
    if not target.exists():
        return target
    p = Path(name)
    return folder / f"{p.stem}.{tag}{p.suffix}"


def archive_folder(root: Path, sender: str, when: dt.datetime) -> Path:
    return root / sender / f"{when:%Y}" / f"{when:%m}"



# --- hostile names ---------------------------------------------------------------------------------------

NAME_MAX_BYTES = 200  # a longer name is refused: derived names (.ar.html, .raison.txt, tags) must fit in 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BIDI = re.compile(BIDI_CHARS)


def name_problem(name: str) -> str | None:
    """Why a dropped file's name cannot be used as is (French, for the acknowledgement), or None."""
    if _SURROGATE.search(name):
        return ("Le nom du fichier contient des octets qui ne forment pas des caractères (encodage autre que "
                "UTF-8). Renommez-le avec des lettres, des chiffres, des tirets ou des espaces.")
    if _CONTROL.search(name):
        return ("Le nom du fichier contient des caractères de contrôle invisibles (retour à la ligne, "
                "tabulation…). Renommez-le avec des lettres, des chiffres, des tirets ou des espaces.")
    if _BIDI.search(name):
        return ("Le nom du fichier contient un caractère invisible qui change le sens d'affichage du texte "
                "(il ferait paraître le nom autre qu'il n'est). Renommez-le avec des lettres, des chiffres, des "
                "tirets ou des espaces, sans copier-coller.")
    size = len(name.encode("utf-8"))
    if size > NAME_MAX_BYTES:
        return (f"Le nom du fichier est trop long ({size} octets, {NAME_MAX_BYTES} au plus). "
                "Donnez-lui un nom plus court.")
    return None


def safe_name(name: str) -> str:
    """The name to use for everything derived from a dropped file (store, acknowledgement, log, archive):
    control characters, bidi controls and bytes outside UTF-8 replaced by '_', anything shaped like a NIR
    masked (`masking.scrub_name`), cut to NAME_MAX_BYTES with its extension kept. A valid name without a NIR
    is returned unchanged."""
    clean = scrub_name(_BIDI.sub("_", _CONTROL.sub("_", _SURROGATE.sub("_", name)))).strip() or "_"
    if clean.startswith("."):
        clean = "_" + clean[1:]
    if len(clean.encode("utf-8")) <= NAME_MAX_BYTES:
        return clean
    p = Path(clean)
    suffix = p.suffix if len(p.suffix.encode("utf-8")) <= 16 else ""
    stem = clean[: len(clean) - len(suffix)]
    budget = NAME_MAX_BYTES - len(suffix.encode("utf-8")) - len("…".encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return f"{cut}…{suffix}"


# --- readiness: never take a half-written file ----------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What a file looked like when observed; any write, truncation, attribute change or rename shows."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    dev: int

    @classmethod
    def of(cls, path: Path) -> "Seen":
        st = os.lstat(path)
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)

    @property
    def last_change(self) -> float:
        """Seconds since the epoch of the last change: ctime moves with every write, truncation, setstat and
        rename, and no client can set it back (a client may set mtime to the past, with `put -p`)."""
        return max(self.mtime_ns, self.ctime_ns) / 1e9


@dataclass(frozen=True)
class Candidate:
    dropped: Dropped
    seen: Seen
    ready_at: float  # seconds since the epoch; inf: waits for a marker
    marker: Path | None  # the .ok/.done file that announced it, if any


@dataclass
class Survey:
    ready: list[Candidate] = field(default_factory=list)  # oldest first
    waiting: list[Candidate] = field(default_factory=list)
    ignored: list[tuple[Dropped, str]] = field(default_factory=list)  # (file, French reason)


def looks_complete(path: Path, size: int) -> bool:
    """Whether the end of the file looks like the end of a whole file: a workbook ends with its zip
    directory, an Excel 97 file with a full 512-byte sector, a text export with a line break.
    An upload cut halfway almost never does."""
    if size == 0:
        return False
    with os.fdopen(open_regular(path), "rb") as fh:
        head = fh.read(8)
        fh.seek(max(0, size - 65_557))  # the zip end record sits in the last 22 + 65 535 bytes
        tail = fh.read()
    if head.startswith(b"PK\x03\x04"):
        return b"PK\x05\x06" in tail
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return size % 512 == 0
    return tail.endswith((b"\n", b"\r", b"\n\x00", b"\x00\n", b"\r\x00", b"\x00\r"))


def marker_for(path: Path, file_seen: Seen) -> Path | None:
    """`<name>.ok` or `<name>.done` written after the file's last write: the sender says it is whole."""
    for suffix in MARKER_SUFFIXES:
        for variant in (suffix, suffix.upper()):
            m = path.with_name(path.name + variant)
            try:
                st = os.lstat(m)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_mtime_ns >= file_seen.mtime_ns:
                return m
    return None


def _ignore_reason(path: Path) -> str | None:
    name = path.name
    if path.is_symlink():
        return "lien symbolique (jamais suivi)"
    if path.is_dir():
        return "sous-dossier (seuls les fichiers déposés directement sont lus)"
    if not path.is_file():
        return "fichier spécial"
    if name.startswith("."):
        return "fichier caché (dépôt en cours)"
    if name.lower().endswith(IGNORED_SUFFIXES):
        return "fichier temporaire (dépôt en cours)"
    if name.lower().endswith(MARKER_SUFFIXES):
        return "marqueur de fin de dépôt"
    if name.startswith("~$"):
        return "fichier de verrouillage d'Excel"
    return None


def survey(inbox: Path, rules, now: float | None = None, sftp_root: Path | None = None) -> Survey:
    """Every entry of inbox/<sender>/, sorted into ready, waiting (still changing, or waiting for its
    marker) and ignored. `rules` is the [depot] settings (config.Intake).

    No link is followed: a sender folder that is a link is ignored, except the service's own wiring of an
    SFTP account (`amsn-batch sftp ajouter`: inbox/X → <sftp_root>/X/depot), whose files are then found at
    their real place."""
    now = time.time() if now is None else now
    out = Survey()
    if not inbox.is_dir():
        return out
    for folder in sorted(p for p in inbox.iterdir() if not p.name.startswith(".")):
        sender = folder.name
        if folder.is_symlink():
            wired = sftp_root / folder.name / "depot" if sftp_root is not None else None
            try:
                target = Path(os.readlink(folder))
            except OSError:
                continue
            if wired is None or target != wired:  # never read, never taken from: it could point anywhere (/etc)
                log.warning("dossier_lien_ignore %s", logs.fields(expediteur=folder.name))
                out.ignored.append((Dropped(folder.name, folder), "dossier d'expéditeur en lien symbolique (jamais suivi)"))
                continue
            folder = target  # the sender's SFTP drop folder, in its chroot
        try:
            fd = open_folder(folder)
        except OSError:  # not a folder, or swapped for a link since
            continue
        try:
            entries = [folder / name for name in os.listdir(fd)]
        except OSError:
            continue
        finally:
            os.close(fd)
        for path in entries:
            dropped = Dropped(sender, path)
            reason = _ignore_reason(path)
            if reason:
                out.ignored.append((dropped, reason))
                continue
            try:
                seen = Seen.of(path)
                marker = marker_for(path, seen)
                if marker is not None:
                    ready_at = 0.0
                elif rules.marker_required:
                    ready_at = math.inf
                else:
                    delay = rules.stable_seconds
                    if delay > 0 and not looks_complete(path, seen.size):
                        delay = max(delay, rules.incomplete_seconds)
                    ready_at = seen.last_change + delay if delay > 0 else 0.0
            except OSError:  # gone or unreadable meanwhile: next time
                continue
            cand = Candidate(dropped, seen, ready_at, marker)
            (out.ready if ready_at <= now else out.waiting).append(cand)
    out.ready.sort(key=lambda c: (c.seen.mtime_ns, c.dropped.sender, c.dropped.name))
    out.waiting.sort(key=lambda c: (c.ready_at, c.dropped.sender, c.dropped.name))
    return out


# --- durable moves ---------------------------------------------------------------------------------------


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def move_durably(src: Path, dest: Path) -> None:
    """Move src to dest (a name chosen free beforehand) so that a crash at any instant leaves the whole file
    at one of the two places, or both (then dest is whole and src is removed on the next call). dest gets
    FILE_MODE whatever the mode src had; a partial copy (full disk, crash) is removed, now or on the next call."""
    make_dirs(dest.parent)
    tmp = dest.with_name(f".{dest.name}.copie")
    if os.path.lexists(tmp):  # a copy cut short by a crash
        os.unlink(tmp)
    if os.path.lexists(dest) and os.path.lexists(src):  # a crash after the copy's rename: finish the job
        os.unlink(src)
        fsync_dir(src.parent)
        return
    try:
        os.rename(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        copy_whole(src, tmp)
        os.rename(tmp, dest)
        fsync_dir(dest.parent)
        os.unlink(src)
    set_mode(dest)
    fsync_dir(dest.parent)
    fsync_dir(src.parent)


def copy_whole(src: Path, tmp: Path) -> None:
    """Copy src (a regular file, not through a link) to tmp (FILE_MODE), on disk when it returns; on any
    failure (a full disk) nothing is left at tmp."""
    try:
        with os.fdopen(open_regular(src), "rb") as fin:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
            with os.fdopen(fd, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
                st = os.fstat(fin.fileno())
                os.utime(fout.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
                os.fchmod(fout.fileno(), FILE_MODE)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def set_mode(path: Path, mode: int = FILE_MODE) -> None:
    """Give an archived file its mode, never through a link. A file still owned by the sender's SFTP account
    cannot be changed by the service (EPERM): it keeps the mode of its upload, in the service's 0750 folders."""
    try:
        fd = open_regular(path)
    except OSError:
        return
    try:
        os.fchmod(fd, mode)
    except PermissionError:
        pass
    finally:
        os.close(fd)

