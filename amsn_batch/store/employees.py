"""Employees: the current state of each (adhérent, NIR) and one version per change, written per file in
a single transaction together with the file's ledger entry, so a file is applied all at once or not at all."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import faults
from .db import EMPLOYEE_FIELDS

BATCH = 50_000
# In a modification or a sortie an empty cell keeps the stored value. Determinants are checkboxes: a file
# that has their columns gives the full list ('' when none is checked); None means no such columns.


@dataclass
class FileRecord:
    sha256: str
    sender: str
    name: str
    size: int
    received: str  # ISO timestamp
    status: str
    rows: int
    accepted: int
    refused: int
    warnings: int
    details: dict


def existing_employees(conn: sqlite3.Connection, adherents: list[str]) -> pd.DataFrame:
    """Current state of the employees of these adhérents (present or gone)."""
    cols = ["id", "adherent", "nir", "present", "version_id", *EMPLOYEE_FIELDS]
    if not adherents:
        return pd.DataFrame(columns=cols)
    marks = ",".join("?" * len(adherents))
    sql = (
        f"SELECT s.id, s.adherent, s.nir, s.present, s.version_id, {', '.join('v.' + f for f in EMPLOYEE_FIELDS)} "
        f"FROM salaries s JOIN salaries_versions v ON v.id = s.version_id WHERE s.adherent IN ({marks})"
    )
    return pd.DataFrame(conn.execute(sql, adherents).fetchall(), columns=cols)


def present_elsewhere(conn: sqlite3.Connection, adherents: list[str]) -> pd.DataFrame:
    """(nir, adherent) of the employees present at other adhérents: for the multi-employer check."""
    marks = ",".join("?" * len(adherents)) or "''"
    rows = conn.execute(f"SELECT nir, adherent FROM salaries WHERE present=1 AND adherent NOT IN ({marks})", adherents)
    return pd.DataFrame(rows.fetchall(), columns=["nir", "adherent"])


def record_file(conn: sqlite3.Connection, rec: FileRecord, findings: list[tuple], accepted: pd.DataFrame,
                existing: pd.DataFrame, now: str, replaces: int | None = None) -> tuple[int, dict[str, int]]:
    """Ledger entry, findings and accepted movements in one transaction. Returns (file id, counts).
    A held file (status en_attente) applies nothing. `replaces`: the ledger entry of a held file that staff
    released, superseded by this one in the same transaction."""
    held = rec.status == "en_attente"
    conn.execute("BEGIN IMMEDIATE")
    try:
        if replaces is not None:
            conn.execute("DELETE FROM constats WHERE fichier_id=?", (replaces,))
            conn.execute("DELETE FROM fichiers WHERE id=?", (replaces,))
        cur = conn.execute(
            "INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, statut, etape, lignes, lignes_acceptees,"
            " lignes_rejetees, avertissements, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.sha256, rec.sender, rec.name, rec.size, rec.received, rec.status, "en_attente" if held else "applique", rec.rows,
             rec.accepted, rec.refused, rec.warnings, json.dumps(rec.details, ensure_ascii=False)),
        )
        file_id = cur.lastrowid
        faults.point("tx_fichier")
        conn.executemany(
            "INSERT INTO constats (fichier_id, ligne, colonne, valeur, code, gravite, message) VALUES (?,?,?,?,?,?,?)",
            ((file_id, *f) for f in findings),
        )
        counts = {"entree": 0, "sortie": 0, "modification": 0}
        if len(accepted) and not held:
            counts = _apply(conn, file_id, accepted, existing, now)
        conn.execute(
            "UPDATE fichiers SET entrees=?, sorties=?, modifications=? WHERE id=?",
            (counts["entree"], counts["sortie"], counts["modification"], file_id),
        )
        faults.point("tx_mouvements")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return file_id, counts


def _nullable(values) -> list:
    """Python values for SQLite: None for empty cells ('' or missing)."""
    s = pd.Series(values)
    if s.dtype == object:
        arr = s.to_numpy()
        return np.where(pd.isna(arr) | (arr == ""), None, arr).tolist()
    return s.mask(s == "").to_numpy(dtype=object, na_value=None).tolist()


def _by_key(acc: pd.DataFrame) -> pd.DataFrame:
    """Rows in (adhérent, NIR) order, so that the store's unique index grows in order (much cheaper
    than random inserts on a big file). Sorted by Arrow, which is several times faster than pandas here."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.table({"a": pa.array(acc["adherent"].astype(str).tolist() if acc["adherent"].dtype == object else acc["adherent"]),
                     "n": pa.array(acc["nir"].astype(str).tolist() if acc["nir"].dtype == object else acc["nir"])})
    order = pc.sort_indices(keys, sort_keys=[("a", "ascending"), ("n", "ascending")]).to_numpy()
    return acc.take(order).reset_index(drop=True)


