"""The whole command line in French: every help page and every usage error of every command, found by walking
the typer app (a command added later is covered without touching this file), and every file a command takes fed
with junk. No English word of click, typer, pydantic or rich, and never a Python traceback."""

from __future__ import annotations

import enum
import os
import pty
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Annotated, Literal

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from amsn_batch import cli_fr
from amsn_batch.cli import app
from tests.conftest import CLI, cli_in_process
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx

# What click, typer (and the pydantic checks they run) and rich print when left in English.
ENGLISH = re.compile("|".join([
    r"\bUsage\b", r"\bError\b", r"\bOptions:", r"\bCommands?\b", r"\bArguments:", r"Show this message", r"\bTry\b",
    r"for help", r"\bNo such\b", r"Did you mean", r"\bMissing\b", r"Invalid value", r"Got unexpected", r"\bextra\b",
    r"\brequired\b", r"\bdefault\b", r"Input should", r"greater than", r"less than", r"does not exist",
    r"\bis a (?:directory|file)\b", r"\bis not\b", r"\binteger\b", r"\brange\b", r"<int", r"<str>", r"<path>",
    r"<file>", r"<text>", r"<dir>", r"\bAborted\b", r"Possible options", r"Choose from", r"\benv var\b",
    r"\bCOMMAND\b", r"\bARGS\b", r"\brequires\b", r"take a value", r"\bValue\b", r"\bvalid\b", r"\bunable\b",
    r"\bparse\b", r"\bCould not\b", r"x[<>]=", r"<=x",
]))
DATE_OPTIONS = ("--date", "--du", "--au", "--jusqu-au", "--depuis")


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
LEAVES = [(path, c) for path, c in COMMANDS if not getattr(c, "commands", None)]
GROUPS = [(path, c) for path, c in COMMANDS if getattr(c, "commands", None)]


def assert_french(proc, what: str) -> None:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "erreur inattendue" not in out, f"{what}:\n{out}"
    found = ENGLISH.findall(out)
    assert not found, f"{what}: mots anglais {found}:\n{out}"
    assert out.strip(), f"{what}: rien d'affiché"


def _options(command):
    return [p for p in command.params if p.param_type_name == "option" and p.name != "help"]


def _is_path(param) -> bool:
    return bool(getattr(param.type_descriptor, "is_path", False))


def _must_exist(param) -> bool:
    return _is_path(param) and bool(param.type_descriptor.parameter_info.exists)


def _is_int(param) -> bool:
    return param.type_descriptor.annotation is int


def _good_value(param, files: Path) -> str:
    if _must_exist(param):
        return str(files / "bon.csv")
    if _is_path(param):
        return str(files / "sortie")
    if _is_int(param):
        low = param.type_descriptor.parameter_info.min
        return "2026" if low is not None and low >= 2000 else "3"
    if param.opts[0] in DATE_OPTIONS:
        return "02/02/2026"
    return "10001"


def _argv(path, command, files: Path, **bad: str) -> list[str]:
    """The command (with the workspace's settings) with every required parameter given a sound value, and `bad`
    {param name: value} put in."""
    argv = [*path, "--config", str(files.parent / "reglages.toml")]
    for p in command.params:
        if p.name in ("help", "config"):
            continue
        value = bad.get(p.name, _good_value(p, files) if p.required else None)
        if value is None:
            continue
        argv += [value] if p.param_type_name == "argument" else [p.opts[0], value]
    return argv


@pytest.fixture
def files(ws) -> Path:
    """Sound files for the parameters not under test, in the workspace (beside its settings)."""
    folder = ws.root / "fichiers"
    write_csv(folder / "bon.csv", ["N° facture", "Date", "Montant"], [["1", "02/02/2026", "10,00"]])
    (folder / "sortie").mkdir()
    return folder


def _run(ws, argv: list[str]):
    return cli_in_process(argv, ws.root)


