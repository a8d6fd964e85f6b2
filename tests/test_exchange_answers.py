"""Every received file gets its own answer: a later file, whatever its name (same stem, same name, the same
bytes again), never overwrites or deletes an earlier acknowledgement or correction workbook; a stopped run
rebuilds a file's answer under the same names; `traiter` says how many files failed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

from amsn_batch.faults import ENV
from tests.acks import ack_paths, plain_name
from tests.conftest import CLI, Workspace
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx
from tests.report_data import generate
from tests.test_rejects_workbook import read_book
from tests.test_rules_catalogue import LIST_HEADERS, list_row


def answers(ws: Workspace, sender: str, stem: str) -> list[dict]:
    """The JSON answers to the sender's files of that stem, in the order they were written."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in ack_paths(ws.outbox / sender, stem, "ar.json")]


def files_of(ws: Workspace, sender: str, doc: dict) -> list[str]:
    """The outbox files of one answer (by its JSON's `accuse`)."""
    return sorted(p.name for p in (ws.outbox / sender).iterdir() if p.name.startswith(doc["accuse"] + "."))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def drop_one_then_another(ws, first: tuple, second: tuple) -> dict[str, bytes]:
    """Each of (name, generated file, writer) dropped by 10001 and processed in turn; returns 10001's outbox as it
    was between the two runs."""
    before = {}
    for n, (name, g, write) in enumerate((first, second)):
        if n:
            before = snapshot(ws.outbox / "10001")
        write(ws.drop("10001", name), g.headers, g.rows)
        ws.cli("traiter")
    return before


def test_same_stem_csv_then_xlsx_both_answers_and_both_workbooks(ws):
    sirets = ws.registry.members["10001"]
    before = drop_one_then_another(ws, ("paie.csv", generate(sirets, 6, {"date": 2}, seed=1), write_csv),
                                   ("paie.xlsx", generate(sirets, 7, {"pcs": 3}, seed=2), write_xlsx))

    a, b = answers(ws, "10001", "paie")
    assert (a["fichier"], a["nom_depose"], a["lignes_rejetees"]) == ("paie.csv", "paie.csv", 2)
    assert (b["fichier"], b["nom_depose"], b["lignes_rejetees"]) == ("paie.xlsx", "paie.xlsx", 3)
    assert a["sha256"] != b["sha256"] and a["accuse"] != b["accuse"]
    for doc, refused in ((a, 2), (b, 3)):
        names = files_of(ws, "10001", doc)
        assert [plain_name(n) for n in names] == ["paie.ar.csv", "paie.ar.html", "paie.ar.json", "paie.rejets.xlsx"]
        _, _, _, rows = read_book(ws.outbox / "10001" / f"{doc['accuse']}.rejets.xlsx")
        assert len(rows) == refused
        assert f"{doc['accuse']}.rejets.xlsx" in (ws.outbox / "10001" / f"{doc['accuse']}.ar.html").read_text(encoding="utf-8")
    assert {n: snapshot(ws.outbox / "10001")[n] for n in before} == before  # the first answer untouched
    # The dashboard links each file to its own answer.
    out = ws.cli("rapport", "quotidien").stdout
    page = Path(out.split(" : ", 1)[1].splitlines()[0]).read_text(encoding="utf-8")
    assert f"{a['accuse']}.ar.html" in page and f"{b['accuse']}.ar.html" in page


def test_same_name_resent_with_other_content_gets_a_second_answer(ws):
    sirets = ws.registry.members["10001"]
    before = drop_one_then_another(ws, ("envoi.csv", generate(sirets, 5, {"date": 2}, seed=3), write_csv),
                                   ("envoi.csv", generate(sirets, 5, seed=4), write_csv))

    a, b = answers(ws, "10001", "envoi")
    assert (a["statut"], a["lignes_rejetees"], b["statut"]) == ("accepte_partiellement", 2, "accepte")
    assert a["fichier"] == b["fichier"] == "envoi.csv" and a["sha256"] != b["sha256"]
    assert not (ws.outbox / "10001" / f"{b['accuse']}.rejets.xlsx").exists()
    after = snapshot(ws.outbox / "10001")
    assert {n: after[n] for n in before} == before  # the first answer and its workbook are still there, unchanged
    assert len(after) == len(before) + 3


