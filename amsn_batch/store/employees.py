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
# Fields where an empty cell in a modification means "unchanged"; determinants are checkboxes: a
# file that has the columns says the full list, so only None (no such columns) keeps the old value.
KEEP_WHEN_EMPTY = tuple(f for f in EMPLOYEE_FIELDS if f != "determinants")


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
        faults.point("tx_fichier")
        conn.executemany(
            "INSERT INTO constats (fichier_id, ligne, colonne, valeur, code, gravite, message) VALUES (?,?,?,?,?,?,?)",
            ((file_id, *f) for f in findings),
        )
        counts = _apply(conn, file_id, accepted, existing, now) if len(accepted) else {"entree": 0, "sortie": 0, "modification": 0}
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


def _apply(conn: sqlite3.Connection, file_id: int, acc: pd.DataFrame, existing: pd.DataFrame, now: str) -> dict[str, int]:
    acc = acc.sort_values(["adherent", "nir"], kind="stable").reset_index(drop=True)
    old = existing.rename(columns={f: f"old_{f}" for f in EMPLOYEE_FIELDS})
    m = acc.merge(old, how="left", on=["adherent", "nir"], validate="one_to_one")
    known = m["id"].notna().to_numpy()
    action = m["action"].to_numpy()
    rehire = known & (action == "entree")
    merge_old = known & ~rehire  # modification or sortie of a known employee: empty cells keep old values

    new_state = {}
    changed = np.zeros(len(m), dtype=object)
    changed[:] = ""
    for f in EMPLOYEE_FIELDS:
        v = m[f].to_numpy(dtype=object)
        o = m[f"old_{f}"].to_numpy(dtype=object) if known.any() else np.full(len(m), None, dtype=object)
        not_given = pd.isna(v) if f == "determinants" else (pd.isna(v) | (v == ""))
        val = np.where(merge_old & not_given, o, v)
        val = np.where(pd.isna(val) | (val == ""), None, val) if f != "determinants" else np.where(pd.isna(val), None, val)
        if f == "multi_employeur":
            val = np.array([None if x is None else int(x) for x in val], dtype=object)
            val = np.where((~known | rehire) & pd.isna(val), 0, val)
        if f == "date_sortie":
            val = np.where(action == "sortie", val, np.where(rehire, None, val))
        new_state[f] = val
        if known.any():
            diff = known & ~_same(val, o)
            changed = np.where(diff, np.where(changed == "", f, changed + "," + f), changed)

    n_new = int((~known).sum())
    next_emp = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries").fetchone()[0] + 1
    next_ver = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries_versions").fetchone()[0] + 1
    emp_id = np.zeros(len(m), dtype=np.int64)
    emp_id[known] = m.loc[known, "id"].astype("int64").to_numpy()
    emp_id[~known] = np.arange(next_emp, next_emp + n_new)
    ver_id = np.arange(next_ver, next_ver + len(m), dtype=np.int64)
    prev = np.where(known, m["version_id"].fillna(0).astype("int64").to_numpy(), 0)
    present = (action != "sortie").astype(np.int64)
    mouvement = action.copy()

    columns = [emp_id.tolist(), [int(p) if p else None for p in prev], mouvement.tolist(),
               [file_id] * len(m), m["line"].astype("int64").tolist(), [now] * len(m),
               [c or None for c in changed.tolist()]]
    columns += [new_state[f].tolist() for f in EMPLOYEE_FIELDS]
    rows = list(zip(ver_id.tolist(), *columns))
    marks = ",".join("?" * (8 + len(EMPLOYEE_FIELDS)))
    sql = (f"INSERT INTO salaries_versions (id, salarie_id, precedente_id, mouvement, fichier_id, ligne, le, "
           f"champs_modifies, {', '.join(EMPLOYEE_FIELDS)}) VALUES ({marks})")
    for start in range(0, len(rows), BATCH):
        conn.executemany(sql, rows[start:start + BATCH])
    new_rows = zip(emp_id[~known].tolist(), m.loc[~known, "adherent"].tolist(), m.loc[~known, "nir"].tolist(),
                   present[~known].tolist(), ver_id[~known].tolist())
    conn.executemany("INSERT INTO salaries (id, adherent, nir, present, version_id) VALUES (?,?,?,?,?)", new_rows)
    conn.executemany("UPDATE salaries SET present=?, version_id=? WHERE id=?",
                     zip(present[known].tolist(), ver_id[known].tolist(), emp_id[known].tolist()))
    counts = pd.Series(action).value_counts()
    return {k: int(counts.get(k, 0)) for k in ("entree", "sortie", "modification")}


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = pd.isna(a), pd.isna(b)
    return (na & nb) | (~na & ~nb & (a.astype(str) == b.astype(str)))
