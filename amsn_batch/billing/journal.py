"""Accounting outputs of billing, written from the store and balances.py (so they agree with every other
document):

- the journal of a period: the sales journal (VE: each member's account 411, the member as auxiliary account,
  against sales 706 and VAT collected 44571) and the receipts journal (BQ: bank 512 against 411), lettered
  from balances.py (a settled invoice and the payments and credit notes set against it share a code). With
  VAT on receipts (the invoice says `tva_sur_debits = false`), the VAT of an invoice waits on 44574 and moves to
  44571 as the invoice is paid, pro rata, in the entry of the payment (or of the piece whose issue set a
  credit against it). Written for people (CSV, French formats) or as the FEC, the "fichier des écritures
  comptables" of article A47 A-1 of the Livre des procédures fiscales;
- the service-wide list of credits to refund (avoirs et trop-perçus set against no invoice).

Account numbers and journal codes come from `[facturation.comptes]` in the settings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..formats import date_fr, money_fr, safe_cell, write_atomic
from . import balances
from .balances import MemberBalance
from .errors import BillingError
from .invoices import CENT

ZERO = Decimal("0.00")
ACCOUNT_LABELS = {"client": "Clients", "ventes": "Prestations de services", "tva": "TVA collectée",
                  "tva_attente": "TVA collectée en attente", "banque": "Banque"}
JOURNAL_LABELS = {"journal": "Journal des ventes", "journal_banque": "Journal de banque"}


@dataclass(frozen=True)
class Line:
    account: str
    account_label: str
    debit: Decimal
    credit: Decimal
    aux: str = ""  # the member, on its account 411
    aux_label: str = ""
    lettering: str = ""
    lettering_day: dt.date | None = None


@dataclass(frozen=True)
class Entry:
    """One balanced accounting entry: a piece in the sales journal, a payment in the receipts journal."""

    journal: str
    journal_label: str
    number: str  # EcritureNum: the piece number, or R<payment id>
    day: dt.date
    piece_ref: str  # the invoice or credit note (a payment: the invoice it pays)
    piece_day: dt.date
    kind: str  # Facture, Avoir, ..., Règlement
    label: str
    lines: list[Line]

    @property
    def debit(self) -> Decimal:
        return sum((ln.debit for ln in self.lines), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((ln.credit for ln in self.lines), ZERO)


def _vat_moves(bal: MemberBalance, acc: dict) -> dict[tuple[str, int], list[Line]]:
    """VAT on receipts: for each invoice of the member whose VAT waits on payment, the part of its VAT that the
    money set against it (payments, and credits carried from payments) makes due, moved from 44574 to 44571 at
    each movement (back when a credit note releases a payment); by the movement's cause."""
    out: dict[tuple[str, int], list[Line]] = {}
    cash: dict[int, Decimal] = {}
    for m in bal.movements:
        inv = bal.by_id[m.invoice_id].invoice
        if m.payment_id is None or inv.conditions.get("tva_sur_debits") or inv.total_ttc <= 0 or not inv.total_tva:
            continue
        before = cash.get(inv.id, ZERO)
        cash[inv.id] = before + m.amount
        delta = ((inv.total_tva * cash[inv.id] / inv.total_ttc).quantize(CENT, ROUND_HALF_UP)
                 - (inv.total_tva * before / inv.total_ttc).quantize(CENT, ROUND_HALF_UP))
        if delta:
            pending, collected = (acc["tva_attente"], "tva_attente"), (acc["tva"], "tva")
            src, dst = (pending, collected) if delta > 0 else (collected, pending)
            out.setdefault(m.cause, []).extend([
                Line(src[0], ACCOUNT_LABELS[src[1]], abs(delta), ZERO),
                Line(dst[0], ACCOUNT_LABELS[dst[1]], ZERO, abs(delta))])
    return out


