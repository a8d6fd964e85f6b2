"""Benchmark of `amsn-batch traiter` on a generated DSN (not a test: it prints figures).

A monthly DSN of one establishment with N individuals (about 40 rubriques each: individual, contract,
payments, pay items, contributions), processed twice by `traiter` as separate processes: first into an
empty store (every individual an entry), then the next month (2 % ends, 3 % hires, 10 % job changes) against
the store the first one left. Wall time and peak RSS of each run, and the time of the reading alone.

    python bench/dsn.py                 # 100,000 individuals (about 4 million lines)
    python bench/dsn.py --individus 20000
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import as_installed  # noqa: E402

from tests.dsn_factory import nir13  # noqa: E402
from tests.factories import Registry  # noqa: E402

OUT = ROOT / "bench" / "out" / "dsn"
JOBS = [("Vendeuse", "554a"), ("Chauffeur", "641a"), ("Comptable", "543b"), ("Cariste", "652a"), ("Cadre", "372c")]


def write_month(path: Path, siret: str, month: int, people: list[dict]) -> int:
    """The DSN of `month` (2026) for these people; returns its number of lines."""
    first = f"01{month:02d}2026"
    rows = ["S10.G00.00.001,'BENCH'", "S10.G00.00.002,'BENCH'", "S10.G00.00.003,'1'", "S10.G00.00.005,'01'",
            "S10.G00.00.006,'P26V01'", "S10.G00.00.008,'01'", "S10.G00.01.001,'123456789'", "S10.G00.01.002,'00012'",
            "S20.G00.05.001,'01'", "S20.G00.05.002,'01'", "S20.G00.05.003,'11'", "S20.G00.05.004,'1'",
            f"S20.G00.05.005,'{first}'", f"S21.G00.06.001,'{siret[:9]}'", f"S21.G00.06.002,'{siret[9:]}'",
            f"S21.G00.11.001,'{siret[9:]}'", "S21.G00.11.002,'4711D'"]
    append = rows.append
    for p in people:
        rows.extend((f"S21.G00.30.001,'{p['nir']}'", f"S21.G00.30.002,'{p['nom']}'", f"S21.G00.30.004,'{p['prenom']}'",
                     "S21.G00.30.005,'01'", f"S21.G00.30.006,'{p['naissance']}'", "S21.G00.30.007,'CAEN'",
                     "S21.G00.30.008,'14'", "S21.G00.30.009,'FR'",
                     f"S21.G00.40.001,'{p['debut']}'", "S21.G00.40.002,'04'", "S21.G00.40.003,'01'",
                     f"S21.G00.40.004,'{p['pcs']}'", f"S21.G00.40.006,'{p['poste']}'", "S21.G00.40.007,'01'",
                     "S21.G00.40.008,'99'", f"S21.G00.40.009,'{p['numero']}'", "S21.G00.40.011,'10'",
                     "S21.G00.40.012,'151.67'", "S21.G00.40.013,'10'"))
        if p.get("fin"):
            append(f"S21.G00.62.001,'{p['fin']}'")
            append("S21.G00.62.002,'059'")
        rows.extend((f"S21.G00.50.001,'28{month:02d}2026'", "S21.G00.50.002,'1800.00'", "S21.G00.50.004,'2300.00'",
                     f"S21.G00.51.001,'{first}'", f"S21.G00.51.002,'28{month:02d}2026'", "S21.G00.51.010,'00001'",
                     "S21.G00.51.011,'001'", "S21.G00.51.012,'151.67'", "S21.G00.51.013,'2300.00'",
                     "S21.G00.78.001,'02'", "S21.G00.78.002,'2300.00'", "S21.G00.78.003,'2300.00'",
                     "S21.G00.81.001,'045'", "S21.G00.81.003,'2300.00'", "S21.G00.81.004,'120.00'",
                     "S21.G00.81.001,'068'", "S21.G00.81.003,'2300.00'", "S21.G00.81.004,'45.00'",
                     "S21.G00.81.001,'074'", "S21.G00.81.003,'2300.00'", "S21.G00.81.004,'12.00'"))
    rows += [f"S90.G00.90.001,'{len(rows) + 2}'", "S90.G00.90.002,'1'"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("iso-8859-1"))
    return len(rows)


def people(n: int, seed: int = 2026) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        job, pcs = JOBS[i % len(JOBS)]
        out.append({"nir": nir13(rng, "1"), "nom": f"NOM{i}", "prenom": "Élodie", "naissance": "01051980",
                    "debut": f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(1995, 2025)}",
                    "pcs": pcs, "poste": job, "numero": f"{i:06d}"})
    return out


def next_month(staff: list[dict], seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i, p in enumerate(staff):
        p = dict(p)
        r = rng.random()
        if r < 0.02:
            p["fin"] = "15022026"
        elif r < 0.12:
            p["poste"], p["pcs"] = "Responsable", "462a"
        out.append(p)
    hires = people(len(staff) * 3 // 100, seed=seed + 1)
    for k, p in enumerate(hires):
        p["debut"], p["nom"] = "02022026", f"NOUVEAU{k}"
    return out + hires


def run(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of a child process."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--individus", type=int, default=100_000)
    n = parser.parse_args().individus
    as_installed()
    shutil.rmtree(OUT, ignore_errors=True)
    ws = OUT / "ws"
    ws.mkdir(parents=True)
    (ws / "reglages.toml").write_text(
        '[paths]\ninbox = "inbox"\noutbox = "outbox"\narchive = "archive"\nquarantine = "quarantine"\n'
        'database = "data/amsn.sqlite"\n[depot]\ndelai_stabilite = 0\n', encoding="utf-8")
    registry = Registry()
    reg, mand = registry.write(OUT)
    cli = [sys.executable, "-m", "amsn_batch"]
    subprocess.run([*cli, "adherents", "importer", str(reg), "--mandats", str(mand), "--config", "reglages.toml"],
                   cwd=ws, check=True, capture_output=True)
    siret = registry.members["10001"][0]
    staff = people(n)
    months = [(1, staff), (2, next_month(staff))]
    for month, who in months:
        path = ws / "inbox" / "10001" / f"dsn-2026-{month:02d}.dsn"
        lines = write_month(path, siret, month, who)
        size = path.stat().st_size / 1048576
        read = subprocess.run([sys.executable, "-c", (
            "import sys, time; t = time.perf_counter(); from amsn_batch.read.dsn import read_dsn; from pathlib import Path; "
            "d = read_dsn(Path(sys.argv[1])); print(f'{time.perf_counter() - t:.2f}')"), str(path)],
            capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
        wall, peak = run([*cli, "traiter", "--config", "reglages.toml"], ws)
        print(f"DSN 2026-{month:02d}: {len(who):,} individus, {lines:,} lignes, {size:.0f} Mo — lecture seule {read} s, "
              f"traiter de bout en bout {wall:.1f} s ({lines / wall:,.0f} lignes/s), pic mémoire {peak:.0f} Mo")


if __name__ == "__main__":
    main()
