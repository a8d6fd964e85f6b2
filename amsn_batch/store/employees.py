"""Employees: the current state of each (adhérent, NIR) and one version per change, written per file in
a single transaction together with the file's ledger entry, so a file is applied all at once or not at all."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import faults
from ..rules.employees import STORED as EMPLOYEE_FIELDS  # the fields of an employee version, in the store's order
from . import ledger
from .bulk import FLAG, TEXT, bulk_insert
from .db import POSTGRESQL, engine, records, serialize_writes, transaction
from .ledger import FileRecord

# In a modification or a sortie an empty cell keeps the stored value. Determinants are checkboxes: a file
# that has their columns gives the full list ('' when none is checked); None means no such columns.


def existing_employees(conn: sqlite3.Connection, adherents: list[str], nirs: Sequence[str] | None = None,
                       staff: bool = False) -> pd.DataFrame:
    """Current state of the employees of these adhérents (present or gone), with the file that recorded that
    state: its name as dropped (`fichier`) and when it was received (`fichier_recu_le`, ISO timestamp).

    `nirs`: only the employees with these NIRs (what a movements file needs: its cost then follows the file,
    not the store), and with `staff` the whole present staff as well (what a full list needs; all the gone
    employees too when they are fewer than the NIRs: one scan is then cheaper than a lookup per NIR). None: all."""
    if not adherents or (nirs is not None and not len(nirs) and not staff):
        return _frame(conn, {})
    marks = ",".join("?" * len(adherents))
    if conn.execute(f"SELECT 1 FROM salaries WHERE adherent IN ({marks}) LIMIT 1", adherents).fetchone() is None:
        return _frame(conn, {})  # a first file: no need to sort and send the file's NIRs
    keys = _sorted_keys(nirs) if nirs is not None else None
    each = keys is not None and not (staff and conn.execute(
        f"SELECT COUNT(*) FROM salaries WHERE adherent IN ({marks}) AND present = 0", adherents).fetchone()[0] <= len(keys))
    # Each column comes back as one text, its values joined by SEPARATOR (NULL written as NONE), cut into an
    # Arrow array here: a million employees are a few dozen Python objects, not twenty million. The file's NIRs
    # cut the query into ranges of CHUNK of them, so that the joined texts of a million employees (200 MB) are
    # never all in memory at once.
    agg = "string_agg({}, '" + SEPARATOR + "')" if engine(conn) == POSTGRESQL else "group_concat({}, '" + SEPARATOR + "')"
    columns = [c for _, c in _SOURCES]
    texts = ", ".join(agg.format(f"CAST({c} AS TEXT)" if c in NOT_NULL else f"COALESCE(CAST({c} AS TEXT), '{NONE}')")
                      for c in columns)
    select = (f"SELECT {', '.join(f'{table}.{c} AS {c}' for table, c in _SOURCES)} "
              "FROM {source} JOIN salaries_versions v ON v.id = s.version_id WHERE {where}")
    starts = (list(range(0, len(keys), CHUNK)) or [0]) if keys is not None and _binary_order(conn) else [0]
    gathered = {c: _Column(c in NUMBERS or c == "fichier_id", repeats=c.startswith("date_")) for c in columns}
    n_all = 0
    for i, start in enumerate(starts):
        low = keys[start].as_py() if i else None
        high = keys[starts[i + 1]].as_py() if i + 1 < len(starts) else None
        in_range = "".join([" AND s.nir >= ?" if low is not None else "", " AND s.nir < ?" if high is not None else ""])
        bounds = [b for b in (low, high) if b is not None]
        if not each:
            sql = select.format(source="salaries s", where=f"s.adherent IN ({marks})" + in_range)
            params = [*adherents, *bounds]
        else:  # the file's NIRs drive the query (CROSS JOIN: in this order), one index lookup per (NIR, adhérent)
            part = keys.slice(start, starts[i + 1] - start if i + 1 < len(starts) else None)
            gone = " AND s.present = 0" if staff else ""
            sql = select.format(source=f"json_each(?) k CROSS JOIN salaries s ON s.nir = k.value AND s.adherent IN ({marks}){gone}",
                                where="1 = 1")
            params = [_json(part), *adherents]
            if staff:  # the present staff, whether in the file or not (one scan, no NOT IN over the file's NIRs)
                sql += " UNION ALL " + select.format(source="salaries s", where=f"s.adherent IN ({marks}) AND s.present = 1" + in_range)
                params += [*adherents, *bounds]
        n, *joined = conn.execute(f"SELECT COUNT(*), {texts} FROM ({sql}) r", params).fetchone()
        n_all += n
        for j, c in enumerate(columns if n else ()):
            text, joined[j] = joined[j], None  # each text let go once cut
            gathered[c].add(text, n)
    return _frame(conn, {c: gathered.pop(c).whole() for c in columns} if n_all else {})


CHUNK = 1 << 17  # NIRs of the file per query of existing_employees


def _binary_order(conn) -> bool:
    """Whether the store orders texts byte by byte, as Arrow sorts the NIRs that cut existing_employees into
    ranges: SQLite does; PostgreSQL with the C collation (another one may order them otherwise: one query)."""
    if engine(conn) != POSTGRESQL:
        return True
    collation = conn.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()").fetchone()[0]
    return collation in ("C", "POSIX", "C.UTF-8", "C.utf8")


def _sorted_keys(nirs: Sequence[str]) -> pa.Array:
    """The distinct non-empty NIRs, in order (the index is then read in order), by Arrow's kernels: a million
    NIRs sorted as Python texts take half a second, and made into a million Python texts, 75 MB more at the
    file's peak of memory."""
    keys = pa.array(nirs, pa.string())
    keys = pc.unique(keys.filter(pc.not_equal(keys, "")))
    return keys.take(pc.sort_indices(keys))


