"""Benchmark of `amsn-batch traiter` on generated employee files (not a test: it prints figures).

For each file: the whole `traiter` run as a separate process (wall time, peak RSS), beside the floor
measured in the same run: a bare pandas read of the same file plus a bare sqlite3 executemany insert of
its rows, also in a separate process. Prints rows/s and the ratio to the floor.

    python bench/bench_traiter.py                 # 1,000,000-row CSV, 100,000-row XLSX, 100,000-employee full list
    python bench/bench_traiter.py --csv-rows 200000 --xlsx-rows 20000 --liste-rows 0
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import as_installed  # noqa: E402

from tests.factories import MOVEMENT_HEADERS, Registry, make_nir, write_csv  # noqa: E402

OUT = ROOT / "bench" / "out"

FLOOR = r"""
import sqlite3, sys, pandas as pd
path, fmt, db = sys.argv[1], sys.argv[2], sys.argv[3]
if fmt == "csv":
    df = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="cp1252")
else:
    df = pd.read_excel(path, dtype=str, engine="calamine", header=0)
conn = sqlite3.connect(db)
cols = list(df.columns)
conn.execute("CREATE TABLE t (" + ", ".join(f'c{i} TEXT' for i in range(len(cols))) + ")")
conn.execute("BEGIN")
conn.executemany("INSERT INTO t VALUES (" + ",".join("?" * len(cols)) + ")", zip(*(df[c].tolist() for c in cols)))
conn.execute("COMMIT")
"""


def rows_for(n: int, sirets: list[str], bad_share: float = 0.01, seed: int = 2026) -> list[list[str]]:
    rng = random.Random(seed)
    jobs = [("Vendeuse", "554a"), ("Chauffeur", "641a"), ("Comptable", "543b"), ("Cariste", "652a"), ("Cadre", "372c")]
    contracts = ["CDI", "CDD", "01", "Intérim"]
    out = []
    for i in range(n):
        job, pcs = jobs[i % len(jobs)]
        nir = make_nir(rng)
        hired = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2026)}"
        row = [f"NOM{i}", "Prénom", nir, "", sirets[i % len(sirets)], "Entrée", hired, "", contracts[i % 4], job, pcs,
               "Non", "SI", ""]
        if rng.random() < bad_share:
            row[2] = nir[:14] + str((int(nir[14]) + 1) % 10)
        out.append(row)
    return out


# A small launcher per measurement: RUSAGE_CHILDREN keeps the largest peak of all children, so each
# command runs under its own launcher process, which reports that command's peak alone.
LAUNCHER = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); " \
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) of the command's largest process, and the peak of the RSS of all its
    processes at once (sampled every 100 ms: a big file's correction workbook is written by a second process)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    launcher, together = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            together = max(together, sum(p.memory_info().rss for p in launcher.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"échec de {cmd}: {err}")
    return wall, int(out.strip().splitlines()[-1]) / 1024, together / 1e6


def _workspace(work: Path, reg: Registry) -> tuple[Path, list[str]]:
    """Settings, the registry imported, member 10001's inbox folder: (settings file, CLI command)."""
    config = work / "reglages.toml"
    config.write_text('[paths]\ndatabase = "amsn.sqlite"\n\n[depot]\ndelai_stabilite = 0  # files are copied in whole before the run\n',
                      encoding="utf-8")
    reg_csv, mand_csv = reg.write(work)
    cli = [sys.executable, "-m", "amsn_batch"]
    subprocess.run([*cli, "adherents", "importer", str(reg_csv), "--mandats", str(mand_csv), "--config", str(config)], check=True, capture_output=True)
    (work / "inbox" / "10001").mkdir(parents=True)
    return config, cli


def measure(kind: str, n: int) -> None:
    work = OUT / f"{kind}-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    reg = Registry()
    siret_list = [s for sirets in reg.members.values() for s in sirets][:2]  # both establishments of 10001
    rows = rows_for(n, siret_list)
    t0 = time.perf_counter()
    src = work / f"effectifs.{kind}"
    if kind == "csv":
        write_csv(src, MOVEMENT_HEADERS, rows, encoding="cp1252")
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Salariés")
        ws.append(MOVEMENT_HEADERS)
        for r in rows:
            ws.append(r)
        wb.save(src)
    gen = time.perf_counter() - t0
    config, cli = _workspace(work, reg)
    shutil.copy(src, work / "inbox" / "10001" / src.name)

    floor_wall, floor_rss, _ = run([sys.executable, "-c", FLOOR, str(src), kind, str(work / "floor.sqlite")])
    wall, rss, together = run([*cli, "traiter", "--config", str(config)])
    print(f"{kind.upper()} {n:>9,} lignes (fichier généré en {gen:.1f} s, {src.stat().st_size / 1e6:.0f} Mo)".replace(",", " "))
    print(f"  traiter      : {wall:6.2f} s  {n / wall:>10,.0f} lignes/s  pic mémoire {rss:6.0f} Mo"
          f" (tous processus ensemble : {together:.0f} Mo)".replace(",", " "))
    print(f"  plancher     : {floor_wall:6.2f} s  {n / floor_wall:>10,.0f} lignes/s  pic mémoire {floor_rss:6.0f} Mo".replace(",", " "))
    print(f"  ratio traiter / plancher : {wall / floor_wall:.2f}")


def measure_list(n: int) -> None:
    """A member's full staff list, the month after its n employees entered: 2 % gone, 3 % new, 10 % with a
    new job; the second month's `traiter` is timed (derived exits, entries and changes against the store)."""
    work = OUT / f"liste-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    reg = Registry()
    sirets = [s for sirets in reg.members.values() for s in sirets][:2]
    first = rows_for(n, sirets, bad_share=0)
    config, cli = _workspace(work, reg)
    write_csv(work / "inbox" / "10001" / "mois1.csv", MOVEMENT_HEADERS, first, encoding="cp1252")
    subprocess.run([*cli, "traiter", "--config", str(config)], check=True, capture_output=True)

    rng = random.Random(7)
    move = MOVEMENT_HEADERS.index("Mouvement")
    listed = []
    for row in first:
        r = rng.random()
        if r < 0.02:
            continue  # gone: an exit derived at the list's date
        row = row[:move] + row[move + 1:]
        if r < 0.12:
            row[MOVEMENT_HEADERS.index("Poste de travail") - 1] = "Chef d'équipe"
        listed.append(row)
    listed += [r[:move] + r[move + 1:] for r in rows_for(int(n * 0.03), sirets, bad_share=0, seed=7)]  # new hires
    headers = MOVEMENT_HEADERS[:move] + MOVEMENT_HEADERS[move + 1:]
    write_csv(work / "inbox" / "10001" / "liste.csv", headers, listed, encoding="cp1252")
    wall, rss, together = run([*cli, "traiter", "--config", str(config)])
    print(f"Liste complète de {len(listed):,} salariés".replace(",", " ") + ", le mois suivant (2 % partis, 3 % nouveaux, 10 % modifiés)")
    print(f"  traiter      : {wall:6.2f} s  {len(listed) / wall:>10,.0f} lignes/s  pic mémoire {rss:6.0f} Mo".replace(",", " "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv-rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--liste-rows", type=int, default=100_000, help="effectif du membre pour la liste complète (0 : sans)")
    args = ap.parse_args()
    as_installed()
    if args.csv_rows:
        measure("csv", args.csv_rows)
    if args.xlsx_rows:
        measure("xlsx", args.xlsx_rows)
    if args.liste_rows:
        measure_list(args.liste_rows)


if __name__ == "__main__":
    main()
