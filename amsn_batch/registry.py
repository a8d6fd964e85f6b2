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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .read import Table, read_table
from .read.headers import map_headers, score_header_row
from .rules import identifiers, values
from .rules.catalogue import Findings, to_rows
from .vocab import normalize, vocabulary

ADHERENT_FIELDS = ("raison_sociale", "tva", "email_facturation", "centre", "statut")
EMAIL = re.compile(r"[^@\s;,]+@[^@\s;,]+\.[A-Za-z]{2,}")


@dataclass
class RegistryReport:
    findings: pd.DataFrame  # ligne, colonne, valeur, code, gravite, message (+ fichier)
    applied: bool
    counts: dict[str, int]


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
    table = read_table(path, vocab)
    headers = map_headers(table.headers, vocab)
    f = Findings()
    if headers.missing:
        expected = ", ".join(x.label for x in vocab.fields if x.required)
        for missing in headers.missing:
            f.add_file("COLONNE_MANQUANTE", None, "", attendu=missing.label, liste=expected)
    for header in headers.unknown:
        f.add_file("COLONNE_INCONNUE", None, "", colonne=header)
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
    for field in ADHERENT_FIELDS:
        first_val = frame.groupby("numero")[field].transform("first")
        first_line = pd.Series(table.lines).groupby(frame["numero"].to_numpy()).transform("first").to_numpy()
        bad = (frame[field] != first_val).to_numpy()
        pos = np.flatnonzero(bad)
        f.add_rows("REG_ADHERENT_INCOHERENT", pos, field, frame[field].to_numpy()[pos], adherent=frame["numero"].to_numpy()[pos],
                   colonne=vocabulary("registre").field(field).label, valeur=frame[field].to_numpy()[pos],
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


def import_registry(db, path: Path, mandates_path: Path | None = None, now: dt.datetime | None = None) -> RegistryReport:
    """Check and apply the registry (and mandates). Nothing is written if any blocking finding exists."""
    now_s = (now or dt.datetime.now()).isoformat(timespec="seconds")
    conn = db.conn
    table, frame, f, cols = check_registry(path)
    reports = [_report(f, table, cols, path.name)]
    known = set(frame["numero"]) | {r[0] for r in conn.execute("SELECT numero FROM adherents")}
    mandates = None
    if mandates_path is not None or _has_mandate_sheet(path):
        mpath = mandates_path or path
        mtable, mandates, mf, mcols = check_mandates(mpath, known)
        reports.append(_report(mf, mtable, mcols, mpath.name))
    findings = pd.concat(reports, ignore_index=True)
    blocking = (findings["gravite"] == "bloquant").any()
    counts = {"adherents": 0, "etablissements": 0, "mandats": 0, "modifications": 0, "mandats_retires": 0}
    if blocking:
        return RegistryReport(findings, False, counts)
    conn.execute("BEGIN IMMEDIATE")
    try:
        _apply(conn, frame, mandates, now_s, path.name, counts)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return RegistryReport(findings, True, counts)


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


def _history(conn, objet: str, cle: str, field: str, before, after, source: str, now: str) -> None:
    conn.execute(
        "INSERT INTO registre_historique (objet, cle, champ, avant, apres, source, le) VALUES (?,?,?,?,?,?,?)",
        (objet, cle, field, before, after, source, now),
    )


def _upsert(conn, table: str, key_col: str, key: str, row: dict, objet: str, source: str, now: str, counts: dict) -> None:
    current = conn.execute(f"SELECT * FROM {table} WHERE {key_col}=?", (key,)).fetchone()
    if current is None:
        cols = [key_col, *row, "maj_le"]
        conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", (key, *row.values(), now))
        _history(conn, objet, key, "*", None, "création", source, now)
        counts[table] += 1
        return
    names = [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
    old = dict(zip(names, current))
    changes = {k: v for k, v in row.items() if (old.get(k) or "") != (v or "")}
    if changes:
        sets = ", ".join(f"{k}=?" for k in changes)
        conn.execute(f"UPDATE {table} SET {sets}, maj_le=? WHERE {key_col}=?", (*changes.values(), now, key))
        for k, v in changes.items():
            _history(conn, objet, key, k, old.get(k), v, source, now)
        counts["modifications"] += 1


def _apply(conn, frame: pd.DataFrame, mandates: pd.DataFrame | None, now: str, source: str, counts: dict) -> None:
    for numero, grp in frame.groupby("numero", sort=False):
        first = grp.iloc[0]
        _upsert(conn, "adherents", "numero", numero, {k: first[k] or None for k in ADHERENT_FIELDS}, "adherent", source, now, counts)
        for _, r in grp.iterrows():
            _upsert(conn, "etablissements", "siret", r["siret"],
                    {"adherent": numero, "adresse": r["adresse"] or None, "code_postal": r["code_postal"] or None, "ville": r["ville"] or None},
                    "etablissement", source, now, counts)
    if mandates is None:
        return
    wanted = set()
    for _, r in mandates.iterrows():
        code = r["mandataire"]
        if conn.execute("SELECT 1 FROM mandataires WHERE code=?", (code,)).fetchone() is None:
            conn.execute("INSERT INTO mandataires (code, nom, maj_le) VALUES (?,?,?)", (code, r.get("nom_mandataire") or None, now))
            _history(conn, "mandataire", code, "*", None, "création", source, now)
        elif r.get("nom_mandataire"):
            conn.execute("UPDATE mandataires SET nom=? WHERE code=?", (r["nom_mandataire"], code))
        wanted.add((code, r["numero"]))
    current = set(conn.execute("SELECT mandataire, adherent FROM mandats").fetchall())
    for code, numero in sorted(wanted - current):
        conn.execute("INSERT INTO mandats (mandataire, adherent, depuis) VALUES (?,?,?)", (code, numero, now))
        _history(conn, "mandat", f"{code}/{numero}", "*", None, "création", source, now)
        counts["mandats"] += 1
    for code, numero in sorted(current - wanted):
        conn.execute("DELETE FROM mandats WHERE mandataire=? AND adherent=?", (code, numero))
        _history(conn, "mandat", f"{code}/{numero}", "*", "actif", "retiré", source, now)
        counts["mandats_retires"] += 1
