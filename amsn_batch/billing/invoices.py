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
import json
import logging
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from .. import faults
from ..reports.formats import date_fr, money_fr
from . import declarations as decl
from .tariffs import Billing, Issuer, Tariff

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
MAIN_TYPES = ("facture", "facture_office")


class BillingError(Exception):
    """A billing request that cannot be carried out; the message is French."""


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


def headcount_lines(counts: dict[str, int], tariff: Tariff, year: int) -> list[Line]:
    """The fee per worker for every worker (each counts as one unit), then the supplement per category."""
    total = sum(counts.values())
    lines = [Line(f"Cotisation {year} : salariés suivis", total, tariff.fee_per_worker)]
    for cat in decl.CATEGORIES:
        supplement = tariff.supplements.get(cat)
        if supplement and counts.get(cat, 0):
            lines.append(Line(f"Supplément {CATEGORY_LABELS[cat]}", counts[cat], supplement, cat))
    return lines


# --- due dates (L441-10) ----------------------------------------------------------------------------


def _end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def due_date(issued: dt.date, days: int, end_of_month: bool) -> dt.date:
    """At most 60 days from the invoice date, or 45 days end of month (the tariff's terms, checked at load)."""
    day = issued + dt.timedelta(days=days)
    return _end_of_month(day) if end_of_month else day


def instalments(issued: dt.date, amount: Decimal, tariff: Tariff) -> list[tuple[dt.date, Decimal]]:
    """The TTC split into the tariff's instalments, spread evenly up to the payment term; the cents that do not
    divide go to the first one. Every due date stays within the legal term."""
    n = tariff.instalments if amount > 0 else 1
    share = (amount / n).quantize(CENT, rounding=ROUND_DOWN)
    parts = [share] * n
    parts[0] += amount - share * n
    return [(due_date(issued, round(tariff.payment_days * (i + 1) / n), tariff.end_of_month), parts[i]) for i in range(n)]


# --- parties ----------------------------------------------------------------------------------------


def issuer_snapshot(issuer: Issuer) -> dict:
    return asdict(issuer)


def client_snapshot(conn, adherent: str) -> dict:
    row = conn.execute("SELECT raison_sociale, tva, email_facturation FROM adherents WHERE numero=?", (adherent,)).fetchone()
    est = conn.execute("SELECT siret, adresse, code_postal, ville FROM etablissements WHERE adherent=? ORDER BY siret LIMIT 1",
                       (adherent,)).fetchone() or ("", "", "", "")
    from ..rules.identifiers import vat_siren

    siren = (vat_siren(row[1]) if row[1] else "") or (est[0] or "")[:9]
    return {"numero": adherent, "name": row[0], "vat": row[1] or "", "email": row[2] or "", "siren": siren,
            "siret": est[0] or "", "address": est[1] or "", "postcode": est[2] or "", "city": est[3] or ""}


def conditions(billing: Billing, tariff: Tariff, year: int) -> dict:
    terms = (f"{tariff.payment_days} jours fin de mois" if tariff.end_of_month
             else f"{tariff.payment_days} jours à compter de la date de facture")
    return {
        "periode": f"Année {year}", "periode_debut": f"{year}-01-01", "periode_fin": f"{year}-12-31",
        "delai": terms, "echeances": tariff.instalments, "taux_tva": str(tariff.vat_rate),
        "tva_sur_debits": billing.vat_on_debits, "categorie_operation": "Prestation de services",
    }


# --- reading the state ------------------------------------------------------------------------------


@dataclass
class Piece:
    id: int
    numero: str
    type: str
    adherent: str
    annee: int
    date_emission: str
    total_ttc: Decimal


def active_main_invoice(conn, adherent: str, year: int):
    """(id, numero, type, declaration_id, date_emission) of the invoice in force (not cancelled), or None."""
    return conn.execute(
        "SELECT f.id, f.numero, f.type, f.declaration_id, f.date_emission FROM factures f WHERE f.adherent=? AND f.annee=? "
        "AND f.type IN ('facture','facture_office') AND NOT EXISTS (SELECT 1 FROM factures a WHERE a.origine_id=f.id) "
        "ORDER BY f.id DESC LIMIT 1", (adherent, year)).fetchone()


