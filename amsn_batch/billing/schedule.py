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
from ..vocab import vocabulary
from .invoices import CENT, TYPE_LABELS, BillingError

ZERO = Decimal("0.00")


@dataclass
class InvoiceState:
    id: int
    numero: str
    type: str
    adherent: str
    annee: int
    date_emission: str
    date_exigibilite: str
    total_ttc: Decimal
    origine: str | None
    paid: Decimal  # payments recorded
    credited: Decimal  # credit notes citing it (positive amount)
    disputed: bool
    origin_settled: bool = False  # credit note: whether the invoice it cancels is settled

    @property
    def label(self) -> str:
        return TYPE_LABELS[self.type]

    @property
    def period(self) -> str:
        return f"Année {self.annee}"

    @property
    def balance(self) -> Decimal:
        """What is still due on an invoice (negative when overpaid); 0 for a credit note."""
        return self.total_ttc - self.paid - self.credited if self.total_ttc > 0 else ZERO

    @property
    def settled(self) -> bool:
        """Acquittée: an invoice fully paid or cancelled by its credit note; a credit note once it has been
        set against the invoice it cancels."""
        return self.origin_settled if self.type == "avoir" else self.balance <= 0


def invoice_states(conn, adherent: str | None = None) -> list[InvoiceState]:
    where, params = ("WHERE f.adherent=?", (adherent,)) if adherent else ("", ())
    rows = conn.execute(
        "SELECT f.id, f.numero, f.type, f.adherent, f.annee, f.date_emission, f.date_exigibilite, f.total_ttc, o.numero, "
        "(SELECT group_concat(montant, '|') FROM paiements p WHERE p.facture_id=f.id), "
        "(SELECT group_concat(a.total_ttc, '|') FROM factures a WHERE a.origine_id=f.id), "
        "EXISTS (SELECT 1 FROM factures_en_contentieux c WHERE c.facture_id=f.id) "
        f"FROM factures f LEFT JOIN factures o ON o.id=f.origine_id {where} ORDER BY f.sequence", params).fetchall()
    out = []
    for r in rows:
        paid = sum((Decimal(x) for x in (r[9] or "").split("|") if x), ZERO)
        credited = -sum((Decimal(x) for x in (r[10] or "").split("|") if x), ZERO)
        out.append(InvoiceState(r[0], r[1], r[2], r[3], r[4], r[5], r[6], Decimal(r[7]), r[8], paid, credited, bool(r[11])))
    by_number = {s.numero: s for s in out}
    for s in out:
        if s.type == "avoir":
            origin = by_number.get(s.origine) or _state_of(conn, s.origine)
            s.origin_settled = origin is not None and origin.settled
    return out


def _state_of(conn, numero: str | None) -> InvoiceState | None:
    if numero is None:
        return None
    adherent = conn.execute("SELECT adherent FROM factures WHERE numero=?", (numero,)).fetchone()
    return next((s for s in invoice_states(conn, adherent[0]) if s.numero == numero), None) if adherent else None


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
    states = {s.id: s for s in invoice_states(conn, adherent)}
    entries = []
    for fid, rang, due, amount in conn.execute(
            "SELECT e.facture_id, e.rang, e.date_exigibilite, e.montant FROM factures_echeances e JOIN factures f ON f.id=e.facture_id "
            "WHERE f.adherent=? ORDER BY f.sequence, e.rang", (adherent,)):
        s = states[fid]
        if s.disputed:
            continue
        n = conn.execute("SELECT COUNT(*) FROM factures_echeances WHERE facture_id=?", (fid,)).fetchone()[0]
        numero = s.numero if n == 1 else f"{s.numero} ({rang}/{n})"
        value = Decimal(amount)
        entries.append(ScheduleRow(numero, s.date_emission, due, s.label if n == 1 else f"{s.label} — échéance {rang}/{n}",
                                   value if value > 0 else ZERO, -value if value < 0 else ZERO, s.period))
    for fid, day, amount in conn.execute(
            "SELECT p.facture_id, p.date_paiement, p.montant FROM paiements p JOIN factures f ON f.id=p.facture_id "
            "WHERE f.adherent=? ORDER BY p.date_paiement, p.id", (adherent,)):
        s = states[fid]
        if s.disputed:
            continue
        entries.append(ScheduleRow(s.numero, day, day, "Règlement", ZERO, Decimal(amount), s.period))
    entries.sort(key=lambda e: (e.date_exigibilite, e.date_emission, e.type_piece == "Règlement"))
    balance = ZERO
    for e in entries:
        balance += e.debit - e.credit
        e.solde = balance
    return entries