def test_every_help_page_is_french(ws):
    assert len(LEAVES) > 20
    for path, command in COMMANDS:
        proc = _run(ws, [*path, "--help"])
        assert proc.returncode == 0, proc.stderr
        assert_french(proc, f"amsn-batch {' '.join(path)} --help")
        assert "Utilisation : amsn-batch" in proc.stdout and "Affiche cette aide et s'arrête." in proc.stdout
        assert "Options :" in proc.stdout
        if command in dict(GROUPS).values():
            assert "Commandes :" in proc.stdout and "COMMANDE [ARGUMENTS]" in proc.stdout
    for path, _ in GROUPS:  # a group without its command shows its help
        proc = cli_in_process(list(path), ws.root)
        assert proc.returncode == 2 and "Commandes :" in proc.stdout
        assert_french(proc, f"amsn-batch {' '.join(path)}")
    help_page = " ".join(_run(ws, ["statut", "--help"]).stdout.split())  # unwrapped, no-break spaces as spaces
    assert "--derniers <entier>" in help_page and "[par défaut : 10; au moins 1]" in help_page
    assert "de 2000 à 2100" in " ".join(_run(ws, ["facturer", "--help"]).stdout.split())


def _usage_error(ws, argv: list[str], what: str, code: int = 2):
    proc = _run(ws, argv)
    assert proc.returncode == code, f"{what}: code {proc.returncode}\n{proc.stdout}{proc.stderr}"
    assert_french(proc, what)
    assert proc.stderr.startswith("amsn-batch : ") and proc.stderr.count("\n") == 1, f"{what}:\n{proc.stderr}"
    return proc.stderr


def test_every_bad_invocation_is_one_french_line(ws, files):
    tried = 0
    for path, command in GROUPS:
        err = _usage_error(ws, [*path, "inconnue"], "commande inconnue")
        assert "commande inconnue : inconnue" in err
        real = sorted(command.commands)[0]
        err = _usage_error(ws, [*path, real[:-1] + "x"], "faute de frappe")
        assert f"vouliez-vous dire {real}" in err or "commande inconnue" in err
    for path, command in LEAVES:
        what = f"amsn-batch {' '.join(path)}"
        good = _argv(path, command, files)
        assert "option inconnue : --inconnue" in _usage_error(ws, [*good, "--inconnue"], f"{what} --inconnue")
        if not any(p.param_type_name == "argument" for p in command.params):
            assert "argument(s) en trop : en-trop" in _usage_error(ws, [*good, "en-trop"], f"{what} en-trop")
        assert "--verbose ne prend pas de valeur" in _usage_error(ws, [*good, "--verbose=3"], what) \
            if any(p.name == "verbose" for p in command.params) else True
        for p in command.params:
            if p.name in ("help", "config", "verbose"):
                continue
            tried += 1
            label = p.opts[0] if p.param_type_name == "option" else p.name
            if p.required:
                argv = [a for a in _argv(path, command, files, **{p.name: "__omis__"})]
                i = argv.index("__omis__")
                argv = argv[:i - (p.param_type_name == "option")] + argv[i + 1:]
                err = _usage_error(ws, argv, f"{what} sans {label}")
                assert "obligatoire manquant" in err and label in err
            if p.param_type_name == "option" and getattr(p, "is_flag", False):  # a switch (synthese --service)
                err = _usage_error(ws, [*_argv(path, command, files), f"{label}=3"], f"{what} {label}=3")
                assert f"{label} ne prend pas de valeur" in err
            elif p.param_type_name == "option":
                err = _usage_error(ws, [*_argv(path, command, files), p.opts[0]], f"{what} {label} sans valeur")
                assert f"l'option {label} attend une valeur" in err
            if _is_int(p):
                err = _usage_error(ws, _argv(path, command, files, **{p.name: "douze"}), f"{what} {label} douze")
                assert "nombre entier attendu" in err and "douze" in err
                low = p.type_descriptor.parameter_info.min
                if low is not None:
                    err = _usage_error(ws, _argv(path, command, files, **{p.name: str(low - 1)}), f"{what} {label} trop petit")
                    assert f"au moins {low} attendu" in err
            if _must_exist(p):
                err = _usage_error(ws, _argv(path, command, files, **{p.name: str(files / "absent.csv")}), f"{what} {label} absent")
                assert "introuvable" in err and "absent.csv" in err
                err = _usage_error(ws, _argv(path, command, files, **{p.name: str(files / "sortie")}), f"{what} {label} dossier")
                assert "est un dossier" in err
            if label in DATE_OPTIONS:
                err = _usage_error(ws, _argv(path, command, files, **{p.name: "32/13/2026"}), f"{what} {label} 32/13/2026")
                assert "32/13/2026" in err and label in err
    assert tried > 30


