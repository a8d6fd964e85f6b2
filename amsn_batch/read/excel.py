"""Workbooks (XLSX, XLSM, XLS, ODS) through python-calamine, every cell turned into the text a person sees.

A workbook comes from a sender and may be hostile: an XLSX's sheets are first measured from their XML
(guard.check_sheets, before anything is allocated), then the workbook is read by a child process under a
memory limit (sheets.py), so that no workbook can abort or exhaust the run that reads it."""

from __future__ import annotations

import marshal
import signal
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from . import sheets
from .guard import check_sheets, thousands
from .sheets import cell_text, row_text
from .errors import XLSX_MAGIC, UnreadableFile

__all__ = ["cell_text", "column_text", "read_workbook", "row_text"]

READ_TIMEOUT = 900  # seconds: a workbook that takes longer to read is refused

_RESAVE = ("Ouvrez-le dans Excel, vérifiez qu'il n'est pas protégé par un mot de passe et enregistrez-le à "
           "nouveau au format XLSX.")


def column_text(column: tuple) -> tuple | list:
    """A column's cells as text; a column of text cells only (the usual case) is returned as it is."""
    if set(map(type, column)) <= {str}:
        return column
    return [v if type(v) is str else cell_text(v) for v in column]


def read_workbook(path: Path, max_rows: int, max_columns: int, max_memory_bytes: int) -> list[tuple[str, list[list]]]:
    """Every sheet as rows of text cells. The last workbook read is kept (same path, size and time), refusal
    included: one file is looked at several times in a run (its kind, its checks, its correction workbook)
    but read once. Callers must not change the rows."""
    st = path.stat()
    outcome = _read_once(str(path), st.st_size, st.st_mtime_ns, max_rows, max_columns, max_memory_bytes)
    if isinstance(outcome, UnreadableFile):
        raise outcome
    return outcome


def _mo(n: int) -> str:
    return f"{n / 1048576:.0f} Mo"


def _too_big(sheet: str, max_rows: int, max_columns: int) -> UnreadableFile:
    return UnreadableFile(
        f"La feuille « {sheet} » dépasse les limites ({thousands(max_rows)} lignes, {max_columns} colonnes). "
        "Découpez le fichier."
    )


@lru_cache(maxsize=1)
def _read_once(*args) -> list[tuple[str, list[list]]] | UnreadableFile:
    try:
        return _read_workbook(*args)
    except UnreadableFile as exc:
        return exc


def _read_workbook(path: str, _size: int, _mtime_ns: int, max_rows: int, max_columns: int,
                   max_memory_bytes: int) -> list[tuple[str, list[list]]]:
    cmd = [sys.executable, "-I", sheets.__file__, path, str(max_rows), str(max_columns), str(max_memory_bytes)]
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:  # the sheets are measured while the child reads them (its memory is capped meanwhile)
        with open(path, "rb") as fh:
            if fh.read(4) == XLSX_MAGIC:
                check_sheets(Path(path), max_rows, max_columns)
        out, _ = child.communicate(timeout=READ_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise UnreadableFile(
            f"La lecture du classeur a duré plus de {READ_TIMEOUT // 60} minutes : il est refusé. " + _RESAVE
        ) from exc
    finally:
        if child.returncode is None:
            child.kill()
            child.communicate()
    if child.returncode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV, sheets.EXIT_MEMORY):
        raise UnreadableFile(
            f"La lecture du classeur demande plus de mémoire que la limite de {_mo(max_memory_bytes)} : il est "
            "refusé. Vérifiez qu'aucune cellule n'est remplie loin en dessous ou à droite des données (Ctrl+Fin "
            "dans Excel), supprimez les lignes et colonnes vides au-delà, ou découpez le fichier."
        )
    try:
        outcome = marshal.loads(out) if child.returncode == 0 else None
    except (EOFError, ValueError, TypeError):
        outcome = None
    if not outcome or outcome[0] == "illisible":
        raise UnreadableFile(f"Classeur illisible ({outcome[1] if outcome else 'lecture interrompue'}). " + _RESAVE)
    if outcome[0] == "trop_grand":
        raise _too_big(outcome[1], max_rows, max_columns)
    return outcome[1]
