"""The examples of docs/*.md are played for real, so that the manual cannot drift from the product.

Convention (also stated in docs/README.md):
- a fenced block whose info string is `console` starts a scenario, played in a fresh workspace (settings with
  the service's billing identity and tariffs, no registry imported yet) holding the input files made by
  `input_files` below; a block `console suite` goes on in the workspace of the page's previous block;
  a block `console hors-test : <raison>` is documentation only (the reason is required);
- in a block, a line `$ <commande>` is a command; the lines after it, up to the next `$`, are expected output:
  each must match one line of the command's output (stdout and stderr), in order, other lines allowed between
  them (no-break spaces count as spaces); `…` inside an expected line stands for any text, a line `…` alone only says that lines are left out;
- commands are `amsn-batch …` (run with `Workspace.cli`, always expected to exit with 0) and a few shell
  commands played by this test: `mkdir -p`, `cp`, `ls`, `cat` (with `*` in names);
- every command of the CLI appears in at least one example.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer.main

from amsn_batch.cli import app
from tests.billing_helpers import BILLING_CONFIG, COUNT_HEADERS
from tests.conftest import TEST_DB, Workspace, make_workspace
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv
from tests.facturx_checks import check_outbox

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = "```"


@dataclass
class Command:
    page: str
    line: int
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


@dataclass
class Block:
    page: str
    line: int
    mode: str  # "console", "suite" or "hors-test"
    reason: str
    commands: list[Command]


def parse_page(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        info = lines[i].strip()
        if not info.startswith(FENCE):
            i += 1
            continue
        start, info = i + 1, info[len(FENCE):].strip()
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(FENCE):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        words = info.split(maxsplit=1)
        if not words or words[0] != "console":
            continue
        rest = words[1] if len(words) > 1 else ""
        if not rest:
            mode, reason = "console", ""
        elif rest == "suite":
            mode, reason = "suite", ""
        elif rest.startswith("hors-test"):
            mode, reason = "hors-test", rest[len("hors-test"):].strip(" :")
        else:
            raise AssertionError(f"docs/{path.name}:{start}: bloc « console {rest} » inconnu")
        commands: list[Command] = []
        for number, text in body:
            if text.startswith("$ "):
                commands.append(Command(path.name, number, text[2:].strip()))
            elif commands and text.strip():
                commands[-1].expected.append(text.rstrip())
        blocks.append(Block(path.name, start, mode, reason, commands))
    return blocks


def all_blocks() -> list[Block]:
    return [b for page in sorted(DOCS.glob("*.md")) for b in parse_page(page)]


def scenarios() -> list[list[Block]]:
    """Runnable blocks grouped into scenarios: a `console` block and the `console suite` blocks after it."""
    out: list[list[Block]] = []
    for block in all_blocks():
        if block.mode == "console":
            out.append([block])
        elif block.mode == "suite":
            assert out and out[-1][0].page == block.page, f"docs/{block.page}:{block.line}: suite de rien"
            out[-1].append(block)
    return out


# --- the input files every scenario finds in its workspace, made by code -------------------------------------

def input_files(ws: Workspace) -> None:
    """Files named in the examples: the service's registry, then files as senders and accounting send them."""
    reg = ws.registry
    reg.write(ws.root)  # registre.csv, mandats.csv
    rng = random.Random(2026)
    s1, s2, s3 = reg.members["10001"][0], reg.members["10002"][0], reg.members["10003"][0]
    people = [(make_nir(rng), name, first) for name, first in [
        ("MARTIN", "Julie"), ("BERNARD", "Lucas"), ("PETIT", "Emma"), ("ROUX", "Hugo"), ("MOREAU", "Léa")]]
    hires = [employee_row(nir, s1, name=name, first=first, hired="01/09/2026", job="Préparateur de commandes",
                          pcs="676a") for nir, name, first in people]
    wrong_key = make_nir(rng)
    hires.append(employee_row(wrong_key[:13] + f"{(int(wrong_key[13:]) + 1) % 97:02d}", s1, name="LEROY",
                              first="Paul", hired="01/09/2026"))
    write_csv(ws.root / "embauches-septembre.csv", MOVEMENT_HEADERS, hires)
    # Full staff lists of 10001 (no Mouvement column): two of the five hired people are left, and a
    # complete one with a newcomer.
    list_headers = [h for h in MOVEMENT_HEADERS if h != "Mouvement"]

    def listed(rows):
        return [r[:5] + r[6:] for r in rows]

    write_csv(ws.root / "personnel-10001.csv", list_headers, listed(hires[:2]))
    newcomer = employee_row(make_nir(rng), s1, name="FOURNIER", first="Chloé", hired="02/11/2026")
    write_csv(ws.root / "personnel-10001-complet.csv", list_headers, listed(hires[:5] + [newcomer]))
    # 10002's fiche adhérent: a new company name (queued for the billing team, never applied from the file).
    write_csv(ws.root / "fiche-10002.csv", ["N° adhérent", "SIRET", "Raison sociale", "Type de contact", "Nom", "E-mail"],
              [["10002", s2, "Nouvelle Entreprise SAS", "Dirigeant", "BLANC", "blanc@nouvelle.fr"]])
    # A payroll firm's file for two of its clients.
    payroll = [employee_row(make_nir(rng), s2, name="GIRARD", first="Nathan", hired="15/10/2026"),
               employee_row(make_nir(rng), s3, name="ANDRE", first="Camille", hired="20/10/2026", contract="CDD")]
    write_csv(ws.root / "paie-octobre.csv", MOVEMENT_HEADERS, payroll, encoding="utf-8", bom=True)
    # Before the 2026 campaign, 10003's payroll firm has sent its six employees (one under SIR).
    staff = [employee_row(make_nir(rng), s3, name=f"SALARIE{i}", first="Alex", hired="01/03/2025",
                          category="SIR" if i == 0 else "SI") for i in range(6)]
    write_csv(ws.root / "paie-decembre-2025.csv", MOVEMENT_HEADERS, staff, encoding="utf-8", bom=True)
    # Declarations of 2026: 10001 by counts (6 SI), 10003 late (5 SI, through its payroll firm).
    write_csv(ws.root / "effectifs-2026-10001.csv", COUNT_HEADERS, [[2026, "10001", s1, 6, 0, 0, 0]] +
              [[2026, "10001", s, 0, 0, 0, 0] for s in reg.members["10001"][1:]])
    write_csv(ws.root / "effectifs-2026-10003.csv", COUNT_HEADERS, [[2026, "10003", s3, 5, 0, 0, 0]])
    # Payments received, as exported by accounting.
    write_csv(ws.root / "paiements-mars.csv", ["N° facture", "Date", "Montant"],
              [["420930", "02/03/2026", "833,76"], ["420933", "05/03/2026", "300,00"]])
    # Appointments (rendez-vous.md), dated from today as the commands run on the real clock: the medical
    # software's planning of 10001 (one employee unknown to the service), and a cancellation request for an
    # appointment in two weeks (accepted) and one tomorrow (too late).
    later, tomorrow = dt.date.today() + dt.timedelta(days=14), dt.date.today() + dt.timedelta(days=1)
    planned = [("R-101", later, people[0]), ("R-102", tomorrow, people[1]), ("R-103", later, people[2]),
               ("R-104", later, (make_nir(rng), "INCONNU", "Jean"))]
    write_csv(ws.root / "planning.csv", ["N° RDV", "Date", "Heure", "Centre", "Médecin", "Fonction", "Type de visite",
                                         "N° sécurité sociale", "Nom", "Prénom", "N° adhérent", "Statut"],
              [[rdv, day.strftime("%d/%m/%Y"), "09:30", "Centre de Caen", "Dr Claire Exemple", "Médecin du travail",
                "VIP", nir, name, first, "10001", "Prévu"] for rdv, day, (nir, name, first) in planned], encoding="utf-8")
    write_csv(ws.root / "annulation-10001.csv", ["N° rendez-vous à annuler", "Motif de l'annulation"],
              [["R-101", "Salarié en formation"], ["R-102", "Salarié malade"]], encoding="utf-8")


