"""Billing as a library: one function per command of `amsn-batch` (declaration preparer/ouvrir/fermer/statuts,
facturer, echeanciers, paiements importer, contentieux, journal). Each takes the Settings and its options,
opens and closes the store itself, does the whole workflow (documents refreshed inside) and returns a small
result; a request that cannot be carried out raises BillingError with a French message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import mail
from ..config import Settings
from ..read import UnreadableFile
from ..rules.declarations import NOT_DECLARABLE
from ..rules.values import parse_date
from ..store import connect, registry
from ..store import declarations as declared
from ..store.billing import Invoice
from . import balances, declarations, documents, invoices, journal, reminders, schedule
from .declarations import DeclarationStatus
from .reminders import ReminderRun
from .errors import BillingError
from .journal import Journal
from .schedule import PaymentImport


def parse_day(text: str) -> dt.date | None:
    """A day given on the command line (JJ/MM/AAAA and the other ways people write dates), None if invalid."""
    return parse_date(text)


@contextmanager
def _store(settings: Settings) -> Iterator:
    settings.ensure_dirs()
    db = connect(settings.paths.database)
    try:
        yield db.conn
    finally:
        db.conn.close()


# --- declarations -----------------------------------------------------------------------------------


def prepare_declarations(settings: Settings, year: int) -> list[Path]:
    """The pre-filled declaration files of the year, one per adhérent that can declare (and its mandataires);
    then the e-mail announcing the campaign to each member that must declare (once per year)."""
    with _store(settings) as conn:
        written = declarations.prepare(conn, settings.paths.outbox, year)
        mail.safely(mail.queue_campaign, conn, settings, year, _must_declare(conn, settings, year))
        mail.deliver_safely(conn, settings)
    return written


def _must_declare(conn, settings: Settings, year: int, adherent: str | None = None) -> list[mail.CampaignMember]:
    """The members (or this one) that must declare the year and have not: not closed down, no declaration in
    force; with the window of their campaign (none without [facturation])."""
    out = []
    for m in registry.members(conn, [adherent] if adherent else None):
        if m.statut in NOT_DECLARABLE or declared.current_declaration(conn, m.numero, year) is not None:
            continue
        win = declarations.window(conn, settings.billing, m.numero, year) if settings.billing else None
        out.append(mail.CampaignMember(m.numero, m.raison_sociale, win.opens if win else None, win.closes if win else None))
    return out


@dataclass(frozen=True)
class CampaignWindow:
    opens: dt.date
    closes: dt.date


def open_campaign(settings: Settings, year: int, closes: dt.date, opens: dt.date | None = None, adherent: str | None = None,
                  reason: str | None = None) -> CampaignWindow:
    """Staff override: open (reopen, extend) the declaration campaign of a year, for one adhérent or for all;
    `opens` defaults to the usual opening day."""
    opens = opens or settings.billing.window(year)[0]
    with _store(settings) as conn:
        declarations.set_override(conn, year, opens, closes, adherent, reason, dt.datetime.now())
        mail.safely(mail.queue_campaign, conn, settings, year, _must_declare(conn, settings, year, adherent), reopened=True)
        mail.deliver_safely(conn, settings)
    return CampaignWindow(opens, closes)


@dataclass(frozen=True)
class CampaignClosed:
    removed: bool  # False: there was no override in force
    usual: CampaignWindow  # the usual window the campaign now follows


def close_campaign(settings: Settings, year: int, adherent: str | None = None) -> CampaignClosed:
    """Withdraw the override in force: the campaign follows the usual window again."""
    with _store(settings) as conn:
        n = declarations.remove_override(conn, year, adherent, dt.datetime.now())
    return CampaignClosed(bool(n), CampaignWindow(*settings.billing.window(year)))


def declaration_statuses(settings: Settings, year: int, day: dt.date) -> list[DeclarationStatus]:
    """The status of each adhérent's declaration of the year, as seen on `day`."""
    with _store(settings) as conn:
        return declarations.statuses(conn, settings.billing, year, day)


