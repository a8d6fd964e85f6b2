"""The command line in French: typer's help pages and the parser's usage errors.

typer (0.29) ships its own copy of click whose gettext calls were removed: its help pages and usage errors are
English sentences built in code. What can be translated through a hook is: typer's own `gettext` calls (the
help words, "No such command"), looked up at each call in `typer.core._`. The rest is done here, in one place:
the help formatter (usage prefix, headings, metavars, number ranges), the help option's text, and the usage
errors, rebuilt in French from the exception's own fields (the option, the parameter, pydantic's error type and
bounds) rather than from its English text wherever the exception carries them. Best effort: a typer without
these internals keeps its English words, and nothing else changes.
"""

from __future__ import annotations

import re
import sys
from difflib import get_close_matches

import typer
from typer.main import get_command

try:  # typer's internals; without them the help pages keep their English words
    import typer.core as typer_core
    from typer._click import core as click_core, exceptions as click_exceptions, formatting as click_formatting
except ImportError:
    typer_core = None

# typer's gettext calls (typer.core): help words, and the group's own usage errors
_GETTEXT_FR = {
    "Commands": "Commandes", "Arguments": "Arguments", "Options": "Options",
    "required": "obligatoire", "default: {default}": "par défaut\u00a0: {default}",
    "env var: {var}": "variable d'environnement : {var}", "(dynamic)": "(calculée)",
    "Missing command.": "commande manquante", "No such command {name!r}.": "commande inconnue : {name}",
    "Aborted!": "Interrompu.",
}

# how the help pages show what an option takes
_METAVARS_FR = {"<int range>": "<entier>", "<int>": "<entier>", "<float range>": "<nombre>", "<float>": "<nombre>",
                "<str>": "<texte>", "<text>": "<texte>", "<path>": "<chemin>", "<file>": "<fichier>",
                "<dir>": "<dossier>", "<bool>": "<oui|non>", "<datetime>": "<date>"}

_USAGE_WORDS_FR = {"[OPTIONS]": "[OPTIONS]", "COMMAND [ARGS]...": "COMMANDE [ARGUMENTS]..."}

HELP_TEXT = "Affiche cette aide et s'arrête."

_installed = False


def _number_range(low, high) -> str | None:
    if low is None and high is None:
        return None
    if low is None:
        return f"au plus {high}"
    if high is None:
        return f"au moins {low}"
    return f"de {low} à {high}"


