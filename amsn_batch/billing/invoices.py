"""Invoices and credit notes: amounts, numbering, facture d'office, corrections.

Rules (CGI ann. II art. 242 nonies A, Code de commerce L441-9 and L441-10):
- one chronological, continuous sequence for invoices and credit notes; the number is taken in the same
  transaction that writes the piece, so a run stopped at any point leaves neither a gap nor a duplicate;
- an issued piece is never modified (triggers in the store refuse it): a correction is a credit note that
  cancels the whole invoice, citing its number and date, followed by a new invoice;
- amounts in Decimal: HT per line (quantity × unit price, rounded to the cent), VAT on the total HT,
  rounded to the cent (half up), TTC = HT + VAT; a credit note carries the opposite amounts.

`invoice_year` is idempotent: each adhérent's situation is read again inside the transaction that issues its
next piece, and a piece is issued only when the state calls for it, so running it twice issues nothing twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from .. import faults
from ..formats import date_fr, money_fr
from ..rules.identifiers import vat_siren
from ..store import appointments as missed_store
from ..store import billing as store
from ..store import declarations as declared
from ..store import registry
from ..store import transaction
from ..store.billing import Invoice, InvoiceLine
from ..tariffs import Billing, Issuer, Tariff
from . import declarations as decl
from .errors import BillingError

log = logging.getLogger("amsn_batch")

CENT = Decimal("0.01")
SERIES = "factures"
TYPE_LABELS = {
    "facture": "Facture", "facture_office": "Facture d'office", "facture_complementaire": "Facture complémentaire",
    "avoir": "Avoir",
}
CATEGORY_LABELS = {
    "SI": "suivi individuel (SI)", "SIA": "suivi individuel adapté (SIA)", "SIR": "suivi individuel renforcé (SIR)",
    "SIH": "suivi individuel habilitation (SIH)",
}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    label: str
    quantity: int
    unit_price: Decimal
    category: str | None = None

    @property
    def amount(self) -> Decimal:
        return cents(self.unit_price * self.quantity)


@dataclass
class Totals:
    ht: Decimal
    tva: Decimal
    ttc: Decimal


def totals(lines: list[Line], vat_rate: Decimal) -> Totals:
    ht = sum((ln.amount for ln in lines), Decimal("0.00"))
    tva = cents(ht * vat_rate / 100)
    return Totals(ht, tva, ht + tva)


Shared = dict[int, dict[str, int]]  # n employers → category → workers of the member employed by n members in all


def headcount_lines(counts: dict[str, int], tariff: Tariff, year: int, shared: Shared | None = None) -> list[Line]:
    """The fee per worker for every worker (each counts as one unit), then the supplement per category. With the
    tariff's `multi_employeur = "partage"`, a worker employed by n members counts 1/n here: on lines of their own,
    at the fee (and supplement) divided by n, rounded to the cent (décret 2023-547: the fee split equally)."""
    shared = shared if tariff.multi_employer == "partage" else {}
    part = {cat: sum(per.get(cat, 0) for per in (shared or {}).values()) for cat in decl.CATEGORIES}
    total = sum(counts.values()) - sum(part.values())
    lines = [Line(f"Cotisation {year} : salariés suivis", total, tariff.fee_per_worker)] if total or not shared else []
    for n, per in sorted((shared or {}).items()):
        lines.append(Line(f"Cotisation {year} : salariés multi-employeurs (part 1/{n})", sum(per.values()),
                          cents(tariff.fee_per_worker / n)))
    for cat in decl.CATEGORIES:
        supplement = tariff.supplements.get(cat)
        if supplement and counts.get(cat, 0) - part[cat]:
            lines.append(Line(f"Supplément {CATEGORY_LABELS[cat]}", counts[cat] - part[cat], supplement, cat))
        for n, per in sorted((shared or {}).items()):
            if supplement and per.get(cat):
                lines.append(Line(f"Supplément {CATEGORY_LABELS[cat]}, multi-employeurs (part 1/{n})", per[cat],
                                  cents(supplement / n), cat))
    return lines


def shared_workers(conn, adherent: str, year: int, counts: dict[str, int], declaration_id: int | None) -> Shared:
    """The member's workers also employed by other members (staff-side detection: the store's present employees
    and the declarations by list of the year), by number of employers and category, never more per category
    than the headcount billed. The member's workers: those its declaration lists, else those the store knows."""
    listed = store.declared_workers(conn, declaration_id) if declaration_id else []
    mine = listed or [(nir, decl.employee_category(cat, det)) for nir, cat, det in store.present_workers(conn, adherent)]
    employers = store.employers_of_workers(conn, year)
    room = dict(counts)
    out: Shared = {}
    for nir, cat in sorted(mine):
        n = len(employers.get(nir, set()) | {adherent})
        if n >= 2 and room.get(cat, 0) > 0:
            room[cat] -= 1
            out.setdefault(n, {}).setdefault(cat, 0)
            out[n][cat] += 1
    return out


