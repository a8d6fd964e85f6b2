"""Billing in the store: invoices and credit notes (one `Invoice` for a row of `factures`, however it is read),
their lines and instalments, the gapless numbering, billed hires, payments and disputes, and the few registry
facts billing needs (members, their billing party, their mandataires).

Amounts are Decimal here and text in the store ('694.80', signed: a credit note carries negative amounts).
Writes that make one piece (number, invoice, lines, instalments) run inside the caller's `transaction(conn)`,
so that the number is taken in the transaction that writes the piece; the others open their own.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, replace
from decimal import Decimal

from .db import records, transaction


def _one(conn, sql: str, params=()) -> dict | None:
    rows = records(conn, sql, params)
    return rows[0] if rows else None


# --- invoices and credit notes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Invoice:
    """An issued invoice or credit note (a row of `factures`); never modified once written."""

    id: int | None  # None before it is written
    numero: str
    type: str  # facture | facture_office | facture_complementaire | avoir
    adherent: str
    annee: int
    date_emission: dt.date
    date_exigibilite: dt.date
    total_ht: Decimal
    total_tva: Decimal
    total_ttc: Decimal
    taux_tva: Decimal
    motif: str | None = None
    declaration_id: int | None = None
    origine_id: int | None = None  # credit note: the invoice it cancels
    emetteur: dict | None = None  # snapshots at issue (JSON in the store)
    client: dict | None = None
    conditions: dict | None = None
    origine_numero: str | None = None  # number and date of the invoice a credit note cancels
    origine_date: dt.date | None = None


@dataclass(frozen=True)
class InvoiceLine:
    label: str
    quantity: int
    unit_price: Decimal  # HT, signed like the piece
    amount: Decimal  # HT
    category: str | None = None
    rang: int = 0


@dataclass(frozen=True)
class Instalment:
    facture_id: int
    rang: int
    due: dt.date
    amount: Decimal


_INVOICE_SELECT = (
    "SELECT f.id, f.numero, f.type, f.adherent, f.annee, f.date_emission, f.date_exigibilite, f.total_ht, f.total_tva, "
    "f.total_ttc, f.taux_tva, f.motif, f.declaration_id, f.origine_id, f.emetteur, f.client, f.conditions, "
    "o.numero AS origine_numero, o.date_emission AS origine_date FROM factures f LEFT JOIN factures o ON o.id=f.origine_id ")


def _invoice(r: dict) -> Invoice:
    return Invoice(
        id=r["id"], numero=r["numero"], type=r["type"], adherent=r["adherent"], annee=r["annee"],
        date_emission=dt.date.fromisoformat(r["date_emission"]), date_exigibilite=dt.date.fromisoformat(r["date_exigibilite"]),
        total_ht=Decimal(r["total_ht"]), total_tva=Decimal(r["total_tva"]), total_ttc=Decimal(r["total_ttc"]),
        taux_tva=Decimal(r["taux_tva"]), motif=r["motif"], declaration_id=r["declaration_id"], origine_id=r["origine_id"],
        emetteur=json.loads(r["emetteur"]), client=json.loads(r["client"]), conditions=json.loads(r["conditions"]),
        origine_numero=r["origine_numero"],
        origine_date=dt.date.fromisoformat(r["origine_date"]) if r["origine_date"] else None)


def invoices(conn: sqlite3.Connection, adherent: str | None = None) -> list[Invoice]:
    """Every piece (of one adhérent), in numbering order."""
    where, params = ("WHERE f.adherent=? ", (adherent,)) if adherent else ("", ())
    return [_invoice(r) for r in records(conn, _INVOICE_SELECT + where + "ORDER BY f.sequence", params)]


def invoice(conn: sqlite3.Connection, facture_id: int) -> Invoice:
    return _invoice(_one(conn, _INVOICE_SELECT + "WHERE f.id=?", (facture_id,)))


def invoice_by_number(conn: sqlite3.Connection, numero: str) -> Invoice | None:
    row = _one(conn, _INVOICE_SELECT + "WHERE f.numero=?", (numero,))
    return _invoice(row) if row else None


def active_main_invoice(conn: sqlite3.Connection, adherent: str, year: int) -> Invoice | None:
    """The invoice or facture d'office of the year in force (no credit note cancels it), or None."""
    row = _one(
        conn, _INVOICE_SELECT + "WHERE f.adherent=? AND f.annee=? AND f.type IN ('facture','facture_office') "
              "AND NOT EXISTS (SELECT 1 FROM factures a WHERE a.origine_id=f.id) ORDER BY f.id DESC LIMIT 1", (adherent, year))
    return _invoice(row) if row else None


