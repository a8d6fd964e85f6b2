"""Screening of the cells of any file: lines holding invisible control characters (tabs and line breaks
inside a cell are fine), bidirectional text controls (they make a value display as something else: a name
shown reversed or reordered), undecodable characters (U+FFFD: bytes valid in no encoding, see
read.table.decode_lines), accents encoded twice (« Ã© » for « é ») or a value too long to be a real one are
refused: nothing is stored garbled. A file whose lines were in two encodings gets a warning, and so do the
total and page-footer lines the reader skipped at the end of the table (read.table._without_footer)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..read.arrow import byte_set, holds_any, string_buffers, string_chunks
from ..read.table import MOJIBAKE, Table
from ..formats import number_fr
from .catalogue import Findings

_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_BYTES = byte_set([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
BIDI_CHARS = "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"  # embeddings, overrides, isolates, marks
_UNDECODABLE = "\ufffd"
_UNICODE_BYTES = byte_set([0xE2, 0xD8, 0xEF])  # first UTF-8 byte of each bidi control and of U+FFFD
LISTED_LINES = 10


def hostile_cells(table: Table, findings: Findings, max_chars: int) -> list[int]:
    """Add the findings CARACTERE_CONTROLE, CARACTERE_BIDI, CARACTERE_ILLISIBLE, DOUBLE_ENCODAGE,
    VALEUR_TROP_LONGUE, ENCODAGE_MIXTE and LIGNE_TOTAL_IGNOREE; returns the positions of the refused rows."""
    _skipped_footer(table, findings)
    if not len(table):
        return []
    _mixed_encodings(table, findings)
    found: dict[str, dict[int, tuple[str, str]]] = {code: {} for code in REFUSED_CHARS}
    too_long: dict[int, tuple[str, int]] = {}
    mojibake = bool(table.details.get("double_encodage"))
    for header in table.headers:
        col = table.frame[header].astype(str)
        suspect_long, suspect_control, suspect_unicode = _byte_screen(col, max_chars)
        if suspect_long:
            lengths = col.str.len().to_numpy()
            for pos in np.flatnonzero(lengths > max_chars):
                too_long.setdefault(int(pos), (header, int(lengths[pos])))
        for code, (chars, screened) in REFUSED_CHARS.items():
            if screened == "control" and suspect_control or screened == "unicode" and suspect_unicode \
                    or screened == "mojibake" and mojibake:
                _find(col, header, chars, found[code], as_code_point=screened != "mojibake")
    for code, rows in found.items():
        if rows:
            pos = np.array(sorted(rows), dtype=np.int64)
            findings.add_rows(code, pos, None, "", colonne=[rows[p][0] for p in pos], caractere=[rows[p][1] for p in pos])
    if too_long:
        pos = np.array(sorted(too_long), dtype=np.int64)
        findings.add_rows("VALEUR_TROP_LONGUE", pos, None, "", colonne=[too_long[p][0] for p in pos],
                          longueur=[number_fr(too_long[p][1]) for p in pos], limite=number_fr(max_chars))
    return sorted({p for rows in found.values() for p in rows} | set(too_long))


# code → (characters refused in a cell, which byte screen may see them)
REFUSED_CHARS = {
    "CARACTERE_CONTROLE": (_CONTROL_CHARS, "control"),
    "CARACTERE_BIDI": (BIDI_CHARS, "unicode"),
    "CARACTERE_ILLISIBLE": (_UNDECODABLE, "unicode"),
    "DOUBLE_ENCODAGE": (MOJIBAKE, "mojibake"),
}


def _mixed_encodings(table: Table, findings: Findings) -> None:
    """A warning when the file's lines were in two encodings (read.table.decode_lines): which lines were in
    Windows-1252, so that the sender checks their accents and saves the whole file in one encoding."""
    lines = table.details.get("lignes_cp1252") or []
    if lines:
        listed = ", ".join(str(n) for n in lines[:LISTED_LINES]) + (" …" if len(lines) > LISTED_LINES else "")
        findings.add_file("ENCODAGE_MIXTE", nombre=number_fr(len(lines)), lignes=listed)


FOOTER_TEXT_CHARS = 60


def _skipped_footer(table: Table, findings: Findings) -> None:
    """One warning naming the total or page-footer lines skipped at the end of the table, and what they say."""
    if not table.footer:
        return
    numbers = [str(line) for line, _ in table.footer]
    lines = f"Ligne {numbers[0]}" if len(numbers) == 1 else f"Lignes {', '.join(numbers[:-1])} et {numbers[-1]}"
    texts = ", ".join(f"« {t if len(t) <= FOOTER_TEXT_CHARS else t[:FOOTER_TEXT_CHARS] + '…'} »" for _, t in table.footer)
    findings.add_file("LIGNE_TOTAL_IGNOREE", lignes=f"{lines} ({texts})")


def _find(col: pd.Series, header: str, chars: str, found: dict[int, tuple[str, str]], as_code_point: bool = True) -> None:
    """Record (column, first such character as U+XXXX, or the text found) for each row of the column holding
    one of `chars` (a regular expression)."""
    mask = col.str.contains(chars, regex=True).fillna(False).to_numpy(dtype=bool)
    if mask.any():
        first = col[mask].str.extract(f"({chars})", expand=False)
        for pos, text in zip(np.flatnonzero(mask), first):
            found.setdefault(int(pos), (header, f"U+{ord(text):04X}" if as_code_point else text))


def _byte_screen(col: pd.Series, max_chars: int) -> tuple[bool, bool, bool]:
    """(may hold a value longer than max_chars, may hold a control character, may hold a bidi control or
    U+FFFD), read from the bytes of the column's Arrow buffers: a cheap screen before the per-value checks,
    which only run when it says maybe."""
    chunks = string_chunks(col)
    if not chunks:
        return True, True, True
    long_, ctrl, bidi = False, False, False
    for arr in chunks:
        if len(arr):
            long_ |= int(np.diff(string_buffers(arr)[0]).max()) > max_chars  # bytes ≥ characters
            ctrl |= holds_any(arr, _CONTROL_BYTES)
            bidi |= holds_any(arr, _UNICODE_BYTES)
    return long_, ctrl, bidi
