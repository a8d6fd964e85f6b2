"""Who to contact, at the bottom of an acknowledgement: the adhérent's centre and health team, and the
service's administrative e-mails, as on the member portal's « Joindre nos services ».

The registry gives each adhérent its centre (column « Centre »). The centres' details, their teams and the
service e-mails are not registry data: they live in the service directory, a TOML file (`schemas/annuaire.toml`
by default, or `[paths] annuaire` in the settings). A centre missing from the directory is still named, with
a pointer to the member portal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..config import ConfigError, Settings, read_toml
from .. import vocab
from ..store import registry
from ..vocab import normalize

MAX_CENTRES = 6  # a payroll provider may act for hundreds of adhérents: list this many centres, count the rest


@dataclass(frozen=True)
class Person:
    role: str
    nom: str = ""
    telephone: str = ""
    email: str = ""


@dataclass
class Centre:
    nom: str
    known: bool  # described in the directory
    adresse: str = ""
    telephone: str = ""
    email: str = ""
    horaires: str = ""
    equipe: list[Person] = field(default_factory=list)
    adherents: list[str] = field(default_factory=list)  # N° adhérent served here (for a mandataire's file)


@dataclass
class Contacts:
    service: dict  # nom, description, site
    services: list[dict]  # libelle, email, pour
    centres: list[Centre]
    centres_non_listes: int = 0
    expediteur_nom: str = ""
    mandataire: bool = False


@dataclass(frozen=True)
class Directory:
    service: dict
    services: tuple[dict, ...]
    centres: dict[str, dict]  # normalized name → spec (with its 'nom')
    adherents: dict[str, dict]


def directory_path(settings: Settings | None) -> Path:
    if settings is not None and settings.paths.annuaire is not None:
        return settings.paths.annuaire
    return vocab.path("annuaire.toml")


def load_directory(path: Path) -> Directory:
    return _load(path, path.stat().st_mtime_ns if path.is_file() else 0)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime: int) -> Directory:
    data = read_toml(path, "Annuaire du service")
    services = data.get("services", [])
    if not isinstance(services, list) or any(not isinstance(s, dict) or "email" not in s for s in services):
        raise ConfigError(f"Annuaire du service ({path}) : chaque [[services]] doit avoir un libelle et un email.")
    centres = {}
    for name, spec in data.get("centres", {}).items():
        _check_team(path, spec.get("equipe", []), f"centre « {name} »")
        centres[normalize(name)] = {**spec, "nom": name}
    adherents = data.get("adherents", {})
    for numero, spec in adherents.items():
        _check_team(path, spec.get("equipe", []), f"adhérent {numero}")
    return Directory(data.get("service", {}), tuple(services), centres, adherents)


def _check_team(path: Path, team: object, where: str) -> None:
    if not isinstance(team, list) or any(not isinstance(p, dict) or "role" not in p for p in team):
        raise ConfigError(f"Annuaire du service ({path}), {where} : chaque membre de l'équipe doit avoir un « role ».")


def _people(specs: list[dict]) -> list[Person]:
    return [Person(p["role"], p.get("nom", ""), p.get("telephone", ""), p.get("email", "")) for p in specs]


def contacts_for(conn, settings: Settings | None, sender: str) -> Contacts:
    """The contacts to print on an acknowledgement for this sender (an adhérent or a mandataire)."""
    d = load_directory(directory_path(settings))
    who = registry.sender_info(conn, sender)
    name, mandataire = who.name, who.mandataire
    centres: dict[tuple[str, str], Centre] = {}
    if who.members:
        for member in registry.members(conn, who.members):
            numero, centre_name = member.numero, member.centre
            spec = d.centres.get(normalize(centre_name)) if centre_name else None
            own_team = d.adherents.get(numero, {}).get("equipe")
            key = (normalize(centre_name), numero if own_team else "")
            block = centres.get(key)
            if block is None:
                block = Centre(
                    nom=(spec or {}).get("nom", centre_name) or "Centre non renseigné",
                    known=spec is not None,
                    adresse=(spec or {}).get("adresse", ""),
                    telephone=(spec or {}).get("telephone", ""),
                    email=(spec or {}).get("email", ""),
                    horaires=(spec or {}).get("horaires", ""),
                    equipe=_people(own_team if own_team else (spec or {}).get("equipe", [])),
                )
                centres[key] = block
            block.adherents.append(numero)
    blocks = sorted(centres.values(), key=lambda c: (-len(c.adherents), c.nom))
    return Contacts(dict(d.service), [dict(s) for s in d.services], blocks[:MAX_CENTRES],
                    max(0, len(blocks) - MAX_CENTRES), name, mandataire)


def service_contacts(settings: Settings | None = None) -> Contacts:
    """Only the service's e-mails (an unknown sender, or no store at hand)."""
    d = load_directory(directory_path(settings))
    return Contacts(dict(d.service), [dict(s) for s in d.services], [])
