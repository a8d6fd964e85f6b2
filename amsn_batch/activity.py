"""`amsn-batch synthese`: the yearly activity summaries (reports.synthesis), gathered from the store and billing.

Per member: `outbox/<adhérent>/synthese/synthese-<AAAA>-<adhérent>.html` and `.pdf`, with a copy in the outbox
of each mandataire acting for it (like the pre-filled declarations, billing/declarations.prepare). For the
staff: `<rapports>/synthese-<AAAA>-service.html` and `.pdf`, the same summary for the whole service. The store
is read once for all the members (grouped queries, store.activity); balances come from billing.balances, the
one place they are computed. Reads only, so it can be run at any time, as often as wanted.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .appointments.due import visits_due
from .appointments.setup import visit_label
from .billing.balances import MemberBalance, all_balances, member_balance
from .billing.declarations import declaration_counts, employee_category, statuses
from .config import Settings
from .reports import synthesis
from .reports.synthesis import (BillingFacts, Facts, Flows, PaymentFact, PieceFact, VisitFacts, headcount_flows,
                                period_bounds)
from .store import activity, appointments, connect, registry
from .store.declarations import current_declaration
from .tariffs import FONT_CANDIDATES, Billing


class SummaryError(Exception):
    """A request the command refuses (French message)."""


@dataclass
class Written:
    members: int  # summaries written for members
    paths: list[Path]
    service: Path | None  # the service-wide page, when written


def write_summaries(settings: Settings, year: int, adherent: str | None = None, service_only: bool = False,
                    now: dt.datetime | None = None) -> Written:
    """One member's summary (`adherent`), or the service's only (`service_only`), or the service's and every
    member's."""
    now = now or dt.datetime.now()
    db = connect(settings.paths.database)
    conn = db.conn
    try:
        members = {m.numero: m.raison_sociale or "" for m in registry.members(conn)}
        if adherent is not None and adherent not in members:
            raise SummaryError(f"Adhérent inconnu : {adherent}. Vérifiez le N° adhérent (registre : amsn-batch adherents importer).")
        if dt.datetime(year, 1, 1) > now:
            raise SummaryError(f"L'année {year} n'a pas commencé : pas de synthèse d'activité avant le 01/01/{year}.")
        start, end, _ = period_bounds(year, now)
        heads = activity.headcount_at(conn, start, adherent)
        changes = activity.changes_between(conn, start, end, adherent)
        billing = settings.billing or Billing()
        status = {s.adherent: s for s in statuses(conn, billing, year, now.date())}
        font = _font(settings)
        visits = _visits(conn, settings, year, now)
        paths: list[Path] = []
        page = None
        if adherent is None:
            facts = _service_facts(conn, settings, year, now, members, heads, changes, status)
            facts.visits = visits.get("") if visits is not None else None
            page = settings.paths.rapports / f"synthese-{year}-service.html"
            paths += synthesis.write(synthesis.build(facts), [page], font)
        todo = [] if service_only else ([adherent] if adherent is not None else sorted(members))
        if todo:
            heads_of, changes_of = _by_member(heads), _by_member(changes)
            files_of = _by_member(activity.files_by_member(conn, start, end, adherent))
            mandates = registry.mandataires_by_member(conn)
            for numero in todo:
                facts = _member_facts(conn, year, now, numero, members[numero], heads_of.get(numero, []),
                                      changes_of.get(numero, []), files_of.get(numero, []), status)
                facts.visits = visits.get(numero, VisitFacts()) if visits is not None else None
                name = f"synthese-{year}-{numero}.html"
                targets = [settings.paths.outbox / folder / "synthese" / name
                           for folder in [numero, *sorted(mandates.get(numero, []))]]
                paths += synthesis.write(synthesis.build(facts), targets, font)
        return Written(len(todo), paths, page)
    finally:
        conn.close()


