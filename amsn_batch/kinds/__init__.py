"""The kinds of incoming file, as plug-ins. Each module of this package describes one kind (see base.Kind);
`detect` picks the kind of a dropped file. To add a kind: write its module, then add it to KINDS below
(before EMPLOYEES, which takes any file no other kind recognises, unreadable ones included)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..config import Limits
from ..read import UnreadableFile
from ..read.kind import head_rows
from .base import Checked, Kind
from .cancellation import CANCELLATION
from .declaration import DECLARATION
from .dsn import DSN
from .employees import EMPLOYEES
from .fiche import FICHE
from .visit_request import VISIT_REQUEST

KINDS: tuple[Kind, ...] = (DSN, DECLARATION, FICHE, VISIT_REQUEST, CANCELLATION, EMPLOYEES)
DEFAULT = EMPLOYEES


def detect(path: Path, limits: Limits | None = None) -> Kind:
    """The first kind that recognises the file's first rows; the default one when none does or the file
    cannot be read (its checks report that)."""
    try:
        rows = head_rows(path, limits or Limits())
    except (UnreadableFile, UnicodeDecodeError, OSError, ValueError, csv.Error):
        return DEFAULT
    except Exception:  # calamine's own errors for damaged workbooks
        return DEFAULT
    return next((k for k in KINDS if k is not DEFAULT and k.recognises(rows)), DEFAULT)


def by_name(name: str) -> Kind:
    return next(k for k in KINDS if k.name == name)


__all__ = ["DEFAULT", "KINDS", "Checked", "Kind", "by_name", "detect"]