def _junk(folder: Path) -> dict[str, Path]:
    """Files nobody should give a command, each in its own way."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"vide.csv": folder / "vide.csv", "binaire.csv": folder / "binaire.csv"}
    out["vide.csv"].write_bytes(b"")
    out["binaire.csv"].write_bytes(bytes(range(256)) * 20)
    out["renomme.xlsx"] = write_csv(folder / "renomme.xlsx", ["a", "b"], [["1", "2"]])
    out["abime.xlsx"] = folder / "abime.xlsx"
    write_xlsx(folder / "entier.xlsx", ["a", "b"], [["1", "2"]])
    out["abime.xlsx"].write_bytes((folder / "entier.xlsx").read_bytes()[:300])
    out["colonnes.csv"] = write_csv(folder / "colonnes.csv", ["Prix", "Quantité"], [["1", "2"]])
    out["colonnes.xlsx"] = write_xlsx(folder / "colonnes.xlsx", ["Prix", "Quantité"], [["1", "2"]])
    with zipfile.ZipFile(folder / "pas-un-classeur.xlsx", "w") as z:
        z.writestr("bonjour.txt", "pas un classeur")
    out["pas-un-classeur.xlsx"] = folder / "pas-un-classeur.xlsx"
    return out


def test_every_file_a_command_takes_survives_junk(ws, files, tmp_path):
    junk = _junk(tmp_path / "rebut")
    taking = [(path, command, p) for path, command in LEAVES for p in command.params if _must_exist(p)]
    assert {path for path, _, _ in taking} >= {("adherents", "importer"), ("paiements", "importer"), ("valider",)}
    for path, command, p in taking:
        for name, bad in junk.items():
            what = f"amsn-batch {' '.join(path)} ({p.name} = {name})"
            proc = _run(ws, _argv(path, command, files, **{p.name: str(bad)}))
            assert_french(proc, what)
            assert proc.returncode != 0 or "refusé" in proc.stdout, f"{what}: accepté ?\n{proc.stdout}{proc.stderr}"
    before = ws.sql("SELECT count(*) FROM adherents")
    for name, bad in junk.items():  # the registry: one French line naming the file, nothing changed
        proc = ws.cli("adherents", "importer", str(bad), check=False)
        assert proc.returncode == 1 and (name in proc.stderr or "colonne" in proc.stderr.lower()), proc.stderr
    assert ws.sql("SELECT count(*) FROM adherents") == before


def test_a_junk_settings_file_is_one_french_line(tmp_path):
    junk = _junk(tmp_path / "rebut")
    for name in ("binaire.csv", "abime.xlsx"):  # (an empty file is a valid TOML: every setting by default)
        proc = cli_in_process(["statut", "--config", str(junk[name])], tmp_path)
        assert proc.returncode == 1
        assert_french(proc, f"--config {name}")


def _in_a_terminal(ws, *args: str) -> str:
    """`amsn-batch ARGS` in a real process whose stdin, stdout and stderr are a pseudo-terminal: all it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CLI, *args, "--config", str(ws.config)], cwd=ws.root, stdin=follower, stdout=follower,
                            stderr=follower, env={**os.environ, "COLUMNS": "200"})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process is gone and the terminal closed
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=300) == 0, out.decode(errors="replace")
    return out.decode("utf-8")