def _json(keys: pa.Array) -> str:
    """NIRs as a JSON array: texts of letters and digits alone (what checked NIRs are) need no escaping, and
    are then joined by Arrow."""
    if len(keys) and pc.all(pc.match_substring_regex(keys, "^[0-9A-Za-z]+$")).as_py():
        whole = pa.ListArray.from_arrays(pa.array([0, len(keys)], pa.int32()), keys)
        return '["' + pc.binary_join(whole, '","')[0].as_py() + '"]'
    return json.dumps(keys.to_pylist())


_SOURCES = (*(("s", c) for c in ("id", "present", "version_id", "adherent", "nir")), *(("v", f) for f in EMPLOYEE_FIELDS),
            ("v", "fichier_id"))  # (table, column) read of each employee
# Control characters that no stored value holds (rules.cells refuses a cell holding one), to join a column's
# values into one text: between two values, and for NULL.
SEPARATOR, NONE = "\x1f", "\x1e"


class _Column:
    """A column of existing_employees gathered piece by piece (one piece per range of NIRs), each piece cut from
    the text the store joined its values into (SEPARATOR between two, NONE for NULL) and made compact at once.
    How the column is held is decided on its first piece: int64 for a `number` (never NULL); Arrow text for
    texts nearly all different (names, NIRs; NULL null); else a Categorical of Python texts (a SIRET, a code,
    a date: one or two bytes per employee instead of eight, one Python text per distinct value; NULL missing).
    `repeats`: a column whose values repeat over a big staff even when a sample of them does not show it
    (dates: a few thousand days for a million hires)."""

    def __init__(self, number: bool, repeats: bool = False) -> None:
        self.number, self.repeats = number, repeats
        self.each: bool | None = None
        self.pieces: list = []
        self.categories: dict[str, int] = {}

    def add(self, text: str, n: int) -> None:
        if self.number:
            self.pieces.append(self._cut(text, n).cast(pa.int64()).to_numpy())
            return
        empty = text.count(NONE) == n  # a column nobody fills (no comment, no determinants…)
        if self.each is None and empty:
            self.each = False
        if empty and not self.each:
            self.pieces.append(np.full(n, -1, dtype=np.int8))
            return
        values = self._cut(text, n)
        if self.each is None:
            sample = values.slice(0, 1000).to_pylist()
            self.each = not self.repeats and len(set(sample)) * 4 > len(sample)
        if self.each:
            self.pieces.append(pc.if_else(pc.equal(values, NONE), pa.scalar(None, values.type), values))
            return
        coded = pc.dictionary_encode(values)
        known = self.categories
        code = np.array([-1 if v == NONE else known.setdefault(v, len(known)) for v in coded.dictionary.to_pylist()])
        self.pieces.append(code.astype(np.min_scalar_type(-len(known) - 1))[coded.indices.to_numpy(zero_copy_only=False)])

    @staticmethod
    def _cut(text: str, n: int) -> pa.Array:
        values = pc.split_pattern(pa.array([text], pa.large_string()), SEPARATOR).flatten()
        if len(values) != n:
            raise ValueError(f"a stored value holds the separator: {len(values)} values for {n} employees")
        return values

    def whole(self) -> np.ndarray | pd.Categorical | pa.Array:
        pieces, self.pieces = self.pieces, []
        if self.number:
            return np.concatenate(pieces)
        if self.each:
            return pa.concat_arrays(pieces)
        return pd.Categorical.from_codes(np.concatenate(pieces), categories=pd.Index(list(self.categories), dtype=object))