# --- disputes ---------------------------------------------------------------------------------------


def _invoice_id(conn, numero: str) -> int:
    row = conn.execute("SELECT id FROM factures WHERE numero=?", (numero.strip(),)).fetchone()
    if row is None:
        raise BillingError(f"Facture inconnue : {numero}")
    return row[0]


def set_dispute(conn, numero: str, active: bool, reason: str | None, now: dt.datetime) -> str:
    """Set or lift the contentieux flag of an invoice (history kept). Returns the adhérent."""
    fid = _invoice_id(conn, numero)
    current = conn.execute("SELECT 1 FROM factures_en_contentieux WHERE facture_id=?", (fid,)).fetchone() is not None
    if current == active:
        raise BillingError(f"La facture {numero} est déjà {'en contentieux' if active else 'hors contentieux'}.")
    conn.execute("INSERT INTO contentieux (facture_id, actif, motif, le) VALUES (?,?,?,?)",
                 (fid, int(active), reason, now.isoformat(timespec="seconds")))
    return conn.execute("SELECT adherent FROM factures WHERE id=?", (fid,)).fetchone()[0]


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
    if conn.execute("SELECT 1 FROM paiements_imports WHERE sha256=?", (sha,)).fetchone():
        return PaymentImport(0, 0, [], set(), already=True)
    vocab = vocabulary("paiements")
    table = read_table(path, vocab)
    headers = map_headers(table.headers, vocab)
    if headers.missing:
        raise BillingError("Colonne(s) absente(s) du fichier des paiements : " + ", ".join(f.label for f in headers.missing)
                           + f". En-têtes attendus : {', '.join(f.label for f in vocab.fields)}.")
    known = {n: (i, a) for i, n, a in conn.execute("SELECT id, numero, adherent FROM factures")}
    types = dict(conn.execute("SELECT numero, type FROM factures"))
    good, problems, members = [], [], set()
    for line, numero, day, amount in zip(table.lines, table.frame[headers.columns["numero"]], table.frame[headers.columns["date"]],
                                         table.frame[headers.columns["montant"]]):
        numero = str(numero).strip()
        parsed_day = parse_date(str(day))
        value = parse_amount(str(amount))
        if numero not in known:
            problems.append(f"ligne {line} : facture « {numero} » inconnue, paiement non enregistré.")
        elif types[numero] == "avoir":
            problems.append(f"ligne {line} : « {numero} » est un avoir, pas une facture : paiement non enregistré.")
        elif parsed_day is None:
            problems.append(f"ligne {line} : date « {day} » invalide (JJ/MM/AAAA attendu), paiement non enregistré.")
        elif value is None or value <= 0:
            problems.append(f"ligne {line} : montant « {amount} » invalide (par exemple 833,76), paiement non enregistré.")
        else:
            good.append((known[numero][0], parsed_day.isoformat(), str(value), int(line)))
            members.add(known[numero][1])
    now_s = now.isoformat(timespec="seconds")
    conn.execute("BEGIN IMMEDIATE")
    try:
        imp = conn.execute("INSERT INTO paiements_imports (sha256, nom, lignes, enregistres, le) VALUES (?,?,?,?,?)",
                           (sha, path.name, len(table), len(good), now_s)).lastrowid
        conn.executemany("INSERT INTO paiements (facture_id, date_paiement, montant, import_id, ligne, enregistre_le) "
                         "VALUES (?,?,?,?,?,?)", ((fid, d, m, imp, ln, now_s) for fid, d, m, ln in good))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return PaymentImport(len(good), len(table), problems, members)


def overpaid_note(state: InvoiceState) -> str:
    return f"trop-perçu de {-state.balance}" if state.balance < 0 else ""

