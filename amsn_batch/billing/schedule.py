"""What each adhérent owes: the invoice list ("Mes factures", paid ones apart), the payment schedule ("Mon
échéancier": N°, Date d'émission, Date d'exigibilité, Type de pièce, Débit, Crédit, Période, solde),
payments recorded from the accounting file, and disputes (contentieux) that keep an invoice out of the
schedule. Everything here reads the store; payments and disputes are the only writes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .. import intake
from ..read import read_table
from ..read.headers import map_headers
from ..rules.values import parse_date
from ..store import billing as store
from ..store.billing import Invoice, Payment
from ..vocab import vocabulary
from .errors import BillingError
from .invoices import CENT, TYPE_LABELS

ZERO = Decimal("0.00")


@dataclass
class InvoiceState:
    """An issued piece with what was paid on it, the credit notes citing it and whether it is disputed."""

    invoice: Invoice
    paid: Decimal  # payments recorded
    credited: Decimal  # credit notes citing it (positive amount)
    disputed: bool
    origin_settled: bool = False  # credit note: whether the invoice it cancels is settled

    @property
    def label(self) -> str:
        return TYPE_LABELS[self.invoice.type]

    @property
    def period(self) -> str:
        return f"Année {self.invoice.annee}"

    @property
    def balance(self) -> Decimal:
        """What is still due on an invoice (negative when overpaid); 0 for a credit note."""
        return self.invoice.total_ttc - self.paid - self.credited if self.invoice.total_ttc > 0 else ZERO

    @property
    def settled(self) -> bool:
        """Acquittée: an invoice fully paid or cancelled by its credit note; a credit note once it has been
        set against the invoice it cancels."""
        return self.origin_settled if self.invoice.type == "avoir" else self.balance <= 0


def invoice_states(conn, adherent: str) -> list[InvoiceState]:
    """The pieces of an adhérent, in numbering order, with their payments, credit notes and disputes."""
    pieces = store.invoices(conn, adherent)
    paid: dict[int, Decimal] = {}
    for p in store.payments(conn, adherent):
        paid[p.facture_id] = paid.get(p.facture_id, ZERO) + p.amount
    credited: dict[int, Decimal] = {}
    for piece in pieces:
        if piece.origine_id is not None:
            credited[piece.origine_id] = credited.get(piece.origine_id, ZERO) - piece.total_ttc
    disputed = store.disputed(conn)
    out = [InvoiceState(piece, paid.get(piece.id, ZERO), credited.get(piece.id, ZERO), piece.id in disputed) for piece in pieces]
    by_id = {s.invoice.id: s for s in out}
    for s in out:
        if s.invoice.type == "avoir":
            origin = by_id.get(s.invoice.origine_id)
            s.origin_settled = origin is not None and origin.settled
    return out


@dataclass
class ScheduleRow:
    numero: str
    date_emission: str
    date_exigibilite: str
    type_piece: str
    debit: Decimal
    credit: Decimal
    periode: str
    solde: Decimal = ZERO


def schedule(conn, adherent: str) -> list[ScheduleRow]:
    """The échéancier: each instalment of each invoice, each credit note and each payment, in date order,
    with the running balance; pieces under dispute (and their payments) left out."""
    states = {s.invoice.id: s for s in invoice_states(conn, adherent)}
    parts = store.instalments(conn, adherent=adherent)
    per_piece: dict[int, int] = {}
    for part in parts:
        per_piece[part.facture_id] = per_piece.get(part.facture_id, 0) + 1
    entries = []
    for part in parts:
        s = states[part.facture_id]
        if s.disputed:
            continue
        n, rang, numero = per_piece[part.facture_id], part.rang, s.invoice.numero
        value = part.amount
        entries.append(ScheduleRow(numero if n == 1 else f"{numero} ({rang}/{n})", s.invoice.date_emission.isoformat(),
                                   part.due.isoformat(), s.label if n == 1 else f"{s.label} — échéance {rang}/{n}",
                                   value if value > 0 else ZERO, -value if value < 0 else ZERO, s.period))
    for p in store.payments(conn, adherent):
        s = states[p.facture_id]
        if s.disputed:
            continue
        entries.append(ScheduleRow(s.invoice.numero, p.day, p.day, "Règlement", ZERO, p.amount, s.period))
    entries.sort(key=lambda e: (e.date_exigibilite, e.date_emission, e.type_piece == "Règlement"))
    balance = ZERO
    for e in entries:
        balance += e.debit - e.credit
        e.solde = balance
    return entries


# --- disputes ---------------------------------------------------------------------------------------


def set_dispute(conn, numero: str, active: bool, reason: str | None, now: dt.datetime) -> str:
    """Set or lift the contentieux flag of an invoice (history kept). Returns the adhérent."""
    piece = store.invoice_by_number(conn, numero.strip())
    if piece is None:
        raise BillingError(f"Facture inconnue : {numero}")
    if piece.type == "avoir":
        raise BillingError(f"La pièce {numero} est un avoir : seule une facture peut être mise en contentieux.")
    if not store.set_dispute(conn, piece.id, active, reason, now.isoformat(timespec="seconds")):
        raise BillingError(f"La facture {numero} est déjà {'en contentieux' if active else 'hors contentieux'}.")
    return piece.adherent


# --- payments ---------------------------------------------------------------------------------------


@dataclass
class PaymentImport:
    recorded: int
    rows: int
    problems: list[str]  # French, one per refused line
    adherents: set[str]
    already: bool = False


def parse_amount(text: str) -> Decimal | None:
    t = re.sub(r"[\s\u00a0\u202f€]", "", text or "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d{1,2})?", t):  # 1.234,56
        t = t.replace(".", "")
    t = t.replace(",", ".")
    try:
        value = Decimal(t)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.quantize(CENT):
        return None
    return value


def import_payments(conn, path: Path, now: dt.datetime) -> PaymentImport:
    """Record payments from a file (N° facture, Date, Montant). A line with a problem is refused and said;
    the others are recorded in one transaction. The same file (same SHA-256) is never recorded twice."""
    sha = intake.sha256(path)
    if store.payment_file_known(conn, sha):
        return PaymentImport(0, 0, [], set(), already=True)
    vocab = vocabulary("paiements")
    table = read_table(path, vocab)
    headers = map_headers(table.headers, vocab)
    if headers.missing:
        raise BillingError("Colonne(s) absente(s) du fichier des paiements : " + ", ".join(f.label for f in headers.missing)
                           + f". En-têtes attendus : {', '.join(f.label for f in vocab.fields)}.")
    known = {piece.numero: piece for piece in store.invoices(conn)}
    good, problems, members = [], [], set()
    for line, numero, day, amount in zip(table.lines, table.frame[headers.columns["numero"]], table.frame[headers.columns["date"]],
                                         table.frame[headers.columns["montant"]]):
        numero = str(numero).strip()
        parsed_day = parse_date(str(day))
        value = parse_amount(str(amount))
        if numero not in known:
            problems.append(f"ligne {line} : facture « {numero} » inconnue, paiement non enregistré.")
        elif known[numero].type == "avoir":
            problems.append(f"ligne {line} : « {numero} » est un avoir, pas une facture : paiement non enregistré.")
        elif parsed_day is None:
            problems.append(f"ligne {line} : date « {day} » invalide (JJ/MM/AAAA attendu), paiement non enregistré.")
        elif value is None or value <= 0:
            problems.append(f"ligne {line} : montant « {amount} » invalide (par exemple 833,76), paiement non enregistré.")
        else:
            good.append(Payment(known[numero].id, parsed_day.isoformat(), value, int(line)))
            members.add(known[numero].adherent)
    store.record_payments(conn, sha, path.name, len(table), good, now.isoformat(timespec="seconds"))
    return PaymentImport(len(good), len(table), problems, members)