NUMBERS = ("id", "present", "version_id")
COLUMNS = [*NUMBERS, "adherent", "nir", *EMPLOYEE_FIELDS]
NOT_NULL = (*NUMBERS, "adherent", "nir", "fichier_id")


def _frame(conn: sqlite3.Connection, columns: dict) -> pd.DataFrame:
    """The DataFrame of existing_employees: numbers as int64, the multi-employer flag as 0/1 (None when not
    recorded), texts as `_Column` holds them (Arrow text, or a Categorical: a million employees' columns in a
    fifth of the memory of object arrays; NULL is a missing value, read with to_numpy(na_value=None)); the
    recording file's name and date looked up once per file, not joined on every employee."""
    out = {}
    for c in COLUMNS:
        values = columns.get(c, np.array([], dtype=np.int64 if c in NUMBERS else object))
        if c in NUMBERS:
            out[c] = pd.Series(values, dtype=np.int64, copy=False)
        elif c == "multi_employeur":  # the flag as 0/1 (Python ints) or None, as the store gives it
            flags = pd.Series(values, dtype=object if isinstance(values, np.ndarray) else None).to_numpy(dtype=object, na_value=None)
            out[c] = pd.Series(_objects([v if v is None else int(v) for v in flags.tolist()]), dtype=object)
        elif isinstance(values, pa.Array):
            out[c] = pd.Series(values, dtype="str")
        else:
            out[c] = pd.Series(values, dtype=object if isinstance(values, np.ndarray) else None, copy=False)
    ids = np.asarray(columns.get("fichier_id", []), dtype=np.int64)
    codes, file_ids = pd.factorize(ids)
    files = {r[0]: r[1:] for r in conn.execute("SELECT id, nom, recu_le FROM fichiers WHERE id IN (SELECT value FROM json_each(?))",
                                                (json.dumps(file_ids.tolist()),))}
    for i, name in enumerate(("fichier", "fichier_recu_le")):
        out[name] = pd.Series(_objects([files.get(f, (None, None))[i] for f in file_ids.tolist()])[codes], dtype=object)
    return pd.DataFrame(out, copy=False)


