"""E-mail notices: the acknowledgement of each processed file to its sender, the opening of the declaration
campaign to the members that must declare, each invoice and credit note (its Factur-X PDF attached) to the
billing address, and the appointments a planning import added, moved or cancelled (the calendar attached).

Two steps, so that a message never blocks nor undoes the work it tells of:
1. `queue_*`: once the work is committed, the message is built (stdlib `email`) and recorded in the store
   (table `envois`, store/mail.py) under a key that makes it idempotent (the same acknowledgement, campaign
   opening or invoice is queued once, whatever runs again).
2. `deliver`: every queued or failed message is sent to the [smtp] server (a few tries with a growing delay,
   then left for the next run), or, without [smtp], written as a .eml file in [paths] envois. Each attempt and
   its outcome is recorded (`amsn-batch envois` lists them). `deliver_safely` never raises.

Never a full NIR: the subject, text and HTML parts go through `masking.scrub` before they are built; the
correction workbook (which repeats the sender's rows as sent) is attached only for the senders that opted in
([envois] classeur_joint).

Recipients: `recipients` is the one place that says who gets a message about a member: the contacts of its fiche
adhérent by type, or its billing address; a mandataire has no address yet.

Adding a kind of notice: build a `Notice` (a key unique to the event, a nature, the member, French subject and
text, optional HTML and attachments) and call `queue`, then `deliver_safely`; give `recipients` the contact
types it goes to (RECIPIENT_TYPES). `queue_appointments` is one: a planning import's changes, the .ics attached.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import html as html_lib
import json
import logging
import os
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from . import logs
from .config import Settings, Smtp, is_database_url
from .formats import date_fr, money_fr, write_atomic
from .lock import AlreadyRunning, hold
from .masking import scrub
from .reports.ack import VERDICTS
from .store import connect
from .store import mail as store
from .store.fiche import contacts
from .store import billing as pieces

log = logging.getLogger("amsn_batch")

LOCK_NAME = ".envois.verrou"  # beside the store: one delivery at a time (a run, `facturer`, `envois relancer`)
MAX_DELAY = 60.0
FOOTER = ("Ce message est envoyé automatiquement par le service de santé au travail : merci de ne pas y répondre. "
          "Pour toute question, écrivez au service indiqué dans l'accusé de réception ou dans votre espace adhérent.")

# The contact types (as the member's administrative-information file names them) each nature goes to, once the
# store keeps contacts by type; today every nature goes to the registry's one address.
# The contact types (codes of schemas/types_contact.toml, as the fiche adhérent records them) each kind of message
# goes to; invoices and credit notes go to the billing address too.
RECIPIENT_TYPES = {
    "accuse": ("rh", "paie", "dirigeant"),
    "campagne": ("dirigeant", "rh"),
    "facture": ("comptabilite",),
    "avoir": ("comptabilite",),
    "rendez_vous": ("rh", "correspondant"),
}
BILLING_NATURES = ("facture", "avoir")


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


@dataclass(frozen=True)
class Notice:
    """One message to queue: `key` unique to the event it tells of (queued once), `adherent` the member or sender
    code it is about (its recipients come from `recipients`)."""

    key: str
    nature: str
    adherent: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


def recipients(conn, code: str, nature: str) -> list[str]:
    """Who gets a message of this nature about adhérent or mandataire `code`, the one lookup of addresses: the
    member's current contacts of RECIPIENT_TYPES[nature] (from its fiche adhérent), plus its billing address for
    invoices and credit notes, or that address alone when it has given no such contact; none for a mandataire
    (the registry keeps no address for one)."""
    found = contacts(conn, code, RECIPIENT_TYPES.get(nature, ()))
    if found is None:
        return []
    billing = [a.strip() for a in re.split(r"[;,]", found.email_facturation) if "@" in a]
    chosen = [c.email for c in found.contacts if c.email]
    if nature in BILLING_NATURES or not chosen:
        chosen = billing + chosen
    return list(dict.fromkeys(chosen))


def wants_workbook(settings: Settings, sender: str) -> bool:
    """Whether this sender opted in to get its correction workbook attached to the e-mailed acknowledgement."""
    opted = settings.mail.workbook_for
    return opted if isinstance(opted, bool) else sender in opted


# --- building and queueing ------------------------------------------------------------------------------


def build(settings: Settings, notice: Notice, to: list[str]) -> tuple[EmailMessage, str]:
    """The message (text part, HTML alternative, attachments) and its Message-ID; every text masked."""
    sender = settings.mail.from_address
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg = EmailMessage()
    msg["Subject"] = scrub(notice.subject)
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id = make_msgid("amsn", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    msg.set_content(scrub(notice.text))
    if notice.html is not None:
        msg.add_alternative(scrub(notice.html), subtype="html")
    for a in notice.attachments:
        msg.add_attachment(a.data, maintype=a.maintype, subtype=a.subtype, filename=a.filename)
    return msg, message_id


def queue(conn, settings: Settings, notice: Notice, now: dt.datetime | None = None) -> bool:
    """Record the message to send, once per key. True if queued now (False: already queued before)."""
    if store.known(conn, notice.key):
        return False
    to = recipients(conn, notice.adherent, notice.nature)
    msg, message_id = build(settings, notice, to)
    stamp = (now or dt.datetime.now()).isoformat(timespec="seconds")
    done = store.queue(conn, store.Outgoing(notice.key, notice.nature, notice.adherent, tuple(to), msg["Subject"],
                                            message_id, msg.as_bytes(policy=email.policy.SMTP)), stamp)
    if done and not to:
        log.warning("envoi_sans_destinataire %s", logs.fields(nature=notice.nature, adherent=notice.adherent))
    return done


def safely(queue_call, *args, **kwargs):
    """Call a `queue_*` function after the work it tells of is committed: a failure (an unreadable answer, the
    store busy) is logged and the work stands; the result, or None."""
    try:
        return queue_call(*args, **kwargs)
    except Exception as exc:
        log.error("envoi_non_prepare %s", logs.fields(envoi=queue_call.__name__, erreur=f"{type(exc).__name__}: {exc}"))
        return None


def _html_page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{html_lib.escape(p)}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{html_lib.escape(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f'<body style="font-family: sans-serif; max-width: 40em; line-height: 1.5">{body}</body></html>')


def _notice(key: str, nature: str, adherent: str, subject: str, paragraphs: list[str],
            attachments: tuple[Attachment, ...] = ()) -> Notice:
    """A notice whose text and HTML parts say the same paragraphs."""
    text = "\n\n".join([*paragraphs, FOOTER]) + "\n"
    return Notice(key, nature, adherent, subject, text, _html_page(subject, [*paragraphs, FOOTER]), attachments)


def queue_ack(conn, settings: Settings, sender: str, status: str, paths: list[Path]) -> bool:
    """The acknowledgement of a processed file (its written answer `paths`: .ar.csv, .ar.json, .ar.html and the
    correction workbook if any), with the page as the HTML part; the workbook only if the sender opted in."""
    page = next((p for p in paths if p.name.endswith(".ar.html")), None)
    answer = next((p for p in paths if p.name.endswith(".ar.json")), None)
    if page is None or answer is None:
        return False
    doc = json.loads(answer.read_text(encoding="utf-8"))
    name = doc.get("nom_depose") or doc.get("fichier", "")
    label = doc.get("libelle_statut", status)
    lines = ["Bonjour,",
             f"Votre fichier « {name} », reçu le {date_fr(doc.get('recu_le', ''))}, a été traité.",
             VERDICTS.get(status, label)]
    if doc.get("lignes"):
        lines.append(f"Lignes : {doc['lignes']} reçue(s), {doc.get('lignes_acceptees', 0)} acceptée(s), "
                     f"{doc.get('lignes_rejetees', 0)} refusée(s).")
    lines.append("Le détail (chaque anomalie, avec sa ligne, sa colonne et la correction attendue) est dans l'accusé "
                 "de réception ci-dessous, et dans votre dossier de retour avec sa version CSV.")
    attachments: tuple[Attachment, ...] = ()
    workbook = next((p for p in paths if p.name.endswith(".rejets.xlsx")), None)
    if workbook is not None and workbook.is_file():
        if wants_workbook(settings, sender):
            attachments = (Attachment(workbook.name, workbook.read_bytes(), "application",
                                      "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),)
            lines.append("Le classeur de correction des lignes refusées est joint à ce message.")
        else:
            lines.append(f"Le classeur de correction des lignes refusées ({workbook.name}) est dans votre dossier de "
                         "retour ; il n'est pas joint à ce message, car il reprend les données de vos salariés.")
    text = "\n\n".join([*lines, FOOTER]) + "\n"
    notice = Notice(f"accuse:{sender}/{page.name}:{status}", "accuse", sender,
                    f"Accusé de réception : {doc.get('fichier', name)} — {label}", text,
                    page.read_text(encoding="utf-8"), attachments)
    return queue(conn, settings, notice)


@dataclass(frozen=True)
class CampaignMember:
    """A member that must declare, with its campaign window."""

    numero: str
    name: str
    opens: dt.date | None
    closes: dt.date | None


def queue_campaign(conn, settings: Settings, year: int, members: list[CampaignMember], reopened: bool = False) -> int:
    """The opening of the declaration campaign, one message per member (once per year; a staff override that
    reopens or extends it, once per window). Returns how many were queued now."""
    queued = 0
    for m in members:
        dates = f" du {m.opens:%d/%m/%Y} au {m.closes:%d/%m/%Y}" if m.opens and m.closes else ""
        if reopened:
            key = f"campagne:{year}:{m.numero}:{m.opens}:{m.closes}"
            subject = f"Déclaration des effectifs {year} : campagne ouverte{dates}"
            first = (f"La campagne de déclaration des effectifs {year} est ouverte pour {m.name} (adhérent n° "
                     f"{m.numero}){dates}.")
        else:
            key = f"campagne:{year}:{m.numero}"
            subject = f"Déclaration des effectifs {year} : la campagne est ouverte"
            first = (f"La campagne de déclaration des effectifs {year} de {m.name} (adhérent n° {m.numero}) est "
                     f"ouverte{dates}.")
        paragraphs = [
            "Bonjour,", first,
            f"Votre déclaration pré-remplie avec les effectifs connus du service (declaration-effectifs-{year}-"
            f"{m.numero}.csv) est dans votre dossier de retour, rubrique declarations : vérifiez-la, corrigez-la si "
            "besoin, puis déposez-la ou confirmez-la depuis votre espace adhérent.",
            "Sans déclaration à la fermeture de la campagne, le service émet une facture d'office sur la base des "
            "effectifs qu'il connaît.",
        ]
        queued += queue(conn, settings, _notice(key, "campagne", m.numero, subject, paragraphs))
    return queued


PIECE_WORDS = {"facture": "facture", "facture_office": "facture d'office", "facture_complementaire": "facture complémentaire",
               "avoir": "avoir"}


def queue_piece(conn, settings: Settings, facture_id: int, pdf: Path) -> bool:
    """An invoice or credit note (as the store keeps it), its Factur-X PDF attached, to the billing address."""
    piece = pieces.invoice(conn, facture_id)
    credit = piece.type == "avoir"
    word = PIECE_WORDS.get(piece.type, "facture")
    issuer = (piece.emetteur or {}).get("name", "")
    title = f"{word[0].upper()}{word[1:]} n° {piece.numero} du {piece.date_emission:%d/%m/%Y}"
    client = (piece.client or {}).get("name", "")
    paragraphs = ["Bonjour,"]
    if credit:
        origin = f", qui annule la facture n° {piece.origine_numero}" if piece.origine_numero else ""
        paragraphs.append(f"Veuillez trouver ci-joint l'avoir n° {piece.numero} du {piece.date_emission:%d/%m/%Y} "
                          f"établi pour {client} (adhérent n° {piece.adherent}), d'un montant de "
                          f"{money_fr(-piece.total_ttc if piece.total_ttc < 0 else piece.total_ttc)} TTC{origin}.")
    else:
        paragraphs.append(f"Veuillez trouver ci-joint la {word} n° {piece.numero} du {piece.date_emission:%d/%m/%Y} "
                          f"établie pour {client} (adhérent n° {piece.adherent}), d'un montant de "
                          f"{money_fr(piece.total_ttc)} TTC, à régler au plus tard le "
                          f"{piece.date_exigibilite:%d/%m/%Y}.")
    paragraphs.append("Le PDF joint est une facture électronique Factur-X : votre logiciel comptable peut en lire "
                      "les données. Vos factures, votre échéancier et vos paiements sont aussi dans votre dossier de "
                      "retour, rubrique factures.")
    nature = "avoir" if credit else "facture"
    notice = _notice(f"piece:{piece.id}", nature, piece.adherent, f"{title} — {issuer}" if issuer else title,
                     paragraphs, (Attachment(pdf.name, pdf.read_bytes(), "application", "pdf"),))
    return queue(conn, settings, notice)


# --- delivery -------------------------------------------------------------------------------------------


@dataclass
class Delivery:
    sent: int = 0
    written: int = 0
    failed: int = 0
    busy: bool = False  # another process was delivering: nothing done here

    def sentence(self) -> str:
        if self.busy:
            return "Des envois sont déjà en cours dans un autre processus : rien n'a été envoyé ici."
        if not (self.sent or self.written or self.failed):
            return "Aucun message à envoyer."
        return (f"{self.sent} message(s) envoyé(s), {self.written} écrit(s) en fichier .eml, "
                f"{self.failed} en échec (nouvel essai au prochain traitement).")


class MailError(Exception):
    """A mail setting that cannot be used (French message), recorded as the failure of the attempt."""


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def deliver(conn, settings: Settings, refused_too: bool = False) -> Delivery:
    """Send (or write as .eml) every message still to send; `refused_too`: also those the server refused."""
    try:
        with hold(_lock_folder(settings) / LOCK_NAME):
            items = store.to_send(conn, refused_too)
            if not items:
                return Delivery()
            if settings.mail.smtp is None:
                return _write_all(conn, settings, items)
            return _send_all(conn, settings.mail.smtp, settings.mail.from_address, items)
    except AlreadyRunning:
        return Delivery(busy=True)


def queue_appointments(conn, settings: Settings, adherent: str, lines: list[str], ics: bytes,
                       now: dt.datetime | None = None) -> bool:
    """The appointments of a member that a planning import added, moved or cancelled (one line each, NIR masked
    by the caller and again here), its calendar (.ics) attached; once per state of those appointments."""
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    n = len(lines)
    subject = f"Vos rendez-vous de santé au travail : {n} changement{'s' if n > 1 else ''}"
    paragraphs = ["Bonjour,", f"Le planning du service a changé pour {n} rendez-vous de vos salariés (adhérent n° {adherent}) :",
                  *lines, "Le calendrier joint (rendez-vous.ics) les reprend tous : importez-le dans votre agenda, il "
                  "remplace le précédent. Pour annuler un rendez-vous, déposez une demande d'annulation au moins 3 jours "
                  "ouvrés à l'avance."]
    return queue(conn, settings, Notice(f"rendez_vous:{adherent}:{digest}", "rendez_vous", adherent, subject,
                                        "\n\n".join(paragraphs), _html_page(subject, paragraphs),
                                        (Attachment(f"rendez-vous-{adherent}.ics", ics, "text", "calendar"),)), now)


def _lock_folder(settings: Settings) -> Path:
    """Where the delivery lock lives: beside the SQLite store, or in the e-mails folder for a PostgreSQL one."""
    return settings.paths.envois if is_database_url(settings.paths.database) else settings.paths.database.parent


def deliver_safely(conn, settings: Settings) -> Delivery | None:
    """`deliver` for a run or a billing command: whatever happens, it neither raises nor undoes anything."""
    try:
        done = deliver(conn, settings)
    except Exception as exc:  # the work is committed; the messages stay queued for the next run
        log.error("envois_impossibles %s", logs.fields(erreur=f"{type(exc).__name__}: {exc}"))
        return None
    if done.sent or done.written or done.failed:  # each failure has its own warning: one line per file at INFO
        log.log(logging.WARNING if done.failed else logging.DEBUG, "envois %s",
                logs.fields(envoyes=done.sent, ecrits=done.written, echecs=done.failed))
    return done


def _write_all(conn, settings: Settings, items: list[store.Sent]) -> Delivery:
    done = Delivery()
    for item in items:
        safe = re.sub(r"[^0-9A-Za-z._-]", "_", item.adherent)
        path = settings.paths.envois / f"{item.cree_le[:10]}-{item.id:06d}-{item.nature}-{safe}.eml"
        write_atomic(path, item.message)
        store.delivered(conn, item.id, _now(), written_to=str(path))
        done.written += 1
    return done


def _password(smtp: Smtp) -> str:
    if smtp.password_env:
        value = os.environ.get(smtp.password_env)
        if not value:
            raise MailError(f"mot de passe SMTP absent : la variable d'environnement {smtp.password_env} n'est pas définie")
        return value
    try:
        return smtp.password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise MailError(f"mot de passe SMTP illisible ({smtp.password_file} : {exc.strerror})") from None


def _connect(smtp: Smtp) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if smtp.ca_file is not None:
        context.load_verify_locations(cafile=str(smtp.ca_file))
    if smtp.security == "ssl":
        session = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        session = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            session.starttls(context=context)
        if smtp.user:
            session.login(smtp.user, _password(smtp))
    except BaseException:
        _close(session)
        raise
    return session


def _close(session: smtplib.SMTP | None) -> None:
    if session is None:
        return
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


def _permanent(exc: Exception) -> bool:
    """Refused for good by the server (5xx for the message or every recipient): not tried again by itself."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False  # the service's settings, not the message: tried again once they are fixed
    return isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) and exc.smtp_code >= 500


