"""`amsn-batch statut`: what waits in the drop folders, what a stopped run left, what is held for review,
the billing team's queue (fiches adhérent), what is in quarantine, and the last runs with their counts; and
`rapport quotidien`, the staff dashboard with the declaration campaign. Reads only; never takes the run lock."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from . import claims, intake
from .config import Settings, is_database_url
from .lock import LOCK_NAME, describe_holder, holder
from .reports.ack import ack_names, entry_base
from .formats import date_fr, money_fr, number_fr
from .masking import scrub
from .billing.declarations import statuses, window
from .billing.reminders import bucket_totals, unpaid as unpaid_invoices
from .reports.dashboard import MAX_LISTED, STATUS_LABEL, Campaign, UnpaidInvoices, write_daily
from .store import connect, ledger, registry
from .store.fiche import pending_requests

RUN_STATES = {"en_cours": "en cours", "termine": "terminé", "interrompu": "interrompu"}


def status_words(code: str) -> str:
    """A file's status as the screen says it: the dashboard's label in lower case ("accepté en partie")."""
    return STATUS_LABEL[code].lower() if code in STATUS_LABEL else code.replace("_", " ")


def _when(ts: float | str | None) -> str:
    if ts is None:
        return "-"
    if isinstance(ts, (int, float)):
        ts = dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds")
    return date_fr(ts)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} octet{'s' if n > 1 else ''}"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} Ko".replace(".", ",")
    return f"{n / 1048576:.1f} Mo".replace(".", ",")


def _wait_text(cand: intake.Candidate, now: float) -> str:
    if cand.ready_at == float("inf"):
        return "attend son marqueur .ok ou .done"
    return f"en cours de dépôt, pris dans {max(1, round(cand.ready_at - now))} s s'il ne change plus"


def request_what(request) -> str:
    """What a billing-team request (store.fiche.BillingRequest) asks for, in French."""
    return "nouveau SIRET" if request.champ == "siret" else "nouvelle raison sociale"


def report(settings: Settings, last_runs: int = 10, days: int = 7, now: dt.datetime | None = None) -> list[str]:
    """The status as French lines: each file named (sender, name, status in words, when), waiting, being
    processed, held, refused, then what each sender sent over the last `days` days (up to `now`), and the runs."""
    now_ts = time.time()  # the drop folders' files are timed by the system clock
    lines: list[str] = []
    running = holder(settings.paths.travail / LOCK_NAME)
    if is_database_url(settings.paths.database):  # parallel workers: the live runs the store knows
        db = connect(settings.paths.database)
        try:
            running = "; ".join(describe_holder(f"{pid} {start}") for pid, start in ledger.live_runs(db.conn)) or None
        finally:
            db.conn.close()
    lines.append(f"Traitement en cours : {running}." if running else "Traitement en cours : aucun.")

    found = intake.survey(settings.paths.inbox, settings.intake, now_ts, settings.sftp.root)
    waiting = len(found.ready) + len(found.waiting)
    lines.append("")
    lines.append(f"Dépôts en attente de traitement : {waiting} fichier(s)")
    for cand in found.ready:
        d = cand.dropped
        lines.append(f"  {d.sender}/{intake.safe_name(d.name)} — {_size(cand.seen.size)}, déposé le "
                     f"{_when(cand.seen.mtime_ns / 1e9)} — prêt (pris au prochain traitement)")
    for cand in found.waiting:
        d = cand.dropped
        lines.append(f"  {d.sender}/{intake.safe_name(d.name)} — {_size(cand.seen.size)}, modifié le "
                     f"{_when(cand.seen.last_change)} — {_wait_text(cand, now_ts)}")
    ignored = [(d, r) for d, r in found.ignored if r != "marqueur de fin de dépôt"]
    if ignored:
        lines.append(f"  Ignorés : {len(ignored)} (fichiers temporaires, cachés, liens ou sous-dossiers)")
        for d, reason in ignored[:20]:
            lines.append(f"    {d.sender}/{intake.safe_name(d.name)} — {reason}")

    taken = claims.pending(settings.paths.travail, tidy=False)
    if taken:
        lines.append("")
        lines.append(f"En cours de traitement : {len(taken)} fichier(s)" if running else
                     f"Pris en charge par un traitement interrompu, repris au prochain : {len(taken)} fichier(s)")
        for c in taken:
            lines.append(f"  {c.sender}/{c.safe_name} — reçu le {_when(c.received)}")

    since = ((now or dt.datetime.now()) - dt.timedelta(days=days)).isoformat(timespec="seconds")
    db = connect(settings.paths.database)
    try:
        held = ledger.held(db.conn)
        runs = ledger.last_runs(db.conn, last_runs)
        quarantined = ledger.quarantined(db.conn)
        changed = ledger.changed_after_processing(db.conn)
        recent = ledger.files_since(db.conn, since)
        reasons = {e.id: _first_blocking(ledger.findings(db.conn, e.id)) for e in recent if e.status == "rejete"}
        names = registry.sender_names(db.conn)
        requests = pending_requests(db.conn)
    finally:
        db.conn.close()

    lines.append("")
    lines.append(f"Retenus pour examen par le service (en attente) : {len(held)} fichier(s)")
    for e in held:
        lines.append(f"  {e.sender}/{e.name} — reçu le {_when(e.received)} — empreinte {e.sha256[:12]} — accusé "
                     f"{settings.paths.outbox / e.sender / ack_names(entry_base(e))[2]}")

    if requests:  # asked in a fiche adhérent, never applied from the file: the billing team applies them
        lines.append("")
        lines.append(f"Demandes à traiter par le service facturation : {len(requests)}")
        for r in requests:
            lines.append(scrub(f"  n° {r.id} : {r.adherent} {r.raison_sociale} — {request_what(r)} « {r.demande} » (actuellement "
                               f"{r.actuel or '—'}) — {r.expediteur}/{r.fichier} ligne {r.ligne}, reçu le {_when(r.recue_le)}"))
        lines.append("  (une fois appliquée au registre : amsn-batch adherents demande-traitee NUMÉRO)")

    if changed:
        lines.append("")
        lines.append(f"Fichiers modifiés après traitement (renvoi du fichier complet demandé à l'expéditeur) : "
                     f"{len(changed)} fichier(s)")
        for e in changed:
            lines.append(f"  {e.sender}/{e.name} — reçu le {_when(e.received)} — empreinte {e.sha256[:12]}")

    in_quarantine = _quarantine_files(settings.paths.quarantine)
    lines.append("")
    lines.append(f"En quarantaine : {len(in_quarantine)} fichier(s) (dossier {settings.paths.quarantine})")
    for path in in_quarantine:
        reason_file = path.with_name(path.name + ".raison.txt")
        reason = reason_file.read_text(encoding="utf-8").strip() if reason_file.exists() else ""
        known = quarantined.get(str(path))
        received = f" — reçu le {_when(known.received)}" if known else ""
        lines.append(f"  {path.parent.name}/{path.name}{received} — {_first_sentence(reason)}")

    period = "ces dernières 24 heures" if days == 1 else f"ces {days} derniers jours"
    refused = [e for e in recent if e.status == "rejete"]
    lines.append("")
    lines.append(f"Refusés {period} : {len(refused)} fichier(s)")
    for e in refused:
        lines.append(scrub(f"  {e.sender}/{e.name} — {_done_text(e)} — {_first_sentence(reasons[e.id])}"))

    senders = sorted({e.sender for e in recent})
    lines.append("")
    lines.append(f"Reçus {period}, par expéditeur : {len(recent)} fichier(s) de {len(senders)} expéditeur(s)")
    for sender in senders:
        files = [e for e in recent if e.sender == sender]
        name = f" {names[sender]}" if names.get(sender) else ""
        lines.append(f"  {sender}{name} : {len(files)} fichier(s)")
        for e in files:
            lines.append(scrub(f"    {e.name} — {status_words(e.status)} — {_done_text(e)} — {_rows_text(e)}"))

    lines.append("")
    lines.append(f"Derniers traitements ({len(runs)}) :")
    if runs:
        head = ("N°", "début", "fin", "état", "fichiers", "acceptés", "partiels", "refusés", "en attente",
                "déjà reçus", "quarantaine", "repris", "erreurs")
        rows = [head] + [(str(r.id), _when(r.started), _when(r.ended), RUN_STATES.get(r.state, r.state),
                          *(number_fr(x) for x in r.counts())) for r in runs]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    else:
        lines.append("  aucun")
    return lines


def _done_text(e: ledger.FileEntry) -> str:
    return f"traité le {_when(e.done_at)}" if e.done_at else f"reçu le {_when(e.received)}, pas encore terminé"


def _rows_text(e: ledger.FileEntry) -> str:
    if e.quarantined:
        return "mis en quarantaine"
    if e.status == "en_attente":
        return f"{number_fr(e.rows)} ligne(s), rien d'appliqué avant l'examen du service"
    return f"{number_fr(e.rows)} ligne(s) : {number_fr(e.accepted)} acceptée(s), {number_fr(e.refused)} refusée(s)"


def _first_blocking(findings: list[dict]) -> str:
    return next((f["message"] for f in findings if f["gravite"] == "bloquant"), "")


def _quarantine_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*") if p.is_file() and not p.name.endswith(".raison.txt")
                  and not p.name.startswith("."))


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "…"


def daily_report(settings: Settings, day: dt.date, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """`amsn-batch rapport quotidien`: the staff dashboard of a day and the index of days (reports.dashboard),
    with the declaration campaign section when the day is in one. Returns both paths."""
    db = connect(settings.paths.database)
    try:
        campaign = _campaign(db.conn, settings, day)
        unpaid = _unpaid(db.conn, day) if settings.billing is not None else None
    finally:
        db.conn.close()
    return write_daily(settings, day, now, campaign, unpaid)


OLDEST_UNPAID = 10  # overdue invoices named on the dashboard (the whole list: `amsn-batch relances`)


def _unpaid(conn, day: dt.date) -> UnpaidInvoices | None:
    """The unpaid invoices of the service on the day, by age bucket, and the oldest ones (None when none)."""
    rows = unpaid_invoices(conn, day)
    if not rows:
        return None
    oldest = sorted((u for u in rows if u.days_late > 0), key=lambda u: -u.days_late)[:OLDEST_UNPAID]
    return UnpaidInvoices(
        [(t.label, t.count, money_fr(t.due)) for t in bucket_totals(rows)], money_fr(sum(u.due for u in rows)),
        sum(1 for u in rows if u.disputed),
        [(u.invoice.numero, u.invoice.adherent, u.invoice.client["name"], money_fr(u.due), u.days_late) for u in oldest])


def _campaign(conn, settings: Settings, day: dt.date) -> Campaign | None:
    """During the declaration campaign of the day's year (January by default, or as staff opened it):
    the adhérents that have not declared yet and the declarations still to fix, from the billing statuses
    (the portal's À saisir / En cours / Confirmée / Facturée / Non saisissable)."""
    if settings.billing is None or not window(conn, settings.billing, None, day.year).contains(day):
        return None
    rows = statuses(conn, settings.billing, day.year, day)
    info = {m.numero: (m.numero, m.raison_sociale, m.centre) for m in registry.members(conn)}
    expected = [s for s in rows if s.status != "non_saisissable"]
    missing = [info[s.adherent] for s in expected if s.status == "a_saisir"]
    in_progress = [info[s.adherent] for s in expected if s.status == "en_cours"]
    declared = sum(1 for s in expected if s.status in ("confirmee", "facturee"))
    return Campaign(day.year, len(expected), declared, in_progress[:MAX_LISTED], missing[:MAX_LISTED], len(missing), "")