def _objects(values) -> np.ndarray:
    """A 1-D object array of these values (even tuples stay elements)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


@dataclass
class Employment:
    """One of the present employments of a person employed by several adhérents (staff only: never in what a
    sender gets back)."""

    person: int  # the same number for the employments of one person (no NIR leaves the store here)
    adherent: str
    nom: str
    prenom: str
    multi_employeur: int | None  # 1 when this adhérent declared the person multi-employer


def multi_employments(conn: sqlite3.Connection, limit: int = 200) -> list[Employment]:
    """The present employments of the persons present at several adhérents of whom at least one did not
    declare them multi-employer (at most `limit` persons), by person then adhérent."""
    rows = records(conn, """
        WITH shared AS (  -- on the index salaries_presents_nir alone (migration 0600)
            SELECT nir FROM salaries WHERE present = 1 GROUP BY nir HAVING count(DISTINCT adherent) > 1),
        flagged AS (
            SELECT s.nir FROM shared JOIN salaries s ON s.nir = shared.nir AND s.present = 1
            JOIN salaries_versions v ON v.id = s.version_id
            GROUP BY s.nir HAVING min(coalesce(v.multi_employeur, 0)) = 0 ORDER BY s.nir LIMIT ?)
        SELECT dense_rank() OVER (ORDER BY s.nir) AS person, s.adherent, coalesce(v.nom, '') AS nom,
               coalesce(v.prenom, '') AS prenom, v.multi_employeur
        FROM salaries s JOIN salaries_versions v ON v.id = s.version_id JOIN flagged USING (nir)
        WHERE s.present = 1 ORDER BY s.nir, s.adherent""", (limit,))
    return [Employment(**r) for r in rows]


def record_file(conn: sqlite3.Connection, rec: FileRecord, findings: pd.DataFrame, accepted: pd.DataFrame,
                existing: pd.DataFrame, now: str, replaces: int | None = None) -> tuple[int, dict[str, int]]:
    """Ledger entry, findings and accepted movements (the checks' rows, each with `stored_row`: its employee's
    row in `existing`, -1 for one new to the store) in one transaction. Returns (file id, counts).
    A held file (status en_attente) applies nothing. `replaces`: the ledger entry of a held file that staff
    released, superseded by this one in the same transaction."""
    held = rec.status == "en_attente"
    with transaction(conn):
        if replaces is not None:
            ledger.delete_entry(conn, replaces)
        file_id = ledger.insert_entry(conn, rec, "en_attente" if held else "applique")
        faults.point("tx_fichier")
        ledger.insert_findings(conn, file_id, findings)
        counts = {"entree": 0, "sortie": 0, "modification": 0}
        if len(accepted) and not held:
            serialize_writes(conn, "salaries")  # _apply numbers new rows from the largest id
            counts = _apply(conn, file_id, accepted, existing, now)
        ledger.set_movement_counts(conn, file_id, counts)
        faults.point("tx_mouvements")
    return file_id, counts


def headcount_by_category(conn: sqlite3.Connection, before: str) -> dict[str, int]:
    """Employees present just before `before` (ISO timestamp), by declared category ('' when none), from the
    versions so that a past day is right."""
    return {r["categorie"]: r["n"] for r in records(conn, """
        SELECT COALESCE(v.categorie, '') AS categorie, COUNT(*) AS n FROM salaries_versions v
        JOIN (SELECT salarie_id, MAX(id) AS id FROM salaries_versions WHERE le < ? GROUP BY salarie_id) last ON last.id = v.id
        WHERE v.mouvement != 'sortie' GROUP BY 1""", (before,))}


def _key_order(acc: pd.DataFrame) -> np.ndarray:
    """Rows in NIR order, so that the store's unique index on (adhérent, NIR) grows in order (much cheaper
    than random inserts on a big file): by the NIR's integer from the checks, else by the text (Arrow sort)."""
    ids = acc.get("nir_id")
    if ids is not None and ids.dtype.kind in "iu":
        return np.argsort(ids.to_numpy(), kind="stable")
    nir = pa.array(["" if v is None or v != v else str(v) for v in acc["nir"].tolist()], type=pa.string())
    return pc.sort_indices(nir).to_numpy()


FIELD_KINDS = {**{f: TEXT for f in EMPLOYEE_FIELDS}, "multi_employeur": FLAG, "determinants": None}  # '' determinants: none checked


