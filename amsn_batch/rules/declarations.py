"""Checks of an annual headcount declaration file, pure: they take the read table and a context of plain
values (the registry, the sender, and per adhérent the campaign window decision, the headcount the service
knows and the invoice in force, given as functions by billing) and return the findings and the declaration
versions the file brings. Nothing here reads the store or writes anything.

A declaration file gives, per establishment, the number of workers per category (SI, SIA, SIR and the SIH
label), or the list of the employees with their category (counted here). A version with blocking findings is
`en_cours`; otherwise it is `confirmee`.

The per-cell part (required columns and values, the year, headcounts, categories, NIR) is the pandera schema
generated from the catalogue (rules/schema.py, the rules with `fichier = "declaration"` or a
[CODE.declaration] sub-table); the year of the file, the sender's establishments, duplicates, totals and the
campaign are checked here, around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..read.headers import HeaderMap, map_headers
from ..vocab import Rule, load_toml, vocabulary
from ..read.table import Table
from .catalogue import FILE, Findings
from .cells import hostile_cells
from .employees import Sender
from .schema import Cells, cell_rule, failures, missing_columns

CATEGORIES = ("SI", "SIA", "SIR", "SIH")
COUNT_FIELDS = {"effectif_si": "SI", "effectif_sia": "SIA", "effectif_sir": "SIR", "effectif_sih": "SIH"}
# Situations in which a member cannot declare (statuts.toml codes).
NOT_DECLARABLE = {"sans_personnel", "cession", "cessation", "liquidation"}
# Columns read in one mode only: the other mode's columns are neither read nor checked.
LIST_ONLY = ("nom", "prenom", "nir", "categorie")
COUNT_ONLY = (*COUNT_FIELDS, "total")
# Which year, whose establishment: their cells are checked before the sender's rights, the others after.
KEY_FIELDS = ("annee", "siret")
# The NIR_FORMAT cases of a declaration (its sub-table's `cas`), in French.
NIR_DETAIL = {"notation_scientifique": "le tableur l'a transformé en nombre : formatez la colonne en Texte",
              "sans_cle": "il n'a que 13 chiffres : la clé (2 derniers chiffres) manque",
              "format": "il est mal écrit"}


@dataclass(frozen=True)
class OutsideWindow:
    """Why a declaration of one adhérent is refused for the campaign window: French values for the message."""

    received: str  # JJ/MM/AAAA
    opens: str
    closes: str
    hint: str  # when the campaign opens (or opened), whom to ask


@dataclass(frozen=True)
class InvoiceInForce:
    """The invoice that covers the adhérent's current declaration, not cancelled (number, JJ/MM/AAAA)."""

    numero: str
    date: str


@dataclass
class DeclarationContext:
    sender: Sender
    establishments: dict[str, str]  # SIRET → N° adhérent
    situations: dict[str, str | None]  # N° adhérent → statuts.toml code
    window_refusal: Callable[[str, int], OutsideWindow | None]  # (adhérent, year) → None when the window is open
    known_headcount: Callable[[str], int]  # adhérent → employees present in the service's records
    invoice_in_force: Callable[[str, int], InvoiceInForce | None]  # (adhérent, year)
    max_cell_chars: int = 2000  # [limites] longueur_valeur_max: a longer value refuses its line


@dataclass
class Version:
    adherent: str
    year: int
    state: str  # confirmee | en_cours
    mode: str  # effectifs | liste
    counts: list[tuple[str, str, int]]  # (siret, category, headcount)
    employees: list[tuple[int, str, str, str, str, str]] = field(default_factory=list)  # line, siret, nir, nom, prenom, cat

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.counts)


@dataclass
class DeclarationCheck:
    findings: Findings
    columns: dict[str, str]  # field key → header found
    details: dict  # for the ledger entry
    rows: int = 0
    accepted: int = 0
    versions: list[Version] = field(default_factory=list)


