"""Declarations in the store: the ledger entry of a declaration file, its findings and the declaration versions
it brings, written in one transaction (as employee files are), so a declaration file is recorded all at once or
not at all; the versions read back; the staff overrides of the campaign window (dérogations); the employees
present, as headcounts are made of them."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from . import ledger
from .db import records, transaction


def refused_for_window_only(conn: sqlite3.Connection, file_id: int) -> bool:
    """Whether a file was refused only because it arrived outside the campaign window (so that the same
    file, sent again when the campaign is open, is examined again rather than called a duplicate)."""
    codes = {c for (c,) in conn.execute("SELECT code FROM constats WHERE fichier_id=? AND gravite='bloquant'", (file_id,))}
    status = conn.execute("SELECT statut FROM fichiers WHERE id=?", (file_id,)).fetchone()
    return status is not None and status == ("rejete",) and codes == {"DECL_HORS_CAMPAGNE"}


def record_declaration(conn: sqlite3.Connection, checked, now: str, again: int | None = None) -> int:
    """`checked` is a billing.declarations.CheckedDeclaration. Returns the file id. `again`: the ledger entry of
    the same file refused earlier for the window only; it is reused, the earlier outcome kept in its details."""
    rec = checked.record
    if checked.quarantine_reason:
        rec.details["quarantaine"] = True
    with transaction(conn):
        if again is not None:
            before = records(conn, "SELECT recu_le, traite_le, statut, details FROM fichiers WHERE id=?", (again,))[0]
            earlier = json.loads(before["details"] or "{}").get("traitements_precedents", [])
            rec.details["traitements_precedents"] = earlier + [
                {"recu_le": before["recu_le"], "traite_le": before["traite_le"], "statut": before["statut"]}]
            ledger.delete_tallies(conn, again)
            conn.execute("DELETE FROM constats WHERE fichier_id=?", (again,))
            conn.execute(
                "UPDATE fichiers SET expediteur=?, nom=?, taille=?, recu_le=?, statut=?, etape='applique', lignes=?, "
                "lignes_acceptees=?, lignes_rejetees=?, avertissements=?, details=? WHERE id=?",
                (rec.sender, rec.name, rec.size, rec.received, rec.status, rec.rows, rec.accepted, rec.refused,
                 rec.warnings, json.dumps(rec.details, ensure_ascii=False), again))
            file_id = again
        else:
            cur = conn.execute(
                "INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, statut, etape, lignes, lignes_acceptees,"
                " lignes_rejetees, avertissements, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (rec.sha256, rec.sender, rec.name, rec.size, rec.received, rec.status, "applique", rec.rows,
                 rec.accepted, rec.refused, rec.warnings, json.dumps(rec.details, ensure_ascii=False)),
            )
            file_id = cur.fetchone()[0]
        ledger.insert_findings(conn, file_id, checked.findings)
        for v in checked.versions:
            decl = conn.execute(
                "INSERT INTO declarations (adherent, annee, fichier_id, etat, mode, recue_le, total) VALUES (?,?,?,?,?,?,?) RETURNING id",
                (v.adherent, v.year, file_id, v.state, v.mode, rec.received, v.total)).fetchone()[0]
            conn.executemany("INSERT INTO declarations_effectifs (declaration_id, siret, categorie, effectif) VALUES (?,?,?,?)",
                             ((decl, s, c, k) for s, c, k in v.counts))
            conn.executemany(
                "INSERT INTO declarations_salaries (declaration_id, ligne, siret, nir, nom, prenom, categorie) VALUES (?,?,?,?,?,?,?)",
                ((decl, *e) for e in v.employees))
    return file_id


# --- declaration versions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """One version of a declaration (a row of `declarations`)."""

    id: int
    adherent: str
    annee: int
    etat: str  # confirmee | en_cours
    recue_le: str  # ISO timestamp of the file's reception
    total: int
    facture_id: int | None  # the invoice that covers it, once issued


_SELECT = "SELECT id, adherent, annee, etat, recue_le, total, facture_id FROM declarations "


def _declaration(conn, sql: str, params=()) -> Declaration | None:
    rows = records(conn, sql, params)
    return Declaration(**rows[0]) if rows else None


def current_declaration(conn: sqlite3.Connection, adherent: str, year: int) -> Declaration | None:
    """The latest confirmed version for the year, or None."""
    return _declaration(conn, _SELECT + "WHERE adherent=? AND annee=? AND etat='confirmee' ORDER BY id DESC LIMIT 1",
                              (adherent, year))


def last_confirmed_before(conn: sqlite3.Connection, adherent: str, year: int) -> Declaration | None:
    """The latest confirmed declaration of an earlier year, or None."""
    return _declaration(conn, _SELECT + "WHERE adherent=? AND annee<? AND etat='confirmee' "
                              "ORDER BY annee DESC, id DESC LIMIT 1", (adherent, year))


def has_pending(conn: sqlite3.Connection, adherent: str, year: int) -> bool:
    """Whether a version with blocking findings (en_cours) was received for the year."""
    return conn.execute("SELECT 1 FROM declarations WHERE adherent=? AND annee=? AND etat='en_cours'",
                        (adherent, year)).fetchone() is not None


def declared_counts(conn: sqlite3.Connection, declaration_id: int) -> dict[str, int]:
    """Category → headcount of a version (the categories declared)."""
    return {r["categorie"]: int(r["n"]) for r in records(
        conn, "SELECT categorie, SUM(effectif) AS n FROM declarations_effectifs WHERE declaration_id=? GROUP BY categorie",
              (declaration_id,))}


def declared_nirs(conn: sqlite3.Connection, declaration_id: int) -> set[str]:
    """The NIRs listed in a version (a declaration by list of employees)."""
    return {nir for (nir,) in conn.execute("SELECT nir FROM declarations_salaries WHERE declaration_id=? AND nir != ''",
                                           (declaration_id,))}


def link_invoice(conn: sqlite3.Connection, declaration_id: int, facture_id: int) -> None:
    """In the caller's transaction (the one that issues or keeps the invoice)."""
    conn.execute("UPDATE declarations SET facture_id=? WHERE id=?", (facture_id, declaration_id))


