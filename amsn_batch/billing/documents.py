"""Documents of billing, all written from the store (an issued piece never changes, so they can be written
again at any time, e.g. after a run was stopped before writing them):

- per invoice or credit note, in outbox/<adhérent>/factures/: `<type>-<numéro>.pdf`, a PDF a person reads
  that is also the Factur-X e-invoice (PDF/A-3 with its CII XML embedded), and the XML beside it;
- per adhérent, in the same folder: the invoice list (`factures-<adhérent>.csv/.xlsx`, paid ones apart) and
  the échéancier (`echeancier-<adhérent>.csv/.xlsx`);

PDF: fpdf2, pure Python with no network or system library at run time; its PDF/A-3B mode embeds the
TrueType font and the sRGB output intent that PDF/A requires (the font is DejaVu Sans from the system, or
the one named by `[facturation] police`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..formats import date_fr, money_fr, safe_cell, write_atomic
from ..store import billing as store
from ..store.billing import Instalment, Invoice, InvoiceLine
from . import facturx
from .balances import member_balance
from .errors import BillingError
from .invoices import TYPE_LABELS
from .schedule import schedule

FILE_PREFIX = {"facture": "facture", "facture_office": "facture", "facture_complementaire": "facture", "avoir": "avoir"}


@dataclass
class PieceDoc:
    """What the documents of a piece are made of: the piece, its lines and its instalments."""

    invoice: Invoice
    lines: list[InvoiceLine]
    echeances: list[Instalment]

    @property
    def motif(self) -> str:
        return self.invoice.motif or ""

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.invoice.type]

    @property
    def vat_on_debits(self) -> bool:
        return bool(self.invoice.conditions.get("tva_sur_debits"))

    @property
    def period_start(self) -> dt.date:
        return dt.date.fromisoformat(self.invoice.conditions["periode_debut"])

    @property
    def period_end(self) -> dt.date:
        return dt.date.fromisoformat(self.invoice.conditions["periode_fin"])

    @property
    def file_stem(self) -> str:
        return f"{FILE_PREFIX[self.invoice.type]}-{self.invoice.numero}"

    def terms_text(self) -> str:
        if self.invoice.type == "avoir":
            return "Avoir à déduire de la facture citée ; aucun paiement n'est dû."
        if len(self.echeances) == 1:
            return f"Paiement à {self.invoice.conditions['delai']}, au plus tard le {date_fr(self.echeances[0].due)}."
        parts = ", ".join(f"{money_fr(e.amount)} le {date_fr(e.due)}" for e in self.echeances)
        return f"Paiement en {len(self.echeances)} échéances : {parts}."

    def notes(self) -> list[tuple[str, str]]:
        """Mentions, with their UNTDID 4451 subject codes for the e-invoice."""
        out = [("AAI", f"Catégorie de l'opération : {self.invoice.conditions['categorie_operation']}. Période : {self.invoice.conditions['periode']}.")]
        out.append(("TXD", "Option pour le paiement de la taxe d'après les débits." if self.vat_on_debits
                    else "TVA exigible lors de l'encaissement (prestations de services)."))
        if self.motif:
            out.append(("AAI", self.motif))
        if self.invoice.conditions.get("multi_employeurs"):
            out.append(("AAI", self.invoice.conditions["multi_employeurs"]))
        rate = self.invoice.conditions.get("taux_penalites")
        out.append(("PMD", f"En cas de retard de paiement, pénalités au taux annuel de {percent_text(Decimal(rate))} "
                           "(article L441-10 du Code de commerce), exigibles sans rappel." if rate else
                           "En cas de retard de paiement, pénalités au taux de trois fois le taux d'intérêt légal "
                           "(article L441-10 du Code de commerce)."))
        out.append(("PMT", "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € "
                           "(articles L441-10 et D441-5 du Code de commerce)."))
        out.append(("AAB", "Pas d'escompte pour paiement anticipé."))
        return out


def percent_text(rate: Decimal) -> str:
    """12.15 → '12,15 %'."""
    return f"{rate.normalize():f}".replace(".", ",") + "\u00a0%"


def load_piece(conn, facture_id: int) -> PieceDoc:
    return PieceDoc(store.invoice(conn, facture_id), store.invoice_lines(conn, facture_id), store.instalments(conn, facture_id))


# --- PDF --------------------------------------------------------------------------------------------


def unit_price_fr(price: Decimal) -> str:
    """A unit price as the tariff gives it and as the line is computed: 115,80 €, 12,345 € (never rounded to the
    cent, or quantity × printed price would not give the line's amount)."""
    exact = price.normalize()
    if exact.as_tuple().exponent >= -2:
        return money_fr(price)
    whole, decimals = f"{abs(exact):f}".split(".")
    return ("-" if price < 0 else "") + f"{int(whole):,}".replace(",", "\u202f") + f",{decimals}\u00a0€"


def _party_lines(p: dict, member: bool) -> list[str]:
    out = [p["name"]]
    if not member and p.get("legal_form"):
        out.append(p["legal_form"])
    if p.get("address"):
        out.append(p["address"])
    if p.get("postcode") or p.get("city"):
        out.append(f"{p.get('postcode', '')} {p.get('city', '')}".strip())
    if member:
        out.append(f"N° adhérent : {p['numero']}")
    out.append(f"SIREN : {p.get('siren') or 'non communiqué'}")
    if not member and p.get("siret"):
        out.append(f"SIRET : {p['siret']}")
    out.append(f"N° TVA intracommunautaire : {p.get('vat') or 'non communiqué'}")
    if p.get("email"):
        out.append(p["email"])
    return out


def render_pdf(doc: PieceDoc, font: Path | None) -> bytes:
    """A readable invoice or credit note, PDF/A-3B (fonts embedded, sRGB output intent)."""
    from fpdf import FPDF
    from fpdf.enums import DocumentCompliance

    if font is None or not Path(font).is_file():
        raise BillingError("Police TrueType introuvable pour les factures PDF : installez fonts-dejavu-core ou "
                           "indiquez un fichier .ttf dans [facturation] police.")
    pdf = FPDF(format="A4", enforce_compliance=DocumentCompliance.PDFA_3B)
    pdf.set_title(f"{doc.type_label} n° {doc.invoice.numero}")
    pdf.set_author(doc.invoice.emetteur["name"])
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(dt.datetime.combine(doc.invoice.date_emission, dt.time(12), tzinfo=dt.timezone.utc))
    pdf.add_font("Doc", "", str(font))
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_margins(15, 15, 15)
    width = pdf.w - 30

    pdf.set_font("Doc", size=9)
    top = pdf.get_y()
    pdf.multi_cell(width / 2 - 5, 4.5, "\n".join(_party_lines(doc.invoice.emetteur, False)))
    left_end = pdf.get_y()
    pdf.set_xy(15 + width / 2 + 5, top)
    pdf.set_font("Doc", size=8)
    pdf.cell(width / 2 - 5, 4.5, "Adhérent facturé :", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Doc", size=9)
    pdf.multi_cell(width / 2 - 5, 4.5, "\n".join(_party_lines(doc.invoice.client, True)), border=1)
    pdf.set_y(max(left_end, pdf.get_y()) + 6)

    pdf.set_font("Doc", size=15)
    pdf.cell(width, 8, f"{doc.type_label.upper()} N° {doc.invoice.numero}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Doc", size=9.5)
    facts = [
        f"Date d'émission : {date_fr(doc.invoice.date_emission)}",
        f"Période : {doc.invoice.conditions['periode']} (du {date_fr(doc.period_start)} au {date_fr(doc.period_end)})",
        f"Catégorie de l'opération : {doc.invoice.conditions['categorie_operation']} (cotisation au service de prévention et de "
        "santé au travail)",
    ]
    if doc.invoice.origine_numero:
        facts.append(f"Avoir sur la facture n° {doc.invoice.origine_numero} du {date_fr(doc.invoice.origine_date)}, "
                     "qu'il annule en totalité.")
    if doc.motif:
        facts.append(f"Motif : {doc.motif}")
    for fact in facts:
        pdf.multi_cell(width, 5, fact, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    cols = (width * 0.52, width * 0.12, width * 0.18, width * 0.18)
    pdf.set_font("Doc", size=9)
    pdf.set_fill_color(230, 230, 230)
    for w, title, align in zip(cols, ("Désignation", "Quantité", "Prix unitaire HT", "Montant HT"), "LRRR"):
        pdf.cell(w, 7, title, border=1, align=align, fill=True)
    pdf.ln()
    for line in doc.lines:
        pdf.cell(cols[0], 6.5, line.label, border=1)
        pdf.cell(cols[1], 6.5, str(line.quantity), border=1, align="R")
        pdf.cell(cols[2], 6.5, unit_price_fr(line.unit_price), border=1, align="R")
        pdf.cell(cols[3], 6.5, money_fr(line.amount), border=1, align="R")
        pdf.ln()
    pdf.ln(2)
    for label, value in (("Total HT", doc.invoice.total_ht), (f"TVA {doc.invoice.taux_tva.normalize():f} %", doc.invoice.total_tva),
                         ("Total TTC", doc.invoice.total_ttc)):
        pdf.set_x(15 + cols[0] + cols[1])
        pdf.cell(cols[2], 6.5, label, border=1)
        pdf.cell(cols[3], 6.5, money_fr(value), border=1, align="R")
        pdf.ln()
    pdf.ln(4)

    pdf.set_font("Doc", size=9.5)
    if doc.invoice.type != "avoir":
        pdf.cell(width, 5.5, "Échéancier de paiement", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Doc", size=9)
        for i, part in enumerate(doc.echeances, 1):
            pdf.cell(width, 5, f"  Échéance {i}/{len(doc.echeances)} : {money_fr(part.amount)} à payer au plus tard le "
                     f"{date_fr(part.due)}",
                     new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(width, 5, f"Conditions de paiement : {doc.invoice.conditions['delai']}.", new_x="LMARGIN", new_y="NEXT")
        if doc.invoice.emetteur.get("iban"):
            pdf.multi_cell(width, 5, f"Règlement par virement : IBAN {doc.invoice.emetteur['iban']}"
                           + (f", BIC {doc.invoice.emetteur['bic']}" if doc.invoice.emetteur.get("bic") else "")
                           + f", en rappelant le n° {doc.invoice.numero}.", new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(width, 5, doc.terms_text(), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Doc", size=8)
    for _, text in doc.notes():
        if text != doc.motif:
            pdf.multi_cell(width, 4.2, text, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(width, 4.2, "Facture électronique Factur-X (profil EN 16931) : les données structurées de ce document "
                   "sont jointes au fichier (factur-x.xml).", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def write_piece(conn, settings, facture_id: int) -> list[Path]:
    """The Factur-X PDF and its XML, in outbox/<adhérent>/factures/."""
    doc = load_piece(conn, facture_id)
    folder = settings.paths.outbox / doc.invoice.adherent / "factures"
    xml = facturx.build_xml(doc)
    pdf = facturx.embed(render_pdf(doc, settings.billing.font), xml, doc)
    paths = [folder / f"{doc.file_stem}.pdf", folder / f"{doc.file_stem}.xml"]
    write_atomic(paths[1], xml)
    write_atomic(paths[0], pdf)
    return paths


def missing_pieces(conn, settings) -> list[int]:
    """Pieces whose PDF is not in the outbox (a run stopped after issuing them, or the outbox was cleaned)."""
    return [p.id for p in store.invoices(conn)
            if not (settings.paths.outbox / p.adherent / "factures" / f"{FILE_PREFIX[p.type]}-{p.numero}.pdf").is_file()]


# --- lists per adhérent -----------------------------------------------------------------------------

INVOICE_COLUMNS = ["N°", "Date", "Type de facture", "Montant TTC", "Période", "Date d'exigibilité", "Statut", "Reste dû"]
SCHEDULE_COLUMNS = ["N°", "Date d'émission", "Date d'exigibilité", "Type de pièce", "Débit", "Crédit", "Période", "Solde"]


Cell = str | int | Decimal | dt.date | None  # a list cell: text, a count, an amount in euros, a day, or empty


def invoice_rows(conn, adherent: str) -> tuple[list[list[Cell]], list[list[Cell]], list[list[Cell]]]:
    """("Mes factures", "Mes factures acquittées", the member's credit: overpayments and credit notes set
    against no invoice, to refund), most recent first; from balances.py, like every document. Amounts and days
    as values, written in French formats by each document."""
    unpaid, paid = [], []
    bal = member_balance(conn, adherent)
    for s in reversed(bal.pieces):
        row = [s.invoice.numero, s.invoice.date_emission, s.label, s.invoice.total_ttc, s.period,
               s.invoice.date_exigibilite, s.status, s.due]
        (paid if s.settled and not s.disputed else unpaid).append(row)
    period = {p.invoice.numero: p.period for p in bal.pieces}
    credits = [[c.numero, c.day, c.label, -c.amount, period[c.numero], None, "À rembourser", -c.amount]
               for c in reversed(bal.credits)]
    return unpaid, paid, credits


def schedule_rows(conn, adherent: str) -> list[list[Cell]]:
    return [[r.numero, dt.date.fromisoformat(r.date_emission), dt.date.fromisoformat(r.date_exigibilite), r.type_piece,
             r.debit or None, r.credit or None, r.periode, r.solde]
            for r in schedule(conn, adherent)]


def _text(value: Cell) -> str:
    """A cell as a French reader writes it: 1 234,56 €, 17/08/2026."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money_fr(value)
    if isinstance(value, dt.date):
        return date_fr(value)
    return str(value)


def _csv(headers: list[str], rows: list[list[Cell]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(headers)
    for r in rows:
        w.writerow([safe_cell(_text(v)) for v in r])
    return "\ufeff" + buf.getvalue()


# Spreadsheet formats: amounts are numbers (sums and sorting work), shown "1 234,56 €" by a French Excel or
# LibreOffice (the separators follow the reader's locale); days are dates shown 17/08/2026.
MONEY_FORMAT = '#,##0.00\\ "€";-#,##0.00\\ "€"'
DATE_FORMAT = "dd/mm/yyyy"


def _xlsx(path: Path, sheets: list[tuple[str, list[tuple[str | None, list[str], list[list[Cell]]]]]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, blocks in sheets:
        ws = wb.create_sheet(name)
        for title, headers, rows in blocks:
            if title:
                ws.append([title])
                ws.cell(ws.max_row, 1).font = Font(bold=True)
            ws.append(headers)
            for c in range(1, len(headers) + 1):
                ws.cell(ws.max_row, c).font = Font(bold=True)
            for r in rows:
                ws.append([safe_cell(v) if isinstance(v, str) else v for v in r])
                for c, v in enumerate(r, 1):
                    if isinstance(v, Decimal):
                        ws.cell(ws.max_row, c).number_format = MONEY_FORMAT
                    elif isinstance(v, dt.date):
                        ws.cell(ws.max_row, c).number_format = DATE_FORMAT
            ws.append([])
        for col, width in zip("ABCDEFGH", (14, 16, 18, 26, 14, 14, 14, 14)):
            ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    write_atomic(path, buf.getvalue())


csv_text, write_xlsx = _csv, _xlsx  # for the other billing documents (unpaid list, reminders)


def write_member_lists(conn, settings, adherent: str) -> list[Path]:
    folder = settings.paths.outbox / adherent / "factures"
    unpaid, paid, credits = invoice_rows(conn, adherent)
    sched = schedule_rows(conn, adherent)
    paths = [folder / f"factures-{adherent}.csv", folder / f"factures-{adherent}.xlsx",
             folder / f"echeancier-{adherent}.csv", folder / f"echeancier-{adherent}.xlsx"]
    write_atomic(paths[0], _csv(INVOICE_COLUMNS, unpaid + paid + credits))
    _xlsx(paths[1], [("Mes factures", [("Mes factures", INVOICE_COLUMNS, unpaid),
                                       ("Mes factures acquittées", INVOICE_COLUMNS, paid)]
                      + ([("Crédit en votre faveur (trop-perçus et avoirs à rembourser)", INVOICE_COLUMNS, credits)] if credits else []))])
    write_atomic(paths[2], _csv(SCHEDULE_COLUMNS, sched))
    _xlsx(paths[3], [("Mon échéancier", [("Mon échéancier (hors factures en contentieux)", SCHEDULE_COLUMNS, sched)])])
    return paths


def refresh(conn, settings, adherents: set[str] | None = None) -> list[Path]:
    """Write the missing invoice documents, then the lists of the given adhérents (all that have pieces)."""
    written = []
    for fid in missing_pieces(conn, settings):
        written += write_piece(conn, settings, fid)
    members = adherents if adherents is not None else store.invoiced_members(conn)
    for adherent in sorted(members):
        written += write_member_lists(conn, settings, adherent)
    return written