def invoice_lines(conn, facture_id: int) -> list[tuple[str, int, str]]:
    return [(lbl, q, pu) for lbl, q, pu in conn.execute(
        "SELECT libelle, quantite, prix_unitaire_ht FROM factures_lignes WHERE facture_id=? ORDER BY rang", (facture_id,))]


def last_known_headcount(conn, adherent: str, year: int) -> tuple[dict[str, int], str]:
    """For a facture d'office: the employees present in the store, else the last confirmed declaration."""
    per_site = decl.store_headcount(conn, adherent)
    counts = {c: sum(s[c] for s in per_site.values()) for c in decl.CATEGORIES}
    if sum(counts.values()):
        return counts, "effectif connu du service (fichiers de mouvements)"
    prev = conn.execute("SELECT id, annee FROM declarations WHERE adherent=? AND annee<? AND etat='confirmee' "
                        "ORDER BY annee DESC, id DESC LIMIT 1", (adherent, year)).fetchone()
    if prev:
        return decl.declaration_counts(conn, prev[0]), f"dernière déclaration des effectifs ({prev[1]})"
    return counts, ""


# --- deciding and issuing ---------------------------------------------------------------------------


@dataclass
class Action:
    kind: str  # facture | facture_office | facture_complementaire | avoir | lien
    lines: list[Line] = field(default_factory=list)
    declaration_id: int | None = None
    origin: tuple | None = None  # active invoice row, for a credit note or a link
    reason: str = ""
    hires: list[int] = field(default_factory=list)


@dataclass
class RunReport:
    issued: list[Piece] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _missing_hires(conn, adherent: str, year: int, since: str, until: dt.date, listed: set[str]) -> list[tuple[int, str]]:
    """Employees hired in the year after the declaration (or the facture d'office), not billed yet."""
    rows = conn.execute(
        "SELECT s.id, s.nir FROM salaries_actuels s WHERE s.adherent=? AND s.date_embauche > ? AND s.date_embauche <= ? "
        "AND substr(s.date_embauche, 1, 4) = ? AND NOT EXISTS (SELECT 1 FROM embauches_facturees e WHERE e.salarie_id=s.id "
        "AND e.annee=?) ORDER BY s.id", (adherent, since[:10], until.isoformat(), str(year), year)).fetchall()
    return [(i, nir) for i, nir in rows if nir not in listed]


def decide(conn, billing: Billing, tariff: Tariff, adherent: str, situation: str, year: int, today: dt.date) -> Action | None:
    current = decl.current_declaration(conn, adherent, year)
    active = active_main_invoice(conn, adherent, year)
    if current is not None:
        decl_id, received, covered_by = current
        if active is not None and covered_by == active[0]:
            return _complement(conn, tariff, adherent, year, today, received, decl_id, active)
        lines = headcount_lines(decl.declaration_counts(conn, decl_id), tariff, year)
        if active is not None:
            same = [(ln.label, ln.quantity, str(ln.unit_price)) for ln in lines] == invoice_lines(conn, active[0])
            if active[2] == "facture" and same:
                return Action("lien", declaration_id=decl_id, origin=active)
            reason = ("Annulation de la facture d'office : déclaration des effectifs reçue" if active[2] == "facture_office"
                      else "Annulation : déclaration des effectifs corrigée")
            return Action("avoir", origin=active, reason=reason)
        return Action("facture", lines, declaration_id=decl_id)
    if active is not None:
        return _complement(conn, tariff, adherent, year, today, active[4], None, active)
    if situation in decl.NOT_DECLARABLE:
        return None
    win = decl.window(conn, billing, adherent, year)
    if not win.closed_at(today):
        return None
    counts, source = last_known_headcount(conn, adherent, year)
    if not sum(counts.values()):
        return Action("rien", reason=f"{adherent} : aucune déclaration et aucun effectif connu, pas de facture d'office.")
    return Action("facture_office", headcount_lines(counts, tariff, year),
                  reason=f"Facture d'office : déclaration des effectifs {year} non reçue ; établie sur le {source}.")


