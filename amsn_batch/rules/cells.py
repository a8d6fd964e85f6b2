"""Screening of the cells of any file: lines holding invisible control characters (tabs and line breaks
inside a cell are fine) or a value too long to be a real one are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..read.arrow import byte_set, holds_any, string_buffers, string_chunks
from ..read.table import Table
from ..reports.formats import number_fr
from .catalogue import Findings

_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_BYTES = byte_set([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])


def hostile_cells(table: Table, findings: Findings, max_chars: int) -> list[int]:
    """Add the findings CARACTERE_CONTROLE and VALEUR_TROP_LONGUE; returns the positions of the refused rows."""
    if not len(table):
        return []
    control: dict[int, tuple[str, str]] = {}
    too_long: dict[int, tuple[str, int]] = {}
    for header in table.headers:
        col = table.frame[header].astype(str)
        suspect_long, suspect_control = _byte_screen(col, max_chars)
        if suspect_long:
            lengths = col.str.len().to_numpy()
            for pos in np.flatnonzero(lengths > max_chars):
                too_long.setdefault(int(pos), (header, int(lengths[pos])))
        if suspect_control:
            mask = col.str.contains(_CONTROL_CHARS, regex=True).fillna(False).to_numpy(dtype=bool)
            if mask.any():
                found = col[mask].str.extract(f"({_CONTROL_CHARS})", expand=False)
                for pos, char in zip(np.flatnonzero(mask), found):
                    control.setdefault(int(pos), (header, f"U+{ord(char):04X}"))
    if control:
        pos = np.array(sorted(control), dtype=np.int64)
        findings.add_rows("CARACTERE_CONTROLE", pos, None, "",
                          colonne=[control[p][0] for p in pos], caractere=[control[p][1] for p in pos])
    if too_long:
        pos = np.array(sorted(too_long), dtype=np.int64)
        findings.add_rows("VALEUR_TROP_LONGUE", pos, None, "", colonne=[too_long[p][0] for p in pos],
                          longueur=[number_fr(too_long[p][1]) for p in pos], limite=number_fr(max_chars))
    return list(control) + list(too_long)


def _byte_screen(col: pd.Series, max_chars: int) -> tuple[bool, bool]:
    """(may hold a value longer than max_chars, may hold a control character), read from the bytes of the
    column's Arrow buffers: a cheap screen before the per-value checks, which only run when it says maybe."""
    chunks = string_chunks(col)
    if not chunks:
        return True, True
    long_, ctrl = False, False
    for arr in chunks:
        if len(arr):
            long_ |= int(np.diff(string_buffers(arr)[0]).max()) > max_chars  # bytes ≥ characters
            ctrl |= holds_any(arr, _CONTROL_BYTES)
    return long_, ctrl
