"""The collector every check writes into, and findings as the sender reads them (the catalogue of codes,
schemas/regles.toml, is loaded by `vocab.catalogue`).

Findings are data, as in frictionless: a code, a severity, a position (row, column) and the parameters of
the message. Checks are vectorised: they hand over arrays of row positions, not one finding at a time.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..masking import mask_nir
from ..read.arrow import may_need_strip
from ..read.headers import HeaderMap
from ..read.table import Table
from ..vocab import BLOCKING, Rule, Vocabulary, catalogue
from .identifiers import SPACES

FILE = -1  # position of a finding about the file as a whole


PARAM = "param:"  # the frame's column of a message parameter: PARAM + its name


class Findings:
    """Collects findings as column arrays: position, field, code, raw value, and one column per message
    parameter (PARAM + name; None or NaN where a finding has none). A million findings of one rule are then
    a few columns, not a million dicts (300 MB, and seconds to build and to read back)."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._frame: pd.DataFrame | None = None  # the parts as one frame, until a part is added
        self._blocking: list[np.ndarray] = []  # the row positions of each blocking part
        self._blocked: np.ndarray | None = None  # those positions as one sorted set, until a part is added

    def add_file(self, code: str, field: str | None = None, value: str = "", **params) -> None:
        self.add_rows(code, np.array([FILE]), field, [value], **params)

    def add_headers(self, headers: HeaderMap, vocab: Vocabulary) -> None:
        """What the header row says of the columns: a header naming no field (COLONNE_INCONNUE), several fields
        (COLONNE_AMBIGUE), or a field another column already gives (COLONNE_EN_DOUBLE)."""
        for header in headers.unknown:
            self.add_file("COLONNE_INCONNUE", None, "", colonne=header)
        for header, fields in headers.ambiguous:
            self.add_file("COLONNE_AMBIGUE", None, "", colonne=header, champs=fields)
        for key, header in headers.duplicated:
            self.add_file("COLONNE_EN_DOUBLE", None, "", colonne=header, attendu=vocab.field(key).label)

    def add_rows(self, code: str, positions, field: str | None, values=None, **params) -> None:
        """One finding per position. `values` and each param are either one value or one per position."""
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n == 0:
            return
        rule = catalogue().get(code)
        if rule is None:
            raise KeyError(code)
        if rule.severity == BLOCKING:
            self._blocking.append(positions[positions >= 0])
            self._blocked = None
        cols = {
            "pos": positions,
            "field": [field] * n,
            "code": [code] * n,
            "value": _broadcast(values if values is not None else "", n),
        }
        for name, value in params.items():  # a column per parameter, kept as Python objects
            cols[PARAM + name] = pd.Series(_broadcast(value, n), dtype=object)
        self._parts.append(pd.DataFrame(cols, copy=False))
        self._frame = None

    def frame(self) -> pd.DataFrame:
        """Every finding so far, in the order added (one frame built once per batch of additions: the checks
        across fields ask for it again and again). Callers must not modify it."""
        if self._frame is None:
            self._frame = pd.concat(self._parts, ignore_index=True) if self._parts else pd.DataFrame(
                {"pos": pd.Series([], dtype="int64"), "field": [], "code": [], "value": []})
        return self._frame

    def blocked_positions(self) -> np.ndarray:
        """Row positions refused by a blocking finding (sorted, each once; callers must not modify them): kept
        from one call to the next while no finding is added, as the checks ask again and again."""
        if self._blocked is None:
            self._blocked = np.unique(np.concatenate(self._blocking)) if self._blocking else np.array([], dtype=np.int64)
        return self._blocked

    def file_refused(self) -> bool:
        f = self.frame()
        if f.empty:
            return False
        return bool(f["code"].isin([c for c, rule in catalogue().items()
                                    if rule.severity == BLOCKING and rule.scope == "fichier"]).any())


def _broadcast(value, n: int) -> list:
    if isinstance(value, (list, np.ndarray, pd.Series, pd.Index)):
        out = list(value)
        if len(out) != n:
            raise ValueError("length mismatch")
        return out
    return [value] * n


VALUE_MAX_CHARS = 200  # a value quoted back to the sender is cut past this (a 100 MB cell stays in the file)
# Texts the product (or staff) wrote, whole sentences or lists: never cut. Every other text parameter quotes
# the sender's file (a cell, a header) and is cut past VALUE_MAX_CHARS, inside its quotes, with an ellipsis.
OWN_TEXT_PARAMS = frozenset({"raison", "liste", "detail", "contexte", "proches", "champs", "motif", "statut",
                             "placeholders", "suggestion", "quand"})