def _visits(conn, settings: Settings, year: int, now: dt.datetime) -> dict[str, VisitFacts] | None:
    """Each member's appointments of the year and visits due, and the service's ('' key); None while the service
    records no appointments (the section says it is to come)."""
    if not appointments.any_appointments(conn):
        return None
    out: dict[str, VisitFacts] = {}
    for r in appointments.year_counts(conn, year):
        for key in (r["adherent"], ""):
            out.setdefault(key, VisitFacts()).by_type.setdefault(visit_label(r["type_visite"] or ""), Counter())[r["statut"]] += r["n"]
    due = visits_due(conn, settings, now.date()).assign(late=lambda d: d["retard"] > 0)
    per = due.groupby("adherent")["late"].agg(["size", "sum"])
    for key, n, late in [("", len(due), due["late"].sum()), *zip(per.index, per["size"], per["sum"])]:
        facts = out.setdefault(key, VisitFacts())
        facts.due, facts.late = int(n), int(late)
    return out


def _font(settings: Settings) -> Path | None:
    if settings.billing is not None and settings.billing.font is not None:
        return settings.billing.font
    return next((Path(p) for p in FONT_CANDIDATES if Path(p).is_file()), None)


def _by_member(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["adherent"], []).append(r)
    return out


def _member_facts(conn, year: int, now: dt.datetime, numero: str, name: str, mine_heads: list[dict],
                  mine_changes: list[dict], mine_files: list[dict], status: dict) -> Facts:
    """One member's facts, from its own rows of the grouped reads."""
    establishments = {e.siret: ", ".join(x for x in (e.adresse, f"{e.code_postal} {e.ville}".strip()) if x)
                      for e in registry.establishment_list(conn, numero)}
    by_status: Counter = Counter()
    for r in mine_files:
        by_status[r["statut"]] += r["n"]
    others = sum(r["n"] for r in mine_files if not r["direct"])
    return Facts(year, numero, name, now, establishments, {},
                 headcount_flows(mine_heads, mine_changes, employee_category, "siret"),
                 _total(mine_heads, mine_changes), by_status, others,
                 _member_billing(conn, numero, year, status.get(numero)))


def _total(heads: list[dict], changes: list[dict]) -> Flows:
    return headcount_flows(heads, changes, employee_category, None).get("", Flows())


def _year_pieces(bal: MemberBalance, year: int):
    return [p for p in bal.pieces if p.invoice.annee == year]


def _member_billing(conn, numero: str, year: int, st) -> BillingFacts:
    bal = member_balance(conn, numero)
    facts = _amounts([bal], year)
    facts.declaration = st.label if st is not None else ""
    cur = current_declaration(conn, numero, year)
    if cur is not None:
        facts.declared = declaration_counts(conn, cur.id)
    pieces = _year_pieces(bal, year)
    facts.pieces = [PieceFact(p.invoice.numero, p.label, p.invoice.date_emission, p.invoice.total_ttc,
                              p.applied if p.is_credit_note else p.paid + p.credited, p.due, p.status) for p in pieces]
    numbers = {p.invoice.id: p.invoice.numero for p in pieces}
    facts.payments = [PaymentFact(dt.date.fromisoformat(pay.day), numbers[pay.facture_id], pay.amount)
                      for pay in bal.payments if pay.facture_id in numbers]
    return facts


def _amounts(balances: list[MemberBalance], year: int) -> BillingFacts:
    """The year's invoiced, credited, paid and due amounts, and what is due and in credit overall."""
    f = BillingFacts()
    for bal in balances:
        for p in _year_pieces(bal, year):
            f.count_pieces += 1
            if p.is_credit_note:
                f.credited -= p.invoice.total_ttc
            else:
                f.invoiced += p.invoice.total_ttc
                f.paid += p.paid
                f.due_year += p.due
        f.due += bal.due
        f.credit += bal.credit
    return f


def _service_facts(conn, settings: Settings, year: int, now: dt.datetime, members: dict[str, str], heads: list[dict],
                   changes: list[dict], status: dict) -> Facts:
    billing = _amounts(all_balances(conn), year)
    counted = Counter(s.label for s in status.values())
    billing.statuses = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
    start, end, _ = period_bounds(year, now)
    issuer = settings.billing.issuer if settings.billing is not None else None
    return Facts(year, None, issuer.name if issuer else "Le service", now, {}, members,
                 headcount_flows(heads, changes, employee_category, "adherent"), _total(heads, changes),
                 Counter(activity.files_by_status(conn, start, end)), 0, billing)