def _apply(conn: sqlite3.Connection, file_id: int, acc: pd.DataFrame, existing: pd.DataFrame, now: str) -> dict[str, int]:
    """Employees new to the store are written straight from the file's columns; employees already known
    get their stored values merged in first (an empty cell in a modification or a sortie keeps the stored
    value)."""
    order = _key_order(acc)
    at = acc["stored_row"].to_numpy(dtype=np.int64)  # each row's employee in `existing`, as the checks found it (-1: new)
    known = at >= 0
    next_emp = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries").fetchone()[0] + 1
    next_ver = conn.execute("SELECT COALESCE(MAX(id), 0) FROM salaries_versions").fetchone()[0] + 1

    fresh = order[~known[order]]
    n_fresh = len(fresh)
    emp_ids = np.zeros(len(acc), dtype=np.int64)
    ver_ids = np.zeros(len(acc), dtype=np.int64)
    emp_ids[fresh] = np.arange(next_emp, next_emp + n_fresh)
    ver_ids[fresh] = np.arange(next_ver, next_ver + n_fresh)
    bulk_insert(conn, "salaries_versions", {
        "id": ver_ids, "salarie_id": emp_ids, "precedente_id": None, "mouvement": acc["action"].to_numpy(),
        "fichier_id": file_id, "ligne": acc["line"].to_numpy(dtype=np.int64), "le": now, "champs_modifies": None,
        **{f: acc[f] for f in EMPLOYEE_FIELDS}}, fresh, FIELD_KINDS)
    bulk_insert(conn, "salaries", {
        "id": emp_ids, "adherent": acc["adherent"], "nir": acc["nir"],
        "present": (acc["action"] != "sortie").to_numpy(dtype=np.int64), "version_id": ver_ids}, fresh)

    written = ~known
    if known.any():
        kept = np.flatnonzero(known)
        old = existing.iloc[at[kept]].reset_index(drop=True)
        written[kept] = _apply_known(conn, file_id, acc.iloc[kept].reset_index(drop=True), old, next_ver + n_fresh, now)
        emp_ids[kept] = old["id"].to_numpy()
    exit_date = acc["date_sortie"].fillna("").to_numpy(dtype=object)
    ended = written & (acc["action"] == "entree").to_numpy() & (exit_date != "") & (exit_date <= now[:10])
    if ended.any():
        _end(conn, emp_ids[ended])
    # `compte`: what the checks count each row as (an exit-date correction is a sortie counted as a modification)
    counts = acc.loc[written, "compte"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("entree", "sortie", "modification")}


def _end(conn, employee_ids: np.ndarray) -> None:
    """Entries whose exit date has already passed (hired and gone, as a full list tells it): the exit follows
    each entry at once, as a version of its own, and the employee is not present."""
    ids = json.dumps([int(i) for i in employee_ids])
    fields = ", ".join(EMPLOYEE_FIELDS)
    conn.execute(
        f"INSERT INTO salaries_versions (salarie_id, precedente_id, mouvement, fichier_id, ligne, le, champs_modifies, {fields}) "
        f"SELECT v.salarie_id, v.id, 'sortie', v.fichier_id, v.ligne, v.le, NULL, {', '.join('v.' + f for f in EMPLOYEE_FIELDS)} "
        "FROM salaries s JOIN salaries_versions v ON v.id = s.version_id WHERE s.id IN (SELECT value FROM json_each(?))", (ids,))
    conn.execute("UPDATE salaries SET present = 0, version_id = (SELECT MAX(v.id) FROM salaries_versions v WHERE v.salarie_id = salaries.id) "
                 "WHERE id IN (SELECT value FROM json_each(?))", (ids,))


