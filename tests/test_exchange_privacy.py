"""Issue 10, as hostile or careless senders: files mixing encodings, cross-member probes, NIRs in file names,
bidi controls. Files are dropped in a workspace's inbox, `traiter` runs, and what lands in outbox, logs,
store and the staff dashboard is checked."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from tests.acks import stem_of
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv


def _line(row: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerow(row)
    return buf.getvalue()


def _outbox_texts(ws, sender: str) -> str:
    """Everything the sender can read in its outbox: file names and the text of every file (CSV, JSON,
    HTML, and the cells of the correction workbooks)."""
    from openpyxl import load_workbook

    out = []
    for p in sorted((ws.outbox / sender).rglob("*")):
        if not p.is_file():
            continue
        out.append(p.name)
        if p.suffix == ".xlsx":
            wb = load_workbook(p, read_only=True)
            for sheet in wb.worksheets:
                for row in sheet.iter_rows(values_only=True):
                    out.extend(str(v) for v in row if v is not None)
            out.append(str(wb.properties.title))
        else:
            out.append(p.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(out)


# --- mixed encodings ---------------------------------------------------------------------------------------


@pytest.fixture
def rng():
    return random.Random(10)


def test_mixed_encoding_file_is_read_line_by_line(ws, rng):
    """UTF-8 with accented headers and names, one line saved by another editor in Windows-1252."""
    siret = ws.registry.members["10001"][0]
    names = [("LEFÈVRE", "Jérôme"), ("MÜLLER", "Zoé"), ("GARÇON", "Françoise"), ("DESCHÊNES", "Anaïs")] * 5
    rows = [employee_row(make_nir(rng), siret, name=n, first=p) for n, p in names]
    data = _line(MOVEMENT_HEADERS).encode("utf-8")
    for i, row in enumerate(rows):
        data += _line(row).encode("cp1252" if i == 7 else "utf-8")
    ws.drop("10001", "mixte.csv").write_bytes(data)
    ws.cli("traiter")
    ack = ws.ack("10001", "mixte")
    assert ack["lignes_acceptees"] == len(rows)
    stored = ws.sql("SELECT nom, prenom FROM salaries_actuels")
    assert sorted(stored) == sorted(names)
    assert not any("Ã" in n or "Ã" in p or "\ufffd" in n + p for n, p in stored)
    warning = [r for r in ws.ack_rows("10001", "mixte") if r["code"] == "ENCODAGE_MIXTE"]
    assert len(warning) == 1 and warning[0]["gravite"] == "avertissement"
    assert "Windows-1252" in warning[0]["message"] and "9" in warning[0]["message"]  # line 9: header + 8th row


def test_utf8_file_with_windows_lines_below_the_first_64_kb(ws, rng):
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), siret, name=f"NOM{i:05d}", first="Élodie") for i in range(800)]
    rows[750][0] = "BÉRANGER"
    data = _line(MOVEMENT_HEADERS).encode("utf-8") + b"".join(
        _line(r).encode("cp1252" if i == 750 else "utf-8") for i, r in enumerate(rows))
    assert data.index("BÉRANGER".encode("cp1252")) > 65536
    ws.drop("10001", "long.csv").write_bytes(data)
    ws.cli("traiter")
    assert ws.ack("10001", "long")["lignes_acceptees"] == 800
    assert ws.sql("SELECT count(*) FROM salaries_actuels WHERE prenom = 'Élodie'") == [(800,)]
    assert ws.sql("SELECT count(*) FROM salaries_actuels WHERE nom = 'BÉRANGER'") == [(1,)]


def test_a_line_that_decodes_in_no_encoding_is_refused_with_its_number(ws, rng):
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), siret, name="LEFÈVRE", first="Jérôme") for _ in range(4)]
    bad = _line(employee_row(make_nir(rng), siret, name="X", first="Y")).encode("cp1252").replace(b"X;", b"L\x81\x8dEROY;")
    data = _line(MOVEMENT_HEADERS).encode("utf-8") + b"".join(_line(r).encode("utf-8") for r in rows[:2]) + bad \
        + b"".join(_line(r).encode("utf-8") for r in rows[2:])
    ws.drop("10001", "abime.csv").write_bytes(data)
    ws.cli("traiter")
    found = [(r["ligne"], r["code"], r["colonne"]) for r in ws.ack_rows("10001", "abime") if r["gravite"] == "bloquant"]
    assert found == [("4", "CARACTERE_ILLISIBLE", "Nom de naissance")]
    assert ws.ack("10001", "abime")["lignes_acceptees"] == 4
    assert not any("\ufffd" in n or "Ã" in n for (n,) in ws.sql("SELECT nom FROM salaries_actuels"))


def test_a_line_mixing_two_encodings_is_refused(ws, rng):
    siret = ws.registry.members["10001"][0]
    good = employee_row(make_nir(rng), siret, name="LEFÈVRE", first="Jérôme")
    mixed = employee_row(make_nir(rng), siret, name="GARÇON", first="Zoé")
    line = _line(mixed).replace("Zoé", "\x00").encode("cp1252").replace(b"\x00", "Zoé".encode("utf-8"))
    ws.drop("10001", "melange.csv").write_bytes(_line(MOVEMENT_HEADERS).encode("utf-8") + _line(good).encode("utf-8") + line)
    ws.cli("traiter")
    assert [(r["ligne"], r["code"]) for r in ws.ack_rows("10001", "melange") if r["gravite"] == "bloquant"] == [("3", "CARACTERE_ILLISIBLE")]


def test_accents_already_garbled_are_refused_not_stored(ws, rng):
    """Decided: a UTF-8 file holding text that was once read as Windows-1252 (« Ã© ») is caught by a byte
    search over the file (cheap), and its lines refused; nothing is repaired by guessing."""
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), siret, name="LEFÈVRE", first="Jérôme"),
            employee_row(make_nir(rng), siret, name="JOÃO", first="Ana"),  # Portuguese: a real Ã
            employee_row(make_nir(rng), siret, name="LEFÃˆVRE", first="JÃ©rÃ´me")]
    write_csv(ws.drop("10001", "double.csv"), MOVEMENT_HEADERS, rows, encoding="utf-8")
    ws.cli("traiter")
    found = [(r["ligne"], r["code"]) for r in ws.ack_rows("10001", "double") if r["gravite"] == "bloquant"]
    assert found == [("4", "DOUBLE_ENCODAGE")]
    assert sorted(ws.sql("SELECT nom FROM salaries_actuels")) == [("JOÃO",), ("LEFÈVRE",)]


# --- nothing about another member --------------------------------------------------------------------------


def test_a_sender_learns_nothing_about_another_member(ws, rng):
    nir, other_nir = make_nir(rng), make_nir(rng)
    mine = ws.registry.members["10004"][0]
    theirs = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS,
              [employee_row(nir, theirs, name="SECRETNOM", first="Secret"),
               employee_row(other_nir, theirs, name="AUTRENOM", first="Autre")])
    ws.cli("traiter")
    # 10004 probes: a modification of a NIR employed by 10001 (own SIRET), the same with 10001's SIRET, and an
    # entry of a person employed by 10001 (not declared multi-employer).
    write_csv(ws.drop("10004", "sonde.csv"), MOVEMENT_HEADERS,
              [employee_row(nir, mine, movement="Modification", name="X", first="Y"),
               employee_row(nir, theirs, movement="Modification", name="X", first="Y"),
               employee_row(other_nir, theirs, movement="Entrée", name="X", first="Y"),
               employee_row(other_nir, mine, movement="Entrée", name="Z", first="W")])
    ws.cli("traiter")
    codes = [(r["ligne"], r["code"]) for r in ws.ack_rows("10004", "sonde")]
    assert ("2", "SALARIE_INCONNU") in codes and ("3", "SIRET_AUTRE_ADHERENT") in codes
    assert ("4", "SIRET_AUTRE_ADHERENT") in codes
    # the modification of someone not employed by the sender says nothing of where that person works
    assert not any(line == "2" and code == "MULTI_EMPLOYEUR_NON_DECLARE" for line, code in codes)
    # a line on another member's establishment is looked at no further
    assert [code for line, code in codes if line in ("3", "4")] == ["SIRET_AUTRE_ADHERENT", "SIRET_AUTRE_ADHERENT"]
    seen = _outbox_texts(ws, "10004")
    for secret in ("10001", "Entreprise 10001", "SECRETNOM", "AUTRENOM"):
        assert secret not in seen, secret
    # staff still see who else employs the person on the dashboard
    ws.cli("rapport", "quotidien")
    page = next((ws.root / "rapports").glob("quotidien-*.html")).read_text(encoding="utf-8")
    assert "Salariés présents chez plusieurs adhérents" in page
    block = page[page.index("Salariés présents chez plusieurs adhérents"):]
    block = block[:block.index("</section>")]
    assert "AUTRENOM Autre" in block and "10001 – Entreprise 10001 (non)" in block and "10004 – Entreprise 10004 (non)" in block
    assert other_nir not in page


def test_a_mandataire_without_mandate_is_not_told_the_member(ws, rng):
    theirs = ws.registry.members["10001"][0]
    write_csv(ws.drop("PAIE01", "sans-mandat.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), theirs)])
    ws.cli("traiter")
    rows = ws.ack_rows("PAIE01", "sans-mandat")
    assert [r["code"] for r in rows] == ["MANDAT_ABSENT"]
    assert "10001" not in _outbox_texts(ws, "PAIE01")


# --- NIRs in file names ------------------------------------------------------------------------------------


NIR_NAMES = {
    "dashes": "1-85-05-78-006-084-36.csv",
    "spaces": "salaries 1 85 05 78 006 084 36.csv",
    "dots": "1.85.05.78.006.084.36 embauche.csv",
    "underscores": "export_1_85_05_78_006_084_36.csv",
    "glued": "185057800608436.csv",
    "no key": "nir 1850578006084.csv",
    "corsica": "2-85-05-2A-006-084-36.csv",
}


def test_nirs_in_file_names_are_masked_everywhere(ws, rng):
    siret = ws.registry.members["10001"][0]
    for name in NIR_NAMES.values():
        write_csv(ws.drop("10001", name), MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret, pcs="99z")])
    proc = ws.cli("traiter", "-v")
    ws.cli("rapport", "quotidien")
    dashboard = "\n".join(p.read_text(encoding="utf-8") for p in (ws.root / "rapports").glob("*.html"))
    outbox = _outbox_texts(ws, "10001")
    jsons = [json.loads(p.read_text(encoding="utf-8")) for p in (ws.outbox / "10001").glob("*.ar.json")]
    assert len(jsons) == len(NIR_NAMES)
    digits = {"1850578006084", "1 85 05 78 006 084", "1-85-05-78-006-084", "1.85.05.78.006.084",
              "1_85_05_78_006_084", "2-85-05-2A-006-084"}
    for where, text in (("sortie", proc.stdout), ("journal", proc.stderr), ("accusés", outbox),
                        ("tableau de bord", dashboard), ("json", json.dumps([j["fichier"] for j in jsons]))):
        for d in digits:
            assert d not in text, (where, d)
    assert "1-85-05-xx-xxx-xxx-xx" in {stem_of(p.name) for p in (ws.outbox / "10001").iterdir()}
    assert any(j["fichier"] == "1-85-05-xx-xxx-xxx-xx.csv" for j in jsons)
    assert ws.sql("SELECT count(*) FROM fichiers WHERE nom LIKE '%006%'") == [(0,)]


# --- bidi controls -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u202e", "\u202b", "\u2067", "\u200f", "\u061c"])
def test_bidi_control_in_a_name_is_refused(ws, rng, char):
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), siret, name="MARTIN"), employee_row(make_nir(rng), siret, name=f"DU{char}TNOP")]
    write_csv(ws.drop("10001", "bidi.csv"), MOVEMENT_HEADERS, rows, encoding="utf-8")
    ws.cli("traiter")
    found = [(r["ligne"], r["code"], r["colonne"]) for r in ws.ack_rows("10001", "bidi")]
    assert found == [("3", "CARACTERE_BIDI", "Nom de naissance")]
    assert ws.sql("SELECT nom FROM salaries_actuels") == [("MARTIN",)]


def test_bidi_control_in_a_file_name_is_refused(ws, rng):
    siret = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "paie\u202excl.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret)])
    ws.cli("traiter")
    ack = ws.ack("10001", "paie_xcl")
    assert ack["statut"] == "rejete"
    assert [r["code"] for r in ws.ack_rows("10001", "paie_xcl")] == ["NOM_FICHIER_INVALIDE"]
    assert all("\u202e" not in p.name for p in ws.outbox.rglob("*"))