# The columns of a finding as the sender reads it (CSV, JSON, ledger), in this order. The first six are the
# historical CSV columns; the others say which column (its Excel letter) and whom the line is about: the
# person (NIR masked) and, for the sender's own adhérents only, the member.
ROW_COLUMNS = ("ligne", "colonne", "valeur", "code", "gravite", "message",
               "colonne_excel", "nom", "prenom", "nir_masque", "adherent", "raison_sociale")
_SPACES = re.compile(f"[{SPACES}]")


def _cap(text: str) -> str:
    return text if len(text) <= VALUE_MAX_CHARS else text[:VALUE_MAX_CHARS].rstrip() + "…"


def column_letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column index: 0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


@dataclass(frozen=True)
class Members:
    """Whose the rows of a file are: the sender's own establishments (SIRET → N° adhérent, never another
    member's), the names of those adhérents, and the sender's number when it is an adhérent itself."""

    by_siret: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    sender: str = ""


def _cells(table: Table | None, header: str | None, pos: np.ndarray) -> pd.Series:
    """The file's cells of one column at these row positions, stripped, as Arrow text ('' where there is none:
    file-level findings): a million findings quote a million names without a Python object for each."""
    if table is None or not header or header not in table.frame.columns or not len(table) or not len(pos):
        return pd.Series(np.full(len(pos), "", dtype=object), dtype="str")
    rows = pos >= 0
    text = table.frame[header].iloc[np.where(rows, pos, 0)].reset_index(drop=True)
    if text.dtype != "str":
        text = text.astype("str")
    if text.hasnans:
        text = text.fillna("")
    if may_need_strip(text):  # most columns have nothing to strip: no copy of them
        text = text.str.strip()
    return text if rows.all() else text.where(rows, "")


def to_rows(frame: pd.DataFrame, lines: np.ndarray, header_line: int, columns: dict[str, str],
            masked: frozenset[str] = frozenset({"nir"}), *, table: Table | None = None,
            members: Members | None = None, at_lines: np.ndarray | None = None) -> pd.DataFrame:
    """Findings as the sender reads them (ROW_COLUMNS): ligne, colonne (header as written), valeur (masked
    where sensitive), code, gravite, message, then the column's Excel letter and, from the file's own cells
    (`table`), the person (nom, prénom, NIR masked) and the member the line is for (`members`). File-level
    findings sit on the header line; a finding about someone not in the file (a full list's leaver) names
    them from its parameters. `at_lines`: each finding's line, when the file says better than its row (a DSN:
    the line of the rubrique); a DSN's columns have no letter."""
    cat = catalogue()
    members = members or Members()
    pos = frame["pos"].to_numpy()
    ligne = np.where(pos >= 0, lines[np.clip(pos, 0, None)] if len(lines) else 0, header_line)
    if at_lines is not None:
        ligne = np.asarray(at_lines, dtype=np.int64)
    code_of, code_names = pd.factorize(frame["code"])
    code_names = np.asarray(code_names, dtype=object)
    # In the rows' order (line, then code) from the start: every column below is made in place, none moved after.
    order = np.lexsort((np.argsort(np.argsort(code_names, kind="stable"))[code_of], ligne))
    if not (order == np.arange(len(order))).all():
        frame, pos, ligne, code_of = frame.take(order), pos[order], ligne[order], code_of[order]
    codes = code_names[code_of]  # one Python text per rule, not per finding
    params = param_columns(frame)
    fields, values = _objects(frame["field"].tolist()), _objects(frame["value"].tolist())
    colonne = _each_distinct(fields, lambda f: columns.get(f, "") if f else None)
    unnamed = np.flatnonzero(colonne == None)  # noqa: E711 (elementwise): no field, the column a parameter names
    named = params.get("colonne")
    colonne[unnamed] = "" if named is None else _each_distinct(named[unnamed], lambda v: "" if v is None else v)
    valeur = _each_distinct(values, lambda v: _cap("" if v is None else str(v)))
    hidden = np.flatnonzero(np.isin(fields, list(masked)))
    valeur[hidden] = _each_distinct(values[hidden], mask_nir)
    messages = _messages(cat, codes, fields, params, masked)
    index = {h: column_letter(i) for i, h in enumerate(table.headers)} if table is not None and table.format != "dsn" else {}
    nom, prenom = _cells(table, columns.get("nom"), pos), _cells(table, columns.get("prenom"), pos)
    nir = _cells(table, columns.get("nir"), pos)
    siret_of, sirets = pd.factorize(_cells(table, columns.get("siret"), pos).str.replace(_SPACES.pattern, "", regex=True))
    adherent = _objects([members.by_siret.get(s, members.sender) for s in sirets.tolist()] + [members.sender])[siret_of]
    loose = np.flatnonzero(pos < 0)  # file-level findings: someone or some member named by the finding
    if len(loose):
        given = {name: _each_distinct(params[name][loose], _text) if name in params else np.full(len(loose), "", dtype=object)
                 for name in ("nom", "prenom", "adherent")}
        who = (given["nom"] != "") | (given["prenom"] != "")  # a full list's leaver, not in the file
        nom = _put(nom, loose[who], given["nom"][who])
        prenom = _put(prenom, loose[who], given["prenom"][who])
        by_nir = who & (fields[loose] == "nir")
        nir = _put(nir, loose[by_nir], _each_distinct(values[loose[by_nir]], lambda v: str(v or "")))
        member = np.isin(given["adherent"], list(members.names))
        adherent[loose[member]] = given["adherent"][member]
    texts = {
        "colonne": _column(colonne),
        "valeur": _column(valeur),
        "code": _column(codes),
        "gravite": _column(np.array([cat[c].severity for c in code_names], dtype=object)[code_of]),
        "message": _column(messages),
        "colonne_excel": _column(_each_distinct(colonne, lambda c: index.get(c, ""))),
        "nom": _column(_capped(nom)),
        "prenom": _column(_capped(prenom)),
        "nir_masque": _column(_masked_nirs(nir)),
        "adherent": _column(adherent),
        "raison_sociale": _column(_each_distinct(adherent, lambda a: members.names.get(a, ""))),
    }
    del nom, prenom, nir, valeur, messages
    return pd.DataFrame({"ligne": ligne.astype(np.int64), **texts}, copy=False)


