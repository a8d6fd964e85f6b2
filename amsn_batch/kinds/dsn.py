"""DSN files (déclaration sociale nominative), as payroll software makes them: recognised by content whatever
their name, read by read.dsn, turned into employee rows by rules.dsn and checked by the employee rules.

A monthly DSN (nature 01) is the whole staff of its establishment for that month: a full staff list of that
establishment. New contracts give entries (hire date = contract start), contract ends (S21.G00.62) give exits
with their date and reason, changes of job title, PCS-ESE or contract give modifications. An employee the
store has present in the establishment and whom the DSN leaves out, without an end, had no contract on any
day of the month: the exit is recorded on the last day of the month before and said in the acknowledgement
(DSN_ABSENT), and too many of them hold the file as for a full list (`liste valider / rejeter`).
An FCTU (nature 07) gives the exit alone. A month older than the latest applied for the establishment
(dsn_mois) undoes nothing the newer one recorded: only people the store has never seen, and the real end
of those who have left, are taken from it. The same file twice is a duplicate (the ledger's SHA-256).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from .. import intake
from ..config import Settings
from ..read import UnreadableFile
from ..read.dsn import is_dsn, read_dsn
from ..read.headers import HeaderMap
from ..rules import dsn as rules
from ..rules.catalogue import Findings, param_columns, to_rows
from ..rules.employees import Context, validate
from ..rules.refusal import refused_unread, unreadable_file
from ..store import dsn as store_dsn
from ..store import registry
from ..store.employees import existing_employees
from ..store.ledger import FileRecord
from ..vocab import BLOCKING, catalogue
from .base import Kind
from .employees import Checked, Employees, _status, check_file

# The full-list findings, said as a DSN says them.
RENAMED = {"LISTE_SORTIE": "DSN_ABSENT", "LISTE_ENTREE": "DSN_ENTREE", "LISTE_MODIFICATION": "DSN_MODIFICATION",
           "LISTE_RETENUE": "DSN_RETENUE"}


class DsnChecked(Checked):
    """What the checks decided, and what the DSN adds: the months to note and the contract ends applied."""

    def __init__(self, checked: Checked, months: dict[str, str] | None = None, ends: list[tuple] | None = None):
        super().__init__(checked.record, checked.findings, checked.accepted, checked.existing, checked.quarantine_reason)
        self.months = months or {}
        self.ends = ends or []


def check_dsn(conn, path: Path, sender_code: str, settings: Settings, sha: str | None = None, *,
              name_problem: str | None = None, release: bool = False, unreadable: str | None = None,
              received: str | None = None) -> DsnChecked:
    sender = registry.find_sender(conn, sender_code)
    if refused_unread(sender_code, sender, name_problem=name_problem, unreadable=unreadable, size=path.stat().st_size,
                      max_bytes=settings.limits.max_file_bytes):  # said as for any employee file
        return DsnChecked(check_file(conn, path, sender_code, settings, sha, name_problem=name_problem,
                                     unreadable=unreadable, received=received))
    sha = sha or intake.sha256(path)
    received = received or dt.datetime.now().isoformat(timespec="seconds")
    try:
        dsn = read_dsn(path)
    except UnreadableFile as exc:
        refusal = unreadable_file(str(exc))
        return _result(refusal.findings, sha, sender_code, path, received, quarantine=refusal.quarantine)
    f = Findings()
    declarations = rules.structure(dsn, f)
    details = {"format": "dsn", "encodage": dsn.encoding, "ligne_entetes": 1,
               "declarations": [{"siret": d.siret, "mois": d.month, "nature": d.nature, "ligne": d.line}
                                for d in declarations]}
    if f.file_refused():
        return _result(f, sha, sender_code, path, received, details=details, lines=_finding_lines(f.frame(), None))

    establishments = registry.establishments(conn)
    adherents = sorted(sender.adherents) if sender.kind == "adherent" else sorted(
        set(establishments.values()) & set(sender.adherents))
    people = rules.people(dsn, declarations)
    if not len(people):  # a DSN without anyone: no staff left, or a file cut short; someone must look
        f.add_file("DSN_SANS_SALARIE")
        return _result(f, sha, sender_code, path, received, details=details, lines=_finding_lines(f.frame(), None))
    # a DSN is a full list: the present staff, and whoever it names (present or gone)
    existing = existing_employees(conn, adherents, rules.with_key(people.nir13).tolist(), staff=True)
    last = store_dsn.last_months(conn, sorted({d.siret for d in declarations}))
    own = {d.siret for d in declarations if establishments.get(d.siret) in sender.adherents}
    older = [d for d in declarations if d.siret in last and d.siret in own and d.month < last[d.siret]]
    notes = Findings()
    if older:  # what the newer month recorded stands: see _older_rows
        drop = _older_rows(people, older, existing, establishments)
        for d in older:
            notes.add_file("DSN_MOIS_ANTERIEUR", None, "", mois=rules.month_fr(d.month), dernier=rules.month_fr(last[d.siret]),
                           etablissement=d.siret, ignores=int((drop & (people.declaration == d.index)).sum()), ligne=d.line)
        people = people.subset(~drop)
    fctu = any(d.usage == "fin_contrat" for d in declarations)
    for d in declarations:
        if d.siret in own and d not in older:
            if fctu:
                notes.add_file("DSN_FCTU", None, "", etablissement=d.siret, mois=rules.month_fr(d.month), ligne=d.line)
            else:
                notes.add_file("DSN_MENSUELLE", None, "", etablissement=d.siret, mois=rules.month_fr(d.month),
                               date=d.before.strftime("%d/%m/%Y"), ligne=d.line)
                if d.month.endswith("-12"):
                    notes.add_file("DSN_DECEMBRE", None, "", etablissement=d.siret, annee=int(d.month[:4]) + 1,
                                   date=d.month_end.strftime("%d/%m/%Y"), ligne=d.line)
    people = _transfers(people, establishments, notes)
    rules.row_findings(people, notes)
    _continued_hires(people, existing, establishments)
    table, columns = rules.table(people, declarations)
    headers = HeaderMap(columns, [], [], [])
    ctx = Context(sender, establishments, existing, member_status=registry.member_statuses(conn),
                  received=dt.date.fromisoformat(received[:10]),
                  exit_threshold=float("inf") if release else settings.list_exit_threshold,
                  list_scope="siret", list_exclude=frozenset(d.siret for d in older),
                  list_dates={d.siret: d.before.isoformat() for d in declarations if d.month},
                  max_cell_chars=settings.limits.max_cell_chars)
    outcome = validate(table, headers, ctx)
    applied = outcome.accepted
    if len(applied):
        exits = applied[(applied["date_sortie"].fillna("") != "") & (applied["pos"].astype(np.int64) >= 0)]
        pos = exits["pos"].to_numpy(dtype=np.int64)
        motifs = rules.spec()["motifs_fin"]
        notes.add_rows("DSN_FIN_CONTRAT", pos, "date_sortie", people.cells["date_sortie"][pos],
                       date=[_fr(d) for d in exits["date_sortie"]], motif=people.motif[pos],
                       libelle=[motifs.get(m, "motif non précisé" if not m else "motif inconnu") for m in people.motif[pos]])
        ends = [(int(people.lines["date_sortie"][p]), a, n, s, d, people.motif[p], people.contract_number[p])
                for p, a, n, s, d in zip(pos, exits["adherent"], exits["nir"], exits["siret"], exits["date_sortie"])]
    else:
        ends = []
    findings = _merge(outcome.findings, notes, people)
    months = {d.siret: d.month for d in declarations
              if not fctu and d.siret in own and d not in older and d.month}
    checked = _result(findings, sha, sender_code, path, received, rows=outcome.rows, accepted=outcome.accepted,
                      existing=existing, details=details, held=outcome.held, refused=outcome.refused, table=table,
                      columns=columns, people=people, declarations=declarations,
                      members=registry.sender_members(conn, sender, establishments))
    return DsnChecked(checked, months, ends)


def _fr(iso) -> str:
    return dt.date.fromisoformat(str(iso)).strftime("%d/%m/%Y") if iso else ""


def _transfers(people: rules.People, establishments: dict[str, str], notes: Findings) -> rules.People:
    """An employee whose contract ends in one establishment of an adhérent while one runs in another of the
    same adhérent, in the same file, moves: one row, the running contract's (its SIRET is the change), and a
    notice naming the establishment left."""
    frame = pd.DataFrame({"adherent": pd.Series(people.cells["siret"], dtype=object).map(establishments).fillna(""),
                          "nir": pd.Series(people.nir13, dtype=object).fillna(""), "decl": people.declaration,
                          "ended": people.cells["date_sortie"] != ""})
    frame = frame[(frame["adherent"] != "") & (frame["nir"] != "")]
    shared = frame.groupby(["adherent", "nir"])["decl"].transform("nunique") > 1
    if not shared.any():
        return people
    groups = frame[shared].groupby(["adherent", "nir"])["ended"]
    mixed = frame[shared][groups.transform("any") & ~groups.transform("all")]
    left = mixed[mixed["ended"]]
    if left.empty:
        return people
    kept = mixed[~mixed["ended"]].reset_index().drop_duplicates(["adherent", "nir"]).set_index(["adherent", "nir"])["index"]
    drop = np.zeros(len(people), dtype=bool)
    drop[left.index.to_numpy()] = True
    position = np.cumsum(~drop) - 1  # a kept row's position once the others are dropped
    rows = position[kept.loc[list(zip(left["adherent"], left["nir"]))].to_numpy()]
    ends = rules.iso_dates(people.cells["date_sortie"][left.index.to_numpy()])
    notes.add_rows("DSN_CHANGEMENT_ETABLISSEMENT", rows, "siret", "", ancien=people.cells["siret"][left.index.to_numpy()],
                   date=[_fr(d) for d in ends])
    return people.subset(~drop)


def _older_rows(people: rules.People, older: list[rules.Declaration], existing: pd.DataFrame,
                establishments: dict[str, str]) -> np.ndarray:
    """The rows of declarations older than the month applied that are left out: an employee the store has
    present (the newer month has them), or one who has left and whom this month shows without an end (they
    left later). Kept: people the store has never seen, and the end of a contract of someone who has left
    (its date, the DSN's own, corrects an exit inferred from an absence)."""
    state = dict(zip(zip(existing["adherent"].tolist(), existing["nir"].tolist()), existing["present"].tolist()))
    owner = [establishments.get(s, "") for s in people.cells["siret"]]
    present = np.array([state.get(k, -1) for k in zip(owner, rules.with_key(people.nir13))], dtype=np.int64)
    ended = people.cells["date_sortie"] != ""
    return np.isin(people.declaration, [d.index for d in older]) & ((present == 1) | ((present == 0) & ~ended))


def _continued_hires(people: rules.People, existing: pd.DataFrame, establishments: dict[str, str]) -> None:
    """An employee the store has present keeps the hire date it holds when the DSN's contract starts later
    (a CDD followed by a CDI, a contract renewed): the employment goes on; an earlier start corrects it."""
    if existing is None or existing.empty or not len(people):
        return
    present = existing.loc[existing["present"] == 1, ["adherent", "nir", "date_embauche"]]
    if present.empty:
        return
    siret = pd.Series(people.cells["siret"], dtype=object)
    rows = pd.DataFrame({"adherent": siret.map(establishments).fillna("").astype(object),
                         "nir": pd.Series(people.cells["nir"], dtype=object)})
    old = rows.merge(present.astype(object), how="left", on=["adherent", "nir"])["date_embauche"].fillna("").to_numpy(dtype=object)
    new = rules.iso_dates(people.cells["date_embauche"])
    keep = (old != "") & (new != "") & (old <= new)
    if keep.any():
        people.cells["date_embauche"][keep] = [f"{d[8:10]}{d[5:7]}{d[0:4]}" for d in old[keep]]


def _merge(found: Findings, notes: Findings, people: rules.People) -> pd.DataFrame:
    """The employee rules' findings said as a DSN says them, with the DSN's own: the full-list codes renamed,
    the full-list notice replaced by one per declaration, and no 'required' finding where a DSN finding
    already says why the row is refused (no NIR, no contract)."""
    frame = pd.concat([found.frame(), notes.frame()], ignore_index=True)
    frame = frame[frame["code"] != "LISTE_COMPLETE"]
    own = set(notes.frame().loc[lambda x: x["code"].isin(["DSN_SANS_NIR", "DSN_SANS_CONTRAT"]), "pos"])
    if own:
        frame = frame[~((frame["code"] == "CHAMP_OBLIGATOIRE") & frame["pos"].isin(own))]
    frame = frame.assign(code=frame["code"].replace(RENAMED))
    return frame.reset_index(drop=True)


def _finding_lines(frame: pd.DataFrame, people: rules.People | None, default: int = 1,
                   decl_lines: dict[str, int] | None = None, sirets: dict | None = None) -> np.ndarray:
    """Each finding's line in the DSN: the line of the rubrique of its field for a row's finding (the
    individual's first line when none), the line its parameters name for a file-level one."""
    pos = frame["pos"].to_numpy(dtype=np.int64)
    fields = frame["field"].to_numpy(dtype=object)
    params = param_columns(frame)
    given = {name: params.get(name, np.full(len(frame), None, dtype=object)) for name in ("ligne", "etablissement")}
    out = np.full(len(frame), default, dtype=np.int64)
    rows = pos >= 0
    if people is not None and rows.any():
        out[rows] = people.line[pos[rows]]
        for key, arr in people.lines.items():
            hit = rows & (fields == key)
            if hit.any():
                at = arr[pos[hit]]
                out[hit] = np.where(at > 0, at, out[hit])
    for i in np.flatnonzero(~rows):
        line, siret = given["ligne"][i], given["etablissement"][i]
        if line and line == line:  # NaN: another rule's finding, no line given
            out[i] = int(line)
        elif decl_lines and siret in decl_lines:
            out[i] = decl_lines[siret]
    return out


def _refuses_file(frame: pd.DataFrame) -> bool:
    cat = catalogue()
    return any(cat[c].severity == BLOCKING and cat[c].scope == "fichier" for c in set(frame["code"]))


def _result(findings, sha: str, sender: str, path: Path, received: str, *, rows: int = 0, accepted=None,
            existing=None, details=None, held=False, refused=None, table=None, columns=None, people=None,
            declarations=None, members=None, quarantine=None, lines=None) -> Checked:
    frame = findings.frame() if isinstance(findings, Findings) else findings
    refused_file = _refuses_file(frame)
    decl_lines = {d.siret: d.line for d in declarations or []}
    at = lines if lines is not None else _finding_lines(frame, people, 1, decl_lines)
    out = to_rows(frame, people.line if people is not None else np.array([], dtype=np.int64), 1, columns or {},
                  table=table, members=members, at_lines=at)
    accepted = accepted if accepted is not None and not refused_file else pd.DataFrame()
    n_ok = 0 if refused_file else rows - (refused if refused is not None else rows)
    status = _status(refused_file, rows, n_ok, held)
    record = FileRecord(sha, sender, path.name, path.stat().st_size, received, status, rows, n_ok, rows - n_ok,
                        int((out["gravite"] == "avertissement").sum()), details or {"format": "dsn"})
    return Checked(record, out, accepted, existing if existing is not None else pd.DataFrame(), quarantine)


class Dsn(Employees):
    name = "dsn"
    vocabulary = "mouvements"
    background_workbook = False  # a DSN has no correction workbook: the payroll software makes the file

    reader = staticmethod(lambda path, settings: read_dsn(path))
    checker = staticmethod(check_dsn)
    dry_check = Kind.dry_check  # a DSN is a full list: its checks use its accepted rows whole (no counts_only)

    def recognises(self, rows):
        return bool(rows) and bool(rows[0]) and is_dsn(str(rows[0][0]).encode("utf-8", "replace"))

    def record(self, conn, checked, now, previous=None):
        file_id, fields = super().record(conn, checked, now, previous)
        if checked.record.status in ("accepte", "accepte_partiellement"):
            store_dsn.record_months(conn, file_id, getattr(checked, "months", {}), now)
            store_dsn.record_ends(conn, file_id, getattr(checked, "ends", []))
        return file_id, fields

    def apply_nothing(self, checked):
        super().apply_nothing(checked)
        checked.months, checked.ends = {}, []


DSN = Dsn()