class _Cells(Cells):
    """A declaration's cells, read trimmed; the schema sees only the columns of the file's mode."""

    kind = "declaration"

    def __init__(self, table: Table, headers: HeaderMap, mode: str) -> None:
        super().__init__(table, headers)
        self.skipped = LIST_ONLY if mode == "effectifs" else COUNT_ONLY

    def col(self, key: str) -> pd.Series:
        return self._once(("trimmed", key), lambda: Cells.col(self, key).str.strip())

    def frame(self) -> pd.DataFrame:
        frame = super().frame()
        return frame[[k for k in frame.columns if k not in self.skipped]]


def check(table: Table, ctx: DeclarationContext) -> DeclarationCheck:
    """Check a declaration file read as `table`."""
    f = Findings()
    vocab = vocabulary("declaration")
    headers = map_headers(table.headers, vocab)
    details = {"format": table.format, "ligne_entetes": table.header_line, "colonnes": table.headers, **table.details}
    f.add_headers(headers, vocab)
    n = len(table)
    missing = missing_columns("declaration", list(headers.columns))
    if missing:
        expected = ", ".join(fl.label for fl in vocab.fields if fl.required)
        for key in missing:
            f.add_file("COLONNE_MANQUANTE", None, "", attendu=vocab.field(key).label, liste=expected)
        return DeclarationCheck(f, headers.columns, details, n)
    if n == 0:
        f.add_file("FICHIER_VIDE")
        return DeclarationCheck(f, headers.columns, details, 0)

    count_mode = any(k in headers.columns for k in COUNT_FIELDS)
    list_mode = "categorie" in headers.columns and ("nir" in headers.columns or "nom" in headers.columns)
    if not count_mode and not list_mode:
        f.add_file("DECL_COLONNES")
        return DeclarationCheck(f, headers.columns, details, n)
    mode = "effectifs" if count_mode else "liste"
    details["mode"] = mode
    cells = _Cells(table, headers, mode)
    failed = failures("declaration", cells)
    col = cells.col

    # Year: one per file. A cell rule of scope `fichier` (the year's) refuses the file once, on its first bad
    # value in sorted order.
    for rule, key, pos in failed:
        if rule.scope == "fichier":
            bad = col(key).to_numpy(dtype=object)[pos]
            first = pos[[min(range(len(pos)), key=bad.__getitem__)]]
            _cell_findings(cells, f, [(rule, key, first)], on_file=True)
    if f.file_refused():
        return DeclarationCheck(f, headers.columns, details, n)
    distinct = sorted(set(col("annee")) - {""})
    if not distinct:
        f.add_file("DECL_ANNEE_INVALIDE", "annee", "", valeur="")
    elif len(distinct) > 1:
        f.add_file("DECL_ANNEES_MULTIPLES", annees=", ".join(distinct))
    if f.file_refused():
        return DeclarationCheck(f, headers.columns, details, n)
    year = int(distinct[0])
    details["annee"] = year
    _cell_findings(cells, f, [x for x in failed if x[0].scope != "fichier" and x[1] in KEY_FIELDS])

    if table.overflow.any():
        f.add_rows("LIGNE_CHAMPS_EN_TROP", np.flatnonzero(table.overflow), None)

    # Establishment and sender
    establishments = ctx.establishments
    siret = col("siret").str.replace(r"\s", "", regex=True)
    adherent = siret.map(establishments).fillna("").to_numpy(dtype=object)
    blank = (siret == "").to_numpy()
    unknown = ~blank & (adherent == "")
    f.add_rows("SIRET_INCONNU", np.flatnonzero(unknown), "siret", col("siret")[unknown], valeur=col("siret")[unknown])
    sender = ctx.sender
    foreign = (adherent != "") & ~np.isin(adherent, list(sender.adherents))
    if foreign.any():
        pos = np.flatnonzero(foreign)
        code = "MANDAT_ABSENT" if sender.kind == "mandataire" else "SIRET_AUTRE_ADHERENT"
        f.add_rows(code, pos, "siret", siret.to_numpy()[pos], valeur=siret.to_numpy()[pos], siret=siret.to_numpy()[pos],
                   adherent=adherent[pos], expediteur=sender.code)
        adherent[foreign] = ""  # looked at no further, like an unknown SIRET: nothing about another member
    if f.file_refused():
        return DeclarationCheck(f, headers.columns, details, n)

    # Content: the other cells (invisible, bidirectional or undecodable characters first), then across rows
    hostile_cells(table, f, ctx.max_cell_chars)
    _cell_findings(cells, f, [x for x in failed if x[0].scope != "fichier" and x[1] not in KEY_FIELDS])
    rows = pd.DataFrame({"pos": np.arange(n), "line": table.lines, "siret": siret.to_numpy(dtype=object), "adherent": adherent})
    if mode == "effectifs":
        for key, cat in COUNT_FIELDS.items():
            rows[cat] = _counts(cells, key)
        if "total" in headers.columns:
            text, ok = cells.whole_numbers("total")
            given = text != ""
            sums = rows[list(CATEGORIES)].sum(axis=1).to_numpy()
            totals = np.where(given & ok, _counts(cells, "total"), -1)
            wrong = np.flatnonzero(given & ok & (totals != sums))
            f.add_rows("DECL_TOTAL_INCOHERENT", wrong, "total", col("total").to_numpy()[wrong],
                       valeur=col("total").to_numpy()[wrong], somme=sums[wrong])
        keyed = rows["siret"] != ""
        dup = rows.loc[keyed, "siret"].duplicated(keep="first")
        if dup.any():
            first = rows.loc[keyed].groupby("siret")["line"].transform("first")
            idx = dup.index[dup.to_numpy()]
            f.add_rows("DECL_ETABLISSEMENT_EN_DOUBLE", rows.loc[idx, "pos"].to_numpy(), "siret", rows.loc[idx, "siret"].to_numpy(),
                       valeur=rows.loc[idx, "siret"].to_numpy(), premiere=first.loc[idx].to_numpy())
    else:
        rows["categorie"] = cells.lookup("categorie", cell_rule("CATEGORIE_INVALIDE", "declaration").params["valeurs"])[0]
        nir = cells.nir("nir")
        nir_ok = ~(nir["empty"] | nir["scientific"] | nir["no_key"] | nir["shape"] | nir["key"])
        rows["nir"] = np.where(nir_ok, nir["value"].to_numpy(zero_copy_only=False), "")
        rows["nom"] = col("nom").to_numpy(dtype=object)
        rows["prenom"] = col("prenom").to_numpy(dtype=object)
        anonymous = nir["empty"] & ~cells.given("nom")
        f.add_rows("CHAMP_OBLIGATOIRE", np.flatnonzero(anonymous), "nir" if "nir" in headers.columns else "nom", "",
                   colonne=vocab.field("nir").label if "nir" in headers.columns else vocab.field("nom").label,
                   contexte="chaque salarié")
        keyed = (rows["nir"] != "") & (rows["adherent"] != "")
        dup = rows.loc[keyed, ["adherent", "nir"]].duplicated(keep="first")
        if dup.any():
            first = rows.loc[keyed].groupby(["adherent", "nir"])["line"].transform("first")
            idx = dup.index[dup.to_numpy()]
            f.add_rows("DOUBLON_FICHIER", rows.loc[idx, "pos"].to_numpy(), "nir", "", premiere=first.loc[idx].to_numpy())

    # Per adhérent: situation, window, then the version to record
    situations = ctx.situations
    labels = {code: spec["libelle"] for code, spec in load_toml("statuts.toml").items()}
    versions, accepted = [], 0
    for numero in sorted(set(adherent) - {""}):
        mine = np.flatnonzero(adherent == numero)
        if situations.get(numero) in NOT_DECLARABLE:
            f.add_rows("DECL_ADHERENT_NON_SAISISSABLE", mine, None, adherent=numero,
                       statut=labels.get(situations[numero], situations[numero]))
            continue
        outside = ctx.window_refusal(numero, year)
        if outside is not None:
            f.add_rows("DECL_HORS_CAMPAGNE", mine, None, annee=year, adherent=numero, recue=outside.received,
                       ouverture=outside.opens, fermeture=outside.closes, quand=outside.hint)
            continue
        blocked = np.intersect1d(f.blocked_positions(), mine)
        sub = rows.iloc[mine]
        if mode == "effectifs":
            summed: dict[tuple[str, str], int] = {}
            for _, r in sub.iterrows():
                for c in CATEGORIES:
                    if int(r[c]) > 0:
                        summed[(r["siret"], c)] = summed.get((r["siret"], c), 0) + int(r[c])
            counts = [(s, c, k) for (s, c), k in summed.items()]
            employees = []
        else:
            good = sub[sub["categorie"] != ""]
            grouped = good.groupby(["siret", "categorie"]).size()
            counts = [(s, c, int(k)) for (s, c), k in grouped.items()]
            employees = [(int(r["line"]), r["siret"], r["nir"], r["nom"], r["prenom"], r["categorie"]) for _, r in good.iterrows()]
        state = "en_cours" if len(blocked) else "confirmee"
        version = Version(numero, year, state, mode, counts, employees)
        versions.append(version)
        if state == "confirmee":
            accepted += len(mine)
            _warnings(ctx, f, version, sub)
    details["declarations"] = [{"adherent": v.adherent, "etat": v.state, "total": v.total} for v in versions]
    return DeclarationCheck(f, headers.columns, details, n, accepted, versions)


