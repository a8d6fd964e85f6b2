"""The data of schemas/, loaded in one place: the column vocabularies (colonnes.toml, determinants.toml), the
reference lists (contrats, categories, statuts…), the findings catalogue (regles.toml), the PCS-ESE codes
(pcs_ese.csv) and the default service directory (annuaire.toml).

A bottom module: it imports nothing of the product but `resources` (which finds schemas/, in the repository
or in the installed package), so that read, rules, billing and reports can all use it.
"""

from __future__ import annotations

import csv
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .resources import folder

SCHEMAS = folder("schemas")

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def path(name: str) -> Path:
    """A file of schemas/ ('annuaire.toml'…)."""
    return SCHEMAS / name


@cache
def load_toml(name: str) -> dict:
    """A TOML file of schemas/ ('regles.toml', 'contrats.toml'…), parsed once."""
    return tomllib.loads(path(name).read_text(encoding="utf-8"))


def normalize(header: object) -> str:
    """'N° Sécurité-Sociale ' → 'nsecuritesociale': accents, case, punctuation and spaces removed."""
    text = unicodedata.normalize("NFKD", str(header or "")).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool
    names: tuple[str, ...] = ()  # every spelling as written in colonnes.toml (label, aliases, key)
    also: tuple[str, ...] = ()  # `aussi`: headers of another field that name this one when both are given


@dataclass(frozen=True)
class Vocabulary:
    """The columns one kind of file may carry."""

    kind: str
    fields: tuple[Field, ...]
    lookup: dict[str, str]  # normalized header → field key

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


@cache
def vocabulary(kind: str) -> Vocabulary:
    """Fields of a kind of file ('mouvements', 'registre', 'mandats'); employee files add the determinants."""
    spec = dict(load_toml("colonnes.toml")[kind])
    if kind == "mouvements":
        for key, det in load_toml("determinants.toml").items():
            spec[f"det_{key}"] = {"libelle": det["libelle"], "alias": det.get("alias", [])}
    fields, lookup = [], {}
    for key, item in spec.items():
        names = (item["libelle"], *item.get("alias", []), key)
        fields.append(Field(key, item["libelle"], bool(item.get("obligatoire", False)), names,
                            tuple(item.get("aussi", ()))))
        for name in names:
            norm = normalize(name)
            if lookup.setdefault(norm, key) != key:
                raise ValueError(f"alias {name!r} used twice in {kind}")
    return Vocabulary(kind, tuple(fields), lookup)


BLOCKING, WARNING = "bloquant", "avertissement"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    scope: str  # 'ligne' or 'fichier'
    title: str
    message: str
    fix: str
    # A rule checked cell by cell (rules/schema.py makes a pandera check of it): the kind of file and the
    # fields it checks, how (`controle`) and the parameters of that check. Empty for the other rules.
    kind: str = ""
    columns: tuple[str, ...] = ()
    control: str = ""
    params: dict = field(default_factory=dict, hash=False, compare=False)


_TEXT_KEYS = frozenset({"gravite", "portee", "titre", "message", "correction"})
_CELL_KEYS = frozenset({"fichier", "colonnes", "controle"})


@cache
def catalogue() -> dict[str, Rule]:
    """The findings catalogue (regles.toml): code → rule."""
    out = {}
    for code, spec in load_toml("regles.toml").items():
        if spec["gravite"] not in (BLOCKING, WARNING) or spec["portee"] not in ("ligne", "fichier"):
            raise ValueError(f"rule {code}: bad gravite/portee")
        if ("controle" in spec) != ("colonnes" in spec) or ("controle" in spec) != ("fichier" in spec):
            raise ValueError(f"rule {code}: a cell check needs fichier, colonnes and controle")
        params = {k: v for k, v in spec.items() if k not in _TEXT_KEYS | _CELL_KEYS}
        out[code] = Rule(code, spec["gravite"], spec["portee"], spec["titre"], spec["message"], spec["correction"],
                         spec.get("fichier", ""), tuple(spec.get("colonnes", ())), spec.get("controle", ""), params)
    return out


@cache
def pcs_reference() -> dict[str, str]:
    """PCS-ESE profession codes → labels (pcs_ese.csv, rows of level 'profession')."""
    with path("pcs_ese.csv").open(encoding="utf-8", newline="") as fh:
        return {r["code"]: r["libelle"] for r in csv.DictReader(fh) if r["niveau"] == "profession"}
