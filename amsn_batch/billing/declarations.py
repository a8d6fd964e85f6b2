"""Annual headcount declarations: the campaign window, the statuses, the pre-filled files sent to members,
and `check_declaration`, which gathers from the store and the window what the checks of a declaration file
(rules.declarations) need, and turns their outcome into a ledger entry.

A declaration file gives, per establishment, the number of workers per category (SI, SIA, SIR and the SIH
label), or the list of the employees with their category (counted here). Each file received for an
(adhérent, year) is a new version: the latest `confirmee` one is the declaration; a version with blocking
findings is `en_cours` and replaces nothing. Once invoiced, a newer confirmed version is a correction that
invoicing settles with a credit note and a new invoice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from .. import intake
from ..read import UnreadableFile, read_table
from ..formats import date_fr, safe_cell, write_atomic
from ..rules import declarations as rules
from ..rules.catalogue import Findings, to_rows
from ..rules.declarations import CATEGORIES, NOT_DECLARABLE, Version
from ..rules.refusal import refused_unread, unreadable_file
from ..store import billing as store
from ..store import declarations as declared
from ..store import dsn as dsn_store
from ..store import registry
from ..store.employees import FileRecord
from ..tariffs import Billing
from ..vocab import load_toml, vocabulary
from .errors import BillingError

STATUS_LABELS = {
    "a_saisir": "À saisir", "en_cours": "En cours", "confirmee": "Confirmée", "facturee": "Facturée",
    "non_saisissable": "Non saisissable", "facture_office": "Facture d'office", "non_declaree": "Non déclarée",
}
PREFILL_HEADERS = ["Année", "N° adhérent", "Raison sociale", "SIRET", "Effectif SI", "Effectif SIA", "Effectif SIR",
                   "Effectif SIH", "Effectif total"]


# --- window -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    opens: dt.date
    closes: dt.date
    override: bool = False

    def contains(self, day: dt.date) -> bool:
        return self.opens <= day <= self.closes

    def closed_at(self, day: dt.date) -> bool:
        return day > self.closes


def window(conn, billing: Billing, adherent: str | None, year: int) -> Window:
    """The campaign window of a year for one adhérent: a staff override for this adhérent, else one for
    everybody, else the settings' window (January by default)."""
    override = declared.active_override(conn, year, adherent)
    if override:
        return Window(override.opens, override.closes, True)
    opens, closes = billing.window(year)
    return Window(opens, closes)


def set_override(conn, year: int, opens: dt.date, closes: dt.date, adherent: str | None, reason: str | None,
                 now: dt.datetime) -> None:
    if closes < opens:
        raise BillingError("La date de fermeture précède la date d'ouverture.")
    if adherent is not None and registry.member(conn, adherent) is None:
        raise BillingError(f"Adhérent inconnu : {adherent}")
    declared.set_override(conn, year, opens, closes, adherent, reason, now.isoformat(timespec="seconds"))


def remove_override(conn, year: int, adherent: str | None, now: dt.datetime) -> int:
    return declared.remove_override(conn, year, adherent, now.isoformat(timespec="seconds"))


def refusal_hint(win: Window, year: int, day: dt.date, following: Window) -> str:
    """When the campaign opens (or opened), in French, for a declaration refused outside the window;
    `following` is the window of the next year's campaign, which may already be open."""
    if day < win.opens:
        return f"La campagne {year} ouvrira le {date_fr(win.opens)} : déposez votre déclaration à partir de cette date."
    if following.contains(day):
        upcoming = (f"la campagne en cours est celle des effectifs {year + 1}, ouverte jusqu'au "
                    f"{date_fr(following.closes)} : vérifiez l'année indiquée dans votre fichier.")
    elif day < following.opens:
        upcoming = f"la prochaine campagne (effectifs {year + 1}) ouvrira le {date_fr(following.opens)}."
    else:
        upcoming = f"la campagne des effectifs {year + 1} est close elle aussi depuis le {date_fr(following.closes)}."
    return (f"La campagne {year} est close depuis le {date_fr(win.closes)} ; {upcoming} Pour une déclaration tardive, "
            "contactez le service relation adhérents (relation.adherents@amsn.fr) qui peut la rouvrir pour vous.")


# --- headcounts -------------------------------------------------------------------------------------


@cache
def _determinant_categories() -> dict[str, str]:
    return {key: spec.get("categorie", "") for key, spec in load_toml("determinants.toml").items()}


