"""Checks of an employee file, vectorised per column.

The per-cell part (required values, formats, vocabularies, ranges) is the pandera schema generated from the
catalogue (rules/schema.py); the checks across columns, rows and the store follow it here.

Two kinds of file: a movement file (a `Mouvement` column: entrée, sortie or modification per row) and a
full staff list (no `Mouvement` column: the whole staff of the adhérents it names, on a date; entries,
changes and exits are derived against the store).

Input: the Table read from the file, its header map and the context (who sends, the registry, the
employees the store knows). Output: the findings, and the movements to apply, normalized to the store's
fields ('' or None = not given).
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable
from functools import cache, lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..read.headers import HeaderMap
from ..read.table import Table
from ..vocab import BLOCKING, Rule, catalogue, load_toml, vocabulary
from . import identifiers, pcs, values
from .catalogue import FILE, Findings
from .cells import hostile_cells
from .schema import ENTRY_FIELDS, Cells, failures, missing_columns

CONTEXT_FR = {"entree": "une entrée", "modification": "une modification", "sortie": "une sortie",
              "liste": "chaque salarié de la liste", "": "chaque ligne"}
MOVEMENT_FR = {"entree": "entrée", "sortie": "sortie", "modification": "modification"}
RANK = {"": 0, "SI": 0, "SIH": 1, "SIA": 2, "SIR": 3}
INACTIVE = {"cessation": "cessation d'activité", "liquidation": "liquidation judiciaire", "sans_personnel": "plus de personnel"}

# Fields stored for an employee, in the store's order.
STORED = (
    "siret", "nom", "prenom", "date_naissance", "date_embauche", "date_sortie", "contrat", "poste", "pcs",
    "multi_employeur", "categorie", "determinants", "commentaire", "contraintes", "nom_usage",
)


@dataclass
class Sender:
    code: str
    kind: str  # 'adherent' or 'mandataire'
    adherents: frozenset[str]  # the adhérents it may send for


@dataclass
class Context:
    sender: Sender
    establishments: dict[str, str]  # SIRET → N° adhérent
    existing: pd.DataFrame = field(default_factory=pd.DataFrame)  # adherent, nir, present, id, version_id + STORED
    member_status: dict[str, str] = field(default_factory=dict)  # N° adhérent → statut
    received: dt.date | None = None  # when the file came in (a full list's date by default)
    today: dt.date | None = None
    exit_threshold: float = 0.20  # a full list exiting more than this share of a member's staff is held
    # A full list is the whole staff of each adhérent it names ("adherent"), or of each establishment ("siret":
    # a DSN); `list_exclude`: scopes it names but may not empty (an older DSN month); `list_dates`: the exit
    # date of the employees missing from a scope, when not the list's date.
    list_scope: str = "adherent"
    list_exclude: frozenset[str] = frozenset()
    list_dates: dict[str, str] = field(default_factory=dict)
    # When given, the cells are screened first (rules.cells.hostile_cells, values longer than this refused), so
    # that a line refused for its characters is compared with nothing: it is not also said to enter or to be
    # recorded already.
    max_cell_chars: int | None = None
    # When given, the store is asked for what this file needs instead of `existing`: lookup(nirs, staff) gives
    # the stored employees of the sender's adhérents with these NIRs, and with `staff` (a full list) all the
    # present ones too, so that a movements file costs the same whatever the store holds.
    lookup: Callable[[list[str], bool], pd.DataFrame] | None = None
    # A dry run (`valider`) of a movements file: the accepted rows are only counted, so Outcome.accepted holds
    # their `compte` alone (a million rows' fields copied for nothing: a quarter of a second).
    counts_only: bool = False


@dataclass
class Outcome:
    findings: Findings
    accepted: pd.DataFrame  # pos, line, action, compte (what it counts as), adherent, nir, + STORED
    rows: int
    held: bool = False  # a full list held for review: nothing may be applied
    list_date: str | None = None
    existing: pd.DataFrame | None = None  # what the store held for the file's employees (Context.existing or lookup)

    @property
    def refused(self) -> int:
        """Lines refused (a line that repeats what the store holds is accepted though it changes nothing)."""
        return self.rows if self.findings.file_refused() else len(self.findings.blocked_positions())


def determinant_keys() -> list[str]:
    return [f.key for f in vocabulary("mouvements").fields if f.key.startswith("det_")]


@cache
def determinant_categories() -> dict[str, str]:
    return {f"det_{k}": v["categorie"] for k, v in load_toml("determinants.toml").items()}


class _Rows(Cells):
    """The file's columns by field, what the kernels made of them, and the values checked so far (`out`:
    one entry per row, the accepted rows' fields)."""

    def __init__(self, table: Table, headers: HeaderMap, is_list: bool, today: dt.date) -> None:
        super().__init__(table, headers, is_list, today)
        self.out: dict[str, np.ndarray | pd.Series] = {"pos": np.arange(self.n), "line": table.lines}

    def ymd(self, key: str) -> np.ndarray:
        """A date column as numbers AAAAMMJJ (0 where empty or invalid), converted once per distinct date."""
        def compute() -> np.ndarray:
            codes, uniques = pd.factorize(self.dates(key)[0])
            per_value = np.array([int(u.replace("-", "")) if u else 0 for u in uniques] + [0], dtype=np.int32)
            return per_value[codes]
        return self._once(("ymd", key), compute)


