"""What each adhérent owes, computed in one place for every document ("Mes factures", the échéancier, the
accounting journals, the refunds list): what settles each invoice, what remains due on it, the member's credit.

The movements of a member are taken in date order (pieces before payments on the same day):

- an invoice is due in full; any credit the member has is set against it at once;
- a credit note is set against the invoice it cancels (in full: it cancels it in totality); when that invoice
  had already been paid, the payment is released and becomes a credit of the member;
- a payment is set against the invoice it names, up to what remains due; the excess (an overpayment) becomes
  a credit of the member;
- a credit (released payment, overpayment, credit note left over) is set against the member's invoices still
  due, oldest first, as soon as there is one; what is left is listed for refund.

Each change is a `Movement` (with what caused it, so the journal can post the VAT on receipts at the right
entry). An invoice fully settled is lettered: a code (AA, AB...) shared with the payments and credit notes
set against it, kept in the store with the day it was settled (`letter` writes it after each change).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ..store import billing as store
from ..store.billing import Imputation, Invoice, Payment
from .invoices import TYPE_LABELS

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Movement:
    """`amount` of a payment (payment_id) or of a credit note (credit_note_id) set against an invoice on `day`
    (negative: released from it); `cause`: ("piece", id) or ("payment", id), the recording that made it."""

    day: dt.date
    invoice_id: int
    amount: Decimal
    payment_id: int | None
    credit_note_id: int | None
    cause: tuple[str, int]


@dataclass
class PieceBalance:
    """An issued piece and what settles it. For an invoice: the payments and credit notes set against it and
    what remains due; for a credit note: how much of it has been set against invoices."""

    invoice: Invoice
    disputed: bool = False
    paid: Decimal = ZERO  # payments set against it (its own, or a member's credit carried over)
    credited: Decimal = ZERO  # credit notes set against it
    applied: Decimal = ZERO  # credit note: the part of it set against invoices
    lettering: str | None = None  # code, once settled
    lettering_day: dt.date | None = None

    @property
    def is_credit_note(self) -> bool:
        return self.invoice.total_ttc < 0

    @property
    def label(self) -> str:
        return TYPE_LABELS[self.invoice.type]

    @property
    def period(self) -> str:
        return f"Année {self.invoice.annee}"

    @property
    def due(self) -> Decimal:
        """What remains due on an invoice (0 for a credit note)."""
        return ZERO if self.is_credit_note else self.invoice.total_ttc - self.paid - self.credited

    @property
    def settled(self) -> bool:
        """Acquittée: an invoice fully paid or cancelled; a credit note wholly set against invoices."""
        return self.applied == -self.invoice.total_ttc if self.is_credit_note else self.due == 0

    @property
    def status(self) -> str:
        """The status shown to the member (French)."""
        if self.disputed:
            return "En contentieux"
        if self.is_credit_note:
            return "Acquitté" if self.settled else "À imputer"
        if self.settled:
            return "Acquittée"
        return "Partiellement payée" if self.paid > 0 or self.credited > 0 else "À payer"


@dataclass(frozen=True)
class Credit:
    """An amount in the member's favour set against no invoice: the rest of an overpayment or of a released
    payment (payment_id), or of a credit note (credit_note_id); applied to the next invoice or refunded."""

    adherent: str
    amount: Decimal
    day: dt.date  # the day it became a credit
    numero: str  # the piece it comes from: the invoice the payment named, or the credit note
    payment_id: int | None = None
    credit_note_id: int | None = None

    @property
    def label(self) -> str:
        return "Trop-perçu" if self.payment_id is not None else "Avoir non imputé"


@dataclass
class MemberBalance:
    adherent: str
    pieces: list[PieceBalance]  # numbering order
    payments: list[Payment]
    movements: list[Movement]
    credits: list[Credit]
    by_id: dict[int, PieceBalance] = field(default_factory=dict)

    @property
    def due(self) -> Decimal:
        """What the member still owes on its invoices."""
        return sum((p.due for p in self.pieces), ZERO)

    @property
    def credit(self) -> Decimal:
        """The member's credit: avoirs and overpayments set against no invoice, to refund."""
        return sum((c.amount for c in self.credits), ZERO)

    @property
    def balance(self) -> Decimal:
        """Due minus credit: negative when the service owes the member."""
        return self.due - self.credit

    def imputations(self) -> list[Imputation]:
        """What settles each invoice now, one per (invoice, payment or credit note), movements netted."""
        net: dict[tuple, list] = {}
        for m in self.movements:
            key = (m.invoice_id, m.payment_id, m.credit_note_id)
            slot = net.setdefault(key, [ZERO, m.day])
            slot[0] += m.amount
            if m.amount > 0:
                slot[1] = m.day
        return [Imputation(fid, amount, day, pid, cid) for (fid, pid, cid), (amount, day) in net.items() if amount]


