"""Validation time alone (read excluded) of the employee rules, on a generated 1,000,000-row file, beside
the same measure for the backbone's basic rules: the backbone's code is checked out from git (a temporary
worktree of BASE) and timed on the same table in the same run. Prints both and the ratio.

    python bench/bench_rules.py [--rows N] [--base COMMIT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKBONE = "8274ee37adc2748bde68afb446f125c4f65e20de"  # last commit with the backbone's basic rules only
sys.path.insert(0, str(ROOT))

TIMER = r"""
import json, sys, time, statistics
sys.path.insert(0, sys.argv[1])
import pandas as pd
from amsn_batch.read import read_table
from amsn_batch.read.headers import map_headers
from amsn_batch.vocab import vocabulary
from amsn_batch.rules.employees import Context, Sender, validate
path, siret_json = sys.argv[2], sys.argv[3]
sirets = json.loads(siret_json)
vocab = vocabulary("mouvements")
table = read_table(__import__("pathlib").Path(path), vocab)
headers = map_headers(table.headers, vocab)
ctx = Context(Sender("10001", "adherent", frozenset({"10001"})), {s: "10001" for s in sirets})
times = []
for _ in range(3):
    t = time.perf_counter()
    out = validate(table, headers, ctx)
    times.append(time.perf_counter() - t)
print(json.dumps({"seconds": statistics.median(times), "accepted": len(out.accepted), "rows": out.rows}))
"""


def time_validate(code_root: Path, path: Path, sirets: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", TIMER, str(code_root), str(path), json.dumps(sirets)],
                          capture_output=True, text=True, cwd=code_root)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--base", default=BACKBONE)
    args = ap.parse_args()
    from bench.bench_traiter import rows_for
    from tests.factories import MOVEMENT_HEADERS, Registry, write_csv

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    sirets = Registry().members["10001"]
    path = write_csv(out / f"regles-{args.rows}.csv", MOVEMENT_HEADERS, rows_for(args.rows, sirets), encoding="cp1252")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base], check=True)
        try:
            before = time_validate(base, path, sirets)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=True)
    now = time_validate(ROOT, path, sirets)
    print(f"Validation de {args.rows:,} lignes (médiane de 3 ; lecture exclue) :".replace(",", " "))
    print(f"  règles de base ({args.base}) : {before['seconds']:.2f} s ({before['accepted']:,} lignes acceptées)".replace(",", " "))
    print(f"  catalogue complet (actuel)     : {now['seconds']:.2f} s ({now['accepted']:,} lignes acceptées)".replace(",", " "))
    print(f"  ratio : {now['seconds'] / before['seconds']:.2f}")


if __name__ == "__main__":
    main()