# --- playing commands ----------------------------------------------------------------------------------------

def play(ws: Workspace, command: Command) -> str:
    """Run one command of an example; return its output."""
    argv = shlex.split(command.text, comments=True)
    name, args = argv[0], argv[1:]
    here = ws.root
    if name == "amsn-batch":
        result = ws.cli(*args, check=False)
        code = getattr(result, "returncode", getattr(result, "exit_code", None))
        output = (result.stdout or "") + "\n" + _stderr(result)
        error = getattr(result, "exception", None)  # in-process runs keep the exception
        assert code == 0, f"{command.where}: « {command.text} » a fini avec le code {code}\n{output}\n{error!r}"
        return output
    if name == "mkdir" and args[:1] == ["-p"]:
        for d in args[1:]:
            (here / d).mkdir(parents=True, exist_ok=True)
        return ""
    if name == "cp":
        *sources, dest = args
        for src in sources:
            target = here / dest
            assert not dest.endswith("/") or target.is_dir(), f"{command.where}: pas de dossier {dest}"
            shutil.copy(here / src, target / Path(src).name if target.is_dir() else target)
        return ""
    if name == "ls":
        return "\n".join(sorted(p.name for p in (here / args[0]).iterdir()))
    if name == "cat":  # a name may hold * (acknowledgements are named <stem>.<date>.<id>.ar.*)
        return "\n".join(p.read_text(encoding="utf-8-sig") for f in args for p in _matching(here, f))
    raise AssertionError(f"{command.where}: commande non prise en charge par le test : {command.text}")