def is_cancelled(conn: sqlite3.Connection, facture_id: int) -> bool:
    """Whether a credit note cites this invoice."""
    return conn.execute("SELECT 1 FROM factures WHERE origine_id=?", (facture_id,)).fetchone() is not None


def last_issue_date(conn: sqlite3.Connection) -> dt.date | None:
    last = conn.execute("SELECT MAX(date_emission) FROM factures").fetchone()[0]
    return dt.date.fromisoformat(last) if last else None


def invoiced_members(conn: sqlite3.Connection) -> set[str]:
    return {a for (a,) in conn.execute("SELECT DISTINCT adherent FROM factures")}


def invoice_lines(conn: sqlite3.Connection, facture_id: int) -> list[InvoiceLine]:
    return [InvoiceLine(r["libelle"], r["quantite"], Decimal(r["prix_unitaire_ht"]), Decimal(r["montant_ht"]), r["categorie"],
                        r["rang"])
            for r in records(conn, "SELECT rang, libelle, categorie, quantite, prix_unitaire_ht, montant_ht "
                                   "FROM factures_lignes WHERE facture_id=? ORDER BY rang", (facture_id,))]


def instalments(conn: sqlite3.Connection, facture_id: int | None = None, adherent: str | None = None) -> list[Instalment]:
    """The instalments of one piece, or of all the pieces of an adhérent (in numbering order)."""
    if facture_id is not None:
        where, params = "e.facture_id=?", (facture_id,)
    else:
        where, params = "f.adherent=?", (adherent,)
    return [Instalment(r["facture_id"], r["rang"], dt.date.fromisoformat(r["date_exigibilite"]), Decimal(r["montant"]))
            for r in records(
                conn, "SELECT e.facture_id, e.rang, e.date_exigibilite, e.montant FROM factures_echeances e "
                      f"JOIN factures f ON f.id=e.facture_id WHERE {where} ORDER BY f.sequence, e.rang", params)]


def issue(conn: sqlite3.Connection, series: str, first_number: int, piece: Invoice, lines: list[InvoiceLine],
          schedule: list[tuple[dt.date, Decimal]], created: str) -> Invoice:
    """Write a piece with the next number of the series, in the caller's transaction (so that a run stopped
    at any point leaves neither a gap nor a duplicate). Returns the piece with its id and number."""
    conn.execute("INSERT INTO numerotation (serie, dernier) VALUES (?, ?) ON CONFLICT(serie) DO NOTHING", (series, first_number - 1))
    seq = conn.execute("UPDATE numerotation SET dernier = dernier + 1 WHERE serie=? RETURNING dernier", (series,)).fetchone()[0]
    piece = replace(piece, numero=str(seq))
    fid = conn.execute(
        "INSERT INTO factures (numero, sequence, type, adherent, annee, date_emission, date_exigibilite, declaration_id, "
        "origine_id, motif, total_ht, total_tva, total_ttc, taux_tva, emetteur, client, conditions, cree_le) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
        (piece.numero, seq, piece.type, piece.adherent, piece.annee, piece.date_emission.isoformat(),
         piece.date_exigibilite.isoformat(), piece.declaration_id, piece.origine_id, piece.motif, str(piece.total_ht),
         str(piece.total_tva), str(piece.total_ttc), str(piece.taux_tva), json.dumps(piece.emetteur, ensure_ascii=False),
         json.dumps(piece.client, ensure_ascii=False), json.dumps(piece.conditions, ensure_ascii=False), created)).fetchone()[0]
    conn.executemany(
        "INSERT INTO factures_lignes (facture_id, rang, libelle, categorie, quantite, prix_unitaire_ht, montant_ht) VALUES (?,?,?,?,?,?,?)",
        ((fid, i + 1, ln.label, ln.category, ln.quantity, str(ln.unit_price), str(ln.amount)) for i, ln in enumerate(lines)))
    conn.executemany("INSERT INTO factures_echeances (facture_id, rang, date_exigibilite, montant) VALUES (?,?,?,?)",
                     ((fid, i + 1, d.isoformat(), str(a)) for i, (d, a) in enumerate(schedule)))
    return replace(piece, id=fid)


# --- hires billed on a complementary invoice --------------------------------------------------------


@dataclass(frozen=True)
class Hire:
    salarie_id: int
    nir: str


def unbilled_hires(conn: sqlite3.Connection, adherent: str, year: int, since: str, until: dt.date) -> list[Hire]:
    """Employees hired in the year after `since` (ISO day) and up to `until`, not billed yet for the year."""
    return [Hire(r["id"], r["nir"]) for r in records(
        conn, "SELECT s.id, s.nir FROM salaries_actuels s WHERE s.adherent=? AND s.date_embauche > ? AND s.date_embauche <= ? "
              "AND substr(s.date_embauche, 1, 4) = ? AND NOT EXISTS (SELECT 1 FROM embauches_facturees e WHERE e.salarie_id=s.id "
              "AND e.annee=?) ORDER BY s.id", (adherent, since[:10], until.isoformat(), str(year), year))]


