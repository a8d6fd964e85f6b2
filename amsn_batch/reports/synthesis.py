"""The yearly activity summary (« synthèse d'activité » of the member portal): `amsn-batch synthese`.

One summary per member and year, and one for the whole service: headcount by monitoring category at the
start and at the end of the year with the changes between (entries, exits, changes of category), by
establishment (by member for the service); the files sent and their refusal rate; the declaration, the
invoices, payments and balance; and a section for the visits, empty until the appointments are recorded.

The figures are gathered by the caller (activity.py: store, billing) as `Facts`; `build` turns them into a
`Summary` of sections, each with its sentences, its chart and the table of the same figures. The same Summary
is rendered as an HTML page (templates/synthese.html.j2: inline SVG charts, no script, readable at 375 px,
print CSS for A4) and as a PDF.

PDF: fpdf2, in process, like the invoices and reminder letters (billing/documents.py): a pure-Python
dependency the service already has, no browser needed on the server (Chromium is installed for the tests
only, by scripts/system-deps), nothing to start or time out; the charts are the page's own SVG, drawn by
fpdf2, and the tables the page's tables.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace
from markupsafe import Markup

from .pages import environment
from ..formats import date_fr, money_fr, number_fr, percent_fr, write_atomic
from .charts import BLUE, FONT, GREEN, Bar, bar_chart
from .summary import plural

CATEGORIES = ("SI", "SIA", "SIR", "SIH")
CATEGORY_LABELS = {"SI": "Suivi individuel (SI)", "SIA": "Suivi individuel adapté (SIA)",
                   "SIR": "Suivi individuel renforcé (SIR)", "SIH": "Suivi individuel habilitation (SIH)"}
FILE_STATUSES = {  # ledger status → label, in the order shown
    "accepte": "Acceptés", "accepte_partiellement": "Acceptés en partie", "rejete": "Refusés",
    "en_attente": "En attente d'examen", "deja_traite": "Déjà reçus",
}
ZERO = Decimal("0.00")


# --- facts: what the caller gathers -------------------------------------------------------------------


@dataclass
class Flows:
    """Headcount of one group (an establishment, a member, the service) by category, and what changed it."""

    start: Counter = field(default_factory=Counter)
    end: Counter = field(default_factory=Counter)
    entries: Counter = field(default_factory=Counter)
    exits: Counter = field(default_factory=Counter)
    moved_in: Counter = field(default_factory=Counter)  # employees whose category changed to this one
    moved_out: Counter = field(default_factory=Counter)  # ...from this one
    transfers: int = 0  # employees come from another group, minus those gone to another group
    changes: int = 0  # changes recorded (any field, the category among them)


def headcount_flows(start_rows: list[dict], change_rows: list[dict], category: Callable[[str, str], str],
                    key: str | None) -> dict[str, Flows]:
    """Flows per group (`key`: 'siret', 'adherent', or None for one group '' of everybody) from the store's
    grouped rows (store.activity headcount_at and changes_between); `category(categorie, determinants)` gives
    the category an employee counts in. The end headcount is the start plus what each change brought minus
    what it took: start + entries - exits + moved_in - moved_out + transfers = end, per group."""
    out: dict[str, Flows] = {}

    def flows(k: str) -> Flows:
        return out.setdefault(k, Flows())

    def group(r: dict, before: bool = False) -> str:
        if key is None:
            return ""
        return r["siret_avant"] if before and key == "siret" else r[key]

    for r in start_rows:
        cat = category(r["categorie"], r["determinants"])
        flows(group(r)).start[cat] += r["n"]
        flows(group(r)).end[cat] += r["n"]
    for r in change_rows:
        n = r["n"]
        before = (group(r, True), category(r["categorie_avant"], r["determinants_avant"])) if r["avant"] else None
        after = (group(r), category(r["categorie"], r["determinants"])) if r["apres"] else None
        if r["mouvement"] == "modification":
            flows(group(r)).changes += n
        if before:
            flows(before[0]).end[before[1]] -= n
        if after:
            flows(after[0]).end[after[1]] += n
        if before and after:
            if before[1] != after[1]:
                flows(before[0]).moved_out[before[1]] += n
                flows(after[0]).moved_in[after[1]] += n
            if before[0] != after[0]:
                flows(before[0]).transfers -= n
                flows(after[0]).transfers += n
        elif after:
            flows(after[0]).entries[after[1]] += n
        elif before:
            flows(before[0]).exits[before[1]] += n
    return out


@dataclass
class PieceFact:
    numero: str
    label: str  # Facture, Facture d'office, Avoir…
    day: dt.date
    ttc: Decimal
    settled: Decimal  # paid or credited
    due: Decimal
    status: str  # as the member's invoice list says it


@dataclass
class PaymentFact:
    day: dt.date
    numero: str  # the invoice it pays
    amount: Decimal


@dataclass
class BillingFacts:
    declaration: str = ""  # the status of the year's declaration (member), as the portal says it
    declared: dict[str, int] = field(default_factory=dict)  # category → headcount declared (member)
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (status, members) (service)
    pieces: list[PieceFact] = field(default_factory=list)  # the year's pieces (member)
    payments: list[PaymentFact] = field(default_factory=list)
    invoiced: Decimal = ZERO  # TTC of the year's invoices
    credited: Decimal = ZERO  # TTC of the year's credit notes (positive)
    paid: Decimal = ZERO  # paid on the year's invoices
    due_year: Decimal = ZERO  # still due on the year's invoices
    due: Decimal = ZERO  # still due on every invoice, whatever its year
    credit: Decimal = ZERO  # in the member's favour (to refund or set against the next invoice)
    count_pieces: int = 0


@dataclass
class VisitFacts:
    """Appointments of the year and visits due (appointments.due) of one member or of the service."""

    by_type: dict[str, Counter] = field(default_factory=dict)  # visit label → status code → appointments
    due: int = 0  # employees with a visit to plan, at `now`
    late: int = 0  # ...of which overdue


@dataclass
class Facts:
    year: int
    member: str | None  # None: the whole service
    name: str
    now: dt.datetime
    establishments: dict[str, str]  # SIRET → where (address), for the member's table
    members: dict[str, str]  # N° adhérent → name, for the service's table
    flows: dict[str, Flows]  # by SIRET (member) or by member (service)
    total: Flows  # everybody together
    files: Counter  # status → files
    files_by_others: int  # files that concern the member, sent by another sender (its payroll firm)
    billing: BillingFacts
    visits: VisitFacts | None = None  # None: the service records no appointments yet


# --- the summary: sections of sentences, a chart and tables -------------------------------------------


@dataclass
class Table:
    id: str
    caption: str
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    total: list[str] | None = None


@dataclass
class Section:
    id: str
    title: str
    text: list[str] = field(default_factory=list)
    charts: list[tuple[Markup, str]] = field(default_factory=list)  # (svg, caption)
    tables: list[Table] = field(default_factory=list)
    empty: str = ""  # the empty state, said instead of charts and tables
    placeholder: bool = False  # a section whose data does not exist yet


@dataclass
class Summary:
    year: int
    member: str | None
    name: str
    generated: dt.datetime
    period: str  # « du 01/01/2026 au 31/12/2026 »
    counters: list[tuple[str, str, str]]  # (key, label, value)
    sections: list[Section]
    empty: bool

    @property
    def title(self) -> str:
        return f"Synthèse d'activité {self.year}"

    @property
    def who(self) -> str:
        return f"{self.name} (adhérent {self.member})" if self.member else f"{self.name} : tous les adhérents"


def period_bounds(year: int, now: dt.datetime) -> tuple[str, str, dt.date]:
    """(start, end) ISO timestamps of the year as far as it has gone at `now`, and its last day shown."""
    start, end = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
    if now < end:
        end = max(start, now)
    return start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds"), (end - dt.timedelta(seconds=1)).date()


def build(f: Facts) -> Summary:
    _, _, last = period_bounds(f.year, f.now)
    first = dt.date(f.year, 1, 1)
    total = f.total
    n_start, n_end = sum(total.start.values()), sum(total.end.values())
    n_files = sum(f.files.values())
    refused = f.files.get("rejete", 0)
    counters = [
        ("effectif_debut", f"Effectif au {date_fr(first)}", number_fr(n_start)),
        ("effectif_fin", f"Effectif au {date_fr(last)}", number_fr(n_end)),
        ("entrees", "Entrées", number_fr(sum(total.entries.values()))),
        ("sorties", "Sorties", number_fr(sum(total.exits.values()))),
        ("fichiers", "Fichiers envoyés", number_fr(n_files)),
        ("taux_refus", "Taux de refus des fichiers", percent_fr(refused / n_files) if n_files else "—"),
        ("facture", f"Facturé pour {f.year}", money_fr(f.billing.invoiced - f.billing.credited)),
        ("reste_du", f"Reste dû au {date_fr(f.now.date())}", money_fr(f.billing.due)),
    ]
    sections = [_headcount(f, total, first, last), _files(f, n_files, refused), _billing(f), _visits(f)]
    empty = all(s.empty for s in sections)
    return Summary(f.year, f.member, f.name, f.now, f"du {date_fr(first)} au {date_fr(last)}", counters, sections, empty)


def _headcount(f: Facts, total: Flows, first: dt.date, last: dt.date) -> Section:
    s = Section("effectifs", "Effectifs suivis")
    if not any(sum(getattr(total, n).values()) for n in ("start", "end", "entries", "exits")) and not total.changes:
        s.empty = f"Aucun salarié n'est connu du service pour {f.year} : aucun fichier du personnel n'a été enregistré."
        return s
    n_start, n_end = sum(total.start.values()), sum(total.end.values())
    moved = sum(total.moved_in.values())
    s.text.append(f"{plural(n_start, 'salarié')} au {date_fr(first)}, {plural(n_end, 'salarié')} au {date_fr(last)} : "
                  f"{plural(sum(total.entries.values()), 'entrée')}, {plural(sum(total.exits.values()), 'sortie')}"
                  f" et {plural(moved, 'changement')} de catégorie de suivi.")
    s.text.append("Les effectifs sont ceux que le service connaît d'après les fichiers reçus, à la date de leur traitement.")
    bars = [Bar(f"{c} au {date_fr(d)}", n, number_fr(n)) for c in CATEGORIES
            for d, n in ((first, total.start[c]), (last, total.end[c]))]
    s.charts.append((bar_chart(bars, "Effectif par catégorie de suivi, en début et en fin de période",
                               "; ".join(f"{b.label} : {b.text}" for b in bars), GREEN),
                     "Effectif par catégorie de suivi au début et à la fin de la période (détail dans le tableau)."))
    moves = [Bar("Entrées", sum(total.entries.values()), number_fr(sum(total.entries.values()))),
             Bar("Sorties", sum(total.exits.values()), number_fr(sum(total.exits.values()))),
             Bar("Changements de catégorie", moved, number_fr(moved))]
    s.charts.append((bar_chart(moves, "Mouvements de la période", "; ".join(f"{b.label} : {b.text}" for b in moves), BLUE),
                     "Entrées, sorties et changements de catégorie de suivi de la période."))
    rows = [[CATEGORY_LABELS[c], number_fr(total.start[c]), number_fr(total.entries[c]), number_fr(total.exits[c]),
             number_fr(total.moved_in[c]), number_fr(total.moved_out[c]), number_fr(total.end[c])] for c in CATEGORIES]
    s.tables.append(Table("table-categories", "Effectif par catégorie de suivi",
                          ["Catégorie", f"Au {date_fr(first)}", "Entrées", "Sorties", "Venus d'une autre catégorie",
                           "Partis vers une autre catégorie", f"Au {date_fr(last)}"], rows, [False] + [True] * 6,
                          ["Total", number_fr(n_start), number_fr(sum(total.entries.values())),
                           number_fr(sum(total.exits.values())), number_fr(moved), number_fr(moved), number_fr(n_end)]))
    by_member = f.member is None
    names = f.members if by_member else f.establishments
    rows = []
    for key in sorted(f.flows, key=lambda k: (k not in names, k)):
        g = f.flows[key]
        label = f"{key} — {names[key]}" if names.get(key) else (key or "Établissement non renseigné")
        rows.append([label, number_fr(sum(g.start.values())), number_fr(sum(g.entries.values())),
                     number_fr(sum(g.exits.values())), _signed(g.transfers), number_fr(g.changes),
                     number_fr(sum(g.end.values()))])
    s.tables.append(Table("table-groupes", "Par adhérent" if by_member else "Par établissement",
                          ["Adhérent" if by_member else "Établissement (SIRET)", f"Au {date_fr(first)}", "Entrées",
                           "Sorties", "Mutations", "Modifications", f"Au {date_fr(last)}"], rows,
                          [False, True, True, True, True, True, True]))
    return s


def _signed(n: int) -> str:
    return f"+{number_fr(n)}" if n > 0 else ("0" if n == 0 else f"−{number_fr(-n)}")


def _files(f: Facts, n: int, refused: int) -> Section:
    s = Section("fichiers", "Fichiers envoyés")
    if not n:
        s.empty = f"Aucun fichier reçu en {f.year}."
        return s
    s.text.append(f"{plural(n, 'fichier')} reçu{'s' if n > 1 else ''} en {f.year}, dont {number_fr(refused)} "
                  f"refusé{'s' if refused > 1 else ''} ({percent_fr(refused / n)}).")
    if f.member and f.files_by_others:
        s.text.append(f"Dont {plural(f.files_by_others, 'fichier')} envoyé{'s' if f.files_by_others > 1 else ''} "
                      "pour vous par votre mandataire (gestionnaire de paie).")
    order = [k for k in FILE_STATUSES if f.files.get(k)] + sorted(k for k in f.files if k not in FILE_STATUSES)
    bars = [Bar(FILE_STATUSES.get(k, k), f.files[k], number_fr(f.files[k])) for k in order]
    s.charts.append((bar_chart(bars, "Fichiers reçus par résultat", "; ".join(f"{b.label} : {b.text}" for b in bars), BLUE),
                     "Fichiers reçus dans l'année, selon le résultat de leur contrôle."))
    s.tables.append(Table("table-fichiers", "Fichiers reçus par résultat", ["Résultat", "Fichiers", "Part"],
                          [[FILE_STATUSES.get(k, k), number_fr(f.files[k]), percent_fr(f.files[k] / n)] for k in order],
                          [False, True, True], ["Total", number_fr(n), percent_fr(1)]))
    return s


def _billing(f: Facts) -> Section:
    b = f.billing
    s = Section("facturation", "Déclaration, factures et paiements")
    if f.member:
        s.text.append(f"Déclaration des effectifs {f.year} : {b.declaration or 'aucune'}.")
        if b.declared:
            s.tables.append(Table("table-declaration", f"Effectifs déclarés pour {f.year}", ["Catégorie", "Déclarés"],
                                  [[CATEGORY_LABELS[c], number_fr(b.declared.get(c, 0))] for c in CATEGORIES],
                                  [False, True], ["Total", number_fr(sum(b.declared.values()))]))
    elif b.statuses:
        s.tables.append(Table("table-declarations", f"Déclarations des effectifs {f.year}", ["Statut", "Adhérents"],
                              [[label, number_fr(k)] for label, k in b.statuses], [False, True],
                              ["Total", number_fr(sum(k for _, k in b.statuses))]))
    if not b.count_pieces and not b.due and not b.credit:
        if f.member and not b.declared:
            s.empty = (f"Aucune déclaration reçue ni facture émise pour {f.year}"
                       + (f" (statut de la déclaration : {b.declaration.lower()})." if b.declaration else "."))
        s.text.append(f"Aucune facture ni aucun avoir émis pour {f.year}.")
        return s
    today = date_fr(f.now.date())
    figures = [("Facturé (TTC)", b.invoiced), ("Avoirs", b.credited), ("Réglé", b.paid), ("Reste dû sur l'année", b.due_year)]
    bars = [Bar(label, float(v), money_fr(v)) for label, v in figures]
    s.charts.append((bar_chart(bars, f"Factures {f.year} : facturé, réglé, reste dû",
                               "; ".join(f"{x.label} : {x.text}" for x in bars), BLUE),
                     f"Pièces de l'année {f.year}, au {today}."))
    s.tables.append(Table("table-montants", f"Montants {f.year} au {today}", ["Pièces de l'année", "Montant"],
                          [[label, money_fr(v)] for label, v in figures], [False, True]))
    balance = b.due - b.credit
    s.text.append(f"Solde au {today}, toutes années confondues : {money_fr(b.due)} restant dû"
                  + (f", {money_fr(b.credit)} en votre faveur" if f.member and b.credit else
                     (f", {money_fr(b.credit)} de crédits à rembourser ou imputer" if b.credit else ""))
                  + (f" (solde net {money_fr(balance)})." if b.credit else "."))
    if b.pieces:
        s.tables.append(Table("table-pieces", f"Factures et avoirs {f.year}",
                              ["N°", "Pièce", "Date", "Montant TTC", "Réglé", "Reste dû", "Statut"],
                              [[p.numero, p.label, date_fr(p.day), money_fr(p.ttc), money_fr(p.settled), money_fr(p.due), p.status]
                               for p in b.pieces], [False, False, False, True, True, True, False]))
    if b.payments:
        s.tables.append(Table("table-paiements", "Paiements reçus", ["Date", "Facture", "Montant"],
                              [[date_fr(p.day), p.numero, money_fr(p.amount)] for p in b.payments], [False, False, True],
                              ["Total", "", money_fr(sum((p.amount for p in b.payments), ZERO))]))
    return s


VISIT_STATUSES = {"honore": "Honorés", "annule": "Annulés", "non_honore": "Non honorés", "prevu": "Prévus"}


def _visits(f: Facts) -> Section:
    v = f.visits
    if v is None:
        return Section("visites", "Visites et rendez-vous", placeholder=True,
                       empty="Ces informations ne sont pas encore disponibles : les visites réalisées par type, les "
                             "rendez-vous annulés ou non honorés et les visites à prévoir ou en retard apparaîtront ici "
                             "lorsque le service enregistrera les rendez-vous.")
    s = Section("visites", "Visites et rendez-vous")
    totals = sum(v.by_type.values(), Counter())
    today = date_fr(f.now.date())
    if not totals and not v.due:
        s.empty = f"Aucun rendez-vous en {f.year} et aucune visite à prévoir au {today}."
        return s
    s.text.append(f"En {f.year} : {plural(totals['honore'], 'visite')} réalisée{'s' if totals['honore'] > 1 else ''}, "
                  f"{plural(totals['annule'], 'rendez-vous', 'rendez-vous')} annulé{'s' if totals['annule'] > 1 else ''}, "
                  f"{number_fr(totals['non_honore'])} non honoré{'s' if totals['non_honore'] > 1 else ''}.")
    s.text.append(f"Visites à prévoir au {today} : {number_fr(v.due)}, dont {number_fr(v.late)} en retard.")
    if totals:
        bars = [Bar(label, totals[code], number_fr(totals[code])) for code, label in VISIT_STATUSES.items()]
        s.charts.append((bar_chart(bars, f"Rendez-vous {f.year} par statut", "; ".join(f"{b.label} : {b.text}" for b in bars),
                                   BLUE), f"Rendez-vous de l'année {f.year}, selon leur statut au {today}."))
        s.tables.append(Table("table-visites", f"Rendez-vous {f.year} par type de visite",
                              ["Type de visite", *VISIT_STATUSES.values()],
                              [[label, *(number_fr(c[k]) for k in VISIT_STATUSES)] for label, c in sorted(v.by_type.items())],
                              [False, True, True, True, True], ["Total", *(number_fr(totals[k]) for k in VISIT_STATUSES)]))
    return s


# --- rendering ------------------------------------------------------------------------------------------


def render_html(s: Summary) -> str:
    return _env().get_template("synthese.html.j2").render(s=s)


@cache
def _env():
    return environment()


PDF_FONT = "doc"
_SVG_META = re.compile(r"<title\b.*?</title>|<desc\b.*?</desc>", re.S)  # fpdf2 draws neither; it would warn


def render_pdf(s: Summary, font: Path | None) -> bytes:
    """The same summary as a PDF (A4): heading, key figures, then each section's sentences, charts and tables."""
    if font is None or not Path(font).is_file():
        raise FileNotFoundError("Police TrueType introuvable pour la synthèse PDF : installez fonts-dejavu-core ou "
                                "indiquez un fichier .ttf dans [facturation] police.")
    font = Path(font)
    bold = font.with_name(font.stem + "-Bold" + font.suffix)
    pdf = FPDF(format="A4")
    pdf.set_title(f"{s.title} – {s.who}")
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(s.generated.replace(tzinfo=dt.timezone.utc))
    pdf.add_font(PDF_FONT, "", str(font))
    pdf.add_font(PDF_FONT, "B", str(bold if bold.is_file() else font))
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    width = pdf.w - 30

    def line(text: str, size: float = 10, style: str = "", h: float = 5.2) -> None:
        pdf.set_font(PDF_FONT, style, size)
        pdf.multi_cell(width, h, text, align="L", new_x="LMARGIN", new_y="NEXT")

    line(f"Généré le {date_fr(s.generated.isoformat(timespec='minutes'))}", 8.5)
    line(s.title, 17, "B", 9)
    line(s.who, 12, "B", 6.5)
    line(f"Période {s.period}", 10)
    pdf.ln(2)
    _pdf_table(pdf, Table("chiffres", "", ["Chiffres clés", ""], [[label, value] for _, label, value in s.counters],
                          [False, True]), width)
    for sec in s.sections:
        pdf.ln(3)
        if pdf.will_page_break(30):
            pdf.add_page()
        line(sec.title, 13, "B", 7)
        if sec.empty:
            pdf.set_text_color(74, 74, 74)
            line(sec.empty)
            pdf.set_text_color(0, 0, 0)
            continue
        for text in sec.text:
            line(text)
        for svg, caption in sec.charts:
            data = _SVG_META.sub("", str(svg)).replace(FONT, f'font-family="{PDF_FONT}"')
            h = float(re.search(r'height="([\d.]+)"', data).group(1)) * 0.25  # 400 px wide → 100 mm
            if pdf.will_page_break(h + 8):
                pdf.add_page()
            pdf.image(io.BytesIO(data.encode("utf-8")), x=15, w=100)
            line(caption, 8.5)
        for t in sec.tables:
            _pdf_table(pdf, t, width)
    return bytes(pdf.output())