def _counts(cells: Cells, key: str) -> np.ndarray:
    """The headcount of each row (0 where blank or not a whole number)."""
    text, ok = cells.whole_numbers(key)
    return np.array([int(v.replace(",", ".").split(".")[0]) if good and v else 0 for v, good in zip(text, ok)], dtype=np.int64)


def _cell_findings(cells: Cells, f: Findings, failed: list[tuple[Rule, str, np.ndarray]], on_file: bool = False) -> None:
    """Failures of the schema as findings quoting the trimmed cell, on their rows (or on the file)."""
    for rule, key, pos in failed:
        params = _cell_params(cells, rule, key, pos)
        value = params.pop("_value", cells.col(key).to_numpy(dtype=object)[pos])
        f.add_rows(rule.code, np.full(len(pos), FILE) if on_file else pos, key, value, **params)


def _cell_params(cells: Cells, rule: Rule, key: str, pos: np.ndarray) -> dict:
    """The parameters of a finding's message: the value quoted back (never a NIR), or what the rule needs."""
    if rule.code == "CHAMP_OBLIGATOIRE":
        return {"_value": "", "colonne": vocabulary("declaration").field(key).label,
                "contexte": "chaque salarié" if key in LIST_ONLY else "chaque ligne"}
    if rule.code == "NIR_FORMAT":
        cases = cells.nir(key)["cases"]
        return {"detail": [next(NIR_DETAIL[c] for c in rule.params["cas"] if cases[c][p]) for p in pos]}
    if key == "nir":
        return {}
    return {"valeur": cells.col(key).to_numpy(dtype=object)[pos]}


def _warnings(ctx: DeclarationContext, f: Findings, v: Version, sub: pd.DataFrame) -> None:
    """Non-blocking remarks on a confirmed declaration."""
    present = set(sub["siret"])
    for siret in sorted(s for s, a in ctx.establishments.items() if a == v.adherent and s not in present):
        f.add_file("DECL_ETABLISSEMENT_ABSENT", siret=siret, adherent=v.adherent)
    if v.total == 0:
        f.add_file("DECL_AUCUN_SALARIE", annee=v.year, adherent=v.adherent)
    known = ctx.known_headcount(v.adherent)
    if known and known != v.total:
        f.add_file("DECL_ECART_EFFECTIF", adherent=v.adherent, declare=v.total, connu=known)
    invoiced = ctx.invoice_in_force(v.adherent, v.year)
    if invoiced is not None:
        f.add_file("DECL_CORRECTION_APRES_FACTURE", annee=v.year, adherent=v.adherent, facture=invoiced.numero,
                   date=invoiced.date)