def _client_lines(bal: MemberBalance, acc: dict, amount: Decimal, parts: list, name: str) -> list[Line]:
    """The member's account for a credit of `amount` (a payment or a credit note), one line per invoice it
    is set against (with that invoice's lettering), and one for what is left as a credit."""
    out = []
    for imp in parts:
        target = bal.by_id[imp.facture_id]
        out.append(Line(acc["client"], ACCOUNT_LABELS["client"], ZERO, imp.amount, bal.adherent, name,
                        target.lettering or "", target.lettering_day))
    rest = amount - sum((imp.amount for imp in parts), ZERO)
    if rest or not out:
        out.append(Line(acc["client"], ACCOUNT_LABELS["client"], ZERO, rest, bal.adherent, name))
    return out


def entries(conn, billing, start: dt.date, end: dt.date) -> list[Entry]:
    """The entries of the period (pieces issued and payments received from `start` to `end`), by day, then
    journal, then number."""
    acc = billing.accounts
    out = []
    for bal in balances.all_balances(conn):
        moves = _vat_moves(bal, acc)
        imps = bal.imputations()
        for p in bal.pieces:
            inv = p.invoice
            if not start <= inv.date_emission <= end:
                continue
            name = inv.client["name"]
            vat = "tva" if inv.conditions.get("tva_sur_debits") else "tva_attente"
            if p.is_credit_note:
                lines = _client_lines(bal, acc, -inv.total_ttc, [i for i in imps if i.avoir_id == inv.id], name)
                lines += [Line(acc["ventes"], ACCOUNT_LABELS["ventes"], -inv.total_ht, ZERO),
                          Line(acc[vat], ACCOUNT_LABELS[vat], -inv.total_tva, ZERO)]
            else:
                lines = [Line(acc["client"], ACCOUNT_LABELS["client"], inv.total_ttc, ZERO, bal.adherent, name,
                              p.lettering or "", p.lettering_day),
                         Line(acc["ventes"], ACCOUNT_LABELS["ventes"], ZERO, inv.total_ht),
                         Line(acc[vat], ACCOUNT_LABELS[vat], ZERO, inv.total_tva)]
            lines += moves.get(("piece", inv.id), [])
            out.append(Entry(acc["journal"], JOURNAL_LABELS["journal"], inv.numero, inv.date_emission, inv.numero,
                             inv.date_emission, p.label, f"{p.label} {inv.numero} {name}", lines))
        for pay in bal.payments:
            day = dt.date.fromisoformat(pay.day)
            if not start <= day <= end:
                continue
            inv = bal.by_id[pay.facture_id].invoice
            name = inv.client["name"]
            lines = [Line(acc["banque"], ACCOUNT_LABELS["banque"], pay.amount, ZERO)]
            lines += _client_lines(bal, acc, pay.amount, [i for i in imps if i.paiement_id == pay.id], name)
            lines += moves.get(("payment", pay.id), [])
            label = f"Règlement {inv.numero} {name}" + (f" réf. {pay.reference}" if pay.reference else "")
            out.append(Entry(acc["journal_banque"], JOURNAL_LABELS["journal_banque"], f"R{pay.id}", day, inv.numero,
                             day, "Règlement", label, lines))
    out.sort(key=lambda e: (e.day, e.journal != acc["journal"], e.number.rjust(20)))
    for e in out:
        if e.debit != e.credit:
            raise BillingError(f"Écriture {e.number} déséquilibrée : débit {e.debit}, crédit {e.credit}.")
    return out


# --- outputs ----------------------------------------------------------------------------------------

JOURNAL_COLUMNS = ["Journal", "Date", "N° pièce", "Type de pièce", "Compte", "Compte auxiliaire", "Libellé", "Débit", "Crédit",
                   "Lettrage", "Date de lettrage"]
FEC_COLUMNS = ["JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum", "CompAuxLib",
               "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet", "ValidDate",
               "Montantdevise", "Idevise"]


@dataclass(frozen=True)
class Journal:
    path: Path
    debit: Decimal  # totals (a summary, never a row of the file)
    credit: Decimal
    pieces: int  # invoices and credit notes
    payments: int


