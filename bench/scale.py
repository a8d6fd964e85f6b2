"""Scale benchmark (not a test: it prints figures): does a file cost the same whatever the store holds?

For each store size (employees already in the store, 0 and 1,000,000 by default; 10,000,000 with --grand):
a store is generated directly (SQL, no `traiter`: a 10M store in minutes), then copied afresh before each
measure, and `amsn-batch traiter` is run as a separate process on:

- a 10,000-row and a 1,000,000-row movements file of the sending member (90 % entries, 5 % changes and 5 %
  exits of its stored employees, 1 % wrong NIR keys);
- a full staff list of 100,000 and of 1,000,000 employees (the next month of a member holding about as
  many: 2 % gone, 10 % changed, the rest as stored, new hires to make up the size);
- a monthly DSN of 100,000 individuals (bench/dsn.py's generator) of the member holding about as many;
- a 100,000-row XLSX of movements (the same columns), its floor python-calamine reading the workbook.

Then, for each store, 200 files of 50 movements of one sender processed by one `traiter` (--petits): files
per second, what each file costs beyond the run's start (a hub's night is mostly such files).

Each prints wall time, rows/s, the peak memory of all the run's processes together (psutil sampling) and
the ratio to a floor measured in the same run (pyarrow reading the same file, nothing else), since this
machine's speed moves from one day to the next. Then `valider` of the 1M-row file beside frictionless-py
validating the same file with equivalent checks (when installed: `pip install -e '.[bench]'`), and a plot
of time per file against store size (docs/performances-echelle.svg).

Store of a size S: member 10002 holds min(100,000, S/10) employees, member 10001 (the sender) min(1,000,000,
the rest), and the remainder is spread over other members of 1,000 employees each.

With --postgresql URL (a PostgreSQL server's maintenance database, e.g. postgresql://amsn:amsn@localhost/postgres)
every measure runs twice, on SQLite then with the store in PostgreSQL (a template database per size, generated
in SQL, then a fresh copy per measure: CREATE DATABASE … TEMPLATE), so that the two engines are compared in the
same run; then the two-worker measure: the same 8 files of several senders processed by one `traiter`, then
(a fresh store) by two `traiter` started together, the speed-up printed once both stores are found equal.
The stores are kept for the next runs (bench/out/scale/magasin-N, databases bench_magasin_N): delete them,
or DROP DATABASE, to generate them again after a change of the generator.

    python bench/scale.py                     # stores of 0 and 1M employees
    python bench/scale.py --grand             # and 10M (several minutes, ~10 GB of disk)
    python bench/scale.py --tailles 0 200000 --mesures m10k liste100k
    python bench/scale.py --tailles 0 --mesures m1m mmax --sans-valider   # memory beyond 1M rows
    python bench/scale.py --tailles 1000000 --mesures refus1m retenue --sans-valider   # files sent wrong
    python bench/scale.py --postgresql postgresql://amsn:amsn@localhost:5432/postgres
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from openpyxl import Workbook

try:  # only with --postgresql (the `postgresql` extra)
    import psycopg
except ImportError:  # pragma: no cover
    psycopg = None

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import as_installed  # noqa: E402

from amsn_batch.store import connect, transaction  # noqa: E402
from bench.bench_traiter import run  # noqa: E402
from tests.factories import MOVEMENT_HEADERS, Registry  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale"
SENDER, LISTER = "10001", "10002"
OTHERS_FROM, PER_OTHER = 200000, 1000
FRESH = 50_000_000  # NIR numbers from here on are never in a generated store: new hires
JOBS = np.array(["Vendeuse", "Chauffeur", "Comptable", "Cariste", "Cadre"], dtype=object)
PCS = np.array(["554a", "641a", "543b", "652a", "372c"], dtype=object)
MEASURES = ("m10k", "m1m", "xlsx100k", "liste100k", "liste1m", "dsn100k", "mmax", "refus1m", "retenue")
# On request: mmax (1.9M rows, near the 200 MB file limit), to see whether memory stays flat beyond 1M; refus1m,
# the 1M movements sent by another member (every line refused: SIRET_AUTRE_ADHERENT), a careless sender's worst;
# retenue, a full list of ten employees of the member holding the store's million (the wrong file sent: every
# other employee would leave, the list is held for staff), whose cost follows the member's staff, not the file.
DEFAULT_MEASURES = MEASURES[:-3]


def config(database: str) -> str:
    """A run's reglages.toml: its store (a SQLite file's absolute path, or a PostgreSQL URL)."""
    return (f'[paths]\ndatabase = "{database}"\n\n'
            '[depot]\ndelai_stabilite = 0  # files are copied in whole before the run\n')


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


def nir_sql(j: str, pad) -> str:
    """`nirs` as SQL, for an integer expression j; `pad(expr, width)` is the engine's zero-padding."""
    d = f"({j} / 998001 % 94 + 1)"
    body = f"(1800100000000 + (CASE WHEN {d} >= 20 THEN {d} + 1 ELSE {d} END) * 1000000 + ({j} / 999 % 999 + 1) * 1000 + {j} % 999 + 1)"
    return f"{pad(body, 13)} || {pad(f'97 - {body} % 97', 2)}"


