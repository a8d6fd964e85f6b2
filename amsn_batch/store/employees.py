"""Employees: the current state of each (adhérent, NIR) and one version per change, written per file in
a single transaction together with the file's ledger entry, so a file is applied all at once or not at all."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import numpy as np
import pandas as pd

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


def record_file(conn: sqlite3.Connection, rec: FileRecord, findings: list[tuple], accepted: pd.DataFrame,
                existing: pd.DataFrame, now: str) -> tuple[int, dict[str, int]]:
    """Ledger entry, findings and accepted movements in one transaction. Returns (file id, counts)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute(
            "INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, statut, etape, lignes, lignes_acceptees,"
            " lignes_rejetees, avertissements, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.sha256, rec.sender, rec.name, rec.size, rec.received, rec.status, "applique", rec.rows,
             rec.accepted, rec.refused, rec.warnings, json.dumps(rec.details, ensure_ascii=False)),
        )
        file_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO constats (fichier_id, ligne, colonne, valeur, code, gravite, message) VALUES (?,?,?,?,?,?,?)",
            ((file_id, *f) for f in findings),
        )
        counts = _apply(conn, file_id, accepted, existing, now) if len(accepted) else {"entree": 0, "sortie": 0, "modification": 0}
        conn.execute(
            "UPDATE fichiers SET entrees=?, sorties=?, modifications=? WHERE id=?",
            (counts["entree"], counts["sortie"], counts["modification"], file_id),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return file_id, counts


def _nullable(values) -> np.ndarray:
    """Object array with None for empty cells ('' or missing)."""
    s = pd.Series(values)
    if s.dtype == object:
        arr = s.to_numpy(dtype=object)
        return np.where(pd.isna(arr) | (arr == ""), None, arr)
    return s.mask(s == "").to_numpy(dtype=object, na_value=None)


def _apply(conn: sqlite3.Connection, file_id: int, acc: pd.DataFrame, existing: pd.DataFrame, now: str) -> dict[str, int]:
    acc = acc.sort_values(["adherent", "nir"], kind="stable").reset_index(drop=True)
    n = len(acc)
    action = np.array(acc["action"].to_numpy(dtype=object), dtype=object)
    state = {f: np.array(_nullable(acc[f]), dtype=object) for f in EMPLOYEE_FIELDS if f != "determinants"}
    state["determinants"] = np.array(acc["determinants"].to_numpy(dtype=object), dtype=object)  # '' = none checked, None = not given

    emp_id = np.zeros(n, dtype=np.int64)
    prev = np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    changed = np.full(n, None, dtype=object)
    if len(existing):
        m = acc[["adherent", "nir"]].merge(existing, how="left", on=["adherent", "nir"], validate="one_to_one")
        known = m["id"].notna().to_numpy()
    if known.any():
        idx = np.flatnonzero(known)
        emp_id[idx] = m["id"].to_numpy()[idx].astype(np.int64)
        prev[idx] = m["version_id"].to_numpy()[idx].astype(np.int64)
        rehire = action[idx] == "entree"  # a former employee comes back: the row is the whole new state
        for f in EMPLOYEE_FIELDS:
            old = m[f].to_numpy(dtype=object)[idx]
            old = np.where(pd.isna(old), None, old)
            new = state[f][idx]
            keep = ~rehire & np.array([v is None for v in new])  # empty cell in a modification or sortie
            merged = np.where(keep, old, new)
            if f == "date_sortie":
                merged = np.where(rehire, None, merged)
            state[f][idx] = merged
            differs = ~_same(merged, old)
            changed[idx] = np.where(differs, np.where(pd.isna(changed[idx]), f, changed[idx].astype(str) + "," + f), changed[idx])
    fresh = ~known
    multi = state["multi_employeur"]
    multi[fresh & pd.isna(multi)] = 0
    state["multi_employeur"] = np.array([None if v is None else int(v) for v in multi], dtype=object) if known.any() else multi

    next_emp = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries").fetchone()[0] + 1
    next_ver = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries_versions").fetchone()[0] + 1
    emp_id[fresh] = np.arange(next_emp, next_emp + int(fresh.sum()))
    ver_id = np.arange(next_ver, next_ver + n, dtype=np.int64)
    present = (action != "sortie").astype(np.int64)

    columns = [ver_id.tolist(), emp_id.tolist(), [int(p) if p else None for p in prev.tolist()], action.tolist(),
               [file_id] * n, acc["line"].astype("int64").tolist(), [now] * n, changed.tolist()]
    columns += [state[f].tolist() for f in EMPLOYEE_FIELDS]
    rows = list(zip(*columns))
    marks = ",".join("?" * len(columns))
    sql = (f"INSERT INTO salaries_versions (id, salarie_id, precedente_id, mouvement, fichier_id, ligne, le, "
           f"champs_modifies, {', '.join(EMPLOYEE_FIELDS)}) VALUES ({marks})")
    for start in range(0, n, BATCH):
        conn.executemany(sql, rows[start:start + BATCH])
    del rows
    conn.executemany("INSERT INTO salaries (id, adherent, nir, present, version_id) VALUES (?,?,?,?,?)",
                     zip(emp_id[fresh].tolist(), acc["adherent"].to_numpy(dtype=object)[fresh].tolist(),
                         acc["nir"].to_numpy(dtype=object)[fresh].tolist(), present[fresh].tolist(), ver_id[fresh].tolist()))
    conn.executemany("UPDATE salaries SET present=?, version_id=? WHERE id=?",
                     zip(present[known].tolist(), ver_id[known].tolist(), emp_id[known].tolist()))
    counts = pd.Series(action).value_counts()
    return {k: int(counts.get(k, 0)) for k in ("entree", "sortie", "modification")}


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = pd.isna(a), pd.isna(b)
    return (na & nb) | (~na & ~nb & (a.astype(str) == b.astype(str)))
