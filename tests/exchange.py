"""Helpers for the file-exchange tests: a varied drop (several senders, formats, outcomes, a duplicate,
unreadable and empty files) and a snapshot of everything a run leaves (store, archive, quarantine,
outbox, drop and work folders), with what legitimately differs between runs (times, ids) taken out."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import Workspace, make_workspace, new_database
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx

DATE_DIRS = re.compile(r"/\d{4}/\d{2}/")
ACK_TOKEN = re.compile(r"\.recu-\d{8}-\d{6}\.[a-z]{6}(?![0-9A-Za-z])")  # when received, and claim: differ between runs


@pytest.fixture(scope="module", autouse=True)
def fixed_clock():
    """Every run of a module that imports this fixture at the same service clock, so that the reception times
    (the claims') of an interrupted history and of a clean one, or of two workers' runs, are the same."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMSN_BATCH_MAINTENANT", "2026-11-02T10:00:00")
        yield


def registered_workspace(root: Path, **kwargs) -> Workspace:
    """A workspace at `root` (make_workspace's keyword arguments) with the test registry and its mandates
    imported, as the exchange tests start from."""
    ws = make_workspace(root, **kwargs)
    reg, mand = ws.registry.write(root.parent / "registre")
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    return ws


def build_drop(ws: Workspace, seed: int = 11) -> list[Path]:
    """Eight files across five senders, with fixed contents and modification times (so two workspaces
    built alike are processed in the same order and give the same store)."""
    rng = random.Random(seed)
    reg = ws.registry
    s1, s1b = reg.members["10001"]
    s2 = reg.members["10002"][0]
    s3 = reg.members["10003"][0]
    nirs_2 = [make_nir(rng) for _ in range(3)]
    files = []
    files.append(write_csv(ws.drop("10001", "entrees.csv"), MOVEMENT_HEADERS,
                           [employee_row(make_nir(rng), s1 if i % 2 else s1b, name=f"NOM{i}") for i in range(5)]))
    bad = make_nir(rng)
    files.append(write_csv(ws.drop("10001", "mixte novembre été.csv"), MOVEMENT_HEADERS,
                           [employee_row(make_nir(rng), s1, name=f"MIXTE{i}") for i in range(3)]
                           + [employee_row(bad[:-2] + "00", s1), employee_row("12345", s1)], encoding="utf-8", bom=True))
    files.append(write_xlsx(ws.drop("10002", "mouvements.xlsx"), MOVEMENT_HEADERS,
                            [employee_row(n, s2, name=f"XL{i}") for i, n in enumerate(nirs_2)], title=["Mouvements de novembre"]))
    files.append(write_csv(ws.drop("PAIE01", "paie.csv"), MOVEMENT_HEADERS,
                           [employee_row(make_nir(rng), s3, name="PAIE"), employee_row(make_nir(rng), s3, name="PAIE2"),
                            employee_row(nirs_2[0], s2, movement="Modification", job="Chef de rayon")]))
    dup = ws.drop("10001", "copie.csv")
    shutil.copyfile(files[0], dup)
    files.append(dup)
    files.append(_write(ws.drop("10004", "illisible.xlsx"), bytes(rng.randrange(256) for _ in range(3000))))
    files.append(write_csv(ws.drop("INCONNU", "x.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), s1)]))
    files.append(write_csv(ws.drop("10001", "vide.csv"), MOVEMENT_HEADERS, []))
    base = 1_790_000_000  # fixed times: the order of processing and the recu_le of acknowledgements
    for i, f in enumerate(files):
        os.utime(f, ns=((base + 60 * i) * 10**9, (base + 60 * i) * 10**9))
    return files


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        if p.is_file():
            rel = DATE_DIRS.sub("/AAAA/MM/", "/" + str(p.relative_to(root)))
            out[rel] = sha(p) if not p.name.endswith(".raison.txt") else p.read_text(encoding="utf-8")
    return out


def _ack_text(p: Path) -> str:
    if p.suffix == ".xlsx":  # a correction workbook: compared by its cells (the file holds a timestamp)
        from openpyxl import load_workbook

        wb = load_workbook(p, read_only=True)
        return json.dumps({ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets},
                          ensure_ascii=False, default=str)
    text = ACK_TOKEN.sub(".*", p.read_text(encoding="utf-8"))
    if p.name.endswith(".json"):
        doc = json.loads(text)
        if doc.get("traitement_initial"):
            doc["traitement_initial"]["traite_le"] = "*"
        return json.dumps(doc, sort_keys=True, ensure_ascii=False)
    if p.name.endswith(".html"):
        text = re.sub(r"Accusé établi le .*? par", "Accusé établi le * par", text)  # the time it was written
        text = re.sub(r"(Premier traitement</dt><dd>le ).*? :", r"\1* :", text)
        return re.sub(r"Premier traitement le .*? : ", "Premier traitement le * : ", text)
    return text


def snapshot(ws: Workspace) -> dict:
    """What a finished set of runs leaves, comparable between an interrupted history and a clean one."""
    conn = ws.connection()
    try:
        fichiers = []
        for row in conn.execute(
                "SELECT id, sha256, expediteur, nom, taille, recu_le, statut, etape, lignes, lignes_acceptees, "
                "lignes_rejetees, entrees, sorties, modifications, avertissements, details, archive FROM fichiers ORDER BY id"):
            details = json.loads(row[15])
            details.pop("depot", None)
            details.pop("traitement", None)
            if "accuse" in details:
                details["accuse"] = ACK_TOKEN.sub(".*", details["accuse"])
            archive = DATE_DIRS.sub("/AAAA/MM/", str(Path(row[16]).relative_to(ws.root))) if row[16] else None
            fichiers.append((*row[:15], json.dumps(details, sort_keys=True, ensure_ascii=False), archive))
        store = {
            "fichiers": fichiers,
            "constats": conn.execute("SELECT * FROM constats ORDER BY rowid").fetchall(),
            "salaries": conn.execute("SELECT * FROM salaries ORDER BY id").fetchall(),
            "versions": conn.execute(
                "SELECT id, salarie_id, precedente_id, mouvement, fichier_id, ligne, champs_modifies, siret, nom, "
                "prenom, date_naissance, date_embauche, date_sortie, contrat, poste, pcs, multi_employeur, categorie, "
                "determinants, commentaire, contraintes FROM salaries_versions ORDER BY id").fetchall(),
        }
    finally:
        conn.close()
    if ws.database:  # PostgreSQL: an id a killed transaction took is not given again (sequences never roll
        # back), so ledger ids may have gaps; they are compared by rank, which SQLite's ids are.
        rank = {row[0]: n for n, row in enumerate(store["fichiers"], 1)}
        store["fichiers"] = [(rank[r[0]], *r[1:]) for r in store["fichiers"]]
        store["constats"] = [(rank[r[0]], *r[1:]) for r in store["constats"]]
        store["versions"] = [(*r[:4], rank[r[4]], *r[5:]) for r in store["versions"]]
    outbox: dict[str, str] = {}
    for p in sorted(ws.outbox.rglob("*")):
        if p.is_file():  # two answers to one file would stay two entries
            key = ACK_TOKEN.sub(".*", str(p.relative_to(ws.outbox)))
            while key in outbox:
                key += " (encore)"
            outbox[key] = _ack_text(p)
    travail = ws.root / "travail"
    return {
        "store": store,
        "archive": _tree(ws.archive),
        "quarantine": _tree(ws.quarantine),
        "outbox": outbox,
        "inbox": sorted(str(p.relative_to(ws.inbox)) for p in ws.inbox.rglob("*") if p.is_file()),
        "travail": sorted(str(p.relative_to(travail)) for p in travail.rglob("*") if p.name != ".verrou"),
    }


def copy_workspace(template: Workspace, root: Path) -> Workspace:
    shutil.copytree(template.root, root)
    config = root / template.config.name
    if not template.database:
        return Workspace(root, config, template.registry)
    url = new_database(template.database.rsplit("/", 1)[1])  # a PostgreSQL store: a copy of its database
    config.write_text(config.read_text(encoding="utf-8").replace(template.database, url), encoding="utf-8")
    return Workspace(root, config, template.registry, url)


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05) -> None:
    """Poll until predicate() is true (a test's guard against hanging, not a timing assertion)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition jamais remplie")
        time.sleep(step)
