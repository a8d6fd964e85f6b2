"""Unpaid and overdue invoices, and the reminders the service sends for them.

- The service-wide list of unpaid invoices (`impayes-AAAAMMJJ.csv/.xlsx` in the accounting folder, and a
  section of the staff dashboard): what is still due on each invoice, how late, by age bucket (non échue,
  1–30, 31–60, 61–90, plus de 90 jours), disputed ones marked.
- Reminder letters at the stages of `[facturation] relances` (days late, e.g. 15, 30, 45): each stage is sent
  once per invoice, in order, at least as many days after the previous one as the stages are apart (the store
  records each: migration 0330), so running `relances` again sends nothing twice. The last stage is the formal notice (mise en demeure) with the late-payment penalties
  (Code de commerce L441-10: the rate printed on the invoice, per day late on the amount due of each overdue
  instalment, 365-day year) and the fixed recovery indemnity of 40 € per invoice (D441-5). Invoices under
  dispute (contentieux) get no reminder. Letters are PDFs in outbox/<adhérent>/relances/, and the day's
  letters a CSV for mail merge in the accounting folder.

What is still due on an invoice is read in one place, `amounts_due`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..formats import date_fr, money_fr, write_atomic
from ..store import billing as store
from ..store.billing import Invoice, Reminder
from . import documents
from .errors import BillingError
from .invoices import TYPE_LABELS
from .balances import member_balance

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
INDEMNITY = Decimal("40.00")  # D441-5 Code de commerce, per invoice paid late
BUCKETS = ("non échue", "1 à 30 jours", "31 à 60 jours", "61 à 90 jours", "plus de 90 jours")
FORMAL_NOTICE = "Mise en demeure"
NOTICE_DAYS = 8  # days the formal notice gives to pay


def amounts_due(conn, adherent: str) -> list[tuple[Invoice, Decimal, bool]]:
    """(invoice, TTC still due, disputed) for each invoice of an adhérent (credit notes left out), as
    balances.py settles them (payments, credit notes and the member's credit set against it)."""
    return [(p.invoice, max(p.due, ZERO), p.disputed) for p in member_balance(conn, adherent).pieces
            if not p.is_credit_note]


@dataclass
class Unpaid:
    invoice: Invoice
    due: Decimal  # TTC still due
    disputed: bool
    parts: list[tuple[dt.date, Decimal]]  # what is left of each instalment, by due date (payments go to the oldest)
    day: dt.date  # the day it is looked at

    @property
    def overdue_parts(self) -> list[tuple[dt.date, Decimal]]:
        return [(due, amount) for due, amount in self.parts if due < self.day and amount > 0]

    @property
    def days_late(self) -> int:
        late = self.overdue_parts
        return (self.day - late[0][0]).days if late else 0

    @property
    def bucket(self) -> str:
        d = self.days_late
        return BUCKETS[0] if d <= 0 else BUCKETS[1] if d <= 30 else BUCKETS[2] if d <= 60 else BUCKETS[3] if d <= 90 else BUCKETS[4]

    @property
    def rate(self) -> Decimal | None:
        rate = (self.invoice.conditions or {}).get("taux_penalites")
        return Decimal(rate) if rate else None

    def penalties(self, rate: Decimal) -> Decimal:
        """L441-10: per overdue instalment, amount left × annual rate × days late / 365, rounded to the cent."""
        total = sum((amount * rate / 100 * (self.day - due).days / 365 for due, amount in self.overdue_parts), Decimal(0))
        return total.quantize(CENT, rounding=ROUND_HALF_UP)


def unpaid(conn, day: dt.date) -> list[Unpaid]:
    """Every invoice issued on or before `day` with something still due, oldest first, all members."""
    out = []
    for adherent in sorted(store.invoiced_members(conn)):
        for invoice, due, disputed in amounts_due(conn, adherent):
            if due <= 0 or invoice.date_emission > day:
                continue
            parts = [(p.due, p.amount) for p in store.instalments(conn, invoice.id)]
            paid = invoice.total_ttc - due  # payments and credits, set against the oldest instalments first
            left = []
            for when, amount in parts:
                used = min(amount, paid)
                paid -= used
                left.append((when, amount - used))
            out.append(Unpaid(invoice, due, disputed, left, day))
    return sorted(out, key=lambda u: (u.invoice.date_exigibilite, u.invoice.numero))


# --- the list ---------------------------------------------------------------------------------------

UNPAID_COLUMNS = ["N° adhérent", "Raison sociale", "N° facture", "Type de facture", "Date d'émission", "Date d'exigibilité",
                  "Montant TTC", "Reste dû", "Jours de retard", "Tranche", "Contentieux", "Dernière relance"]
BUCKET_COLUMNS = ["Tranche", "Factures", "Reste dû"]


@dataclass(frozen=True)
class BucketTotal:
    label: str
    count: int
    due: Decimal


def bucket_totals(rows: list[Unpaid]) -> list[BucketTotal]:
    """Count and amount still due per age bucket (disputed invoices included)."""
    return [BucketTotal(b, sum(1 for u in rows if u.bucket == b), sum((u.due for u in rows if u.bucket == b), ZERO))
            for b in BUCKETS]


def _last_reminder(conn, facture_id: int) -> str:
    sent = store.reminders(conn, facture_id)
    return f"{sent[-1].libelle} du {date_fr(sent[-1].day)}" if sent else ""


def write_unpaid_list(conn, settings, day: dt.date) -> list[Path]:
    """The service-wide list of unpaid invoices on `day`, CSV and XLSX, in the accounting folder."""
    rows = unpaid(conn, day)
    table = [[u.invoice.adherent, u.invoice.client["name"], u.invoice.numero, TYPE_LABELS[u.invoice.type],
              u.invoice.date_emission, u.invoice.date_exigibilite, u.invoice.total_ttc, u.due, u.days_late, u.bucket,
              "oui" if u.disputed else "non", _last_reminder(conn, u.invoice.id)] for u in rows]
    totals = [[t.label, t.count, t.due] for t in bucket_totals(rows)]
    folder = _folder(settings)
    paths = [folder / f"impayes-{day:%Y%m%d}.csv", folder / f"impayes-{day:%Y%m%d}.xlsx"]
    write_atomic(paths[0], documents.csv_text(UNPAID_COLUMNS, table))
    documents.write_xlsx(paths[1], [("Impayés", [(f"Factures impayées au {date_fr(day)}", UNPAID_COLUMNS, table),
                                                 ("Par ancienneté du retard", BUCKET_COLUMNS, totals)])])
    return paths


def _folder(settings) -> Path:
    if settings.billing is None or settings.billing.accounting is None:
        raise BillingError("Section [facturation] absente du fichier de réglages : dossier de la comptabilité inconnu.")
    return settings.billing.accounting


# --- reminders --------------------------------------------------------------------------------------


def stage_label(stage: int, stages: tuple[int, ...]) -> str:
    return FORMAL_NOTICE if stage == len(stages) else f"Relance {stage}"


@dataclass
class ReminderRun:
    sent: list[str]  # one French line per letter sent
    list_paths: list[Path]
    merge_path: Path | None  # the day's mail-merge CSV (None when no letter was ever sent that day)


def send_reminders(conn, settings, day: dt.date, now: dt.datetime) -> ReminderRun:
    """Send the next stage due for each overdue invoice not under dispute, write the unpaid list and the
    day's mail-merge CSV."""
    if day > now.date():
        raise BillingError(f"La date des relances {date_fr(day)} est dans le futur (nous sommes le {date_fr(now.date())}) : "
                           "aucune relance envoyée.")
    billing = settings.billing
    stages = billing.reminder_stages
    sent = []
    for u in unpaid(conn, day):
        if u.disputed or u.days_late <= 0:
            continue
        done = store.reminders(conn, u.invoice.id)
        stage = len(done) + 1
        if stage > len(stages) or u.days_late < stages[stage - 1]:
            continue
        if done and (day - done[-1].day).days < stages[stage - 1] - stages[stage - 2]:
            continue  # a late run catching up: the member gets the time between two stages all the same
        rate = u.rate or billing.late_rate
        label = stage_label(stage, stages)
        rel = Path(u.invoice.adherent) / "relances" / f"relance-{u.invoice.numero}-{stage}.pdf"
        reminder = Reminder(u.invoice.id, stage, label, day, u.days_late, u.due, rate, u.penalties(rate), INDEMNITY, str(rel))
        write_atomic(settings.paths.outbox / rel, letter_pdf(u, reminder, done, settings.billing.font))
        if store.record_reminder(conn, reminder, now.isoformat(timespec="seconds")):
            sent.append(summary_line(u.invoice, reminder))
    return ReminderRun(sent, write_unpaid_list(conn, settings, day), write_mail_merge(conn, settings, day))


MERGE_COLUMNS = ["N° adhérent", "Raison sociale", "Email facturation", "Adresse", "Code postal", "Ville", "Étape",
                 "N° facture", "Date de la facture", "Date d'exigibilité", "Jours de retard", "Reste dû",
                 "Taux des pénalités", "Pénalités de retard", "Indemnité forfaitaire", "Total réclamé", "Lettre"]


def write_mail_merge(conn, settings, day: dt.date) -> Path | None:
    """Every letter of the day (this run's and earlier runs' of the same day), one row each, for mail merge."""
    rows = []
    for r in store.reminders(conn, day=day):
        inv = store.invoice(conn, r.facture_id)
        c = inv.client
        notice = r.libelle == FORMAL_NOTICE
        claimed = r.due + (r.penalties + r.indemnity if notice else ZERO)
        rows.append([inv.adherent, c["name"], c.get("email") or "", c.get("address") or "", c.get("postcode") or "",
                     c.get("city") or "", r.libelle, inv.numero, inv.date_emission, inv.date_exigibilite, r.days_late, r.due,
                     documents.percent_text(r.rate), r.penalties, r.indemnity, claimed, r.path])
    if not rows:
        return None
    path = _folder(settings) / f"relances-{day:%Y%m%d}.csv"
    write_atomic(path, documents.csv_text(MERGE_COLUMNS, rows))
    return path


def summary_line(invoice: Invoice, r: Reminder) -> str:
    """One French line per letter sent."""
    extra = (f", pénalités {money_fr(r.penalties)} et indemnité {money_fr(r.indemnity)}" if r.libelle == FORMAL_NOTICE else "")
    return (f"{r.libelle} — facture {invoice.numero} — adhérent {invoice.adherent} — {money_fr(r.due)} dus, "
            f"{r.days_late} jour(s) de retard{extra} → {r.path}")


# --- the letter -------------------------------------------------------------------------------------


def letter_text(u: Unpaid, r: Reminder, earlier: list[Reminder]) -> tuple[str, list[str]]:
    """(subject, paragraphs) of a reminder letter, in French."""
    inv = u.invoice
    piece = f"facture n° {inv.numero} du {date_fr(inv.date_emission)}"
    what = f"la {piece}"
    parts = "; ".join(f"{money_fr(a)} exigible le {date_fr(d)}" for d, a in u.overdue_parts)
    owed = (f"Sauf erreur de notre part, {what} ({TYPE_LABELS[inv.type].lower()}, {inv.conditions['periode'].lower()}) "
            f"reste impayée : {money_fr(u.due)} restent dus ({parts}), soit {r.days_late} jour(s) de retard au "
            f"{date_fr(r.day)}.")
    law = (f"Conformément à l'article L441-10 du Code de commerce et aux conditions de la facture, tout retard de "
           f"paiement donne lieu, sans rappel, à des pénalités au taux annuel de {documents.percent_text(r.rate)} et à "
           f"une indemnité forfaitaire pour frais de recouvrement de {money_fr(r.indemnity)} (article D441-5).")
    pay = f"Règlement par virement en rappelant le n° {inv.numero}"
    if inv.emetteur.get("iban"):
        pay += f" : IBAN {inv.emetteur['iban']}" + (f", BIC {inv.emetteur['bic']}" if inv.emetteur.get("bic") else "")
    pay += ". Si votre règlement nous est parvenu entre-temps, merci de ne pas tenir compte de ce courrier."
    if r.libelle != FORMAL_NOTICE:
        return (f"{r.libelle} — {piece}",
                [owed, "Nous vous remercions de bien vouloir procéder à son règlement dans les meilleurs délais.", law, pay])
    before = ", ".join(f"{e.libelle.lower()} du {date_fr(e.day)}" for e in earlier)
    total = r.due + r.penalties + r.indemnity
    return (f"Mise en demeure de payer — {piece}", [
        owed + (f" Nos courriers ({before}) sont restés sans effet." if before else ""),
        f"Par la présente, nous vous mettons en demeure de nous régler sous {NOTICE_DAYS} jours à compter de la "
        f"réception de ce courrier la somme de {money_fr(total)}, soit :",
        f"— principal restant dû : {money_fr(r.due)} ;",
        f"— pénalités de retard au taux annuel de {documents.percent_text(r.rate)}, calculées au {date_fr(r.day)} sur "
        f"chaque échéance impayée depuis sa date d'exigibilité (article L441-10 du Code de commerce) : {money_fr(r.penalties)} ;",
        f"— indemnité forfaitaire pour frais de recouvrement (article D441-5 du Code de commerce) : {money_fr(r.indemnity)}.",
        "Les pénalités continuent de courir jusqu'au paiement complet. À défaut de règlement dans ce délai, nous "
        "engagerons sans autre avis une procédure de recouvrement.",
        pay,
    ])


def letter_pdf(u: Unpaid, r: Reminder, earlier: list[Reminder], font: Path | None) -> bytes:
    from fpdf import FPDF

    if font is None or not Path(font).is_file():
        raise BillingError("Police TrueType introuvable pour les lettres de relance : installez fonts-dejavu-core ou "
                           "indiquez un fichier .ttf dans [facturation] police.")
    subject, paragraphs = letter_text(u, r, earlier)
    inv = u.invoice
    pdf = FPDF(format="A4")
    pdf.set_title(subject)
    pdf.set_author(inv.emetteur["name"])
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(dt.datetime.combine(r.day, dt.time(12), tzinfo=dt.timezone.utc))
    pdf.add_font("Doc", "", str(font))
    pdf.add_page()
    pdf.set_margins(20, 20, 20)
    width = pdf.w - 40
    pdf.set_font("Doc", size=9.5)
    top = pdf.get_y()
    issuer = inv.emetteur
    pdf.multi_cell(width / 2 - 5, 4.8, "\n".join(x for x in (issuer["name"], issuer.get("address"),
                   f"{issuer.get('postcode', '')} {issuer.get('city', '')}".strip(), issuer.get("email")) if x))
    pdf.set_xy(20 + width / 2 + 5, top + 18)
    client = inv.client
    pdf.multi_cell(width / 2 - 5, 4.8, "\n".join(x for x in (client["name"], client.get("address"),
                   f"{client.get('postcode', '')} {client.get('city', '')}".strip(), f"N° adhérent : {inv.adherent}") if x))
    pdf.set_y(pdf.get_y() + 10)
    pdf.cell(width, 6, f"{issuer.get('city', '')}, le {date_fr(r.day)}".lstrip(", "), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if r.libelle == FORMAL_NOTICE:
        pdf.cell(width, 6, "Lettre recommandée avec accusé de réception", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Doc", size=11)
    pdf.multi_cell(width, 6, f"Objet : {subject}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Doc", size=10)
    pdf.multi_cell(width, 5.2, "Madame, Monsieur,", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for text in paragraphs:
        pdf.multi_cell(width, 5.2, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.multi_cell(width, 5.2, "Veuillez agréer, Madame, Monsieur, l'expression de nos salutations distinguées.",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(width, 6, f"Le service comptabilité — {issuer['name']}", align="R")
    return bytes(pdf.output())
