"""The payment schedule ("Mon échéancier": N°, Date d'émission, Date d'exigibilité, Type de pièce, Débit,
Crédit, Période, solde), payments recorded from the accounting file (each recognised by its content, so a
statement exported again records nothing twice), and disputes (contentieux) that keep an invoice out of the
schedule. What is due and settled comes from balances.py; payments and disputes are the only writes here.
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
from ..store.billing import Payment
from ..vocab import vocabulary
from . import balances
from .errors import BillingError
from .invoices import CENT

ZERO = Decimal("0.00")


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
    """The échéancier: each instalment of each invoice, each credit note and each payment, in the order of
    the movements (the day of each; on one day the invoices and their instalments, then the payments, then
    the credit notes), with the running balance, which ends at the member's balance (negative: a credit);
    pieces under dispute (and their payments) left out."""
    bal = balances.member_balance(conn, adherent)
    parts = store.instalments(conn, adherent=adherent)
    per_piece: dict[int, int] = {}
    for part in parts:
        per_piece[part.facture_id] = per_piece.get(part.facture_id, 0) + 1
    order = {p.invoice.id: i for i, p in enumerate(bal.pieces)}
    entries = []
    for part in parts:
        s = bal.by_id[part.facture_id]
        if s.disputed:
            continue
        n, rang, numero = per_piece[part.facture_id], part.rang, s.invoice.numero
        value = part.amount
        row = ScheduleRow(numero if n == 1 else f"{numero} ({rang}/{n})", s.invoice.date_emission.isoformat(),
                          part.due.isoformat(), s.label if n == 1 else f"{s.label} — échéance {rang}/{n}",
                          value if value > 0 else ZERO, -value if value < 0 else ZERO, s.period)
        entries.append(((s.invoice.date_emission.isoformat(), 2 if s.is_credit_note else 0, order[part.facture_id], rang), row))
    for i, p in enumerate(bal.payments):
        s = bal.by_id[p.facture_id]
        if s.disputed:
            continue
        entries.append(((p.day, 1, i, 0), ScheduleRow(s.invoice.numero, p.day, p.day, "Règlement", ZERO, p.amount, s.period)))
    rows = [row for _, row in sorted(entries, key=lambda e: e[0])]
    balance = ZERO
    for e in rows:
        balance += e.debit - e.credit
        e.solde = balance
    return rows


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
    already: bool = False  # the very same file was imported before
    duplicates: int = 0  # lines whose payment was already recorded (same invoice, date, amount, reference)


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


def _same_payment(a: Payment, b: Payment) -> bool:
    """Same invoice, day and amount; and the same bank reference when both have one."""
    return (a.facture_id, a.day, a.amount) == (b.facture_id, b.day, b.amount) and (
        not a.reference or not b.reference or a.reference == b.reference)


def import_payments(conn, path: Path, now: dt.datetime) -> PaymentImport:
    """Record payments from a file (N° facture, Date, Montant, and optionally the bank's Référence). A line with
    a problem is refused and said; a payment already recorded (the same statement exported again) is counted
    apart; the others are recorded in one transaction. The very same file (same SHA-256) is not read again."""
    sha = intake.sha256(path)
    if store.payment_file_known(conn, sha):
        return PaymentImport(0, 0, [], set(), already=True)
    vocab = vocabulary("paiements")
    table = read_table(path, vocab)
    headers = map_headers(table.headers, vocab)
    if headers.missing:
        raise BillingError("Colonne(s) absente(s) du fichier des paiements : " + ", ".join(f.label for f in headers.missing)
                           + f". En-têtes attendus : {', '.join(f.label for f in vocab.fields if f.required)}.")
    pieces = store.invoices(conn)
    known = {piece.numero: piece for piece in pieces}
    cancelled_by = {piece.origine_id: piece for piece in pieces if piece.origine_id is not None}
    unmatched = store.payments(conn)  # recorded ones not yet recognised in this file
    refs = table.frame[headers.columns["reference"]] if "reference" in headers.columns else [""] * len(table)
    good, problems, members, duplicates = [], [], set(), 0
    for line, numero, day, amount, ref in zip(table.lines, table.frame[headers.columns["numero"]], table.frame[headers.columns["date"]],
                                              table.frame[headers.columns["montant"]], refs):
        numero, ref = str(numero).strip(), str(ref or "").strip() or None
        parsed_day = parse_date(str(day))
        value = parse_amount(str(amount))
        piece = known.get(numero)
        avoir = cancelled_by.get(piece.id) if piece else None
        if piece is None:
            problems.append(f"ligne {line} : facture « {numero} » inconnue, paiement non enregistré.")
        elif piece.type == "avoir":
            problems.append(f"ligne {line} : « {numero} » est un avoir, pas une facture : paiement non enregistré.")
        elif parsed_day is None:
            problems.append(f"ligne {line} : date « {day} » invalide (JJ/MM/AAAA attendu), paiement non enregistré.")
        elif value is None or value <= 0:
            problems.append(f"ligne {line} : montant « {amount} » invalide (par exemple 833,76), paiement non enregistré.")
        elif parsed_day < piece.date_emission:
            problems.append(f"ligne {line} : paiement du {parsed_day:%d/%m/%Y} antérieur à la facture {numero} du "
                            f"{piece.date_emission:%d/%m/%Y} : paiement non enregistré (vérifiez le n° de facture ou la date).")
        elif avoir is not None and parsed_day >= avoir.date_emission:
            problems.append(f"ligne {line} : la facture {numero} est annulée par l'avoir {avoir.numero} du "
                            f"{avoir.date_emission:%d/%m/%Y} : paiement non enregistré (à porter sur la facture en vigueur).")
        else:
            payment = Payment(piece.id, parsed_day.isoformat(), value, int(line), ref)
            twin = next((p for p in unmatched if _same_payment(p, payment)), None)
            if twin is not None:
                unmatched.remove(twin)
                duplicates += 1
                continue
            good.append(payment)
            members.add(piece.adherent)
    store.record_payments(conn, sha, path.name, len(table), good, now.isoformat(timespec="seconds"))
    return PaymentImport(len(good), len(table), problems, members, duplicates=duplicates)
