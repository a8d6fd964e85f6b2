"""Scale benchmark (not a test: it prints figures): does a file cost the same whatever the store holds?

For each store size (employees already in the store, 0 and 1,000,000 by default; 10,000,000 with --grand):
a store is generated directly (SQL, no `traiter`: a 10M store in minutes), then copied afresh before each
measure, and `amsn-batch traiter` is run as a separate process on:

- a 10,000-row and a 1,000,000-row movements file of the sending member (90 % entries, 5 % changes and 5 %
  exits of its stored employees, 1 % wrong NIR keys);
- a full staff list of 100,000 and of 1,000,000 employees (the next month of a member holding about as
  many: 2 % gone, 10 % changed, the rest as stored, new hires to make up the size);
- a monthly DSN of 100,000 individuals (bench/dsn.py's generator) of the member holding about as many.

Each prints wall time, rows/s, the peak memory of all the run's processes together (psutil sampling) and
the ratio to a floor measured in the same run (pyarrow reading the same file, nothing else), since this
machine's speed moves from one day to the next. Then `valider` of the 1M-row file beside frictionless-py
validating the same file with equivalent checks (when installed: `pip install -e '.[bench]'`), and a plot
of time per file against store size (docs/performances-echelle.svg).

Store of a size S: member 10002 holds min(100,000, S/10) employees, member 10001 (the sender) min(1,000,000,
the rest), and the remainder is spread over other members of 1,000 employees each.

    python bench/scale.py                     # stores of 0 and 1M employees
    python bench/scale.py --grand             # and 10M (several minutes, ~10 GB of disk)
    python bench/scale.py --tailles 0 200000 --mesures m10k liste100k
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_traiter import run  # noqa: E402
from tests.factories import MOVEMENT_HEADERS, Registry  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale"
SENDER, LISTER = "10001", "10002"
OTHERS_FROM, PER_OTHER = 200000, 1000
FRESH = 50_000_000  # NIR numbers from here on are never in a generated store: new hires
JOBS = np.array(["Vendeuse", "Chauffeur", "Comptable", "Cariste", "Cadre"], dtype=object)
PCS = np.array(["554a", "641a", "543b", "652a", "372c"], dtype=object)
CONFIG = ('[paths]\ndatabase = "data/amsn.sqlite"\n\n'
          '[depot]\ndelai_stabilite = 0  # files are copied in whole before the run\n')
MEASURES = ("m10k", "m1m", "liste100k", "liste1m", "dsn100k")


# --- NIRs: employee number j ↦ a valid NIR, increasing with j (so that a generated store's index on
# (adhérent, NIR) is written in order), the same in numpy (files) and in SQL (stores).

def nirs(j: np.ndarray) -> np.ndarray:
    """The NIR (15 characters, key included) of each employee number (j < 93,812,094)."""
    j = np.asarray(j, dtype=np.int64)
    order, commune, dept = j % 999 + 1, j // 999 % 999 + 1, j // 998001 % 94 + 1
    dept = np.where(dept >= 20, dept + 1, dept)  # no département 20 (Corsica is 2A/2B)
    body = ((1 * 100 + 80) * 100 + 1) * 10**8 + dept * 10**6 + commune * 10**3 + order  # born January 1980, male
    key = 97 - body % 97
    return np.char.add(body.astype("U13"), np.char.zfill(key.astype("U2"), 2)).astype(object)


NIR_SQL = """(WITH p AS (SELECT {j} % 999 + 1 AS o, {j} / 999 % 999 + 1 AS c, {j} / 998001 % 94 + 1 AS d)
    SELECT printf('%013d%02d', b, 97 - b % 97) FROM (SELECT 1800100000000 + (CASE WHEN d >= 20 THEN d + 1 ELSE d END)
    * 1000000 + c * 1000 + o AS b FROM p))"""


def siret_of(adherent: str, k: int = 0) -> str:
    """The SIRET of a generated member's establishment (not Luhn-valid: never checked in the store)."""
    return f"9{int(adherent):08d}{k:05d}"


