"""Column headers as people write them → internal field names of a vocabulary (`vocab.vocabulary`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..vocab import Field, Vocabulary, normalize


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
