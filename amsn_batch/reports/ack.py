"""Acknowledgement of a file: <nom>.ar.csv (one row per finding), <nom>.ar.json (the verdict and counts)
and <nom>.ar.html (a page a person can read)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jinja2

from .formats import date_fr, number_fr, safe_cell, write_atomic

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
CSV_COLUMNS = ("ligne", "colonne", "valeur", "code", "gravite", "message")
VERDICTS = {
    "accepte": "Fichier accepté : toutes les lignes ont été prises en compte.",
    "accepte_partiellement": "Fichier accepté en partie : certaines lignes ont été refusées, les autres ont été prises en compte.",
    "rejete": "Fichier refusé : aucune ligne n'a été prise en compte.",
    "en_attente": "Fichier mis en attente : il sera examiné par le service avant d'être pris en compte.",
    "deja_traite": "Fichier déjà reçu : il a déjà été traité, il n'a pas été appliqué une seconde fois.",
}


@dataclass
class Ack:
    fichier: str
    sha256: str
    recu_le: str
    statut: str
    expediteur: str
    lignes: int = 0
    lignes_acceptees: int = 0
    lignes_rejetees: int = 0
    entrees: int = 0
    sorties: int = 0
    modifications: int = 0
    avertissements: int = 0
    constats_non_listes: dict[str, int] = field(default_factory=dict)
    traitement_initial: dict | None = None  # for deja_traite: when and how it was first processed

    @property
    def verdict(self) -> str:
        return VERDICTS[self.statut]


def ack_stem(name: str) -> str:
    """The acknowledgement's base name: the file's name without its extension."""
    stem = Path(name).stem
    return stem or name


def cap_findings(rows: list[dict], per_code: int) -> tuple[list[dict], dict[str, int]]:
    """At most `per_code` findings per code are listed; how many more there were is counted."""
    seen: dict[str, int] = {}
    kept, extra = [], {}
    for r in rows:
        n = seen.get(r["code"], 0) + 1
        seen[r["code"]] = n
        if n <= per_code:
            kept.append(r)
        else:
            extra[r["code"]] = extra.get(r["code"], 0) + 1
    return kept, extra


def write_ack(outdir: Path, ack: Ack, findings: list[dict], per_code: int = 200) -> list[Path]:
    """Write the three acknowledgement files; returns their paths."""
    listed, extra = cap_findings(findings, per_code)
    ack.constats_non_listes = extra
    stem = ack_stem(ack.fichier)
    paths = [outdir / f"{stem}.ar.csv", outdir / f"{stem}.ar.json", outdir / f"{stem}.ar.html"]

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in listed:
        w.writerow([safe_cell(r[c]) for c in CSV_COLUMNS])
    for code, n in extra.items():
        w.writerow(["", "", "", code, "", f"… et {n} autres constats {code} non listés (limite de {per_code} par code)."])
    write_atomic(paths[0], "\ufeff" + buf.getvalue())

    doc = asdict(ack)
    if not doc["traitement_initial"]:
        doc.pop("traitement_initial")
    write_atomic(paths[1], json.dumps(doc, ensure_ascii=False, indent=2))
    write_atomic(paths[2], render_html(ack, listed, extra))
    return paths


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["date_fr"] = date_fr
    env.filters["nombre"] = number_fr
    return env


def render_html(ack: Ack, findings: list[dict], extra: dict[str, int]) -> str:
    return _env().get_template("ack.html.j2").render(ack=ack, findings=findings, extra=extra)