def french_help() -> None:
    """Put the help pages' English words in French (once per process)."""
    global _installed
    if _installed or typer_core is None:
        return
    _installed = True
    typer_core._ = lambda text: _GETTEXT_FR.get(text, text)  # typer's gettext hook, looked up at each call
    typer_core.describe_number_range = _number_range  # "[x>=1]" in the help pages
    write_usage = click_formatting.HelpFormatter.write_usage
    get_help_option = click_core.Command.get_help_option
    display_type = typer_core._TyperParameter.display_type

    def usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        for english, french in _USAGE_WORDS_FR.items():
            args = args.replace(english, french)
        write_usage(self, prog, args, "Utilisation : " if prefix is None else prefix)

    def heading(self, text: str) -> None:
        self.write(f"{'':>{self.current_indent}}{text} :\n")

    def help_option(self, ctx):
        option = get_help_option(self, ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    def metavar(self, ctx) -> str:
        shown = display_type(self, ctx)
        return _METAVARS_FR.get(shown, shown)

    click_formatting.HelpFormatter.write_usage = usage
    click_formatting.HelpFormatter.write_heading = heading
    click_core.Command.get_help_option = help_option
    typer_core._TyperParameter.display_type = metavar


# Usage errors that carry nothing but their English text (the parser's own), in French.
_USAGE_FR = [
    (r"commande inconnue : (.*?)\.? Did you mean (.*)\?", r"commande inconnue : \1 (vouliez-vous dire \2 ?)"),
    (r"No such option: (\S+)", r"option inconnue : \1"),
    (r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", r"argument(s) en trop : \1"),
    (r"Option '(.*)' requires an argument\.", r"l'option \1 attend une valeur"),
    (r"Option '(.*)' requires (\d+) arguments\.", r"l'option \1 attend \2 valeurs"),
    (r"Option '(.*)' does not take a value\.", r"l'option \1 ne prend pas de valeur"),
    (r"Argument '(.*)' takes (\d+) values\.", r"l'argument \1 attend \2 valeurs"),
    (r"Value must be an iterable\.", r"plusieurs valeurs attendues"),
    (r"Value (.*) is not a valid (.*)\.", r"valeur \1 invalide"),
]

# The path checks' English sentence: "<file|dir|path> '<name>' <problem>."
_PATH_FR = {"does not exist": "{what} introuvable{opt} : « {name} »",
            "is a directory": "« {name} » est un dossier ; un fichier est attendu{opt}",
            "is a file": "« {name} » est un fichier ; un dossier est attendu{opt}",
            "is not readable": "{what} illisible{opt} (droits d'accès) : « {name} »",
            "is not writable": "{what} non modifiable{opt} (droits d'accès) : « {name} »"}
_PATH_WHAT = {"file": "fichier", "dir": "dossier", "path": "chemin"}
_PATH_PROBLEM = re.compile(r"(file|dir|path) '(.*)' (" + "|".join(_PATH_FR) + r")\.", re.S)


def usage_fr(message: str) -> str:
    """A usage error's English text, in French (the text itself when it is not one of click's)."""
    text = message.strip()
    for pattern, french in _USAGE_FR:
        if re.fullmatch(pattern, text, flags=re.S):
            return re.sub(pattern, french, text, flags=re.S)
    return text


def _param_name(param) -> str:
    """The parameter as the help page shows it: --option, or the argument's name."""
    opts = getattr(param, "opts", None)
    if getattr(param, "param_type_name", "") == "option" and opts:
        return " / ".join(opts)
    return str(getattr(param, "display_name_raw", None) or getattr(param, "name", "") or "?")


def _choices(param) -> list[str]:
    desc = getattr(param, "type_descriptor", None)
    choices = getattr(desc, "choices", None) if desc is not None else None
    return [str(getattr(c, "value", c)) for c in choices or ()]


def _path_problem(exc) -> str | None:
    """The path check's English sentence, in French (naming the option; an argument is the path itself)."""
    m = _PATH_PROBLEM.fullmatch(str(getattr(exc, "message", "") or "").strip())
    if not m:
        return None
    param = getattr(exc, "param", None)
    opt = f" pour {_param_name(param)}" if getattr(param, "param_type_name", "") == "option" else ""
    return _PATH_FR[m.group(3)].format(what=_PATH_WHAT[m.group(1)], name=m.group(2), opt=opt)


def _value_problem(exc) -> str:
    """Why a value was refused, in French: from pydantic's error type and bounds when typer's coercion failed,
    or the message itself (already French when this program raised it)."""
    cause = exc.__cause__
    errors = cause.errors() if cause is not None and hasattr(cause, "errors") else []
    if errors:
        e = errors[0]
        kind, ctx, got = e.get("type", ""), e.get("ctx") or {}, e.get("input")
        shown = f" (reçu : « {got} »)" if got not in (None, "") else ""
        choices = _choices(getattr(exc, "param", None))
        if choices:
            return f"valeur inconnue{shown} ; valeurs possibles : {', '.join(choices)}"
        if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            bound = {"greater_than_equal": f"au moins {ctx.get('ge')}", "greater_than": f"plus de {ctx.get('gt')}",
                     "less_than_equal": f"au plus {ctx.get('le')}", "less_than": f"moins de {ctx.get('lt')}"}[kind]
            return f"{bound} attendu{shown}"
        if kind.startswith("int_"):
            return f"nombre entier attendu{shown}"
        if kind.startswith("float_") or kind.startswith("decimal_"):
            return f"nombre attendu{shown}"
        if kind.startswith("bool_"):
            return f"oui ou non attendu{shown}"
        if kind.startswith(("date", "datetime")):
            return f"date invalide{shown}"
        return f"valeur refusée{shown}"
    return usage_fr(str(getattr(exc, "message", "") or ""))


def error_fr(exc) -> str:
    """A click usage error (typer's own copy) as one French sentence."""
    param = getattr(exc, "param", None)
    if isinstance(exc, click_exceptions.NoSuchOption):
        text = f"option inconnue : {exc.option_name}"
        if exc.possibilities:
            text += f" (vouliez-vous dire {', '.join(sorted(exc.possibilities))} ?)"
        return text
    if isinstance(exc, click_exceptions.MissingParameter):
        kind = exc.param_type or getattr(param, "param_type_name", "")
        text = (f"option obligatoire manquante : {_param_name(param)}" if kind == "option"
                else f"argument obligatoire manquant : {_param_name(param)}")
        choices = _choices(param)
        return text + (f" (valeurs possibles : {', '.join(choices)})" if choices else "")
    if isinstance(exc, click_exceptions.BadParameter):
        hint = exc.param_hint if isinstance(exc.param_hint, str) else (
            " / ".join(exc.param_hint) if exc.param_hint else _param_name(param) if param is not None else "")
        path = _path_problem(exc)
        if path:
            return path
        return f"valeur invalide pour {hint} : {_value_problem(exc)}" if hint else f"valeur invalide : {_value_problem(exc)}"
    if isinstance(exc, click_exceptions.FileError):
        return f"impossible d'ouvrir le fichier « {exc.ui_filename} » : {exc.message}"
    return usage_fr(str(getattr(exc, "message", exc)))


def _suggest(exc) -> str:
    """For an unknown command, the close ones (typer's own suggestion is English, so it is turned off)."""
    ctx = getattr(exc, "ctx", None)
    commands = getattr(getattr(ctx, "command", None), "commands", None)
    typed = re.fullmatch(r"commande inconnue : (.*)", str(getattr(exc, "message", "")))
    if not commands or not typed:
        return ""
    close = get_close_matches(typed.group(1), list(commands))
    return f" (vouliez-vous dire {', '.join(close)} ?)" if close else ""


def invoke(app: typer.Typer, argv: list[str] | None = None, prog_name: str | None = None) -> int:
    """Run `app` on argv (default: sys.argv[1:]) and return its exit code. A usage error is one French line on
    stderr and click's code (2); a group called without its command shows its help; an interrupted run exits 1
    with one line; any other exception is the caller's."""
    command = get_command(app)
    if typer_core is not None and isinstance(command, typer_core.TyperGroup):
        _no_english_suggestions(command)
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except Exception as exc:
        if typer_core is not None and isinstance(exc, click_exceptions.NoArgsIsHelpError):
            print(exc.format_message())
            return exc.exit_code
        if typer_core is not None and isinstance(exc, click_exceptions.ClickException):
            path = getattr(getattr(exc, "ctx", None), "command_path", None) or "amsn-batch"
            print(f"amsn-batch : {error_fr(exc)}{_suggest(exc)} (voir {path} --help)", file=sys.stderr)
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            print("amsn-batch : interrompu.", file=sys.stderr)
            return 1
        raise
    return code if isinstance(code, int) else 0  # click returns the code of typer.Exit in this mode


def _no_english_suggestions(group) -> None:
    group.suggest_commands = False
    for sub in getattr(group, "commands", {}).values():
        if isinstance(sub, typer_core.TyperGroup):
            _no_english_suggestions(sub)
