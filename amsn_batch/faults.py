"""Fault injection for the crash tests: the process kills itself at a named point of a run.

Test-only. `AMSN_BATCH_PANNE=<point>` kills the process (SIGKILL, as a power cut or the OOM killer would)
the first time the point is reached; `<point>:<n>` the n-th time; `<point>:<n>:stop` stops it (SIGSTOP)
instead, so that a test can act while the run holds its lock, then let it go on with SIGCONT.
Unset (production), `point()` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "AMSN_BATCH_PANNE"

# Every point a run passes through, in order; the crash tests pick from this list.
POINTS = (
    "verrou_pris",        # lock taken
    "traitement_ouvert",  # run recorded in the store
    "depot_repere",       # inbox scanned
    "prise_notee",        # claim record written in travail/, file still in the inbox
    "prise_faite",        # file moved into travail/
    "empreinte",          # file hashed
    "lecture",            # file marked as being read (claims.Claim.reading), not read yet
    "controle_fait",      # file read and checked, nothing written yet
    "tx_fichier",         # inside the file's transaction: ledger entry written
    "tx_mouvements",      # inside the file's transaction: movements written, not committed
    "applique",           # transaction committed
    "accuse_ecrit",       # acknowledgement written to the outbox
    "destination_notee",  # archive or quarantine destination recorded
    "raison_ecrite",      # quarantine reason written
    "archive",            # original moved to the archive or the quarantine
    "termine",            # ledger entry marked done
    "nettoye",            # claim folder removed
    "doublon_accuse",     # duplicate: acknowledgement written
    "doublon_archive",    # duplicate: original archived
    "compte",             # run counters updated for one file
    "fin",                # run recorded as finished, lock still held
)
# Points of the child process that writes a big file's correction workbook (reports.rejects.Background):
# killing it there leaves the run to write the workbook itself.
CHILD_POINTS = ("classeur_rejets",)
# Points of `facturer`, passed once per piece issued (so `<point>:2` is the second piece).
BILLING_POINTS = (
    "facturer-avant-commit",  # piece written, its transaction not committed
    "facturer-apres-commit",  # piece committed, its documents not written yet
)


def _parse(spec: str | None) -> tuple[str, int, str] | None:
    if not spec:
        return None
    parts = spec.split(":")
    name = parts[0]
    n = int(parts[1]) if len(parts) > 1 and parts[1] else 1
    action = parts[2] if len(parts) > 2 else "kill"
    return name, n, action


_SPEC = _parse(os.environ.get(ENV))
_seen: dict[str, int] = {}


def point(name: str) -> None:
    """Mark a point of the run; kills or stops the process when the test asks for this point."""
    if _SPEC is None or _SPEC[0] != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] != _SPEC[1]:
        return
    if _SPEC[2] == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
        return
    os.kill(os.getpid(), signal.SIGKILL)