def multi_employer_mention(shared: Shared, tariff: Tariff) -> str:
    """What the invoice says about the member's multi-employer workers (empty when it has none)."""
    n = sum(sum(per.values()) for per in shared.values())
    if not n:
        return ""
    if tariff.multi_employer == "partage":
        return (f"Salariés multi-employeurs : {n} salarié(s) employé(s) aussi par d'autres adhérents ; leur cotisation est "
                "partagée à parts égales entre leurs employeurs (décret 2023-547).")
    return (f"Salariés multi-employeurs : {n} salarié(s) employé(s) aussi par d'autres adhérents, compté(s) en entier "
            f"par chaque employeur (tarif {tariff.year}).")


# --- due dates (L441-10) ----------------------------------------------------------------------------


def _end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def due_date(issued: dt.date, days: int, end_of_month: bool) -> dt.date:
    """At most 60 days from the invoice date, or 45 days end of month (the tariff's terms, checked at load)."""
    day = issued + dt.timedelta(days=days)
    return _end_of_month(day) if end_of_month else day


def instalments(issued: dt.date, amount: Decimal, tariff: Tariff) -> list[tuple[dt.date, Decimal]]:
    """The TTC split into the tariff's instalments, spread evenly up to the payment term; the cents that do not
    divide go to the first one. The last one falls on the term (end of month included); the others are spread
    evenly before it, each on its own day (the tariff has at least one day of term per instalment), so every
    due date stays within the legal term and no two instalments share a date."""
    n = tariff.instalments if amount > 0 else 1
    share = (amount / n).quantize(CENT, rounding=ROUND_DOWN)
    parts = [share] * n
    parts[0] += amount - share * n
    last = due_date(issued, tariff.payment_days, tariff.end_of_month)
    span = (last - issued).days
    offsets: list[int] = []
    for i in range(n):
        offset = round(span * (i + 1) / n)
        offsets.append(max(offset, offsets[-1] + 1) if offsets else offset)
    offsets[-1] = span
    return [(issued + dt.timedelta(days=offsets[i]), parts[i]) for i in range(n)]


# --- parties ----------------------------------------------------------------------------------------


def issuer_snapshot(issuer: Issuer) -> dict:
    return asdict(issuer)


def client_snapshot(conn, adherent: str) -> dict:
    member = registry.member(conn, adherent)
    sites = registry.establishment_list(conn, adherent)
    est = sites[0] if sites else registry.Establishment("", "", "", "", adherent)
    siren = (vat_siren(member.tva) if member.tva else "") or est.siret[:9]
    return {"numero": adherent, "name": member.raison_sociale, "vat": member.tva, "email": member.email_facturation,
            "siren": siren, "siret": est.siret, "address": est.adresse, "postcode": est.code_postal, "city": est.ville}


