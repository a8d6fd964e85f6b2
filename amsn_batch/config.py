"""Settings from a TOML file.

Every path in the file is relative to the file itself, so that a settings file and its folders can be
moved together. Without a settings file, the defaults point inside the current directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "AMSN_BATCH_CONFIG"
DEFAULT_NAME = "amsn-batch.toml"


class ConfigError(Exception):
    """A settings problem, worded in French for the operator."""


@dataclass(frozen=True)
class Paths:
    inbox: Path
    outbox: Path
    archive: Path
    quarantine: Path
    database: Path
    rapports: Path = Path("rapports")  # staff dashboard pages (amsn-batch rapport quotidien)
    annuaire: Path | None = None  # service directory (contacts); None: schemas/annuaire.toml


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 200 * 1024 * 1024
    max_rows: int = 2_000_000
    max_columns: int = 200
    findings_per_code: int = 200
    max_rejects_rows: int = 50_000  # above this, no correction workbook (the ack says so)


@dataclass(frozen=True)
class Settings:
    paths: Paths
    limits: Limits = field(default_factory=Limits)
    source: Path | None = None
    list_exit_threshold: float = 0.20  # [listes] seuil_sorties: share of a member's staff a full list may exit
    billing: Any = None  # billing.tariffs.Billing: [facturation], [declaration] and [tarifs.AAAA]

    def ensure_dirs(self) -> None:
        for p in (self.paths.inbox, self.paths.outbox, self.paths.archive, self.paths.quarantine):
            p.mkdir(parents=True, exist_ok=True)
        self.paths.database.parent.mkdir(parents=True, exist_ok=True)


_PATH_DEFAULTS = {
    "inbox": "inbox",
    "outbox": "outbox",
    "archive": "archive",
    "quarantine": "quarantine",
    "database": "data/amsn.sqlite",
    "rapports": "rapports",
    "annuaire": "",
}

_OPTIONAL_PATHS = {"annuaire"}  # empty: the default shipped under schemas/

_LIMIT_KEYS = {
    "taille_max_mo": ("max_file_bytes", lambda v: int(float(v) * 1024 * 1024)),
    "lignes_max": ("max_rows", int),
    "colonnes_max": ("max_columns", int),
    "constats_par_code": ("findings_per_code", int),
    "lignes_classeur_rejets": ("max_rejects_rows", int),
}


def find_config(explicit: Path | None) -> Path | None:
    """The settings file to use: --config, then $AMSN_BATCH_CONFIG, then ./amsn-batch.toml."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"Fichier de configuration introuvable : {explicit}")
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"Fichier de configuration introuvable ({CONFIG_ENV}) : {p}")
        return p
    local = Path.cwd() / DEFAULT_NAME
    return local if local.is_file() else None


def load_settings(explicit: Path | None = None) -> Settings:
    path = find_config(explicit)
    data: dict = {}
    base = Path.cwd()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Fichier de configuration illisible ({path}) : {exc}") from exc
        base = path.resolve().parent
    raw_paths = {**_PATH_DEFAULTS, **data.get("paths", {})}
    unknown = set(raw_paths) - set(_PATH_DEFAULTS)
    if unknown:
        raise ConfigError(f"Clé inconnue dans [paths] : {', '.join(sorted(unknown))}")
    paths = Paths(**{k: None if k in _OPTIONAL_PATHS and not v else (base / v).resolve() for k, v in raw_paths.items()})
    limits_kw = {}
    for key, value in data.get("limites", {}).items():
        if key not in _LIMIT_KEYS:
            raise ConfigError(
                f"Clé inconnue dans [limites] : {key} (attendu : {', '.join(_LIMIT_KEYS)})"
            )
        name, conv = _LIMIT_KEYS[key]
        try:
            limits_kw[name] = conv(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Valeur invalide pour [limites] {key} : {value!r}") from exc
    lists = data.get("listes", {})
    unknown = set(lists) - {"seuil_sorties"}
    if unknown:
        raise ConfigError(f"Clé inconnue dans [listes] : {', '.join(sorted(unknown))} (attendu : seuil_sorties)")
    threshold = lists.get("seuil_sorties", 0.20)
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"[listes] seuil_sorties doit être une part entre 0 et 1 (par exemple 0.2), pas {threshold!r}")
    from .billing.tariffs import load_billing

    return Settings(paths=paths, limits=Limits(**limits_kw), source=path, list_exit_threshold=float(threshold),
                    billing=load_billing(data, base))
