"""Masking of social security numbers (NIR) anywhere in text sent back or shown to people.

The NIR column is masked where findings are made (`rules.identifiers.mask_nir`). A NIR can still turn up
elsewhere: typed in the wrong column (a date or a comment), in a line whose columns are shifted, in a header,
in a file name. Every piece of free text a report shows goes through `scrub`, which masks whatever looks
like a NIR (13 or 15 characters, with or without spaces or dots, Corsica 2A/2B included) and keeps what
`mask_nir` keeps: sex, year and month of birth. A 14-digit SIRET never matches.
"""

from __future__ import annotations

import re

_SEP = r"[ .\u00a0\u202f]?"
NIR_IN_TEXT = re.compile(
    rf"(?<![0-9])[1278]{_SEP}\d{{2}}{_SEP}\d{{2}}{_SEP}(?:\d{{2}}|2[AaBb]){_SEP}\d{{3}}{_SEP}\d{{3}}(?:{_SEP}\d{{2}})?(?![0-9])"
)
KEEP = 5  # significant characters kept: sex, year and month of birth


def _mask(match: re.Match) -> str:
    out, seen = [], 0
    for ch in match.group(0):
        if ch.isalnum():
            seen += 1
            out.append(ch if seen <= KEEP else "*")
        else:
            out.append(ch)
    return "".join(out)


def scrub(value: object) -> str:
    """The text with every NIR-looking sequence masked ('' for None)."""
    if value is None:
        return ""
    text = str(value)
    if not any(c.isdigit() for c in text):
        return text
    return NIR_IN_TEXT.sub(_mask, text)