def _pdf_table(pdf: FPDF, t: Table, width: float) -> None:
    if t.caption:
        pdf.set_font(PDF_FONT, "B", 10)
        pdf.multi_cell(width, 6, t.caption, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(PDF_FONT, "", 8.5 if len(t.headers) > 4 else 9.5)
    first = 2.2 if len(t.headers) > 3 else 1.6
    widths = [first] + [1] * (len(t.headers) - 1)
    rows = [t.headers, *t.rows, *([t.total] if t.total else [])]
    with pdf.table(col_widths=widths, width=width, line_height=5,
                   text_align=tuple("RIGHT" if n else "LEFT" for n in t.numeric),
                   headings_style=FontFace(emphasis="B", fill_color=(230, 232, 236)), padding=1.2) as table:
        for i, values in enumerate(rows):
            style = FontFace(emphasis="B") if t.total and i == len(rows) - 1 else None
            row = table.row(style=style)
            for v in values:
                row.cell(v)
    pdf.ln(2)


def write(s: Summary, html_paths: list[Path], font: Path | None) -> list[Path]:
    """The page and its PDF beside it, at each path (the member's outbox, its mandataires'…)."""
    page, pdf = render_html(s), render_pdf(s, font)
    out = []
    for path in html_paths:
        write_atomic(path, page)
        write_atomic(path.with_suffix(".pdf"), pdf)
        out += [path, path.with_suffix(".pdf")]
    return out