def record_billed_hires(conn: sqlite3.Connection, hires: list[int], year: int, facture_id: int) -> None:
    """In the caller's transaction (the one that writes the complementary invoice)."""
    conn.executemany("INSERT INTO embauches_facturees (salarie_id, annee, facture_id) VALUES (?,?,?)",
                     ((h, year, facture_id) for h in hires))


# --- payments ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    facture_id: int
    day: str  # ISO date
    amount: Decimal
    line: int = 0  # line of the imported file
    reference: str | None = None  # the bank's reference of the payment, when its file gives one
    id: int | None = None  # None before it is written


def payments(conn: sqlite3.Connection, adherent: str | None = None) -> list[Payment]:
    """The payments (of an adhérent's pieces), by date then order of recording."""
    where, params = ("WHERE f.adherent=? ", (adherent,)) if adherent else ("", ())
    return [Payment(r["facture_id"], r["date_paiement"], Decimal(r["montant"]), r["ligne"] or 0, r["reference"], r["id"])
            for r in records(
                conn, "SELECT p.id, p.facture_id, p.date_paiement, p.montant, p.ligne, p.reference FROM paiements p "
                      f"JOIN factures f ON f.id=p.facture_id {where}ORDER BY p.date_paiement, p.id", params)]


def payment_file_known(conn: sqlite3.Connection, sha: str) -> bool:
    return conn.execute("SELECT 1 FROM paiements_imports WHERE sha256=?", (sha,)).fetchone() is not None


def record_payments(conn: sqlite3.Connection, sha: str, name: str, rows: int, recorded: list[Payment], at: str) -> None:
    """The import (file known by its SHA-256) and its payments, in one transaction."""
    with transaction(conn):
        imp = conn.execute("INSERT INTO paiements_imports (sha256, nom, lignes, enregistres, le) VALUES (?,?,?,?,?) RETURNING id",
                           (sha, name, rows, len(recorded), at)).fetchone()[0]
        conn.executemany("INSERT INTO paiements (facture_id, date_paiement, montant, import_id, ligne, reference, enregistre_le) "
                         "VALUES (?,?,?,?,?,?,?)",
                         ((p.facture_id, p.day, str(p.amount), imp, p.line, p.reference, at) for p in recorded))


# --- disputes ---------------------------------------------------------------------------------------


def disputed(conn: sqlite3.Connection) -> set[int]:
    """Ids of the pieces under dispute now."""
    return {fid for (fid,) in conn.execute("SELECT facture_id FROM factures_en_contentieux")}


def set_dispute(conn: sqlite3.Connection, facture_id: int, active: bool, reason: str | None, at: str) -> bool:
    """Record a change of the contentieux flag (history kept). False, and nothing written, when the flag is
    already so."""
    with transaction(conn):
        current = conn.execute("SELECT 1 FROM factures_en_contentieux WHERE facture_id=?", (facture_id,)).fetchone() is not None
        if current == active:
            return False
        conn.execute("INSERT INTO contentieux (facture_id, actif, motif, le) VALUES (?,?,?,?)",
                     (facture_id, int(active), reason, at))
    return True


# --- lettering (billing/balances.py computes it) -----------------------------------------------------


@dataclass(frozen=True)
class Imputation:
    """`amount` of a payment or of a credit note set against an invoice, on `day`."""

    facture_id: int
    amount: Decimal
    day: dt.date
    paiement_id: int | None = None
    avoir_id: int | None = None


@dataclass(frozen=True)
class Lettering:
    code: str
    day: dt.date


def letterings(conn: sqlite3.Connection, adherent: str) -> dict[int, Lettering]:
    """The lettering code and day of each settled invoice of an adhérent, by invoice id."""
    return {fid: Lettering(code, dt.date.fromisoformat(day)) for fid, code, day in conn.execute(
        "SELECT l.facture_id, l.code, l.date_lettrage FROM lettrages l JOIN factures f ON f.id=l.facture_id "
        "WHERE f.adherent=?", (adherent,))}