def layout(size: int) -> list[tuple[str, int, int]]:
    """(member, first employee number, count) of a generated store of `size` employees."""
    lister = min(100_000, size // 10)
    sender = min(1_000_000, size - lister)
    out, j = [], 0
    for member, n in ((SENDER, sender), (LISTER, lister)):
        if n:
            out.append((member, j, n))
            j += n
    k = 0
    while j < size:
        n = min(PER_OTHER, size - j)
        out.append((str(OTHERS_FROM + k), j, n))
        j, k = j + n, k + 1
    return out


def build_store(size: int, registry: Registry) -> Path:
    """A store of `size` present employees (one version each), with the registry and the generated members."""
    path = OUT / f"magasin-{size}" / "data" / "amsn.sqlite"
    if path.exists():
        return path
    shutil.rmtree(path.parent.parent, ignore_errors=True)
    ws = path.parent.parent
    ws.mkdir(parents=True)
    (ws / "reglages.toml").write_text(CONFIG, encoding="utf-8")
    reg_csv, mand_csv = registry.write(ws)
    subprocess.run([sys.executable, "-m", "amsn_batch", "adherents", "importer", str(reg_csv), "--mandats",
                    str(mand_csv), "--config", "reglages.toml"], cwd=ws, check=True, capture_output=True)
    t0 = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("BEGIN")
    now = "2026-01-31T12:00:00"
    conn.execute("INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, traite_le, statut, etape) "
                 "VALUES ('generated', 'bench', 'magasin-genere.csv', 0, ?, ?, 'accepte', 'termine')", (now, now))
    file_id = conn.execute("SELECT max(id) FROM fichiers").fetchone()[0]
    parts = layout(size)
    others = [(m, f"Entreprise {m}", now) for m, _, _ in parts if m not in (SENDER, LISTER)]
    conn.executemany("INSERT INTO adherents (numero, raison_sociale, maj_le) VALUES (?, ?, ?)", others)
    conn.executemany("INSERT INTO etablissements (siret, adherent, maj_le) VALUES (?, ?, ?)",
                     [(siret_of(m), m, t) for m, _, t in others])
    sirets = {m: s for m, s in registry.members.items()}
    for member, first, n in parts:
        s = sirets.get(member, [siret_of(member)])
        siret = f"CASE WHEN j % 2 = 0 THEN '{s[0]}' ELSE '{s[-1]}' END"
        gen = f"WITH RECURSIVE g(j) AS (SELECT {first} UNION ALL SELECT j + 1 FROM g WHERE j < {first + n - 1})"
        conn.execute(
            f"{gen} INSERT INTO salaries_versions (id, salarie_id, mouvement, fichier_id, ligne, le, siret, nom, prenom, "
            "date_naissance, date_embauche, contrat, poste, pcs, multi_employeur, categorie) "
            f"SELECT j + 1, j + 1, 'entree', {file_id}, j - {first} + 2, '{now}', {siret}, 'NOM' || j, 'Prénom', '1980-01-15', "
            "printf('%04d-%02d-%02d', 2000 + j % 26, j % 12 + 1, j % 28 + 1), '01', "
            "CASE j % 5 WHEN 0 THEN 'Vendeuse' WHEN 1 THEN 'Chauffeur' WHEN 2 THEN 'Comptable' WHEN 3 THEN 'Cariste' ELSE 'Cadre' END, "
            "CASE j % 5 WHEN 0 THEN '554a' WHEN 1 THEN '641a' WHEN 2 THEN '543b' WHEN 3 THEN '652a' ELSE '372c' END, 0, 'SI' FROM g")
        conn.execute(f"{gen} INSERT INTO salaries (id, adherent, nir, present, version_id) "
                     f"SELECT j + 1, '{member}', {NIR_SQL.format(j='j')}, 1, j + 1 FROM g")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"magasin de {size:,} salariés généré en {time.perf_counter() - t0:.0f} s, "
          f"{path.stat().st_size / 1e6:,.0f} Mo".replace(",", " "), flush=True)
    return path


def held(size: int, member: str) -> tuple[int, int]:
    """(first employee number, count) of a member in a generated store of `size`."""
    for m, first, n in layout(size):
        if m == member:
            return first, n
    return 0, 0


# --- Files


def _fr(iso: np.ndarray) -> np.ndarray:
    return np.array([f"{d[8:10]}/{d[5:7]}/{d[:4]}" for d in iso], dtype=object)


def _hire_iso(j: np.ndarray) -> np.ndarray:
    return np.array([f"{2000 + x % 26:04d}-{x % 12 + 1:02d}-{x % 28 + 1:02d}" for x in j.tolist()], dtype=object)