# --- invoicing and documents ------------------------------------------------------------------------


@dataclass(frozen=True)
class Invoicing:
    issued: list[Invoice]
    notes: list[str]  # French, one per remark of the run


def issue_year(settings: Settings, year: int, day: dt.date, now: dt.datetime | None = None) -> Invoicing:
    """Issue every piece the year calls for, dated `day` (never after `now`, the service's clock): first the
    documents a stopped run did not write, then each piece with its documents written as soon as it is
    committed, then the lists and échéanciers; then each piece is e-mailed to the member's billing address."""

    def issued(piece: Invoice) -> None:
        pdf = documents.write_piece(conn, settings, piece.id)[0]
        mail.safely(mail.queue_piece, conn, settings, piece.id, pdf)

    with _store(settings) as conn:
        documents.refresh(conn, settings, set())
        report = invoices.invoice_year(conn, settings.billing, year, day, now=now, on_issued=issued)
        _settle(conn, settings)
        mail.deliver_safely(conn, settings)
    return Invoicing(report.issued, report.notes)


def _settle(conn, settings: Settings, adherents: set[str] | None = None) -> list[Path]:
    """After any change of pieces, payments or disputes: letter what is settled (balances.py), then rewrite
    the documents of the members concerned (all: None) and the service-wide list of credits to refund."""
    balances.letter(conn, adherents)
    written = documents.refresh(conn, settings, adherents)
    return written + [journal.write_refunds(conn, settings)]


def summary_line(piece: Invoice) -> str:
    """One French line per issued piece."""
    return invoices.summary_line(piece)


def refresh_documents(settings: Settings, adherent: str | None = None) -> list[Path]:
    """Write the missing piece documents and the lists and échéanciers of one adhérent (or all)."""
    with _store(settings) as conn:
        if adherent is not None and registry.member(conn, adherent) is None:
            raise BillingError(f"Adhérent inconnu : {adherent}. Aucun fichier écrit.")
        return _settle(conn, settings, {adherent} if adherent else None)


def record_payments(settings: Settings, path: Path) -> PaymentImport:
    """Record the payments of an accounting file, then refresh the documents of the adhérents it touches."""
    with _store(settings) as conn:
        try:
            result = schedule.import_payments(conn, path, dt.datetime.now())
        except UnreadableFile as exc:
            raise BillingError(str(exc)) from exc
        if not result.already:
            _settle(conn, settings, result.adherents)
    return result


def set_dispute(settings: Settings, numero: str, active: bool, reason: str | None = None) -> str:
    """Put an invoice under dispute (or lift it) and rewrite its adhérent's lists. Returns the adhérent."""
    with _store(settings) as conn:
        adherent = schedule.set_dispute(conn, numero, active, reason, dt.datetime.now())
        _settle(conn, settings, {adherent})
    return adherent


def write_journal(settings: Settings, start: dt.date, end: dt.date, dest: Path | None = None, fmt: str = "csv") -> Journal:
    """The sales and receipts journals of a period, for people (CSV) or as the FEC (fmt "fec"), each entry
    balanced; a reversed period is refused."""
    with _store(settings) as conn:
        return journal.write_journal(conn, settings, start, end, dest, fmt)


# --- unpaid invoices and reminders ------------------------------------------------------------------


def send_reminders(settings: Settings, day: dt.date, now: dt.datetime | None = None) -> ReminderRun:
    """`relances`: the next reminder stage due for each overdue invoice (each stage sent once), the list of
    unpaid invoices and the day's mail-merge CSV; `now` is the service's clock (`day` may not be after it)."""
    if settings.billing is None:
        raise BillingError("Section [facturation] absente du fichier de réglages.")
    with _store(settings) as conn:
        return reminders.send_reminders(conn, settings, day, now or dt.datetime.now())