def save_lettering(conn: sqlite3.Connection, adherent: str, imputations: list[Imputation],
                   settled: dict[int, dt.date], new_code) -> None:
    """Replace the imputations of an adhérent's invoices; letter the invoices now settled (a code once given
    is kept, its day follows the last amount set against the invoice). `new_code(n)`: the code of the n-th
    lettering of the store (0-based)."""
    with transaction(conn):
        conn.execute("DELETE FROM imputations WHERE facture_id IN (SELECT id FROM factures WHERE adherent=?)", (adherent,))
        conn.executemany("INSERT INTO imputations (facture_id, paiement_id, avoir_id, montant, le) VALUES (?,?,?,?,?)",
                         ((i.facture_id, i.paiement_id, i.avoir_id, str(i.amount), i.day.isoformat()) for i in imputations))
        known = {fid for (fid,) in conn.execute(
            "SELECT l.facture_id FROM lettrages l JOIN factures f ON f.id=l.facture_id WHERE f.adherent=?", (adherent,))}
        for fid, day in sorted(settled.items()):
            if fid in known:
                conn.execute("UPDATE lettrages SET date_lettrage=? WHERE facture_id=?", (day.isoformat(), fid))
            else:
                n = conn.execute("SELECT COUNT(*) FROM lettrages").fetchone()[0]
                conn.execute("INSERT INTO lettrages (facture_id, code, date_lettrage) VALUES (?,?,?)", (fid, new_code(n), day.isoformat()))

# --- reminders of unpaid invoices (migration 0330) --------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """A reminder stage sent for an invoice (a row of `relances`)."""

    facture_id: int
    etape: int
    libelle: str
    day: dt.date
    days_late: int
    due: Decimal
    rate: Decimal
    penalties: Decimal
    indemnity: Decimal
    path: str


def _reminder(r: dict) -> Reminder:
    return Reminder(r["facture_id"], r["etape"], r["libelle"], dt.date.fromisoformat(r["date_relance"]), r["jours_retard"],
                    Decimal(r["montant_du"]), Decimal(r["taux_penalites"]), Decimal(r["penalites"]),
                    Decimal(r["indemnite"]), r["fichier"])


_REMINDER_COLUMNS = ("facture_id, etape, libelle, date_relance, jours_retard, montant_du, taux_penalites, penalites, "
                     "indemnite, fichier")


def reminders(conn: sqlite3.Connection, facture_id: int | None = None, day: dt.date | None = None) -> list[Reminder]:
    """The reminders sent, for one invoice or on one day (all by default), in the order they were sent."""
    where, args = [], []
    if facture_id is not None:
        where.append("facture_id=?")
        args.append(facture_id)
    if day is not None:
        where.append("date_relance=?")
        args.append(day.isoformat())
    sql = f"SELECT {_REMINDER_COLUMNS} FROM relances" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return [_reminder(r) for r in records(conn, sql, args)]


def record_reminder(conn: sqlite3.Connection, r: Reminder, at: str) -> bool:
    """Record a stage sent; False (nothing written) when that stage of that invoice was already recorded."""
    with transaction(conn):
        cur = conn.execute(
            f"INSERT OR IGNORE INTO relances ({_REMINDER_COLUMNS}, cree_le) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (r.facture_id, r.etape, r.libelle, r.day.isoformat(), r.days_late, str(r.due), str(r.rate), str(r.penalties),
             str(r.indemnity), r.path, at))
    return cur.rowcount == 1


# --- multi-employer workers in the fee --------------------------------------------------------------


def employers_of_workers(conn: sqlite3.Connection, year: int) -> dict[str, set[str]]:
    """NIR → the adhérents employing the person: present in the store, or listed in the adhérent's current
    (latest confirmed) declaration of the year. Staff-side only: never shown to a member."""
    out: dict[str, set[str]] = {}
    for nir, adherent in conn.execute(
            "SELECT nir, adherent FROM salaries_actuels WHERE present=1 AND coalesce(nir, '') != '' "
            "UNION SELECT ds.nir, d.adherent FROM declarations_salaries ds JOIN declarations d ON d.id=ds.declaration_id "
            "WHERE d.annee=? AND coalesce(ds.nir, '') != '' AND d.id = (SELECT MAX(id) FROM declarations d2 "
            "WHERE d2.adherent=d.adherent AND d2.annee=d.annee AND d2.etat='confirmee')", (year,)):
        out.setdefault(nir, set()).add(adherent)
    return out


def declared_workers(conn: sqlite3.Connection, declaration_id: int) -> list[tuple[str, str]]:
    """(NIR, category) of the employees a declaration by list names (none for a declaration of counts)."""
    return [(nir, cat) for nir, cat in conn.execute(
        "SELECT nir, categorie FROM declarations_salaries WHERE declaration_id=? AND coalesce(nir, '') != ''", (declaration_id,))]


def present_workers(conn: sqlite3.Connection, adherent: str) -> list[tuple[str, str | None, str | None]]:
    """(NIR, declared category, determinants) of the employees of an adhérent present in the store."""
    return [tuple(r) for r in conn.execute(
        "SELECT nir, categorie, determinants FROM salaries_actuels WHERE adherent=? AND present=1 AND coalesce(nir, '') != ''",
        (adherent,))]