def _complement(conn, tariff: Tariff, adherent: str, year: int, today: dt.date, since: str, decl_id, active) -> Action | None:
    if not tariff.fee_per_missing_hire:
        return None
    listed = {r[0] for r in conn.execute("SELECT nir FROM declarations_salaries WHERE declaration_id=? AND nir != ''",
                                         (decl_id,))} if decl_id else set()
    hires = _missing_hires(conn, adherent, year, since, min(today, dt.date(year, 12, 31)), listed)
    if not hires:
        return None
    return Action("facture_complementaire", [Line(f"Embauches {year} non déclarées", len(hires), tariff.fee_per_missing_hire)],
                  origin=active, reason=f"Salariés embauchés en {year} après la déclaration des effectifs.",
                  hires=[i for i, _ in hires])


def _next_number(conn, billing: Billing) -> int:
    conn.execute("INSERT INTO numerotation (serie, dernier) VALUES (?, ?) ON CONFLICT(serie) DO NOTHING",
                 (SERIES, billing.first_number - 1))
    return conn.execute("UPDATE numerotation SET dernier = dernier + 1 WHERE serie=? RETURNING dernier", (SERIES,)).fetchone()[0]


def _insert_piece(conn, billing: Billing, tariff: Tariff, kind: str, adherent: str, year: int, issued: dt.date,
                  lines: list[Line], now: str, declaration_id=None, origin_id=None, reason: str = "",
                  sign: int = 1, schedule=None) -> Piece:
    seq = _next_number(conn, billing)
    numero = str(seq)
    t = totals(lines, tariff.vat_rate)
    ht, tva, ttc = t.ht * sign, t.tva * sign, t.ttc * sign
    schedule = schedule or instalments(issued, ttc, tariff)
    issuer = billing.require_issuer()
    cur = conn.execute(
        "INSERT INTO factures (numero, sequence, type, adherent, annee, date_emission, date_exigibilite, declaration_id, "
        "origine_id, motif, total_ht, total_tva, total_ttc, taux_tva, emetteur, client, conditions, cree_le) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (numero, seq, kind, adherent, year, issued.isoformat(), schedule[-1][0].isoformat(), declaration_id, origin_id,
         reason or None, str(ht), str(tva), str(ttc), str(tariff.vat_rate),
         json.dumps(issuer_snapshot(issuer), ensure_ascii=False), json.dumps(client_snapshot(conn, adherent), ensure_ascii=False),
         json.dumps(conditions(billing, tariff, year), ensure_ascii=False), now))
    fid = cur.lastrowid
    conn.executemany(
        "INSERT INTO factures_lignes (facture_id, rang, libelle, categorie, quantite, prix_unitaire_ht, montant_ht) VALUES (?,?,?,?,?,?,?)",
        ((fid, i + 1, ln.label, ln.category, ln.quantity, str(ln.unit_price * sign), str(ln.amount * sign))
         for i, ln in enumerate(lines)))
    conn.executemany("INSERT INTO factures_echeances (facture_id, rang, date_exigibilite, montant) VALUES (?,?,?,?)",
                     ((fid, i + 1, d.isoformat(), str(a)) for i, (d, a) in enumerate(schedule)))
    return Piece(fid, numero, kind, adherent, year, issued.isoformat(), ttc)


