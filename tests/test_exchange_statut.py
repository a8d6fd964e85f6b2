"""`amsn-batch statut`: waiting, held, quarantined files and the last runs with their counts."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from amsn_batch.faults import ENV
from tests.conftest import CLI
from tests.exchange import wait_for
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

    ws.sql("INSERT INTO fichiers (sha256, expediteur, nom, recu_le, statut, etape) "
           "VALUES ('ab12cd34ef56', '10003', 'retenu.csv', '2026-11-02T10:00:00', 'en_attente', 'termine')")

    out = ws.cli("statut").stdout
    assert "Traitement en cours : aucun." in out
    assert "Dépôts en attente de traitement : 1 fichier(s)" in out
    assert "10001/e.csv" in out and "prêt" in out
    assert "PAIE01/d.csv.part — fichier temporaire (dépôt en cours)" in out
    assert "Pris en charge par un traitement interrompu, repris au prochain : 1 fichier(s)" in out
    assert "  10002/c.csv — reçu le" in out
    assert "Retenus pour examen par le service (en attente) : 1 fichier(s)" in out
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


def _section(out: str, title: str) -> list[str]:
    """The indented lines under the line starting with `title`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        body.append(line)
    return body


def test_statut_names_refused_files_and_what_each_sender_sent(ws):
    good = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS,
              [employee_row(make_nir(), good), employee_row("1", good)])  # one line refused (NIR)
    ws.drop("10001", "illisible.xlsx").write_bytes(b"rien d'un classeur")
    _file(ws, "PAIE01", "paie.csv", "10002")
    ws.cli("traiter", env={"AMSN_BATCH_MAINTENANT": "2026-11-30T09:30"})

    out = ws.cli("statut", env={"AMSN_BATCH_MAINTENANT": "2026-12-02T08:00"}).stdout
    assert "Refusés ces 7 derniers jours : 1 fichier(s)" in out
    [refused] = _section(out, "Refusés ces 7 derniers jours")
    assert refused.startswith("  10001/illisible.xlsx — traité le 30/11/2026 à 09:30 — ") and "classeur" in refused
    assert "Reçus ces 7 derniers jours, par expéditeur : 3 fichier(s) de 2 expéditeur(s)" in out
    by_sender = _section(out, "Reçus ces 7 derniers jours")
    name = ws.sql("SELECT raison_sociale FROM adherents WHERE numero='10001'")[0][0]
    assert by_sender[0] == f"  10001 {name} : 2 fichier(s)"
    assert by_sender[1] == ("    embauches.csv — accepté en partie — traité le 30/11/2026 à 09:30 — "
                            "2 ligne(s) : 1 acceptée(s), 1 refusée(s)")
    assert by_sender[2].startswith("    illisible.xlsx — refusé — traité le 30/11/2026 à 09:30 — mis en quarantaine")
    assert by_sender[3].startswith("  PAIE01 ") and by_sender[3].endswith(" : 1 fichier(s)")
    assert by_sender[4].startswith("    paie.csv — accepté — ")
    assert "accepte_partiellement" not in out and "rejete" not in out and "en_attente" not in out

    later = ws.cli("statut", "--jours", "1", env={"AMSN_BATCH_MAINTENANT": "2026-12-02T08:00"}).stdout
    assert "Refusés ces dernières 24 heures : 0 fichier(s)" in later
    assert "Reçus ces dernières 24 heures, par expéditeur : 0 fichier(s) de 0 expéditeur(s)" in later


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("T")
    except OSError:
        return False


def test_statut_names_the_files_a_running_run_has_taken(ws):
    _file(ws, "10001", "en-cours.csv")
    run = subprocess.Popen([*CLI, "traiter", "--config", str(ws.config)], cwd=ws.root, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env={**os.environ, ENV: "empreinte:1:stop"})
    try:
        wait_for(lambda: _stopped(run.pid))
        out = ws.cli("statut").stdout
        assert f"Traitement en cours : processus {run.pid}" in out
        assert "En cours de traitement : 1 fichier(s)" in out
        assert _section(out, "En cours de traitement")[0].startswith("  10001/en-cours.csv — reçu le ")
        assert "traitement interrompu" not in out
    finally:
        os.kill(run.pid, signal.SIGCONT)
    run.communicate(timeout=300)
    assert run.returncode == 0