def _fr_amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",") if value else ""


def _csv(headers: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(headers)
    for r in rows:
        w.writerow([safe_cell(v) for v in r])
    return "\ufeff" + buf.getvalue()


def journal_csv(items: list[Entry]) -> str:
    """For people: one row per line, French dates and amounts; no total row (totals are a summary)."""
    return _csv(JOURNAL_COLUMNS, [
        [e.journal, date_fr(e.day), e.piece_ref, e.kind, ln.account, ln.aux, e.label, _fr_amount(ln.debit),
         _fr_amount(ln.credit), ln.lettering, date_fr(ln.lettering_day)] for e in items for ln in e.lines])


def _fec_text(value: str) -> str:
    return " ".join(str(value).replace("|", " ").split())


def fec(items: list[Entry]) -> bytes:
    """The FEC (article A47 A-1 du LPF): a header line and the 18 fields, `|` separated, dates AAAAMMJJ,
    amounts with a decimal comma, ISO 8859-15."""
    def day(d: dt.date | None) -> str:
        return f"{d:%Y%m%d}" if d else ""

    def amount(v: Decimal) -> str:
        return f"{v:.2f}".replace(".", ",")

    rows = ["|".join(FEC_COLUMNS)]
    for e in items:
        for ln in e.lines:
            rows.append("|".join(_fec_text(v) for v in (
                e.journal, e.journal_label, e.number, day(e.day), ln.account, ln.account_label, ln.aux, ln.aux_label,
                e.piece_ref, day(e.piece_day), e.label, amount(ln.debit), amount(ln.credit), ln.lettering,
                day(ln.lettering_day) if ln.lettering else "", day(e.day), "", "")))
    return ("\r\n".join(rows) + "\r\n").encode("iso8859_15", errors="replace")


def write_journal(conn, settings, start: dt.date, end: dt.date, dest: Path | None = None, fmt: str = "csv") -> Journal:
    """The journal of the period as CSV (by default in the `[facturation] comptabilite` folder) or as the FEC
    (`dest` a folder: named <SIREN>FEC<AAAAMMJJ of `end`>.txt)."""
    if end < start:
        raise BillingError(f"Période inversée : le {start:%d/%m/%Y} est après le {end:%d/%m/%Y} (--du doit précéder --au).")
    items = entries(conn, settings.billing, start, end)
    if fmt == "fec":
        name = f"{settings.billing.require_issuer().siren}FEC{end:%Y%m%d}.txt"
        if dest is None:
            path = settings.billing.accounting / name
        else:
            path = dest / name if dest.is_dir() else dest
        write_atomic(path, fec(items))
    else:
        path = dest or settings.billing.accounting / f"journal-ventes-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        write_atomic(path, journal_csv(items))
    debit = sum((e.debit for e in items), ZERO)
    credit = sum((e.credit for e in items), ZERO)
    return Journal(path, debit, credit, sum(1 for e in items if e.kind != "Règlement"),
                   sum(1 for e in items if e.kind == "Règlement"))


REFUND_COLUMNS = ["N° adhérent", "Raison sociale", "Origine", "N° pièce", "Date", "Montant à rembourser"]


def write_refunds(conn, settings) -> Path:
    """The service-wide list of the avoirs and overpayments set against no invoice (what no later invoice has
    absorbed), to refund: `avoirs-et-trop-percus-a-rembourser.csv` in the accounting folder."""
    rows = []
    for bal in balances.all_balances(conn):
        name = bal.pieces[-1].invoice.client["name"] if bal.pieces else ""
        rows += [[bal.adherent, name, c.label, c.numero, date_fr(c.day), money_fr(c.amount)] for c in bal.credits]
    path = settings.billing.accounting / "avoirs-et-trop-percus-a-rembourser.csv"
    write_atomic(path, _csv(REFUND_COLUMNS, rows))
    return path
