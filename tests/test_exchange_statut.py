"""`amsn-batch statut`: waiting, held, quarantined files and the last runs with their counts."""

from __future__ import annotations

import signal

from amsn_batch.faults import ENV
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv


def _file(ws, sender: str, name: str, siret_of: str = "10001"):
    return write_csv(ws.drop(sender, name), MOVEMENT_HEADERS, [employee_row(make_nir(), ws.registry.members[siret_of][0])])


def test_statut_tells_what_waits_what_is_held_and_the_runs(ws):
    assert "Derniers traitements (0)" in ws.cli("statut").stdout

    _file(ws, "10001", "a.csv")
    ws.drop("10001", "illisible.xlsx").write_bytes(b"rien d'un classeur")
    ws.cli("traiter")

    _file(ws, "10001", "b.csv")
    _file(ws, "10002", "c.csv", "10002")
    _file(ws, "10001", "e.csv")
    proc = ws.cli("traiter", check=False, env={ENV: "prise_faite:2"})  # b done, c claimed, e not yet
    assert proc.returncode == -signal.SIGKILL
    _file(ws, "PAIE01", "d.csv.part", "10002")
    import sqlite3

    conn = sqlite3.connect(ws.db_path)
    conn.execute("INSERT INTO fichiers (sha256, expediteur, nom, recu_le, statut, etape) "
                 "VALUES ('ab12cd34ef56', '10003', 'retenu.csv', '2026-11-02T10:00:00', 'en_attente', 'termine')")
    conn.commit()
    conn.close()

    out = ws.cli("statut").stdout
    assert "Traitement en cours : aucun." in out
    assert "Dépôts en attente de traitement : 1 fichier(s)" in out
    assert "10001/e.csv" in out and "prêt" in out
    assert "PAIE01/d.csv.part — fichier temporaire (dépôt en cours)" in out
    assert "Pris en charge par un traitement interrompu, repris au prochain : 1 fichier(s)" in out
    assert "  10002/c.csv — reçu le" in out
    assert "Retenus pour examen par le service (statut en_attente) : 1 fichier(s)" in out
    assert "10003/retenu.csv — reçu le 02/11/2026 à 10:00" in out
    assert "En quarantaine : 1 fichier(s)" in out
    assert "10001/illisible.xlsx" in out and "n'est pas un classeur" in out
    runs = out.split("Derniers traitements (2) :")[1].splitlines()
    assert runs[1].split()[:1] == ["N°"] or "N°" in runs[1]
    assert any(line.split()[0] == "2" and "en cours" in line for line in runs[2:])  # killed, not yet noticed
    assert any(line.split()[0] == "1" and "terminé" in line for line in runs[2:])

    ws.cli("traiter")
    out = ws.cli("statut").stdout
    assert "Dépôts en attente de traitement : 0 fichier(s)" in out
    assert "Pris en charge par un traitement interrompu" not in out
    rows = {line.split()[0]: line for line in out.split("Derniers traitements (3) :")[1].splitlines()[2:]}
    assert "interrompu" in rows["2"]
    # run 2 (killed): b.csv accepted, uncounted; run 3: c.csv and e.csv accepted; run 1: a.csv accepted, illisible.xlsx refused and quarantined
    head = out.split("Derniers traitements (3) :")[1].splitlines()[1].split()
    def counts(n):
        cells = rows[n].split("  ")
        return [c.strip() for c in cells if c.strip()][-9:]
    assert counts("3")[:3] == ["2", "2", "0"]  # fichiers, acceptés, partiels
    assert counts("1") == ["2", "1", "0", "1", "0", "0", "1", "0", "0"]
    assert "fichiers" in head


def test_statut_never_takes_the_lock_nor_tidies(ws):
    """Looking must not disturb a run: statut only reads."""
    _file(ws, "10001", "a.csv")
    proc = ws.cli("traiter", check=False, env={ENV: "prise_notee:1"})  # claim recorded, file not moved yet
    assert proc.returncode == -signal.SIGKILL
    before = sorted(p.name for p in (ws.root / "travail").rglob("*"))
    ws.cli("statut")
    assert sorted(p.name for p in (ws.root / "travail").rglob("*")) == before
    ws.cli("traiter")
    assert ws.sql("SELECT nom, statut FROM fichiers") == [("a.csv", "accepte")]