def _write(path: Path, headers: list[str], columns: list[np.ndarray]) -> Path:
    """A cp1252 CSV with ';' (columns of equal length)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(headers)
    w.writerows(zip(*(c.tolist() if isinstance(c, np.ndarray) else c for c in columns)))
    path.write_bytes(buf.getvalue().encode("cp1252"))
    return path


def movements_file(path: Path, n: int, size: int, sirets: list[str], seed: int = 1) -> Path:
    """n movements of the sender: 90 % entries of new people, 5 % changes and 5 % exits of stored employees
    (entries instead when the store holds none of its staff); 1 % of the NIRs with a wrong key."""
    rng = np.random.default_rng(seed)
    first, held_n = held(size, SENDER)
    kind = rng.choice(3, size=n, p=[0.90, 0.05, 0.05]) if held_n else np.zeros(n, dtype=int)
    known = kind > 0
    j = np.where(known, first + rng.integers(0, max(held_n, 1), size=n), FRESH + seed * 10_000_000 + np.arange(n))
    nir = nirs(j)
    bad = rng.random(n) < 0.01
    nir[bad] = [v[:13] + f"{(int(v[13:]) + 1) % 97:02d}" for v in nir[bad]]
    movement = np.array(["Entrée", "Modification", "Sortie"], dtype=object)[kind]
    hire = np.where(known, _fr(_hire_iso(j)), "02/02/2026")
    exit_ = np.where(kind == 2, "27/02/2026", "")
    job = np.where(kind == 1, "Chef d'équipe", JOBS[j % 5])
    siret = np.where(known, np.where(j % 2 == 0, sirets[0], sirets[-1]), sirets[0])
    name = np.char.add("NOM", j.astype(str)).astype(object)
    return _write(path, MOVEMENT_HEADERS, [name, np.full(n, "Prénom", dtype=object), nir, np.full(n, "15/01/1980", dtype=object),
                                           siret, movement, hire, exit_, np.full(n, "CDI", dtype=object), job, PCS[j % 5],
                                           np.full(n, "Non", dtype=object), np.full(n, "SI", dtype=object),
                                           np.full(n, "", dtype=object)])


def list_file(path: Path, n: int, member: str, size: int, sirets: list[str], seed: int = 2) -> Path:
    """A full staff list of n employees of `member`: its stored staff (up to n) less 2 % gone, 10 % of them
    with a new job, and new hires to make up n."""
    rng = np.random.default_rng(seed)
    first, held_n = held(size, member)
    stay = np.arange(first, first + min(held_n, n))
    stay = stay[rng.random(len(stay)) >= 0.02]
    j = np.concatenate([stay, FRESH + 40_000_000 + seed * 1_000_000 + np.arange(n - len(stay))])
    known = j < FRESH
    changed = known & (rng.random(n) < 0.10)
    hire = np.where(known, _fr(_hire_iso(np.where(known, j, 0))), "02/02/2026")
    job = np.where(changed, "Chef d'équipe", JOBS[j % 5])
    siret = np.where(j % 2 == 0, sirets[0], sirets[-1])
    name = np.char.add("NOM", j.astype(str)).astype(object)
    headers = [h for h in MOVEMENT_HEADERS if h != "Mouvement"]
    return _write(path, headers, [name, np.full(n, "Prénom", dtype=object), nirs(j), np.full(n, "15/01/1980", dtype=object),
                                  siret, hire, np.full(n, "", dtype=object), np.full(n, "CDI", dtype=object), job, PCS[j % 5],
                                  np.full(n, "Non", dtype=object), np.full(n, "SI", dtype=object),
                                  np.full(n, "", dtype=object)])


def dsn_file(path: Path, n: int, member: str, size: int, siret: str) -> Path:
    """A monthly DSN (February 2026) of n individuals of `member`'s establishment: its stored staff (up to n)
    and new hires to make up n."""
    from bench.dsn import people, write_month

    first, held_n = held(size, member)
    j = np.arange(first, first + min(held_n, n))
    j = np.concatenate([j, FRESH + 30_000_000 + np.arange(n - len(j))])
    who = people(n)
    for p, x, nir in zip(who, j.tolist(), nirs(j).tolist()):
        p["nir"], p["nom"], p["naissance"] = nir[:13], f"NOM{x}", "15011980"
        if x < FRESH:
            h = f"{2000 + x % 26:04d}{x % 12 + 1:02d}{x % 28 + 1:02d}"
            p["debut"] = h[6:] + h[4:6] + h[:4]
    write_month(path, siret, 2, who)
    return path


# --- Measures

FLOOR = r"""
import sys, pyarrow as pa, pyarrow.csv as pv
path = sys.argv[1]
if path.endswith(".csv"):
    with open(path, encoding="cp1252") as f:
        names = f.readline().rstrip("\r\n").split(";")
    t = pv.read_csv(path, read_options=pv.ReadOptions(encoding="cp1252"), parse_options=pv.ParseOptions(delimiter=";"),
                    convert_options=pv.ConvertOptions(column_types={n: pa.string() for n in names}))
