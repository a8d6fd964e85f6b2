"""Appointments in the store: the planning of the medical software with its history (a version per change,
the iCalendar SEQUENCE counting them), members' visit and cancellation requests with their ledger entry, the
missed appointments the tariff charges, and the employees and last visits the visits due are computed from."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pandas as pd

from . import ledger
from .db import records, transaction
from .ledger import FileRecord

BATCH = 5_000
FIELDS = ("debut", "duree", "centre", "professionnel", "role", "type_visite", "nir", "nom", "prenom", "adherent",
          "siret", "statut", "periodicite_mois", "probleme")


def _batches(rows: list[tuple]):
    for i in range(0, len(rows), BATCH):
        yield rows[i:i + BATCH]


def appointments(conn: sqlite3.Connection, adherent: str | None = None) -> pd.DataFrame:
    """The current state of the appointments (of one adhérent), by start time."""
    cols = ["id", "sequence", "empreinte", *FIELDS, "modifie_le"]
    where, params = ("WHERE adherent = ?", (adherent,)) if adherent else ("", ())
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM rendez_vous {where} ORDER BY debut, id", params).fetchall()
    return pd.DataFrame(rows, columns=cols)


def apply_planning(conn: sqlite3.Connection, rows: pd.DataFrame, source: str, now: str,
                   fees: dict[int, Decimal]) -> dict[str, int]:
    """Write one planning export in one transaction: a new appointment gets version 0, a changed one (its
    `empreinte` differs) a new version and SEQUENCE + 1, an unchanged one nothing. `rows`: id, empreinte,
    ligne and FIELDS. `fees`: year → amount of an unexcused missed appointment (recorded once per appointment).
    Returns the counts: nouveaux, modifies, inchanges, absences_facturables."""
    with transaction(conn):
        known = dict(conn.execute("SELECT id, empreinte FROM rendez_vous").fetchall()) if len(rows) else {}
        seq = dict(conn.execute("SELECT id, sequence FROM rendez_vous").fetchall()) if known else {}
        before = rows["id"].map(known)
        new = before.isna()
        changed = ~new & (before != rows["empreinte"])
        todo = rows[new | changed].copy()
        todo["sequence"] = [0 if i not in seq else seq[i] + 1 for i in todo["id"]]
        values = [tuple(None if pd.isna(v) else v for v in r) for r in
                  todo[["id", "sequence", "empreinte", *FIELDS, "ligne"]].itertuples(index=False, name=None)]
        marks = ", ".join("?" * len(FIELDS))
        for part in _batches(values):
            conn.executemany(
                f"INSERT INTO rendez_vous_versions (rdv_id, sequence, {', '.join(FIELDS)}, ligne, source, le) "
                f"VALUES (?, ?, {marks}, ?, ?, ?)", [(r[0], r[1], *r[3:], source, now) for r in part])
            conn.executemany(
                f"INSERT INTO rendez_vous (id, sequence, version_id, empreinte, {', '.join(FIELDS)}, modifie_le) "
                f"VALUES (?, ?, 0, ?, {marks}, ?) ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, "
                "empreinte = excluded.empreinte, modifie_le = excluded.modifie_le, "
                + ", ".join(f"{f} = excluded.{f}" for f in FIELDS), [(*r[:-1], now) for r in part])
        conn.execute("UPDATE rendez_vous SET version_id = (SELECT v.id FROM rendez_vous_versions v WHERE "
                     "v.rdv_id = rendez_vous.id AND v.sequence = rendez_vous.sequence) WHERE modifie_le = ?", (now,))
        missed = todo[(todo["statut"] == "non_honore") & todo["adherent"].notna() & todo["debut"].notna()]
        charged = [(r.id, r.adherent, r.debut[:10], str(fees[int(r.debut[:4])]), now) for r in missed.itertuples()
                   if fees.get(int(r.debut[:4]), Decimal(0)) > 0]
        count = "SELECT COUNT(*) FROM absences_facturables"  # portable (no total_changes on PostgreSQL)
        before_fees = conn.execute(count).fetchone()[0]
        conn.executemany("INSERT OR IGNORE INTO absences_facturables (rdv_id, adherent, jour, montant, enregistre_le) "
                         "VALUES (?, ?, ?, ?, ?)", charged)
        charged_now = conn.execute(count).fetchone()[0] - before_fees
    return {"nouveaux": int(new.sum()), "modifies": int(changed.sum()),
            "inchanges": int(len(rows) - new.sum() - changed.sum()), "absences_facturables": charged_now}


def versions(conn: sqlite3.Connection, rdv_id: str) -> list[dict]:
    """Every version of one appointment, oldest first."""
    return records(conn, f"SELECT sequence, {', '.join(FIELDS)}, source, le FROM rendez_vous_versions "
                         "WHERE rdv_id = ? ORDER BY sequence", (rdv_id,))


def missed_fees(conn: sqlite3.Connection) -> list[dict]:
    """Unexcused missed appointments to invoice (rdv_id, adherent, jour, montant, facture_id)."""
    return records(conn, "SELECT rdv_id, adherent, jour, montant, facture_id FROM absences_facturables "
                         "ORDER BY adherent, jour, rdv_id")


def unbilled_missed(conn: sqlite3.Connection, adherent: str, year: int) -> list[tuple[str, str]]:
    """The member's unexcused missed appointments of the year not invoiced yet: (rdv_id, amount HT)."""
    return conn.execute("SELECT rdv_id, montant FROM absences_facturables WHERE adherent = ? AND substr(jour, 1, 4) = ? "
                        "AND facture_id IS NULL ORDER BY jour, rdv_id", (adherent, str(year))).fetchall()