def _column(values) -> pd.Series:
    """A text column of the findings as it is held: a Series already made (Arrow text cut from the file's
    cells, with no Python text per row), or Python objects (texts that repeat are one object each; texts
    already made for the messages or the parameters are shared, not copied)."""
    return values if isinstance(values, pd.Series) else pd.Series(_objects(values), dtype=object)


def _put(texts: pd.Series, at: np.ndarray, values: np.ndarray) -> pd.Series:
    """A text column with the rows `at` replaced by `values` (texts). Replacing most of its rows (a full list's
    leavers, named by their findings' parameters) makes it a column of those Python texts, shared, not copied."""
    if not len(at):
        return texts
    if len(at) * 4 > len(texts):
        out = texts.to_numpy(dtype=object)
        out[at] = values
        return pd.Series(out, dtype=object)
    out = texts.copy()
    out.iloc[at] = values
    return out


def _objects(values) -> np.ndarray:
    """A writable 1-D object array of these values (a value that is a list stays one element)."""
    out = np.empty(len(values), dtype=object)
    out[:] = pd.Series(values, dtype=object).to_numpy() if isinstance(values, list) else values
    return out


def _each_distinct(values: np.ndarray, write) -> np.ndarray:
    """write(value) of each value of an object column, called once per distinct value when they are texts that
    repeat (a million findings quote a few movements, columns, members), None for a value not given (None, or
    the NaN that joining findings of other rules leaves); one by one otherwise (lists and other values
    included)."""
    missing = pd.isna(values)
    texts = set(map(type, values[~missing] if missing.any() else values)) <= {str}
    sample = values[:: max(1, len(values) // 1000)]
    if texts and len(set(sample.tolist())) <= len(sample) // 2:  # names, NIRs: nearly all distinct, one by one
        codes, uniques = pd.factorize(values)  # not given: -1
        written = [write(u) for u in uniques.tolist()] + ([write(None)] if missing.any() else [None])
        return _objects(written)[codes]
    return _objects([write(None if gone else v) for v, gone in zip(values.tolist(), missing.tolist())])


def param_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The findings' message parameters by name, each a column of Python objects (None or NaN: not given)."""
    return {name[len(PARAM):]: frame[name].to_numpy(dtype=object) for name in frame.columns
            if isinstance(name, str) and name.startswith(PARAM)}


def _text(value) -> str:
    """A parameter naming someone or something, as text ('' when not given)."""
    return str(value) if value else ""


def _absent(value) -> bool:
    """A parameter not given to a finding: None, or the NaN that joining findings of other rules leaves."""
    return value is None or (isinstance(value, float) and value != value)


def _messages(cat: dict[str, Rule], codes, fields: list, params: dict[str, np.ndarray],
              masked: frozenset[str]) -> np.ndarray:
    """Each finding's message (the rule's message then how to fix it, its parameters filled in), rule by rule:
    the rule's text cut once into its literal pieces and parameters, each parameter coded by its distinct
    texts, and one message written per distinct combination of them (a resent million is a million
    DEJA_ENREGISTRE of a few messages; a full list that exits a million employees, a million different
    ones, 1 µs each). Equal messages are one text."""
    out = np.empty(len(codes), dtype=object)
    if not len(out):
        return out
    code_of, distinct = pd.factorize(np.asarray(codes, dtype=object))
    order = np.argsort(code_of, kind="stable")
    bounds = np.flatnonzero(np.diff(code_of[order])) + 1
    field_of = np.asarray(fields, dtype=object)
    same: dict[str, str] = {}
    for rows in np.split(order, bounds):
        rule = cat[distinct[code_of[rows[0]]]]
        pieces = [(literal, _param_texts(name, rows, field_of, params, masked) if name is not None else None)
                  for literal, name in _pieces(rule.message, rule.fix)]
        combo = np.zeros(len(rows), dtype=np.int64)  # the row's combination of parameter texts, numbered
        for _, coded in pieces:
            if coded is not None and len(coded[1]) > 1:
                combo, _ = pd.factorize(combo * len(coded[1]) + coded[0])
        first = np.unique(combo, return_index=True)[1]  # a row of each combination, in combination order
        columns = []
        for literal, coded in pieces:
            if literal:
                columns.append([literal] * len(first))
            if coded is not None:
                columns.append(np.array(coded[1], dtype=object)[coded[0][first]].tolist())
        texts = ["".join(t).strip() for t in zip(*columns)] if columns else [""] * len(first)
        out[rows] = np.array([same.setdefault(t, t) for t in texts], dtype=object)[combo]
    return out


@cache
def _pieces(message: str, fix: str) -> tuple[tuple[str, str | None], ...]:
    """A rule's message then its fix, joined by a space, as (literal text, parameter name or None)."""
    return tuple((literal, name) for literal, name, _spec, _conv in string.Formatter().parse(f"{message} {fix}"))


def _param_texts(name: str, rows: np.ndarray, fields: np.ndarray, params: dict[str, np.ndarray],
                 masked: frozenset[str]) -> tuple[np.ndarray, list[str]]:
    """One parameter of these findings as their messages quote it, coded: (each row's text number, the
    distinct texts). '' when not given (or the value of a masked field, a NIR), the sender's texts cut
    (`_cap`), anything else as format() writes it."""
    column = params.get(name)
    if column is None:
        return np.zeros(len(rows), dtype=np.int64), [""]
    values = column[rows]
    own = name in OWN_TEXT_PARAMS
    if set(map(type, values)) <= {str, type(None)}:
        value_of, uniques = pd.factorize(values)  # None: -1, the last text
        texts = [u if own or len(u) <= VALUE_MAX_CHARS else _cap(u) for u in uniques.tolist()] + [""]
    else:  # numbers, lists…: written one by one, then coded
        value_of, uniques = pd.factorize(np.array([
            "" if _absent(v) else (v if own or len(v) <= VALUE_MAX_CHARS else _cap(v)) if isinstance(v, str)
            else format(v, "") for v in values.tolist()], dtype=object))
        texts = uniques.tolist() + [""]
    value_of = np.where(value_of < 0, len(texts) - 1, value_of)
    if name == "valeur":
        hidden = np.isin(fields[rows], list(masked))
        value_of[hidden] = len(texts) - 1
    return value_of, texts


def _capped(texts: pd.Series) -> pd.Series:
    """`_cap` of each text, looking only at the few longer than VALUE_MAX_CHARS."""
    long_ = np.flatnonzero(texts.str.len().to_numpy() > VALUE_MAX_CHARS) if len(texts) else []
    if not len(long_):
        return texts
    return _put(texts, long_, np.array([_cap(t) for t in texts.iloc[long_].tolist()], dtype=object))


def _masked_nirs(nirs: pd.Series) -> pd.Series:
    """`mask_nir` of each cell once its spaces are removed, vectorised in Arrow: the first 5 characters kept
    (the first one for a text of 8 characters or fewer), the others as many asterisks."""
    text = nirs.astype("str").fillna("").str.replace(_SPACES.pattern, "", regex=True)
    length = text.str.len().to_numpy(dtype=np.int64)
    keep = np.minimum(np.where(length > 8, 5, 1), length)
    stars = pd.Series(pc.binary_repeat(pa.scalar("*", pa.large_string()), pa.array(length - keep)), dtype="str")
    return text.str.slice(0, 5).where(keep == 5, text.str.slice(0, 1)) + stars
