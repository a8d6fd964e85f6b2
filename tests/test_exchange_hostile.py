"""Hostile input: each file gets a French refusal (and the original goes to the quarantine), never a
traceback, never a hang; names are never trusted to build paths; values a spreadsheet would run as
formulas are neutralised in what the product writes."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import zipfile
from pathlib import Path

import pytest

from tests.conftest import make_workspace
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx
from tests.acks import ack_path, stem_of


def _valid(ws, name: str, n: int = 2, **kw) -> Path:
    siret = ws.registry.members["10001"][0]
    return write_csv(ws.drop("10001", name), MOVEMENT_HEADERS, [employee_row(make_nir(), siret, **kw) for _ in range(n)])


def _zip_bomb(path: Path, inflated_mb: int) -> Path:
    """A real workbook whose sheet inflates to `inflated_mb` megabytes of blanks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_xlsx(Path(str(path) + ".modele"), ["Nom de naissance"], [["x"]])
    model = Path(str(path) + ".modele")
    with zipfile.ZipFile(model) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename.endswith("sheet1.xml"):
                with zout.open(info.filename, "w", force_zip64=True) as fh:
                    fh.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                    chunk = b" " * (1 << 20)
                    for _ in range(inflated_mb):
                        fh.write(chunk)
                    fh.write(b"</sheetData></worksheet>")
            else:
                zout.writestr(info, zin.read(info))
    model.unlink()
    path.write_bytes(buf.getvalue())
    return path


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One workspace, one drop folder of hostile files, one run."""
    root = tmp_path_factory.mktemp("hostile")
    ws = make_workspace(root / "ws")
    reg, mand = ws.registry.write(root / "registre")
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    rng = random.Random(5)
    drop = ws.inbox / "10001"
    expected: dict[str, tuple[str, str | None]] = {}  # ack stem → (statut, code of the refusal)

    _zip_bomb(drop / "bombe.xlsx", 60)
    expected["bombe"] = ("rejete", "FICHIER_ILLISIBLE")
    _write(drop / "pas-un-classeur.xlsx", "Nom;Prénom\nceci n'est pas un classeur\n".encode())
    expected["pas-un-classeur"] = ("rejete", "FICHIER_ILLISIBLE")
    whole = write_xlsx(root / "entier.xlsx", MOVEMENT_HEADERS, [employee_row(make_nir(), ws.registry.members["10001"][0])])
    _write(drop / "classeur-coupe.xlsx", whole.read_bytes()[: whole.stat().st_size // 2])
    expected["classeur-coupe"] = ("rejete", "FICHIER_ILLISIBLE")
    _write(drop / "image.csv", b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(5000)))
    expected["image"] = ("rejete", "FICHIER_ILLISIBLE")
    _write(drop / "octets.csv", bytes(rng.randrange(128, 256) for _ in range(5000)) + b"\n")
    expected["octets"] = ("rejete", "FICHIER_ILLISIBLE")
    _write(drop / "vide.csv", b"")
    expected["vide"] = ("rejete", "FICHIER_ILLISIBLE")
    _write(drop / "blancs.csv", b" \r\n\r\n\t\r\n")
    expected["blancs"] = ("rejete", "FICHIER_ILLISIBLE")
    write_csv(drop / "entetes.csv", MOVEMENT_HEADERS, [])
    expected["entetes"] = ("rejete", "FICHIER_VIDE")
    with open(drop / "une-ligne.csv", "wb") as fh:  # 100 MB, one line, no line break
        chunk = b"AbCdEfGhIj;" * 100_000
        for _ in range(100 * 1024 * 1024 // len(chunk)):
            fh.write(chunk)
    expected["une-ligne"] = ("rejete", "FICHIER_ILLISIBLE")
    giant = employee_row(make_nir(), ws.registry.members["10001"][0], name="X" * 5_000_000)
    write_csv(drop / "cellule-geante.csv", MOVEMENT_HEADERS, [giant, employee_row(make_nir(), ws.registry.members["10001"][0])])
    expected["cellule-geante"] = ("accepte_partiellement", "VALEUR_TROP_LONGUE")
    write_csv(drop / "colonnes.csv", [f"Colonne {i}" for i in range(300)] + MOVEMENT_HEADERS, [])
    expected["colonnes"] = ("rejete", "FICHIER_ILLISIBLE")
    siret = ws.registry.members["10001"][0]
    write_csv(drop / "controle.csv", MOVEMENT_HEADERS,
              [employee_row(make_nir(), siret, name="BEL\x07"), employee_row(make_nir(), siret, job="Caisse\x1b[31m"),
               employee_row(make_nir(), siret, comment="ligne 1\nligne 2\ttabulée")], encoding="utf-8")
    expected["controle"] = ("accepte_partiellement", "CARACTERE_CONTROLE")
    # Names: ordinary French names are taken as they are; names that cannot be mirrored safely are refused.
    _valid(ws, "Salariés entrés en novembre (v2).csv")
    expected["Salariés entrés en novembre (v2)"] = ("accepte", None)
    _valid(ws, "a..b.csv")
    expected["a..b"] = ("accepte", None)
    _valid(ws, "paie..\\..\\etc\\passwd.csv")
    expected["paie..\\..\\etc\\passwd"] = ("accepte", None)
    _valid(ws, "<img src=x onerror=alert(1)>.csv")
    expected["<img src=x onerror=alert(1)>"] = ("accepte", None)
    _valid(ws, "ligne\nsuite.csv")
    expected["ligne_suite"] = ("rejete", "NOM_FICHIER_INVALIDE")
    _valid(ws, "n" * 240 + ".csv")
    expected[("n" * 240 + ".csv")[:197 - 4] + "…"] = ("rejete", "NOM_FICHIER_INVALIDE")
    raw = os.path.join(os.fsencode(drop), b"latin1-\xe9t\xe9.csv")
    with open(raw, "wb") as fh:
        fh.write(_valid(ws, "modele.csv").read_bytes())
    os.unlink(drop / "modele.csv")
    expected["latin1-_t_"] = ("rejete", "NOM_FICHIER_INVALIDE")

    proc = ws.cli("traiter", check=False)
    return ws, expected, proc


def test_run_survives_and_answers_every_file(hostile):
    ws, expected, proc = hostile
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert list((ws.inbox / "10001").iterdir()) == []
    assert not (ws.root / "travail" / "10001").exists()
    acks = {stem_of(p.name) for p in (ws.outbox / "10001").glob("*.ar.json")}
    assert acks == set(expected)
    assert ws.sql("SELECT count(*) FROM fichiers") == [(len(expected),)]


@pytest.mark.parametrize("case", [
    "bombe", "pas-un-classeur", "classeur-coupe", "image", "octets", "vide", "blancs", "entetes", "une-ligne",
    "cellule-geante", "colonnes", "controle", "Salariés entrés en novembre (v2)", "a..b", "paie..\\..\\etc\\passwd",
    "<img src=x onerror=alert(1)>", "ligne_suite", "latin1-_t_",
])
def test_each_file_gets_its_french_answer(hostile, case):
    ws, expected, _ = hostile
    status, code = expected[case]
    ack = ws.ack("10001", case)
    assert ack["statut"] == status
    rows = ws.ack_rows("10001", case)
    if code:
        hit = [r for r in rows if r["code"] == code]
        assert hit, rows
        assert all(r["gravite"] == "bloquant" for r in hit)
        assert any(w in hit[0]["message"] for w in ("fichier", "Fichier", "classeur", "ligne", "colonne", "nom"))
    assert all(len(r["valeur"]) < 300 and len(r["message"]) < 2000 for r in rows)  # nothing huge echoed back
    assert ack_path(ws.outbox / "10001", case, "ar.csv").stat().st_size < 100_000


def test_refused_files_are_kept_in_quarantine_with_the_reason(hostile):
    ws, expected, _ = hostile
    refused_whole = {stem for stem, (status, code) in expected.items()
                     if code in ("FICHIER_ILLISIBLE", "FICHIER_VIDE", "NOM_FICHIER_INVALIDE")}
    kept = sorted(p for p in (ws.quarantine / "10001").iterdir() if not p.name.endswith(".raison.txt"))
    assert len(kept) == len(refused_whole)
    for p in kept:
        reason = p.with_name(p.name + ".raison.txt").read_text(encoding="utf-8")
        assert reason.strip() and "Traceback" not in reason
    assert (ws.quarantine / "10001" / "une-ligne.csv").stat().st_size > 100_000_000  # the original, whole
    archived = list((ws.archive / "10001").rglob("*.csv"))
    assert len(archived) == len(expected) - len(refused_whole)


def test_names_never_escape_the_folders(hostile):
    ws, _, _ = hostile
    allowed = {"inbox", "outbox", "archive", "quarantine", "travail", "data", "envois", "reglages.toml"}  # envois/: the e-mails as .eml
    assert {p.name for p in ws.root.iterdir()} <= allowed
    for top in ("outbox", "archive", "quarantine"):
        for p in (ws.root / top).rglob("*"):
            assert p.resolve().is_relative_to(ws.root / top / "10001")
    html = ack_path(ws.outbox / "10001", "<img src=x onerror=alert(1)>", "ar.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_limits_are_settings(tmp_path):
    ws = make_workspace(tmp_path / "ws", extra_config="[limites]\nlignes_max = 3\ncolonnes_max = 10\n"
                                                       "decompression_max_mo = 5\ntaille_max_mo = 1\n")
    reg, mand = ws.registry.write(tmp_path / "registre")
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    siret = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "lignes.csv"), MOVEMENT_HEADERS[:9], [employee_row(make_nir(), siret)[:9] for _ in range(5)])
    write_csv(ws.drop("10001", "colonnes.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(), siret)])
    _zip_bomb(ws.drop("10001", "gros.xlsx"), 8)  # 8 Mo inflated: under the ratio rule, over 5 Mo
    _write(ws.drop("10001", "lourd.csv"), b"x" * (2 * 1024 * 1024))
    ws.cli("traiter")
    msg = {stem: ws.ack_rows("10001", stem)[0]["message"] for stem in ("lignes", "colonnes", "gros", "lourd")}
    assert "limite de 3 lignes" in msg["lignes"]
    assert "limite de 10" in msg["colonnes"]
    assert "décompressé" in msg["gros"] and "5 Mo" in msg["gros"]
    assert "limite de 1 Mo" in msg["lourd"]


def test_formula_values_are_neutralised_in_acknowledgements(ws):
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(), siret, contract="=HYPERLINK(\"http://x\";\"clic\")"),
            employee_row(make_nir(), siret, contract="+33612345678"),
            employee_row(make_nir(), siret, contract="-2+3"),
            employee_row(make_nir(), siret, contract="@SUM(A1)"),
            employee_row(make_nir(), siret, pcs="=1+1")]
    write_csv(ws.drop("10001", "formules.csv"), MOVEMENT_HEADERS + ["=cmd|' /C calc'!A0"], [r + ["x"] for r in rows],
              encoding="utf-8")
    ws.cli("traiter")
    text = ack_path(ws.outbox / "10001", "formules", "ar.csv").read_text(encoding="utf-8-sig")
    cells = [c for row in csv.reader(text.splitlines(), delimiter=";") for c in row]
    assert all(not c.startswith(("=", "+", "-", "@")) for c in cells), [c for c in cells if c[:1] in "=+-@"]
    assert "'=HYPERLINK" in text and "'+33612345678" in text and "'@SUM(A1)" in text and "'=cmd" in text


def test_every_product_writer_uses_safe_cell():
    """Any module writing CSV or spreadsheets must neutralise formulas (reports/formats.safe_cell), or, for an
    XLSX a sender edits and sends back, write string cells with the quote-prefix style (issue 11)."""
    root = Path(__file__).resolve().parent.parent / "amsn_batch"
    writers = ("csv.writer(", "csv.DictWriter(", ".to_csv(", ".to_excel(", "Workbook(", "xlsxwriter")
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        neutralised = "safe_cell" in text or ('"quote_prefix": True' in text and "write_string" in text)
        if any(w in text for w in writers) and not neutralised and path.name != "formats.py":
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_dry_run_tolerates_hostile_files_too(ws, tmp_path):
    bomb = _zip_bomb(tmp_path / "bombe.xlsx", 60)
    proc = ws.cli("valider", str(bomb), "--expediteur", "10001", "--sortie", str(tmp_path / "sortie"))
    assert "refusé" in proc.stdout
    ack = json.loads((tmp_path / "sortie" / "bombe.ar.json").read_text(encoding="utf-8"))
    assert ack["statut"] == "rejete"


def test_a_line_refused_for_its_characters_is_not_also_said_to_be_recorded(ws):
    """A full list whose newcomer's name holds a control character, and a resent movement whose extra column
    holds a value far too long: each line is refused, and the answer does not also say it entered
    (LISTE_ENTREE) or was already recorded (DEJA_ENREGISTRE)."""
    from tests.test_rules_catalogue import LIST_HEADERS, list_row

    rng = random.Random(5)
    s = ws.registry.members["10001"][0]
    staff, newcomer = [make_nir(rng) for _ in range(4)], make_nir(rng)
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, [list_row(n, s, name=f"NOM{i}") for i, n in enumerate(staff)])
    ws.cli("traiter")
    rows = [list_row(n, s, name=f"NOM{i}") for i, n in enumerate(staff)] + [list_row(newcomer, s, name="NOUV\x07EAU")]
    write_csv(ws.drop("10001", "liste-decembre.csv"), LIST_HEADERS, rows)
    ws.cli("traiter")
    on_line = [r["code"] for r in ws.ack_rows("10001", "liste-decembre") if r["ligne"] == "6"]
    assert "CARACTERE_CONTROLE" in on_line and "LISTE_ENTREE" not in on_line
    assert ws.ack("10001", "liste-decembre")["entrees"] == 0

    hired = [employee_row(make_nir(rng), s, name=f"EMB{i}") for i in range(3)]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS + ["Note"], [r + [""] for r in hired])
    ws.cli("traiter")
    again = [r + ["x" * 5000 if i == 1 else ""] for i, r in enumerate(hired)]
    write_csv(ws.drop("10001", "embauches-bis.csv"), MOVEMENT_HEADERS + ["Note"], again)
    ws.cli("traiter")
    by_line: dict[str, set[str]] = {}
    for r in ws.ack_rows("10001", "embauches-bis"):
        by_line.setdefault(r["ligne"], set()).add(r["code"])
    assert by_line["3"] == {"VALEUR_TROP_LONGUE"}
    assert by_line["2"] == by_line["4"] == {"DEJA_ENREGISTRE"}