def record_billed_missed(conn: sqlite3.Connection, rdv_ids: list[str], facture_id: int) -> None:
    """In the caller's transaction (the one that writes the complementary invoice)."""
    conn.executemany("UPDATE absences_facturables SET facture_id = ? WHERE rdv_id = ?", ((facture_id, r) for r in rdv_ids))


def employees(conn: sqlite3.Connection) -> pd.DataFrame:
    """The present employees: adherent, nir, siret, nom, prenom, date_naissance, date_embauche, categorie,
    determinants."""
    cols = ["adherent", "nir", "siret", "nom", "prenom", "date_naissance", "date_embauche", "categorie", "determinants"]
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM salaries_actuels WHERE present = 1").fetchall()
    return pd.DataFrame(rows, columns=cols)


def known_employees(conn: sqlite3.Connection) -> pd.DataFrame:
    """Every employee the store knows (present or gone): adherent, nir."""
    return pd.DataFrame(conn.execute("SELECT adherent, nir FROM salaries").fetchall(), columns=["adherent", "nir"])


def honoured(conn: sqlite3.Connection) -> pd.DataFrame:
    """Honoured appointments and the last periodicity the médecin du travail set: adherent, nir, debut,
    type_visite, periodicite_mois."""
    rows = conn.execute("SELECT adherent, nir, debut, type_visite, periodicite_mois FROM rendez_vous "
                        "WHERE statut = 'honore' AND adherent IS NOT NULL AND debut IS NOT NULL").fetchall()
    return pd.DataFrame(rows, columns=["adherent", "nir", "debut", "type_visite", "periodicite_mois"])


def year_counts(conn: sqlite3.Connection, year: int) -> list[dict]:
    """Appointments of a year by member, type of visit and status: adherent, type_visite, statut, n."""
    return records(conn, "SELECT adherent, type_visite, statut, count(*) AS n FROM rendez_vous WHERE adherent IS NOT "
                         "NULL AND debut >= ? AND debut < ? GROUP BY adherent, type_visite, statut",
                   (f"{year}-01-01", f"{year + 1}-01-01"))


def any_appointments(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM rendez_vous LIMIT 1").fetchone() is not None


# --- requests from members ---------------------------------------------------------------------------

REQUEST_FIELDS = ("ligne", "genre", "adherent", "rdv_id", "nir", "nom", "prenom", "siret", "type_visite", "motif",
                  "periode", "contraintes", "date_rdv", "decision", "date_limite")


def record_requests(conn: sqlite3.Connection, rec: FileRecord, findings: pd.DataFrame, requests: list[dict],
                    now: str) -> int:
    """A request file's ledger entry, findings and requests (REQUEST_FIELDS), in one transaction."""
    with transaction(conn):
        file_id = ledger.insert_entry(conn, rec, "applique")
        ledger.insert_findings(conn, file_id, findings)
        conn.executemany(
            f"INSERT INTO demandes_rdv (fichier_id, expediteur, recue_le, {', '.join(REQUEST_FIELDS)}) "
            f"VALUES (?, ?, ?, {', '.join('?' * len(REQUEST_FIELDS))})",
            [(file_id, rec.sender, rec.received, *(r.get(k) for k in REQUEST_FIELDS)) for r in requests])
    return file_id


def requests(conn: sqlite3.Connection, since: str = "", decision: str | None = None) -> list[dict]:
    """Requests received since an ISO timestamp (all by default), oldest first."""
    where, params = "WHERE d.recue_le >= ?", [since]
    if decision:
        where += " AND d.decision = ?"
        params.append(decision)
    return records(conn, f"SELECT d.id, d.recue_le, d.expediteur, f.nom AS fichier, {', '.join('d.' + k for k in REQUEST_FIELDS)} "
                         f"FROM demandes_rdv d JOIN fichiers f ON f.id = d.fichier_id {where} ORDER BY d.recue_le, d.id",
                   tuple(params))


def request_details(conn: sqlite3.Connection, file_id: int) -> dict:
    row = conn.execute("SELECT details FROM fichiers WHERE id = ?", (file_id,)).fetchone()
    return json.loads(row[0] or "{}") if row else {}
