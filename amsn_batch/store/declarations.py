"""Declarations: the ledger entry of the file, its findings and the declaration versions it brings, written
in one transaction (as employee files are), so a declaration file is recorded all at once or not at all."""

from __future__ import annotations

import json
import sqlite3


def refused_for_window_only(conn: sqlite3.Connection, file_id: int) -> bool:
    """Whether a file was refused only because it arrived outside the campaign window (so that the same
    file, sent again when the campaign is open, is examined again rather than called a duplicate)."""
    codes = {c for (c,) in conn.execute("SELECT code FROM constats WHERE fichier_id=? AND gravite='bloquant'", (file_id,))}
    status = conn.execute("SELECT statut FROM fichiers WHERE id=?", (file_id,)).fetchone()
    return status is not None and status[0] == "rejete" and codes == {"DECL_HORS_CAMPAGNE"}


def record_declaration(conn: sqlite3.Connection, checked, now: str, again: int | None = None) -> int:
    """`checked` is a billing.declarations.CheckedDeclaration. Returns the file id. `again`: the ledger entry of
    the same file refused earlier for the window only; it is reused, the earlier outcome kept in its details."""
    rec = checked.record
    if checked.quarantine_reason:
        rec.details["quarantaine"] = True
    conn.execute("BEGIN IMMEDIATE")
    try:
        if again is not None:
            before = conn.execute("SELECT recu_le, traite_le, statut, details FROM fichiers WHERE id=?", (again,)).fetchone()
            earlier = json.loads(before[3] or "{}").get("traitements_precedents", [])
            rec.details["traitements_precedents"] = earlier + [{"recu_le": before[0], "traite_le": before[1], "statut": before[2]}]
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
