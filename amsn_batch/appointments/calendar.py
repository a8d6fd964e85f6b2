"""Planning out: for each member, outbox/<member>/rendez-vous/ (and the same in each of its mandataires'
outboxes) with its upcoming appointments as CSV and XLSX (French formats) and as an iCalendar file that
calendars import: one VEVENT per appointment, a UID stable across imports (the appointment id and the service's
domain), SEQUENCE counting its changes, STATUS:CANCELLED once cancelled, times in Europe/Paris (TZID and its
VTIMEZONE). No full NIR in any of them. Rewritten after each planning import."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from icalendar import Calendar, Event

from ..billing.documents import csv_text, write_xlsx
from ..config import Settings
from ..formats import write_atomic
from .. import mail
from ..masking import mask_nir
from ..reports.contacts import directory_path, load_directory
from ..store import appointments as store
from ..store import registry
from . import setup
from .setup import STATUS_LABELS, visit_label

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = ["Date", "Heure", "Durée (min)", "Centre", "Professionnel de santé", "Fonction", "Type de visite", "Nom",
           "Prénom", "N° sécurité sociale (masqué)", "SIRET", "Statut", "N° rendez-vous"]


def service_domain(settings: Settings) -> str:
    """The right part of the UIDs: [rendez_vous] domaine, or the site of the service directory."""
    site = str(load_directory(directory_path(settings)).service.get("site", ""))
    site = re.sub(r"^(https?://)?(www\.)?", "", site).strip("/")
    return setup.load(settings, site).domain


def upcoming(frame: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Appointments from today on (cancelled ones included: a calendar must learn they are off)."""
    return frame[frame["debut"].notna() & (frame["debut"] >= now.date().isoformat())]


def write_all(conn, settings: Settings, now: dt.datetime, before: dict[str, int] | None = None) -> list[Path]:
    """Rewrite every member's upcoming appointments (CSV, XLSX, .ics) in its outbox and its mandataires'. With
    `before` (appointment id → its SEQUENCE before this import), each member whose upcoming appointments were
    added, moved or cancelled by the import is also told by e-mail (mail.queue_appointments), the .ics attached."""
    frame = store.appointments(conn)
    frame = frame[frame["adherent"].notna()]
    mandates = registry.mandataires_by_member(conn)
    domain = service_domain(settings)
    written = []
    for adherent, own in frame.groupby("adherent", sort=True):
        rows = upcoming(own, now)
        files = {f"rendez-vous-{adherent}.csv": csv_text(COLUMNS, _cells(rows, text=True)),
                 f"rendez-vous-{adherent}.ics": ics(rows, domain, f"Rendez-vous santé au travail – {adherent}")}
        for folder in [adherent, *sorted(mandates.get(adherent, []))]:
            out = settings.paths.outbox / folder / "rendez-vous"
            for name, data in files.items():
                write_atomic(out / name, data)
                written.append(out / name)
            write_xlsx(out / f"rendez-vous-{adherent}.xlsx",
                       [("Mes rendez-vous", [(f"Rendez-vous à venir de l'adhérent {adherent}", COLUMNS, _cells(rows))])])
            written.append(out / f"rendez-vous-{adherent}.xlsx")
        if before is not None:
            changed = rows[[before.get(i) != q for i, q in zip(rows["id"], rows["sequence"])]]
            if len(changed):
                mail.safely(mail.queue_appointments, conn, settings, adherent,
                            [_notice_line(r, before.get(r.id) is None) for r in changed.itertuples(index=False)],
                            files[f"rendez-vous-{adherent}.ics"], now)
    return written


def _notice_line(r, new: bool) -> str:
    """One appointment as an e-mail tells it: what changed, when, where, for whom (NIR masked)."""
    start = dt.datetime.fromisoformat(r.debut)
    what = "Annulé" if r.statut == "annule" else ("Nouveau" if new else "Modifié")
    who = " ".join(x for x in (r.nom, r.prenom) if x)
    return (f"{what} : {start:%d/%m/%Y} à {start:%H:%M}, {visit_label(r.type_visite or '')}, {r.centre or 'centre à préciser'}"
            f" — {who} ({mask_nir(r.nir)})")


def _cells(rows: pd.DataFrame, text: bool = False) -> list[list]:
    out = []
    for r in rows.itertuples(index=False):
        start = dt.datetime.fromisoformat(r.debut)
        out.append([start.strftime("%d/%m/%Y") if text else start.date(), start.strftime("%H:%M"), str(r.duree),
                    r.centre or "", r.professionnel or "", r.role or "", visit_label(r.type_visite or ""), r.nom or "",
                    r.prenom or "", mask_nir(r.nir), r.siret or "", STATUS_LABELS.get(r.statut, r.statut), r.id])
    return out


def uid(rdv_id: str, domain: str) -> str:
    return f"rdv-{re.sub(r'[^A-Za-z0-9._-]', '-', rdv_id)}@{domain}"


def ics(rows: pd.DataFrame, domain: str, name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//amsn-batch//rendez-vous//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Paris")
    for r in rows.itertuples(index=False):
        start = dt.datetime.fromisoformat(r.debut).replace(tzinfo=PARIS)
        ev = Event()
        ev.add("uid", uid(r.id, domain))
        ev.add("sequence", int(r.sequence))
        ev.add("dtstamp", dt.datetime.fromisoformat(r.modifie_le).replace(tzinfo=PARIS).astimezone(dt.timezone.utc))
        ev.add("dtstart", start)
        ev.add("dtend", start + dt.timedelta(minutes=int(r.duree)))
        who = " ".join(x for x in (r.prenom, r.nom) if x)
        ev.add("summary", f"{visit_label(r.type_visite or '')} – {who}".strip(" –"))
        if r.centre:
            ev.add("location", r.centre)
        details = [f"Salarié : {who} (N° sécurité sociale {mask_nir(r.nir)})" if who else "",
                   f"Avec : {r.professionnel}" + (f" ({r.role})" if r.role else "") if r.professionnel else "",
                   f"N° rendez-vous : {r.id}", f"Statut : {STATUS_LABELS.get(r.statut, r.statut)}"]
        ev.add("description", "\n".join(d for d in details if d))
        ev.add("status", "CANCELLED" if r.statut == "annule" else "CONFIRMED")
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