def employee_category(category: str | None, determinants: str | None) -> str:
    """The category an employee counts in: the declared one, else the strongest its determinants call for."""
    if category in CATEGORIES:
        return category
    cats = {_determinant_categories().get(d, "") for d in (determinants or "").split(",") if d}
    for cat in ("SIR", "SIA", "SIH"):
        if cat in cats:
            return cat
    return "SI"


def store_headcount(conn, adherent: str) -> dict[str, dict[str, int]]:
    """Employees present in the store, per establishment and category."""
    out: dict[str, dict[str, int]] = {}
    for e in declared.present_employees(conn, adherent):
        per = out.setdefault(e.siret, {c: 0 for c in CATEGORIES})
        per[employee_category(e.category, e.determinants)] += 1
    return out


def declaration_counts(conn, declaration_id: int) -> dict[str, int]:
    return {c: 0 for c in CATEGORIES} | declared.declared_counts(conn, declaration_id)


# --- statuses ---------------------------------------------------------------------------------------


def situation_on(member: registry.Member, day: dt.date, year: int | None = None) -> str:
    """The member's situation (statuts.toml code) in force on `day`, for the declaration of `year`: one a
    member's fiche gave with a date takes effect that day, and from that year's declaration on; before, the
    member is active. An undated one (the registry's) is in force whatever the day."""
    since = member.statut_depuis
    if not since or (since <= day.isoformat() and (year is None or int(since[:4]) <= year)):
        return member.statut or "actif"
    return "actif"


@dataclass
class DeclarationStatus:
    adherent: str
    name: str
    status: str  # key of STATUS_LABELS
    total: int | None
    window: Window
    invoice: str | None  # number of the invoice in force, if any

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def statuses(conn, billing: Billing, year: int, today: dt.date) -> list[DeclarationStatus]:
    out = []
    for member in registry.members(conn):
        numero = member.numero
        win = window(conn, billing, numero, year)
        cur = declared.current_declaration(conn, numero, year)
        active = store.active_main_invoice(conn, numero, year)
        total = None
        if cur is not None:
            total = cur.total
            status = "facturee" if active is not None and cur.facture_id == active.id else "confirmee"
        elif situation_on(member, today, year) in NOT_DECLARABLE:
            status = "non_saisissable"
        elif declared.has_pending(conn, numero, year):
            status = "en_cours"
        elif active is not None and active.type == "facture_office":
            status = "facture_office"
        elif win.contains(today):
            status = "a_saisir"
        elif win.closed_at(today):  # campaign closed, nothing declared: a facture d'office is due
            status = "non_declaree"
        else:  # the campaign has not opened yet
            status = "non_saisissable"
        out.append(DeclarationStatus(numero, member.raison_sociale, status, total, win, active.numero if active else None))
    return out


# --- the declaration file ---------------------------------------------------------------------------


@dataclass
class CheckedDeclaration:
    record: FileRecord
    findings: pd.DataFrame
    versions: list[Version]
    quarantine_reason: str | None = None


def check_declaration(conn, path: Path, sender, sender_code: str, settings, sha: str | None = None,
                      received: str | None = None, name_problem: str | None = None) -> CheckedDeclaration:
    """Read and check a declaration file against the registry, the window and the store; writes nothing.
    `sender` is the pipeline's Sender (None when the folder is unknown). `received`: when the service
    received the file (ISO timestamp, the claim's; the present by default), which places it in or out of the
    campaign window; never the file's own dates, which the sender sets. The checks are rules.declarations';
    this gathers their context from the store and the campaign window. `name_problem`: why the name as dropped
    cannot be used (the file is then refused without being read, as any other kind)."""
    billing: Billing = settings.billing or Billing()
    sha = sha or intake.sha256(path)
    received = received or dt.datetime.now().isoformat(timespec="seconds")
    day = dt.datetime.fromisoformat(received).date()

    def done(findings: Findings, checked: rules.DeclarationCheck | None = None, table=None,
             quarantine: str | None = None) -> CheckedDeclaration:
        checked = checked or rules.DeclarationCheck(findings, {}, {})
        lines = table.lines if table is not None else np.array([], dtype=np.int64)
        frame = to_rows(findings.frame(), lines, table.header_line if table is not None else 0, checked.columns,
                        table=table, members=registry.sender_members(conn, sender) if sender is not None else None)
        refused_file = findings.file_refused()
        rows, accepted = checked.rows, 0 if refused_file else checked.accepted
        status = "rejete" if refused_file or accepted == 0 else ("accepte" if accepted == rows else "accepte_partiellement")
        record = FileRecord(sha, sender_code, path.name, path.stat().st_size, received, status, rows, accepted, rows - accepted,
                            int((frame["gravite"] == "avertissement").sum()), {"genre": "declaration", **checked.details})
        return CheckedDeclaration(record, frame, list(checked.versions) if not refused_file else [], quarantine)

    refusal = refused_unread(sender_code, sender, name_problem=name_problem)
    if refusal:
        return done(refusal.findings, quarantine=refusal.quarantine)
    try:
        table = read_table(path, vocabulary("declaration"), settings.limits.max_rows, settings.limits.max_columns)
    except UnreadableFile as exc:
        refusal = unreadable_file(str(exc))
        return done(refusal.findings, quarantine=refusal.quarantine)
    checked = rules.check(table, _context(conn, billing, sender, day, settings.limits.max_cell_chars))
    return done(checked.findings, checked, table)