def validate(table: Table, headers: HeaderMap, ctx: Context) -> Outcome:
    f = Findings()
    n = len(table)
    vocab = vocabulary("mouvements")
    is_list = "mouvement" not in headers.columns
    f.add_headers(headers, vocab)
    if n and ctx.max_cell_chars is not None:
        hostile_cells(table, f, ctx.max_cell_chars)
    missing = missing_columns("mouvements", list(headers.columns), ENTRY_FIELDS if is_list else ())
    if missing:
        expected = ", ".join(fl.label for fl in vocab.fields if fl.required)
        for key in missing:
            f.add_file("COLONNE_MANQUANTE", None, "", attendu=vocab.field(key).label, liste=expected)
        return Outcome(f, pd.DataFrame(), n)
    if n == 0:
        f.add_file("FICHIER_VIDE")
        return Outcome(f, pd.DataFrame(), 0)

    today = ctx.today or dt.date.today()
    r = _Rows(table, headers, is_list, today)
    if table.overflow.any():
        f.add_rows("LIGNE_CHAMPS_EN_TROP", np.flatnonzero(table.overflow), None)
    list_date = _list_date(r, ctx, f) if is_list else None
    if is_list and list_date is None:
        return Outcome(f, pd.DataFrame(), n)
    # The NIR kernel (Arrow and numpy, which let go of the GIL) runs on the second core while the schema
    # checks the other columns; the schema checks the NIR column last, when the kernel is done.
    with ThreadPoolExecutor(max_workers=1) as pool:
        r.start_nir(pool)
        _cell_findings(r, f)
    _values(r)
    r.forget(keep=("dates",))  # what the next steps read is in r.out now (a big file's memory)
    _establishment(r, ctx, f)
    _dates(r, f)
    _categories(r, f, today)
    if ctx.lookup is not None:
        nirs = r.out["nir"]
        ctx.existing = ctx.lookup(nirs, is_list)  # the store drops the empty ones and repeats
    if is_list:
        f.add_file("LISTE_COMPLETE", date=_fr(list_date))
        accepted, held = _full_list(r, ctx, f, list_date)
        return Outcome(f, accepted, n, held, list_date, ctx.existing)
    _against_store(r, ctx, f)
    return Outcome(f, _accepted(r, f, last=True, only=("compte",) if ctx.counts_only else None), n, existing=ctx.existing)


@lru_cache(maxsize=4096)
def _fr(iso: str) -> str:
    """A stored date as the sender reads it (a full list's million leavers share the list's date)."""
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


def _sound(r: _Rows, f: Findings, *keys: str) -> np.ndarray:
    """Rows where none of these fields carries a refusing finding so far. A check across fields looks only
    at these: what only follows from a refused value (the age at hire of a hire date typed 2062) is not
    reported, so that the sender is shown the cause, not its symptoms."""
    found = f.frame()
    blocking = {code for code, rule in catalogue().items() if rule.severity == BLOCKING}
    hit = found["field"].isin(keys).to_numpy() & found["code"].isin(blocking).to_numpy() & (found["pos"] >= 0).to_numpy()
    ok = np.ones(r.n, dtype=bool)
    ok[found["pos"].to_numpy()[hit]] = False
    return ok


def _label(key: str) -> str:
    return vocabulary("mouvements").field(key).label