@dataclass(frozen=True)
class PresentEmployee:
    siret: str
    category: str | None  # declared category
    determinants: str | None  # comma-separated codes


def present_employees(conn: sqlite3.Connection, adherent: str) -> list[PresentEmployee]:
    """The employees of an adhérent present in the store (what a headcount is made of)."""
    return [PresentEmployee(r["siret"] or "", r["categorie"], r["determinants"]) for r in records(
        conn, "SELECT siret, categorie, determinants FROM salaries_actuels WHERE adherent=? AND present=1", (adherent,))]


# --- overrides of the campaign window (dérogations) -------------------------------------------------


@dataclass(frozen=True)
class Override:
    opens: dt.date
    closes: dt.date
    adherent: str | None  # None: every adhérent


def active_override(conn: sqlite3.Connection, year: int, adherent: str | None) -> Override | None:
    """The override in force for this adhérent, else the one for everybody, or None."""
    rows = records(
        conn, "SELECT ouverture, fermeture, adherent FROM campagnes_derogations WHERE annee=? AND retiree_le IS NULL "
              "AND (adherent IS NULL OR adherent=?) ORDER BY adherent IS NULL, id DESC LIMIT 1", (year, adherent))
    if not rows:
        return None
    r = rows[0]
    return Override(dt.date.fromisoformat(r["ouverture"]), dt.date.fromisoformat(r["fermeture"]), r["adherent"])


def set_override(conn: sqlite3.Connection, year: int, opens: dt.date, closes: dt.date, adherent: str | None,
                 reason: str | None, at: str) -> None:
    """Replace the override in force for (year, adhérent or everybody); the earlier one is kept, withdrawn."""
    with transaction(conn):
        conn.execute("UPDATE campagnes_derogations SET retiree_le=? WHERE annee=? AND adherent IS ? AND retiree_le IS NULL",
                     (at, year, adherent))
        conn.execute("INSERT INTO campagnes_derogations (annee, adherent, ouverture, fermeture, motif, le) VALUES (?,?,?,?,?,?)",
                     (year, adherent, opens.isoformat(), closes.isoformat(), reason, at))


def remove_override(conn: sqlite3.Connection, year: int, adherent: str | None, at: str) -> int:
    """Withdraw the override in force; returns how many were withdrawn (0 or 1)."""
    with transaction(conn):
        return conn.execute("UPDATE campagnes_derogations SET retiree_le=? WHERE annee=? AND adherent IS ? AND retiree_le IS NULL",
                            (at, year, adherent)).rowcount
