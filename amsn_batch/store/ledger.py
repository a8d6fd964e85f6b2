"""The ledger: one entry per file received (known by its SHA-256), its findings, and the runs of `traiter`
with their counts. Every read returns dataclasses or plain values; every write goes through `transaction`."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..rules.catalogue import ROW_COLUMNS
from ..vocab import BLOCKING
from .bulk import bulk_insert
from .db import POSTGRESQL, bulk_rows, engine, records, transaction


@dataclass
class FileRecord:
    """What the checks decided about a file, as the ledger records it."""

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


@dataclass
class FileEntry:
    """A ledger entry as stored (fichiers row)."""

    id: int
    sha256: str
    sender: str
    name: str
    received: str
    done_at: str | None
    status: str
    stage: str
    rows: int
    accepted: int
    refused: int
    entries: int
    exits: int
    changes: int
    warnings: int
    details: dict
    archive: str | None

    @classmethod
    def unrecorded(cls, rec: FileRecord, entries: int = 0, exits: int = 0, changes: int = 0) -> FileEntry:
        """The entry a file would have (a dry run: checked, never recorded)."""
        return cls(0, rec.sha256, rec.sender, rec.name, rec.received, None, rec.status, "", rec.rows, rec.accepted,
                   rec.refused, entries, exits, changes, rec.warnings, rec.details, None)

    @property
    def claim_id(self) -> str | None:
        return self.details.get("depot")

    @property
    def quarantined(self) -> bool:
        return bool(self.details.get("quarantaine"))

    @property
    def when(self) -> str:
        """When the service processed it (or received it, while not finished)."""
        return self.done_at or self.received


_ENTRY = ("id, sha256, expediteur AS sender, nom AS name, recu_le AS received, traite_le AS done_at, "
          "statut AS status, etape AS stage, COALESCE(lignes, 0) AS rows, COALESCE(lignes_acceptees, 0) AS accepted, "
          "COALESCE(lignes_rejetees, 0) AS refused, COALESCE(entrees, 0) AS entries, COALESCE(sorties, 0) AS exits, "
          "COALESCE(modifications, 0) AS changes, COALESCE(avertissements, 0) AS warnings, details, archive")

FINDING_COLUMNS = ROW_COLUMNS  # ligne, colonne, valeur, code, gravite, message, then who the line is about
_FINDING_SELECT = ", ".join(c if c in ("ligne", "code", "gravite", "message") else f"COALESCE({c}, '') AS {c}"
                            for c in FINDING_COLUMNS)  # findings recorded before 0300 have NULL beyond message


def _entries(conn: sqlite3.Connection, where: str, params: tuple = ()) -> list[FileEntry]:
    out = []
    for r in records(conn, f"SELECT {_ENTRY} FROM fichiers f {where}", params):
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        out.append(FileEntry(**r))
    return out


def entry(conn: sqlite3.Connection, file_id: int) -> FileEntry:
    return _entries(conn, "WHERE id=?", (file_id,))[0]


def entry_by_sha(conn: sqlite3.Connection, sha: str) -> FileEntry | None:
    found = _entries(conn, "WHERE sha256=?", (sha,))
    return found[0] if found else None


def entry_by_claim(conn: sqlite3.Connection, claim_id: str) -> FileEntry | None:
    found = _entries(conn, "WHERE json_extract(details, '$.depot')=?", (claim_id,))
    return found[0] if found else None


def findings(conn: sqlite3.Connection, file_id: int) -> list[dict]:
    """A file's findings, in the order they were recorded, as dicts (FINDING_COLUMNS; '' for what was not
    recorded)."""
    return records(conn, f"SELECT {_FINDING_SELECT} FROM constats WHERE fichier_id=? ORDER BY rang NULLS FIRST, rowid", (file_id,))


SHOWN_MAX = 1000  # the ranks within a rule (and a client) that migration 0630's index constats_montres holds


def answer_findings(conn: sqlite3.Connection, file_id: int, per_code: int, per_client: int,
                    every_blocking: bool = True) -> list[dict]:
    """The findings a file's answer shows, in the order they were recorded: every blocking one when
    `every_blocking` (the correction workbook needs them all), and of the others the first `per_code` of each
    code and the first `per_client` of each code for each client (adhérent). A full list of a million new
    employees is a million warnings, a file of a million refused lines a million blocking findings when it
    gets no workbook: the answer lists a few and counts the rest (`finding_tallies`), instead of reading them
    all back. Each finding's rank within its rule and client is recorded with it (`insert_findings`), so the
    rows shown are found by index (a million findings: 2.5 s to rank them again, now a few milliseconds);
    a file recorded before the ranks were (migrations 0630, 0660) is ranked here, on the narrow columns first."""
    if per_code > SHOWN_MAX or per_client > SHOWN_MAX or file_id <= conn.execute(
            "SELECT COALESCE(MAX(fichier_id), 0) FROM constats_rangs_depuis").fetchone()[0]:
        return _ranked_here(conn, file_id, per_code, per_client, every_blocking)
    shown = {r["rang"]: r for r in records(
        conn, f"SELECT rang, {_FINDING_SELECT} FROM constats WHERE fichier_id = ? "
              f"AND (rang_regle <= {SHOWN_MAX} OR rang_client <= {SHOWN_MAX}) AND (rang_regle <= ? OR rang_client <= ?)",
        (file_id, per_code, per_client))}
    if every_blocking:  # the literal severity: the partial index constats_bloquants is then usable on both engines
        shown.update((r["rang"], r) for r in records(
            conn, f"SELECT rang, {_FINDING_SELECT} FROM constats WHERE fichier_id = ? AND gravite = '{BLOCKING}'", (file_id,)))
    out = [shown[k] for k in sorted(shown)]
    for r in out:
        del r["rang"]
    return out


def _ranked_here(conn: sqlite3.Connection, file_id: int, per_code: int, per_client: int, every_blocking: bool) -> list[dict]:
    """`answer_findings` of a file whose findings carry no rank (recorded before migration 0630): ranked by a
    window over all of them, on the narrow columns only, then the rows shown are read."""
    return records(conn, f"""
        WITH shown AS (SELECT r FROM (
            SELECT rowid AS r, gravite, ROW_NUMBER() OVER (PARTITION BY code ORDER BY rang NULLS FIRST, rowid) AS n_code,
                   ROW_NUMBER() OVER (PARTITION BY COALESCE(adherent, ''), code ORDER BY rang NULLS FIRST, rowid) AS n_client
            FROM constats WHERE fichier_id = ?) f WHERE gravite = ? OR n_code <= ? OR n_client <= ?)
        SELECT {_FINDING_SELECT} FROM constats WHERE rowid IN (SELECT r FROM shown) ORDER BY rang NULLS FIRST, rowid""",
                   (file_id, BLOCKING if every_blocking else "", per_code, per_client))


def finding_tallies(conn: sqlite3.Connection, file_id: int) -> list[dict]:
    """What all of a file's findings add up to, per code for each client (`adherent`: '' for the file as a whole
    or an unknown member) and per code over the whole file (`adherent` None): how many (`constats`), on how many
    distinct lines (`lignes`, 0 for the file itself), the first (`premiere`), whether one names a column or a
    value (`places`). As written with the findings (`insert_findings`), else summed here. Their messages:
    `finding_messages`."""
    rows = records(conn, "SELECT adherent, code, constats, lignes, premiere, places FROM constats_comptes "
                         "WHERE fichier_id = ?", (file_id,))
    if rows:
        return rows
    line = "COALESCE(ligne, 0)"
    places = "MAX(CASE WHEN COALESCE(colonne, '') <> '' OR COALESCE(valeur, '') <> '' THEN 1 ELSE 0 END)"
    sums = f"COUNT(*) AS constats, COUNT(DISTINCT {line}) AS lignes, MIN({line}) AS premiere, {places} AS places"
    rows = records(conn, f"SELECT COALESCE(adherent, '') AS adherent, code, {sums} FROM constats WHERE fichier_id = ? "
                         "GROUP BY COALESCE(adherent, ''), code", (file_id,))
    rows += records(conn, f"SELECT NULL AS adherent, code, {sums} FROM constats WHERE fichier_id = ? GROUP BY code", (file_id,))
    return rows


def finding_messages(conn: sqlite3.Connection, file_id: int) -> Iterator[tuple[str, str, str]]:
    """The distinct (adherent, code, message) of a file's findings ('' for the file or an unknown member): those
    written with the tallies, and for a rule and client with too many to keep (a full list's leavers), read from
    the findings one by one, not held."""
    keys = records(conn, "SELECT adherent, code, messages_complets FROM constats_comptes "
                         "WHERE fichier_id = ? AND adherent IS NOT NULL", (file_id,))
    if not keys:
        yield from conn.execute("SELECT DISTINCT COALESCE(adherent, ''), code, message FROM constats WHERE fichier_id = ?",
                                (file_id,))
        return
    yield from conn.execute("SELECT adherent, code, message FROM constats_messages WHERE fichier_id = ?", (file_id,))
    for k in keys:
        if not k["messages_complets"]:
            for (message,) in conn.execute("SELECT DISTINCT message FROM constats WHERE fichier_id = ? AND code = ? "
                                           "AND COALESCE(adherent, '') = ?", (file_id, k["code"], k["adherent"])):
                yield k["adherent"], k["code"], message


MESSAGES_KEPT = 100  # distinct messages of a rule and client written with the tallies; beyond, read from the findings


def _coded(findings, column: str) -> tuple[np.ndarray, np.ndarray]:
    """A column of a findings frame as integer codes and the distinct values ('' for none, or for a column the
    frame lacks): what ranks and tallies group on, instead of texts."""
    if column not in findings:
        return np.zeros(len(findings), dtype=np.int64), np.array([""], dtype=object)
    codes, uniques = pd.factorize(pd.Series(findings[column]))  # Arrow text coded by Arrow, with no Python text per row
    uniques = np.asarray(uniques, dtype=object)
    if (codes < 0).any():  # none: as ''
        blank = np.flatnonzero(uniques == "")
        if not len(blank):
            uniques, blank = np.append(uniques, ""), [len(uniques)]
        codes = np.where(codes < 0, blank[0], codes)
    return codes, uniques


def _write_tallies(conn: sqlite3.Connection, file_id: int, findings, first: bool, rule_of: np.ndarray, rules: np.ndarray,
                   member_of: np.ndarray, members: np.ndarray) -> None:
    """The tallies and distinct messages of a file's findings (`finding_tallies`, `finding_messages`), from the
    frame being written when it is the file's first (`first`); any other write drops them. On integer codes of
    the values (`_coded`: a million findings in a fraction of a second, and no copy of their texts)."""
    delete_tallies(conn, file_id)
    n = len(findings)
    if not first or not n:
        return
    message_of, messages = _coded(findings, "message")
    line = pd.to_numeric(pd.Series(findings["ligne"]), errors="coerce").fillna(0).astype(np.int64).to_numpy()
    placed = np.zeros(n, dtype=bool)
    for c in ("colonne", "valeur"):
        if c in findings:
            placed |= (pd.Series(findings[c]).fillna("") != "").to_numpy(dtype=bool)
    names = ["fichier_id", "adherent", "code", "constats", "lignes", "premiere", "places", "messages_complets"]
    span = int(line.max()) - int(line.min()) + 1
    rows, kept = [], []
    for per_client in (True, False):  # each client's rules, then each rule over the whole file
        group_of = rule_of.astype(np.int64) * len(members) + member_of if per_client else rule_of.astype(np.int64)
        groups, group = np.unique(group_of, return_inverse=True)
        keys = [(members[k % len(members)], rules[k // len(members)]) if per_client else (None, rules[k]) for k in groups.tolist()]
        size = np.bincount(group, minlength=len(groups))
        lines = np.bincount(np.unique(group.astype(np.int64) * span + line - int(line.min())) // span, minlength=len(groups))
        first_line = pd.Series(line).groupby(group).min().to_numpy()
        places = np.bincount(group, weights=placed, minlength=len(groups)) > 0
        complete = np.ones(len(groups), dtype=bool)
        if per_client:  # the distinct messages of each client's rule, when they are few
            pairs = np.unique(group.astype(np.int64) * len(messages) + message_of)
            complete = np.bincount(pairs // len(messages), minlength=len(groups)) <= MESSAGES_KEPT
            kept += [(file_id, *keys[p // len(messages)], messages[p % len(messages)])
                     for p in pairs[complete[pairs // len(messages)]].tolist()]
        rows += [(file_id, *keys[g], int(size[g]), int(lines[g]), int(first_line[g]), int(places[g]), int(complete[g]))
                 for g in range(len(groups))]
    bulk_rows(conn, "constats_comptes", names, rows)
    bulk_rows(conn, "constats_messages", ["fichier_id", "adherent", "code", "message"], kept)


def delete_tallies(conn: sqlite3.Connection, file_id: int) -> None:
    """Drop what `insert_findings` wrote of a file's tallies (its findings change)."""
    conn.execute("DELETE FROM constats_messages WHERE fichier_id = ?", (file_id,))
    conn.execute("DELETE FROM constats_comptes WHERE fichier_id = ?", (file_id,))


def held(conn: sqlite3.Connection) -> list[FileEntry]:
    """Files held for review by staff (full lists with too many exits), oldest entry first."""
    return _entries(conn, "WHERE statut='en_attente' ORDER BY id")


def held_matching(conn: sqlite3.Connection, ref: str) -> list[FileEntry]:
    """Held files, already put aside, whose name is `ref` or whose SHA-256 starts with it."""
    return _entries(conn, "WHERE etape='en_attente' AND archive IS NOT NULL AND (nom=? OR sha256 LIKE ?)",
                    (ref, f"{ref}%"))


def quarantined(conn: sqlite3.Connection) -> dict[str, FileEntry]:
    """Quarantined files put aside, by the path they were put aside at."""
    return {e.archive: e for e in _entries(
        conn, "WHERE json_extract(details, '$.quarantaine') AND archive IS NOT NULL")}


def files_of_day(conn: sqlite3.Connection, day: str) -> list[FileEntry]:
    """Files processed on a day (ISO date; received that day for those not finished yet), in time order."""
    return _entries(conn, f"WHERE {_DAY} = ? ORDER BY COALESCE(f.traite_le, f.recu_le), f.id", (day,))


_DAY = "substr(COALESCE(f.traite_le, f.recu_le), 1, 10)"


def files_since(conn: sqlite3.Connection, since: str) -> list[FileEntry]:
    """Files processed since an ISO timestamp (received since, for those not finished), by sender then time."""
    return _entries(conn, "WHERE COALESCE(f.traite_le, f.recu_le) >= ? "
                          "ORDER BY f.expediteur, COALESCE(f.traite_le, f.recu_le), f.id", (since,))


def insert_entry(conn: sqlite3.Connection, rec: FileRecord, stage: str) -> int:
    """A new ledger entry (inside the caller's transaction). Returns its id."""
    return conn.execute(
        "INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, statut, etape, lignes, lignes_acceptees,"
        " lignes_rejetees, avertissements, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
        (rec.sha256, rec.sender, rec.name, rec.size, rec.received, rec.status, stage, rec.rows,
         rec.accepted, rec.refused, rec.warnings, json.dumps(rec.details, ensure_ascii=False)),
    ).fetchone()[0]


def insert_findings(conn: sqlite3.Connection, file_id: int, findings) -> None:
    """A file's findings (a frame in FINDING_COLUMNS, rules.catalogue.to_rows; a column it lacks is left
    empty), in its order (`rang`, after the findings the file already has), inside the caller's transaction: written in bulk (a big file has hundreds of
    thousands, most columns the same throughout)."""
    order = np.arange(len(findings))
    start = conn.execute("SELECT COALESCE(MAX(rang) + 1, 0) FROM constats WHERE fichier_id = ?", (file_id,)).fetchone()[0]
    coded = (*_coded(findings, "code"), *_coded(findings, "adherent"))
    by_rule, by_client = _ranks(conn, file_id, start > 0, *coded)
    columns = {"fichier_id": file_id, "rang": order + start, "rang_regle": by_rule, "rang_client": by_client,
               **{c: findings[c] if c in findings else "" for c in FINDING_COLUMNS}}
    bulk_insert(conn, "constats", columns, order)
    _write_tallies(conn, file_id, findings, start == 0, *coded)


def _ranks(conn: sqlite3.Connection, file_id: int, after_others: bool, rule_of: np.ndarray, rules: np.ndarray,
           member_of: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each finding's rank (1, 2, …) within its rule and within its rule for its client (adhérent, '' for none),
    in the frame's order (its columns `_coded`), after the file's findings already recorded (`after_others`: a
    finding appended later)."""
    pair = rule_of.astype(np.int64) * max(len(members), 1) + member_of
    by_rule = pd.Series(rule_of).groupby(rule_of).cumcount().to_numpy(dtype=np.int64) + 1
    by_client = pd.Series(pair).groupby(pair).cumcount().to_numpy(dtype=np.int64) + 1
    if after_others and len(rule_of):
        seen_rule: dict[str, int] = {}
        seen_client: dict[tuple[str, str], int] = {}
        for code, member, count in conn.execute(
                "SELECT code, COALESCE(adherent, ''), COUNT(*) FROM constats WHERE fichier_id = ? "
                "GROUP BY code, COALESCE(adherent, '')", (file_id,)):
            seen_rule[code] = seen_rule.get(code, 0) + count
            seen_client[(member, code)] = count
        by_rule += np.array([seen_rule.get(c, 0) for c in rules], dtype=np.int64)[rule_of]
        by_client += np.array([seen_client.get((members[m], rules[r]), 0) for r, m in zip(rule_of.tolist(), member_of.tolist())],
                              dtype=np.int64)
    return by_rule, by_client


def delete_entry(conn: sqlite3.Connection, file_id: int) -> None:
    """Remove an entry and its findings (inside the caller's transaction)."""
    delete_tallies(conn, file_id)
    conn.execute("DELETE FROM constats WHERE fichier_id=?", (file_id,))
    conn.execute("DELETE FROM fichiers WHERE id=?", (file_id,))


def mark_changed_after_processing(conn: sqlite3.Connection, file_id: int, finding) -> None:
    """The file changed after its outcome was committed: flagged for staff (`changed_after_processing`), and a
    file-level finding (a one-row frame, as insert_findings takes) for the sender's acknowledgement."""
    with transaction(conn):
        conn.execute("UPDATE fichiers SET details=json_set(COALESCE(details, '{}'), '$.modifie_apres_traitement', "
                     "json('true')), avertissements=COALESCE(avertissements, 0)+1 WHERE id=?", (file_id,))
        insert_findings(conn, file_id, finding)


def changed_after_processing(conn: sqlite3.Connection) -> list[FileEntry]:
    """Files that changed after their outcome was committed (their sender was asked to resend them), oldest first."""
    return _entries(conn, "WHERE json_extract(details, '$.modifie_apres_traitement') ORDER BY id")


def set_movement_counts(conn: sqlite3.Connection, file_id: int, counts: dict[str, int]) -> None:
    """Entries, exits and changes applied from a file (inside the caller's transaction)."""
    conn.execute("UPDATE fichiers SET entrees=?, sorties=?, modifications=? WHERE id=?",
                 (counts["entree"], counts["sortie"], counts["modification"], file_id))


def set_archive(conn: sqlite3.Connection, file_id: int, dest: Path) -> None:
    """Where the original goes, noted before it moves."""
    with transaction(conn):
        conn.execute("UPDATE fichiers SET archive=? WHERE id=?", (str(dest), file_id))


def set_stage(conn: sqlite3.Connection, file_id: int, stage: str, done_at: str) -> None:
    with transaction(conn):
        conn.execute("UPDATE fichiers SET etape=?, traite_le=? WHERE id=?", (stage, done_at, file_id))


# --- dashboard -------------------------------------------------------------------------------------


@dataclass
class RuleTally:
    code: str
    severity: str
    lines: int
    files: int
    senders: int


def rule_tallies(conn: sqlite3.Connection, day: str) -> list[RuleTally]:
    """Per (code, severity): lines, files and senders concerned among a day's files."""
    return [RuleTally(**r) for r in records(conn, f"""
        SELECT c.code, c.gravite AS severity, COUNT(DISTINCT c.fichier_id || ':' || c.ligne) AS lines,
               COUNT(DISTINCT c.fichier_id) AS files, COUNT(DISTINCT f.expediteur) AS senders
        FROM constats c JOIN fichiers f ON f.id = c.fichier_id
        WHERE {_DAY} = ? GROUP BY c.code, c.gravite""", (day,))]


def sender_days(conn: sqlite3.Connection, until: str) -> list[tuple[str, str]]:
    """(sender, ISO day) of every day each sender had a file, up to `until`, by sender then day."""
    return [(r["sender"], r["day"]) for r in records(conn, f"""
        SELECT f.expediteur AS sender, {_DAY} AS day FROM fichiers f WHERE {_DAY} <= ?
        GROUP BY f.expediteur, day ORDER BY f.expediteur, day""", (until,))]


@dataclass
class DayTotals:
    files: int
    rows: int
    refused_rows: int
    refused_files: int


def day_totals(conn: sqlite3.Connection) -> dict[str, DayTotals]:
    """Per ISO day: files, rows, refused rows and refused files."""
    return {r.pop("day"): DayTotals(**r) for r in records(conn, f"""
        SELECT {_DAY} AS day, COUNT(*) AS files, COALESCE(SUM(f.lignes), 0) AS rows,
               COALESCE(SUM(f.lignes_rejetees), 0) AS refused_rows, COALESCE(SUM(CASE WHEN f.statut = 'rejete' THEN 1 ELSE 0 END), 0) AS refused_files
        FROM fichiers f GROUP BY 1""")}


# --- runs ------------------------------------------------------------------------------------------

RUN_COUNTERS = {"accepte": "acceptes", "accepte_partiellement": "acceptes_partiellement", "rejete": "rejetes",
                "en_attente": "en_attente", "deja_traite": "deja_traites", "erreur": "erreurs"}


@dataclass
class Run:
    id: int
    started: str
    ended: str | None
    state: str
    files: int
    accepted: int
    partly_accepted: int
    refused: int
    held: int
    duplicates: int
    quarantined: int
    resumed: int
    errors: int

    def counts(self) -> tuple[int, ...]:
        return (self.files, self.accepted, self.partly_accepted, self.refused, self.held, self.duplicates,
                self.quarantined, self.resumed, self.errors)


_LIVE = ("SELECT id FROM traitements t WHERE etat='en_cours' AND EXISTS (SELECT 1 FROM pg_locks l WHERE "
         "l.locktype='advisory' AND l.granted AND l.objsubid=2 AND CAST(l.classid AS bigint)=? AND CAST(l.objid AS bigint)=t.id)")


def open_run(conn: sqlite3.Connection, now: str, pid: int) -> int:
    """A new run; any run still marked running died (SQLite: the caller holds the run lock; PostgreSQL: a live
    run holds an advisory lock on its id for its session, which a killed run's session loses). Returns its id."""
    pg = engine(conn) == POSTGRESQL
    with transaction(conn):
        conn.execute("UPDATE traitements SET etat='interrompu' WHERE etat='en_cours'"
                     + (f" AND id NOT IN ({_LIVE})" if pg else ""), (_RUN_LOCKS,) if pg else ())
        run_id = conn.execute("INSERT INTO traitements (debut, pid, etat) VALUES (?, ?, 'en_cours') RETURNING id",
                              (now, pid)).fetchone()[0]
        if pg:
            conn.execute("SELECT pg_advisory_lock(?, ?)", (_RUN_LOCKS, run_id))
        return run_id


def live_runs(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """PostgreSQL workers running now: (pid, start) of each; [] on SQLite (the run lock tells it there)."""
    if engine(conn) != POSTGRESQL:
        return []
    return [tuple(r) for r in conn.execute(f"SELECT pid, debut FROM traitements WHERE id IN ({_LIVE}) ORDER BY id",
                                           (_RUN_LOCKS,)).fetchall()]


_RUN_LOCKS = 0x616D7333  # advisory lock namespace of live runs ('ams3')


def count_in_run(conn: sqlite3.Connection, run_id: int, status: str, quarantined: bool, resumed: bool) -> None:
    sets = ["fichiers = fichiers + 1"]
    col = RUN_COUNTERS.get(status)
    if col:
        sets.append(f"{col} = {col} + 1")
    if quarantined:
        sets.append("quarantaines = quarantaines + 1")
    if resumed:
        sets.append("repris = repris + 1")
    with transaction(conn):
        conn.execute(f"UPDATE traitements SET {', '.join(sets)} WHERE id=?", (run_id,))


def close_run(conn: sqlite3.Connection, run_id: int, now: str) -> None:
    with transaction(conn):
        conn.execute("UPDATE traitements SET fin=?, etat='termine' WHERE id=?", (now, run_id))


def last_runs(conn: sqlite3.Connection, n: int) -> list[Run]:
    return [Run(**r) for r in records(
        conn, "SELECT id, debut AS started, fin AS ended, etat AS state, fichiers AS files, acceptes AS accepted, "
        "acceptes_partiellement AS partly_accepted, rejetes AS refused, en_attente AS held, deja_traites AS duplicates, "
        "quarantaines AS quarantined, repris AS resumed, erreurs AS errors FROM traitements ORDER BY id DESC LIMIT ?", (n,))]


# --- acknowledgements ------------------------------------------------------------------------------


def set_ack_base(conn: sqlite3.Connection, file_id: int, base: str) -> None:
    """The base name of the file's acknowledgement files (reports.ack.ack_base), decided once, before they
    are written: a rebuilt acknowledgement replaces that file's own answer and no other."""
    with transaction(conn):
        conn.execute("UPDATE fichiers SET details = json_set(COALESCE(details, '{}'), '$.accuse', ?) WHERE id=?",
                     (base, file_id))


def sender_files_between(conn: sqlite3.Connection, sender: str, after: int, before: int) -> bool:
    """Whether the sender has a file accepted (in whole or in part) with an id between these two, both excluded."""
    return conn.execute("SELECT 1 FROM fichiers WHERE expediteur = ? AND id > ? AND id < ? "
                        "AND statut IN ('accepte', 'accepte_partiellement') LIMIT 1", (sender, after, before)).fetchone() is not None


def entry_by_ack_base(conn: sqlite3.Connection, base: str) -> FileEntry | None:
    """The file whose acknowledgement files are named `base` (reports.ack.ack_base)."""
    found = _entries(conn, "WHERE json_extract(details, '$.accuse')=?", (base,))
    return found[0] if found else None
