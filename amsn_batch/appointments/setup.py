"""The appointments' vocabulary and settings: schemas/rendez_vous.toml (statuses, types of visit, holiday
subdivisions, defaults with their sources), overridden by the settings file's [rendez_vous] table:

    [rendez_vous]
    domaine = "amsn.fr"                 # right part of the calendar UIDs (default: the directory's site)
    annulation_jours_ouvres = 3         # any key of [delais] or [suivi] of schemas/rendez_vous.toml
    [rendez_vous.departements]          # département of each centre (Alsace-Moselle holidays)
    "Centre de Strasbourg" = "67"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from ..config import ConfigError, Settings
from ..settings_file import read_toml
from ..vocab import load_toml, normalize


@dataclass(frozen=True)
class AppointmentSettings:
    domain: str
    delays: dict  # [delais]
    follow_up: dict  # [suivi]
    departements: dict[str, str] = field(default_factory=dict)  # normalized centre name → département


def load(settings: Settings, default_domain: str = "") -> AppointmentSettings:
    spec = load_toml("rendez_vous.toml")
    delays, follow = dict(spec["delais"]), dict(spec["suivi"])
    own = read_toml(settings.source, "Fichier de configuration").get("rendez_vous", {}) if settings.source else {}
    domain = default_domain
    departements = {}
    for key, value in own.items():
        if key == "domaine":
            domain = str(value)
        elif key == "departements" and isinstance(value, dict):
            departements = {normalize(k): str(v) for k, v in value.items()}
        elif key in delays or key in follow:
            target = delays if key in delays else follow
            if not isinstance(value, type(target[key])):
                raise ConfigError(f"Valeur invalide pour [rendez_vous] {key} : {value!r}")
            target[key] = value
        else:
            raise ConfigError(f"Clé inconnue dans [rendez_vous] : {key} (attendu : domaine, departements, "
                              f"{', '.join([*delays, *follow])})")
    return AppointmentSettings(domain or "amsn-batch.invalid", delays, follow, departements)


@cache
def _lookup(section: str) -> dict[str, str]:
    """Normalized spelling → code, for [statuts] or [types_visite]."""
    out = {}
    for code, spec in load_toml("rendez_vous.toml")[section].items():
        names = spec if isinstance(spec, list) else [spec["libelle"], *spec.get("alias", [])]
        for name in [code, *names]:
            out[normalize(name)] = code
    return out


def status_code(text: str) -> str | None:
    return _lookup("statuts").get(normalize(text))


def visit_code(text: str) -> str | None:
    return _lookup("types_visite").get(normalize(text))


def visit_label(code: str) -> str:
    spec = load_toml("rendez_vous.toml")["types_visite"].get(code)
    return spec["libelle"] if spec else code


def visit_labels() -> list[str]:
    return [spec["libelle"] for spec in load_toml("rendez_vous.toml")["types_visite"].values()]


STATUS_LABELS = {"prevu": "Prévu", "honore": "Honoré", "annule": "Annulé", "non_honore": "Non honoré"}
