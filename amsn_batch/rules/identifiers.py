"""Identifiers: NIR/INS (vectorised), SIRET and VAT numbers (python-stdnum). Masking a NIR: `masking`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..read.arrow import arrow_strings, string_buffers

# Patterns use [0-9] and literal spaces rather than \d and \s, which would send pandas' Arrow strings
# through Python's re one value at a time instead of RE2 over the whole column.
NIR_SHAPE = r"[1278][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}"
_SCIENTIFIC = r"[0-9][.,][0-9]+E\+?[0-9]+"
SPACES = " \t\r\n\u00a0\u202f"
_CLEAN = f"[{SPACES}.\\-'’_]"


def arrow_text(values) -> pa.Array:
    """A text column as an Arrow string array ('' for missing), without copying when it already is one."""
    arr = arrow_strings(values)
    if arr is None:
        try:
            arr = pa.array(values.array if isinstance(values, pd.Series) else values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array([None if v is None or v != v else str(v) for v in values], type=pa.string())
    if isinstance(arr, pa.ChunkedArray):  # as read from a file: the kernels' masks (replace_with_mask) want one array
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return pc.fill_null(arr, "") if arr.null_count else arr


def _full(arr: pa.Array, pattern: str, ignore_case: bool = False) -> np.ndarray:
    return pc.match_substring_regex(arr, f"^(?:{pattern})$", ignore_case=ignore_case).to_numpy(zero_copy_only=False)


def _char_matrix(arr: pa.Array, width: int) -> np.ndarray:
    """The bytes of an Arrow string array whose values are all `width` ASCII characters, as an (n, width)
    uint8 matrix viewed straight from Arrow's buffer (one value after the other), for digit arithmetic."""
    arr = pa.concat_arrays(arr.chunks) if isinstance(arr, pa.ChunkedArray) else arr
    offsets, data = string_buffers(arr)
    return data[offsets[0]:offsets[0] + width * len(arr)].reshape(len(arr), width)


def _number(digits: np.ndarray) -> np.ndarray:
    out = np.zeros(len(digits), dtype=np.int64)
    for i in range(digits.shape[1]):
        out = out * 10 + digits[:, i].astype(np.int64)
    return out


def nir_check(raw: pd.Series) -> dict[str, np.ndarray]:
    """Masks for each way a NIR can be wrong, plus the normalized value and its parts.

    Keys: 'value' (normalized text, Arrow: a million NIRs are not a million Python texts), 'empty',
    'scientific' (a spreadsheet turned it into 2,95109E+14), 'no_key' (13 digits), 'shape' (any other malformed value), 'key' (well formed but wrong key); and for
    well-formed values (0 elsewhere): 'sex' (first digit), 'year' and 'month' (of birth, digits 2–3 and
    4–5), 'order' (digits 11–13), 'ident' (one integer per distinct NIR, Corsica included, for fast matching). Computed with Arrow kernels over the whole column, then digit arithmetic on the well-formed ones.
    """
    stripped = pc.ascii_trim_whitespace(arrow_text(raw))  # other spaces (no-break…) are in _CLEAN
    dirty = pc.match_substring_regex(stripped, _CLEAN)  # spaces, dots…: most values have none
    value = stripped
    if pc.any(dirty).as_py():
        value = pc.replace_with_mask(stripped, dirty, pc.replace_substring_regex(pc.filter(stripped, dirty), _CLEAN, ""))
    value = pc.ascii_upper(value)  # only 2a/2b matter: a value with other letters is malformed anyway
    n = len(value)
    empty = pc.equal(value, "").to_numpy(zero_copy_only=False)
    well_formed = _full(value, NIR_SHAPE)
    scientific, no_key = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    odd = np.flatnonzero(~well_formed & ~empty)  # the other checks only look at the few malformed values
    if len(odd):
        take = pa.array(odd)
        scientific[odd] = _full(stripped.take(take), _SCIENTIFIC, ignore_case=True)
        no_key[odd] = _full(value.take(take), r"[1278][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}")
    shape = ~(empty | scientific | well_formed | no_key)
    key_bad = np.zeros(n, dtype=bool)
    sex, year, month, order, ident = (np.zeros(n, dtype=np.int64) for _ in range(5))
    pos = np.flatnonzero(well_formed)
    if len(pos):
        chars = _char_matrix(pc.filter(value, pa.array(well_formed)), 15)
        digits = chars - np.uint8(ord("0"))  # the two Corsica letters aside, all digits (NIR_SHAPE)
        head, tail, key = _number(digits[:, 0:5]), _number(digits[:, 7:13]), _number(digits[:, 13:15])
        letter = chars[:, 6]
        dept = _number(digits[:, 5:7])
        number = (head * 100 + np.where(letter == ord("A"), 19, np.where(letter == ord("B"), 18, dept))) * 1_000_000 + tail
        key_bad[pos] = (97 - number % 97) != key  # 2A → 19, 2B → 18 for the key
        sex[pos] = digits[:, 0]
        year[pos] = _number(digits[:, 1:3])
        month[pos] = _number(digits[:, 3:5])
        order[pos] = _number(digits[:, 10:13])
        corsica = np.where(letter == ord("A"), 100, np.where(letter == ord("B"), 101, dept))  # apart from 19, 18
        ident[pos] = ((head * 1000 + corsica) * 1_000_000 + tail) * 100 + key
    return {
        "value": value,
        "empty": empty,
        "scientific": scientific,
        "no_key": no_key,
        "shape": shape,
        "key": key_bad,
        "sex": sex,
        "year": year,
        "month": month,
        "order": order,
        "ident": ident,
    }


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


def nir_month_ok(months: np.ndarray) -> np.ndarray:
    """Month of birth in a NIR: 01–12, or 20, 30–42, 50–99 for incomplete civil-status records."""
    return ((months >= 1) & (months <= 12)) | (months == 20) | ((months >= 30) & (months <= 42)) | (months >= 50)
