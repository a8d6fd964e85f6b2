"""The per-cell checks of a kind of file as a pandera schema, generated from the catalogue.

Each rule of schemas/regles.toml with `fichier`, `colonnes` and `controle` becomes one pandera Check
(error = the rule's code) on each column it names; colonnes.toml says which columns are required. A rule
checked in another kind of file too says how in a sub-table named after that kind ([CODE.declaration]), so
that one finding keeps one code whatever the file. A check is one of the vectorised kernels of values.py and
identifiers.py (CONTROLS below), wrapped: each column is parsed once, whichever check or later step of the
rules asks first (`Cells`), and the NIR kernel may run on a second thread while the other columns are
checked. The failure cases come back as (rule, field, row positions) in the catalogue's order; the caller
words them as findings and maps positions to file lines.

pandera is imported where a schema is built, not with this module: commands that check no file do not pay
for its import (a few tenths of a second).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..read.arrow import may_need_strip
from ..read.headers import HeaderMap
from ..read.table import Table
from ..vocab import Rule, catalogue, load_toml, vocabulary
from . import identifiers, values

# What each movement needs, beyond the movement itself (CHAMP_OBLIGATOIRE, controle "obligatoire").
ENTRY_FIELDS = ("nom", "prenom", "nir", "siret", "date_embauche", "contrat", "poste", "pcs")
REQUIRED = {
    "entree": ENTRY_FIELDS,
    "modification": ("nom", "prenom", "nir", "siret"),
    "sortie": ("nom", "prenom", "nir", "siret"),
}
# A headcount (controle "entier"): digits, spaces allowed anywhere (thousands), a zero decimal part allowed.
_WHOLE = re.compile(r"\d+(?:[.,]0+)?")
_SPACES = r"[\s\u00a0\u202f]"


class Cells:
    """The columns of one file by field, and what the kernels made of them, each computed once. `kind`: the
    section of colonnes.toml whose rules apply (an employee file's by default; the movement of each row and
    `is_list` only mean something there)."""

    kind = "mouvements"

    def __init__(self, table: Table, headers: HeaderMap, is_list: bool = False, today: dt.date | None = None) -> None:
        self.table, self.headers, self.n = table, headers, len(table)
        self.is_list, self.today = is_list, today or dt.date.today()
        self.blank = pd.Series(np.full(self.n, "", dtype=object), dtype="str")
        self._memo: dict[tuple, object] = {}
        self._background: dict[str, Future] = {}

    def has(self, key: str) -> bool:
        return key in self.headers.columns

    def col(self, key: str) -> pd.Series:
        header = self.headers.columns.get(key)
        return self.blank if header is None else self.table.frame[header]

    def frame(self) -> pd.DataFrame:
        """The file's columns named by field, indexed by row position (the arrays are not copied)."""
        return pd.DataFrame({k: self.table.frame[h].array for k, h in self.headers.columns.items()}, copy=False)

    def _once(self, key: tuple, fn: Callable[[], object]):
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def stripped(self, key: str) -> pd.Series:
        def compute() -> pd.Series:
            column = self.col(key)
            return column.str.strip() if may_need_strip(column) else column  # most columns have nothing to strip
        return self._once(("strip", key), compute)

    def given(self, key: str) -> np.ndarray:
        return self._once(("given", key), lambda: (self.stripped(key) != "").to_numpy())

    def movement(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(action per row, empty, unknown) of the `Mouvement` column."""
        return self._once(("movement",), lambda: values.movements(self.col("mouvement")))

    def action(self) -> np.ndarray:
        """The movement of each row as read; a full list's rows are all entries until compared with the store."""
        if self.is_list:
            return self._once(("list_action",), lambda: values.repeated("entree", self.n))
        return self.movement()[0]

    def is_action(self, movement: str) -> np.ndarray:
        return self._once(("is_action", movement), lambda: self.action() == movement)

    def dates(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._once(("dates", key), lambda: values.dates(self.col(key)))

    def lookup(self, key: str, spec: str | list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        name = spec if isinstance(spec, str) else tuple(spec)
        return self._once(("lookup", key, name), lambda: values.lookup(self.distinct(key), spec))

    def distinct(self, key: str) -> values.Distinct:
        return self._once(("distinct", key), lambda: values.Distinct(self.col(key)))

    def yes_no(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        return self._once(("yes_no", key), lambda: values.yes_no(self.col(key)))

    def matches(self, key: str, pattern: str) -> np.ndarray:
        return self._once(("match", key, pattern),
                          lambda: self.stripped(key).str.fullmatch(pattern, case=False).fillna(False).to_numpy(dtype=bool))

    def whole_numbers(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(the cell without its spaces, is a whole number ≥ 0 or blank) per row."""
        def compute():
            text = self.stripped(key).str.replace(_SPACES, "", regex=True)
            ok = text.str.fullmatch(_WHOLE).fillna(False).to_numpy(dtype=bool) | (text == "").to_numpy()
            return text.to_numpy(dtype=object), ok
        return self._once(("whole", key), compute)

    def start_nir(self, pool: Executor, key: str = "nir") -> None:
        """Start the NIR kernel on another thread (Arrow and numpy let go of the GIL): the other columns are
        checked meanwhile, and the NIR column's checks wait for it."""
        self._background[key] = pool.submit(_nir_kernel, self.col(key))

    def nir(self, key: str = "nir") -> dict[str, np.ndarray]:
        """identifiers.nir_check's masks and parts, plus 'cases' (the failing rows of each NIR rule, by the
        catalogue's `cas`), 'ok' (the NIRs that pass every check) and 'accepted' (the value where ok, '')."""
        return self._once(("nir", key), lambda: self._background[key].result() if key in self._background
                          else _nir_kernel(self.col(key)))

    def background(self) -> set[str]:
        return set(self._background)

    def forget(self, keep: tuple[str, ...] = ()) -> None:
        """Let go of what the kernels made of the columns but the kinds named in `keep` (such as "dates"),
        computed again if asked for: on a big file, the memory for the steps that follow."""
        self._memo = {k: v for k, v in self._memo.items() if k[0] in keep}
        self._background.clear()

    def failing(self, rule: Rule, key: str) -> np.ndarray:
        """The rows a cell rule flags in this column: its control, less the rows of the rules it yields to."""
        def compute() -> np.ndarray:
            mask = CONTROLS[rule.control](self, key, rule.params)
            for other in rule.params.get("sauf", ()):
                mask = mask & ~self.failing(cell_rule(other, self.kind), key)
            return mask
        return self._once(("failing", rule.code, key), compute)


def _nir_kernel(raw: pd.Series) -> dict[str, np.ndarray]:
    c = identifiers.nir_check(raw)
    well_formed = ~(c["empty"] | c["scientific"] | c["no_key"] | c["shape"])
    month = well_formed & ~identifiers.nir_month_ok(c["month"])
    order = well_formed & (c["order"] == 0)
    ok = well_formed & ~c["key"] & ~month & ~order
    cases = {"notation_scientifique": c["scientific"], "sans_cle": c["no_key"], "format": c["shape"], "cle": c["key"],
             "mois": month, "ordre": order, "provisoire": ok & ((c["sex"] == 7) | (c["sex"] == 8))}
    small = {key: c[key].astype(dtype) for key, dtype in _NIR_PARTS.items()}  # a digit, two or three each
    accepted = pd.Series(pc.if_else(pa.array(ok), c["value"], ""), dtype="str")  # Arrow text, '' where refused
    return {**c, **small, "cases": cases, "ok": ok, "accepted": accepted}


_NIR_PARTS = {"sex": np.int8, "year": np.int16, "month": np.int16, "order": np.int16}


# --- the controls a rule may name (`controle`): each gives the failing rows of one column ------------------

def _required(cells: Cells, key: str, p: dict) -> np.ndarray:
    if key == "mouvement":  # every line needs its movement
        return cells.movement()[1]
    needs = np.zeros(cells.n, dtype=bool)
    for mv, keys in REQUIRED.items():
        if key in keys:
            needs |= cells.is_action(mv)
    return ~cells.given(key) & needs


def _year(cells: Cells, key: str, p: dict) -> np.ndarray:
    """A year written with 4 digits, from `min` to `max`; blank cells pass."""
    def bad(v: str) -> bool:
        v = v.strip()
        return bool(v) and not (re.fullmatch(r"\d{4}", v) and p["min"] <= int(v) <= p["max"])
    d = cells.distinct(key)
    return d.spread(d.map(bad).astype(bool))


def _nir(cells: Cells, key: str, p: dict) -> np.ndarray:
    """The rows of the NIR kernel's case `cas`, or of any of them when it is a list."""
    cases = cells.nir(key)["cases"]
    if isinstance(p["cas"], str):
        return cases[p["cas"]]
    return np.logical_or.reduce([cases[c] for c in p["cas"]])


def _in_range(cells: Cells, key: str, p: dict) -> np.ndarray:
    iso = cells.dates(key)[0]
    low, high = _range(cells.today, p)
    out = np.zeros(cells.n, dtype=bool)
    given = iso != ""
    if low:
        out |= given & (iso < low)
    if high:
        out |= given & (iso > high)
    return out


def _range(today: dt.date, p: dict) -> tuple[str, str]:
    low = p["min"].isoformat() if "min" in p else ""
    high = (today + dt.timedelta(days=p["max_jours"])).isoformat() if "max_jours" in p else ""
    return low, high


def _not_in_values(cells: Cells, key: str, p: dict) -> np.ndarray:
    _, empty, unknown = cells.lookup(key, p["valeurs"])
    return ~empty & ~unknown


CONTROLS: dict[str, Callable[[Cells, str, dict], np.ndarray]] = {
    "obligatoire": _required,
    "renseigne": lambda cells, key, p: ~cells.given(key),
    "mouvement": lambda cells, key, p: cells.movement()[2],
    "valeurs": lambda cells, key, p: cells.lookup(key, p["valeurs"])[2],
    "valeurs_interdites": _not_in_values,
    "motif": lambda cells, key, p: cells.given(key) & ~cells.matches(key, p["motif"]),
    "motif_interdit": lambda cells, key, p: cells.given(key) & cells.matches(key, p["motif"]),
    "date": lambda cells, key, p: cells.dates(key)[2],
    "oui_non": lambda cells, key, p: cells.yes_no(key)[1],
    "plage": _in_range,
    "entier": lambda cells, key, p: ~cells.whole_numbers(key)[1],
    "annee": _year,
    "nir": _nir,
}


def _kind_checks(rule: Rule) -> dict[str, Rule]:
    """A rule's cell check in each kind of file it is checked in: its own `fichier`, and each sub-table named
    after a kind of file (colonnes, controle and that check's parameters), as a Rule of that kind."""
    kinds = load_toml("colonnes.toml")
    subs = {k: v for k, v in rule.params.items() if isinstance(v, dict)}
    unknown = [k for k in subs if k not in kinds]
    if unknown:
        raise ValueError(f"rule {rule.code}: no kind of file {unknown[0]!r} in colonnes.toml")
    out = {rule.kind: replace(rule, params={k: v for k, v in rule.params.items() if k not in subs})} if rule.kind else {}
    for kind, sub in subs.items():
        if "colonnes" not in sub or "controle" not in sub:
            raise ValueError(f"rule {rule.code}: a cell check needs colonnes and controle ([{rule.code}.{kind}])")
        out[kind] = replace(rule, kind=kind, columns=tuple(sub["colonnes"]), control=sub["controle"],
                            params={k: v for k, v in sub.items() if k not in ("colonnes", "controle")})
    return out


_by_kind: tuple[dict, dict[str, dict[str, Rule]]] = ({}, {})  # (the catalogue, its rules' checks by kind)


def _checks_by_kind() -> dict[str, dict[str, Rule]]:
    """code → kind → the rule as checked there, computed once per catalogue (tests reload it)."""
    global _by_kind
    rules = catalogue()
    if _by_kind[0] is not rules:
        _by_kind = (rules, {code: _kind_checks(rule) for code, rule in rules.items()})
    return _by_kind[1]


def cell_rule(code: str, kind: str) -> Rule:
    """The rule `code` as checked in a kind of file (its columns, control and parameters there)."""
    return _checks_by_kind()[code][kind]


def cell_rules(kind: str) -> list[tuple[Rule, str]]:
    """(rule, field) for each cell check of a kind of file, in the catalogue's order ("det_*" → every
    determinant column, in the order of colonnes.toml)."""
    fields = [f.key for f in vocabulary(kind).fields]
    out = []
    for checks in _checks_by_kind().values():
        rule = checks.get(kind)
        if rule is None:
            continue
        if rule.control not in CONTROLS:
            raise ValueError(f"rule {rule.code}: unknown controle {rule.control!r}")
        for name in rule.columns:
            keys = [k for k in fields if k.startswith(name[:-1])] if name.endswith("*") else [name]
            if not keys or any(k not in fields for k in keys):
                raise ValueError(f"rule {rule.code}: no field {name!r} in colonnes.toml [{kind}]")
            out += [(rule, k) for k in keys]
    return out


def _describe(rule: Rule, today: dt.date) -> tuple[str, dict]:
    """A check's name and statistics, as pandera's own checks would have them (what the schema shows)."""
    p = rule.params
    if rule.control == "valeurs":
        return "isin", {"allowed_values": sorted(values.vocab(p["valeurs"]))}
    if rule.control == "valeurs_interdites":
        return "notin", {"forbidden_values": sorted(values.vocab(p["valeurs"]))}
    if rule.control in ("motif", "motif_interdit"):
        return ("str_matches" if rule.control == "motif" else "str_not_matches"), {"pattern": p["motif"]}
    if rule.control == "plage":
        low, high = _range(today, p)
        return "in_range", {"min_value": low or None, "max_value": high or None}
    if rule.control == "annee":
        return "in_range", {"min_value": p["min"], "max_value": p["max"]}
    return rule.control, dict(p)


def schema(kind: str, also_required: tuple[str, ...] = (), cells: Cells | None = None, today: dt.date | None = None):
    """The pandera schema of a kind of file: one Column per field of colonnes.toml (required where it says
    `obligatoire`, and for `also_required`), each with one Check per cell rule of the catalogue naming that
    field. The checks run on `cells` (the file being checked); a schema built without them can be read but
    not run."""
    today = cells.today if cells is not None else (today or dt.date.today())
    waiting = cells.background() if cells is not None else set()
    return _build(kind, also_required, today, waiting, _Bound(cells))


class _Bound:
    """The file a schema's checks run on (None: none, the schema can be read but not run)."""

    def __init__(self, cells: Cells | None = None) -> None:
        self.cells = cells


def _build(kind: str, also_required: tuple[str, ...], today: dt.date, waiting: set[str], bound: _Bound):
    import pandera.pandas as pa  # lazy: heavy to import (see the module's docstring)

    checks: dict[str, list] = {f.key: [] for f in vocabulary(kind).fields}
    for rule, key in cell_rules(kind):
        name, stats = _describe(rule, today)
        checks[key].append(pa.Check(_check_fn(bound, rule, key), error=rule.code, name=name, statistics=stats,
                                    ignore_na=False))
    fields = sorted(vocabulary(kind).fields, key=lambda f: f.key in waiting)  # columns computed elsewhere last
    return pa.DataFrameSchema(
        {f.key: pa.Column(None, checks[f.key], required=f.required or f.key in also_required, nullable=True)
         for f in fields},
        strict=False,
    )


_BUILT: dict[tuple, tuple] = {}  # (kind, day, columns last) → (catalogue, vocabulary, schema, _Bound)
_BINDING = threading.Lock()


def _bound_schema(kind: str, cells: Cells):
    """The schema of `kind` bound to `cells`, built once per process for a day and the columns computed
    elsewhere (pandera copies every column of a schema it builds: several milliseconds a file, most of what a
    night of small files spent on the schema), again when the catalogue or the vocabulary is reloaded."""
    key = (kind, cells.today, frozenset(cells.background()))
    cat, vocab = catalogue(), vocabulary(kind)
    with _BINDING:
        built = _BUILT.get(key)
        if built is None or built[0] is not cat or built[1] is not vocab:  # held here: their ids are never reused
            bound = _Bound()
            built = _BUILT[key] = (cat, vocab, _build(kind, (), cells.today, set(key[2]), bound), bound)
        if built[3].cells is None:
            built[3].cells = cells
            return built[2], built[3]
    bound = _Bound(cells)  # another file's checks hold the kept schema (a thread): one of its own
    return _build(kind, (), cells.today, set(key[2]), bound), bound


def _check_fn(bound: _Bound, rule: Rule, key: str) -> Callable[[pd.Series], pd.Series]:
    def check(series: pd.Series) -> pd.Series:
        if bound.cells is None:
            raise RuntimeError("this schema was built without a file to check")
        # a Series, not an array: under lazy=True pandera silently skips a check that returns an array
        return pd.Series(~bound.cells.failing(rule, key), index=series.index)
    return check


def missing_columns(kind: str, present: list[str], also_required: tuple[str, ...] = ()) -> list[str]:
    """The required fields (in the order of colonnes.toml) that have no column: the schema's required columns
    (see `schema`), told from the vocabulary at once rather than by validating an empty frame (0.1 s)."""
    have = set(present)
    return [f.key for f in vocabulary(kind).fields if (f.required or f.key in also_required) and f.key not in have]


def failures(kind: str, cells: Cells) -> list[tuple[Rule, str, np.ndarray]]:
    """Run the file's schema lazily (every check on every row); (rule, field, sorted row positions) for each
    check that failed, in the catalogue's order. pandera's failure_cases index is the frame's index, which is
    the row position (Cells.frame): the caller maps positions to the lines the sender sees."""
    import pandera.pandas as pa

    checked, bound = _bound_schema(kind, cells)
    try:
        checked.validate(cells.frame(), lazy=True, inplace=True)
        return []
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    finally:
        bound.cells = None  # the file is let go with its checks
    rules = catalogue()
    broken = fc[~fc["check"].isin(list(rules)) | fc["index"].isna()]
    if len(broken):  # a check that raised, or a failure no rule explains: a bug, not a finding
        first = broken.iloc[0]
        raise RuntimeError(f"{len(broken)} schema check(s) failed to run, first {first['check']} on {first['column']}: "
                           f"{str(first['failure_case'])[:200]}")
    positions = {(code, key): np.sort(g["index"].to_numpy(dtype=np.int64))
                 for (code, key), g in fc.groupby(["check", "column"], sort=False)}
    return [(rule, key, positions[rule.code, key]) for rule, key in cell_rules(kind) if (rule.code, key) in positions]
