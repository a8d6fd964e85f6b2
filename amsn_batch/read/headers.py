"""Column headers as people write them → internal field names (the aliases are data in schemas/)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent.parent.parent / "schemas"
if not SCHEMAS.is_dir():  # installed as a wheel: schemas shipped inside the package
    SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize(header: object) -> str:
    """'N° Sécurité-Sociale ' → 'nsecuritesociale': accents, case, punctuation and spaces removed."""
    text = unicodedata.normalize("NFKD", str(header or "")).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool


@dataclass(frozen=True)
class Vocabulary:
    """The columns one kind of file may carry."""

    kind: str
    fields: tuple[Field, ...]
    lookup: dict[str, str]  # normalized header → field key

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


@cache
def load_toml(name: str) -> dict:
    return tomllib.loads((SCHEMAS / name).read_text(encoding="utf-8"))


@cache
def vocabulary(kind: str) -> Vocabulary:
    """Fields of a kind of file ('mouvements', 'registre', 'mandats'); employee files add the determinants."""
    spec = dict(load_toml("colonnes.toml")[kind])
    if kind == "mouvements":
        for key, det in load_toml("determinants.toml").items():
            spec[f"det_{key}"] = {"libelle": det["libelle"], "alias": det.get("alias", [])}
    fields, lookup = [], {}
    for key, item in spec.items():
        fields.append(Field(key, item["libelle"], bool(item.get("obligatoire", False))))
        for name in [item["libelle"], *item.get("alias", []), key]:
            norm = normalize(name)
            if lookup.setdefault(norm, key) != key:
                raise ValueError(f"alias {name!r} used twice in {kind}")
    return Vocabulary(kind, tuple(fields), lookup)


@dataclass
class HeaderMap:
    """How the headers of one file map to fields."""

    columns: dict[str, str]  # field key → header as written in the file
    unknown: list[str]  # headers as written that match no field
    missing: list[Field]  # required fields with no column
    duplicated: list[tuple[str, str]]  # (field key, second header as written) for a field given twice


def map_headers(headers: list[str], vocab: Vocabulary) -> HeaderMap:
    columns: dict[str, str] = {}
    unknown: list[str] = []
    duplicated: list[tuple[str, str]] = []
    for header in headers:
        if not str(header).strip():
            continue
        key = vocab.lookup.get(normalize(header))
        if key is None:
            unknown.append(header)
        elif key in columns:
            duplicated.append((key, header))
        else:
            columns[key] = header
    missing = [f for f in vocab.fields if f.required and f.key not in columns]
    return HeaderMap(columns, unknown, missing, duplicated)


def score_header_row(cells: list[object], vocab: Vocabulary) -> int:
    """How many distinct fields a candidate header row names."""
    return len({vocab.lookup[n] for n in map(normalize, cells) if n in vocab.lookup})
