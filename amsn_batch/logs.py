"""Operator logs: one line per event, `event key=value …`, each file event with the file's SHA-256 and its
sender. Whatever is logged, a NIR never is: the formatter masks anything shaped like one (`masking.scrub`)
after formatting, tracebacks included."""

from __future__ import annotations

import json
import logging
import re
import sys

from .masking import scrub

_SURROGATE = re.compile(r"[\ud800-\udfff]")


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = scrub(super().format(record))
        return " | ".join(line for line in text.splitlines() if line.strip()) if "\n" in text or "\r" in text else text


def setup(level: int) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(message)s"))
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("amsn_batch").setLevel(level)


def quote(value: object) -> str:
    """A value as a log field: bare when plain, else JSON-quoted; never spans lines."""
    s = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", str(value))
    if s and s.isprintable() and not any(c in s for c in ' "=\\'):
        return s
    return json.dumps(s, ensure_ascii=not s.isprintable())


def fields(**values) -> str:
    """`key=value` pairs for one log line (None values left out)."""
    return " ".join(f"{k}={quote(v)}" for k, v in values.items() if v is not None)
