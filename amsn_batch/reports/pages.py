"""The Jinja environment of the HTML pages (templates/): one per page kind and process, so that a template is
compiled once per run, not once per file (75 ms each: most of what a small file cost a run of many)."""

from __future__ import annotations

import jinja2

from ..formats import date_fr, number_fr
from ..resources import folder


def environment(filters: dict | None = None, globals_: dict | None = None) -> jinja2.Environment:
    """An environment on templates/: autoescaped, strict about undefined names, with the French date and number
    filters (date_fr, nombre) and these filters and globals. Callers keep theirs (functools.cache)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder("templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update({"date_fr": date_fr, "nombre": number_fr, **(filters or {})})
    env.globals.update(globals_ or {})
    return env
