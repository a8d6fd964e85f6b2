"""What every kind of incoming file says about itself; the pipeline knows kinds only through this.

A kind is recognised from the first rows of a file (its header row), reads the file with its vocabulary (a
section of schemas/colonnes.toml), checks it (rules/, against the store as it is: nothing written), records
the outcome in one transaction (store/), and tells the acknowledgement what it adds (the movements a dry
run would apply).

The outcome of `check` has at least `record` (store.ledger.FileRecord), `findings` (a DataFrame: ligne,
colonne, valeur, code, gravite, message) and `quarantine_reason` (str or None); the rest is the kind's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

from ..config import Settings
from ..read import UnreadableFile
from ..store import Connection
from ..store.ledger import FileEntry, FileRecord


class Checked(Protocol):
    record: FileRecord
    quarantine_reason: str | None

    @property
    def findings(self) -> Any: ...  # pandas DataFrame


class Kind:
    """One kind of incoming file. Subclass it in a module of kinds/ and register an instance in kinds/__init__.py."""

    name: str = ""  # as in the logs
    vocabulary: str = ""  # section of schemas/colonnes.toml
    recorded_event: str = "applique"  # log event once recorded
    background_workbook: bool = False  # a big file's correction workbook may start while the store is written

    def recognises(self, rows: list[list[str]]) -> bool:
        """Whether the first rows of a file (cells as text) show this kind."""
        raise NotImplementedError

    # A kind may name its module's functions instead of overriding `read` and `check` (as staticmethod):
    reader: Callable[[Path, Settings], object] | None = None  # reader(path, settings), as `check` reads the file
    checker: Callable[..., Checked] | None = None  # checker(conn, path, sender, settings, sha, **the keywords of check)

    def read(self, path: Path, settings: Settings) -> None:
        """Read the file as `check` will, into the readers' cache (read.table): the pipeline does it alone, so
        that a run dying there (a reader's crash, memory exhausted) is told apart from one dying in the checks
        or later (claims.Claim.reading). By default the kind's `reader` on a file within the size limit, if it
        has one; a file it cannot read is left to `check`, which says why."""
        if self.reader is not None and path.stat().st_size <= settings.limits.max_file_bytes:
            try:
                self.reader(path, settings)
            except (UnreadableFile, UnicodeDecodeError):
                pass

    def check(self, conn: Connection, path: Path, sender: str, settings: Settings, sha: str | None = None, *,
              name_problem: str | None = None, release: bool = False, unreadable: str | None = None,
              received: str | None = None) -> Checked:
        """Read and check the file; writes nothing. `name_problem`: why the name as dropped cannot be used.
        `release`: staff released a held file. `unreadable`: why the file is refused without being read (the
        default kind only: see pipeline.process_claim). `received`: when the service received it (ISO timestamp,
        from the claim; the present for a file checked without being claimed), never the file's own dates.
        By default the kind's `checker`."""
        if self.checker is None:
            raise NotImplementedError
        return self.checker(conn, path, sender, settings, sha, name_problem=name_problem, release=release,
                            unreadable=unreadable, received=received)

    def examine_again(self, conn: Connection, known: FileEntry) -> bool:
        """Whether a file already in the ledger (same SHA-256) is examined again rather than called a duplicate."""
        return False

    def record(self, conn: Connection, checked: Checked, now: str, previous: int | None = None) -> tuple[int, dict]:
        """Write the outcome in one transaction; returns (file id, fields for the log line). `previous`: the
        ledger entry of the same file that this outcome supersedes (a released held list, a declaration
        examined again)."""
        raise NotImplementedError

    def dry_check(self, conn: Connection, path: Path, sender: str, settings: Settings) -> Checked:
        """The checks of a dry run (`valider`): as `check`, except that the accepted rows need hold no more
        than what `planned` reads of them. By default `check`."""
        return self.check(conn, path, sender, settings)

    def planned(self, checked: Checked) -> dict[str, int]:
        """What a dry run's acknowledgement adds to the rows: the movements it would apply, as keyword
        arguments of store.ledger.FileEntry.unrecorded (entries, exits, changes)."""
        return {}

    def apply_nothing(self, checked: Checked) -> None:
        """Staff refused the file: keep its findings, apply nothing of it."""
        raise NotImplementedError
