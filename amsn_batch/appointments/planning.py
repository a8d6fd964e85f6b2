"""Planning in: the appointments exported by the service's medical software (CSV or XLSX, columns named as in
schemas/colonnes.toml [planning.*]), checked against the registry and the employees, written with their history
(store.appointments) in one transaction, then written back to each member (calendar). Re-importing the same
export changes nothing. A row whose member or employee is unknown is kept with its problem; the problems are
listed in an import report (rapports/rendez-vous/) and counted in the summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings
from .. import mail
from ..formats import safe_cell, write_atomic
from ..masking import mask_nir
from ..read import UnreadableFile, read_table
from ..read.headers import map_headers
from ..rules.values import dates
from ..store import appointments as store
from ..store import connect, registry
from ..vocab import vocabulary
from . import calendar
from .setup import status_code, visit_code

DEFAULT_MINUTES = 30
_TIME = r"^\s*(\d{1,2})\s*[:hH]\s*(\d{2})?"


class PlanningError(Exception):
    """The planning cannot be imported (unreadable, a required column missing): French, nothing changed."""


@dataclass
class PlanningReport:
    rows: int
    counts: dict[str, int]
    problems: pd.DataFrame  # ligne, rdv_id, nir (masked), probleme
    report: Path | None
    written: list[Path] = field(default_factory=list)


def import_planning(settings: Settings, path: Path, now: dt.datetime) -> PlanningReport:
    vocab = vocabulary("planning")
    lim = settings.limits
    try:
        table = read_table(path, vocab, lim.max_rows, lim.max_columns, lim.max_unzipped_bytes, lim.max_zip_ratio,
                           lim.max_read_bytes)
    except UnreadableFile as exc:
        raise PlanningError(f"{path.name} illisible, rien n'a été importé. {exc}") from None
    headers = map_headers(table.headers, vocab)
    if headers.missing:
        raise PlanningError(f"{path.name} : colonne(s) absente(s) : {', '.join(f.label for f in headers.missing)}. "
                            "Rien n'a été importé.")
    cells = pd.DataFrame({f.key: (table.frame[headers.columns[f.key]].astype(str).str.strip() if f.key in headers.columns
                                  else pd.Series([""] * len(table), dtype=str)) for f in vocab.fields})
    db = connect(settings.paths.database)
    conn = db.conn
    rows, problems = _prepare(conn, cells, np.asarray(table.lines))
    fees = ({y: t.fee_missed_appointment for y, t in settings.billing.tariffs.items()} if settings.billing else {})
    stamp = now.isoformat(timespec="seconds")
    before = dict(zip(*store.appointments(conn)[["id", "sequence"]].to_numpy().T)) if len(rows) else {}
    counts = store.apply_planning(conn, rows, path.name, stamp, fees)
    counts["problemes"] = int(rows["probleme"].notna().sum())
    counts["ignorees"] = len(cells) - len(rows)
    report = _write_report(settings, path, now, problems) if len(problems) else None
    written = calendar.write_all(conn, settings, now, before)
    mail.deliver_safely(conn, settings)
    return PlanningReport(len(cells), counts, problems, report, written)


def _prepare(conn, c: pd.DataFrame, lines: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows as stored (id, empreinte, ligne, store.FIELDS) and every problem found (ligne, rdv_id, nir,
    probleme), vectorised. A row without an id cannot be kept; of an id given twice, the last row counts."""
    n = len(c)
    issues: list[tuple[np.ndarray, str]] = []  # (mask, text)

    def issue(mask, text) -> None:
        issues.append((np.asarray(mask, dtype=bool), text))

    c = c.assign(ligne=lines[:n] if len(lines) else np.arange(2, n + 2))
    no_id = (c["rdv_id"] == "").to_numpy()
    dup = c["rdv_id"].duplicated(keep="last").to_numpy() & ~no_id
    day, _, bad_day = dates(c["date"])
    hm = c["heure"].str.extract(_TIME)
    hour, minute = pd.to_numeric(hm[0], errors="coerce"), pd.to_numeric(hm[1], errors="coerce").fillna(0)
    bad_time = (hour.isna() | (hour > 23) | (minute > 59)).to_numpy()
    start = np.where((day != "") & ~bad_time,
                     pd.Series(day, dtype=object) + "T" + hour.fillna(0).astype(int).map("{:02d}".format)
                     + ":" + minute.astype(int).map("{:02d}".format), None)
    issue((day == "") | bad_time, "date ou heure illisible")
    minutes = pd.to_numeric(c["duree"].str.replace(",", "."), errors="coerce")
    statut = c["statut"].map({t: status_code(t) or t for t in c["statut"].unique()})
    issue(~statut.isin(["prevu", "honore", "annule", "non_honore"]), "statut inconnu")
    codes = {t: visit_code(t) for t in c["type_visite"].unique()}
    kind = c["type_visite"].map(codes)
    issue(kind.isna(), "type de visite inconnu")
    kind = kind.fillna(c["type_visite"])
    nir = c["nir"].str.replace(r"[\s.]", "", regex=True).str.upper()
    siret = c["siret"].str.replace(r"\s", "", regex=True)
    members = registry.member_numbers(conn)
    owners = siret.map(registry.establishments(conn))
    given = c["adherent"].where(c["adherent"].isin(members))
    adherent = given.fillna(owners)
    issue(adherent.isna(), "adhérent inconnu")
    issue(given.notna() & owners.notna() & (given != owners), "SIRET d'un autre adhérent")
    known = store.known_employees(conn)
    employed = pd.MultiIndex.from_arrays([adherent, nir]).isin(pd.MultiIndex.from_frame(known[["adherent", "nir"]]))
    issue(adherent.notna().to_numpy() & ~employed, "salarié inconnu du service")
    period = pd.to_numeric(c["periodicite_mois"], errors="coerce")
    text = pd.Series([""] * n, dtype=object)
    for mask, label in issues:
        text = text.where(~mask, text.where(text == "", text + " ; ") + label)
    rows = pd.DataFrame({
        "id": c["rdv_id"], "ligne": c["ligne"], "debut": start, "duree": minutes.fillna(DEFAULT_MINUTES).astype(int),
        "centre": c["centre"], "professionnel": c["professionnel"], "role": c["role"], "type_visite": kind,
        "nir": nir, "nom": c["nom"], "prenom": c["prenom"], "adherent": adherent.astype(object), "siret": siret,
        "statut": statut, "periodicite_mois": period.astype(object).where(period.notna(), None),
        "probleme": text.where(text != "", None),
    })
    problems = pd.DataFrame({"ligne": c["ligne"], "rdv_id": c["rdv_id"], "nir": nir.map(mask_nir),
                             "probleme": text})
    problems.loc[no_id, "probleme"] = "N° de rendez-vous absent : ligne non importée"
    problems.loc[dup, "probleme"] = "N° de rendez-vous répété plus bas : cette ligne est remplacée par la dernière"
    problems = problems[problems["probleme"] != ""]
    rows = rows[~no_id & ~dup].reset_index(drop=True)
    fields = rows[list(store.FIELDS)].astype(str)
    rows["empreinte"] = pd.util.hash_pandas_object(fields, index=False).map("{:016x}".format).to_numpy()
    return rows, problems.reset_index(drop=True)


def _write_report(settings: Settings, path: Path, now: dt.datetime, problems: pd.DataFrame) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(["Ligne", "N° rendez-vous", "N° sécurité sociale (masqué)", "Problème"])
    for r in problems.itertuples(index=False):
        w.writerow([r.ligne, safe_cell(r.rdv_id), r.nir, r.probleme])
    out = settings.paths.rapports / "rendez-vous" / f"import-{path.stem}-{now:%Y%m%d-%H%M%S}.csv"
    write_atomic(out, "\ufeff" + buf.getvalue())
    return out