def _credit_note(conn, billing: Billing, tariff: Tariff, origin, adherent: str, year: int, issued: dt.date, now: str,
                 reason: str) -> Piece:
    """A credit note for the whole invoice: its lines with opposite amounts, citing its number and date."""
    rows = conn.execute("SELECT libelle, categorie, quantite, prix_unitaire_ht FROM factures_lignes WHERE facture_id=? ORDER BY rang",
                        (origin[0],)).fetchall()
    lines = [Line(lbl, q, Decimal(pu), cat) for lbl, cat, q, pu in rows]
    rate = Decimal(conn.execute("SELECT taux_tva FROM factures WHERE id=?", (origin[0],)).fetchone()[0])
    same_rate = Tariff(**{**asdict(tariff), "vat_rate": rate})
    full = f"{reason} — avoir sur la facture n° {origin[1]} du {date_fr(origin[4])}"
    t = totals(lines, rate)
    return _insert_piece(conn, billing, same_rate, "avoir", adherent, year, issued, lines, now, origin_id=origin[0],
                         reason=full, sign=-1, schedule=[(issued, -t.ttc)])


def check_chronology(conn, issued: dt.date) -> None:
    last = conn.execute("SELECT MAX(date_emission) FROM factures").fetchone()[0]
    if last and issued.isoformat() < last:
        raise BillingError(f"La date d'émission {date_fr(issued)} est antérieure à celle de la dernière pièce émise "
                           f"({date_fr(last)}) : la numérotation doit rester chronologique.")


def invoice_year(conn, billing: Billing, year: int, issued: dt.date, now: dt.datetime | None = None,
                 on_issued=None) -> RunReport:
    """Issue every piece the year calls for, on `issued`. `on_issued(piece)` runs after each commit
    (the documents), outside the transaction."""
    tariff = billing.tariff(year)
    billing.require_issuer()
    check_chronology(conn, issued)
    now_s = (now or dt.datetime.now()).isoformat(timespec="seconds")
    report = RunReport()
    members = conn.execute("SELECT numero, statut FROM adherents ORDER BY numero").fetchall()
    for adherent, situation in members:
        for _ in range(10):  # at most: link or credit note, invoice, complementary invoice
            conn.execute("BEGIN IMMEDIATE")
            try:
                action = decide(conn, billing, tariff, adherent, situation, year, issued)
                piece = None
                if action is None or action.kind == "rien":
                    conn.execute("COMMIT")
                    if action is not None and action.reason not in report.notes:
                        report.notes.append(action.reason)
                    break
                if action.kind == "lien":
                    conn.execute("UPDATE declarations SET facture_id=? WHERE id=?", (action.origin[0], action.declaration_id))
                    report.notes.append(f"{adherent} : déclaration corrigée sans changement de montant, "
                                        f"la facture {action.origin[1]} reste en vigueur.")
                elif action.kind == "avoir":
                    piece = _credit_note(conn, billing, tariff, action.origin, adherent, year, issued, now_s, action.reason)
                else:
                    piece = _insert_piece(conn, billing, tariff, action.kind, adherent, year, issued, action.lines, now_s,
                                          declaration_id=action.declaration_id,
                                          origin_id=None, reason=action.reason)
                    if action.declaration_id is not None:
                        conn.execute("UPDATE declarations SET facture_id=? WHERE id=?", (piece.id, action.declaration_id))
                    conn.executemany("INSERT INTO embauches_facturees (salarie_id, annee, facture_id) VALUES (?,?,?)",
                                     ((h, year, piece.id) for h in action.hires))
                if piece is not None:
                    faults.point("facturer-avant-commit")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if piece is not None:
                report.issued.append(piece)
                log.info("piece numero=%s type=%s adherent=%s ttc=%s", piece.numero, piece.type, adherent, piece.total_ttc)
                faults.point("facturer-apres-commit")
                if on_issued:
                    on_issued(piece)
        else:
            raise BillingError(f"Facturation de l'adhérent {adherent} : situation incohérente, arrêt par sécurité.")
    return report


def summary_line(p: Piece) -> str:
    return f"{TYPE_LABELS[p.type]} n° {p.numero} — adhérent {p.adherent} — {money_fr(p.total_ttc)} TTC"