def fr(text: str) -> str:
    """Thousands grouped with a space, as French readers write them (1 000 000), other commas kept."""
    return re.sub(r"(?<=\d),(?=\d{3})", " ", text)


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


@dataclass
class Engine:
    """Where the bench's stores live: SQLite files, or databases of a PostgreSQL server (`admin`: the URL of
    its maintenance database). A store of each size is generated once (a template), each measure runs on a
    fresh copy of it."""

    name: str
    admin: str | None = None

    @property
    def pg(self) -> bool:
        return self.admin is not None

    def url(self, db: str) -> str:
        return urlsplit(self.admin)._replace(path=f"/{db}").geturl()

    def _sql(self, *statements: str) -> list:
        with psycopg.connect(self.admin, autocommit=True) as c:
            return [cur.fetchall() if cur.description else None for cur in map(c.execute, statements)]

    def store(self, size: int, registry: Registry) -> str:
        """The template store of `size` present employees (one version each), the registry and the generated
        members: a SQLite file's path, or a PostgreSQL database's URL."""
        if not self.pg:
            ws = OUT / f"magasin-{size}"
            location = str(ws / "data" / "amsn.sqlite")
            if Path(location).exists():
                return _migrated(location)
        else:
            name = f"bench_magasin_{size}"
            if self._sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")[0]:
                return _migrated(self.url(name))
            ws = OUT / f"magasin-pg-{size}"
            self._sql(f"DROP DATABASE IF EXISTS {name}_partiel WITH (FORCE)", f"CREATE DATABASE {name}_partiel")
            location = self.url(f"{name}_partiel")  # renamed once whole: an interrupted generation is not kept
        shutil.rmtree(ws, ignore_errors=True)
        (ws / "data").mkdir(parents=True)
        (ws / "reglages.toml").write_text(config(location), encoding="utf-8")
        reg_csv, mand_csv = registry.write(ws)
        subprocess.run([sys.executable, "-m", "amsn_batch", "adherents", "importer", str(reg_csv), "--mandats",
                        str(mand_csv), "--config", "reglages.toml"], cwd=ws, check=True, capture_output=True)
        t0 = time.perf_counter()
        generate(location, size, registry, self.pg)
        if self.pg:
            self._sql(f"ALTER DATABASE {name}_partiel RENAME TO {name}")
            location = self.url(name)
            (ws / "reglages.toml").write_text(config(location), encoding="utf-8")
            grown = self._sql(f"SELECT pg_database_size('{name}')")[0][0][0]
        else:
            grown = Path(location).stat().st_size
        print(fr(f"magasin {self.name} de {size:,} salariés généré en {time.perf_counter() - t0:.0f} s, "
              f"{grown / 1e6:,.0f} Mo"), flush=True)
        return location

    def copy(self, store: str, work: Path) -> str:
        """A fresh copy of a template store for one measure in `work`: its location."""
        if not self.pg:
            (work / "data").mkdir(parents=True, exist_ok=True)
            shutil.copy(store, work / "data" / "amsn.sqlite")
            os.sync()  # the copy on disk first: `traiter`'s own fsync would otherwise wait behind gigabytes of it
            return str(work / "data" / "amsn.sqlite")
        self.drop(self.url(RUN_DB))
        self._sql(f"CREATE DATABASE {RUN_DB} TEMPLATE {urlsplit(store).path[1:]} STRATEGY = FILE_COPY")
        return self.url(RUN_DB)

    def drop(self, location: str) -> None:
        if self.pg:
            self._sql(f"DROP DATABASE IF EXISTS {urlsplit(location).path[1:]} WITH (FORCE)")


