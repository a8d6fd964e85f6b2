"""The bottom of the settings: the French settings error and the reading of a TOML settings file, shared by
config.py (general settings) and tariffs.py (billing settings) so that neither imports the other."""

from __future__ import annotations

import tomllib
from pathlib import Path


class ConfigError(Exception):
    """A settings problem, worded in French for the operator."""


def read_toml(path: Path, what: str) -> dict:
    """A settings-like TOML file; `what` names it in the French error ("Fichier des tarifs"...)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} introuvable : {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} illisible ({path}) : {exc}") from exc
