"""The collector every check writes into, and findings as the sender reads them (the catalogue of codes,
schemas/regles.toml, is loaded by `vocab.catalogue`).

Findings are data, as in frictionless: a code, a severity, a position (row, column) and the parameters of
the message. Checks are vectorised: they hand over arrays of row positions, not one finding at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..masking import mask_nir
from ..vocab import BLOCKING, Rule, catalogue

FILE = -1  # position of a finding about the file as a whole


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(rule: Rule, params: dict) -> str:
    """Message then how to fix it, with the line's parameters filled in."""
    p = _Defaults({k: ("" if v is None else v) for k, v in params.items()})
    return f"{rule.message.format_map(p)} {rule.fix.format_map(p)}".strip()


class Findings:
    """Collects findings as column arrays: position, field, code, raw value, message parameters."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add_file(self, code: str, field: str | None = None, value: str = "", **params) -> None:
        self.add_rows(code, np.array([FILE]), field, [value], **params)

    def add_rows(self, code: str, positions, field: str | None, values=None, **params) -> None:
        """One finding per position. `values` and each param are either one value or one per position."""
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n == 0:
            return
        if code not in catalogue():
            raise KeyError(code)
        cols = {
            "pos": positions,
            "field": [field] * n,
            "code": [code] * n,
            "value": _broadcast(values if values is not None else "", n),
        }
        keys = sorted(params)
        per_row = [_broadcast(params[k], n) for k in keys]
        cols["params"] = [dict(zip(keys, vals)) for vals in zip(*per_row)] if keys else [{}] * n
        self._parts.append(pd.DataFrame(cols))

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({"pos": pd.Series([], dtype="int64"), "field": [], "code": [], "value": [], "params": []})
        return pd.concat(self._parts, ignore_index=True)

    def blocked_positions(self) -> np.ndarray:
        """Row positions refused by a blocking finding."""
        f = self.frame()
        if f.empty:
            return np.array([], dtype=np.int64)
        cat = catalogue()
        blocking = f["code"].map(lambda c: cat[c].severity == BLOCKING)
        return np.unique(f.loc[blocking & (f["pos"] >= 0), "pos"].to_numpy())

    def file_refused(self) -> bool:
        f = self.frame()
        if f.empty:
            return False
        cat = catalogue()
        return bool(f["code"].map(lambda c: cat[c].severity == BLOCKING and cat[c].scope == "fichier").any())


def _broadcast(value, n: int) -> list:
    if isinstance(value, (list, np.ndarray, pd.Series, pd.Index)):
        out = list(value)
        if len(out) != n:
            raise ValueError("length mismatch")
        return out
    return [value] * n


VALUE_MAX_CHARS = 200  # a value quoted back to the sender is cut past this (a 100 MB cell stays in the file)
OWN_TEXT_PARAMS = frozenset({"raison", "liste", "detail", "contexte", "quand"})  # written by the product, never cut


def _cap(text: str) -> str:
    return text if len(text) <= VALUE_MAX_CHARS else text[:VALUE_MAX_CHARS] + f"… ({len(text)} caractères)"


def to_rows(frame: pd.DataFrame, lines: np.ndarray, header_line: int, columns: dict[str, str],
            masked: frozenset[str] = frozenset({"nir"})) -> pd.DataFrame:
    """Findings as the sender reads them: ligne, colonne (header as written), valeur (masked where
    sensitive), code, gravite, message. File-level findings sit on the header line."""
    cat = catalogue()
    pos = frame["pos"].to_numpy()
    ligne = np.where(pos >= 0, lines[np.clip(pos, 0, None)] if len(lines) else 0, header_line)
    colonne = [columns.get(f, "") if f else p.get("colonne", "") for f, p in zip(frame["field"], frame["params"])]
    valeur = [mask_nir(v) if f in masked else _cap("" if v is None else str(v)) for f, v in zip(frame["field"], frame["value"])]
    messages = []
    for code, field, params in zip(frame["code"], frame["field"], frame["params"]):
        p = {k: _cap(v) if isinstance(v, str) and k not in OWN_TEXT_PARAMS else v for k, v in params.items()}
        if field in masked:
            p.pop("valeur", None)
        messages.append(render(cat[code], p))
    out = pd.DataFrame({
        "ligne": ligne.astype(np.int64),
        "colonne": colonne,
        "valeur": valeur,
        "code": frame["code"].to_numpy(),
        "gravite": [cat[c].severity for c in frame["code"]],
        "message": messages,
    })
    return out.sort_values(["ligne", "code"], kind="stable").reset_index(drop=True)
