"""Poison files: a small workbook that would make the reader allocate its whole sheet grid (one cell at
XFD1048576 in 2 KB asks calamine for 549 GB and aborted every run) is refused with a French reason, the
other files of the inbox are processed in the same run; a file whose reading stops the run anyway is
counted per claim and set aside after two attempts; `valider` answers instead of aborting."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest

from amsn_batch.faults import ENV
from tests.conftest import CLI, Workspace, make_workspace
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx

FAR_ROW = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'


def _workbook(path: Path, edit) -> Path:
    """A real workbook (a header and one valid row) whose sheet XML is then passed through `edit`."""
    model = write_xlsx(path.with_name(path.name + ".modele"), MOVEMENT_HEADERS, [["DUPONT", "Marie"]])
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(model) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info.filename, data)
    model.unlink()
    return path


def _poison(path: Path) -> Path:
    """One cell at XFD1048576 (the sheet's declared dimension is left as it was: it lies)."""
    return _workbook(path, lambda xml: xml.replace("</sheetData>", FAR_ROW + "</sheetData>"))


def _valid_csv(ws: Workspace, sender: str, name: str) -> Path:
    siret = ws.registry.members[sender][0]
    return write_csv(ws.drop(sender, name), MOVEMENT_HEADERS, [employee_row(make_nir(), siret, name=f"NOM{i}") for i in range(3)])


def _traiter(ws: Workspace, fault: str | None = None) -> subprocess.CompletedProcess:
    """`traiter` in a process of its own: the point of these tests is what happens when it dies."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if fault:
        env[ENV] = fault
    return subprocess.run([*CLI, "traiter", "--config", str(ws.config)], capture_output=True, text=True,
                          cwd=ws.root, env=env, timeout=600)


def _status(ws: Workspace, name: str) -> str | None:
    rows = ws.sql("SELECT statut FROM fichiers WHERE nom = ?", name)
    return rows[0][0] if rows else None


def _reason(ws: Workspace, sender: str, name: str) -> str:
    return (ws.quarantine / sender / f"{name}.raison.txt").read_text(encoding="utf-8")


def _messages(ws: Workspace, name: str) -> list[str]:
    return [m for (m,) in ws.sql("SELECT c.message FROM constats c JOIN fichiers f ON f.id = c.fichier_id "
                                 "WHERE f.nom = ? AND c.code = 'FICHIER_ILLISIBLE'", name)]


def _travail_files(ws: Workspace) -> list[Path]:
    return [p for p in (ws.root / "travail").rglob("*") if p.is_file() and p.name != ".verrou"]


def test_poison_workbook_is_refused_and_the_other_sender_is_processed_in_the_same_run(ws):
    poison = _poison(ws.drop("10001", "effectif.xlsx"))
    assert poison.stat().st_size < 10_000
    original = poison.read_bytes()
    os.utime(poison, (1_790_000_000, 1_790_000_000))  # the oldest: taken first
    _valid_csv(ws, "10002", "entrees.csv")

    proc = _traiter(ws)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "memory allocation" not in proc.stderr
    assert _status(ws, "entrees.csv") == "accepte"
    assert ws.sql("SELECT count(*) FROM salaries_actuels")[0][0] == 3
    assert _status(ws, "effectif.xlsx") == "rejete"
    reason = _reason(ws, "10001", "effectif.xlsx")
    assert "XFD1048576" in reason and "au-delà des limites" in reason and "Ctrl+Fin" in reason
    assert (ws.quarantine / "10001" / "effectif.xlsx").read_bytes() == original
    assert any("XFD1048576" in m for m in _messages(ws, "effectif.xlsx"))
    assert any(p.suffix == ".json" for p in (ws.outbox / "10001").iterdir())  # the sender is answered
    assert _travail_files(ws) == [] and list(ws.inbox.rglob("*.xlsx")) == []

    again = _traiter(ws)  # nothing left behind to retry
    assert again.returncode == 0 and "Aucun fichier" in again.stdout
    if not ws.database:  # SQLite's own check of its file
        assert ws.sql("PRAGMA integrity_check") == [("ok",)]


def test_lying_declared_or_unreferenced_extents_are_refused_before_reading(ws):
    # The dimension says A1:N2, a cell sits at column AAAA (column 18,279).
    _workbook(ws.drop("10001", "menteur.xlsx"),
              lambda xml: xml.replace("</sheetData>", '<row r="3"><c r="AAAA3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'))
    # The dimension declares the whole sheet, the cells are few.
    _workbook(ws.drop("10001", "declare.xlsx"), lambda xml: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', xml))
    # A row whose 20,000 cells carry no reference (measured by the exact parser).
    cells = '<c t="inlineStr"><is><t>x</t></is></c>' * 20_000
    _workbook(ws.drop("10001", "sans-reference.xlsx"), lambda xml: xml.replace("</sheetData>", f"<row>{cells}</row></sheetData>"))
    # As Excel writes it: the relationships namespace on the root, conditional formatting after the data.
    _workbook(ws.drop("10001", "excel.xlsx"), lambda xml: xml.replace(
        "<worksheet ", '<worksheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ', 1
    ).replace("</sheetData>", '</sheetData><conditionalFormatting sqref="A1:A9"><cfRule type="duplicateValues" '
                              'priority="1"/></conditionalFormatting>'))
    proc = _traiter(ws)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (ws.quarantine / "10001" / "excel.xlsx").exists() and _status(ws, "excel.xlsx") == "rejete"  # its rows
    assert "a des cellules jusqu'à la colonne AAAA" in _reason(ws, "10001", "menteur.xlsx")
    assert "déclare s'étendre jusqu'à la cellule XFD1048576" in _reason(ws, "10001", "declare.xlsx")
    assert "jusqu'à la cellule ADU3" in _reason(ws, "10001", "sans-reference.xlsx")  # column 801: one past 4 × 200
    assert {_status(ws, n) for n in ("menteur.xlsx", "declare.xlsx", "sans-reference.xlsx")} == {"rejete"}


def test_valider_answers_the_poison_workbook_with_the_french_refusal(ws, tmp_path):
    poison = _poison(tmp_path / "effectif.xlsx")
    out = tmp_path / "essai"
    proc = ws.cli("valider", str(poison), "--expediteur", "10001", "--sortie", str(out), check=False)
    assert proc.returncode >= 0 and "memory allocation" not in proc.stderr, proc.stderr[-2000:]
    assert "refusé" in proc.stdout
    found = "\n".join(p.read_text(encoding="utf-8-sig") for p in out.iterdir() if p.suffix in (".csv", ".json"))
    assert "XFD1048576" in found and "FICHIER_ILLISIBLE" in found
    assert ws.sql("SELECT count(*) FROM fichiers") == [(0,)]


def test_memory_limit_is_applied_to_the_workbook_reader(tmp_path):
    """Within the row and column limits, but a grid of 26 million cells: more than 300 MB for the reader,
    which the machine would give if the limit were not applied to the child process that reads it."""
    ws = make_workspace(tmp_path / "ws", extra_config="\n[limites]\nmemoire_lecture_mo = 300\n")
    reg, mand = ws.registry.write(tmp_path / "registre")
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    _workbook(ws.drop("10001", "grand.xlsx"),
              lambda xml: xml.replace("</sheetData>", '<row r="1000000"><c r="Z1000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'))
    _valid_csv(ws, "10002", "entrees.csv")
    proc = _traiter(ws)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reason = _reason(ws, "10001", "grand.xlsx")
    assert "plus de mémoire que la limite de 300 Mo" in reason
    assert _status(ws, "entrees.csv") == "accepte"


def test_a_file_whose_reading_kills_the_run_twice_is_set_aside_and_the_others_go_through(ws):
    """A run dying while it reads a file (here killed at the `lecture` point, as the OOM killer would) leaves
    the file claimed; the next run tries it again; after two such deaths it is quarantined unread with a
    French reason and an acknowledgement, and the other files are processed."""
    first = _valid_csv(ws, "10001", "premier.csv")
    os.utime(first, (1_790_000_000, 1_790_000_000))
    _valid_csv(ws, "10002", "second.csv")

    for _ in range(2):
        proc = _traiter(ws, fault="lecture:1")
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        assert _status(ws, "premier.csv") is None
    records = [json.loads(p.read_text(encoding="utf-8")) for p in (ws.root / "travail").rglob("prise.json")]
    assert [(r["nom"], r["lecture_en_cours"]) for r in records] == [("premier.csv", True)]

    proc = _traiter(ws)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reason = _reason(ws, "10001", "premier.csv")
    assert "à 2 reprises" in reason and "déposez-le à nouveau" in reason
    assert _status(ws, "premier.csv") == "rejete" and _status(ws, "second.csv") == "accepte"
    assert ws.sql("SELECT count(*) FROM salaries_actuels")[0][0] == 3  # the second file's rows only
    assert any(p.suffix == ".json" for p in (ws.outbox / "10001").iterdir())
    assert _travail_files(ws) == []


def test_a_run_killed_once_while_reading_or_elsewhere_does_not_set_the_file_aside(ws):
    _valid_csv(ws, "10001", "entrees.csv")
    assert _traiter(ws, fault="lecture:1").returncode == -signal.SIGKILL
    assert _traiter(ws).returncode == 0
    assert _status(ws, "entrees.csv") == "accepte"
    assert not (ws.quarantine / "10001").exists()

    _valid_csv(ws, "10002", "autres.csv")  # killed twice after its reading: never counted
    for point in ("controle_fait:1", "applique:1"):
        assert _traiter(ws, fault=point).returncode == -signal.SIGKILL
    assert _traiter(ws).returncode == 0
    assert _status(ws, "autres.csv") == "accepte"


@pytest.mark.check_trips
def test_a_check_that_raises_refuses_its_file_and_the_run_goes_on(ws, monkeypatch, _checks_never_trip):
    """A check raising on a file (a bug, or a file no one foresaw) refuses that file in French, sets it aside
    whole and logs the exception's type, without a NIR; the other files of the run are processed as usual."""
    from amsn_batch.rules import employees as rules_employees

    siret = ws.registry.members["10001"][0]
    nir = make_nir()
    checked = rules_employees._nir_birth

    def tripping(r, f):
        if r.n == 2:  # the first file only
            raise ValueError("un contrôle défaillant")
        return checked(r, f)

    monkeypatch.setattr(rules_employees, "_nir_birth", tripping)
    write_csv(ws.drop("10001", "a.csv"), MOVEMENT_HEADERS, [employee_row(nir, siret), employee_row(make_nir(), siret)])
    original = (ws.inbox / "10001" / "a.csv").read_bytes()
    write_csv(ws.drop("10001", "b.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(), siret) for _ in range(3)])
    ws.cli("traiter")
    tripped = ws.ack("10001", "a")
    assert (tripped["statut"], tripped["lignes_acceptees"]) == ("rejete", 0)
    assert any("n'a pas pu être lu" in r["message"] for r in ws.ack_rows("10001", "a"))
    assert (ws.quarantine / "10001" / "a.csv").read_bytes() == original
    assert ws.ack("10001", "b")["lignes_acceptees"] == 3 and ws.sql("SELECT count(*) FROM salaries") == [(3,)]
    lines = _checks_never_trip.lines  # the lecture_impossible lines (conftest)
    assert len(lines) == 1 and "erreur=ValueError" in lines[0] and nir not in lines[0]
