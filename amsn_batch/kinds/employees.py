"""Employee files: movements (entries, exits, changes) or the full staff list at a date (its movements are
derived against the store), both in the `mouvements` vocabulary and checked by rules.employees. A full list
that would remove too many employees is held for staff to release or refuse (status en_attente)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import intake, logs
from ..config import Settings
from ..read import UnreadableFile, read_table
from ..read.headers import map_headers
from ..read.memory import give_back
from ..vocab import vocabulary
from ..rules.catalogue import Findings, catalogue, to_rows
from ..rules.employees import Context, validate
from ..rules.refusal import refused_unread, unreadable_file
from ..store import StoreError, registry
from ..store.employees import existing_employees, record_file
from ..store.ledger import FileRecord
from .base import Kind

BIG_FINDINGS = 100_000  # findings from which the memory their rows' making freed is given back at once

log = logging.getLogger("amsn_batch")


@dataclass
class Checked:
    """What the checks decided about one file, before anything is written."""

    record: FileRecord
    findings: pd.DataFrame  # ligne, colonne, valeur, code, gravite, message
    accepted: pd.DataFrame
    existing: pd.DataFrame
    quarantine_reason: str | None = None


def _status(refused_file: bool, rows: int, accepted: int, held: bool = False) -> str:
    if held and not refused_file:
        return "en_attente"
    if refused_file or accepted == 0:
        return "rejete"
    return "accepte" if accepted == rows else "accepte_partiellement"


def check_file(conn, path: Path, sender_code: str, settings: Settings, sha: str | None = None,
               name_problem: str | None = None, release: bool = False, unreadable: str | None = None,
               received: str | None = None, counts_only: bool = False) -> Checked:
    """Read and check one file against the registry and the store; writes nothing. `name_problem`: why the
    name as dropped cannot be used (the file is then refused without being read). `release`: staff released
    a held full list, so the exit threshold does not apply. `unreadable`: why the file is refused (quarantine)
    without being read. `received`: when the service received it (ISO timestamp; the present by default).
    `counts_only`: a dry run, whose accepted movements are only counted (Context.counts_only)."""
    sha = sha or intake.sha256(path)
    size = path.stat().st_size
    received = received or dt.datetime.now().isoformat(timespec="seconds")

    def result(findings: Findings, rows: int = 0, accepted=None, existing=None, lines=None, header_line=0,
               columns=None, details=None, quarantine=None, held=False, refused=None, table=None, members=None) -> Checked:
        frame = to_rows(findings.frame(), lines if lines is not None else np.array([], dtype=np.int64), header_line,
                        columns or {}, table=table, members=members)
        if len(frame) >= BIG_FINDINGS:
            give_back()  # what making a million findings' rows freed, before the store is written
        accepted = accepted if accepted is not None else pd.DataFrame()
        refused_file = findings.file_refused()
        if refused_file:
            accepted = pd.DataFrame()
        n_ok = 0 if refused_file else rows - (refused if refused is not None else rows)
        status = _status(refused_file, rows, n_ok, held)
        record = FileRecord(sha, sender_code, path.name, size, received, status, rows, n_ok, rows - n_ok,
                            int((frame["gravite"] == "avertissement").sum()), details or {})
        return Checked(record, frame, accepted, existing if existing is not None else pd.DataFrame(), quarantine)

    sender = registry.find_sender(conn, sender_code)
    refusal = refused_unread(sender_code, sender, name_problem=name_problem, unreadable=unreadable, size=size,
                             max_bytes=settings.limits.max_file_bytes)
    if refusal:
        return result(refusal.findings, quarantine=refusal.quarantine)
    vocab = vocabulary(EMPLOYEES.vocabulary)
    lim = settings.limits
    try:
        table = _read(path, settings)
        headers = map_headers(table.headers, vocab)
        establishments = registry.establishments(conn)
        adherents = sorted(sender.adherents) if sender.kind == "adherent" else sorted(
            set(establishments.values()) & set(sender.adherents))
        ctx = Context(
            sender, establishments,
            lookup=lambda nirs, staff: existing_employees(conn, adherents, nirs, staff),
            member_status=registry.member_statuses(conn),
            received=dt.date.fromisoformat(received[:10]),
            exit_threshold=float("inf") if release else settings.list_exit_threshold,
            max_cell_chars=lim.max_cell_chars,
            counts_only=counts_only,
        )
        outcome = validate(table, headers, ctx)
        give_back()  # the checks' working columns, before the store is written
        existing = outcome.existing
    except UnreadableFile as exc:
        refusal = unreadable_file(str(exc))
        return result(refusal.findings, quarantine=refusal.quarantine)
    except (StoreError, OSError):
        raise  # the store or the disk, not the file: the run stops and the file is taken again next time
    except Exception as exc:  # a parser or a check tripped on this file: refuse it, never stop the run
        log.error("lecture_impossible %s erreur=%s", logs.fields(expediteur=sender_code, empreinte=sha),
                  logs.quote(type(exc).__name__))
        refusal = unreadable_file("Le fichier n'a pas pu être lu : son contenu n'a pas la forme d'un tableau CSV ou "
                                  "d'un classeur Excel. Enregistrez-le à nouveau depuis votre tableur (CSV séparateur "
                                  "point-virgule, ou XLSX).")
        return result(refusal.findings, quarantine=refusal.quarantine)
    details = {"format": table.format, "ligne_entetes": table.header_line, "colonnes": table.headers, **table.details}
    if outcome.list_date:
        details["liste_au"] = outcome.list_date
    empty = outcome.rows == 0 and not headers.missing
    quarantine = catalogue()["FICHIER_VIDE"].message if empty else None
    return result(outcome.findings, outcome.rows, outcome.accepted, existing, table.lines, table.header_line,
                  headers.columns, details, quarantine=quarantine, held=outcome.held, refused=outcome.refused,
                  table=table, members=registry.sender_members(conn, sender, establishments))


def _read(path: Path, settings: Settings):
    lim = settings.limits
    return read_table(path, vocabulary(EMPLOYEES.vocabulary), lim.max_rows, lim.max_columns, lim.max_unzipped_bytes,
                      lim.max_zip_ratio, lim.max_read_bytes)


def _movement_counts(accepted: pd.DataFrame) -> dict[str, int]:
    """What the rows would be counted as once applied (`compte`: an exit-date correction is a modification)."""
    counts = accepted["compte"].value_counts() if len(accepted) else {}
    return {k: int(counts.get(k, 0)) for k in ("entree", "sortie", "modification")}


class Employees(Kind):
    name = "mouvements"
    vocabulary = "mouvements"
    background_workbook = True

    reader = staticmethod(_read)
    checker = staticmethod(check_file)

    def recognises(self, rows):
        return True  # the default kind: any file no other kind recognises

    def record(self, conn, checked, now, previous=None):
        rec = checked.record
        file_id, counts = record_file(conn, rec, checked.findings, checked.accepted, checked.existing, now, replaces=previous)
        return file_id, {"nom": rec.name, "statut": rec.status, "quarantaine": "oui" if checked.quarantine_reason else None,
                         "lignes": rec.rows, "acceptees": rec.accepted, "entrees": counts["entree"],
                         "sorties": counts["sortie"], "modifications": counts["modification"]}

    def dry_check(self, conn, path, sender, settings):
        return check_file(conn, path, sender, settings, counts_only=True)

    def planned(self, checked):
        c = _movement_counts(checked.accepted)
        return {"entries": c["entree"], "exits": c["sortie"], "changes": c["modification"]}

    def apply_nothing(self, checked):
        checked.accepted = pd.DataFrame()


EMPLOYEES = Employees()
