"""Operator logs: one line per event, with the file's SHA-256 and its sender; never a full NIR."""

from __future__ import annotations

import hashlib
import re

from amsn_batch.masking import scrub
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv

LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO|WARNING|ERROR) [a-z_]+( |$)")


def test_logs_name_hash_and_sender_and_never_a_nir(ws):
    siret = ws.registry.members["10001"][0]
    nirs = [make_nir() for _ in range(4)]
    spaced = f"{nirs[2][0]} {nirs[2][1:3]} {nirs[2][3:5]} {nirs[2][5:7]} {nirs[2][7:10]} {nirs[2][10:13]} {nirs[2][13:]}"
    rows = [employee_row(nirs[0], siret), employee_row(nirs[1][:-2] + "00", siret), employee_row(spaced, siret),
            employee_row(nirs[3][:13], siret)]
    named = f"DUPONT {nirs[0]}.csv"  # senders do name files after people
    files = [write_csv(ws.drop("10001", "paie.csv"), MOVEMENT_HEADERS, rows),
             write_csv(ws.drop("10001", named), MOVEMENT_HEADERS, [employee_row(make_nir(), siret)]),
             write_csv(ws.drop("INCONNU", "x.csv"), MOVEMENT_HEADERS, rows[:2])]
    hashes = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    proc = ws.cli("traiter", "--verbose")
    everything = proc.stdout + proc.stderr
    for nir in nirs:
        assert nir not in everything and nir[:13] not in everything
    assert spaced not in everything

    lines = proc.stderr.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    applied = [line for line in lines if " applique " in line]
    assert len(applied) == 3
    for line in applied:
        assert re.search(r"expediteur=(10001|INCONNU)", line)
        assert re.search(r"empreinte=([0-9a-f]{64})", line).group(1) in hashes
    assert any(" depot_pris " in line for line in lines)  # --verbose: each stage
    assert any(" accuse_ecrit " in line for line in lines)


def test_default_level_is_one_line_per_file(ws):
    write_csv(ws.drop("10001", "paie.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(), ws.registry.members["10001"][0])])
    proc = ws.cli("traiter")
    events = [line.split()[3] for line in proc.stderr.splitlines()]
    assert events == ["applique", "traitement_fin"]
    idle = ws.cli("traiter")
    assert idle.stderr == ""  # an idle run (every few minutes from cron) logs nothing


def test_scrub():
    nir = "295082A12345678"
    assert nir not in scrub(f"x {nir} y")
    assert "1 95 08 75 123 456 78" not in scrub("nir=1 95 08 75 123 456 78")
    sha = "ab" + "1234567890123" * 4 + "cdef"
    assert scrub(f"empreinte={sha}") == f"empreinte={sha}"
