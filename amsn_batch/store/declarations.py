"""Declarations: the ledger entry of the file, its findings and the declaration versions it brings, written
in one transaction (as employee files are), so a declaration file is recorded all at once or not at all."""

from __future__ import annotations

import json
import sqlite3


def record_declaration(conn: sqlite3.Connection, checked, now: str) -> int:
    """`checked` is a billing.declarations.CheckedDeclaration. Returns the file id."""
    rec = checked.record
    if checked.quarantine_reason:
        rec.details["quarantaine"] = True
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute(
            "INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, statut, etape, lignes, lignes_acceptees,"
            " lignes_rejetees, avertissements, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.sha256, rec.sender, rec.name, rec.size, rec.received, rec.status, "applique", rec.rows,
             rec.accepted, rec.refused, rec.warnings, json.dumps(rec.details, ensure_ascii=False)),
        )
        file_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO constats (fichier_id, ligne, colonne, valeur, code, gravite, message) VALUES (?,?,?,?,?,?,?)",
            ((file_id, *f) for f in checked.findings.itertuples(index=False, name=None)),
        )
        for v in checked.versions:
            decl = conn.execute(
                "INSERT INTO declarations (adherent, annee, fichier_id, etat, mode, recue_le, total) VALUES (?,?,?,?,?,?,?)",
                (v.adherent, v.year, file_id, v.state, v.mode, rec.received, v.total)).lastrowid
            conn.executemany("INSERT INTO declarations_effectifs (declaration_id, siret, categorie, effectif) VALUES (?,?,?,?)",
                             ((decl, s, c, k) for s, c, k in v.counts))
            conn.executemany(
                "INSERT INTO declarations_salaries (declaration_id, ligne, siret, nir, nom, prenom, categorie) VALUES (?,?,?,?,?,?,?)",
                ((decl, *e) for e in v.employees))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return file_id
