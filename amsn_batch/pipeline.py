"""One run: every ready file goes intake → read → rules → store → acknowledgement → archive.

Only this module knows the order of the stages. A file is known by its SHA-256; its ledger entry, its
findings and its movements are written in one transaction (`etape = applique`); the acknowledgement and
the move to the archive come after, and the entry is then marked `termine`.

One run at a time (lock.py) on SQLite; on PostgreSQL, runs side by side, each holding the groups of related
senders whose files it takes (see `run`). A ready file is first claimed: moved from inbox/<sender>/ into
travail/<sender>/<claim id>/ (claims.py), and the claim id is kept in its ledger entry. A run stopped at
any instant (SIGKILL, reboot) leaves each file in one known place; the next run starts by finishing the
claims left in travail/: a file with an `applique` entry gets its acknowledgement (rebuilt from the store)
and is archived, a file without one is processed from the start. Nothing is applied twice or in half.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import nullcontext
from typing import Callable

import numpy as np
import pandas as pd

from . import claims, faults, intake, kinds, logs, mail
from .config import Settings, is_database_url
from .lock import LOCK_NAME, AlreadyRunning, hold  # noqa: F401  (AlreadyRunning: raised by run())
from .reports import rejects
from .reports.ack import Ack, ack_base, entry_base, help_email, write_ack, written
from .reports.contacts import contacts_for
from .formats import write_atomic
from .vocab import BLOCKING
from .read import forget_tables
from .rules.catalogue import Findings, to_rows
from .store import connect, ledger, take_sender, transaction
from .store import registry as registry_store

log = logging.getLogger("amsn_batch")


@dataclass
class FileResult:
    sender: str
    name: str
    sha256: str
    status: str
    ack: list[Path] = field(default_factory=list)
    kept_at: Path | None = None
    quarantined: bool = False
    resumed: bool = False  # applied by a run that was stopped, finished by this one


STAGES = ("lecture", "contrôle", "enregistrement", "accusé de réception", "terminé")


@dataclass(frozen=True)
class Step:
    """Where a run is, for a progress display (the command line's business; this module prints nothing): the
    file being processed, its rank among the files this run knows of so far, and the stage it enters (STAGES)."""

    sender: str
    name: str
    number: int
    total: int
    stage: str

    @property
    def fraction(self) -> float:
        """How far the run is, from 0 to 1, counting the files known so far and this one's stages."""
        return (self.number - 1 + STAGES.index(self.stage) / (len(STAGES) - 1)) / max(1, self.total)


def _quiet(stage: str) -> None:
    """No one watches the stages (cron, tests)."""


def _findings_dicts(frame: pd.DataFrame) -> list[dict]:
    cols = list(frame.columns)  # to_dict("records") is several times slower on ten thousand findings
    return [dict(zip(cols, row)) for row in zip(*(frame[c].tolist() for c in cols))]


QUARANTINE_CODES = ("NOM_FICHIER_INVALIDE", "FICHIER_ILLISIBLE", "FICHIER_VIDE")


def _answer(folder: Path, ack: Ack, settings: Settings, contacts, source: Path | None = None,
            prepared: rejects.Background | None = None, dry_run: bool = False) -> list[Path]:
    """Write a file's acknowledgement (and correction workbook, read from `source`) into `folder`."""
    paths = write_ack(folder, ack, settings.limits.findings_per_code, contacts=contacts,
                      source=source if source is not None and source.exists() else None, limits=settings.limits,
                      prepared=prepared, dry_run=dry_run)
    if dry_run:
        return paths
    intake.fsync_dir(paths[0].parent)  # the renames too are on disk before the ledger says done
    if folder.is_symlink():  # wired to the sender's SFTP retour/ folder: readable by the sender's group
        for p in paths:
            try:
                os.chmod(p, 0o640)
            except OSError:
                pass
    return paths


def finish(conn, settings: Settings, file_id: int, claim: claims.Claim, now: dt.datetime,
           early: rejects.Background | None = None) -> FileResult:
    """Acknowledge and archive a claimed file whose outcome is in the store, then mark it done. `early`: its
    correction workbook, being written by another process since the checks.

    Every step can be done again after a crash: the acknowledgement is rebuilt from the store, the
    destination is recorded before the original moves, and the move leaves a whole file somewhere."""
    entry = ledger.entry(conn, file_id)
    if not entry.details.get("accuse"):  # its own answer, named once: never another file's, never renamed
        entry.details["accuse"] = ack_base(claim.safe_name, claim.received, claim.id)
        ledger.set_ack_base(conn, file_id, entry.details["accuse"])
    sha, quarantined, status, archived = entry.sha256, entry.quarantined, entry.status, entry.archive
    ack = Ack.recorded(conn, entry, settings.limits.findings_per_code, settings.limits.max_rejects_rows)
    original = claim.data if claim.data.exists() else Path(archived) if archived else None  # moved by a stopped run
    outdir = settings.paths.outbox / claim.sender
    needless = rejects.covered(conn, outdir, entry) if not quarantined else []  # earlier workbooks now all accepted
    ack.classeurs_retires = [p.name for p in needless]
    paths = _answer(outdir, ack, settings, contacts_for(conn, settings, claim.sender), source=original, prepared=early)
    rejects.retire(needless)  # after the answer that says so: a stopped run finds them still there, and says it again
    log.debug("accuse_ecrit %s", logs.fields(expediteur=claim.sender, empreinte=sha, dossier=paths[0].parent))
    faults.point("accuse_ecrit")
    held = status == "en_attente"  # kept aside until staff release it (amsn-batch liste valider)
    if archived is None:
        folder = (settings.paths.quarantine / claim.sender if quarantined
                  else held_folder(settings, claim.sender) if held
                  else intake.archive_folder(settings.paths.archive, claim.sender, now))
        dest = intake.free_name(folder, claim.safe_name, sha[:12])
        ledger.set_archive(conn, file_id, dest)
        faults.point("destination_notee")
    else:
        dest = Path(archived)
    if quarantined:
        reason = next((f["message"] for f in ack.findings if f["code"] in QUARANTINE_CODES), "")
        write_atomic(dest.parent / f"{dest.name}.raison.txt", reason + "\n")
        faults.point("raison_ecrite")
    if claim.data.exists():
        intake.move_durably(claim.data, dest)
    elif not dest.exists():
        log.error("original_introuvable %s", logs.fields(expediteur=claim.sender, empreinte=sha, depot=claim.id))
    log.debug("archive %s", logs.fields(expediteur=claim.sender, empreinte=sha, destination=dest))
    faults.point("archive")
    ledger.set_stage(conn, file_id, "en_attente" if held else "termine", now.isoformat(timespec="seconds"))
    faults.point("termine")
    claim.remove()
    faults.point("nettoye")
    return FileResult(claim.sender, claim.safe_name, sha, status, paths, dest, quarantined=bool(quarantined))


def held_folder(settings: Settings, sender: str) -> Path:
    return settings.paths.archive / sender / "en_attente"


def process_claim(conn, settings: Settings, claim: claims.Claim, now: dt.datetime, run_id: int | None = None,
                  stage: Callable[[str], None] = _quiet) -> FileResult | None:
    """Send one claimed file through the stages, or finish what a stopped run left of it; `stage` is told each
    stage (STAGES) as it starts. None when there is nothing to do now (already done, or the file is still settling)."""
    if not claim.data.exists():  # moved to the archive already: finish by the ledger entry, if any
        left = ledger.entry_by_claim(conn, claim.id)
        if left and left.stage in ("applique", "en_attente"):
            log.info("reprise %s", logs.fields(expediteur=claim.sender, empreinte=left.sha256, depot=claim.id))
            stage("accusé de réception")
            result = finish(conn, settings, left.id, claim, now)
            result.resumed = True
            return result
        claim.remove()
        return None
    if claim.changed():  # its writer still had it open when it was claimed: wait until it settles
        claim.refresh()
        log.warning("depot_encore_modifie %s", logs.fields(expediteur=claim.sender, nom=claim.safe_name, depot=claim.id))
        return None
    if claim.record.get("revu_le") and time.time() - claim.settled_since() < settings.intake.stable_seconds:
        return None
    stage("lecture")
    read = intake.Seen.of(claim.data)  # the file as hashed and read: any later write shows (ctime too)
    sha = intake.sha256(claim.data)
    faults.point("empreinte")
    known = ledger.entry_by_sha(conn, sha)
    if known and (known.claim_id == claim.id or (known.claim_id is None and known.stage == "applique")):
        log.info("reprise %s", logs.fields(expediteur=claim.sender, empreinte=sha, depot=claim.id))
        stage("accusé de réception")
        result = finish(conn, settings, known.id, claim, now)
        result.resumed = True
        return result
    if claim.interrupted_reads >= claims.MAX_READS:  # its reading stopped the run every time: not read again
        log.error("lecture_abandonnee %s", logs.fields(expediteur=claim.sender, empreinte=sha, depot=claim.id,
                                                      tentatives=claim.interrupted_reads))
        kind = kinds.DEFAULT
        stage("contrôle")
        checked = kind.check(conn, claim.data, claim.sender, settings, sha, unreadable=_interrupted_reason(claim),
                             received=claim.received)
    else:
        with claim.reading():  # the reading only: a run that dies here is counted against the file
            faults.point("lecture")
            kind = kinds.detect(claim.data, settings.limits)
            duplicate = known is not None and not kind.examine_again(conn, known)
            if not duplicate:
                kind.read(claim.data, settings)
        if duplicate:
            stage("accusé de réception")
            return _duplicate(conn, settings, known, claim, now, sha)
        stage("contrôle")
        checked = kind.check(conn, claim.data, claim.sender, settings, sha, name_problem=intake.name_problem(claim.name),
                             received=claim.received)
    faults.point("controle_fait")
    rec = checked.record
    rec.details["depot"] = claim.id
    if run_id is not None:
        rec.details["traitement"] = run_id
    if claim.name != claim.safe_name:
        rec.details["nom_depose"] = logs.quote(claim.name)
    if checked.quarantine_reason:
        rec.details["quarantaine"] = True
    early = _rejects_in_background(conn, settings, claim, kind, checked)
    if early is not None or not rec.refused:  # the workbook's own process has the file, or there is no workbook:
        forget_tables()  # nothing in this process reads the file again, its table need not stay in memory
    try:
        stage("enregistrement")
        try:
            with transaction(conn):  # the kind's writes, then a last look at the file before COMMIT
                file_id, fields = kind.record(conn, checked, now.isoformat(timespec="seconds"), known.id if known else None)
                if _changed_since(claim, read):
                    raise ChangedWhileRead
        except ChangedWhileRead:  # rolled back: taken again once it has settled, whole
            claim.refresh()
            log.warning("depot_modifie_pendant_traitement %s", logs.fields(expediteur=claim.sender, nom=claim.safe_name,
                                                                         depot=claim.id))
            return None
        faults.point("applique")
        if _changed_since(claim, read):  # after the commit: the sender is told to resend, staff are alerted
            _changed_after_processing(conn, claim, file_id, sha)
        log.info("%s %s", kind.recorded_event, logs.fields(expediteur=claim.sender, empreinte=sha, **fields))
        stage("accusé de réception")
        return finish(conn, settings, file_id, claim, now, early)
    finally:
        if early is not None:
            early.cancel()


def _interrupted_reason(claim: claims.Claim) -> str:
    return (f"La lecture de ce fichier a interrompu le traitement à {claim.interrupted_reads} reprises (le "
            "programme s'est arrêté pendant qu'il le lisait, par exemple faute de mémoire) : il est mis de côté "
            "sans être lu à nouveau, pour ne pas bloquer les autres fichiers. Vérifiez qu'il s'ouvre normalement "
            "dans votre tableur, supprimez les lignes et colonnes vides au-delà des données, enregistrez-le à "
            "nouveau (en CSV séparateur point-virgule de préférence) et déposez-le à nouveau.")


class ChangedWhileRead(Exception):
    """The claimed file changed after it was hashed and read (its writer still had it open)."""


def _changed_since(claim: claims.Claim, read: intake.Seen) -> bool:
    try:
        return intake.Seen.of(claim.data) != read
    except OSError:
        return True


def _changed_after_processing(conn, claim: claims.Claim, file_id: int, sha: str) -> None:
    f = Findings()
    f.add_file("FICHIER_MODIFIE_APRES_TRAITEMENT")
    rows = to_rows(f.frame(), np.array([], dtype=np.int64), 1, {})
    ledger.mark_changed_after_processing(conn, file_id, rows)
    log.error("fichier_modifie_apres_traitement %s", logs.fields(expediteur=claim.sender, nom=claim.safe_name,
                                                                 empreinte=sha, depot=claim.id))


def _rejects_in_background(conn, settings: Settings, claim: claims.Claim, kind: kinds.Kind, checked: kinds.Checked):
    """For a file with many refused rows, the correction workbook is started in a second process now, from
    the checks' findings (the same ones the store is about to hold), and picked up by `finish`."""
    rec, lim = checked.record, settings.limits
    if (not kind.background_workbook or checked.quarantine_reason
            or not lim.background_rejects_rows <= rec.refused <= lim.max_rejects_rows):
        return None
    blocking = checked.findings[checked.findings["gravite"] == BLOCKING]  # all the workbook reads of them
    plan = rejects.plan_rejects(
        claim.data, rec.status, _findings_dicts(blocking), max_rows=lim.max_rejects_rows,
        max_file_rows=lim.max_rows, max_columns=lim.max_columns, file_name=rec.name, received=rec.received,
        help_email=help_email(contacts_for(conn, settings, claim.sender)))
    return None if isinstance(plan, rejects.RejectsOutcome) else rejects.Background(plan, claim.folder)


def _duplicate(conn, settings: Settings, known: ledger.FileEntry, claim: claims.Claim, now: dt.datetime,
               sha: str) -> FileResult:
    first = written(settings.paths.outbox / known.sender, entry_base(known)) if known.sender == claim.sender else []
    ack = Ack.duplicate(known, claim.safe_name, claim.sender, claim.received, dropped=claim.name,
                        base=ack_base(claim.safe_name, claim.received, claim.id), first_files=first)
    paths = _answer(settings.paths.outbox / claim.sender, ack, settings, contacts_for(conn, settings, claim.sender))
    faults.point("doublon_accuse")
    dest = claim.destination()
    if dest is None:
        dest = intake.free_name(intake.archive_folder(settings.paths.archive, claim.sender, now), claim.safe_name,
                                f"{sha[:12]}-{now:%Y%m%d%H%M%S}")
        claim.set_destination(dest)
    intake.move_durably(claim.data, dest)
    faults.point("doublon_archive")
    claim.remove()
    log.info("deja_traite %s", logs.fields(expediteur=claim.sender, empreinte=sha, nom=claim.safe_name))
    return FileResult(claim.sender, claim.safe_name, sha, "deja_traite", paths, dest)


def _queue_ack(conn, settings: Settings, result: FileResult) -> None:
    """The e-mail of a file's acknowledgement, queued once the file is done (sent at the end of the run)."""
    if result.status != "erreur" and result.ack:  # the file is done whatever: its answer is in the outbox
        mail.safely(mail.queue_ack, conn, settings, result.sender, result.status, result.ack)


def _count(conn, run_id: int, result: FileResult) -> None:
    ledger.count_in_run(conn, run_id, result.status, result.quarantined, result.resumed)


def run(settings: Settings, now: dt.datetime | None = None, wait: bool = True,
        progress: Callable[[Step], None] | None = None) -> list[FileResult]:
    """Process every ready file of the inbox, after finishing what a stopped run left. On SQLite, one run at a
    time: raises AlreadyRunning at once when another holds the lock. On PostgreSQL, runs (workers) work side by
    side: each takes a sender's files only while it holds that sender's group (store.take_sender on the group's
    code: the senders sharing a member, store.registry.sender_groups), so the files of a member and of the
    payroll firms acting for it go through one worker at a time, in the order received, and a worker's death
    leaves its claims to the next one; unrelated senders go through other workers meanwhile. Returns one result
    per file.

    `wait`: when files are about to become stable (see [depot] in the settings), wait for them once.
    `progress`: told each file's stages as they start (Step), for a display; nothing is printed here."""
    settings.ensure_dirs()
    parallel = is_database_url(settings.paths.database)
    with nullcontext() if parallel else hold(settings.paths.travail / LOCK_NAME):
        faults.point("verrou_pris")
        db = connect(settings.paths.database, durable=True)  # a file's transaction is on disk before its original moves
        rejects.new_run()
        conn = db.conn
        results: list[FileResult] = []
        held: set[str] = set()  # the groups of senders this worker holds, until it ends
        try:
            groups = registry_store.sender_groups(conn) if parallel else {}
            together: dict[str, set[str]] = {}
            for code, group in groups.items():
                together.setdefault(group, set()).add(code)
            run_id = ledger.open_run(conn, dt.datetime.now().isoformat(timespec="seconds"), os.getpid())
            log.debug("traitement_debut %s", logs.fields(traitement=run_id, pid=os.getpid()))
            faults.point("traitement_ouvert")

            seen = {"number": 0, "total": 0}

            def one(claim: claims.Claim) -> None:
                seen["number"] += 1
                number = seen["number"]

                def stage(name: str) -> None:
                    if progress is not None:
                        progress(Step(claim.sender, claim.safe_name, number, max(number, seen["total"]), name))

                try:
                    result = process_claim(conn, settings, claim, now or dt.datetime.now(), run_id, stage)
                except Exception as exc:  # this file only: it stays claimed and is taken up again next run
                    log.error("erreur_fichier %s", logs.fields(expediteur=claim.sender, nom=claim.safe_name, depot=claim.id,
                                                               erreur=f"{type(exc).__name__}: {exc}"))
                    result = FileResult(claim.sender, claim.safe_name, "", "erreur")
                if result is not None:
                    results.append(result)
                    _count(conn, run_id, result)
                    faults.point("compte")
                    _queue_ack(conn, settings, result)
                stage("terminé")

            def mine(sender: str, refused: set[str]) -> bool:
                """Parallel workers: whether this one holds the sender's group (taking it if free, and then
                finishing first the group's claims a stopped worker left, oldest first). A group held by another
                worker stays `refused` for the rest of the pass even if it is freed meanwhile: a later file of
                the group never goes before an earlier one left in the inbox."""
                group = groups.get(sender, sender)
                if not parallel or group in held:
                    return True
                if group in refused or not take_sender(conn, group):
                    if group not in refused:
                        log.debug("expediteur_pris_ailleurs %s", logs.fields(expediteur=sender, groupe=group))
                    refused.add(group)
                    return False
                held.add(group)
                left = claims.pending(settings.paths.travail, only=together.get(group, {sender}))
                seen["total"] += len(left)
                for claim in left:
                    one(claim)
                return True

            def take(found: intake.Survey) -> None:
                seen["total"] += len(found.ready)
                refused: set[str] = set()
                for cand in found.ready:
                    if not mine(cand.dropped.sender, refused):
                        continue
                    try:
                        claim = claims.take(cand, settings.paths.travail, now or dt.datetime.now())
                    except OSError as exc:
                        log.error("prise_impossible %s", logs.fields(expediteur=cand.dropped.sender, nom=cand.dropped.name,
                                                                     erreur=f"{type(exc).__name__}: {exc}"))
                        result = FileResult(cand.dropped.sender, intake.safe_name(cand.dropped.name), "", "erreur")
                        results.append(result)
                        _count(conn, run_id, result)
                        continue
                    if claim is not None:
                        log.debug("depot_pris %s", logs.fields(expediteur=claim.sender, nom=claim.safe_name,
                                                               taille=claim.record["taille"], depot=claim.id))
                        one(claim)

            if parallel:
                refused: set[str] = set()
                for sender in claims.senders(settings.paths.travail):
                    mine(sender, refused)
            else:
                left = claims.pending(settings.paths.travail)
                seen["total"] = len(left)
                for claim in left:
                    one(claim)
            found = intake.survey(settings.paths.inbox, settings.intake, sftp_root=settings.sftp.root)
            faults.point("depot_repere")
            for dropped, reason in found.ignored:
                log.debug("depot_ignore %s", logs.fields(expediteur=dropped.sender, nom=dropped.name, raison=reason))
            take(found)
            soon = [c for c in found.waiting if c.ready_at - time.time() <= settings.intake.max_wait_seconds]
            if wait and soon:
                pause = max(0.0, max(c.ready_at for c in soon) - time.time()) + 0.05
                log.info("attente_stabilite %s", logs.fields(fichiers=len(soon), secondes=f"{pause:.1f}"))
                time.sleep(pause)
                found = intake.survey(settings.paths.inbox, settings.intake, sftp_root=settings.sftp.root)
                take(found)
            for cand in found.waiting:
                log.debug("depot_en_attente %s", logs.fields(expediteur=cand.dropped.sender, nom=cand.dropped.name))
            ledger.close_run(conn, run_id, dt.datetime.now().isoformat(timespec="seconds"))
            log.log(logging.INFO if results else logging.DEBUG, "traitement_fin %s", logs.fields(
                traitement=run_id, fichiers=len(results), erreurs=sum(r.status == "erreur" for r in results)))
            faults.point("fin")
            mail.deliver_safely(conn, settings)  # after every file's work is committed; failures wait for the next run
        finally:
            conn.close()
    return results


def release(settings: Settings, ref: str, now: dt.datetime | None = None, refuse: str | None = None) -> FileResult:
    """Staff release a held full list (by file name or the start of its SHA-256): it is claimed again, checked
    against the store as it is now without the exit threshold, applied, acknowledged and archived. With
    `refuse` (the reason, possibly ''), staff refuse it instead: nothing is applied and the acknowledgement
    says so. Under the run lock, and resumable like any claim if stopped midway."""
    now = now or dt.datetime.now()
    settings.ensure_dirs()
    with hold(settings.paths.travail / LOCK_NAME):
        db = connect(settings.paths.database, durable=True)
        rejects.new_run()
        conn = db.conn
        try:
            found = ledger.held_matching(conn, ref)
            if len(found) != 1:
                listing = "; ".join(f"{e.name} ({e.sha256[:12]}, expéditeur {e.sender})" for e in ledger.held(conn)) or "aucune"
                what = "Plusieurs listes retenues correspondent à" if found else "Aucune liste retenue ne correspond à"
                raise ReleaseError(f"{what} « {ref} ». Listes retenues : {listing}.")
            file_id, sha, sender, kept = found[0].id, found[0].sha256, found[0].sender, Path(found[0].archive)
            if is_database_url(settings.paths.database) and not take_sender(  # a worker is on its group
                    conn, registry_store.sender_groups(conn).get(sender, sender)):
                raise ReleaseError(f"Un traitement est en cours pour l'expéditeur {sender} (ou un expéditeur lié par un "
                                  "mandat) : recommencez quand il sera fini.")
            claim = claims.take(intake.Candidate(intake.Dropped(sender, kept), intake.Seen.of(kept), 0.0, None),
                                settings.paths.travail)
            if claim is None:
                raise ReleaseError(f"Le fichier retenu {kept} a changé pendant la libération : recommencez.")
            kind = kinds.detect(claim.data, settings.limits)
            checked = kind.check(conn, claim.data, sender, settings, sha, release=True, received=found[0].received)
            checked.record.details.update(depot=claim.id, liberee_le=now.isoformat(timespec="seconds"),
                                          accuse=entry_base(found[0]))  # the held file's own answer is rewritten
            if "nom_depose" in found[0].details:
                checked.record.details["nom_depose"] = found[0].details["nom_depose"]
            if refuse is not None:
                _refused_by_staff(kind, checked, refuse)
            new_id, _ = kind.record(conn, checked, now.isoformat(timespec="seconds"), file_id)
            log.info("liberee %s", logs.fields(expediteur=sender, empreinte=sha, statut=checked.record.status))
            result = finish(conn, settings, new_id, claim, now)
            _queue_ack(conn, settings, result)
            mail.deliver_safely(conn, settings)
            return result
        finally:
            conn.close()


def _refused_by_staff(kind: kinds.Kind, checked: kinds.Checked, reason: str) -> None:
    """A held list that staff refuse: nothing applied, a file-level finding saying why."""
    f = Findings()
    f.add_file("LISTE_REFUSEE_SERVICE", motif=f" : {reason}" if reason.strip() else "")
    header_line = int(checked.record.details.get("ligne_entetes") or 1)
    extra = to_rows(f.frame(), np.array([], dtype=np.int64), header_line, {})
    checked.findings = pd.concat([extra, checked.findings], ignore_index=True)
    kind.apply_nothing(checked)
    rec = checked.record
    rec.status, rec.accepted, rec.refused = "rejete", 0, rec.rows


class ReleaseError(Exception):
    """No single held list matches what staff asked to release (French message)."""


def dry_run(settings: Settings, path: Path, sender: str, outdir: Path,
            stage: Callable[[str], None] = _quiet) -> tuple[Ack, list[Path]]:
    """The checks of `traiter` on one file, acknowledgement written to outdir; the store is not changed.
    `stage` is told each stage (STAGES) as it starts. Returns the acknowledgement and the paths of its files."""
    db = connect(settings.paths.database)
    try:
        stage("lecture")
        kind = kinds.detect(path, settings.limits)
        stage("contrôle")
        checked = kind.dry_check(db.conn, path, sender, settings)
        contacts = contacts_for(db.conn, settings, sender)
    finally:
        db.conn.close()
    ack = Ack.of(ledger.FileEntry.unrecorded(checked.record, **kind.planned(checked)), _findings_dicts(checked.findings))
    stage("accusé de réception")
    paths = _answer(outdir, ack, settings, contacts, source=path, dry_run=True)
    stage("terminé")
    return ack, paths
