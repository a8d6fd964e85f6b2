"""Parsing the text of cells into values, vectorised over the distinct values of a column.

Columns such as dates, contracts or yes/no hold few distinct values even in a million-row file: each is
parsed once and the result mapped back, which keeps these checks cheap.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Callable

import numpy as np
import pandas as pd

from ..vocab import load_toml, normalize, pcs_reference

EXCEL_EPOCH = dt.date(1899, 12, 30)
_DMY = re.compile(r"(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_COMPACT = re.compile(r"(\d{2})(\d{2})(\d{4})")  # JJMMAAAA, as in the DSN
_SERIAL = re.compile(r"\d{4,5}(?:[.,]0+)?")


class Distinct:
    """The distinct values of a column and, for each row, the index of its value: work done per distinct
    value (parsing, lookups, tests) is spread back over the rows with `spread`."""

    def __init__(self, series: pd.Series) -> None:
        codes, uniques = pd.factorize(series, sort=False)
        self.values = [*uniques, ""]  # factorize gives -1 to missing values: the last slot
        # a few distinct values in a million rows: each row's index in one or two bytes, not eight
        self.codes = codes.astype(np.min_scalar_type(-len(self.values)), copy=False)

    def map(self, fn: Callable[[str], object]) -> np.ndarray:
        """fn of each distinct value (an object array, one item per distinct value)."""
        out = np.empty(len(self.values), dtype=object)
        out[:] = [fn(v) for v in self.values]
        return out

    def spread(self, per_value: np.ndarray) -> np.ndarray:
        return per_value[self.codes]


def repeated(value: object, n: int) -> np.ndarray:
    """An object array of n references to one value. np.full(n, text, dtype=object) makes n copies of a
    text (60 MB of 'entree' for a million rows), while fill() shares the one given."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def parse_date(text: str, today: dt.date | None = None) -> dt.date | None:
    """A date as people write it: JJ/MM/AAAA, JJ/MM/AA, AAAA-MM-JJ, JJMMAAAA, or an Excel serial number.
    None when the text is not a valid date ('' included)."""
    t = text.strip()
    if not t:
        return None
    try:
        if m := _DMY.fullmatch(t):
            d, mo, y = (int(g) for g in m.groups())
            if len(m.group(3)) == 2:
                pivot = (today or dt.date.today()).year % 100
                y += 2000 if y <= pivot else 1900
            return dt.date(y, mo, d)
        if m := _YMD.fullmatch(t):
            y, mo, d = (int(g) for g in m.groups())
            return dt.date(y, mo, d)
        if m := _COMPACT.fullmatch(t):
            d, mo, y = (int(g) for g in m.groups())
            return dt.date(y, mo, d)
        if _SERIAL.fullmatch(t):
            n = int(re.split(r"[.,]", t)[0])
            if 1 <= n <= 2958465:
                return EXCEL_EPOCH + dt.timedelta(days=n)
    except ValueError:
        return None
    return None


def dates(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ISO text or '' per row, empty mask, invalid mask)."""
    d = Distinct(series)
    parsed = d.map(parse_date)
    empty = d.spread(np.array([not v.strip() for v in d.values]))
    invalid = d.spread(np.array([p is None for p in parsed])) & ~empty
    iso = d.spread(np.array([p.isoformat() if p is not None else "" for p in parsed], dtype=object))
    return iso, empty, invalid


@cache
def _vocab_file(name: str) -> dict[str, str]:
    if name == "pcs_ese.csv":
        return {normalize(code): code for code in pcs_reference()}
    out = {}
    for code, spec in load_toml(name).items():
        for label in [code, spec["libelle"], *spec.get("alias", [])]:
            out[normalize(label)] = code
    return out


def vocab(spec: str | list[str] | tuple[str, ...]) -> dict[str, str]:
    """Normalized label or alias → code, from a reference list under schemas/ (contrats.toml, pcs_ese.csv…)
    or from a list of labels written in the catalogue (each its own code)."""
    if isinstance(spec, str):
        return _vocab_file(spec)
    return {normalize(label): label for label in spec}


def lookup(series: pd.Series | Distinct, name: str | list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes from a reference list (contrats.toml, categories.toml): (code or '', empty, unknown). Given the
    Distinct of a column rather than the column, several lookups of one column factorize it once."""
    known = vocab(name)
    return _coded(series, lambda v: known.get(normalize(v), None) if v.strip() else "")


def _coded(series: pd.Series | Distinct, fn: Callable[[str], str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code or '' per row, empty, unknown) where fn gives '' for empty and None for unknown values."""
    d = series if isinstance(series, Distinct) else Distinct(series)
    codes = d.map(fn)
    unknown = np.array([c is None for c in codes])
    empty = codes == ""
    codes[unknown] = ""
    return d.spread(codes), d.spread(empty), d.spread(unknown)


_YES = {"oui", "o", "x", "1", "vrai", "true", "yes", "y", "coche", "ok"}
_NO = {"non", "n", "0", "faux", "false", "no", "", "nc", "sans"}


def _yes_no(v: str) -> int | None:
    n = normalize(v)
    if n in _YES:
        return 1
    if n in _NO:
        return 0
    return None


def yes_no(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(1/0 per row, invalid mask); an empty cell is 'no'."""
    d = Distinct(series)
    parsed = d.map(_yes_no)
    invalid = np.array([p is None for p in parsed])
    parsed[invalid] = 0
    return d.spread(parsed.astype(np.int8)), d.spread(invalid)


MOVEMENTS = {
    "entree": "entree", "e": "entree", "embauche": "entree", "ajout": "entree", "arrivee": "entree",
    "nouveau": "entree", "creation": "entree", "entre": "entree",
    "sortie": "sortie", "s": "sortie", "depart": "sortie", "fin": "sortie", "findecontrat": "sortie",
    "suppression": "sortie",
    "modification": "modification", "m": "modification", "modif": "modification", "maj": "modification",
    "miseajour": "modification", "changement": "modification",
}


def movements(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """('entree' | 'sortie' | 'modification' | '' per row, empty, unknown)."""
    return _coded(series, lambda v: MOVEMENTS.get(normalize(v)) if v.strip() else "")
