"""A DSN as employee rows: one row per individual of each declaration, in the `mouvements` vocabulary, so that
the employee rules (rules.employees) check it as they check a staff list or a movement file.

The cells are the DSN's own values (dates JJMMAAAA, contract nature codes, PCS-ESE codes); the NIR gets its
key, computed from the 13 characters the DSN gives. Each field keeps the line of the rubrique it came from,
and its "column" is that rubrique (schemas/dsn.toml), for the findings.

Several contracts of one individual make one row: the contract still running at the end of the month (the
latest started), or when all have ended the one that ended last, which gives the exit (date and reason); the
hire date is the earliest start. What only the DSN can be wrong about (its structure, the trailer's counts,
an individual without a NIR or without a contract) is checked here; the rest is the employee rules' job.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from ..read.dsn import (CONTRAT, DECLARATION, ENTREPRISE, ETABLISSEMENT, FIN, INDIVIDU, TRAILER, DsnFile,
                        rubrique_key)
from ..read.table import Table
from ..vocab import load_toml
from .catalogue import Findings

MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


@cache
def spec() -> dict:
    return load_toml("dsn.toml")


def rubrique(key: str) -> str:
    """The rubrique a field (or another item of dsn.toml) is read from."""
    return spec()["rubriques"].get(key) or spec()["autres"][key]


def month_fr(month: str) -> str:
    """'2026-03' → 'mars 2026'."""
    return f"{MONTHS_FR[int(month[5:7]) - 1]} {month[:4]}" if month else ""


@dataclass
class Declaration:
    """One DSN of the file (one establishment, one month)."""

    index: int
    nature: str
    usage: str  # 'mensuelle', 'fin_contrat' or '' (not taken)
    month: str  # 'AAAA-MM', '' when unreadable
    siret: str
    line: int  # of its nature (S20.G00.05.001)

    @property
    def month_end(self) -> dt.date:
        y, m = int(self.month[:4]), int(self.month[5:7])
        return dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)

    @property
    def before(self) -> dt.date:
        """The last day of the month before: the latest an individual absent from a monthly DSN can have left."""
        return dt.date(int(self.month[:4]), int(self.month[5:7]), 1) - dt.timedelta(days=1)


@dataclass
class People:
    """One row per individual: text cells by field, the line each came from, and what only the DSN says."""

    cells: dict[str, np.ndarray]  # field key → text per row
    lines: dict[str, np.ndarray]  # field key → line per row (0: not given)
    line: np.ndarray  # first line of the individual
    declaration: np.ndarray  # index of its declaration
    nir13: np.ndarray  # S21.G00.30.001 as written
    ntt: np.ndarray
    motif: np.ndarray  # S21.G00.62.002 of the exit, '' if none
    contract_number: np.ndarray
    contracts: np.ndarray  # number of contracts

    def __len__(self) -> int:
        return len(self.line)

    def subset(self, keep: np.ndarray) -> "People":
        return People({k: v[keep] for k, v in self.cells.items()}, {k: v[keep] for k, v in self.lines.items()},
                      self.line[keep], self.declaration[keep], self.nir13[keep], self.ntt[keep], self.motif[keep],
                      self.contract_number[keep], self.contracts[keep])


def structure(dsn: DsnFile, f: Findings) -> list[Declaration]:
    """The declarations of the file, and file-level findings on what makes it unusable: malformed lines, no
    trailer or wrong counts, a declaration without its establishment or month, a nature not taken."""
    if dsn.n_malformed:
        first = ", ".join(str(n) for n, _ in dsn.malformed)
        f.add_file("DSN_LIGNE_MAL_FORMEE", None, dsn.malformed[0][1], nombre=dsn.n_malformed, lignes=first)
    blocks = dsn.block
    trailer = np.flatnonzero(blocks == TRAILER)
    starts = dsn.starts(DECLARATION)
    if not len(trailer):
        f.add_file("DSN_FIN_ABSENTE")
    else:
        total_pos = trailer[dsn.key[trailer] == rubrique_key(rubrique("rubriques_total"))]
        count_pos = trailer[dsn.key[trailer] == rubrique_key(rubrique("dsn_total"))]
        total = dsn.values(total_pos[-1:])
        count = dsn.values(count_pos[-1:])
        counted = len(dsn) + dsn.n_malformed
        if not len(total) or _int(total[0]) != counted:
            f.add_file("DSN_TOTAL_FAUX", None, total[0] if len(total) else "", compte=counted,
                       valeur=total[0] if len(total) else "absent", rubrique=rubrique("rubriques_total"))
        if not len(count) or _int(count[0]) != len(starts):
            f.add_file("DSN_TOTAL_FAUX", None, count[0] if len(count) else "", compte=len(starts),
                       valeur=count[0] if len(count) else "absent", rubrique=rubrique("dsn_total"))
    if not len(starts):
        f.add_file("DSN_BLOC_MANQUANT", None, "", bloc="S20.G00.05 (déclaration)", declaration="")
        return []
    decl = dsn.instance(DECLARATION)
    n = len(starts)
    nature, nature_line = dsn.pick("S20.G00.05.001", decl, n)
    month, _ = dsn.pick(rubrique("date_liste"), decl, n)
    siren, _ = dsn.pick(rubrique("siren"), np.where(blocks == ENTREPRISE, decl, -1), n)
    nic, _ = dsn.pick(rubrique("siret"), np.where(blocks == ETABLISSEMENT, decl, -1), n)
    natures = spec()["natures"]
    out = []
    for i in range(n):
        line = int(dsn.line[starts[i]])
        which = f"déclaration commençant ligne {line}"
        m = _month(str(month[i]))
        for what, value in (("S21.G00.06.001 (SIREN)", siren[i]), ("S21.G00.11.001 (NIC)", nic[i]),
                            ("S20.G00.05.001 (nature)", nature[i])):
            if not value:
                f.add_file("DSN_BLOC_MANQUANT", None, "", bloc=what, declaration=which)
        if not m:
            f.add_file("DSN_BLOC_MANQUANT", None, str(month[i]), bloc="S20.G00.05.005 (mois déclaré)", declaration=which)
        usage = natures.get(str(nature[i]), {}).get("usage", "")
        if nature[i] and not usage:
            label = spec()["natures_refusees"].get(str(nature[i]), "nature inconnue")
            f.add_file("DSN_NATURE", None, str(nature[i]), valeur=str(nature[i]), libelle=label, declaration=which)
        out.append(Declaration(i, str(nature[i]), usage, m, f"{siren[i]}{nic[i]}", int(nature_line[i]) or line))
    usages = {d.usage for d in out if d.usage}
    if len(usages) > 1:
        f.add_file("DSN_NATURES_MELANGEES")
    seen: dict[str, int] = {}
    for d in out:
        if d.siret and d.siret in seen:
            f.add_file("DSN_ETABLISSEMENT_EN_DOUBLE", None, d.siret, siret=d.siret, ligne_premiere=seen[d.siret])
        seen.setdefault(d.siret, d.line)
    return out


def _int(text: str) -> int | None:
    return int(text) if str(text).strip().isdigit() else None


def _month(text: str) -> str:
    """S20.G00.05.005 (JJMMAAAA, the first of the month) → 'AAAA-MM'; '' when not a date."""
    t = text.strip()
    if len(t) != 8 or not t.isdigit() or not 1 <= int(t[2:4]) <= 12:
        return ""
    return f"{t[4:8]}-{t[2:4]}"


def people(dsn: DsnFile, declarations: list[Declaration]) -> People:
    """One row per individual (S21.G00.30) of the file, its contracts (S21.G00.40) merged."""
    blocks = dsn.block
    decl = dsn.instance(DECLARATION)
    ind = dsn.instance(INDIVIDU)
    con = dsn.instance(CONTRAT)
    end = dsn.instance(FIN)
    ind_starts, con_starts, end_starts = dsn.starts(INDIVIDU), dsn.starts(CONTRAT), dsn.starts(FIN)
    n, nc, ne = len(ind_starts), len(con_starts), len(end_starts)
    # owners: an individual's decl, a contract's individual (only after one started in the same declaration)
    ind_decl = decl[ind_starts]
    con_ind = ind[con_starts]
    con_ok = (con_ind >= 0) & (decl[con_starts] == (ind_decl[np.maximum(con_ind, 0)] if n else -1))
    con_ind = np.where(con_ok, con_ind, -1)
    end_con = con[end_starts]
    end_ok = (end_con >= 0) & (ind[end_starts] == np.where(end_con >= 0, con_ind[np.maximum(end_con, 0)] if nc else -1, -2))
    end_con = np.where(end_ok, end_con, -1)

    def of(block: int, inst: np.ndarray) -> np.ndarray:
        return np.where(blocks == block, inst, -1)

    cells: dict[str, np.ndarray] = {}
    lines: dict[str, np.ndarray] = {}
    i_owner = of(INDIVIDU, ind)
    for key in ("nir", "nom", "nom_usage", "prenom", "date_naissance"):
        cells[key], lines[key] = dsn.pick(rubrique(key), i_owner, n)
    nir13 = cells["nir"].copy()
    ntt, _ = dsn.pick(rubrique("ntt"), i_owner, n)
    c_owner = of(CONTRAT, con)
    c: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in ("date_embauche", "pcs", "poste", "contrat", "numero_contrat"):
        c[key] = dsn.pick(rubrique(key), c_owner, nc)
    e_date, e_line = dsn.pick(rubrique("date_sortie"), of(FIN, end), ne)
    e_motif, _ = dsn.pick(rubrique("motif_fin"), of(FIN, end), ne)
    # each contract's end (the last given)
    c_end, c_end_line, c_motif = np.full(nc, "", dtype=object), np.zeros(nc, dtype=np.int64), np.full(nc, "", dtype=object)
    good = end_con >= 0
    c_end[end_con[good]], c_end_line[end_con[good]], c_motif[end_con[good]] = e_date[good], e_line[good], e_motif[good]

    frame = pd.DataFrame({"ind": con_ind, "start": iso_dates(c["date_embauche"][0]), "end": c_end, "pos": np.arange(nc)})
    frame = frame[frame["ind"] >= 0]
    frame["running"] = frame["end"] == ""
    frame["end_iso"] = iso_dates(frame["end"].to_numpy(dtype=object))
    main = frame.sort_values(["ind", "running", "start", "end_iso"], ascending=[True, False, False, False],
                             kind="stable").drop_duplicates("ind")
    dated = frame[frame["start"] != ""]
    first = dated.sort_values(["ind", "start"], kind="stable").drop_duplicates("ind")
    counts = frame.groupby("ind").size()

    main_of = np.full(n, -1, dtype=np.int64)
    main_of[main["ind"].to_numpy()] = main["pos"].to_numpy()
    first_of = main_of.copy()
    first_of[first["ind"].to_numpy()] = first["pos"].to_numpy()
    has = main_of >= 0

    def take(values: np.ndarray, rows: np.ndarray, blank=""):
        out = np.full(n, blank, dtype=object if blank == "" else np.int64)
        out[has] = values[rows[has]]
        return out

    for key in ("pcs", "poste", "contrat"):
        cells[key], lines[key] = take(c[key][0], main_of), take(c[key][1], main_of, 0)
    cells["date_embauche"], lines["date_embauche"] = take(c["date_embauche"][0], first_of), take(c["date_embauche"][1], first_of, 0)
    cells["date_sortie"], lines["date_sortie"] = take(c_end, main_of), take(c_end_line, main_of, 0)
    motif = take(c_motif, main_of)
    number = take(c["numero_contrat"][0], main_of)
    nb = np.zeros(n, dtype=np.int64)
    nb[counts.index.to_numpy()] = counts.to_numpy()

    by_index = {d.index: d for d in declarations}
    siret = np.array([by_index[d].siret if d in by_index else "" for d in range(max(by_index, default=-1) + 1)] + [""],
                     dtype=object)
    cells["siret"] = siret[np.where(ind_decl >= 0, ind_decl, -1)]
    nic_line = _decl_lines(dsn, rubrique("siret"), decl, ETABLISSEMENT, len(siret))
    lines["siret"] = nic_line[np.where(ind_decl >= 0, ind_decl, -1)]
    cells["nir"] = with_key(nir13)
    return People(cells, lines, dsn.line[ind_starts], ind_decl, nir13, ntt, motif, number, nb)


def _decl_lines(dsn: DsnFile, rub: str, decl: np.ndarray, block: int, n: int) -> np.ndarray:
    _, line = dsn.pick(rub, np.where(dsn.block == block, decl, -1), n)
    return line


def iso_dates(values: np.ndarray) -> np.ndarray:
    """JJMMAAAA → AAAA-MM-JJ for sorting ('' when not 8 digits)."""
    s = pd.Series(values, dtype=object).fillna("").astype(str)
    ok = s.str.fullmatch(r"\d{8}")
    return np.where(ok, s.str[4:8] + "-" + s.str[2:4] + "-" + s.str[0:2], "").astype(object)


def with_key(nir13: np.ndarray) -> np.ndarray:
    """The DSN's 13-character NIR with its key (97 − number mod 97; 2A/2B count as 19/18); anything else as
    written, for the NIR checks to say what is wrong with it."""
    text = pd.Series(nir13, dtype=object).fillna("").astype(str).str.strip().str.upper()
    out = text.to_numpy(dtype=object).copy()
    digits = text.str.fullmatch(r"\d{13}").to_numpy(dtype=bool)
    if digits.any():  # in integers: 13 digits fit in 64 bits
        number = text[digits].astype(np.int64).to_numpy()
        out[digits] = (text[digits] + pd.Series(97 - number % 97, index=text[digits].index).astype(str).str.zfill(2)).to_numpy(dtype=object)
    for i in np.flatnonzero(~digits):  # Corsica (2A, 2B) and malformed ones: few
        out[i] = _keyed(out[i])
    return out


def _keyed(v: str) -> str:
    v = str(v).strip().upper()
    if len(v) != 13:
        return v
    digits = v[:5] + v[5:7].replace("2A", "19").replace("2B", "18") + v[7:] if v[5:7] in ("2A", "2B") else v
    if not digits.isdigit():
        return v
    return f"{v}{97 - int(digits) % 97:02d}"


def table(p: People, declarations: list[Declaration]) -> tuple[Table, dict[str, str]]:
    """The rows as a Table for rules.employees, and the header of each field (its rubrique). A monthly DSN
    is a full staff list (no `Mouvement` column; its leavers' exit date, the day before its month, is the
    caller's: see `Declaration.before`); an FCTU gives exits."""
    fctu = any(d.usage == "fin_contrat" for d in declarations)
    keys = ["nom", "nom_usage", "prenom", "nir", "date_naissance", "siret", "date_embauche", "date_sortie", "contrat",
            "poste", "pcs"]
    columns = {k: rubrique(k) for k in keys}
    data = {columns[k]: pd.Series(p.cells[k], dtype="str") for k in keys}  # Arrow text, as the CSV reader gives
    if fctu:  # the exit alone: the contract's job, PCS-ESE and nature are not taken as changes
        for k in ("contrat", "poste", "pcs"):
            data[columns[k]] = pd.Series(np.full(len(p), "", dtype=object), dtype="str")
        columns["mouvement"] = rubrique("mouvement")
        data[columns["mouvement"]] = pd.Series(np.full(len(p), "Sortie", dtype=object), dtype="str")
    frame = pd.DataFrame(data)
    t = Table(list(frame.columns), frame, p.line.astype(np.int64), 1, np.zeros(len(p), dtype=bool), "dsn")
    return t, columns


@cache
def _placeholder() -> re.Pattern:
    return re.compile(spec()["nir"]["substitut"])


def row_findings(p: People, f: Findings) -> np.ndarray:
    """What only the DSN can be wrong about, per row: no NIR (an NTT, or a placeholder number) or no contract.
    Returns the rows refused here (their cells were blanked so that the employee rules refuse them too)."""
    nir = pd.Series(p.nir13, dtype=object).fillna("").astype(str).str.strip()
    missing = (nir == "").to_numpy()
    fake = nir.str.fullmatch(_placeholder().pattern).fillna(False).to_numpy()
    pos = np.flatnonzero(missing | fake)
    detail = np.where(fake[pos], "un numéro de substitution (" + nir.to_numpy(dtype=object)[pos] + ")",
                      np.where(p.ntt[pos] != "", "un numéro technique temporaire (NTT, S21.G00.30.020)",
                               "aucun numéro"))
    f.add_rows("DSN_SANS_NIR", pos, "nir", "", detail=detail)
    p.cells["nir"][pos] = ""
    none = np.flatnonzero(p.contracts == 0)
    f.add_rows("DSN_SANS_CONTRAT", none, None, "")
    for key in ("date_embauche", "contrat", "poste", "pcs"):
        p.cells[key][none] = ""
    return np.union1d(pos, none)
