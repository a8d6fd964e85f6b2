"""Column headers as people write them → internal field names of a vocabulary (`vocab.vocabulary`).

A header is first looked up as written (accents, case, punctuation and spaces aside). One that is none of
the spellings of colonnes.toml is then compared without its extra words ("N° SIRET de l'établissement
employeur", "Siret (14 chiffres)", "Date d'entrée dans l'entreprise"): the words dropped are data, the
`[entetes]` section of colonnes.toml. Such a loose match never displaces a column named exactly; a header
that could be two fields, or two loose headers for one field, are reported (`ambiguous`) and not read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from ..vocab import Field, Vocabulary, load_toml, normalize


@dataclass
class HeaderMap:
    """How the headers of one file map to fields."""

    columns: dict[str, str]  # field key → header as written in the file
    unknown: list[str]  # headers as written that match no field
    missing: list[Field]  # required fields with no column
    duplicated: list[tuple[str, str]]  # (field key, second header as written) for a field given twice
    ambiguous: list[tuple[str, str]] = field(default_factory=list)  # (header as written, what it may name, in French)


_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z0-9]+")


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


_dropped: list = [None, frozenset()]  # (the colonnes.toml it was read from, the words dropped)


def _dropped_words() -> frozenset[str]:
    spec = load_toml("colonnes.toml")
    if _dropped[0] is not spec:
        words = spec.get("entetes", {})
        _dropped[:] = [spec, frozenset(_singular(w) for w in (*words.get("mots_vides", ()),
                                                                *words.get("mots_decoratifs", ())))]
    return _dropped[1]


def loose_key(header: object) -> str:
    """A header without its extra words: what is in brackets, the words of colonnes.toml [entetes], plurals
    and word order. 'N° SIRET de l'établissement employeur' → 'etablissement siret'."""
    return _loose_key(str(header or ""), _dropped_words())


@lru_cache(maxsize=4096)
def _loose_key(header: str, dropped: frozenset[str]) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    words = {_singular(w) for w in _WORD.findall(_BRACKETS.sub(" ", text))}
    return " ".join(sorted(words - dropped))


@dataclass(frozen=True)
class _Spellings:
    loose: dict[str, frozenset[str]]  # loose key → the fields one of whose spellings has it
    also: dict[str, str]  # normalized header → the field it names when its own is given by another header


_memo: dict[str, tuple[Vocabulary, _Spellings]] = {}


def _spellings(vocab: Vocabulary) -> _Spellings:
    cached = _memo.get(vocab.kind)
    if cached is not None and cached[0] is vocab:
        return cached[1]
    loose: dict[str, set[str]] = {}
    for f in vocab.fields:
        for name in f.names:
            key = loose_key(name)
            if key:
                loose.setdefault(key, set()).add(f.key)
    also = {normalize(name): f.key for f in vocab.fields for name in f.also}
    out = _Spellings({k: frozenset(v) for k, v in loose.items()}, also)
    _memo[vocab.kind] = (vocab, out)
    return out


def _quoted(labels) -> str:
    return " ou ".join(f"« {label} »" for label in labels)


def map_headers(headers: list[str], vocab: Vocabulary) -> HeaderMap:
    sp = _spellings(vocab)
    exact: dict[str, list[str]] = {}  # field key → headers naming it as written, in the file's order
    loose: dict[str, list[str]] = {}  # field key → headers naming it once their extra words are dropped
    unknown: list[str] = []
    ambiguous: list[tuple[str, str]] = []
    for header in headers:
        if not str(header).strip():
            continue
        key = vocab.lookup.get(normalize(header))
        if key is not None:
            exact.setdefault(key, []).append(header)
            continue
        fields = sp.loose.get(loose_key(header), frozenset())
        if len(fields) == 1:
            loose.setdefault(next(iter(fields)), []).append(header)
        elif fields:
            ambiguous.append((header, _quoted(sorted(vocab.field(k).label for k in fields))))
        else:
            unknown.append(header)
    # "Nom" beside "Nom de naissance": the header that may also name another field (`aussi`) goes there, when
    # a more precise header names its own field ("Nom employeur" is only "Nom" with a word more: not that)
    for key in list(exact):
        named = exact[key]
        for header in list(named):
            target = sp.also.get(normalize(header))
            if not target or target in exact or target in loose:
                continue
            own = loose_key(header)
            if any(loose_key(other) != own for other in named + loose.get(key, []) if other is not header):
                named.remove(header)
                exact[target] = [header]
        if not named:
            del exact[key]
    chosen: dict[str, str] = {}  # header → field key
    duplicated: list[tuple[str, str]] = []
    for key, named in exact.items():
        chosen[named[0]] = key
        duplicated += [(key, h) for h in named[1:]]
        unknown += loose.pop(key, [])  # a column named exactly wins over a loose one ("Nom employeur")
    for key, named in loose.items():
        if len(named) == 1:
            chosen[named[0]] = key
        else:
            label = vocab.field(key).label
            for h in named:
                others = [f"« {o} »" for o in named if o != h]
                which = f"la colonne {others[0]}" if len(others) == 1 else \
                    f"les colonnes {', '.join(others[:-1])} et {others[-1]}"
                ambiguous.append((h, f"« {label} », comme {which}"))
    columns = {chosen[h]: h for h in headers if h in chosen}
    missing = [f for f in vocab.fields if f.required and f.key not in columns]
    order = {h: i for i, h in enumerate(headers)}
    unknown.sort(key=order.__getitem__)
    ambiguous.sort(key=lambda a: order[a[0]])
    return HeaderMap(columns, unknown, missing, duplicated, ambiguous)


def score_header_row(cells: list[object], vocab: Vocabulary) -> int:
    """How many distinct fields a candidate header row names (as written or once its extra words are
    dropped)."""
    sp = _spellings(vocab)
    keys = set()
    for cell in cells:
        text = "" if cell is None else str(cell)
        if not text.strip():
            continue
        key = vocab.lookup.get(normalize(text))
        if key is None:
            fields = sp.loose.get(loose_key(text)) if len(text) < 120 else None
            key = next(iter(fields)) if fields and len(fields) == 1 else None
        if key is not None:
            keys.add(key)
    return len(keys)