def test_byte_identical_drop_gets_its_own_answer_pointing_to_the_first(ws):
    sirets = ws.registry.members["10001"]
    g = generate(sirets, 5, {"date": 1}, seed=5)
    data = write_csv(ws.drop("10001", "envoi.csv"), g.headers, g.rows).read_bytes()
    ws.cli("traiter")
    before = snapshot(ws.outbox / "10001")
    (first,) = answers(ws, "10001", "envoi")
    ws.drop("10001", "envoi.csv").write_bytes(data)
    ws.drop("PAIE01", "autre.csv").write_bytes(data)  # another sender, the same bytes
    ws.cli("traiter")

    after = snapshot(ws.outbox / "10001")
    assert {n: after[n] for n in before} == before  # the first acknowledgement intact, its findings too
    old, again = answers(ws, "10001", "envoi")
    assert old == first and again["statut"] == "deja_traite" and again["accuse"] != first["accuse"]
    assert sorted(again["traitement_initial"]["accuse"]) == sorted(before)  # its CSV, JSON, page and workbook
    assert again["traitement_initial"]["traite_le"] and again["traitement_initial"]["statut"] == "accepte_partiellement"
    assert len(after) == len(before) + 3  # csv, json, html of the second answer, no workbook
    page = (ws.outbox / "10001" / f"{again['accuse']}.ar.html").read_text(encoding="utf-8")
    assert f"{first['accuse']}.ar.html" in page

    (other,) = answers(ws, "PAIE01", "autre")  # another sender learns only that the content is known
    assert other["statut"] == "deja_traite" and "traitement_initial" not in other
    text = "".join(p.read_text(encoding="utf-8-sig") for p in (ws.outbox / "PAIE01").iterdir())
    assert first["accuse"] not in text and "envoi" not in text


def _killed(ws: Workspace, point: str) -> None:
    """A run killed (SIGKILL) at a fault point: the process boundary is the point."""
    proc = subprocess.run([*CLI, "traiter", "--config", str(ws.config)], capture_output=True, text=True, cwd=ws.root,
                          env={**os.environ, ENV: f"{point}:1"}, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


def test_run_killed_between_answer_and_archive_leaves_one_answer_per_file(ws):
    sirets = ws.registry.members["10001"]
    g = generate(sirets, 5, {"date": 1}, seed=6)
    data = write_csv(ws.drop("10001", "envoi.csv"), g.headers, g.rows).read_bytes()
    _killed(ws, "accuse_ecrit")
    ws.cli("traiter")
    (first,) = answers(ws, "10001", "envoi")
    assert len(snapshot(ws.outbox / "10001")) == 4  # csv, json, html, workbook: once
    assert ws.sql("SELECT json_extract(details, '$.accuse') FROM fichiers") == [(first["accuse"],)]

    before = snapshot(ws.outbox / "10001")
    ws.drop("10001", "envoi.csv").write_bytes(data)
    _killed(ws, "doublon_accuse")
    ws.cli("traiter")
    after = snapshot(ws.outbox / "10001")
    assert {n: after[n] for n in before} == before and len(after) == len(before) + 3
    assert [a["statut"] for a in answers(ws, "10001", "envoi")] == ["accepte_partiellement", "deja_traite"]


def test_released_held_list_rewrites_its_own_answer(ws):
    rng = random.Random(7)
    s = ws.registry.members["10001"][0]
    staff = [make_nir(rng) for _ in range(10)]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS, [employee_row(n, s) for n in staff])
    ws.cli("traiter")
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, [list_row(n, s) for n in staff])
    ws.cli("traiter")
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, [list_row(n, s) for n in staff[:6]])  # 4 of 10 leave: held
    ws.cli("traiter")
    first, held = answers(ws, "10001", "liste")
    assert (first["statut"], held["statut"]) == ("accepte", "en_attente")
    before = snapshot(ws.outbox / "10001")

    ws.cli("liste", "valider", held["sha256"][:16])
    first_again, released = answers(ws, "10001", "liste")
    assert first_again == first  # the other file named liste.csv keeps its answer
    assert (released["statut"], released["sorties"], released["accuse"]) == ("accepte", 4, held["accuse"])
    after = snapshot(ws.outbox / "10001")
    assert sorted(after) == sorted(before)  # the held file's own answer replaced, no new one
    assert after[f"{held['accuse']}.ar.json"] != before[f"{held['accuse']}.ar.json"]


def test_traiter_says_how_many_files_failed_and_will_be_retried(ws):
    sirets2 = ws.registry.members["10002"]
    g = generate(ws.registry.members["10001"], 3, seed=8)
    write_csv(ws.drop("10001", "paie.csv"), g.headers, g.rows)
    g2 = generate(sirets2, 3, seed=9)
    write_csv(ws.drop("10002", "autre.csv"), g2.headers, g2.rows)
    ws.archive.mkdir(parents=True, exist_ok=True)
    (ws.archive / "10001").write_text("pas un dossier")  # 10001's file cannot be archived: this run fails it

    proc = ws.cli("traiter", check=False)
    assert proc.returncode != 0
    assert "1 fichier(s) traité(s), 1 en échec" in proc.stdout
    assert "10001/paie.csv : erreur" in proc.stdout and "repris au prochain traitement" in proc.stdout
    assert "10002/autre.csv : accepté" in proc.stdout

    (ws.archive / "10001").unlink()
    proc = ws.cli("traiter")
    assert "1 fichier(s) traité(s), 0 en échec" in proc.stdout and "10001/paie.csv : accepté" in proc.stdout
    assert [a["statut"] for a in answers(ws, "10001", "paie")] == ["accepte"]  # rebuilt under the same names
    assert len(snapshot(ws.outbox / "10001")) == 3
