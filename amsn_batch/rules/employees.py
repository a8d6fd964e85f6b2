"""Checks of an employee movement file (entrées, sorties, modifications), vectorised per column.

Input: the Table read from the file, its header map and the context (who sends, the establishments of the
registry, the employees the store knows). Output: the findings, and the accepted rows normalized to the
store's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..read.headers import HeaderMap, vocabulary
from ..read.table import Table
from . import identifiers, values
from .catalogue import FILE, Findings

# What each movement needs, beyond the movement itself.
REQUIRED = {
    "entree": ("nom", "prenom", "nir", "siret", "date_embauche", "contrat", "poste", "pcs"),
    "modification": ("nom", "prenom", "nir", "siret"),
    "sortie": ("nom", "prenom", "nir", "siret"),
}
CONTEXT_FR = {"entree": "une entrée", "modification": "une modification", "sortie": "une sortie", "": "chaque ligne"}
PCS_SHAPE = r"[0-9]{3}[a-z]"

# Fields stored for an employee, in the store's order.
STORED = (
    "siret", "nom", "prenom", "date_naissance", "date_embauche", "date_sortie", "contrat", "poste", "pcs",
    "multi_employeur", "categorie", "determinants", "commentaire", "contraintes",
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
    existing: pd.DataFrame = field(default_factory=pd.DataFrame)  # columns adherent, nir, present, + STORED


@dataclass
class Outcome:
    findings: Findings
    accepted: pd.DataFrame  # pos, line, action, adherent, nir, + STORED (text, '' = not given)
    rows: int


def determinant_keys() -> list[str]:
    return [f.key for f in vocabulary("mouvements").fields if f.key.startswith("det_")]


def validate(table: Table, headers: HeaderMap, ctx: Context) -> Outcome:
    f = Findings()
    n = len(table)
    vocab = vocabulary("mouvements")
    for header in headers.unknown:
        f.add_file("COLONNE_INCONNUE", None, "", colonne=header)
    for key, header in headers.duplicated:
        f.add_file("COLONNE_EN_DOUBLE", None, "", colonne=header, attendu=vocab.field(key).label)
    if headers.missing:
        expected = ", ".join(fl.label for fl in vocab.fields if fl.required)
        for missing in headers.missing:
            f.add_file("COLONNE_MANQUANTE", None, "", attendu=missing.label, liste=expected)
        return Outcome(f, pd.DataFrame(), n)
    if n == 0:
        f.add_file("FICHIER_VIDE")
        return Outcome(f, pd.DataFrame(), 0)

    blank_column = pd.Series(np.full(n, "", dtype=object), dtype="str")

    def col(key: str) -> pd.Series:
        header = headers.columns.get(key)
        return blank_column if header is None else table.frame[header]

    out: dict[str, np.ndarray | pd.Series] = {"pos": np.arange(n), "line": table.lines}
    if table.overflow.any():
        f.add_rows("LIGNE_CHAMPS_EN_TROP", np.flatnonzero(table.overflow), None)

    # Movement
    action, empty, unknown = values.movements(col("mouvement"))
    f.add_rows("CHAMP_OBLIGATOIRE", np.flatnonzero(empty), "mouvement", "", colonne=_label("mouvement"), contexte="chaque ligne")
    f.add_rows("MOUVEMENT_INVALIDE", np.flatnonzero(unknown), "mouvement", col("mouvement")[unknown], valeur=col("mouvement")[unknown])
    out["action"] = action

    # Required fields, per movement
    for key in ("nom", "prenom", "nir", "siret", "date_embauche", "contrat", "poste", "pcs"):
        blank = (col(key).str.strip() == "").to_numpy()
        needs = np.zeros(n, dtype=bool)
        for mv, keys in REQUIRED.items():
            if key in keys:
                needs |= action == mv
        hit = np.flatnonzero(blank & needs)
        if len(hit):
            f.add_rows("CHAMP_OBLIGATOIRE", hit, key, "", colonne=_label(key), contexte=[CONTEXT_FR[a] for a in action[hit]])
    for key in ("nom", "prenom", "poste", "commentaire", "contraintes"):
        out[key] = col(key).str.strip() if key in headers.columns else blank_column

    # NIR
    raw_nir = col("nir")
    nir = identifiers.nir_check(raw_nir)
    f.add_rows("NIR_FORMAT", np.flatnonzero(nir["scientific"]), "nir", raw_nir[nir["scientific"]],
               detail="le tableur l'a transformé en nombre et les derniers chiffres sont perdus : formatez la colonne en Texte avant de saisir ou coller les numéros")
    f.add_rows("NIR_FORMAT", np.flatnonzero(nir["no_key"]), "nir", raw_nir[nir["no_key"]],
               detail="il n'a que 13 chiffres : la clé (2 derniers chiffres) manque")
    shape = nir["shape"]
    f.add_rows("NIR_FORMAT", np.flatnonzero(shape), "nir", raw_nir[shape],
               detail=[_nir_shape_detail(v) for v in nir["value"][shape]])
    f.add_rows("NIR_CLE", np.flatnonzero(nir["key"]), "nir", raw_nir[nir["key"]])
    nir_ok = ~(nir["empty"] | nir["scientific"] | nir["no_key"] | shape | nir["key"])
    out["nir"] = np.where(nir_ok, nir["value"], "")

    # Dates
    for key in ("date_naissance", "date_embauche", "date_sortie"):
        iso, _, invalid = values.dates(col(key))
        f.add_rows("DATE_INVALIDE", np.flatnonzero(invalid), key, col(key)[invalid], valeur=col(key)[invalid])
        out[key] = iso
    missing_exit = (action == "sortie") & (out["date_sortie"] == "") & ~_invalid_mask(f, "date_sortie", n)
    f.add_rows("DATE_SORTIE_MANQUANTE", np.flatnonzero(missing_exit), "date_sortie", "")

    # Codes and reference lists
    pcs = col("pcs").str.strip().str.lower()
    bad_pcs = ((pcs != "") & ~pcs.str.fullmatch(PCS_SHAPE).fillna(False)).to_numpy(dtype=bool)
    f.add_rows("PCS_FORMAT", np.flatnonzero(bad_pcs), "pcs", col("pcs")[bad_pcs], valeur=col("pcs")[bad_pcs])
    out["pcs"] = np.where(bad_pcs, "", pcs.to_numpy(dtype=object))
    for key, ref, code in (("contrat", "contrats.toml", "CONTRAT_INVALIDE"), ("categorie", "categories.toml", "CATEGORIE_INVALIDE")):
        codes, _, unknown = values.lookup(col(key), ref)
        f.add_rows(code, np.flatnonzero(unknown), key, col(key)[unknown], valeur=col(key)[unknown])
        out[key] = codes
    multi, bad = values.yes_no(col("multi_employeur"))
    f.add_rows("OUI_NON_INVALIDE", np.flatnonzero(bad), "multi_employeur", col("multi_employeur")[bad], valeur=col("multi_employeur")[bad])
    out["multi_employeur"] = np.where(empty_multi(col("multi_employeur")), None, multi)
    out["determinants"] = _determinants(col, headers, f, n)

    # Establishment and sender
    siret = col("siret").str.replace(f"[{identifiers.SPACES}]", "", regex=True)
    adherent = siret.map(ctx.establishments).fillna("").to_numpy(dtype=object)
    out["siret"] = siret
    out["adherent"] = adherent
    given = (siret != "").to_numpy()
    unknown_siret = given & (adherent == "")
    f.add_rows("SIRET_INCONNU", np.flatnonzero(unknown_siret), "siret", col("siret")[unknown_siret], valeur=col("siret")[unknown_siret])
    foreign = (adherent != "") & ~np.isin(adherent, list(ctx.sender.adherents))
    if foreign.any():
        pos = np.flatnonzero(foreign)
        code = "MANDAT_ABSENT" if ctx.sender.kind == "mandataire" else "SIRET_AUTRE_ADHERENT"
        f.add_rows(code, pos, "siret", siret.to_numpy()[pos], valeur=siret.to_numpy()[pos], siret=siret.to_numpy()[pos],
                   adherent=adherent[pos], expediteur=ctx.sender.code)

    _against_store(out, ctx, f)
    keep = np.ones(n, dtype=bool)
    keep[f.blocked_positions()] = False
    keep &= out["action"] != ""
    accepted = pd.DataFrame({k: (v[keep].reset_index(drop=True) if isinstance(v, pd.Series)
                                 else pd.Series(v[keep], dtype=v.dtype)) for k, v in out.items()})
    return Outcome(f, accepted, n)


def empty_multi(s: pd.Series) -> np.ndarray:
    return (s.str.strip() == "").to_numpy()


def _label(key: str) -> str:
    return vocabulary("mouvements").field(key).label


def _invalid_mask(f: Findings, field_key: str, n: int) -> np.ndarray:
    frame = f.frame()
    mask = np.zeros(n, dtype=bool)
    pos = frame.loc[(frame["field"] == field_key) & (frame["pos"] >= 0), "pos"].to_numpy(dtype=np.int64)
    mask[pos] = True
    return mask


def _nir_shape_detail(value: str) -> str:
    v = str(value)
    if not v.replace("A", "").replace("B", "").isdigit():
        return "il contient des caractères autres que des chiffres"
    if len(v) != 15:
        return f"il en compte {len(v)}"
    if v[0] not in "1278":
        return "le premier chiffre (sexe) doit être 1 ou 2 (7 ou 8 pour un numéro provisoire)"
    return "le département de naissance est mal écrit"


def _determinants(col, headers: HeaderMap, f: Findings, n: int) -> np.ndarray:
    """The checked determinants of each row, as a comma-separated list of keys ('' when none)."""
    parts = []
    for key in determinant_keys():
        if key not in headers.columns:
            continue
        flags, bad = values.yes_no(col(key))
        f.add_rows("OUI_NON_INVALIDE", np.flatnonzero(bad), key, col(key)[bad], valeur=col(key)[bad])
        parts.append(np.where(flags == 1, key[4:], "").astype(object))
    if not parts:
        return np.full(n, None, dtype=object)  # no determinant columns: nothing said about them
    joined = parts[0].astype(object)
    for part in parts[1:]:
        joined = np.where(part == "", joined, np.where(joined == "", part, joined + "," + part))
    return joined.astype(object)


def _against_store(out: dict, ctx: Context, f: Findings) -> None:
    """Duplicates within the file, and sorties or modifications of employees the store does not know."""
    adherent, nir, action = out["adherent"], out["nir"], out["action"]
    keyed = (nir != "") & (adherent != "")
    keys = pd.DataFrame({"adherent": adherent, "nir": nir, "line": out["line"]})
    dup = keys.duplicated(["adherent", "nir"], keep="first").to_numpy() & keyed
    if dup.any():
        first_line = keys.groupby(["adherent", "nir"])["line"].transform("first").to_numpy()
        pos = np.flatnonzero(dup)
        f.add_rows("DOUBLON_FICHIER", pos, "nir", "", premiere=first_line[pos])
    existing = ctx.existing
    if existing is None or existing.empty:
        present = np.zeros(len(nir), dtype=bool)
    else:
        merged = keys.merge(existing[["adherent", "nir", "present"]], how="left", on=["adherent", "nir"])
        present = (merged["present"].fillna(0).to_numpy() == 1) & keyed
    unknown = keyed & ~present & np.isin(action, ["sortie", "modification"])
    pos = np.flatnonzero(unknown)
    f.add_rows("SALARIE_INCONNU", pos, "nir", "", adherent=adherent[pos], mouvement=action[pos])
    again = keyed & present & (action == "entree")
    pos = np.flatnonzero(again)
    f.add_rows("ENTREE_SALARIE_PRESENT", pos, "nir", "", adherent=adherent[pos])
    action[again] = "modification"
