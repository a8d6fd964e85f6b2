"""The drop folders: which files are ready, their fingerprint, and where originals go once taken."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import math
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from .masking import scrub_name
from .rules.cells import BIDI_CHARS

IGNORED_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".partial")
MARKER_SUFFIXES = (".ok", ".done")


@dataclass(frozen=True)
class Dropped:
    sender: str  # name of the sender's folder
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def received_at(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")


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
    with open(path, "rb") as fh:
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


def survey(inbox: Path, rules, now: float | None = None) -> Survey:
    """Every entry of inbox/<sender>/, sorted into ready, waiting (still changing, or waiting for its
    marker) and ignored. `rules` is the [depot] settings (config.Intake)."""
    now = time.time() if now is None else now
    out = Survey()
    if not inbox.is_dir():
        return out
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            dropped = Dropped(folder.name, path)
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
    at one of the two places, or both (then dest is whole and src is removed on the next call)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dest) and os.path.lexists(src):  # a crash after the copy's rename: finish the job
        os.unlink(src)
        fsync_dir(src.parent)
        return
    try:
        os.rename(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = dest.with_name(f".{dest.name}.copie")
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp)
        os.rename(tmp, dest)
        fsync_dir(dest.parent)
        os.unlink(src)
    fsync_dir(dest.parent)
    fsync_dir(src.parent)

