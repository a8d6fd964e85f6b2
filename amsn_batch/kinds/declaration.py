"""The annual headcount declaration (one file per adhérent and year, or a mandataire's for several): checked
against the registry, the campaign window and the store (billing.declarations), recorded as declaration
versions (store.declarations). A file refused only for arriving outside the campaign is examined again when
sent again, rather than called a duplicate."""

from __future__ import annotations

from ..billing.declarations import check_declaration
from ..read.headers import score_header_row
from ..vocab import normalize, vocabulary
from ..store.declarations import record_declaration, refused_for_window_only
from ..store.registry import find_sender
from .base import Kind


class Declaration(Kind):
    name = "declaration"
    vocabulary = "declaration"
    recorded_event = "declaration"

    def recognises(self, rows):
        """A header row naming the declared year, with more declaration fields than employee fields."""
        decl, moves = vocabulary(self.vocabulary), vocabulary("mouvements")
        for row in rows:
            keys = {decl.lookup.get(normalize(c)) for c in row}
            score = score_header_row(row, decl)
            if "annee" in keys and score >= 2 and score > score_header_row(row, moves):
                return True
        return False

    def check(self, conn, path, sender, settings, sha=None, *, name_problem=None, release=False, received=None):
        return check_declaration(conn, path, find_sender(conn, sender), sender, settings, sha, received, name_problem)

    def examine_again(self, conn, known):
        return refused_for_window_only(conn, known.id)

    def record(self, conn, checked, now, previous=None):
        file_id = record_declaration(conn, checked, now, previous)
        return file_id, {"statut": checked.record.status, "versions": len(checked.versions)}

    def apply_nothing(self, checked):
        checked.versions = []


DECLARATION = Declaration()
