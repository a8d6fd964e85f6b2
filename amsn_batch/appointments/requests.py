"""Members' requests about appointments, two kinds of incoming file (kinds/visit_request.py and
kinds/cancellation.py): visit requests (an employee, the visit wanted, the reason, the wished period, the
convocation constraints) and cancellation requests (an appointment id, or an employee and the appointment's
day). The employees and appointments must be the sender's, or those of a member that mandated it.

A cancellation is accepted when the service received it (the claim's time, the service clock: never the file's
own dates) on or before the day that lies [delais] annulation_jours_ouvres working days before the
appointment's day (workdays.deadline, with the holidays of the centre's département); a later one is refused
with that deadline and whom to call. Accepted requests go to a CSV for the planning team
(rapports/rendez-vous/demandes-AAAA-MM-JJ.csv, rebuilt from the store), and each line is recorded (accepted or
refused) for the staff dashboard."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import intake, logs
from ..config import Settings
from ..formats import date_fr, safe_cell, write_atomic
from ..read import UnreadableFile, read_table
from ..read.headers import map_headers
from ..reports.contacts import directory_path, load_directory
from ..rules.catalogue import Findings, to_rows
from ..rules.refusal import refused_unread, unreadable_file
from ..rules.values import dates
from ..store import StoreError, registry
from ..store import appointments as store
from ..store.ledger import FileRecord
from ..vocab import catalogue, normalize, vocabulary
from . import setup, workdays
from .setup import STATUS_LABELS, visit_code, visit_label, visit_labels

log = logging.getLogger("amsn_batch")
VISIT, CANCEL = "demande_visite", "annulation"  # the vocabularies (schemas/colonnes.toml), also the kinds' names
GENRE = {VISIT: "visite", CANCEL: "annulation"}


@dataclass
class CheckedRequests:
    record: FileRecord
    findings: pd.DataFrame
    requests: list[dict] = field(default_factory=list)  # store.REQUEST_FIELDS
    quarantine_reason: str | None = None
    folder: Path | None = None  # where the planning team's CSV goes


def check_requests(conn, path: Path, sender_code: str, settings: Settings, genre: str, sha: str | None = None,
                   name_problem: str | None = None, received: str | None = None) -> CheckedRequests:
    """Read and check a request file (genre VISIT or CANCEL); writes nothing."""
    sha = sha or intake.sha256(path)
    received = received or dt.datetime.now().isoformat(timespec="seconds")
    folder = settings.paths.rapports / "rendez-vous"

    def result(f: Findings, lines=np.array([], dtype=np.int64), header_line=0, columns=None, table=None, rows=0,
               requests=(), quarantine=None, details=None) -> CheckedRequests:
        frame = to_rows(f.frame(), lines, header_line, columns or {}, table=table)
        refused = 0 if f.file_refused() else sum(r["decision"] == "refusee" for r in requests)
        accepted = 0 if f.file_refused() else rows - refused
        status = "rejete" if f.file_refused() or accepted == 0 else "accepte" if refused == 0 else "accepte_partiellement"
        rec = FileRecord(sha, sender_code, path.name, path.stat().st_size, received, status, rows, accepted,
                         rows - accepted, int((frame["gravite"] == "avertissement").sum()), details or {})
        return CheckedRequests(rec, frame, [] if f.file_refused() else list(requests), quarantine, folder)

    sender = registry.find_sender(conn, sender_code)
    refusal = refused_unread(sender_code, sender, name_problem=name_problem)
    if refusal:
        return result(refusal.findings, quarantine=refusal.quarantine)
    vocab = vocabulary(genre)
    lim = settings.limits
    try:
        table = read_table(path, vocab, lim.max_rows, lim.max_columns, lim.max_unzipped_bytes, lim.max_zip_ratio,
                           lim.max_read_bytes)
    except UnreadableFile as exc:
        refusal = unreadable_file(str(exc))
        return result(refusal.findings, quarantine=refusal.quarantine)
    except (StoreError, OSError):
        raise
    except Exception as exc:  # a parser tripped on this file: refuse it, never stop the run
        log.error("lecture_impossible %s erreur=%s", logs.fields(expediteur=sender_code, empreinte=sha),
                  logs.quote(type(exc).__name__))
        refusal = unreadable_file("Le fichier n'a pas pu être lu comme un tableau CSV ou un classeur Excel.")
        return result(refusal.findings, quarantine=refusal.quarantine)
    f = Findings()
    headers = map_headers(table.headers, vocab)
    for missing in headers.missing:
        f.add_file("COLONNE_MANQUANTE", None, "", attendu=missing.label,
                   liste=", ".join(x.label for x in vocab.fields if x.required))
    for header in headers.unknown:
        f.add_file("COLONNE_INCONNUE", None, "", colonne=header)
    details = {"format": table.format, "ligne_entetes": table.header_line, "colonnes": table.headers, "genre": GENRE[genre]}
    common = dict(lines=np.asarray(table.lines), header_line=table.header_line, columns=headers.columns, table=table,
                  details=details)
    if headers.missing:
        return result(f, **common)
    if len(table) == 0:
        reason = catalogue()["FICHIER_VIDE"].message
        f.add_file("FICHIER_VIDE")
        return result(f, quarantine=reason, **common)
    cells = pd.DataFrame({x.key: (table.frame[headers.columns[x.key]].astype(str).str.strip() if x.key in headers.columns
                                  else pd.Series([""] * len(table), dtype=str)) for x in vocab.fields})
    cells["nir"] = cells["nir"].str.replace(r"[\s.']", "", regex=True).str.upper()
    check = _visits if genre == VISIT else _cancellations
    requests = check(conn, cells, sender.adherents, f, settings, received, np.asarray(table.lines))
    return result(f, rows=len(cells), requests=requests, **common)


def _owner(conn, cells: pd.DataFrame, scope: frozenset[str], f: Findings) -> tuple[pd.Series, np.ndarray]:
    """The member of each line's employee (NIR, and SIRET when given) among the sender's, and the lines refused:
    a SIRET of a member the sender has no mandate for, or an employee none of its members has (a sender never
    learns that someone works for another member)."""
    staff = store.employees(conn)
    siret = cells["siret"].str.replace(r"\s", "", regex=True)
    by_siret = siret.map(registry.establishments(conn))
    own = staff[staff["adherent"].isin(scope)]
    adherent = pd.Series([None] * len(cells), index=cells.index, dtype=object)
    by_person = own.drop_duplicates("nir").set_index("nir")["adherent"]
    adherent = cells["nir"].map(by_person)
    at_siret = set(zip(own["adherent"], own["nir"]))
    named = by_siret.notna() & by_siret.isin(scope)
    adherent = adherent.where(~named, by_siret.where(
        pd.Series([(a, n) in at_siret for a, n in zip(by_siret, cells["nir"])], index=cells.index)))
    outside = ((siret != "") & ~named).to_numpy()
    unknown = adherent.isna().to_numpy() & ~outside
    f.add_rows("RDV_HORS_MANDAT", np.flatnonzero(outside), "siret", siret.to_numpy()[outside], valeur=siret.to_numpy()[outside])
    f.add_rows("RDV_SALARIE_INCONNU", np.flatnonzero(unknown), "nir", cells["nir"].to_numpy()[unknown])
    return adherent, outside | unknown


def _visits(conn, cells, scope, f: Findings, settings, received, lines) -> list[dict]:
    adherent, refused = _owner(conn, cells, scope, f)
    kind = cells["type_demande"].map(visit_code)
    bad = kind.isna().to_numpy()
    f.add_rows("RDV_TYPE_VISITE_INCONNU", np.flatnonzero(bad), "type_demande", cells["type_demande"].to_numpy()[bad],
               valeur=cells["type_demande"].to_numpy()[bad], liste=", ".join(visit_labels()))
    refused |= bad
    return [{"ligne": int(lines[i]), "genre": "visite", "adherent": None if pd.isna(adherent.iat[i]) else adherent.iat[i],
             "nir": r.nir, "nom": r.nom, "prenom": r.prenom, "siret": r.siret, "type_visite": kind.iat[i] or r.type_demande,
             "motif": r.motif, "periode": r.periode, "contraintes": r.contraintes,
             "decision": "refusee" if refused[i] else "acceptee"} for i, r in enumerate(cells.itertuples(index=False))]


def _cancellations(conn, cells, scope, f: Findings, settings, received, lines) -> list[dict]:
    rdv = store.appointments(conn)
    day, _, _ = dates(cells["date_rdv"])
    # the appointment: by its id, or by the employee and the day (the planned one of that day)
    by_id = cells["rdv_annule"].where(cells["rdv_annule"].isin(rdv["id"]))
    planned = rdv[rdv["statut"] == "prevu"].assign(jour=rdv["debut"].str[:10])
    keyed = planned.drop_duplicates(["nir", "jour"]).set_index(["nir", "jour"])["id"]
    by_person = pd.Series([keyed.get((n, d)) if n and d else None for n, d in zip(cells["nir"], day)], index=cells.index)
    found = by_id.where(by_id.notna(), by_person)
    no_ref = ((cells["rdv_annule"] == "") & ((cells["nir"] == "") | (day == ""))).to_numpy()
    missing = found.isna().to_numpy() & ~no_ref
    f.add_rows("RDV_REFERENCE_MANQUANTE", np.flatnonzero(no_ref), "rdv_annule", "")
    reference = cells["rdv_annule"].where(cells["rdv_annule"] != "", cells["nom"] + " " + cells["date_rdv"])
    f.add_rows("RDV_INCONNU", np.flatnonzero(missing), "rdv_annule", cells["rdv_annule"].to_numpy()[missing],
               reference=reference.to_numpy()[missing])
    target = rdv.set_index("id").reindex(found.fillna("")).reset_index(drop=True)
    # another member's appointment is as unknown to this sender as one that does not exist
    outside = found.notna().to_numpy() & ~target["adherent"].isin(scope).to_numpy()
    f.add_rows("RDV_INCONNU", np.flatnonzero(outside), "rdv_annule", cells["rdv_annule"].to_numpy()[outside],
               reference=reference.to_numpy()[outside])
    refused = no_ref | missing | outside
    ok = ~refused
    start = target["debut"].fillna("")
    now = dt.datetime.fromisoformat(received)
    over = ok & ((target["statut"] != "prevu") | (start < now.isoformat(timespec="minutes"))).to_numpy()
    state = np.where(target["statut"] == "prevu", "passé", target["statut"].map(STATUS_LABELS).fillna("").str.lower())
    f.add_rows("RDV_NON_ANNULABLE", np.flatnonzero(over), "rdv_annule", cells["rdv_annule"].to_numpy()[over],
               reference=found.to_numpy()[over], date_rdv=start[over].map(date_fr).to_numpy(), etat=state[over])
    refused |= over
    conf = setup.load(settings)
    n = conf.delays["annulation_jours_ouvres"]
    directory = load_directory(directory_path(settings))
    limits = np.full(len(cells), None, dtype=object)
    late = np.zeros(len(cells), dtype=bool)
    # one deadline per distinct (day, centre): a few per file
    for (jour, centre), idx in pd.DataFrame({"j": start.str[:10], "c": target["centre"].fillna("")})[~refused] \
            .groupby(["j", "c"]).groups.items():
        last = workdays.deadline(dt.date.fromisoformat(jour), n, conf.departements.get(normalize(centre), ""))
        limits[idx.to_numpy()] = last.isoformat()
        late[idx.to_numpy()] = now.date() > last
    contact = target["centre"].fillna("").map(lambda c: _whom_to_call(directory, c))
    f.add_rows("RDV_ANNULATION_TARDIVE", np.flatnonzero(late), "rdv_annule", cells["rdv_annule"].to_numpy()[late],
               recue=date_fr(now.date()), reference=found.to_numpy()[late], date_rdv=start[late].map(date_fr).to_numpy(),
               jours=n, limite=[date_fr(x) for x in limits[late]], contact=contact.to_numpy()[late])
    refused |= late
    return [{"ligne": int(lines[i]), "genre": "annulation", "rdv_id": None if pd.isna(found.iat[i]) else found.iat[i],
             "adherent": None if pd.isna(target["adherent"].iat[i]) or outside[i] else target["adherent"].iat[i],
             "nir": r.nir or (target["nir"].iat[i] if not outside[i] else None) or None, "nom": r.nom, "prenom": r.prenom,
             "motif": r.motif, "date_rdv": start.iat[i][:10] or day[i] or None,
             "decision": "refusee" if refused[i] else "acceptee", "date_limite": limits[i]}
            for i, r in enumerate(cells.itertuples(index=False))]


def _whom_to_call(directory, centre: str) -> str:
    spec = directory.centres.get(normalize(centre)) if centre else None
    if spec and spec.get("telephone"):
        return f"le {spec['nom']} au {spec['telephone']}"
    email = next((s["email"] for s in directory.services), "")
    return f"le {centre or 'centre'} (coordonnées dans « Qui contacter » ci-dessous{', ou ' + email if email else ''})"


PLANNING_COLUMNS = ["Reçue le", "Demande", "N° rendez-vous", "Date du rendez-vous", "N° adhérent", "N° sécurité sociale",
                    "Nom", "Prénom", "SIRET", "Visite demandée", "Motif", "Période souhaitée", "Contraintes de convocation",
                    "Expéditeur", "Fichier"]


def write_planning_file(conn, folder: Path, day: str) -> Path:
    """The accepted requests received that day (ISO), for the planning team to import into the medical
    software; rebuilt from the store after each request file. The full NIR is there on purpose: this file stays
    in the service and the medical software needs it to find the worker."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(PLANNING_COLUMNS)
    for r in store.requests(conn, since=day, decision="acceptee"):
        if r["recue_le"][:10] != day:
            continue
        w.writerow([safe_cell(str(v or "")) for v in (
            date_fr(r["recue_le"]), "Annulation" if r["genre"] == "annulation" else "Demande de visite", r["rdv_id"],
            date_fr(r["date_rdv"]), r["adherent"], r["nir"], r["nom"], r["prenom"], r["siret"],
            visit_label(r["type_visite"]) if r["type_visite"] else "", r["motif"], r["periode"], r["contraintes"],
            r["expediteur"], r["fichier"])])
    path = folder / f"demandes-{day}.csv"
    write_atomic(path, "\ufeff" + buf.getvalue())
    return path