def _matching(here: Path, name: str) -> list[Path]:
    found = sorted(here.glob(name)) if "*" in name else [here / name]
    assert found, f"aucun fichier {name}"
    return found


def _stderr(result) -> str:
    try:
        return result.stderr or ""
    except ValueError:  # click's Result when stderr is mixed into stdout
        return ""


def _spaces(text: str) -> str:
    """French amounts use no-break spaces (1 234,56 €); the pages show plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def check_output(command: Command, output: str) -> None:
    lines = [_spaces(line).rstrip() for line in output.splitlines()]
    pos = 0
    for expected in command.expected:
        if expected.strip() == "…":
            continue
        if TEST_DB:  # the suite's PostgreSQL run: the store is a database, shown by its URL
            expected = expected.replace("…/data/amsn.sqlite", "postgresql://…")
        pattern = re.compile(".*".join(re.escape(part) for part in _spaces(expected).split("…")))
        while pos < len(lines) and not pattern.fullmatch(lines[pos]):
            pos += 1
        assert pos < len(lines), (f"{command.where}: « {command.text} » : ligne attendue absente (ou pas dans "
                                  f"l'ordre) :\n  {expected}\nsortie :\n{output}")
        pos += 1


SCENARIOS = scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s[0].page}:{s[0].line}" for s in SCENARIOS])
def test_example_runs(scenario: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "espace", extra_config=BILLING_CONFIG)
    input_files(ws)
    monkeypatch.chdir(ws.root)  # relative paths of the examples, whether the CLI runs in-process or not
    for block in scenario:
        for command in block.commands:
            check_output(command, play(ws, command))
    check_outbox(ws.outbox)  # the invoices of the examples: CII XSD, EN 16931 schematron, PDF/A metadata


def _leaf_commands(command, path=()) -> list[str]:
    subs = getattr(command, "commands", None)
    if not subs:
        return [" ".join(path)]
    return [leaf for name, sub in sorted(subs.items()) for leaf in _leaf_commands(sub, (*path, name))]


def test_every_command_has_an_example() -> None:
    blocks = all_blocks()
    for block in blocks:
        assert block.mode != "hors-test" or block.reason, f"docs/{block.page}:{block.line}: raison manquante"
        assert block.commands, f"docs/{block.page}:{block.line}: bloc sans commande"
    shown = [c.text for b in blocks for c in b.commands]
    missing = [leaf for leaf in _leaf_commands(typer.main.get_command(app))
               if not any(re.match(rf"amsn-batch {re.escape(leaf)}(\s|$)", text) for text in shown)]
    assert not missing, f"commandes sans exemple dans docs/*.md : {missing}"


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_pages_resolve() -> None:
    """Moving the manual around must not leave links to pages or sections that are gone."""
    root = DOCS.parent
    pages = [root / "README.md", *sorted(DOCS.glob("*.md"))]
    anchors = {p.resolve(): {_anchor(h) for h in re.findall(r"^#+ (.*)$", p.read_text(encoding="utf-8"), re.M)}
               for p in pages}
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page.resolve()
            if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in anchors.get(dest, ())):
                broken.append(f"{page.relative_to(root)} → {target}")
    assert not broken, "liens cassés :\n" + "\n".join(broken)