def conditions(billing: Billing, tariff: Tariff, year: int, mention: str = "") -> dict:
    terms = (f"{tariff.payment_days} jours fin de mois" if tariff.end_of_month
             else f"{tariff.payment_days} jours à compter de la date de facture")
    return {
        "periode": f"Année {year}", "periode_debut": f"{year}-01-01", "periode_fin": f"{year}-12-31",
        "delai": terms, "echeances": tariff.instalments, "taux_tva": str(tariff.vat_rate),
        "tva_sur_debits": billing.vat_on_debits, "categorie_operation": "Prestation de services",
        "taux_penalites": str(billing.late_rate),
    } | ({"multi_employeurs": mention} if mention else {})


# --- reading the state ------------------------------------------------------------------------------


def last_known_headcount(conn, adherent: str, year: int) -> tuple[dict[str, int], str]:
    """For a facture d'office: the employees present in the store, else the last confirmed declaration."""
    per_site = decl.store_headcount(conn, adherent)
    counts = {c: sum(s[c] for s in per_site.values()) for c in decl.CATEGORIES}
    if sum(counts.values()):
        return counts, "l'effectif connu du service (fichiers de mouvements)"
    prev = declared.last_confirmed_before(conn, adherent, year)
    if prev:
        return decl.declaration_counts(conn, prev.id), f"la dernière déclaration des effectifs ({prev.annee})"
    return counts, ""


# --- deciding and issuing ---------------------------------------------------------------------------


@dataclass
class Action:
    kind: str  # facture | facture_office | facture_complementaire | avoir | lien
    lines: list[Line] = field(default_factory=list)
    declaration_id: int | None = None
    origin: Invoice | None = None  # the invoice in force, for a credit note or a link
    reason: str = ""
    hires: list[int] = field(default_factory=list)
    mention: str = ""  # multi-employer workers
    missed: list[str] = field(default_factory=list)  # unexcused missed appointments billed (rdv ids)