def _context(conn, billing: Billing, sender, day: dt.date, max_cell_chars: int) -> rules.DeclarationContext:
    """What the declaration checks need from the store and the campaign window, for a file received on `day`."""

    def window_refusal(adherent: str, year: int) -> rules.OutsideWindow | None:
        win = window(conn, billing, adherent, year)
        if win.contains(day):
            return None
        hint = refusal_hint(win, year, day, window(conn, billing, adherent, year + 1))
        return rules.OutsideWindow(date_fr(day), date_fr(win.opens), date_fr(win.closes), hint)

    def known_headcount(adherent: str) -> int:
        return sum(sum(c.values()) for c in store_headcount(conn, adherent).values())

    def invoice_in_force(adherent: str, year: int) -> rules.InvoiceInForce | None:
        cur = declared.current_declaration(conn, adherent, year)
        if cur is None or cur.facture_id is None or store.is_cancelled(conn, cur.facture_id):
            return None
        invoice = store.invoice(conn, cur.facture_id)
        return rules.InvoiceInForce(invoice.numero, date_fr(invoice.date_emission))

    return rules.DeclarationContext(
        sender=sender,
        establishments=registry.establishments(conn),
        situations={m.numero: situation_on(m, day) for m in registry.members(conn)},
        window_refusal=window_refusal, known_headcount=known_headcount, invoice_in_force=invoice_in_force,
        max_cell_chars=max_cell_chars)


# --- pre-filled declarations ------------------------------------------------------------------------


def dsn_headcount(conn, adherent: str, year: int) -> dict[str, dict[str, int]]:
    """For the establishments with a DSN of December of the year before (or later), the employees under
    contract on 31 December, per establishment and category: what the DSN said, not the store's state today."""
    sirets = dsn_store.establishments_with_dsn(conn, adherent, f"{year - 1}-12")
    out: dict[str, dict[str, int]] = {s: {c: 0 for c in CATEGORIES} for s in sirets}
    for siret, category, determinants in dsn_store.employed_on(conn, adherent, f"{year - 1}-12-31", f"{year - 1}-12"):
        out[siret][employee_category(category, determinants)] += 1
    return out


def prefill_rows(conn, adherent: str, name: str, year: int) -> list[list[object]]:
    counts = store_headcount(conn, adherent) | dsn_headcount(conn, adherent, year)
    rows = []
    for est in registry.establishment_list(conn, adherent):
        c = counts.get(est.siret, {k: 0 for k in CATEGORIES})
        rows.append([year, adherent, name, est.siret, c["SI"], c["SIA"], c["SIR"], c["SIH"], sum(c.values())])
    return rows


def prepare(conn, outbox: Path, year: int) -> list[Path]:
    """For each adhérent that can declare, a declaration file pre-filled with the headcount the store knows,
    in outbox/<adhérent>/declarations/ (and a copy for each mandataire acting for it)."""
    written = []
    mandates = registry.mandataires_by_member(conn)
    for member in registry.members(conn):
        numero, name = member.numero, member.raison_sociale
        if situation_on(member, dt.date.today(), year) in NOT_DECLARABLE:
            continue
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        w.writerow(PREFILL_HEADERS)
        for r in prefill_rows(conn, numero, name, year):
            w.writerow([safe_cell(v) if isinstance(v, str) else v for v in r])
        data = "\ufeff" + buf.getvalue()
        fname = f"declaration-effectifs-{year}-{numero}.csv"
        for folder in [numero, *sorted(mandates.get(numero, []))]:
            path = outbox / folder / "declarations" / fname
            write_atomic(path, data)
            written.append(path)
    return written