def _migrated(location: str) -> str:
    """A kept template store brought to the code's migrations once, here: otherwise every measured run on a
    copy of it would pay them (an index over ten million versions is seconds)."""
    connect(location).conn.close()
    return location


RUN_DB = "bench_essai"  # the PostgreSQL copy a measure runs on (one measure at a time)


def generate(location: str, size: int, registry: Registry, pg: bool) -> None:
    """Fill a migrated store holding the registry with the generated members and employees of `layout(size)`,
    in SQL (a recursive series on SQLite, generate_series on PostgreSQL), in one transaction."""
    conn = connect(location).conn
    if pg:
        def pad(e: str, w: int) -> str:
            return f"lpad(CAST({e} AS text), {w}, '0')"
    else:
        def pad(e: str, w: int) -> str:
            return f"printf('%0{w}d', {e})"
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
    now = "2026-01-31T12:00:00"
    parts = layout(size)
    with transaction(conn):
        conn.execute("INSERT INTO fichiers (sha256, expediteur, nom, taille, recu_le, traite_le, statut, etape) "
                     "VALUES ('generated', 'bench', 'magasin-genere.csv', 0, ?, ?, 'accepte', 'termine')", (now, now))
        file_id = conn.execute("SELECT max(id) FROM fichiers").fetchone()[0]
        others = [(m, f"Entreprise {m}", now) for m, _, _ in parts if m not in (SENDER, LISTER)]
        conn.executemany("INSERT INTO adherents (numero, raison_sociale, maj_le) VALUES (?, ?, ?)", others)
        conn.executemany("INSERT INTO etablissements (siret, adherent, maj_le) VALUES (?, ?, ?)",
                         [(siret_of(m), m, t) for m, _, t in others])
        for member, first, n in parts:
            s = registry.members.get(member, [siret_of(member)])
            siret = f"CASE WHEN j % 2 = 0 THEN '{s[0]}' ELSE '{s[-1]}' END"
            if pg:
                head, source = "", f"generate_series({first}, {first + n - 1}) AS g(j)"
            else:
                head, source = f"WITH RECURSIVE g(j) AS (SELECT {first} UNION ALL SELECT j + 1 FROM g WHERE j < {first + n - 1}) ", "g"
            hire = f"{pad('2000 + j % 26', 4)} || '-' || {pad('j % 12 + 1', 2)} || '-' || {pad('j % 28 + 1', 2)}"
            conn.execute(
                f"{head}INSERT INTO salaries_versions (id, salarie_id, mouvement, fichier_id, ligne, le, siret, nom, prenom, "
                "date_naissance, date_embauche, contrat, poste, pcs, multi_employeur, categorie) "
                f"SELECT j + 1, j + 1, 'entree', {file_id}, j - {first} + 2, '{now}', {siret}, 'NOM' || j, 'Prénom', '1980-01-15', "
                f"{hire}, '01', "
                "CASE j % 5 WHEN 0 THEN 'Vendeuse' WHEN 1 THEN 'Chauffeur' WHEN 2 THEN 'Comptable' WHEN 3 THEN 'Cariste' ELSE 'Cadre' END, "
                "CASE j % 5 WHEN 0 THEN '554a' WHEN 1 THEN '641a' WHEN 2 THEN '543b' WHEN 3 THEN '652a' ELSE '372c' END, 0, 'SI' "
                f"FROM {source}")
            conn.execute(f"{head}INSERT INTO salaries (id, adherent, nir, present, version_id) "
                         f"SELECT j + 1, '{member}', {nir_sql('j', pad)}, 1, j + 1 FROM {source}")
        if pg:  # ids given above: the identity sequences move past them
            for table in ("salaries", "salaries_versions"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), m) FROM "
                             f"(SELECT max(id) AS m FROM {table}) t WHERE m IS NOT NULL")
    sample = [0, size // 3, size - 1]
    got = [conn.execute("SELECT nir FROM salaries WHERE id = ?", (j + 1,)).fetchone()[0] for j in sample] if size else []
    if size and got != list(nirs(np.array(sample))):
        raise SystemExit(f"le SQL des NIR ne donne pas ceux des fichiers : {got}")
    conn.execute("VACUUM ANALYZE" if pg else "PRAGMA wal_checkpoint(TRUNCATE)")  # a template as a store at rest
    conn.close()


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
    """A cp1252 CSV with ';', or (a .xlsx path) a workbook of one sheet as Excel writes it (shared strings,
    empty cells left out), openpyxl in write-only mode; columns of equal length."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        wb = Workbook(write_only=True)
        sheet = wb.create_sheet("Salariés")
        sheet.append(headers)
        for row in zip(*(c.tolist() if isinstance(c, np.ndarray) else c for c in columns)):
            sheet.append([v if v != "" else None for v in row])
        wb.save(path)
        return path
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

# The floor of a file: reading it, nothing else (pyarrow for a CSV, python-calamine for a workbook).
FLOOR = r"""
import sys, pyarrow as pa, pyarrow.csv as pv
path = sys.argv[1]
if path.endswith(".csv"):
    with open(path, encoding="cp1252") as f:
        names = f.readline().rstrip("\r\n").split(";")
    t = pv.read_csv(path, read_options=pv.ReadOptions(encoding="cp1252"), parse_options=pv.ParseOptions(delimiter=";"),
                    convert_options=pv.ConvertOptions(column_types={n: pa.string() for n in names}))
elif path.endswith(".xlsx"):
    from python_calamine import CalamineWorkbook
    rows = CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
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
    print(fr(f"  valider {rows:,} lignes : {ours:.2f} s ({rss:.0f} Mo) ; frictionless-py : {theirs:.2f} s ({their_rss:.0f} Mo) ; "
          f"{errors:,} erreurs trouvées ; valider {theirs / ours:.1f} fois plus rapide"), flush=True)


def traiter(engine: Engine, store: str, work: Path, files: list[tuple[str, Path]], workers: int = 1) -> tuple[float, float, float, str]:
    """A fresh copy of the store in a new workspace, the files dropped in their senders' inboxes, and `workers`
    `amsn-batch traiter` processes started together on it: (wall seconds until the last ends, peak MB of the
    largest process, peak MB of one worker's processes together, the store's location; drop it when done)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    database = engine.copy(store, work)
    (work / "reglages.toml").write_text(config(database), encoding="utf-8")
    for sender, src in files:
        (work / "inbox" / sender).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, work / "inbox" / sender / src.name)
    cmd = [sys.executable, "-m", "amsn_batch", "traiter", "--config", str(work / "reglages.toml")]
    out: list[tuple[float, float, float]] = []
    threads = [threading.Thread(target=lambda: out.append(run(cmd))) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(out) != workers:
        raise SystemExit(f"un des {workers} `traiter` a échoué (voir ci-dessus)")
    return time.perf_counter() - t0, max(o[1] for o in out), max(o[2] for o in out), database


def measure(engine: Engine, size: int, name: str, src: Path, rows: int, floor: float, store: str, results: list[dict],
            peer: dict | None) -> dict:
    """`traiter` of one file on a fresh copy of the store, printed beside the file's floor and (`peer`) the
    same file's SQLite figure of this run."""
    member = LISTER if name in ("liste100k", "dsn100k", "refus1m") else SENDER
    work = OUT / f"run-{size}-{name}"
    wall, rss, together, database = traiter(engine, store, work, [(member, src)])
    status = _status(database)
    engine.drop(database)
    shutil.rmtree(work, ignore_errors=True)
    r = {"magasin": size, "base": engine.name, "mesure": name, "lignes": rows, "secondes": round(wall, 2),
         "plancher": round(floor, 2), "pic_mo": round(together), "statut": status}
    results.append(r)
    versus = f", {wall / peer['secondes']:4.2f} × SQLite" if peer else ""
    print(fr(f"  {engine.name:<10} {name:<10} {rows:>9,} lignes : {wall:6.2f} s {rows / wall:>9,.0f} lignes/s, pic {together:5.0f} Mo "
          f"(processus principal {rss:.0f} Mo), plancher {floor:5.2f} s (ratio {wall / floor:4.1f}{versus}) — {status}"), flush=True)
    return r


def _status(database: str) -> str:
    conn = connect(database).conn
    row = conn.execute("SELECT statut, lignes_acceptees, entrees, sorties, modifications FROM fichiers "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    return f"{row[0]}, {row[1]} acceptées, {row[2]} entrées, {row[3]} sorties, {row[4]} modifications"


SMALL_ROWS = 50  # rows of each of the many small files: the monthly movements of a small member


def small_files(engine: Engine, size: int, store: str, registry: Registry, count: int, results: list[dict]) -> None:
    """`count` small files of one sender in one run (what a hub receives most nights): what each file costs
    beyond the run's start, which a single big file hides."""
    files = [(SENDER, movements_file(OUT / "fichiers" / "petits" / f"{size}-{k:04d}.csv", SMALL_ROWS, size,
                                     registry.members[SENDER], 100 + k)) for k in range(count)]
    work = OUT / f"run-{size}-petits"
    wall, rss, together, database = traiter(engine, store, work, files)
    conn = connect(database).conn
    done = conn.execute("SELECT COUNT(*) FROM fichiers WHERE statut LIKE 'accepte%'").fetchone()[0]
    conn.close()
    engine.drop(database)
    shutil.rmtree(work, ignore_errors=True)
    results.append({"magasin": size, "base": engine.name, "mesure": "petits", "fichiers": count, "lignes": count * SMALL_ROWS,
                    "secondes": round(wall, 2), "fichiers_par_seconde": round(count / wall, 1), "pic_mo": round(together)})
    print(fr(f"  {engine.name:<10} petits     {count:>4} fichiers de {SMALL_ROWS} lignes : {wall:6.2f} s, "
             f"{count / wall:5.1f} fichiers/s, pic {together:5.0f} Mo — {done} acceptés"), flush=True)


# The two-worker measure: (sender, member whose staff the file moves, seed of its NIRs). 5 senders, 8 files:
# workers share the senders (a sender's files go through one worker, in order), so two workers can each take
# about half of the files; a member's files (its own and the payroll firm's) have distinct NIRs.
WORKER_FILES = [("10001", "10001", 1), ("10001", "10001", 2), ("10002", "10002", 1), ("10003", "10003", 1),
                ("10004", "10004", 1), ("10004", "10004", 2), ("PAIE01", "10002", 3), ("PAIE01", "10003", 3)]


def two_workers(engine: Engine, registry: Registry, rows: int, results: list[dict]) -> None:
    """The same files into an empty store by one `traiter`, then (a fresh copy) by two started together; the
    speed-up is printed only once both stores are found to hold the same thing."""
    store = engine.store(0, registry)
    files = [(sender, movements_file(OUT / "fichiers" / "travailleurs" / f"{sender}-{member}-{seed}-{rows}.csv", rows, 0,
                                     registry.members[member], seed)) for sender, member, seed in WORKER_FILES]
    total = rows * len(files)
    print(fr(f"Travailleurs parallèles ({engine.name}, base vide, {len(files)} fichiers de {rows:,} mouvements, "
          f"{len({s for s, _ in files})} expéditeurs) :"), flush=True)
    walls, contents = {}, {}
    for workers in (1, 2):
        wall, _, together, database = traiter(engine, store, OUT / f"travailleurs-{workers}", files, workers)
        walls[workers], contents[workers] = wall, _content(database)
        engine.drop(database)
        shutil.rmtree(OUT / f"travailleurs-{workers}", ignore_errors=True)
        print(fr(f"  {workers} travailleur{'s' if workers > 1 else ' '} : {wall:6.2f} s {total / wall:>9,.0f} lignes/s, "
              f"pic {together:5.0f} Mo par travailleur, fichiers par travailleur : "
              f"{' + '.join(str(n) for n in contents[workers]['par_travailleur'])}"), flush=True)
    same = {k: v for k, v in contents[1].items() if k != "par_travailleur"} == \
           {k: v for k, v in contents[2].items() if k != "par_travailleur"}
    if not same:
        raise SystemExit(f"les deux exécutions ne laissent pas la même base :\n{contents[1]}\n{contents[2]}")
    c = contents[1]
    print(fr(f"  accélération : {walls[1] / walls[2]:.2f} ; mêmes fichiers acceptés et mêmes comptes dans les deux bases "
          f"({sum(f[2].startswith('accepte') for f in c['fichiers'] if f[0] != 'bench')} fichiers acceptés, {c['salaries']:,} salariés, "
          f"{c['versions']:,} versions, empreinte {c['empreinte'][:12]})"), flush=True)
    results.append({"mesure": "travailleurs", "base": engine.name, "fichiers": len(files), "lignes": total,
                    "secondes_1": round(walls[1], 2), "secondes_2": round(walls[2], 2),
                    "acceleration": round(walls[1] / walls[2], 2), "par_travailleur": contents[2]["par_travailleur"]})


def _content(database: str) -> dict:
    """What a run left in the store, without the ids and run numbers that depend on which worker went first."""
    conn = connect(database).conn
    out = {
        "fichiers": sorted(tuple(r) for r in conn.execute(
            "SELECT expediteur, nom, statut, etape, lignes, lignes_acceptees, lignes_rejetees, entrees, sorties, "
            "modifications FROM fichiers")),
        "salaries": conn.execute("SELECT count(*) FROM salaries").fetchone()[0],
        "versions": conn.execute("SELECT count(*) FROM salaries_versions").fetchone()[0],
        "empreinte": conn.execute(  # every employee's current state, in one digest
            "SELECT md5(string_agg(concat_ws(';', s.adherent, s.nir, s.present, v.mouvement, v.siret, v.nom, v.date_embauche, "
            "v.poste, f.nom, v.ligne), ',' ORDER BY s.adherent, s.nir)) FROM salaries s "
            "JOIN salaries_versions v ON v.id = s.version_id JOIN fichiers f ON f.id = v.fichier_id").fetchone()[0],
        "par_travailleur": [r[0] for r in conn.execute("SELECT fichiers FROM traitements WHERE fichiers > 0 ORDER BY id")],
    }
    conn.close()
    return out


LABELS = {"m10k": "mouvements, 10 000 lignes", "m1m": "mouvements, 1 000 000 lignes", "xlsx100k": "XLSX, 100 000 lignes",
          "liste100k": "liste complète, 100 000", "liste1m": "liste complète, 1 000 000", "dsn100k": "DSN, 100 000 individus",
          "mmax": "mouvements, 1 900 000 lignes", "refus1m": "1 000 000 lignes toutes refusées",
          "retenue": "liste de 10 salariés (le reste sortirait : retenue)"}
COLOURS = ["#1f4f8a", "#a3221a", "#0f7c8c", "#1d6b35", "#8a5a00", "#5b2d8a", "#555555"]
DASHES = {"SQLite": "", "PostgreSQL": ' stroke-dasharray="6 4"'}


def base(r: dict) -> str:
    return r.get("base", "SQLite")  # the runs before PostgreSQL were on SQLite


def plot(results: list[dict], path: Path) -> None:
    """Time per file against the store's size (log scale of seconds), one line per file and engine (PostgreSQL
    dashed), as an SVG with its own title and description (no plotting library: a few lines of SVG)."""
    sizes = sorted({r["magasin"] for r in results})
    names = [n for n in MEASURES if any(r["mesure"] == n for r in results)]
    engines = [e for e in DASHES if any(base(r) == e for r in results)]
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
    desc = "; ".join(f"{LABELS[n]} ({e}) : " + ", ".join(fr(f"{r['secondes']:.1f} s avec {r['magasin']:,} salariés").replace(".", ",")
                                                        for r in results if r["mesure"] == n and base(r) == e)
                     for n in names for e in engines if any(r["mesure"] == n and base(r) == e for r in results))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
           'aria-labelledby="t d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           f'<title id="t">Temps de traitement d\'un fichier selon la taille du magasin ({day})</title>',
           f'<desc id="d">{desc}</desc>', f'<rect width="{w}" height="{h}" fill="#fff"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="600">Secondes par fichier selon les salariés déjà en base ({day})</text>']
    for v in (0.5, 1, 2, 5, 10, 20, 50, 100, 200):
        if lo <= v <= hi:
            out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                       f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{f"{v:g}".replace(".", ",")} s</text>')
    for i, size in enumerate(sizes):
        out.append(f'<text x="{x(i):.1f}" y="{h - bottom + 18}" text-anchor="middle">{size:,}</text>'.replace(",", " "))
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">salariés déjà en base</text>')
    for k, name in enumerate(names):
        colour = COLOURS[MEASURES.index(name) % len(COLOURS)]
        for engine in engines:
            pts = [(x(sizes.index(r["magasin"])), y(r["secondes"])) for r in results if r["mesure"] == name and base(r) == engine]
            if not pts:
                continue
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{DASHES[engine]} '
                       f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
            out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}"/>' for a, b in pts]
        out.append(f'<rect x="{w - right + 12}" y="{top + 20 * k}" width="14" height="3" fill="{colour}"/>'
                   f'<text x="{w - right + 32}" y="{top + 20 * k + 5}">{LABELS[name]}</text>')
    if len(engines) > 1:
        for k, engine in enumerate(engines, len(names) + 1):
            out.append(f'<line x1="{w - right + 12}" x2="{w - right + 26}" y1="{top + 20 * k + 2}" y2="{top + 20 * k + 2}" '
                       f'stroke="#333" stroke-width="2"{DASHES[engine]}/>'
                       f'<text x="{w - right + 32}" y="{top + 20 * k + 5}">{engine}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


SAVED = OUT / "resultats.json"


def save(results: list[dict], plotted: bool = False) -> None:
    """The figures so far, merged with the previous runs' (a 10M store measured apart), and (`plotted`) the plot
    of every size measured."""
    before = json.loads(SAVED.read_text(encoding="utf-8")) if SAVED.exists() else []
    key = lambda r: (r.get("magasin"), r["mesure"], base(r))  # noqa: E731
    merged = [r for r in before if key(r) not in {key(x) for x in results}] + results
    SAVED.write_text(json.dumps(merged, indent=1, ensure_ascii=False), encoding="utf-8")
    if plotted:
        plot(sorted((r for r in merged if "magasin" in r and r["mesure"] in MEASURES), key=lambda r: r["magasin"]),
             ROOT / "docs" / "performances-echelle.svg")  # one file's seconds by store size (the small files: printed)


def floor_of(src: Path) -> float:
    """The floor's wall time; tried again when pyarrow's thread pool aborts the process at exit (it happens)."""
    for attempt in range(3):
        try:
            return run([sys.executable, "-c", FLOOR, str(src)])[0]
        except SystemExit as exc:
            print(f"  plancher : échec ({str(exc)[-80:].strip()}), nouvel essai", flush=True)
    raise SystemExit(f"le plancher de {src} échoue")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tailles", type=int, nargs="+", default=[0, 1_000_000], help="tailles du magasin (salariés)")
    ap.add_argument("--grand", action="store_true", help="ajoute un magasin de 10 000 000 de salariés")
    ap.add_argument("--mesures", nargs="+", default=list(DEFAULT_MEASURES), choices=MEASURES)
    ap.add_argument("--postgresql", metavar="URL", help="mesure aussi chaque fichier avec la base dans PostgreSQL (URL de la "
                    "base d'administration d'un serveur, ex. postgresql://amsn:amsn@localhost:5432/postgres), puis deux "
                    "travailleurs contre un")
    ap.add_argument("--travailleurs-lignes", type=int, default=100_000,
                    help=f"lignes de chacun des {len(WORKER_FILES)} fichiers de la mesure des travailleurs (0 : sans)")
    ap.add_argument("--petits", type=int, default=200, help=f"fichiers de {SMALL_ROWS} lignes traités en une exécution, "
                    "pour chaque magasin (0 : sans)")
    ap.add_argument("--sans-valider", action="store_true", help="sans la comparaison de `valider` à frictionless")
    ap.add_argument("--nouveau", action="store_true", help="oublie les mesures des exécutions précédentes (graphique)")
    ap.add_argument("--valider-lignes", type=int, default=1_000_000, help="lignes du fichier comparé à frictionless")
    args = ap.parse_args()
    as_installed()
    if args.postgresql and psycopg is None:
        ap.error("--postgresql : installez l'extra `postgresql` (pip install -e '.[postgresql]')")
    sizes = sorted(set(args.tailles + ([10_000_000] if args.grand else [])))
    registry = Registry()
    s_sirets, l_sirets = registry.members[SENDER], registry.members[LISTER]
    sqlite = Engine("SQLite")
    engines = [sqlite] + ([Engine("PostgreSQL", args.postgresql)] if args.postgresql else [])
    if args.nouveau:
        SAVED.unlink(missing_ok=True)
    results: list[dict] = []
    print(f"Banc d'échelle, {dt.datetime.now():%d/%m/%Y %H:%M}", flush=True)
    for size in sizes:
        stores = [(e, e.store(size, registry)) for e in engines]
        print(fr(f"Magasin de {size:,} salariés :"), flush=True)
        builds = {
            "m10k": (10_000, lambda p: movements_file(p.with_suffix(".csv"), 10_000, size, s_sirets)),
            "m1m": (1_000_000, lambda p: movements_file(p.with_suffix(".csv"), 1_000_000, size, s_sirets)),
            "mmax": (1_900_000, lambda p: movements_file(p.with_suffix(".csv"), 1_900_000, size, s_sirets)),
            "refus1m": (1_000_000, lambda p: movements_file(p.with_suffix(".csv"), 1_000_000, size, s_sirets)),
            "retenue": (10, lambda p: list_file(p.with_suffix(".csv"), 10, SENDER, size, s_sirets)),
            "xlsx100k": (100_000, lambda p: movements_file(p.with_suffix(".xlsx"), 100_000, size, s_sirets)),
            "liste100k": (100_000, lambda p: list_file(p.with_suffix(".csv"), 100_000, LISTER, size, l_sirets)),
            "liste1m": (1_000_000, lambda p: list_file(p.with_suffix(".csv"), 1_000_000, SENDER, size, s_sirets)),
            "dsn100k": (100_000, lambda p: dsn_file(p.with_suffix(".dsn"), 100_000, LISTER, size, l_sirets[0])),
        }
        for name in args.mesures:
            rows, build = builds[name]
            src = build(OUT / "fichiers" / f"{size}-{name}")
            floor = floor_of(src)
            peer = None
            for engine, store in stores:
                r = measure(engine, size, name, src, rows, floor, store, results, peer)
                peer = peer or r
                save(results)
        for engine, store in stores if args.petits else ():
            small_files(engine, size, store, registry, args.petits, results)
            save(results)
    if args.postgresql and args.travailleurs_lignes:
        two_workers(engines[-1], registry, args.travailleurs_lignes, results)
        save(results)
    if not args.sans_valider:
        n = args.valider_lignes
        path = movements_file(OUT / "fichiers" / f"valider-{n}.csv", n, 0, s_sirets)
        versus_frictionless(path, Path(sqlite.store(0, registry)), n, results)
    save(results, plotted=True)


if __name__ == "__main__":
    main()
