"""The member's administrative information (fiche adhérent): the VAT number, the billing and e-invoicing
address, contacts by type, a change of situation with its date; sent by the adhérent itself or by a
mandataire with its mandate. Checked by rules.fiche against the sender's own adhérents, applied with history
by store.fiche; a new SIRET or company name goes to the billing team's queue instead of being applied."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import intake
from ..config import Settings
from ..read import UnreadableFile, read_table
from ..read.headers import score_header_row
from ..rules import fiche as rules
from ..rules.catalogue import Findings, Members, to_rows
from ..rules.refusal import refused_unread, unreadable_file
from ..store import registry
from ..store.fiche import record_fiche
from ..store.ledger import FileRecord
from ..vocab import normalize, vocabulary
from .base import Kind

# Fields only a fiche has (an e-mail or a phone column may be in an employee export too): a header row naming
# one of them, no NIR, and more fiche fields than employee ones is a fiche.
OWN_FIELDS = {"tva", "email_facturation", "situation", "date_situation", "type_contact"}


@dataclass
class CheckedFiche:
    record: FileRecord
    findings: pd.DataFrame
    changes: list[rules.Change] = field(default_factory=list)
    quarantine_reason: str | None = None


def _status(refused_file: bool, rows: int, accepted: int) -> str:
    if refused_file or accepted == 0:
        return "rejete"
    return "accepte" if accepted == rows else "accepte_partiellement"


def check_fiche(conn, path: Path, sender_code: str, settings: Settings, sha: str | None = None,
                received: str | None = None, name_problem: str | None = None) -> CheckedFiche:
    """Read and check a fiche adhérent against the registry; writes nothing. `name_problem`: why the name as
    dropped cannot be used (the file is then refused without being read)."""
    sha = sha or intake.sha256(path)
    received = received or dt.datetime.now().isoformat(timespec="seconds")

    def done(f: Findings, checked: rules.FicheCheck | None = None, table=None, quarantine=None,
             members: Members | None = None) -> CheckedFiche:
        checked = checked or rules.FicheCheck(f, {}, {"genre": "fiche_adherent"})
        lines = table.lines if table is not None else np.array([], dtype=np.int64)
        frame = to_rows(f.frame(), lines, table.header_line if table is not None else 0, checked.columns,
                        table=table, members=members)
        refused_file = f.file_refused()
        accepted = 0 if refused_file else checked.accepted
        record = FileRecord(sha, sender_code, path.name, path.stat().st_size, received,
                            _status(refused_file, checked.rows, accepted), checked.rows, accepted, checked.rows - accepted,
                            int((frame["gravite"] == "avertissement").sum()), checked.details)
        return CheckedFiche(record, frame, [] if refused_file else checked.changes, quarantine)

    sender = registry.find_sender(conn, sender_code)
    refusal = refused_unread(sender_code, sender, name_problem=name_problem)
    if refusal:
        return done(refusal.findings, quarantine=refusal.quarantine)
    lim = settings.limits
    try:
        table = read_table(path, vocabulary(rules.VOCABULARY), lim.max_rows, lim.max_columns, lim.max_unzipped_bytes,
                           lim.max_zip_ratio, lim.max_read_bytes)
    except UnreadableFile as exc:
        refusal = unreadable_file(str(exc))
        return done(refusal.findings, quarantine=refusal.quarantine)
    own = registry.members(conn, sorted(sender.adherents))
    members = {m.numero: rules.MemberInfo(m.numero, m.raison_sociale or "", m.tva or "",
                                          tuple(e.siret for e in registry.establishment_list(conn, m.numero)))
               for m in own}
    ctx = rules.FicheContext(sender, members, dt.date.fromisoformat(received[:10]), lim.max_cell_chars)
    checked = rules.check(table, ctx)
    names = Members({}, {m.numero: m.raison_sociale for m in members.values()},
                    sender.code if sender.kind == "adherent" else "")
    return done(checked.findings, checked, table, members=names)


class Fiche(Kind):
    name = "fiche_adherent"
    vocabulary = rules.VOCABULARY
    recorded_event = "fiche_adherent"

    def recognises(self, rows):
        fiche, moves = vocabulary(self.vocabulary), vocabulary("mouvements")
        for row in rows:
            keys = {fiche.lookup.get(normalize(c)) for c in row}
            if (keys & OWN_FIELDS and "nir" not in {moves.lookup.get(normalize(c)) for c in row}
                    and score_header_row(row, fiche) > score_header_row(row, moves)):
                return True
        return False

    def check(self, conn, path, sender, settings, sha=None, *, name_problem=None, release=False, unreadable=None,
              received=None):
        return check_fiche(conn, path, sender, settings, sha, received, name_problem)

    def record(self, conn, checked, now, previous=None):
        file_id, counts = record_fiche(conn, checked, now)
        return file_id, {"nom": checked.record.name, "statut": checked.record.status, **counts}

    def apply_nothing(self, checked):
        checked.changes = []


FICHE = Fiche()
