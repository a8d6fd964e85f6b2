"""The command line in French: typer's help pages and the parser's usage errors.

typer ships its own copy of click, whose help pages add a few English words ("Usage:", "Commands:", "Show this
message and exit.") and whose usage errors are English sentences, with no translation hook. Every patch of
those internals is here, best effort: a typer without them keeps its English words, and nothing else changes.
"""

from __future__ import annotations

import re
import sys

import typer
from typer.main import get_command

try:  # typer's internals; without them the help pages keep their English words
    import typer.core as typer_core
    from typer._click import core as click_core, formatting as click_formatting
except ImportError:
    typer_core = None

_HELP_WORDS = {"Commands": "Commandes", "required": "obligatoire", "default": "par défaut",
               "env var": "variable d'environnement"}

_USAGE_FR = [
    (r"No such option: (\S+).*", r"option inconnue : \1"),
    (r"No such command '(.*)'\.?", r"commande inconnue : \1"),
    (r"Missing option '(.*)'\.?", r"option obligatoire manquante : \1"),
    (r"Missing argument '(.*)'\.?", r"argument obligatoire manquant : \1"),
    (r"Got unexpected extra arguments? \((.*)\)", r"argument(s) en trop : \1"),
    (r"Invalid value for '(.*?)': (?:[Ff]ile|[Pp]ath|[Dd]irectory) '(.*)' does not exist\.", r"fichier introuvable pour \1 : \2"),
    (r"Invalid value for '(.*?)': (.*)", r"valeur invalide pour \1 : \2"),
    (r"Option '(.*)' requires an argument\.", r"l'option \1 attend une valeur"),
]

_installed = False


def french_help() -> None:
    """Put the help pages' English words in French (once per process)."""
    global _installed
    if _installed or typer_core is None:
        return
    _installed = True
    typer_core._ = lambda text: _HELP_WORDS.get(text, text)  # typer's gettext hook, looked up at each call
    write_usage = click_formatting.HelpFormatter.write_usage
    get_help_option = click_core.Command.get_help_option

    def usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        write_usage(self, prog, args, "Utilisation : " if prefix is None else prefix)

    def help_option(self, ctx):
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = "Affiche cette aide et s'arrête."
        return option

    click_formatting.HelpFormatter.write_usage = usage
    click_core.Command.get_help_option = help_option


def usage_fr(message: str) -> str:
    """The parser's usage errors, in French."""
    for pattern, french in _USAGE_FR:
        if re.fullmatch(pattern, message.strip(), flags=re.S):
            return re.sub(pattern, french, message.strip(), flags=re.S)
    return message


def invoke(app: typer.Typer, argv: list[str] | None = None, prog_name: str | None = None) -> int:
    """Run `app` on argv (default: sys.argv[1:]) and return its exit code. A usage error is one French line on
    stderr and click's code (2); an interrupted prompt exits 1; any other exception is the caller's."""
    try:
        code = get_command(app).main(args=argv, prog_name=prog_name, standalone_mode=False)
    except Exception as exc:
        if hasattr(exc, "exit_code") and hasattr(exc, "format_message"):  # click's usage errors (typer's own copy)
            print(f"amsn-batch : {usage_fr(exc.format_message())} (voir amsn-batch --help)", file=sys.stderr)
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            return 1
        raise
    return code if isinstance(code, int) else 0  # click returns the code of typer.Exit in this mode