else:
    data = open(path, "rb").read().decode("iso-8859-1").splitlines()
"""


# frictionless-py on the same file, with the checks of `valider` it can express: required cells, lengths,
# formats (NIR shape, SIRET, PCS, dates), vocabularies (movement, contract, yes/no, category), unique NIR, and
# the NIR's key as a custom check (what `valider` does beyond: registry, dates against each other, store…).
FRICTIONLESS = r'''
import os, sys
from frictionless import Check, Checklist, Dialect, Resource, Schema, errors, formats
path = sys.argv[1]
D = {"type": "date", "format": "%d/%m/%Y"}
schema = Schema.from_descriptor({"fields": [
    {"name": "Nom de naissance", "type": "string", "constraints": {"required": True, "maxLength": 100}},
    {"name": "Prénom", "type": "string", "constraints": {"required": True, "maxLength": 100}},
    {"name": "N° sécurité sociale", "type": "string", "constraints": {"required": True, "unique": True,
        "pattern": "[1278][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])(2[AB]|[0-9]{2})[0-9]{8}"}},
    {"name": "Date de naissance", **D},
    {"name": "SIRET", "type": "string", "constraints": {"required": True, "pattern": "[0-9]{14}"}},
    {"name": "Mouvement", "type": "string", "constraints": {"required": True, "enum": ["Entrée", "Sortie", "Modification"]}},
    {"name": "Date d'embauche", **D, "constraints": {"required": True}},
    {"name": "Date de sortie", **D},
    {"name": "Contrat", "type": "string", "constraints": {"enum": ["CDI", "CDD", "01", "02", "03", "Intérim"]}},
    {"name": "Poste de travail", "type": "string", "constraints": {"maxLength": 100}},
    {"name": "Code PCS", "type": "string", "constraints": {"pattern": "[0-9]{3}[a-z]"}},
    {"name": "Salarié multi-employeurs", "type": "string", "constraints": {"enum": ["Oui", "Non"]}},
    {"name": "Catégorie déclarée", "type": "string", "constraints": {"enum": ["SI", "SIA", "SIR", "SIH"]}},
    {"name": "Commentaire", "type": "string"},
]})
resource = Resource(path=os.path.basename(path), basepath=os.path.dirname(path), format="csv", encoding="cp1252", schema=schema,
                    dialect=Dialect(controls=[formats.CsvControl(delimiter=";")]))


class NirKey(Check):
    """The NIR's key: 97 - (its first 13 digits, 2A/2B as 19/18) mod 97."""
    type = "nir-key"
    Errors = [errors.RowConstraintError]

    def validate_row(self, row):
        nir = row["N° sécurité sociale"]
        if nir and len(nir) == 15:
            body = int(nir[:13].replace("2A", "19").replace("2B", "18")) if nir[:13].isalnum() else -1
            if body < 0 or 97 - body % 97 != int(nir[13:]):
                yield errors.RowConstraintError.from_row(row, note="clé du NIR")


report = resource.validate(Checklist(checks=[NirKey()]), limit_errors=10**7)
kinds = {e.type for task in report.tasks for e in task.errors}
if kinds & {"scheme-error", "source-error", "encoding-error", "format-error"}:
    sys.exit(f"frictionless n'a pas lu le fichier : {report.flatten(['type', 'note'])[:1]}")
with open(sys.argv[2], "w") as out:  # how many errors it found
    out.write(str(report.stats["errors"] if isinstance(report.stats, dict) else report.stats.errors))
