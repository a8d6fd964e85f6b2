"""Masking of social security numbers (NIR) anywhere in text sent back or shown to people.

The NIR column is masked where findings are made (`rules.identifiers.mask_nir`). A NIR can still turn up
elsewhere: typed in the wrong column (a date or a comment), in a line whose columns are shifted, in a header,
in a file name. Every piece of free text a report shows goes through `scrub`.

What is masked: any run of 13, or 15 and more, digits (single spaces or dots between them allowed, and the
Corsican 2A/2B), keeping what `mask_nir` keeps: the first 5 characters (sex, year and month of birth). That
covers a NIR with or without its key, spaced as on a Vitale card, glued to other digits. A run of exactly 14
digits is left alone: it is a SIRET, which is public and which the sender needs to read. (So a NIR typed with
one digit missing, in a column other than the NIR column, is not masked: the price of keeping SIRETs legible.)
"""

from __future__ import annotations

import re
from functools import lru_cache

_SEP = "[ .\u00a0\u202f]"
DIGIT_RUN = re.compile(rf"(?<![0-9])[0-9](?:{_SEP}?(?:[0-9]|(?<=2)[AaBb])){{12,}}")
KEEP = 5  # significant characters kept: sex, year and month of birth
SIRET_LENGTH = 14


def _mask(match: re.Match) -> str:
    text = match.group(0)
    compact = [c for c in text if c.isalnum()]
    if len(compact) == SIRET_LENGTH and all(c.isdigit() for c in compact):
        return text
    out, seen = [], 0
    for ch in text:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen <= KEEP else "*")
        else:
            out.append(ch)
    return "".join(out)


def scrub(value: object) -> str:
    """The text with every NIR-looking run of digits masked ('' for None)."""
    if value is None:
        return ""
    return _scrub_text(str(value))


@lru_cache(maxsize=65536)
def _scrub_text(text: str) -> str:  # reports repeat the same messages thousands of times
    return DIGIT_RUN.sub(_mask, text)