def _error_text(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{who} : {code} {msg.decode(errors='replace')}" for who, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
    if isinstance(exc, ssl.SSLError):
        return f"connexion chiffrée impossible ({exc})"
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"serveur injoignable ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__


def _send_all(conn, smtp: Smtp, sender: str, items: list[store.Sent]) -> Delivery:
    """One connection for all; each message tried `smtp.tries` times with a doubling delay. When the server
    cannot be reached at all, the messages left are marked failed at once (the next run tries them again)."""
    done = Delivery()
    envelope_from = parseaddr(sender)[1]
    session: smtplib.SMTP | None = None
    down: str | None = None
    for item in items:
        if down is not None:
            store.attempt_failed(conn, item.id, down, _now())
            done.failed += 1
            continue
        to = [a for a in item.destinataires.split(", ") if a]
        for attempt in range(1, smtp.tries + 1):
            connecting = session is None
            try:
                if session is None:
                    session = _connect(smtp)
                connecting = False
                session.sendmail(envelope_from, to, item.message)
            except (smtplib.SMTPException, OSError, MailError) as exc:
                text = _error_text(exc)
                permanent = _permanent(exc)
                store.attempt_failed(conn, item.id, text, _now(), refused=permanent)
                log.warning("envoi_echec %s", logs.fields(envoi=item.id, essai=attempt, erreur=text))
                _close(session)
                session = None
                if permanent:
                    done.failed += 1
                    break
                if attempt == smtp.tries:
                    done.failed += 1
                    if connecting:
                        down = text
                    break
                time.sleep(min(MAX_DELAY, smtp.retry_delay * 2 ** (attempt - 1)))
            else:
                store.delivered(conn, item.id, _now())
                done.sent += 1
                break
    _close(session)
    return done


# --- for staff ------------------------------------------------------------------------------------------

STATUS_WORDS = {"a_envoyer": "à envoyer", "envoye": "envoyé", "ecrit": "écrit en .eml", "echec": "en échec",
                "refuse": "refusé par le serveur", "sans_destinataire": "sans adresse connue"}
NATURE_WORDS = {"accuse": "accusé de réception", "campagne": "campagne", "facture": "facture", "avoir": "avoir",
                "rendez_vous": "rendez-vous"}


def listing(conn, limit: int, failed_only: bool = False) -> list[str]:
    """The latest messages, one French line each (and the last error of those not delivered)."""
    lines = []
    for s in store.recent(conn, limit, failed_only):
        when = date_fr(s.envoye_le or s.tente_le or s.cree_le)
        who = s.destinataires or "aucune adresse"
        lines.append(f"{when} · {NATURE_WORDS.get(s.nature, s.nature)} · {s.adherent} → {who} : "
                     f"{STATUS_WORDS.get(s.statut, s.statut)} ({s.tentatives} essai(s)) — {s.sujet}")
        if s.erreur and s.statut not in ("envoye", "ecrit"):
            lines.append(f"    dernière erreur : {s.erreur}")
    if not lines:
        lines.append("Aucun message enregistré." if not failed_only else "Tous les messages ont été remis.")
    return lines


def staff_view(settings: Settings, limit: int = 20, retry: bool = False) -> list[str]:
    """`amsn-batch envois liste`: the latest messages. `retry` (`envois relancer`): first send again what is
    queued, failed or refused, then list what is still not delivered."""
    settings.ensure_dirs()
    db = connect(settings.paths.database)
    try:
        lines = [deliver(db.conn, settings, refused_too=True).sentence()] if retry else []
        return lines + listing(db.conn, limit, failed_only=retry)
    finally:
        db.conn.close()