def test_traiter_shows_its_progress_on_a_terminal_only(ws):
    siret = ws.registry.members["10001"][0]
    for name in ("a.csv", "b.csv"):
        write_csv(ws.drop("10001", name), MOVEMENT_HEADERS, [employee_row(make_nir(), siret) for _ in range(3)])
    screen = _in_a_terminal(ws, "traiter")
    for stage in ("lecture", "contrôle", "enregistrement", "accusé de réception", "terminé"):
        assert f"fichier 1/2 · 10001/a.csv · {stage}" in screen and f"fichier 2/2 · 10001/b.csv · {stage}" in screen
    assert "\r\x1b[K" + "█" * 20 + " fichier 2/2" in screen  # the bar full at the end, on a rewritten line
    assert "10001/a.csv : accepté →" in screen and "2 fichier(s) traité(s)" in screen

    for name in ("c.csv", "d.csv"):  # under cron: stdout and stderr are no terminal
        write_csv(ws.drop("10001", name), MOVEMENT_HEADERS, [employee_row(make_nir(), siret)])
    proc = ws.cli_process("traiter")
    assert "\r" not in proc.stdout + proc.stderr and "█" not in proc.stderr and "fichier 1/2" not in proc.stderr
    assert proc.stdout.splitlines()[:2] == [f"10001/{n} : accepté → {ws.outbox / '10001'}" for n in ("c.csv", "d.csv")]
    assert all(" INFO " in line for line in proc.stderr.splitlines()), proc.stderr
    # the process ends without the interpreter's teardown (cli.main): its buffered output and its log's last
    # line still reach the pipes, and its exit code is the command's
    assert proc.stdout.splitlines()[-1].startswith("2 fichier(s) traité(s), 0 en échec.")
    assert "traitement_fin" in proc.stderr.splitlines()[-1]
    usage = ws.cli_process("traiter", "--inconnue", check=False)
    assert usage.returncode == 2 and "option inconnue : --inconnue" in usage.stderr


def test_valider_shows_its_progress_on_a_terminal(ws, tmp_path):
    path = write_csv(tmp_path / "essai.csv", MOVEMENT_HEADERS,
                     [employee_row(make_nir(), ws.registry.members["10001"][0]) for _ in range(3)])
    screen = _in_a_terminal(ws, "valider", str(path), "--expediteur", "10001", "--sortie", str(tmp_path / "sortie"))
    assert "fichier 1/1 · 10001/essai.csv · contrôle" in screen and "essai.csv : accepté — 3 ligne(s)" in screen
    proc = ws.cli_process("valider", str(path), "--expediteur", "10001", "--sortie", str(tmp_path / "sortie2"))
    assert "\r" not in proc.stdout + proc.stderr and "fichier 1/1" not in proc.stderr


class Format(str, enum.Enum):
    csv = "csv"
    fec = "fec"


# Kinds of parameters no command has yet (a choice, an on/off switch, a decimal number): the day one is added,
# its help and its errors are French already.
essai = typer.Typer(add_completion=False, rich_markup_mode=None)


@essai.command("a")
def _a(fmt: Annotated[Format, typer.Option("--format", help="Format.")] = Format.csv,
       sens: Annotated[Literal["entree", "sortie"], typer.Option("--sens")] = "entree",
       envoyer: Annotated[bool, typer.Option("--envoyer/--garder")] = True,
       taux: Annotated[float, typer.Option("--taux")] = 1.0,
       requis: Annotated[Format, typer.Option("--requis")] = ...) -> None:
    print(fmt.value, sens, envoyer, taux, requis.value)


@essai.command("b")
def _b() -> None:
    pass


def test_choices_bool_switches_and_numbers_are_french_too():
    def run(*argv: str):
        with CliRunner().isolation() as (out, err, _):
            code = cli_fr.invoke(essai, list(argv), "amsn-batch")
            sys.stdout.flush()
            sys.stderr.flush()
            return code, out.getvalue().decode() + err.getvalue().decode()

    code, text = run("a", "--help")
    assert code == 0 and "--format <csv|fec>" in text and "[par défaut : envoyer]" in text.replace("\u00a0", " ")
    assert not ENGLISH.findall(text), text
    for argv, expected in [(("a", "--format", "pdf", "--requis", "csv"), "valeurs possibles : csv, fec"),
                           (("a", "--sens", "haut", "--requis", "csv"), "valeurs possibles : entree, sortie"),
                           (("a", "--taux", "abc", "--requis", "csv"), "nombre attendu"),
                           (("a",), "option obligatoire manquante : --requis (valeurs possibles : csv, fec)"),
                           (("a", "--envoyer=1", "--requis", "csv"), "l'option --envoyer ne prend pas de valeur"),
                           (("c",), "commande inconnue : c")]:
        code, text = run(*argv)
        assert code == 2 and expected in text and not ENGLISH.findall(text), (argv, text)