def _accepted(r: _Rows, f: Findings, last: bool = False, only: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The accepted rows' fields (`only`: these alone). `last`: nothing reads `r` afterwards, so each column
    is let go once copied (with the kernels' results before): a big file's peak of memory is not the checks'
    columns plus their copies."""
    keep = np.ones(r.n, dtype=bool)
    keep[f.blocked_positions()] = False
    keep &= r.out["action"] != ""
    r.forget()
    wanted = [k for k in r.out if (not k.startswith("_") and k != "nir_raw") or k == "_nir_id"]  # nir_raw: for findings
    if only is not None:
        wanted = [k for k in wanted if k in only]
    if last:
        r.out = {k: r.out[k] for k in wanted}
    whole = bool(keep.all())
    columns = {}
    for k in wanted:
        v = r.out.pop(k) if last else r.out[k]
        if isinstance(v, pd.Series):
            columns[k] = v.reset_index(drop=True) if whole else v[keep].reset_index(drop=True)
        else:
            columns[k] = pd.Series(v if whole else v[keep], dtype=v.dtype, copy=False)
        del v
    if "_nir_id" in columns:
        columns["nir_id"] = columns.pop("_nir_id")  # the NIR as an integer: the store inserts in its order
    columns = {k: _lean(v) for k, v in columns.items()}
    return pd.DataFrame(columns, copy=False)  # copy=False: no 2-D block of a million Python objects per dtype


def _lean(column: pd.Series) -> pd.Series:
    """An accepted column of texts in less memory: texts that repeat share one Python object each (a million
    movements written one by one by numpy are a million 'entree': 60 MB, shared 8 MB), texts nearly all
    different (NIRs) are held by Arrow (a fifth of their size as objects). Other columns as they are."""
    if column.dtype != object or len(column) < 1000:
        return column
    texts = column.to_numpy()
    if pd.api.types.infer_dtype(texts, skipna=False) != "string":  # a None, a number…: left as it is
        return column
    sample = texts[:: len(texts) // 1000].tolist()
    distinct = len(set(sample))
    if distinct > len(sample) // 10:
        return pd.Series(texts, dtype="str")
    if len(set(map(id, sample))) == distinct:  # shared already
        return column
    shared = values.Distinct(column)  # factorize keeps one object per distinct text
    return pd.Series(shared.spread(shared.map(lambda text: text)), dtype=object)


def _list_date(r: _Rows, ctx: Context, f: Findings) -> str | None:
    """A full list's date: the `Date de la liste` column (one date for all rows), else the day received."""
    received = (ctx.received or ctx.today or dt.date.today()).isoformat()
    if not r.has("date_liste"):
        return received
    iso, empty, invalid = values.dates(r.col("date_liste"))
    given = set(iso[~empty & ~invalid].tolist())
    if invalid.any() or len(given) > 1:
        bad = r.col("date_liste")[invalid].iloc[0] if invalid.any() else " / ".join(sorted(_fr(d) for d in given))
        f.add_file("LISTE_DATE_INVALIDE", "date_liste", bad, valeur=bad)
        return None
    return given.pop() if given else received


def _cell_findings(r: _Rows, f: Findings) -> None:
    """The failures of the file's pandera schema as findings: the raw cell quoted back, and the parameters
    some messages need."""
    for rule, key, pos in failures("mouvements", r):
        extra = _PARAMS.get(rule.code)
        raw = _at(r.col(key), pos)
        params = extra(r, rule, key, pos) if extra else {"valeur": raw}
        f.add_rows(rule.code, pos, key, params.pop("_value", raw), **params)


def _required_params(r: _Rows, rule: Rule, key: str, pos: np.ndarray) -> dict:
    if key == "mouvement":
        context = "chaque ligne"
    else:
        context = [CONTEXT_FR["liste" if r.is_list else a] for a in r.action()[pos]]
    params = {"_value": "", "colonne": _label(key), "contexte": context}
    if key == "pcs":  # codes proposed from the job title
        params["suggestion"] = pcs.suggestions([""] * len(pos), _titles(r, pos))
    return params


def _titles(r: _Rows, pos: np.ndarray) -> np.ndarray:
    return _at(r.stripped("poste"), pos) if r.has("poste") else np.full(len(pos), "", dtype=object)


def _proches(r: _Rows, rule: Rule, key: str, pos: np.ndarray) -> dict:
    codes = r.stripped(key).str.lower().to_numpy(dtype=object)[pos]
    return {"valeur": _at(r.col(key), pos), "proches": pcs.suggestions(codes, _titles(r, pos))}


def _limit_params(r: _Rows, rule: Rule, key: str, pos: np.ndarray) -> dict:
    limit = r.today + dt.timedelta(days=rule.params["max_jours"])
    return {"valeur": _at(r.col(key), pos), "limite": limit.strftime("%d/%m/%Y")}


_PARAMS = {  # the message parameters beyond the raw value (valeur), by rule
    "CHAMP_OBLIGATOIRE": _required_params,
    "DATE_EMBAUCHE_FUTURE": _limit_params,
    "NIR_FORMAT": lambda r, rule, key, pos: {"detail": [_nir_shape_detail(v) for v in r.nir(key)["value"].take(pos).to_pylist()]},
    "NIR_MOIS": lambda r, rule, key, pos: {"mois": [f"{m:02d}" for m in r.nir(key)["month"][pos]]},
    "NIR_PROVISOIRE": lambda r, rule, key, pos: {"sexe": r.nir(key)["sex"][pos]},
    "PCS_INCONNU": _proches,
}


def _values(r: _Rows) -> None:
    """The accepted rows' fields, from what the kernels made of the cells ('' where a check failed)."""
    r.out["action"] = r.action()
    for key in ("nom", "nom_usage", "prenom", "poste", "commentaire", "contraintes"):
        r.out[key] = r.stripped(key) if r.has(key) else r.blank
    if r.has("nom_usage"):  # a usage name that is the birth name is no usage name of its own
        r.out["nom_usage"] = r.out["nom_usage"].where(r.out["nom_usage"] != r.out["nom"], "")
    c = r.nir()
    r.out["nir"] = c["accepted"]
    r.out["nir_raw"] = r.col("nir")
    r.out["_nir_id"] = np.where(c["ok"], c["ident"], 0)  # "_": working columns, not part of the accepted rows
    r.out["_nir_birth"] = (np.where(c["ok"], c["year"], 0), np.where(c["ok"], c["month"], 0))
    pcs_bad = np.zeros(r.n, dtype=bool)
    for code in ("PCS_2020", "PCS_FORMAT", "PCS_INCONNU"):
        pcs_bad |= r.failing(catalogue()[code], "pcs")
    pcs_codes = r.distinct("pcs")  # a few hundred codes in a million rows: each lowered once
    lowered = pcs_codes.spread(pcs_codes.map(lambda v: v.strip().lower()))
    r.out["pcs"] = np.where(r.given("pcs") & ~pcs_bad, lowered, "").astype(object)
    r.out["contrat"] = r.lookup("contrat", catalogue()["CONTRAT_INVALIDE"].params["valeurs"])[0]
    r.out["categorie"] = r.lookup("categorie", catalogue()["CATEGORIE_INVALIDE"].params["valeurs"])[0]
    multi, _ = r.yes_no("multi_employeur")
    r.out["multi_employeur"] = np.where(~r.given("multi_employeur"), None, multi).astype(object)
    for key in ("date_naissance", "date_embauche", "date_sortie"):
        r.out[key] = r.dates(key)[0]


def _nir_shape_detail(value: str) -> str:
    v = str(value)
    if not v.replace("A", "").replace("B", "").isdigit():
        return "il contient des caractères autres que des chiffres"
    if len(v) != 15:
        return f"il en compte {len(v)}"
    if v[0] not in "1278":
        return "le premier chiffre (sexe) doit être 1 ou 2 (7 ou 8 pour un numéro provisoire)"
    return "le département de naissance est mal écrit"


def _dates(r: _Rows, f: Findings) -> None:
    """Dates against each other (each date alone is checked by the schema)."""
    action = r.out["action"]
    exit_iso, _, exit_invalid = r.dates("date_sortie")
    missing_exit = (action == "sortie") & (exit_iso == "") & ~exit_invalid
    f.add_rows("DATE_SORTIE_MANQUANTE", np.flatnonzero(missing_exit), "date_sortie", "")

    hire = r.out["date_embauche"]
    before = (exit_iso != "") & (hire != "") & (exit_iso < hire) & _sound(r, f, "date_sortie", "date_embauche")
    pos = np.flatnonzero(before)
    f.add_rows("DATE_SORTIE_AVANT_EMBAUCHE", pos, "date_sortie", r.col("date_sortie")[before], valeur=r.col("date_sortie")[before],
               embauche=[_fr(h) for h in hire[pos]])
    birth = r.out["date_naissance"]
    both = (birth != "") & (hire != "") & _sound(r, f, "date_naissance", "date_embauche")
    if both.any():
        pos = np.flatnonzero(both)
        age = _age(r.ymd("date_naissance")[pos], r.ymd("date_embauche")[pos])
        odd = (age < 14) | (age > 90)
        raw = _at(r.col("date_naissance"), pos[odd])
        f.add_rows("DATE_NAISSANCE_INVRAISEMBLABLE", pos[odd], "date_naissance", raw, valeur=raw, age=age[odd])
    _nir_birth(r, f)


def _age(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Age in whole years on each date, dates as numbers AAAAMMJJ: the difference's ten-thousands."""
    return (on - birth) // 10000


def _nir_birth(r: _Rows, f: Findings) -> None:
    """A NIR says the year and (01–12) month of birth: they must agree with the birth date when given."""
    birth = r.out["date_naissance"]
    both = (r.out["_nir_id"] != 0) & (birth != "") & _sound(r, f, "nir", "date_naissance")  # a valid NIR: an id
    if not both.any():
        return
    pos = np.flatnonzero(both)
    b = r.ymd("date_naissance")[pos]
    nir_yy, nir_mm = (part[pos] for part in r.out["_nir_birth"])  # a NIR given here is a valid one
    b_yy, b_mm = b // 10000 % 100, b // 100 % 100
    real_month = (nir_mm >= 1) & (nir_mm <= 12)
    differ = (nir_yy != b_yy) | (real_month & (nir_mm != b_mm))
    hit = pos[differ]
    f.add_rows("NIR_NAISSANCE", hit, "date_naissance", _at(r.col("date_naissance"), hit),
               nir_naissance=[_month_year(int(m) if rm else 0, _century(int(y), int(b[:4])))
                              for m, y, rm, b in zip(nir_mm[differ], nir_yy[differ], real_month[differ], birth[hit])],
               naissance=[_fr(b) for b in birth[hit]])


MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def _month_year(month: int, year: int) -> str:
    """"juin 1967", or "1967" when the month is unknown (0)."""
    return f"{MONTHS_FR[month - 1]} {year}" if month else str(year)


def _century(yy: int, near: int) -> int:
    """The year a two-digit NIR year stands for: of 19yy and 20yy, the nearer to `near`."""
    return min((1900 + yy, 2000 + yy), key=lambda y: abs(y - near))


def _categories(r: _Rows, f: Findings, today: dt.date) -> None:
    """Determinants checked → the category they call for; the declared one must be consistent with it.
    Minors are SIA at least. An empty category is filled in from the determinants."""
    keys = [k for k in determinant_keys() if r.has(k)]
    cats = determinant_categories()
    checked = {}
    for key in keys:
        checked[key] = r.yes_no(key)[0] == 1
    declared = r.out["categorie"]
    if not keys:
        r.out["determinants"] = np.full(r.n, None, dtype=object)  # nothing said about determinants
        expected = np.full(r.n, "", dtype=object)
        reason = np.full(r.n, "", dtype=object)
    else:
        joined = np.full(r.n, "", dtype=object)
        expected = values.repeated("SI", r.n)
        reason = np.full(r.n, "", dtype=object)
        for key in keys:  # ordered as in determinants.toml: the first reason of the highest category wins
            on = checked[key]
            joined = np.where(on, np.where(joined == "", key[4:], joined + "," + key[4:]), joined)
            cat = cats[key]
            if cat:
                stronger = on & (RANK[cat] > _rank(expected))
                expected = np.where(stronger, cat, expected)
                reason = np.where(stronger, _label(key), reason)
        r.out["determinants"] = joined
        if "det_aucun" in checked:
            risky = checked["det_aucun"] & (reason != "") & _sound(r, f, *keys)
            f.add_rows("AUCUN_AVEC_RISQUE", np.flatnonzero(risky), "det_aucun", "", determinant=reason[risky])
    rank_dec = _rank(declared)
    rank_exp = _rank(expected)
    given = declared != ""
    sound = _sound(r, f, "categorie", *keys)  # the findings below follow from these cells: none on a refused one
    sound_minor = sound & _sound(r, f, "date_naissance")  # and from the age (a refused NIR gives none)
    has_dets = (reason != "") if keys else np.zeros(r.n, dtype=bool)
    too_low = given & has_dets & (rank_dec < rank_exp) & (expected != "SIH") & sound
    f.add_rows("CATEGORIE_INSUFFISANTE", np.flatnonzero(too_low), "categorie", r.col("categorie")[too_low],
               declaree=declared[too_low], attendue=expected[too_low], determinant=reason[too_low])
    sih = given & (expected == "SIH") & (declared == "SI")
    f.add_rows("CATEGORIE_SIH", np.flatnonzero(sih & sound), "categorie", r.col("categorie")[sih & sound],
               determinant=reason[sih & sound])
    stored = np.where(sih | ~given, expected, declared)
    if keys:
        sir_for_sih = given & (declared == "SIR") & (expected == "SIH")
        f.add_rows("CATEGORIE_SIR_HABILITATION", np.flatnonzero(sir_for_sih & sound), "categorie",
                   r.col("categorie")[sir_for_sih & sound])
        unjustified = given & (rank_dec > rank_exp) & ~sir_for_sih & ~_minor(r, today) & sound_minor
        f.add_rows("CATEGORIE_SANS_DETERMINANT", np.flatnonzero(unjustified), "categorie", r.col("categorie")[unjustified],
                   declaree=declared[unjustified], attendue=expected[unjustified])
    minor = _minor(r, today)
    low_minor = minor & np.isin(stored, ["", "SI", "SIH"]) & (r.out["action"] != "sortie")
    explicit = low_minor & given & sound_minor
    pos = np.flatnonzero(explicit)
    f.add_rows("MINEUR_SIA", pos, "categorie", r.col("categorie")[explicit], declaree=declared[explicit],
               naissance=[_birth_text(r, i) for i in pos])
    stored = np.where(low_minor & ~given, "SIA", stored)
    # a modification with no category and no determinant columns keeps the stored category
    r.out["categorie"] = np.where(~given & ~has_dets & ~(low_minor & ~given) & (r.out["action"] != "entree"), "", stored).astype(object)


def _rank(categories: np.ndarray) -> np.ndarray:
    """RANK of each category (few distinct values: looked up once each)."""
    codes, uniques = pd.factorize(categories)
    return np.array([RANK[u] for u in uniques] + [0], dtype=int)[codes]


def _birth_year_month(r: _Rows) -> tuple[np.ndarray, np.ndarray]:
    """Year and month of birth from the birth date, else from the NIR (month 0 when unknown)."""
    if "_birth" in r.out:
        return r.out["_birth"]
    birth = r.out["date_naissance"]
    has_birth = birth != ""
    from_nir = ~has_birth & (r.out["_nir_id"] != 0)
    year = np.zeros(r.n, dtype=np.int32)
    month = np.zeros(r.n, dtype=np.int32)
    if has_birth.any():
        codes, uniques = pd.factorize(birth[has_birth])  # few distinct dates: each is cut once
        year[has_birth] = np.array([int(u[:4]) for u in uniques], dtype=int)[codes]
        month[has_birth] = np.array([int(u[5:7]) for u in uniques], dtype=int)[codes]
    if from_nir.any():
        this = dt.date.today().year % 100
        yy, mm = (part[from_nir] for part in r.out["_nir_birth"])
        year[from_nir] = np.where(yy <= this, 2000 + yy, 1900 + yy)
        month[from_nir] = np.where((mm >= 1) & (mm <= 12), mm, 0)
    r.out["_birth"] = (year, month)
    return year, month


def _minor(r: _Rows, today: dt.date) -> np.ndarray:
    """Under 18 today (to the month; when the month is unknown, counted from January)."""
    year, month = _birth_year_month(r)
    known = year > 0
    months_old = (today.year - year) * 12 + (today.month - np.maximum(month, 1))
    return known & (months_old < 18 * 12)


def _birth_text(r: _Rows, i: int) -> str:
    """When the employee was born, to follow "né": "le 12/07/2009", "en mars 2009" or "en 2009"."""
    b = r.out["date_naissance"][i]
    if b:
        return f"le {_fr(b)}"
    year, month = _birth_year_month(r)
    return f"en {_month_year(int(month[i]), int(year[i]))}"


_SPACES = re.compile(f"[{identifiers.SPACES}]")


def _establishment(r: _Rows, ctx: Context, f: Findings) -> None:
    """Each row's SIRET must be one of the sender's establishments (few distinct SIRETs: looked up once each)."""
    raw = r.col("siret")
    d = values.Distinct(raw)
    sirets = [_SPACES.sub("", v) for v in d.values]
    owners = [ctx.establishments.get(v, "") for v in sirets]
    siret = d.spread(np.array(sirets, dtype=object))
    adherent = d.spread(np.array(owners, dtype=object))
    owner_code, _ = pd.factorize(np.array(owners, dtype=object))
    r.out["siret"] = siret
    r.out["adherent"] = adherent
    r.out["_adherent_code"] = d.spread(owner_code)
    unknown = d.spread(np.array([v != "" and o == "" for v, o in zip(sirets, owners)]))
    f.add_rows("SIRET_INCONNU", np.flatnonzero(unknown), "siret", raw[unknown], valeur=raw[unknown])
    foreign = d.spread(np.array([o != "" and o not in ctx.sender.adherents for o in owners]))
    if foreign.any():
        pos = np.flatnonzero(foreign)
        code = "MANDAT_ABSENT" if ctx.sender.kind == "mandataire" else "SIRET_AUTRE_ADHERENT"
        f.add_rows(code, pos, "siret", siret[pos], valeur=siret[pos], siret=siret[pos], adherent=adherent[pos],
                   expediteur=ctx.sender.code)
    inactive = d.spread(np.array([ctx.member_status.get(o, "") in INACTIVE for o in owners])) & (r.out["action"] == "entree")
    pos = np.flatnonzero(inactive & ~foreign & _sound(r, f, "siret"))
    f.add_rows("ADHERENT_INACTIF", pos, "siret", siret[pos], adherent=adherent[pos],
               statut=[INACTIVE[ctx.member_status[a]] for a in adherent[pos]])
    # A line of another member's establishment is refused above and looked at no further: nothing the sender
    # gets back may depend on that member's staff (who works there, who left) or its status.
    adherent[foreign] = ""


def _at(column: pd.Series, pos: np.ndarray) -> np.ndarray:
    """The cells of a file column at these positions (without converting the whole column)."""
    return column.iloc[pos].to_numpy(dtype=object)


def _keys_frame(r: _Rows) -> tuple[pd.DataFrame, np.ndarray]:
    adherent = r.out["adherent"]
    keyed = (r.out["_nir_id"] != 0) & (adherent != "")  # a valid NIR has an id
    # the adhérents as an object Series (a DataFrame would turn a text array into Arrow strings, a copy), the
    # NIRs as the checks hold them (Arrow text)
    return pd.DataFrame({"adherent": pd.Series(adherent, dtype=object), "nir": r.out["nir"],
                         "line": r.out["line"]}, copy=False), keyed


def _duplicates_and_multi(r: _Rows, ctx: Context, f: Findings, keys: pd.DataFrame, keyed: np.ndarray,
                          present: np.ndarray) -> None:
    # (adhérent, NIR) as two integers: hashing them is much cheaper than hashing the texts
    nir_code, _ = pd.factorize(r.out["_nir_id"])
    adherent_code = r.out["_adherent_code"]
    ids = pd.Series(nir_code.astype(np.int64) * (int(adherent_code.max(initial=0)) + 2) + adherent_code + 1)
    dup = ids.duplicated(keep="first").to_numpy() & keyed
    if dup.any():
        repeated = ids.duplicated(keep=False).to_numpy() & keyed  # the first line is looked up for these only
        first = pd.Series(r.out["line"][repeated]).groupby(ids[repeated].to_numpy()).transform("first")
        first_line = np.zeros(r.n, dtype=np.int64)
        first_line[repeated] = first.to_numpy()
        pos = np.flatnonzero(dup)
        f.add_rows("DOUBLON_FICHIER", pos, "nir", _at(r.out["nir_raw"], pos), premiere=first_line[pos])
    # the same person under two adhérents of this very file (a payroll firm's) without the multi flag; only for
    # a line that applies. Whether someone works for another member of the service is never told to a sender
    # (it would be a per-NIR employer lookup): staff see those people on the dashboard.
    action = r.out["action"]
    candidates = (keyed & (r.out["multi_employeur"] != 1) & ((action == "entree") | ((action == "modification") & present))
                  & _sound(r, f, "multi_employeur"))
    if not candidates.any():
        return
    in_file = keys.loc[keyed, ["nir", "adherent"]]
    if in_file["adherent"].nunique() < 2:
        return
    shared = in_file.groupby("nir")["adherent"].transform("nunique") > 1
    other = in_file[shared].drop_duplicates()
    candidates &= keys["nir"].isin(other["nir"]).to_numpy()  # hash lookup first: the merge sees few rows
    if not candidates.any():
        return
    probe = keys.loc[candidates, ["nir", "adherent"]].reset_index()
    hits = probe.merge(other, on="nir", suffixes=("", "_autre"))
    hits = hits[hits["adherent"] != hits["adherent_autre"]].drop_duplicates("index")
    if len(hits):
        pos = hits["index"].to_numpy()
        f.add_rows("MULTI_EMPLOYEUR_NON_DECLARE", pos, "multi_employeur", "")


@dataclass
class Stored:
    """What the store holds for each row's (adhérent, NIR): `at`, the row of its employee in `existing` (-1:
    none). Its stored fields, and the file that recorded them (`fichier`, `fichier_recu_le`), are read with
    `_column`, for the rows that need them."""

    existing: pd.DataFrame
    at: np.ndarray


def _stored(keys: pd.DataFrame, keyed: np.ndarray, existing: pd.DataFrame) -> tuple[Stored, np.ndarray, np.ndarray]:
    """What the store holds for each row's (adhérent, NIR), and which rows' employees it knows and has present."""
    at = np.full(len(keys), -1, dtype=np.int64)
    present = np.zeros(len(keys), dtype=bool)
    if existing is not None and len(existing):  # (adhérent, NIR) is unique in what the store gives
        stored_keys, file_keys = _pairs([existing["adherent"], keys["adherent"][keyed]], [existing["nir"], keys["nir"][keyed]])
        at[keyed] = pd.Index(stored_keys).get_indexer(file_keys)
        present[at >= 0] = existing["present"].to_numpy()[at[at >= 0]] == 1
    return Stored(existing, at), at >= 0, present


def _matched(r: _Rows, ctx: Context) -> tuple[pd.DataFrame, np.ndarray, Stored, np.ndarray, np.ndarray]:
    """Each row's key and its employee in ctx.existing (`_stored`), kept in the row (`stored_row`): the store
    writes the accepted rows from it without looking them up again."""
    keys, keyed = _keys_frame(r)
    stored, known, present = _stored(keys, keyed, ctx.existing)
    r.out["stored_row"] = stored.at
    return keys, keyed, stored, known, present


def _column(stored: Stored, key: str, rows: np.ndarray | None = None) -> np.ndarray:
    """A stored column as an object array (None where the store has no employee or no value), at the positions
    `rows` (all when None): only these rows are made Python objects."""
    at = stored.at if rows is None else stored.at[rows]
    hit = at >= 0
    out = np.full(len(at), None, dtype=object)
    if hit.any():
        out[hit] = stored.existing[key].take(at[hit]).to_numpy(dtype=object, na_value=None)
    return out


def _stored_text(stored: Stored, key: str, rows: np.ndarray) -> pa.Array:
    """A stored text column at the positions `rows`, as Arrow text (null where the store has no employee or
    no value): what Arrow compares with a file's column without a Python text per row."""
    at = stored.at[rows]
    return _arrow_text(pc.take(pa.array(stored.existing[key], from_pandas=True), pa.array(at, mask=at < 0)))


def _pairs(adherents: list, nirs: list) -> list[np.ndarray]:
    """(adhérent, NIR) of each row of several sets as one integer, the same for the same pair in every set
    (each text hashed once, by Arrow: much cheaper to look up than texts)."""
    sizes = np.cumsum([len(a) for a in adherents])[:-1]
    nir_code, _ = _codes(nirs)
    adherent_code, distinct = _codes(adherents)
    return np.split(nir_code.astype(np.int64) * max(distinct, 1) + adherent_code, sizes)


def _codes(sets: list) -> tuple[np.ndarray, int]:
    """One integer per distinct text over several sets of texts (arrays, Series of objects, Arrow text or a
    Categorical), and how many there are: the texts encoded by Arrow, none made a Python object."""
    parts = [_arrow_text(pa.array(texts, from_pandas=True) if isinstance(texts, pd.Series) else pa.array(texts, pa.large_string()))
             for texts in sets]
    coded = pc.dictionary_encode(pa.chunked_array(parts, pa.large_string())).combine_chunks()
    return coded.indices.to_numpy(zero_copy_only=False), len(coded.dictionary)


def _arrow_text(arrow: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Arrow texts as one array of large text, a Categorical's dictionary decoded."""
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if pa.types.is_dictionary(arrow.type):
        arrow = arrow.dictionary_decode()
    return arrow.cast(pa.large_string())


# The fields a row is compared on with the store; the values a row does not give keep the stored ones.
COMPARED = ("siret", "nom", "prenom", "date_naissance", "date_embauche", "date_sortie", "contrat", "poste", "pcs",
            "multi_employeur", "categorie", "determinants", "commentaire", "contraintes", "nom_usage")


def _text(values: np.ndarray, key: str) -> np.ndarray:
    """Values as text to compare a file's with the store's ('' for none; a flag as 0 or 1)."""
    if key == "multi_employeur":
        number = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        return np.where(number.isna(), "", number.fillna(0).astype(np.int64).astype(str)).astype(object)
    return np.where(pd.isna(values), "", values).astype(object)  # the other stored fields are text


def _changes(r: _Rows, stored: Stored, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the rows at positions `rows`: whether a value the file gives differs from the stored one, and the
    labels of the fields that differ ("Poste de travail, Code PCS"). One comparison per field, for movement
    files and full lists alike: a value not given (an empty cell; no determinant columns) is no difference."""
    changed = np.zeros(len(rows), dtype=bool)
    labels = np.full(len(rows), "", dtype=object)
    if not len(rows):
        return changed, labels
    for key in COMPARED:
        value = r.out[key]
        if key in ("multi_employeur", "determinants"):  # a flag; '' determinants: none checked
            new = np.asarray(value, dtype=object)[rows]
            new_text = _text(new, key)
            given = ~pd.isna(new) if key == "determinants" else new_text != ""
            if not given.any():  # a column the file does not have, or leaves empty: nothing to compare
                continue
            differs = new_text != _text(_column(stored, key, rows), key)
        elif isinstance(value, pd.Series) and isinstance(value.array, pd.arrays.ArrowStringArray):
            # text held by Arrow (names, job titles): compared there, without a Python text per row (a list
            # of a million employees made six million of them, most for columns the file leaves empty)
            new = pc.take(pa.array(value), rows)
            given = pc.fill_null(pc.not_equal(new, ""), False).to_numpy(zero_copy_only=False)
            if not given.any():
                continue
            old = _stored_text(stored, key, rows)
            differs = pc.fill_null(pc.not_equal(new, old), True).to_numpy(zero_copy_only=False)  # None: differs
        else:  # text: a given value is a non-empty text, so it differs from a stored None as from any other
            part = value.iloc[rows] if isinstance(value, pd.Series) else np.asarray(value, dtype=object)[rows]
            given = (part != "") & pd.notna(part)
            given = given.to_numpy(dtype=bool) if isinstance(given, pd.Series) else given
            if not given.any():
                continue
            differs = (part.to_numpy(dtype=object) if isinstance(part, pd.Series) else part) != _column(stored, key, rows)
        diff = given & differs
        if diff.any():
            label = "déterminants de suivi" if key == "determinants" else _label(key)
            labels[diff] = np.where(labels[diff] == "", label, labels[diff] + ", " + label)
            changed |= diff
    return changed, labels


def _leavers(dtype, value, n: int) -> pd.Series:
    """A column of the leavers added to a full list's accepted rows (a value for all, an array, or None: not
    known), in the dtype of the accepted rows' column: texts held by Arrow stay so, numbers stay numbers, where
    columns of Python objects made the concatenation copy every accepted row's texts into Python objects."""
    if value is None:
        held_as = dtype if dtype == object or isinstance(dtype, pd.StringDtype) else object
        return pd.Series(np.full(n, None, dtype=object), dtype=held_as)
    if np.ndim(value) == 0:  # one object shared by all (a million leavers are not a million 'sortie')
        value = values.repeated(value, n) if isinstance(value, str) else np.full(n, value, dtype=np.int64)
    return pd.Series(value, dtype=dtype)


def _unblocked(f: Findings, n: int) -> np.ndarray:
    ok = np.ones(n, dtype=bool)
    ok[f.blocked_positions()] = False
    return ok


def _stored_exit(r: _Rows, f: Findings, stored: Stored, gone_exits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exits of employees who have already left: (the same exit date, another date). The same exit changes
    nothing; another date corrects the recorded one (SORTIE_CORRIGEE): a new version of the exit, counted as
    a modification."""
    look = np.flatnonzero(gone_exits)
    old_exit = _text(_column(stored, "date_sortie", look), "date_sortie")
    same, corrected = np.zeros(r.n, dtype=bool), np.zeros(r.n, dtype=bool)
    same[look] = r.out["date_sortie"][look] == old_exit
    corrected[look] = ~same[look] & (r.out["date_sortie"][look] != "")
    pos = np.flatnonzero(corrected)
    f.add_rows("SORTIE_CORRIGEE", pos, "date_sortie", _at(r.col("date_sortie"), pos), valeur=_at(r.col("date_sortie"), pos),
               avant=[_fr(d) for d in old_exit[corrected[look]]], **_recorded_by(stored, pos))
    return same, corrected


def _same_hire(r: _Rows, stored: Stored, rows: np.ndarray) -> np.ndarray:
    """Rows (a mask) whose hire date is the stored one, among `rows` (a mask): the same employment."""
    look = np.flatnonzero(rows)
    old = _text(_column(stored, "date_embauche", look), "date_embauche")
    same = np.zeros(r.n, dtype=bool)
    same[look] = (r.out["date_embauche"][look] == old) & (old != "")
    return same


def _recorded_by(stored: Stored, pos: np.ndarray) -> dict:
    """The file that recorded the stored state of these rows' employees: its name as dropped, the day received."""
    name, received = _column(stored, "fichier", pos), _column(stored, "fichier_recu_le", pos)
    codes, days = pd.factorize(np.array([str(v)[:10] if isinstance(v, str) else "" for v in received], dtype=object))
    return {"fichier": np.where(pd.isna(name), "", name),
            "date": np.array([_fr(d) for d in days] + [""], dtype=object)[codes]}  # each day written once


def _against_store(r: _Rows, ctx: Context, f: Findings) -> None:
    """Duplicates within the file, then each movement against what the store holds. A row that repeats what
    is recorded (an entry or a modification giving nothing new, an exit at the recorded date, the entry of an
    employment that has since ended) is accepted with DEJA_ENREGISTRE, writes nothing and is not counted; an
    entry of a present employee changes only what differs (ENTREE_SALARIE_PRESENT); another exit date for an
    employee who has left corrects it (SORTIE_CORRIGEE); sorties and modifications of employees the store does
    not have present are refused (SALARIE_INCONNU)."""
    keys, keyed, stored, known, present = _matched(r, ctx)
    _duplicates_and_multi(r, ctx, f, keys, keyed, present)
    action, adherent = r.out["action"], r.out["adherent"]
    sound = keyed & _unblocked(f, r.n)  # a refused row is compared with nothing: its values are not all read
    gone = known & ~present
    look = np.flatnonzero(sound & ((present & np.isin(action, ["entree", "modification"])) | (gone & (action == "modification"))))
    changed, labels = _changes(r, stored, look)
    repeat = np.zeros(r.n, dtype=bool)
    repeat[look[~changed]] = True
    again = changed & (action[look] == "entree")
    pos = look[again]
    f.add_rows("ENTREE_SALARIE_PRESENT", pos, "nir", _at(r.out["nir_raw"], pos), adherent=adherent[pos], champs=labels[again])
    action[pos] = "modification"
    same_exit, corrected = _stored_exit(r, f, stored, sound & gone & (action == "sortie"))
    repeat |= same_exit
    ended = _same_hire(r, stored, sound & gone & (action == "entree"))
    repeat |= ended
    pos = np.flatnonzero(repeat)
    f.add_rows("DEJA_ENREGISTRE", pos, "mouvement", _at(r.col("mouvement"), pos),
               mouvement=[MOVEMENT_FR[a] for a in action[pos]],
               suite=[f" ; le salarié est sorti depuis, le {_fr(d)}" if e else ""
                      for d, e in zip(_column(stored, "date_sortie", pos), ended[pos])],
               **_recorded_by(stored, pos))
    action[repeat] = ""  # accepted, applied to nothing
    unknown = keyed & ~present & np.isin(action, ["sortie", "modification"]) & ~corrected
    pos = np.flatnonzero(unknown)
    f.add_rows("SALARIE_INCONNU", pos, "nir", _at(r.out["nir_raw"], pos), adherent=adherent[pos], mouvement=action[pos])
    r.out["compte"] = np.where(corrected, "modification", action).astype(object)


def _full_list(r: _Rows, ctx: Context, f: Findings, list_date: str) -> tuple[pd.DataFrame, bool]:
    """Derive the movements of a full list against the store: new people enter, changed ones are modified,
    people with an exit date leave, and present employees missing from the list leave at the list's date.
    A line that repeats what the store holds changes nothing (and is not counted), as in a movement file."""
    keys, keyed, stored, known, present = _matched(r, ctx)
    _duplicates_and_multi(r, ctx, f, keys, keyed, present)
    action = r.out["action"]
    exit_given = r.out["date_sortie"] != ""
    leaving = present & exit_given
    action[present] = "modification"
    action[leaving] = "sortie"
    action[~present & exit_given] = "entree"  # hired and gone within the period: kept as history
    sound = keyed & _unblocked(f, r.n)
    look = np.flatnonzero(sound & (action == "modification"))
    changed, labels = _changes(r, stored, look)
    f.add_rows("LISTE_MODIFICATION", look[changed], None, "", champs=labels[changed])
    action[look[~changed]] = ""  # accepted, applied to nothing
    # an employee who has left, listed again with the exit of the same employment
    listed_gone = sound & known & ~present & exit_given
    gone_exits = listed_gone & (_same_hire(r, stored, listed_gone) | (r.out["date_embauche"] == ""))
    action[gone_exits] = "sortie"
    same_exit, corrected = _stored_exit(r, f, stored, gone_exits)
    action[same_exit] = ""
    r.out["compte"] = np.where(corrected, "modification", action).astype(object)

    accepted = _accepted(r, f)
    existing = ctx.existing
    by = ctx.list_scope
    if len(existing):
        scope = set(r.out[by][r.out["adherent"] != ""]) - ctx.list_exclude
        listed = np.zeros(len(existing), dtype=bool)
        listed[stored.at[known]] = True
        gone_rows = np.flatnonzero((existing["present"].to_numpy() == 1) & existing[by].isin(scope).to_numpy() & ~listed)
        gone = existing.iloc[gone_rows]
    else:
        gone = pd.DataFrame(columns=list(dict.fromkeys(["adherent", "nir", "nom", "prenom", by])))
        scope = set()
    new_pos = accepted.loc[accepted["action"] == "entree", "pos"].to_numpy()
    f.add_rows("LISTE_ENTREE", new_pos, None, "")
    if len(gone):
        gone_dates = np.array([ctx.list_dates.get(k, list_date) for k in gone[by].tolist()], dtype=object)
        text = {k: gone[k].to_numpy(dtype=object, na_value=None) for k in ("nir", "nom", "prenom", "adherent")}
        f.add_rows("LISTE_SORTIE", np.full(len(gone), FILE), "nir", text["nir"], nom=text["nom"],
                   prenom=text["prenom"], adherent=text["adherent"],
                   date=[_fr(d) for d in gone_dates], **({"etablissement": gone[by].to_numpy()} if by != "adherent" else {}))
        given = {"pos": -1, "line": 0, "action": "sortie", "compte": "sortie", "adherent": text["adherent"],
                 "nir": text["nir"], "stored_row": gone_rows, "date_sortie": gone_dates,
                 "nir_id": 0}  # nir_id: the store orders the employees new to it by it, and leavers are not
        exits = pd.DataFrame({k: _leavers(accepted[k].dtype, given.get(k), len(gone)) for k in accepted.columns}, copy=False)
        accepted = pd.concat([accepted, exits], ignore_index=True)
    held = False
    if len(existing):
        staff = existing[existing["present"] == 1].groupby(by).size()
        out = gone.groupby(by).size() if len(gone) else pd.Series(dtype=int)
        owner = dict(existing.drop_duplicates(by)[[by, "adherent"]].itertuples(index=False, name=None))
        for key in sorted(scope):
            total, leaving_n = int(staff.get(key, 0)), int(out.get(key, 0))
            if total and leaving_n / total > ctx.exit_threshold:
                held = True
                f.add_file("LISTE_RETENUE", sorties=leaving_n, effectif=total, adherent=owner.get(key, key),
                           part=f"{100 * leaving_n / total:.0f}", seuil=f"{100 * ctx.exit_threshold:.0f}",
                           **({"etablissement": key} if by != "adherent" else {}))
    return accepted, held
