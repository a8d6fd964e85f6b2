"""The staff's member registry: adhérents, their establishments, mandataires and mandates.

`import_registry` reads the registry file (and the mandates, from a second sheet or a second file),
checks it with pandera (SIRET and VAT keys with python-stdnum), and applies it in one transaction:
new rows are added, changed fields are updated and recorded in `registre_historique`. A file with any
blocking finding changes nothing. When mandates are given, they are the full list: a mandate missing from
it is withdrawn (and the withdrawal recorded), since a withdrawn mandate must stop a mandataire at once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .config import Settings
from .read import Table, read_table
from .read.errors import UnreadableFile
from .read.headers import map_headers, score_header_row
from .rules import identifiers, values
from .rules.catalogue import Findings, to_rows
from .store import connect
from .store import registry as registry_store
from .store.registry import ADHERENT_FIELDS
from .vocab import normalize, vocabulary
EMAIL = re.compile(r"[^@\s;,]+@[^@\s;,]+\.[A-Za-z]{2,}")


class RegistryError(Exception):
    """A registry or mandates file that cannot be read at all (French message naming the file); nothing changed."""


@dataclass
class RegistryReport:
    findings: pd.DataFrame  # ligne, colonne, valeur, code, gravite, message (+ fichier)
    applied: bool
    counts: dict[str, int]
    kept: list[registry_store.Kept] = field(default_factory=list)  # member-declared values the import left in place


KEPT_LABELS = {"tva": "N° de TVA", "email_facturation": "adresse e-mail de facturation"}


def kept_lines(report: RegistryReport) -> list[str]:
    """The values members declared that an import left in place, in French, for the staff to update their
    own reference (the registry's source) with."""
    if not report.kept:
        return []
    return [f"{len(report.kept)} valeur(s) déclarée(s) par les adhérents dans leur fiche conservée(s) : le registre donne "
            "encore la valeur d'avant leur changement. Mettez à jour la source du registre :"] + [
        f"  {k.adherent} — {KEPT_LABELS[k.champ]} : « {k.valeur} » conservée (le registre donne « {k.registre or 'vide'} »)"
        for k in report.kept]


def _check(code: str, fn) -> pa.Check:
    return pa.Check(fn, error=code, element_wise=False)


def _not_blank(s: pd.Series) -> pd.Series:
    return s.str.strip() != ""


def _blank_or(fn):
    return lambda s: (s.str.strip() == "") | fn(s)


REGISTRY_SCHEMA = pa.DataFrameSchema(
    {
        "numero": pa.Column(str, [_check("REG_CHAMP_OBLIGATOIRE", _not_blank)]),
        "raison_sociale": pa.Column(str, [_check("REG_CHAMP_OBLIGATOIRE", _not_blank)]),
        "siret": pa.Column(str, [
            _check("REG_CHAMP_OBLIGATOIRE", _not_blank),
            _check("REG_SIRET_INVALIDE", _blank_or(lambda s: s.map(identifiers.siret_valid).astype(bool))),
        ]),
        "tva": pa.Column(str, [
            _check("REG_TVA_INVALIDE", _blank_or(lambda s: s.map(identifiers.vat_valid).astype(bool))),
        ]),
        "email_facturation": pa.Column(str, [
            _check("REG_CHAMP_OBLIGATOIRE", _not_blank),
            _check("REG_EMAIL_INVALIDE", _blank_or(lambda s: s.str.strip().str.fullmatch(EMAIL).astype(bool))),
        ]),
        "statut": pa.Column(str, [
            _check("REG_STATUT_INVALIDE", lambda s: pd.Series(values.lookup(s, "statuts.toml")[2] == False, index=s.index)),  # noqa: E712
        ]),
    },
    strict=False,
)


def _frame(table: Table, columns: dict[str, str], keys) -> pd.DataFrame:
    return pd.DataFrame({k: (table.frame[columns[k]].astype(str).str.strip() if k in columns else pd.Series([""] * len(table), dtype=str)) for k in keys})


def _read(path: Path, kind: str):
    vocab = vocabulary(kind)
    try:
        table = read_table(path, vocab)
    except UnreadableFile as exc:
        raise RegistryError(f"{path.name} illisible, rien n'a été modifié. {exc}") from None
    headers = map_headers(table.headers, vocab)
    f = Findings()
    if headers.missing:
        expected = ", ".join(x.label for x in vocab.fields if x.required)
        for missing in headers.missing:
            f.add_file("COLONNE_MANQUANTE", None, "", attendu=missing.label, liste=expected)
    for header in headers.unknown:
        f.add_file("COLONNE_INCONNUE", None, "", colonne=header)
    for header, fields in headers.ambiguous:
        f.add_file("COLONNE_AMBIGUE", None, "", colonne=header, champs=fields)
    return table, headers, f


def check_registry(path: Path) -> tuple[Table, pd.DataFrame, Findings, dict[str, str]]:
    table, headers, f = _read(path, "registre")
    keys = [x.key for x in vocabulary("registre").fields]
    frame = _frame(table, headers.columns, keys)
    if headers.missing:
        return table, frame, f, headers.columns
    frame["siret"] = frame["siret"].str.replace(r"\s", "", regex=True)
    frame["tva"] = frame["tva"].str.replace(r"\s", "", regex=True).str.upper()
    try:
        REGISTRY_SCHEMA.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases.dropna(subset=["index"])
        for (code, column), grp in fc.groupby(["check", "column"]):
            pos = grp["index"].astype("int64").to_numpy()
            label = vocabulary("registre").field(column).label
            f.add_rows(code, pos, column, frame[column].to_numpy()[pos], valeur=frame[column].to_numpy()[pos], colonne=label)
    empty_tva = np.flatnonzero((frame["tva"] == "").to_numpy())
    f.add_rows("REG_TVA_MANQUANTE", empty_tva, "tva", "")
    siren_tva = frame["tva"].map(identifiers.vat_siren)
    other = ((siren_tva != "") & (frame["siret"].str.len() == 14) & (siren_tva != frame["siret"].str[:9])).to_numpy()
    pos = np.flatnonzero(other)
    f.add_rows("REG_TVA_AUTRE_SIREN", pos, "tva", frame["tva"].to_numpy()[pos], valeur=frame["tva"].to_numpy()[pos],
               siren_tva=siren_tva.to_numpy()[pos], siren=frame["siret"].str[:9].to_numpy()[pos])
    dup = frame["siret"].duplicated(keep="first") & (frame["siret"] != "")
    if dup.any():
        first = pd.Series(table.lines).groupby(frame["siret"].to_numpy()).transform("first").to_numpy()
        pos = np.flatnonzero(dup.to_numpy())
        f.add_rows("REG_SIRET_EN_DOUBLE", pos, "siret", frame["siret"].to_numpy()[pos], valeur=frame["siret"].to_numpy()[pos], premiere=first[pos])
    for key in ADHERENT_FIELDS:
        first_val = frame.groupby("numero")[key].transform("first")
        first_line = pd.Series(table.lines).groupby(frame["numero"].to_numpy()).transform("first").to_numpy()
        bad = (frame[key] != first_val).to_numpy()
        pos = np.flatnonzero(bad)
        f.add_rows("REG_ADHERENT_INCOHERENT", pos, key, frame[key].to_numpy()[pos], adherent=frame["numero"].to_numpy()[pos],
                   colonne=vocabulary("registre").field(key).label, valeur=frame[key].to_numpy()[pos],
                   autre=first_val.to_numpy()[pos], premiere=first_line[pos])
    frame["statut"] = values.lookup(frame["statut"], "statuts.toml")[0]
    return table, frame, f, headers.columns


def check_mandates(path: Path, known_members: set[str]) -> tuple[Table, pd.DataFrame, Findings, dict[str, str]]:
    table, headers, f = _read(path, "mandats")
    keys = [x.key for x in vocabulary("mandats").fields]
    frame = _frame(table, headers.columns, keys)
    if headers.missing:
        return table, frame, f, headers.columns
    for key in ("mandataire", "numero"):
        pos = np.flatnonzero((frame[key] == "").to_numpy())
        f.add_rows("REG_CHAMP_OBLIGATOIRE", pos, key, "", colonne=vocabulary("mandats").field(key).label)
    unknown = ((frame["numero"] != "") & ~frame["numero"].isin(known_members)).to_numpy()
    pos = np.flatnonzero(unknown)
    f.add_rows("REG_MANDAT_ADHERENT_INCONNU", pos, "numero", frame["numero"].to_numpy()[pos], valeur=frame["numero"].to_numpy()[pos])
    return table, frame, f, headers.columns


def import_registry_files(settings: Settings, path: Path, mandates_path: Path | None = None) -> RegistryReport:
    """`amsn-batch adherents importer`: the store opened, the registry (and mandates) checked and applied, closed."""
    db = connect(settings.paths.database)
    try:
        return import_registry(db, path, mandates_path)
    finally:
        db.conn.close()


def import_registry(db, path: Path, mandates_path: Path | None = None, now: dt.datetime | None = None) -> RegistryReport:
    """Check and apply the registry (and mandates). Nothing is written if any blocking finding exists."""
    now_s = (now or dt.datetime.now()).isoformat(timespec="seconds")
    conn = db.conn
    table, frame, f, cols = check_registry(path)
    reports = [_report(f, table, cols, path.name)]
    known = set(frame["numero"]) | registry_store.member_numbers(conn)
    mandates = None
    if mandates_path is not None or _has_mandate_sheet(path):
        mpath = mandates_path or path
        mtable, mandates, mf, mcols = check_mandates(mpath, known)
        reports.append(_report(mf, mtable, mcols, mpath.name))
    findings = pd.concat(reports, ignore_index=True)
    blocking = (findings["gravite"] == "bloquant").any()
    if blocking:
        counts = {"adherents": 0, "etablissements": 0, "mandats": 0, "modifications": 0, "mandats_retires": 0}
        return RegistryReport(findings, False, counts)
    counts, kept = registry_store.apply_registry(conn, _members(frame), None if mandates is None else _mandates(mandates),
                                                 now_s, path.name)
    return RegistryReport(findings, True, counts, kept)


def _members(frame: pd.DataFrame) -> list[registry_store.Member]:
    """The checked registry as the store takes it: one Member per N° adhérent (its first row's fields)."""
    out = []
    for numero, grp in frame.groupby("numero", sort=False):
        first = grp.iloc[0]
        out.append(registry_store.Member(
            numero, **{k: first[k] or None for k in ADHERENT_FIELDS},
            establishments=[registry_store.Establishment(r["siret"], r["adresse"] or None, r["code_postal"] or None,
                                                         r["ville"] or None) for _, r in grp.iterrows()]))
    return out


def _mandates(frame: pd.DataFrame) -> list[registry_store.Mandate]:
    return [registry_store.Mandate(r["mandataire"], r["numero"], r.get("nom_mandataire") or None)
            for _, r in frame.iterrows()]


def _has_mandate_sheet(path: Path) -> bool:
    if path.suffix.lower() not in (".xlsx", ".xlsm", ".xls", ".ods"):
        return False
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    vocab = vocabulary("mandats")
    for name in book.sheet_names[1:]:
        for row in book.get_sheet_by_name(name).to_python(nrows=30):
            if score_header_row(row, vocab) >= 2 and "mandataire" in {vocab.lookup.get(normalize(c)) for c in row}:
                return True
    return False


def _report(f: Findings, table: Table, cols: dict[str, str], name: str) -> pd.DataFrame:
    rows = to_rows(f.frame(), table.lines, table.header_line, cols, masked=frozenset())
    rows.insert(0, "fichier", name)
    return rows
