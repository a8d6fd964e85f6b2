"""Visit requests from members (vocabulary `demande_visite`): an employee of the sender (or of a member that
mandated it), the visit wanted, the reason, the wished period, the convocation constraints. Checked and recorded
by appointments.requests; the accepted ones go to the planning team's file. `Request` serves the cancellation
requests too (kinds/cancellation.py)."""

from __future__ import annotations

from ..appointments.requests import VISIT, check_requests, write_planning_file
from ..read.headers import score_header_row
from ..store.appointments import record_requests
from ..vocab import normalize, vocabulary
from .base import Kind


class Request(Kind):
    recorded_event = "demandes_rdv"

    def __init__(self, vocabulary_name: str, marks: frozenset[str]) -> None:
        self.name = self.vocabulary = vocabulary_name
        self.marks = marks  # fields whose header shows this kind

    def recognises(self, rows):
        """A header row with one of the kind's own columns, naming more of its fields than employee fields."""
        own, moves = vocabulary(self.vocabulary), vocabulary("mouvements")
        return any(self.marks & {own.lookup.get(normalize(c)) for c in row}
                   and score_header_row(row, own) > score_header_row(row, moves) for row in rows)

    def check(self, conn, path, sender, settings, sha=None, *, name_problem=None, release=False, received=None):
        return check_requests(conn, path, sender, settings, self.vocabulary, sha, name_problem, received)

    def record(self, conn, checked, now, previous=None):
        rec = checked.record
        file_id = record_requests(conn, rec, checked.findings,
                                  checked.requests, now)
        accepted = sum(r["decision"] == "acceptee" for r in checked.requests)
        if accepted:
            write_planning_file(conn, checked.folder, rec.received[:10])
        return file_id, {"nom": rec.name, "statut": rec.status, "acceptees": accepted,
                         "refusees": len(checked.requests) - accepted}

    def apply_nothing(self, checked):
        checked.requests = []


VISIT_REQUEST = Request(VISIT, frozenset({"type_demande"}))
