"""Suggested PCS-ESE codes for a line whose code is unknown or missing: from its job title first, matched
against the labels of the nomenclature (schemas/pcs_ese.csv), then, only when it helps, the valid codes
written nearly the same way (same first three characters, else same first two).

Job titles and labels are compared as sets of words, normalised the way people write them: accents and case
dropped, plural and feminine forms brought back to one form (caissière, caissiers → caissier; vendeuse →
vendeur; employée → employé), small words (de, des, en, et…) ignored. Each label word weighs by how rare it is
in the nomenclature (an « ouvrier » says less than a « caissier »); a label's score is the weight of the words
it shares with the title, over the weight of its own words (a label that says more than the title ranks
lower). The index, word → labels, is built once; each distinct title is looked up once (cached).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from functools import cache, lru_cache

from ..vocab import pcs_reference

SUGGESTED = 3  # codes proposed at most, from the job title and by spelling each
TITLE_QUOTED_CHARS = 60  # a job title quoted back is cut past this

_STOP = frozenset("""a au aux d de des du en et hors l la le les ou par pour sans sur un une avec dont
    y leur leurs autre autres non ni qui que sauf""".split())
# feminine endings → masculine, longest first (after the plural is taken off; accents already dropped)
_FEMININE = (("trice", "teur"), ("euse", "eur"), ("iere", "ier"), ("ienne", "ien"), ("enne", "en"),
             ("ette", "et"), ("ive", "if"), ("ere", "er"))
_WORD = re.compile(r"[a-z0-9]+")


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    if len(word) > 3 and word[-1] in "sx":
        word = word[:-1]
    for fem, masc in _FEMININE:
        if word.endswith(fem) and len(word) > len(fem) + 1:
            word = word[: -len(fem)] + masc
            break
    stripped = word.rstrip("e")
    return stripped if len(stripped) >= 3 else word


def words(text: str) -> frozenset[str]:
    """The meaningful words of a job title or a label, normalised (see the module's docstring)."""
    return frozenset(_stem(w) for w in _WORD.findall(_plain(text)) if w not in _STOP and len(w) > 1 and not w.isdigit())


class _Index:
    """The nomenclature's labels as weighted words: word → codes, each word's weight, each label's weight."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.by_word: dict[str, list[str]] = defaultdict(list)
        label_words = {code: words(label) for code, label in labels.items()}
        for code, ws in label_words.items():
            for w in ws:
                self.by_word[w].append(code)
        n = len(labels)
        self.weight = {w: math.log(1 + n / len(codes)) for w, codes in self.by_word.items()}
        self.norm = {code: sum(self.weight[w] for w in ws) or 1.0 for code, ws in label_words.items()}

    def match(self, title: str, n: int = SUGGESTED) -> list[str]:
        """The codes whose labels best match a job title (none when no word is shared)."""
        asked = words(title)
        scores: dict[str, float] = defaultdict(float)
        for w in asked:
            for code in self.by_word.get(w, ()):
                scores[code] += self.weight[w]
        if not scores:
            return []
        asked_weight = sum(self.weight.get(w, 0.0) for w in asked) or 1.0
        ranked = sorted(scores, key=lambda c: (-scores[c] / math.sqrt(self.norm[c] * asked_weight), c))
        best = scores[ranked[0]] / math.sqrt(self.norm[ranked[0]] * asked_weight)
        return [c for c in ranked[:n] if scores[c] / math.sqrt(self.norm[c] * asked_weight) >= best / 2]


@cache
def _index() -> _Index:
    return _Index(pcs_reference())


@lru_cache(maxsize=4096)
def from_title(title: str, n: int = SUGGESTED) -> tuple[str, ...]:
    """The PCS-ESE codes a job title points at, best first (« Caissière » → 552a)."""
    return tuple(_index().match(title, n)) if title.strip() else ()


@lru_cache(maxsize=4096)
def by_spelling(code: str, n: int = SUGGESTED) -> tuple[str, ...]:
    """Valid codes written nearly like `code`: the same first three characters, else the same first two;
    none otherwise (a code far from every valid one gains nothing from a guess)."""
    code = code.strip().lower()
    ref = _index().labels
    for size in (3, 2):
        if len(code) >= size:
            found = sorted(c for c in ref if c[:size] == code[:size])
            if found:
                return tuple(found[:n])
    return ()


def _listed(codes) -> str:
    ref = _index().labels
    return ", ".join(f"{c} ({ref[c]})" for c in codes)


@lru_cache(maxsize=4096)
def suggestion(code: str, title: str) -> str:
    """The sentence that proposes codes for a line ('' when there is nothing to propose), starting with a
    space so it can follow the message: from the job title, then the codes written nearly like `code`."""
    title = title.strip()
    parts = []
    by_title = from_title(title)
    if by_title:
        quoted = title if len(title) <= TITLE_QUOTED_CHARS else title[:TITLE_QUOTED_CHARS].rstrip() + "…"
        parts.append(f"D'après le poste « {quoted} » : {_listed(by_title)}.")
    near = [c for c in by_spelling(code) if c not in by_title] if code.strip() else []
    if near:
        parts.append(f"{'Codes' if len(near) > 1 else 'Code'} d'écriture proche : {_listed(near)}.")
    return "".join(" " + p for p in parts)


def suggestions(codes, titles) -> list[str]:
    """`suggestion` for each line (its code, its job title); each distinct pair is worked out once."""
    return [suggestion(str(c or ""), str(t or "")) for c, t in zip(codes, titles)]