VERSION_SQL = (f"INSERT INTO salaries_versions (id, salarie_id, precedente_id, mouvement, fichier_id, ligne, le, "
               f"champs_modifies, {', '.join(EMPLOYEE_FIELDS)}) VALUES ({','.join('?' * (8 + len(EMPLOYEE_FIELDS)))})")


def _apply(conn: sqlite3.Connection, file_id: int, acc: pd.DataFrame, existing: pd.DataFrame, now: str) -> dict[str, int]:
    """Employees new to the store are written straight from the file's columns, batch by batch (so a big
    file never has all its cells as Python objects at once); employees already known get their stored
    values merged in first (an empty cell in a modification or a sortie keeps the stored value)."""
    acc = _by_key(acc)
    known = np.zeros(len(acc), dtype=bool)
    if len(existing):
        m = acc[["adherent", "nir"]].merge(existing, how="left", on=["adherent", "nir"], validate="one_to_one")
        known = m["id"].notna().to_numpy()
    next_emp = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries").fetchone()[0] + 1
    next_ver = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries_versions").fetchone()[0] + 1

    fresh = acc.loc[~known].reset_index(drop=True)
    n_fresh = len(fresh)
    emp_ids = np.arange(next_emp, next_emp + n_fresh, dtype=np.int64)
    ver_ids = np.arange(next_ver, next_ver + n_fresh, dtype=np.int64)
    for start in range(0, n_fresh, BATCH):
        part = fresh.iloc[start:start + BATCH]
        k = len(part)
        values = {f: _nullable(part[f]) for f in EMPLOYEE_FIELDS if f != "determinants"}
        values["determinants"] = part["determinants"].tolist()
        values["multi_employeur"] = [0 if v is None else int(v) for v in values["multi_employeur"]]
        conn.executemany(VERSION_SQL, zip(
            ver_ids[start:start + k].tolist(), emp_ids[start:start + k].tolist(), [None] * k, part["action"].tolist(),
            [file_id] * k, part["line"].astype("int64").tolist(), [now] * k, [None] * k,
            *(values[f] for f in EMPLOYEE_FIELDS)))
        conn.executemany("INSERT INTO salaries (id, adherent, nir, present, version_id) VALUES (?,?,?,?,?)", zip(
            emp_ids[start:start + k].tolist(), part["adherent"].tolist(), part["nir"].tolist(),
            (part["action"] != "sortie").astype(int).tolist(), ver_ids[start:start + k].tolist()))

    if known.any():
        _apply_known(conn, file_id, acc.loc[known].reset_index(drop=True), m.loc[known].reset_index(drop=True),
                     next_ver + n_fresh, now)
    counts = acc["action"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("entree", "sortie", "modification")}


def _apply_known(conn, file_id: int, acc: pd.DataFrame, old: pd.DataFrame, next_ver: int, now: str) -> None:
    n = len(acc)
    action = acc["action"].to_numpy(dtype=object)
    rehire = action == "entree"  # a former employee comes back: the row is the whole new state
    changed = [[] for _ in range(n)]
    state = {}
    for f in EMPLOYEE_FIELDS:
        new = acc[f].tolist() if f == "determinants" else _nullable(acc[f])
        before = [None if (v is None or v != v) else v for v in old[f].tolist()]
        if f == "multi_employeur":
            new = [None if v is None else int(v) for v in new]
            before = [None if v is None else int(v) for v in before]
        merged = []
        for i in range(n):
            v = new[i]
            if v is None and not rehire[i]:
                v = before[i]
            if f == "date_sortie" and rehire[i]:
                v = None
            if f == "multi_employeur" and v is None:
                v = 0
            if (v if v is not None else "") != (before[i] if before[i] is not None else ""):
                changed[i].append(f)
            merged.append(v)
        state[f] = merged
    ver_ids = list(range(next_ver, next_ver + n))
    emp_ids = old["id"].astype("int64").tolist()
    conn.executemany(VERSION_SQL, zip(
        ver_ids, emp_ids, old["version_id"].astype("int64").tolist(), action.tolist(), [file_id] * n,
        [int(x) or None for x in acc["line"].tolist()], [now] * n, [",".join(c) or None for c in changed],
        *(state[f] for f in EMPLOYEE_FIELDS)))
    conn.executemany("UPDATE salaries SET present=?, version_id=? WHERE id=?",
                     zip((action != "sortie").astype(int).tolist(), ver_ids, emp_ids))
