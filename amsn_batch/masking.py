"""Masking of social security numbers (NIR): the one place that decides what of a NIR may be shown.

`mask_nir` masks a value known to be a NIR (the NIR column of a finding). `scrub` masks whatever looks like a
NIR inside any text: a NIR typed in the wrong column (a date or a comment), in a line whose columns are
shifted, in a header, in a file name, in a log line or a traceback. Every piece of free text a report shows,
and every log line, goes through `scrub`.

What `scrub` masks: any run of 13, or 15 and more, digits (with up to three separators between two of them:
spaces, no-break spaces, dots, dashes or underscores, as in `1 85 05 78 006 084 36`, `1-85-05-78-006-084-36`
or `1_85_05_78_006_084_36`; and the Corsican 2A/2B), keeping what `mask_nir` keeps: the first 5 characters
(sex, year and month of birth). That covers a NIR with or without its key, spaced as on a Vitale card or as
people write it in a file name, glued to other digits. Left alone: a run of exactly 14 digits, a SIRET, which
is public and which the sender needs to read (so a NIR typed with one digit missing, outside the NIR column, is
not masked: the price of keeping SIRETs legible); and a lowercase hexadecimal word of 32 characters or more, a
fingerprint (the SHA-256 that names a file in the logs).
"""

from __future__ import annotations

import re
from functools import lru_cache

_SEP = "[ ._\\-\u00a0\u202f]{0,3}"
_FINGERPRINT = r"(?<![0-9A-Za-z])(?=[0-9]*[a-f])[0-9a-f]{32,}(?![0-9A-Za-z])"
_DIGIT_RUN = rf"(?<![0-9])[0-9](?:{_SEP}(?:[0-9]|(?<=2)[AaBb])){{12,}}"
NIR_LIKE = re.compile(rf"(?P<fingerprint>{_FINGERPRINT})|{_DIGIT_RUN}")
SIRET_LENGTH = 14


def mask_nir(value: object) -> str:
    """What a report may show of a NIR: sex, year and month of birth; the rest hidden."""
    text = str(value or "")
    if not text:
        return ""
    keep = 5 if len(text) > 8 else 1
    return text[:keep] + "*" * (len(text) - keep)


def _mask(match: re.Match, hidden: str = "*") -> str:
    text = match.group(0)
    if match.group("fingerprint"):
        return text
    compact = "".join(c for c in text if c.isalnum())
    if len(compact) == SIRET_LENGTH and compact.isdigit():
        return text
    masked = iter(mask_nir(compact).replace("*", hidden))
    return "".join(next(masked) if c.isalnum() else c for c in text)


def scrub(value: object) -> str:
    """The text with every NIR-looking run of digits masked ('' for None)."""
    if value is None:
        return ""
    return _scrub_text(str(value))


@lru_cache(maxsize=65536)
def _scrub_text(text: str) -> str:  # reports repeat the same messages thousands of times
    return NIR_LIKE.sub(_mask, text)


def scrub_name(name: str) -> str:
    """A file name with every NIR-looking run masked like `scrub` does, with 'x' for the hidden characters:
    '*' cannot be in a file name on Windows, where senders download the acknowledgements named after it."""
    return NIR_LIKE.sub(lambda m: _mask(m, "x"), name)
