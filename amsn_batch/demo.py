"""The demonstration run of the README's first command, on the bundled example files."""

from __future__ import annotations

import datetime as dt
import shutil

from .config import Settings
from .pipeline import run
from .registry import import_registry
from .resources import folder
from .status import daily_report, status_words
from .store import connect

EXAMPLES = folder("examples")  # shipped in the wheel too: the demo runs from an installed package


def run_demo(settings: Settings) -> list[str]:
    settings.ensure_dirs()
    lines = []
    db = connect(settings.paths.database)
    try:
        report = import_registry(db, EXAMPLES / "registre-adherents.csv", EXAMPLES / "mandats.csv")
    finally:
        db.conn.close()
    c = report.counts
    lines.append(f"Registre d'exemple importé ({c['adherents']} adhérent(s) et {c['etablissements']} établissement(s) nouveaux).")
    for src in sorted((EXAMPLES / "depots").glob("*/*")):
        dest = settings.paths.inbox / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        lines.append(f"Déposé : {dest}")
    for r in run(settings):
        lines.append(f"Traité : {r.sender}/{r.name} → {status_words(r.status)}")
        for p in r.ack:
            lines.append(f"    {p}")
    page, _ = daily_report(settings, dt.date.today())
    lines.append(f"Base de données : {settings.paths.database}")
    lines.append(f"Accusés de réception : {settings.paths.outbox}")
    lines.append(f"Originaux archivés : {settings.paths.archive}")
    lines.append(f"Tableau de bord du service : {page}")
    return lines