@dataclass
class RunReport:
    issued: list[Invoice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def decide(conn, billing: Billing, tariff: Tariff, adherent: str, situation: str, year: int, today: dt.date) -> Action | None:
    current = declared.current_declaration(conn, adherent, year)
    active = store.active_main_invoice(conn, adherent, year)
    if current is not None:
        if active is not None and current.facture_id == active.id:
            return _complement(conn, tariff, adherent, year, today, current.recue_le, current.id, active)
        counts = decl.declaration_counts(conn, current.id)
        shared = shared_workers(conn, adherent, year, counts, current.id)
        lines = headcount_lines(counts, tariff, year, shared)
        if active is None and current.total == 0:
            return Action("rien", reason=f"{adherent} : déclaration {year} à 0 salarié, aucune facture émise "
                                         "(aucun numéro utilisé).")
        if active is not None:
            same = ([(ln.label, ln.quantity, str(ln.unit_price)) for ln in lines]
                    == [(ln.label, ln.quantity, str(ln.unit_price)) for ln in store.invoice_lines(conn, active.id)])
            if active.type == "facture" and same:
                return Action("lien", declaration_id=current.id, origin=active)
            reason = ("Annulation de la facture d'office : déclaration des effectifs reçue" if active.type == "facture_office"
                      else "Annulation : déclaration des effectifs corrigée")
            return Action("avoir", origin=active, reason=reason)
        return Action("facture", lines, declaration_id=current.id, mention=multi_employer_mention(shared, tariff))
    if active is not None:
        return _complement(conn, tariff, adherent, year, today, active.date_emission.isoformat(), None, active)
    if situation in decl.NOT_DECLARABLE:
        return None
    win = decl.window(conn, billing, adherent, year)
    if not win.closed_at(today):
        return None
    counts, source = last_known_headcount(conn, adherent, year)
    if not sum(counts.values()):
        return Action("rien", reason=f"{adherent} : aucune déclaration et aucun effectif connu, pas de facture d'office.")
    shared = shared_workers(conn, adherent, year, counts, None)
    return Action("facture_office", headcount_lines(counts, tariff, year, shared),
                  reason=f"Facture d'office : déclaration des effectifs {year} non reçue ; établie sur {source}.",
                  mention=multi_employer_mention(shared, tariff))


def _complement(conn, tariff: Tariff, adherent: str, year: int, today: dt.date, since: str, decl_id: int | None,
                active: Invoice) -> Action | None:
    """Employees hired in the year after the declaration (or the facture d'office), and unexcused missed
    appointments of the year (store.appointments, `absence_non_excusee` of the tariff), not billed yet."""
    lines, reasons, hires = [], [], []
    if tariff.fee_per_missing_hire:
        listed = declared.declared_nirs(conn, decl_id) if decl_id else set()
        hires = [h for h in store.unbilled_hires(conn, adherent, year, since, min(today, dt.date(year, 12, 31)))
                 if h.nir not in listed]
        if hires:
            lines.append(Line(f"Embauches {year} non déclarées", len(hires), tariff.fee_per_missing_hire))
            reasons.append(f"Salariés embauchés en {year} après la déclaration des effectifs.")
    missed = [(rdv, Decimal(amount)) for rdv, amount in missed_store.unbilled_missed(conn, adherent, year)]
    for amount in sorted({a for _, a in missed}):
        lines.append(Line(f"Rendez-vous {year} non honorés sans excuse", sum(a == amount for _, a in missed), amount))
    if missed:
        reasons.append(f"Rendez-vous de suivi {year} non honorés sans excuse.")
    if not lines:
        return None
    return Action("facture_complementaire", lines, origin=active, reason=" ".join(reasons),
                  hires=[h.salarie_id for h in hires], missed=[rdv for rdv, _ in missed])


def _insert_piece(conn, billing: Billing, tariff: Tariff, kind: str, adherent: str, year: int, issued: dt.date,
                  lines: list[Line], now: str, declaration_id=None, origin_id=None, reason: str = "",
                  sign: int = 1, schedule=None, mention: str = "") -> Invoice:
    """Write a piece with the next number, in the caller's transaction."""
    t = totals(lines, tariff.vat_rate)
    ht, tva, ttc = t.ht * sign, t.tva * sign, t.ttc * sign
    schedule = schedule or instalments(issued, ttc, tariff)
    issuer = billing.require_issuer()
    piece = Invoice(id=None, numero="", type=kind, adherent=adherent, annee=year, date_emission=issued,
                    date_exigibilite=schedule[-1][0], total_ht=ht, total_tva=tva, total_ttc=ttc, taux_tva=tariff.vat_rate,
                    motif=reason or None, declaration_id=declaration_id, origine_id=origin_id,
                    emetteur=issuer_snapshot(issuer), client=client_snapshot(conn, adherent),
                    conditions=conditions(billing, tariff, year, mention))
    rows = [InvoiceLine(ln.label, ln.quantity, ln.unit_price * sign, ln.amount * sign, ln.category) for ln in lines]
    return store.issue(conn, SERIES, billing.first_number, piece, rows, schedule, now)


def _credit_note(conn, billing: Billing, tariff: Tariff, origin: Invoice, adherent: str, year: int, issued: dt.date, now: str,
                 reason: str) -> Invoice:
    """A credit note for the whole invoice: its lines with opposite amounts, citing its number and date."""
    lines = [Line(ln.label, ln.quantity, ln.unit_price, ln.category) for ln in store.invoice_lines(conn, origin.id)]
    rate = origin.taux_tva
    same_rate = Tariff(**{**asdict(tariff), "vat_rate": rate})
    full = f"{reason} — avoir sur la facture n° {origin.numero} du {date_fr(origin.date_emission)}"
    t = totals(lines, rate)
    return _insert_piece(conn, billing, same_rate, "avoir", adherent, year, issued, lines, now, origin_id=origin.id,
                         reason=full, sign=-1, schedule=[(issued, -t.ttc)])


def check_chronology(conn, issued: dt.date) -> None:
    last = store.last_issue_date(conn)
    if last and issued < last:
        raise BillingError(f"La date d'émission {date_fr(issued)} est antérieure à celle de la dernière pièce émise "
                           f"({date_fr(last)}) : la numérotation doit rester chronologique.")


def check_issue_date(year: int, issued: dt.date, today: dt.date) -> None:
    """An issue date is never in the future (a piece cannot be undone, and every later run would be refused as
    earlier than it) and lies in the billed year or the next one (late declarations, corrections)."""
    if issued > today:
        raise BillingError(f"La date d'émission {date_fr(issued)} est dans le futur (nous sommes le {date_fr(today)}) : "
                           "une pièce ne peut pas être datée d'un jour qui n'est pas encore venu. Rien n'a été émis.")
    first, last = dt.date(year, 1, 1), dt.date(year + 1, 12, 31)
    if not first <= issued <= last:
        raise BillingError(f"La date d'émission {date_fr(issued)} ne convient pas à la facturation {year} : elle doit "
                           f"être comprise entre le {date_fr(first)} et le {date_fr(last)}. Rien n'a été émis.")


def invoice_year(conn, billing: Billing, year: int, issued: dt.date, now: dt.datetime | None = None,
                 on_issued=None) -> RunReport:
    """Issue every piece the year calls for, on `issued` (not after `now`, the service's clock). `on_issued(piece)`
    runs after each commit (the documents), outside the transaction."""
    tariff = billing.tariff(year)
    billing.require_issuer()
    now = now or dt.datetime.now()
    check_issue_date(year, issued, now.date())
    check_chronology(conn, issued)
    now_s = now.isoformat(timespec="seconds")
    report = RunReport()
    for member in registry.members(conn):
        adherent = member.numero
        for _ in range(10):  # at most: link or credit note, invoice, complementary invoice
            # One transaction per piece: its situation read again, its number taken and the piece written
            # together, so that a run stopped at any point leaves neither a gap nor a duplicate.
            with transaction(conn):
                action = decide(conn, billing, tariff, adherent, decl.situation_on(member, issued, year), year, issued)
                piece = None
                if action is not None and action.kind == "lien":
                    declared.link_invoice(conn, action.declaration_id, action.origin.id)
                    report.notes.append(f"{adherent} : déclaration corrigée sans changement de montant, "
                                        f"la facture {action.origin.numero} reste en vigueur.")
                elif action is not None and action.kind == "avoir":
                    piece = _credit_note(conn, billing, tariff, action.origin, adherent, year, issued, now_s, action.reason)
                elif action is not None and action.kind != "rien":
                    piece = _insert_piece(conn, billing, tariff, action.kind, adherent, year, issued, action.lines, now_s,
                                          declaration_id=action.declaration_id,
                                          origin_id=None, reason=action.reason, mention=action.mention)
                    if action.declaration_id is not None:
                        declared.link_invoice(conn, action.declaration_id, piece.id)
                    store.record_billed_hires(conn, action.hires, year, piece.id)
                    missed_store.record_billed_missed(conn, action.missed, piece.id)
                if piece is not None:
                    faults.point("facturer-avant-commit")
            if action is None or action.kind == "rien":
                if action is not None and action.reason not in report.notes:
                    report.notes.append(action.reason)
                break
            if piece is not None:
                report.issued.append(piece)
                log.info("piece numero=%s type=%s adherent=%s ttc=%s", piece.numero, piece.type, adherent, piece.total_ttc)
                faults.point("facturer-apres-commit")
                if on_issued:
                    on_issued(piece)
        else:
            raise BillingError(f"Facturation de l'adhérent {adherent} : situation incohérente, arrêt par sécurité.")
    return report


def summary_line(p: Invoice) -> str:
    return f"{TYPE_LABELS[p.type]} n° {p.numero} — adhérent {p.adherent} — {money_fr(p.total_ttc)} TTC"