'''


def versus_frictionless(path: Path, store: Path, rows: int, results: list[dict]) -> None:
    """`amsn-batch valider` of the file (a dry run: read, every check, the acknowledgement written) beside
    frictionless-py validating it, both as separate processes, wall time from start to exit."""
    try:
        import frictionless  # noqa: F401
    except ImportError:
        print("  frictionless n'est pas installé (pip install -e '.[bench]') : comparaison sautée")
        return
    ws = store.parent.parent
    out = OUT / "valider"
    shutil.rmtree(out, ignore_errors=True)
    ours, rss, _ = run([sys.executable, "-m", "amsn_batch", "valider", str(path), "--expediteur", SENDER, "--sortie", str(out),
                        "--config", str(ws / "reglages.toml")])
    theirs, their_rss, _ = run([sys.executable, "-c", FRICTIONLESS, str(path), str(OUT / "frictionless.txt")])
    errors = int((OUT / "frictionless.txt").read_text())
    results.append({"mesure": "valider", "lignes": rows, "secondes": round(ours, 2), "frictionless": round(theirs, 2),
                    "erreurs_frictionless": errors,
                    "pic_mo": round(rss), "pic_frictionless_mo": round(their_rss)})
    print(f"  valider {rows:,} lignes : {ours:.2f} s ({rss:.0f} Mo) ; frictionless-py : {theirs:.2f} s ({their_rss:.0f} Mo) ; "
          f"{errors:,} erreurs trouvées ; valider {theirs / ours:.1f} fois plus rapide".replace(",", " "), flush=True)


def measure(size: int, name: str, build, rows: int, store: Path, results: list[dict]) -> None:
    """Copy the store, drop the file in the sender's inbox, time `traiter` and the floor."""
    work = OUT / f"run-{size}-{name}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    (work / "reglages.toml").write_text(CONFIG, encoding="utf-8")
    shutil.copy(store, work / "data" / "amsn.sqlite")
    member = LISTER if name in ("liste100k", "dsn100k") else SENDER
    src = build(OUT / "fichiers" / f"{size}-{name}")
    inbox = work / "inbox" / member
    inbox.mkdir(parents=True)
    shutil.copy(src, inbox / src.name)
    floor, _, _ = run([sys.executable, "-c", FLOOR, str(src)])
    wall, rss, together = run([sys.executable, "-m", "amsn_batch", "traiter", "--config", str(work / "reglages.toml")])
    status = _status(work / "data" / "amsn.sqlite")
    results.append({"magasin": size, "mesure": name, "lignes": rows, "secondes": round(wall, 2), "plancher": round(floor, 2),
                    "pic_mo": round(together), "statut": status})
    print(f"  {name:<10} {rows:>9,} lignes : {wall:6.2f} s {rows / wall:>9,.0f} lignes/s, pic {together:5.0f} Mo "
          f"(processus principal {rss:.0f} Mo), plancher {floor:5.2f} s (ratio {wall / floor:4.1f}) — {status}"
          .replace(",", " "), flush=True)
    shutil.rmtree(work, ignore_errors=True)


def _status(db: Path) -> str:
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT statut, lignes_acceptees, entrees, sorties, modifications FROM fichiers "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    return f"{row[0]}, {row[1]} acceptées, {row[2]} entrées, {row[3]} sorties, {row[4]} modifications"


LABELS = {"m10k": "mouvements, 10 000 lignes", "m1m": "mouvements, 1 000 000 lignes", "liste100k": "liste complète, 100 000",
          "liste1m": "liste complète, 1 000 000", "dsn100k": "DSN, 100 000 individus"}
COLOURS = ["#1f4f8a", "#a3221a", "#1d6b35", "#8a5a00", "#5b2d8a"]


def plot(results: list[dict], path: Path) -> None:
    """Time per file against the store's size (log scale of seconds), one line per file, as an SVG with its
    own title and description (no plotting library: a few lines of SVG)."""
    sizes = sorted({r["magasin"] for r in results})
    names = [n for n in MEASURES if any(r["mesure"] == n for r in results)]
    if not sizes or not names:
        return
    w, h, left, right, top, bottom = 640, 360, 60, 200, 40, 50
    lo = min(r["secondes"] for r in results) / 1.5
    hi = max(r["secondes"] for r in results) * 1.5
    import math

    def x(i: int) -> float:
        return left + (w - left - right) * (i / max(1, len(sizes) - 1) if len(sizes) > 1 else 0.5)

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    day = dt.date.today().strftime("%d/%m/%Y")
    desc = "; ".join(f"{LABELS[n]} : " + ", ".join(f"{r['secondes']:.1f} s avec {r['magasin']:,} salariés".replace(",", " ")
                                                   for r in results if r["mesure"] == n) for n in names)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
           'aria-labelledby="t d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           f'<title id="t">Temps de traitement d\'un fichier selon la taille du magasin ({day})</title>',
           f'<desc id="d">{desc}</desc>', f'<rect width="{w}" height="{h}" fill="#fff"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="600">Secondes par fichier selon les salariés déjà en base ({day})</text>']
    for v in (0.5, 1, 2, 5, 10, 20, 50, 100, 200):
        if lo <= v <= hi:
            out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                       f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g} s</text>')
    for i, size in enumerate(sizes):
        out.append(f'<text x="{x(i):.1f}" y="{h - bottom + 18}" text-anchor="middle">{size:,}</text>'.replace(",", " "))
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">salariés déjà en base</text>')
    for k, name in enumerate(names):
        colour = COLOURS[k % len(COLOURS)]
        pts = [(x(sizes.index(r["magasin"])), y(r["secondes"])) for r in results if r["mesure"] == name]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}"/>' for a, b in pts]
        out.append(f'<rect x="{w - right + 12}" y="{top + 20 * k}" width="14" height="3" fill="{colour}"/>'
                   f'<text x="{w - right + 32}" y="{top + 20 * k + 5}">{LABELS[name]}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tailles", type=int, nargs="+", default=[0, 1_000_000], help="tailles du magasin (salariés)")
    ap.add_argument("--grand", action="store_true", help="ajoute un magasin de 10 000 000 de salariés")
    ap.add_argument("--mesures", nargs="+", default=list(MEASURES), choices=MEASURES)
    ap.add_argument("--sans-valider", action="store_true", help="sans la comparaison de `valider` à frictionless")
    ap.add_argument("--nouveau", action="store_true", help="oublie les mesures des exécutions précédentes (graphique)")
    ap.add_argument("--valider-lignes", type=int, default=1_000_000, help="lignes du fichier comparé à frictionless")
    args = ap.parse_args()
    sizes = sorted(set(args.tailles + ([10_000_000] if args.grand else [])))
    registry = Registry()
    s_sirets, l_sirets = registry.members[SENDER], registry.members[LISTER]
    results: list[dict] = []
    print(f"Banc d'échelle, {dt.datetime.now():%d/%m/%Y %H:%M}", flush=True)
    for size in sizes:
        store = build_store(size, registry)
        print(f"Magasin de {size:,} salariés :".replace(",", " "), flush=True)
        builds = {
            "m10k": (10_000, lambda p: movements_file(p.with_suffix(".csv"), 10_000, size, s_sirets)),
            "m1m": (1_000_000, lambda p: movements_file(p.with_suffix(".csv"), 1_000_000, size, s_sirets)),
            "liste100k": (100_000, lambda p: list_file(p.with_suffix(".csv"), 100_000, LISTER, size, l_sirets)),
            "liste1m": (1_000_000, lambda p: list_file(p.with_suffix(".csv"), 1_000_000, SENDER, size, s_sirets)),
            "dsn100k": (100_000, lambda p: dsn_file(p.with_suffix(".dsn"), 100_000, LISTER, size, l_sirets[0])),
        }
        for name in args.mesures:
            rows, build = builds[name]
            measure(size, name, build, rows, store, results)
    if not args.sans_valider:
        n = args.valider_lignes
        path = movements_file(OUT / "fichiers" / f"valider-{n}.csv", n, 0, s_sirets)
        versus_frictionless(path, build_store(0, registry), n, results)
    # merged with the previous runs' (a 10M store measured apart): the plot shows every size measured
    saved = OUT / "resultats.json"
    before = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() and not args.nouveau else []
    key = lambda r: (r.get("magasin"), r["mesure"])  # noqa: E731
    results = [r for r in before if key(r) not in {key(x) for x in results}] + results
    saved.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    plot(sorted((r for r in results if "magasin" in r), key=lambda r: r["magasin"]), ROOT / "docs" / "performances-echelle.svg")


if __name__ == "__main__":
    main()
