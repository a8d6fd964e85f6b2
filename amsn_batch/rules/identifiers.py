"""Identifiers: NIR/INS (vectorised), SIRET and VAT numbers (python-stdnum), and how to mask a NIR."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Patterns use [0-9] and literal spaces rather than \d and \s, which would send pandas' Arrow strings
# through Python's re one value at a time instead of RE2 over the whole column.
NIR_SHAPE = r"[1278][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}"
_SCIENTIFIC = r"[0-9][.,][0-9]+E\+?[0-9]+"
SPACES = " \t\r\n\u00a0\u202f"
_CLEAN = f"[{SPACES}.\\-'’_]"


def normalize_nir(series: pd.Series) -> pd.Series:
    """Spaces, dots, dashes and a leading apostrophe removed; 2a → 2A."""
    return series.str.replace(_CLEAN, "", regex=True).str.upper()


def nir_check(raw: pd.Series) -> dict[str, np.ndarray]:
    """Masks for each way a NIR can be wrong, plus the normalized value.

    Keys: 'value' (normalized text), 'empty', 'scientific' (a spreadsheet turned it into 2,95109E+14),
    'no_key' (13 digits), 'shape' (any other malformed value), 'key' (well formed but wrong key).
    """
    stripped = raw.str.strip()
    value = normalize_nir(stripped)
    empty = (value == "").to_numpy()
    scientific = stripped.str.upper().str.fullmatch(_SCIENTIFIC).fillna(False).to_numpy(dtype=bool)
    well_formed = value.str.fullmatch(NIR_SHAPE).fillna(False).to_numpy(dtype=bool)
    no_key = ~well_formed & value.str.fullmatch(r"[1278][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}").fillna(False).to_numpy(dtype=bool)
    shape = ~(empty | scientific | well_formed | no_key)
    key_bad = np.zeros(len(raw), dtype=bool)
    if well_formed.any():
        ok = value[well_formed]
        body = ok.str.slice(0, 13).str.replace("2A", "19", regex=False).str.replace("2B", "18", regex=False)
        number = body.astype("int64").to_numpy()
        key = ok.str.slice(13, 15).astype("int64").to_numpy()
        key_bad[np.flatnonzero(well_formed)] = (97 - number % 97) != key
    return {
        "value": value.to_numpy(dtype=object),
        "empty": empty,
        "scientific": scientific,
        "no_key": no_key,
        "shape": shape,
        "key": key_bad,
    }


def mask_nir(value: object) -> str:
    """What a report may show of a NIR: sex, year and month of birth; the rest hidden."""
    text = str(value or "")
    if not text:
        return ""
    keep = 5 if len(text) > 8 else 1
    return text[:keep] + "*" * (len(text) - keep)


def siret_valid(value: str) -> bool:
    from stdnum.fr import siret

    return siret.is_valid(value)


def vat_valid(value: str) -> bool:
    from stdnum.fr import tva

    return tva.is_valid(value)


def vat_siren(value: str) -> str:
    """The SIREN a French VAT number is built from ('' if it has none, e.g. for some foreign companies)."""
    from stdnum.fr import tva

    v = tva.compact(value)  # without the FR prefix: 2-character key + SIREN
    return v[2:] if len(v) == 11 and v[:2].isdigit() else ""


def nir_part(values: np.ndarray, start: int, stop: int, mask: np.ndarray) -> np.ndarray:
    """Characters start:stop of each well-formed NIR ('' elsewhere)."""
    sliced = pd.Series(values, dtype="str").str.slice(start, stop)
    return np.where(mask, sliced.to_numpy(dtype=object), "").astype(object)


_MONTHS_OK = [f"{m:02d}" for m in [*range(1, 13), 20, *range(30, 43), *range(50, 100)]]


def nir_month_ok(months: np.ndarray) -> np.ndarray:
    """Month of birth in a NIR: 01–12, or 20, 30–42, 50–99 for incomplete civil-status records."""
    return pd.Series(months, dtype="str").isin(_MONTHS_OK).to_numpy()
