"""One run: every ready file goes intake → read → rules → store → acknowledgement → archive.

Only this module knows the order of the stages. A file is known by its SHA-256; its ledger entry, its
findings and its movements are written in one transaction (`etape = applique`); the acknowledgement and
the move to the archive come after, and the entry is then marked `termine`. A run stopped in between
leaves the file in the inbox with an `applique` entry: the next run writes the acknowledgement from the
store and archives it, without applying anything twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import intake
from .config import Settings
from .read import UnreadableFile, read_table
from .read.headers import map_headers, vocabulary
from .read.kind import DECLARATION, detect_kind
from .reports.ack import Ack, write_ack
from .reports.contacts import contacts_for
from .rules.catalogue import Findings, to_rows
from .rules.employees import Context, Sender, validate
from .store import connect
from .store.employees import FileRecord, existing_employees, present_elsewhere, record_file

log = logging.getLogger("amsn_batch")


@dataclass
class Checked:
    """What the checks decided about one file, before anything is written."""

    record: FileRecord
    findings: pd.DataFrame  # ligne, colonne, valeur, code, gravite, message
    accepted: pd.DataFrame
    existing: pd.DataFrame
    quarantine_reason: str | None = None


@dataclass
class FileResult:
    sender: str
    name: str
    sha256: str
    status: str
    ack: list[Path] = field(default_factory=list)
    kept_at: Path | None = None


def find_sender(conn, code: str) -> Sender | None:
    if conn.execute("SELECT 1 FROM adherents WHERE numero=?", (code,)).fetchone():
        return Sender(code, "adherent", frozenset({code}))
    if conn.execute("SELECT 1 FROM mandataires WHERE code=?", (code,)).fetchone():
        rows = conn.execute("SELECT adherent FROM mandats WHERE mandataire=?", (code,)).fetchall()
        return Sender(code, "mandataire", frozenset(r[0] for r in rows))
    return None


def _status(refused_file: bool, rows: int, accepted: int, held: bool = False) -> str:
    if held and not refused_file:
        return "en_attente"
    if refused_file or accepted == 0:
        return "rejete"
    return "accepte" if accepted == rows else "accepte_partiellement"


def check_file(conn, path: Path, sender_code: str, settings: Settings, sha: str | None = None,
               release: bool = False) -> Checked:
    """Read and check one file against the registry and the store; writes nothing.
    `release`: staff released a held full list, so the exit threshold does not apply."""
    sha = sha or intake.sha256(path)
    size = path.stat().st_size
    received = intake.received_at(path)

    def result(findings: Findings, rows: int = 0, accepted=None, existing=None, lines=None, header_line=0,
               columns=None, details=None, quarantine=None, held=False, refused=None) -> Checked:
        frame = to_rows(findings.frame(), lines if lines is not None else np.array([], dtype=np.int64), header_line, columns or {})
        accepted = accepted if accepted is not None else pd.DataFrame()
        refused_file = findings.file_refused()
        if refused_file:
            accepted = pd.DataFrame()
        n_ok = 0 if refused_file else rows - (refused if refused is not None else rows)
        status = _status(refused_file, rows, n_ok, held)
        record = FileRecord(sha, sender_code, path.name, size, received, status, rows, n_ok, rows - n_ok,
                            int((frame["gravite"] == "avertissement").sum()), details or {})
        return Checked(record, frame, accepted, existing if existing is not None else pd.DataFrame(), quarantine)

    sender = find_sender(conn, sender_code)
    if sender is None:
        f = Findings()
        f.add_file("EXPEDITEUR_INCONNU", expediteur=sender_code)
        return result(f)
    if size > settings.limits.max_file_bytes:
        reason = (f"Le fichier pèse {size / 1048576:.0f} Mo, au-delà de la limite de "
                  f"{settings.limits.max_file_bytes / 1048576:.0f} Mo. Découpez-le en plusieurs fichiers.")
        f = Findings()
        f.add_file("FICHIER_ILLISIBLE", raison=reason)
        return result(f, quarantine=reason)
    vocab = vocabulary("mouvements")
    try:
        table = read_table(path, vocab, settings.limits.max_rows, settings.limits.max_columns)
    except UnreadableFile as exc:
        f = Findings()
        f.add_file("FICHIER_ILLISIBLE", raison=str(exc))
        return result(f, quarantine=str(exc))
    headers = map_headers(table.headers, vocab)
    establishments = dict(conn.execute("SELECT siret, adherent FROM etablissements").fetchall())
    adherents = sorted(sender.adherents) if sender.kind == "adherent" else sorted(
        set(establishments.values()) & set(sender.adherents))
    existing = existing_employees(conn, adherents)
    ctx = Context(
        sender, establishments, existing,
        elsewhere=present_elsewhere(conn, adherents),
        member_status=dict(conn.execute("SELECT numero, statut FROM adherents").fetchall()),
        received=dt.date.fromisoformat(received[:10]),
        exit_threshold=float("inf") if release else settings.list_exit_threshold,
    )
    outcome = validate(table, headers, ctx)
    details = {"format": table.format, "ligne_entetes": table.header_line, "colonnes": table.headers, **table.details}
    if outcome.list_date:
        details["liste_au"] = outcome.list_date
    return result(outcome.findings, outcome.rows, outcome.accepted, existing, table.lines, table.header_line,
                  headers.columns, details, held=outcome.held, refused=outcome.refused)


def _findings_dicts(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


def _ack_from_store(conn, file_id: int, status_override: str | None = None, initial: dict | None = None) -> tuple[Ack, list[dict]]:
    cols = ["nom", "sha256", "recu_le", "statut", "expediteur", "lignes", "lignes_acceptees", "lignes_rejetees",
            "entrees", "sorties", "modifications", "avertissements"]
    row = dict(zip(cols, conn.execute(f"SELECT {', '.join(cols)} FROM fichiers WHERE id=?", (file_id,)).fetchone()))
    row["fichier"] = row.pop("nom")
    if status_override:
        row["statut"] = status_override
    ack = Ack(**row, traitement_initial=initial)
    findings = [dict(zip(("ligne", "colonne", "valeur", "code", "gravite", "message"), r)) for r in conn.execute(
        "SELECT ligne, colonne, valeur, code, gravite, message FROM constats WHERE fichier_id=? ORDER BY rowid", (file_id,))]
    return ack, findings


def finish(conn, settings: Settings, file_id: int, dropped: intake.Dropped, now: dt.datetime) -> FileResult:
    """Acknowledge and archive a file whose outcome is in the store; mark it done."""
    sha, quarantined, status = conn.execute(
        "SELECT sha256, json_extract(details, '$.quarantaine'), statut FROM fichiers WHERE id=?", (file_id,)).fetchone()
    ack, findings = _ack_from_store(conn, file_id)
    paths = write_ack(settings.paths.outbox / dropped.sender, ack, findings, settings.limits.findings_per_code,
                      contacts=contacts_for(conn, settings, dropped.sender), source=dropped.path, limits=settings.limits)
    stage = "termine"
    if quarantined:
        dest = intake.move_to(dropped.path, settings.paths.quarantine / dropped.sender, sha[:12])
        reason = next((f["message"] for f in findings if f["code"] == "FICHIER_ILLISIBLE"), "")
        (dest.parent / f"{dest.name}.raison.txt").write_text(reason + "\n", encoding="utf-8")
    elif status == "en_attente":  # kept aside until staff release it (amsn-batch liste valider)
        dest = intake.move_to(dropped.path, held_folder(settings, dropped.sender), sha[:12])
        stage = "en_attente"
    else:
        dest = intake.move_to(dropped.path, intake.archive_folder(settings.paths.archive, dropped.sender, now), sha[:12])
    conn.execute("UPDATE fichiers SET etape=?, traite_le=?, archive=? WHERE id=?",
                 (stage, now.isoformat(timespec="seconds"), str(dest), file_id))
    return FileResult(dropped.sender, dropped.name, sha, status, paths, dest)


def held_folder(settings: Settings, sender: str) -> Path:
    return settings.paths.archive / sender / "en_attente"


def process(db, settings: Settings, dropped: intake.Dropped, now: dt.datetime) -> FileResult:
    conn = db.conn
    sha = intake.sha256(dropped.path)
    known = conn.execute("SELECT id, etape, traite_le, statut, lignes, lignes_acceptees, archive FROM fichiers WHERE sha256=?",
                         (sha,)).fetchone()
    if known and (known[1] == "applique" or (known[1] == "en_attente" and known[6] is None)):
        # a previous run stopped after writing the outcome to the store: finish the job
        log.info("reprise fichier=%s expediteur=%s", sha[:12], dropped.sender)
        return finish(conn, settings, known[0], dropped, now)
    if detect_kind(dropped.path, settings.limits.max_file_bytes) == DECLARATION:
        return _process_declaration(conn, settings, dropped, now, sha, known)
    if known:
        return _duplicate(conn, settings, known, dropped, now, sha)
    checked = check_file(conn, dropped.path, dropped.sender, settings, sha)
    if checked.quarantine_reason:
        checked.record.details["quarantaine"] = True
    findings = list(checked.findings.itertuples(index=False, name=None))
    file_id, counts = record_file(conn, checked.record, findings, checked.accepted, checked.existing,
                                  now.isoformat(timespec="seconds"))
    log.info("applique fichier=%s expediteur=%s statut=%s lignes=%d acceptees=%d entrees=%d sorties=%d modifications=%d",
             sha[:12], dropped.sender, checked.record.status, checked.record.rows, checked.record.accepted,
             counts["entree"], counts["sortie"], counts["modification"])
    return finish(conn, settings, file_id, dropped, now)


def _process_declaration(conn, settings: Settings, dropped: intake.Dropped, now: dt.datetime, sha: str, known) -> FileResult:
    """An annual headcount declaration: its own checks and store writes, the same acknowledgement. The same
    file refused only for arriving outside the campaign is examined again (its ledger entry is reused)."""
    from .billing.declarations import check_declaration
    from .store.declarations import record_declaration, refused_for_window_only

    if known and not refused_for_window_only(conn, known[0]):
        return _duplicate(conn, settings, known, dropped, now, sha)
    checked = check_declaration(conn, dropped.path, find_sender(conn, dropped.sender), dropped.sender, settings, sha)
    file_id = record_declaration(conn, checked, now.isoformat(timespec="seconds"), known[0] if known else None)
    log.info("declaration fichier=%s expediteur=%s statut=%s versions=%s", sha[:12], dropped.sender,
             checked.record.status, [(v.adherent, v.state, v.total) for v in checked.versions])
    return finish(conn, settings, file_id, dropped, now)


def _duplicate(conn, settings: Settings, known, dropped: intake.Dropped, now: dt.datetime, sha: str) -> FileResult:
    file_id, _, done_at, status, rows, accepted, _ = known
    initial = {"traite_le": done_at, "statut": status, "lignes": rows, "lignes_acceptees": accepted}
    ack, _ = _ack_from_store(conn, file_id, "deja_traite", initial)
    ack.fichier = dropped.name
    ack.expediteur = dropped.sender
    ack.recu_le = intake.received_at(dropped.path)
    for k in ("lignes_acceptees", "lignes_rejetees", "entrees", "sorties", "modifications", "avertissements"):
        setattr(ack, k, 0)
    paths = write_ack(settings.paths.outbox / dropped.sender, ack, [], settings.limits.findings_per_code,
                      contacts=contacts_for(conn, settings, dropped.sender))
    dest = intake.move_to(dropped.path, intake.archive_folder(settings.paths.archive, dropped.sender, now), f"{sha[:12]}-{now:%Y%m%d%H%M%S}")
    log.info("deja_traite fichier=%s expediteur=%s", sha[:12], dropped.sender)
    return FileResult(dropped.sender, dropped.name, sha, "deja_traite", paths, dest)


def run(settings: Settings, now: dt.datetime | None = None) -> list[FileResult]:
    """Process every ready file of the inbox. Returns one result per file."""
    settings.ensure_dirs()
    db = connect(settings.paths.database)
    results = []
    try:
        for dropped in intake.scan(settings.paths.inbox):
            results.append(process(db, settings, dropped, now or dt.datetime.now()))
    finally:
        db.conn.close()
    return results


def release(settings: Settings, ref: str, now: dt.datetime | None = None) -> FileResult:
    """Staff release a held full list (by file name or the start of its SHA-256): it is checked again
    against the store as it is now, without the exit threshold, applied, acknowledged and archived."""
    now = now or dt.datetime.now()
    db = connect(settings.paths.database)
    conn = db.conn
    try:
        rows = conn.execute("SELECT id, sha256, expediteur, nom, archive FROM fichiers WHERE etape='en_attente' "
                            "AND archive IS NOT NULL AND (nom=? OR sha256 LIKE ?)", (ref, f"{ref}%")).fetchall()
        if len(rows) != 1:
            held = conn.execute("SELECT nom, substr(sha256, 1, 12), expediteur FROM fichiers WHERE etape='en_attente'").fetchall()
            listing = "; ".join(f"{n} ({h}, expéditeur {e})" for n, h, e in held) or "aucune"
            what = "Plusieurs listes retenues correspondent à" if rows else "Aucune liste retenue ne correspond à"
            raise ReleaseError(f"{what} « {ref} ». Listes retenues : {listing}.")
        file_id, sha, sender, _, kept = rows[0]
        dropped = intake.Dropped(sender, Path(kept))
        checked = check_file(conn, dropped.path, sender, settings, sha, release=True)
        checked.record.details["liberee_le"] = now.isoformat(timespec="seconds")
        findings = list(checked.findings.itertuples(index=False, name=None))
        new_id, _ = record_file(conn, checked.record, findings, checked.accepted, checked.existing,
                                now.isoformat(timespec="seconds"), replaces=file_id)
        log.info("liberee fichier=%s expediteur=%s statut=%s", sha[:12], sender, checked.record.status)
        return finish(conn, settings, new_id, dropped, now)
    finally:
        conn.close()


class ReleaseError(Exception):
    """No single held list matches what staff asked to release (French message)."""


def dry_run(settings: Settings, path: Path, sender: str, outdir: Path) -> tuple[Checked, list[Path]]:
    """The checks of `traiter` on one file, acknowledgement written to outdir; the store is not changed."""
    db = connect(settings.paths.database)
    try:
        if detect_kind(path, settings.limits.max_file_bytes) == DECLARATION:
            from .billing.declarations import check_declaration

            checked = check_declaration(db.conn, path, find_sender(db.conn, sender), sender, settings)
        else:
            checked = check_file(db.conn, path, sender, settings)
        contacts = contacts_for(db.conn, settings, sender)
    finally:
        db.conn.close()
    rec = checked.record
    planned = _planned(checked.accepted) if isinstance(checked, Checked) else {}
    ack = Ack(fichier=path.name, sha256=rec.sha256, recu_le=rec.received, statut=rec.status, expediteur=sender,
              lignes=rec.rows, lignes_acceptees=rec.accepted, lignes_rejetees=rec.refused,
              avertissements=rec.warnings, **planned)
    paths = write_ack(outdir, ack, _findings_dicts(checked.findings), settings.limits.findings_per_code,
                      contacts=contacts, source=path, limits=settings.limits, dry_run=True)
    return checked, paths


def _planned(accepted: pd.DataFrame) -> dict[str, int]:
    counts = accepted["action"].value_counts() if len(accepted) else {}
    return {"entrees": int(counts.get("entree", 0)), "sorties": int(counts.get("sortie", 0)),
            "modifications": int(counts.get("modification", 0))}
