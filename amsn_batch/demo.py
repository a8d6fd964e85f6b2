"""The demonstration run of the README's first command, on the bundled example files: the registry, the
senders' files and their acknowledgements, then a small billing campaign (see `billing_demo`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

from .billing.errors import BillingError
from .billing.service import (
    close_campaign, issue_year, open_campaign, record_payments, send_reminders, summary_line,
)
from .config import Settings, shown_location
from .formats import date_fr
from .pipeline import run
from .registry import import_registry
from .resources import folder
from .status import daily_report, status_words
from .store import billing as billing_store
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
    lines += billing_demo(settings)
    page, _ = daily_report(settings, dt.date.today())
    lines.append(f"Base de données : {shown_location(settings.paths.database)}")
    lines.append(f"Accusés de réception : {settings.paths.outbox}")
    lines.append(f"Originaux archivés : {settings.paths.archive}")
    lines.append(f"Tableau de bord du service : {page}")
    return lines


# --- billing ----------------------------------------------------------------------------------------

DEMO_YEAR = 2026
# The service's clock of each step of the campaign: fixed, so that the demo gives the same pieces whatever the day.
DECLARED = dt.datetime(DEMO_YEAR, 1, 12, 9)  # 10001 and PAIE01 (for 10002) declare during the January campaign
INVOICED = dt.datetime(DEMO_YEAR, 2, 5, 18)  # campaign closed: invoices, and a facture d'office for 10003
LATE = dt.datetime(DEMO_YEAR, 2, 10, 9)  # 10003's late declaration, through a staff override
CORRECTED = dt.datetime(DEMO_YEAR, 2, 20, 18)  # the facture d'office cancelled by an avoir, then the invoice
REMINDED = dt.datetime(DEMO_YEAR, 3, 25, 9)  # 10001 has paid; the others are reminded once overdue


def billing_demo(settings: Settings) -> list[str]:
    """A small campaign on the example members, on a fixed clock: declarations (one by counts, one by list from a
    payroll firm), `facturer` (invoices and a facture d'office), a late declaration and its avoir, a payment,
    reminders; every document (Factur-X PDF, lists, échéanciers) lands in outbox/<adhérent>/factures/."""
    billing = settings.billing
    if billing is None or billing.issuer is None or DEMO_YEAR not in billing.tariffs:
        return [f"Facturation : non démontrée (le fichier de réglages n'a pas de section [facturation] ou de "
                f"[tarifs.{DEMO_YEAR}], voir docs/facturation.md)."]
    db = connect(settings.paths.database)
    try:
        played = any(p.annee == DEMO_YEAR for p in billing_store.invoices(db.conn))
    finally:
        db.conn.close()
    if played:
        return [f"Facturation {DEMO_YEAR} d'exemple déjà jouée : pièces et échéanciers dans {settings.paths.outbox}/<adhérent>/factures/."]
    lines = [f"Facturation d'exemple {DEMO_YEAR} (horloge du service fixée à chaque étape) :"]
    lines += _drop(settings, DECLARED, [("10001", "effectifs-2026-10001.csv"), ("PAIE01", "effectifs-2026-10002.csv")])
    try:
        lines += _invoice(settings, INVOICED)
        open_campaign(settings, DEMO_YEAR, dt.date(DEMO_YEAR, 2, 28), adherent="10003", reason="démonstration")
        lines.append(f"  Dérogation : campagne {DEMO_YEAR} rouverte pour l'adhérent 10003 jusqu'au 28/02/{DEMO_YEAR}.")
        lines += _drop(settings, LATE, [("PAIE01", "effectifs-2026-10003.csv")])
        close_campaign(settings, DEMO_YEAR, adherent="10003")
        lines += _invoice(settings, CORRECTED)
        lines += _pay(settings)
        reminded = send_reminders(settings, REMINDED.date(), REMINDED)
    except BillingError as exc:
        return lines + [f"  Facturation interrompue : {exc}"]
    lines += [f"  {line}" for line in reminded.sent]
    lines.append(f"  Relances au {date_fr(REMINDED.date())} : {len(reminded.sent)} lettre(s) ; factures impayées : "
                 f"{reminded.list_paths[0]}")
    lines.append(f"  Factures, avoirs (PDF Factur-X), listes et échéanciers : {settings.paths.outbox}/<adhérent>/factures/")
    return lines


def _drop(settings: Settings, when: dt.datetime, files: list[tuple[str, str]]) -> list[str]:
    out = []
    for sender, name in files:
        dest = settings.paths.inbox / sender / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXAMPLES / name, dest)
    # The demo wrote these files itself, whole: no need to watch them settle as a sender's upload is watched.
    settled = dataclasses.replace(settings, intake=dataclasses.replace(settings.intake, stable_seconds=0.0))
    for r in run(settled, now=when):
        out.append(f"  {date_fr(when.date())} déclaration traitée : {r.sender}/{r.name} → {status_words(r.status)}")
    return out


def _invoice(settings: Settings, when: dt.datetime) -> list[str]:
    done = issue_year(settings, DEMO_YEAR, when.date(), when)
    return [f"  {date_fr(when.date())} facturer : {summary_line(p)}" for p in done.issued]


def _pay(settings: Settings) -> list[str]:
    """10001 pays its invoice: the accounting file, written as the bank export would be."""
    db = connect(settings.paths.database)
    try:
        paid = [p for p in billing_store.invoices(db.conn, "10001") if p.annee == DEMO_YEAR and p.type == "facture"]
    finally:
        db.conn.close()
    path = settings.billing.accounting / f"paiements-exemple-{DEMO_YEAR}-03.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("N° facture;Date;Montant\r\n" + "".join(
        f"{p.numero};10/03/{DEMO_YEAR};{str(p.total_ttc).replace('.', ',')}\r\n" for p in paid), encoding="utf-8")
    done = record_payments(settings, path)
    return [f"  10/03/{DEMO_YEAR} paiements importés : {done.recorded} paiement(s) ({path.name})"]
