"""Reads for the yearly activity summary (reports.synthesis): headcount on a day and the changes between two
days, from the employees' versions; files received in a period, by member. Grouped in SQL: the rows returned
are per (member, establishment, category…), never per employee, and carry no NIR.

Times are the store's (`salaries_versions.le`, `fichiers.recu_le`: when the service processed or received a
file), ISO timestamps compared as text."""

from __future__ import annotations

import sqlite3

from .db import records


def headcount_at(conn: sqlite3.Connection, before: str, adherent: str | None = None) -> list[dict]:
    """Employees present just before `before` (ISO timestamp), of one member or all: rows of adherent, siret,
    categorie and determinants as stored ('' when none) and n."""
    member = "AND salarie_id IN (SELECT id FROM salaries WHERE adherent = ?)" if adherent else ""
    return records(conn, f"""
        SELECT s.adherent, COALESCE(v.siret, '') AS siret, COALESCE(v.categorie, '') AS categorie,
               COALESCE(v.determinants, '') AS determinants, COUNT(*) AS n
        FROM (SELECT MAX(id) AS id FROM salaries_versions WHERE le < ? {member} GROUP BY salarie_id) last
        JOIN salaries_versions v ON v.id = last.id JOIN salaries s ON s.id = v.salarie_id
        WHERE v.mouvement != 'sortie' GROUP BY 1, 2, 3, 4""", (before, adherent) if adherent else (before,))


def changes_between(conn: sqlite3.Connection, start: str, end: str, adherent: str | None = None) -> list[dict]:
    """The versions recorded from `start` (included) to `end` (excluded), of one member or all, grouped by what
    each changed: adherent, mouvement (entree, sortie, modification), the state before (`avant`: 1 when the
    employee was present; `siret_avant`, `categorie_avant`, `determinants_avant`), the state after (`apres`,
    siret, categorie, determinants) and n. Summed over a period, after minus before is the headcount's change."""
    member = "AND s.adherent = ?" if adherent else ""
    return records(conn, f"""
        SELECT s.adherent, v.mouvement,
               CASE WHEN p.id IS NULL OR p.mouvement = 'sortie' THEN 0 ELSE 1 END AS avant,
               COALESCE(p.siret, '') AS siret_avant, COALESCE(p.categorie, '') AS categorie_avant,
               COALESCE(p.determinants, '') AS determinants_avant,
               CASE WHEN v.mouvement = 'sortie' THEN 0 ELSE 1 END AS apres,
               COALESCE(v.siret, '') AS siret, COALESCE(v.categorie, '') AS categorie,
               COALESCE(v.determinants, '') AS determinants, COUNT(*) AS n
        FROM salaries s JOIN salaries_versions v ON v.salarie_id = s.id
        LEFT JOIN salaries_versions p ON p.id = v.precedente_id
        WHERE v.le >= ? AND v.le < ? {member}
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10""", (start, end, adherent) if adherent else (start, end))


def files_by_member(conn: sqlite3.Connection, start: str, end: str, adherent: str | None = None) -> list[dict]:
    """Files received from `start` (included) to `end` (excluded) that concern a member: sent by it, or by
    another sender (its payroll firm) with lines recorded for it, findings naming it or its declaration.
    Rows: adherent, statut, direct (1: sent by the member itself) and n (files). A sender that is no member
    (a mandataire's own code) may show as `adherent` among the files it sent: callers keep the members."""
    only = "WHERE l.adherent = ?" if adherent else ""
    versions = ("FROM salaries s JOIN salaries_versions v ON v.salarie_id = s.id AND s.adherent = ?" if adherent
                else "FROM salaries s JOIN salaries_versions v ON v.salarie_id = s.id")
    params = (start, end, *((adherent,) if adherent else ()), *((adherent,) if adherent else ()))
    return records(conn, f"""
        WITH period AS (SELECT id, expediteur, statut FROM fichiers WHERE recu_le >= ? AND recu_le < ?),
        links AS (
            SELECT id AS fichier_id, expediteur AS adherent FROM period
            UNION SELECT v.fichier_id, s.adherent {versions} JOIN period y ON y.id = v.fichier_id
            UNION SELECT c.fichier_id, c.adherent FROM constats c JOIN period y ON y.id = c.fichier_id
                  WHERE COALESCE(c.adherent, '') != ''
            UNION SELECT d.fichier_id, d.adherent FROM declarations d JOIN period y ON y.id = d.fichier_id)
        SELECT l.adherent, y.statut, y.expediteur = l.adherent AS direct, COUNT(*) AS n
        FROM links l JOIN period y ON y.id = l.fichier_id {only}
        GROUP BY 1, 2, 3""", params)


def files_by_status(conn: sqlite3.Connection, start: str, end: str) -> dict[str, int]:
    """Every file received from `start` (included) to `end` (excluded), counted by status."""
    return {r["statut"]: r["n"] for r in records(conn, """
        SELECT statut, COUNT(*) AS n FROM fichiers WHERE recu_le >= ? AND recu_le < ? GROUP BY statut""", (start, end))}