def _apply_known(conn, file_id: int, acc: pd.DataFrame, old: pd.DataFrame, next_ver: int, now: str) -> np.ndarray:
    """New versions of known employees, for the rows that change a value or the presence (the checks leave
    out the rows that repeat what is stored; a row that would change nothing is never versioned). Returns
    which rows were written."""
    n = len(acc)
    action = acc["action"].to_numpy(dtype=object)
    rehire = action == "entree"  # a former employee comes back: the row is the whole new state (no exit date: none)
    changed = np.full(n, "", dtype=object)  # the names of the fields that change, comma-separated
    state = {}
    for f in EMPLOYEE_FIELDS:  # one vectorised pass per field
        new, before = _values(acc[f], f), _values(old[f], f)
        given = new != None  # noqa: E711 (elementwise on an object array)
        merged = np.where(given | rehire, new, before)
        if f == "multi_employeur":
            merged[merged == None] = 0  # noqa: E711
        differs = np.where(merged == None, "", merged) != np.where(before == None, "", before)  # noqa: E711
        changed = np.where(differs, np.where(changed == "", f, changed + "," + f), changed)
        state[f] = merged
    present = (action != "sortie").astype(int)
    write = (changed != "") | (present != old["present"].to_numpy(dtype=int))
    emp_ids = old["id"].to_numpy(dtype=np.int64)
    rows = np.flatnonzero(write)
    rows = rows[np.argsort(emp_ids[rows], kind="stable")]  # in employee order: the index on salarie_id and the UPDATE below walk the tables in order
    ver_ids = np.zeros(n, dtype=np.int64)
    ver_ids[rows] = np.arange(next_ver, next_ver + len(rows))
    line = pd.to_numeric(acc["line"]).fillna(0).to_numpy(dtype=np.int64)
    bulk_insert(conn, "salaries_versions", {
        "id": ver_ids, "salarie_id": emp_ids, "precedente_id": old["version_id"].to_numpy(dtype=np.int64),
        "mouvement": action, "fichier_id": file_id,
        "ligne": np.where(line == 0, None, line.astype(object)), "le": now,
        "champs_modifies": np.where(changed == "", None, changed),
        **state}, rows)
    if len(rows):  # one statement from the versions just written (ids next_ver…), not one UPDATE per employee
        conn.execute("UPDATE salaries SET present = CASE WHEN v.mouvement = 'sortie' THEN 0 ELSE 1 END, version_id = v.id "
                     "FROM salaries_versions v WHERE v.id BETWEEN ? AND ? AND v.salarie_id = salaries.id",
                     (next_ver, next_ver + len(rows) - 1))
    return write


def _values(column: pd.Series, field: str) -> np.ndarray:
    """A field's values as an object array, None for none (NaN, None, and '' except for determinants, where ''
    means none checked); the multi-employer flag as int."""
    values = column.to_numpy(dtype=object)
    none = pd.isna(values)
    if field != "determinants":
        none |= values == ""
    out = np.where(none, None, values)
    if field == "multi_employeur":
        out[~none] = [int(v) for v in out[~none]]
    return out


def written_by(conn: sqlite3.Connection, file_id: int) -> tuple[frozenset[str], frozenset[str]]:
    """The NIRs and the names (nom) of the employees whose versions file `file_id` wrote."""
    rows = conn.execute("SELECT DISTINCT s.nir, v.nom FROM salaries_versions v JOIN salaries s ON s.id = v.salarie_id "
                        "WHERE v.fichier_id = ?", (file_id,)).fetchall()
    return frozenset(r[0] for r in rows if r[0]), frozenset(r[1] for r in rows if r[1])


def recorded_since(conn: sqlite3.Connection, file_id: int, sender: str, nirs: list[str],
                   names: list[str]) -> list[dict]:
    """The versions written by the sender's files recorded after file `file_id`, for these NIRs or these names:
    their nir, nom, prenom, date_naissance, date_embauche and mouvement (reports.rejects: are a correction
    workbook's rows all accepted since?)."""
    out: dict[int, dict] = {}
    for values, column in ((nirs, "s.nir"), (names, "v.nom")):
        if not values:
            continue
        for r in records(conn, "SELECT v.id, s.nir, v.nom, v.prenom, v.date_naissance, v.date_embauche, v.mouvement "
                         "FROM salaries_versions v JOIN salaries s ON s.id = v.salarie_id JOIN fichiers f ON f.id = v.fichier_id "
                         f"WHERE v.fichier_id > ? AND f.expediteur = ? AND {column} IN (SELECT value FROM json_each(?))",
                         (file_id, sender, json.dumps(list(values), ensure_ascii=False))):
            out[r.pop("id")] = r
    return list(out.values())