def compute(pieces: list[Invoice], payments: list[Payment], disputed: set[int], adherent: str) -> MemberBalance:
    """The balance of one member from its pieces (numbering order) and payments (see the module doc)."""
    by_id = {p.id: PieceBalance(p, p.id in disputed) for p in pieces}
    order = {p.id: i for i, p in enumerate(pieces)}
    held: dict[int, list[list]] = {}  # invoice id → [[payment_id, credit_note_id, amount]] set against it, in order
    pool: list[list] = []  # the member's credit: [[payment_id, credit_note_id, amount, day, numero]], oldest first
    opened: list[int] = []  # invoices issued so far, numbering order
    movements: list[Movement] = []

    def remaining(fid: int) -> Decimal:
        return by_id[fid].invoice.total_ttc - sum((h[2] for h in held.get(fid, [])), ZERO)

    def set_against(fid: int, pid, cid, amount: Decimal, day: dt.date, cause) -> None:
        held.setdefault(fid, []).append([pid, cid, amount])
        movements.append(Movement(day, fid, amount, pid, cid, cause))

    def apply_credit(day: dt.date, cause) -> None:
        for fid in sorted(opened, key=order.__getitem__):
            while pool and remaining(fid) > 0:
                item = pool[0]
                take = min(item[2], remaining(fid))
                set_against(fid, item[0], item[1], take, day, cause)
                item[2] -= take
                if item[2] == 0:
                    pool.pop(0)

    events = [(p.date_emission, 0, order[p.id], p) for p in pieces]
    events += [(dt.date.fromisoformat(pay.day), 1, i, pay) for i, pay in enumerate(payments)]
    for day, _, _, event in sorted(events, key=lambda e: e[:3]):
        if isinstance(event, Payment):
            cause = ("payment", event.id)
            fid = event.facture_id
            take = min(event.amount, max(remaining(fid), ZERO)) if fid in opened else ZERO
            if take:
                set_against(fid, event.id, None, take, day, cause)
            if event.amount - take:
                pool.append([event.id, None, event.amount - take, day, by_id[fid].invoice.numero])
        elif event.total_ttc >= 0:
            opened.append(event.id)
        else:
            cause = ("piece", event.id)
            amount, origin = -event.total_ttc, event.origine_id
            if origin in opened:
                excess = amount - remaining(origin)
                while excess > 0 and held.get(origin):  # the invoice was paid: its payments become a credit
                    last = held[origin][-1]
                    back = min(last[2], excess)
                    movements.append(Movement(day, origin, -back, last[0], last[1], cause))
                    pool.append([last[0], last[1], back, day, by_id[origin].invoice.numero])
                    last[2] -= back
                    excess -= back
                    if last[2] == 0:
                        held[origin].pop()
                take = min(amount, remaining(origin))
                if take:
                    set_against(origin, None, event.id, take, day, cause)
                amount -= take
            if amount:
                pool.append([None, event.id, amount, day, event.numero])
        apply_credit(day, ("payment", event.id) if isinstance(event, Payment) else ("piece", event.id))

    for fid, items in held.items():
        for pid, cid, amount in items:
            if pid is not None:
                by_id[fid].paid += amount
            else:
                by_id[fid].credited += amount
                by_id[cid].applied += amount
    credits = [Credit(adherent, amount, day, numero, pid, cid) for pid, cid, amount, day, numero in pool if amount]
    return MemberBalance(adherent, [by_id[p.id] for p in pieces], payments, movements, credits, by_id)


def member_balance(conn, adherent: str) -> MemberBalance:
    """The balance of one member as the store has it now, with the lettering recorded."""
    out = compute(store.invoices(conn, adherent), store.payments(conn, adherent), store.disputed(conn), adherent)
    letters = store.letterings(conn, adherent)
    for p in out.pieces:
        if p.settled and not p.is_credit_note and p.invoice.id in letters:
            p.lettering, p.lettering_day = letters[p.invoice.id].code, letters[p.invoice.id].day
    return out


def all_balances(conn) -> list[MemberBalance]:
    """The balance of every member that has pieces, by member number."""
    return [member_balance(conn, a) for a in sorted(store.invoiced_members(conn))]


def lettering_code(n: int) -> str:
    """AA, AB, ..., AZ, BA, ..., ZZ, AAA, ...: the n-th lettering code (0-based)."""
    width, first = 2, 0
    while n - first >= 26 ** width:
        first += 26 ** width
        width += 1
    n -= first
    return "".join(chr(65 + (n // 26 ** i) % 26) for i in reversed(range(width)))


def letter(conn, adherents: set[str] | None = None) -> None:
    """Record in the store what settles each invoice, and letter the invoices now settled (of the given
    members, or all)."""
    for adherent in sorted(adherents if adherents is not None else store.invoiced_members(conn)):
        bal = compute(store.invoices(conn, adherent), store.payments(conn, adherent), store.disputed(conn), adherent)
        settled = {}
        for p in bal.pieces:
            if not p.is_credit_note and p.invoice.total_ttc > 0 and p.settled:
                settled[p.invoice.id] = max((m.day for m in bal.movements if m.invoice_id == p.invoice.id and m.amount > 0),
                                            default=p.invoice.date_emission)
        store.save_lettering(conn, adherent, bal.imputations(), settled, lettering_code)
