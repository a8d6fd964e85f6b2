"""Finding a dropped file's acknowledgement in an outbox folder: every received file has its own files,
<stem>.recu-<AAAAMMJJ-HHMMSS>.<id>.ar.csv/.json/.html (and .rejets.xlsx), see amsn_batch.reports.ack; a dry run
writes <stem>.ar.*."""

from __future__ import annotations

import re
from pathlib import Path

TOKEN = r"\.recu-\d{8}-\d{6}\.[a-z]{6}"


def ack_paths(folder: Path, stem: str, ext: str = "ar.json") -> list[Path]:
    """The `ext` files (ar.json, ar.csv, ar.html, rejets.xlsx) of every answer to a file of that stem, oldest
    written first."""
    pattern = re.compile(rf"{re.escape(stem)}(?:{TOKEN})?\.{re.escape(ext)}")
    found = [p for p in folder.iterdir() if pattern.fullmatch(p.name)] if folder.is_dir() else []
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def ack_path(folder: Path, stem: str, ext: str = "ar.json", nth: int = -1) -> Path:
    """The `ext` file of the latest answer to a file of that stem (`nth`: another one, in writing order);
    a path that does not exist when there is none."""
    found = ack_paths(folder, stem, ext)
    return found[nth] if found else folder / f"{stem}.{ext}"


def stem_of(name: str) -> str:
    """The stem of the dropped file an acknowledgement file answers (its name without token and suffix)."""
    return re.sub(rf"(?:{TOKEN})?\.(?:ar\.csv|ar\.json|ar\.html|rejets\.xlsx)$", "", name)


def plain_name(name: str) -> str:
    """An acknowledgement file's name without its date and id: paie.recu-20261130-091500.kqzvbm.ar.csv → paie.ar.csv."""
    return re.sub(TOKEN + r"(?=\.(?:ar\.csv|ar\.json|ar\.html|rejets\.xlsx)$)", "", name)
