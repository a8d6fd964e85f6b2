"""French formats and safe cells, shared by every report."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

from .config import FILE_MODE, make_dirs

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise a value a spreadsheet would run as a formula (CSV/formula injection): prefix with '.
    For CSV: an XLSX cell is rather written as a string cell with the quote-prefix style (reports.rejects),
    so that the spreadsheet shows and saves the value itself. Undone on reading: `unprotect`."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# The apostrophe safe_cell adds: directly followed by what would start a formula.
PROTECTION = re.compile(r"^'(?=[=+\-@\t\r])")


def unprotect(value: str) -> str:
    """A value as it was before `safe_cell` protected it: a leading apostrophe directly followed by =, +, -, @,
    a tab or a carriage return is removed (a file the product wrote, or a value kept with its apostrophe by a
    spreadsheet, sent back)."""
    return PROTECTION.sub("", value, count=1)


def unprotect_columns(frame) -> None:
    """`unprotect` over every column of a frame of text cells, in place. A column is first screened with the
    vectorised `startswith` (a few milliseconds per 100,000 cells): almost no column has a cell starting with '."""
    for name in frame.columns:
        column = frame[name]
        starts = column.str.startswith("'").to_numpy(dtype=bool)
        if starts.any():
            frame.loc[starts, name] = column[starts].map(unprotect)


def date_fr(value: str | dt.date | dt.datetime | None) -> str:
    """2021-08-17 → 17/08/2021 (and keeps the time for a timestamp)."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y à %H:%M")
    return value.strftime("%d/%m/%Y")


def number_fr(n: int | float) -> str:
    """1234567 → '1 234 567' (narrow no-break space, as in French typography)."""
    return f"{n:,}".replace(",", "\u202f")


def percent_fr(ratio: float, decimals: int = 1) -> str:
    """0.125 → '12,5 %' (no-break space before %); whole values without decimals: 1.0 → '100 %'."""
    value = round(ratio * 100, decimals)
    text = f"{value:.{decimals}f}".replace(".", ",")
    if decimals and text.endswith("," + "0" * decimals):
        text = text[: -(decimals + 1)]
    return f"{text}\u00a0%"


def money_fr(amount: Decimal | int | str) -> str:
    """Decimal('1234.5') → '1 234,50 €'."""
    q = Decimal(amount).quantize(Decimal("0.01"))
    sign = "-" if q < 0 else ""
    whole, cents = f"{abs(q):.2f}".split(".")
    return f"{sign}{int(whole):,}".replace(",", "\u202f") + f",{cents}\u00a0€"


def write_atomic(path: Path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Write to a temporary name then rename, so a reader never sees half a file; a failed write leaves the
    earlier file as it was and no temporary file behind. The file gets FILE_MODE (its folders DIR_MODE)
    whatever the umask; a link at the temporary name is not followed."""
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        try:
            os.unlink(tmp)  # left by a stopped run; never written through
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data if isinstance(data, bytes) else data.encode(encoding))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # not a file of ours (e.g. a folder by that name)
            pass
        raise
