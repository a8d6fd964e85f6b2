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


class StderrHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is when a line is logged (so a run inside another program, such as a test,
    logs to the stderr it has at that moment)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


_HANDLER = StderrHandler()
_HANDLER.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(message)s"))


def setup(level: int) -> None:
    """Log to stderr at `level`, through the NIR-masking formatter only: any other handler of the root logger is
    removed (a library's own setup would write unmasked lines). Idempotent: calling it again changes the level."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if h is not _HANDLER:
            root.removeHandler(h)
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
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
