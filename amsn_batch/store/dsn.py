"""What the store keeps of DSN files beyond employees: the latest monthly DSN month applied per establishment,
and the contract ends with their reason."""

from __future__ import annotations

import sqlite3

from .db import records, transaction


def last_months(conn: sqlite3.Connection, sirets: list[str]) -> dict[str, str]:
    """SIRET → 'AAAA-MM' of the latest monthly DSN applied for it (none when never)."""
    if not sirets:
        return {}
    marks = ",".join("?" * len(sirets))
    return {r["siret"]: r["mois"] for r in records(conn, f"SELECT siret, mois FROM dsn_mois WHERE siret IN ({marks})",
                                                   sirets)}


def record_months(conn: sqlite3.Connection, file_id: int, months: dict[str, str], now: str) -> None:
    """Note these months (SIRET → 'AAAA-MM') as applied; a month older than the one noted is not noted."""
    with transaction(conn):
        conn.executemany(
            "INSERT INTO dsn_mois (siret, mois, fichier_id, le) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (siret) DO UPDATE SET mois = excluded.mois, fichier_id = excluded.fichier_id, le = excluded.le "
            "WHERE excluded.mois >= dsn_mois.mois",
            [(s, m, file_id, now) for s, m in sorted(months.items())])


def record_ends(conn: sqlite3.Connection, file_id: int, ends: list[tuple]) -> None:
    """Contract ends applied: (ligne, adherent, nir, siret, date_fin ISO, motif, numero_contrat)."""
    with transaction(conn):
        conn.executemany("INSERT INTO dsn_fins (fichier_id, ligne, adherent, nir, siret, date_fin, motif, numero_contrat) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(file_id, *e) for e in ends])


def ends_of(conn: sqlite3.Connection, adherent: str) -> list[dict]:
    """The contract ends recorded for an adhérent's employees, oldest first."""
    return records(conn, "SELECT ligne, nir, siret, date_fin, motif, numero_contrat, fichier_id FROM dsn_fins "
                         "WHERE adherent = ? ORDER BY date_fin, id", (adherent,))


def employed_on(conn: sqlite3.Connection, adherent: str, day: str, since_month: str) -> list[tuple[str, str | None, str | None]]:
    """(siret, categorie, determinants) of the adhérent's employees under contract on `day` (ISO), in its
    establishments whose latest monthly DSN is `since_month` ('AAAA-MM') or later: hired on or before that
    day, not gone before it."""
    return conn.execute(
        "SELECT v.siret, v.categorie, v.determinants FROM salaries_actuels v JOIN dsn_mois d ON d.siret = v.siret "
        "WHERE v.adherent = ? AND d.mois >= ? AND v.date_embauche <= ? "
        "AND (v.date_sortie IS NULL OR v.date_sortie = '' OR v.date_sortie >= ?)",
        (adherent, since_month, day, day)).fetchall()


def establishments_with_dsn(conn: sqlite3.Connection, adherent: str, since_month: str) -> set[str]:
    """The adhérent's establishments whose latest monthly DSN is `since_month` or later."""
    return {r[0] for r in conn.execute(
        "SELECT d.siret FROM dsn_mois d JOIN etablissements e ON e.siret = d.siret WHERE e.adherent = ? AND d.mois >= ?",
        (adherent, since_month))}
