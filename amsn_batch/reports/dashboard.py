"""The staff's daily dashboard: `amsn-batch rapport quotidien [--date JJ/MM/AAAA]`.

One static HTML page per day, `<rapports>/quotidien-AAAA-MM-JJ.html`, and `<rapports>/index.html` listing
every day written so far (the folder is `[paths] rapports` in the settings). A day's files are those the
service processed that day (`traite_le`, or `recu_le` for a file not finished yet). The page reads the
store only; it writes nothing but the two pages, so it can be run at any time, as often as wanted.

Sections: the day in figures; files per sender with their status; refusal rate per sender and the most
frequent rules (with charts); files held for review or in quarantine (whatever their date: they wait for
someone); senders silent for longer than usual; during the January campaign, the adhérents that have not
declared yet (given by the caller: status.daily_report); the billing team's queue (a new SIRET or company name a
member asked for in its fiche adhérent) and the changes of situation recorded that day; headcount by category.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2

from ..config import Settings, make_dirs
from ..masking import scrub
from ..store import appointments, connect, ledger, registry
from ..store.employees import headcount_by_category, multi_employments
from ..store.fiche import BillingRequest, SituationChange, pending_requests, situation_changes
from ..vocab import BLOCKING, catalogue, load_toml
from .ack import entry_base
from .charts import BLUE, GREEN, RED, Bar, bar_chart
from .pages import environment
from .summary import plural
from ..formats import number_fr, percent_fr, write_atomic

PAGE_PREFIX = "quotidien-"
TOP_RULES = 10
SILENCE_FACTOR = 1.5  # silent: more than 1.5 × the usual gap between two days with files...
SILENCE_MIN_EXTRA = 2  # ...and at least 2 days more than it
SILENCE_MIN_DAYS = 3  # a rhythm needs at least 3 days with files (2 gaps)
MAX_LISTED = 200  # long lists (adhérents not declared) are cut there, with the count of the rest

STATUS_LABEL = {
    "accepte": "Accepté", "accepte_partiellement": "Accepté en partie", "rejete": "Refusé",
    "en_attente": "En attente", "deja_traite": "Déjà traité",
}
STATUS_TONE = {"accepte": "ok", "accepte_partiellement": "partiel", "rejete": "refus", "en_attente": "attente", "deja_traite": "deja"}


SITUATION_LABEL = {code: spec["libelle"] for code, spec in load_toml("statuts.toml").items()}


@dataclass
class FileLine:
    heure: str
    nom: str
    statut: str
    libelle: str
    ton: str
    lignes: int
    acceptees: int
    rejetees: int
    entrees: int
    sorties: int
    modifications: int
    avertissements: int
    quarantaine: bool
    lien: str | None  # the acknowledgement page, relative to the dashboard

    @property
    def taux(self) -> float | None:
        return self.rejetees / self.lignes if self.lignes else None


@dataclass
class SenderBlock:
    code: str
    nom: str
    fichiers: list[FileLine] = field(default_factory=list)

    @property
    def lignes(self) -> int:
        return sum(f.lignes for f in self.fichiers)

    @property
    def rejetees(self) -> int:
        return sum(f.rejetees for f in self.fichiers)

    @property
    def taux(self) -> float | None:
        return self.rejetees / self.lignes if self.lignes else None

    @property
    def refuses(self) -> int:
        return sum(1 for f in self.fichiers if f.statut == "rejete")


@dataclass
class RuleCount:
    code: str
    titre: str
    gravite: str
    lignes: int
    fichiers: int
    expediteurs: int


@dataclass
class Waiting:
    expediteur: str
    nom_expediteur: str
    fichier: str
    depuis: str  # ISO timestamp
    raison: str


@dataclass
class Silent:
    code: str
    nom: str
    dernier: dt.date
    rythme: float  # usual gap in days
    silence: int  # days since the last file


@dataclass
class Campaign:
    annee: int
    attendus: int
    declares: int
    en_cours: list[tuple[str, str, str]]
    manquants: list[tuple[str, str, str]]  # (N° adhérent, raison sociale, centre)
    manquants_total: int
    remarque: str = ""


@dataclass
class UnpaidInvoices:
    """Unpaid invoices of the whole service on the day, by age of the delay (billing.reminders computes it)."""

    tranches: list[tuple[str, int, str]]  # (bucket, invoices, amount still due in French)
    total: str
    contentieux: int  # of which under dispute (never reminded)
    plus_anciennes: list[tuple[str, str, str, str, int]]  # (N° facture, N° adhérent, raison sociale, reste dû, jours)


@dataclass
class MultiEmployed:
    """A person present at several adhérents, not declared multi-employer by all: shown to staff only (the
    senders get a warning that names no other member)."""

    nom: str
    employeurs: list[tuple[str, str, bool]]  # (N° adhérent, raison sociale, declared multi-employer)


@dataclass
class Daily:
    jour: dt.date
    genere_le: dt.datetime
    expediteurs: list[SenderBlock]
    regles: list[RuleCount]
    en_attente: list[Waiting]
    quarantaine: list[Waiting]
    silencieux: list[Silent]
    campagne: Campaign | None
    effectifs: list[tuple[str, str, int]]  # (code, label, count)
    inbox: int
    multi_employeurs: list[MultiEmployed] = field(default_factory=list)
    impayes: UnpaidInvoices | None = None
    demandes: list[BillingRequest] = field(default_factory=list)  # the billing team's queue (fiches adhérent)
    situations: list[SituationChange] = field(default_factory=list)  # changes of situation recorded that day
    demandes_rdv: list[dict] = field(default_factory=list)  # visit and cancellation requests of the day
    precedent: str | None = None
    suivant: str | None = None

    @property
    def fichiers(self) -> list[FileLine]:
        return [f for s in self.expediteurs for f in s.fichiers]

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.fichiers)

    @property
    def taux(self) -> float | None:
        n = self.total("lignes")
        return self.total("rejetees") / n if n else None


def page_name(day: dt.date) -> str:
    return f"{PAGE_PREFIX}{day.isoformat()}.html"


def _files(conn, day: dt.date, names: dict[str, str], settings: Settings) -> list[SenderBlock]:
    blocks: dict[str, SenderBlock] = {}
    for f in ledger.files_of_day(conn, day.isoformat()):
        block = blocks.setdefault(f.sender, SenderBlock(f.sender, names.get(f.sender, "")))
        ack = settings.paths.outbox / f.sender / f"{entry_base(f)}.ar.html"
        link = os.path.relpath(ack, settings.paths.rapports) if ack.is_file() else None
        label = STATUS_LABEL.get(f.status, f.status)
        if f.quarantined:
            label += " (quarantaine)"
        block.fichiers.append(FileLine(f.when[11:16], scrub(f.name), f.status, label, STATUS_TONE.get(f.status, "attente"),
                                       f.rows, f.accepted, f.refused, f.entries, f.exits, f.changes, f.warnings,
                                       f.quarantined, link.replace(os.sep, "/") if link else None))
    return sorted(blocks.values(), key=lambda b: (-(b.rejetees), b.code))


def _multi(conn, names: dict[str, str]) -> list[MultiEmployed]:
    out: dict[int, MultiEmployed] = {}
    for e in multi_employments(conn):
        person = out.setdefault(e.person, MultiEmployed(scrub(f"{e.nom} {e.prenom}".strip()), []))
        person.employeurs.append((e.adherent, names.get(e.adherent, ""), e.multi_employeur == 1))
    return list(out.values())


def _rules(conn, day: dt.date) -> list[RuleCount]:
    cat = catalogue()
    out = [RuleCount(t.code, cat[t.code].title if t.code in cat else t.code, t.severity, t.lines, t.files, t.senders)
           for t in ledger.rule_tallies(conn, day.isoformat())]
    return sorted(out, key=lambda r: (r.gravite != BLOCKING, -r.lignes, r.code))[:TOP_RULES]


def _held(conn, names: dict[str, str]) -> list[Waiting]:
    """What waits for staff: held lists, then files changed after processing (their sender is asked to resend)."""
    held = [Waiting(e.sender, names.get(e.sender, ""), scrub(e.name), e.received, "Mis en attente pour examen par le service")
            for e in sorted(ledger.held(conn), key=lambda e: e.received)]
    changed = [Waiting(e.sender, names.get(e.sender, ""), scrub(e.name), e.received,
                       "Fichier modifié après traitement : renvoi du fichier complet demandé à l'expéditeur")
               for e in ledger.changed_after_processing(conn)]
    return held + changed


def _quarantine(folder: Path, names: dict[str, str]) -> list[Waiting]:
    out = []
    if not folder.is_dir():
        return out
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.endswith(".raison.txt") or path.name.startswith("."):
            continue
        reason_file = path.with_name(path.name + ".raison.txt")
        reason = reason_file.read_text(encoding="utf-8", errors="replace").strip() if reason_file.is_file() else ""
        sender = path.relative_to(folder).parts[0] if len(path.relative_to(folder).parts) > 1 else ""
        when = dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
        out.append(Waiting(sender, names.get(sender, ""), scrub(path.name), when, scrub(reason[:400])))
    return sorted(out, key=lambda w: w.depuis, reverse=True)


def _inbox_count(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")
               for p in d.iterdir() if p.is_file() and not p.name.startswith("."))


def _silent(conn, day: dt.date, names: dict[str, str]) -> list[Silent]:
    days: dict[str, list[dt.date]] = {}
    for sender, d in ledger.sender_days(conn, day.isoformat()):
        if sender in names:  # unknown sender folders have no rhythm to keep
            days.setdefault(sender, []).append(dt.date.fromisoformat(d))
    out = []
    for sender, ds in days.items():
        if len(ds) < SILENCE_MIN_DAYS:
            continue
        usual = statistics.median((b - a).days for a, b in zip(ds, ds[1:]))
        silence = (day - ds[-1]).days
        if silence > usual * SILENCE_FACTOR and silence >= usual + SILENCE_MIN_EXTRA:
            out.append(Silent(sender, names.get(sender, ""), ds[-1], usual, silence))
    return sorted(out, key=lambda s: -s.silence / max(s.rythme, 1))


def _headcount(conn, day: dt.date) -> list[tuple[str, str, int]]:
    """Employees present at the end of the day, by declared category (from the versions, so a past day is right)."""
    rows = headcount_by_category(conn, (day + dt.timedelta(days=1)).isoformat())
    labels = {code: spec["libelle"] for code, spec in load_toml("categories.toml").items()}
    order = list(labels) + sorted(k for k in rows if k and k not in labels)
    out = [(code, labels.get(code, code), rows.get(code, 0)) for code in order]
    if rows.get(""):
        out.append(("", "Catégorie non renseignée", rows[""]))
    return out


def collect(settings: Settings, day: dt.date, now: dt.datetime | None = None, campaign: Campaign | None = None) -> Daily:
    db = connect(settings.paths.database)
    conn = db.conn
    try:
        names = registry.sender_names(conn)
        return Daily(
            jour=day,
            genere_le=now or dt.datetime.now(),
            expediteurs=_files(conn, day, names, settings),
            regles=_rules(conn, day),
            en_attente=_held(conn, names),
            quarantaine=_quarantine(settings.paths.quarantine, names),
            silencieux=_silent(conn, day, names),
            campagne=campaign,
            effectifs=_headcount(conn, day),
            inbox=_inbox_count(settings.paths.inbox),
            multi_employeurs=_multi(conn, names),
            demandes=pending_requests(conn),
            situations=situation_changes(conn, day.isoformat(), (day + dt.timedelta(days=1)).isoformat()),
            demandes_rdv=[r for r in appointments.requests(conn, since=day.isoformat())
                          if r["recue_le"][:10] == day.isoformat()],
        )
    finally:
        conn.close()


@cache
def _env() -> jinja2.Environment:
    return environment({"pct": lambda r: "—" if r is None else percent_fr(r)}, {"pluriel": plural})


def _charts(d: Daily) -> dict:
    senders = [s for s in d.expediteurs if s.lignes]
    refusal = bar_chart(
        [Bar(f"{s.code} {s.nom} · {number_fr(s.rejetees)}/{number_fr(s.lignes)}", s.taux or 0, percent_fr(s.taux or 0)) for s in senders],
        "Taux de lignes refusées par expéditeur",
        "; ".join(f"{s.code} : {percent_fr(s.taux or 0)} des lignes refusées ({number_fr(s.rejetees)} sur {number_fr(s.lignes)})" for s in senders)
        or "Aucune ligne reçue ce jour.",
        RED, max_value=1.0)
    rules = bar_chart(
        [Bar(r.titre, r.lignes, number_fr(r.lignes)) for r in d.regles],
        "Règles les plus fréquentes (lignes concernées)",
        "; ".join(f"{r.titre} : {plural(r.lignes, 'ligne')} dans {plural(r.fichiers, 'fichier')}" for r in d.regles)
        or "Aucun constat ce jour.",
        BLUE)
    heads = bar_chart(
        [Bar(label, n, number_fr(n)) for _, label, n in d.effectifs],
        "Effectifs suivis par catégorie",
        "; ".join(f"{label} : {number_fr(n)}" for _, label, n in d.effectifs), GREEN)
    return {"refus": refusal, "regles": rules, "effectifs": heads}


def render(d: Daily) -> str:
    return _env().get_template("quotidien.html.j2").render(d=d, graphiques=_charts(d), statuts=STATUS_LABEL,
                                                           situations=SITUATION_LABEL)


def _pages(folder: Path) -> list[dt.date]:
    out = []
    for p in folder.glob(f"{PAGE_PREFIX}*.html"):
        m = re.fullmatch(rf"{PAGE_PREFIX}(\d{{4}}-\d{{2}}-\d{{2}})\.html", p.name)
        if m:
            out.append(dt.date.fromisoformat(m.group(1)))
    return sorted(out)


def render_index(settings: Settings, days: list[dt.date], now: dt.datetime) -> str:
    db = connect(settings.paths.database)
    try:
        stats = ledger.day_totals(db.conn)
    finally:
        db.conn.close()
    rows = []
    for day in sorted(days, reverse=True):
        t = stats.get(day.isoformat(), ledger.DayTotals(0, 0, 0, 0))
        nf, n, ko, refused = t.files, t.rows, t.refused_rows, t.refused_files
        rows.append({"jour": day, "lien": page_name(day), "fichiers": nf, "lignes": n, "rejetees": ko,
                     "refuses": refused, "taux": ko / n if n else None})
    return _env().get_template("quotidien-index.html.j2").render(jours=rows, genere_le=now)


def write_daily(settings: Settings, day: dt.date, now: dt.datetime | None = None,
                campaign: Campaign | None = None, unpaid: UnpaidInvoices | None = None) -> tuple[Path, Path]:
    """Write the day's page and the index of every day written; returns both paths. `campaign`: the
    declaration campaign section, when the day is in one (status.daily_report computes it from billing)."""
    now = now or dt.datetime.now()
    folder = settings.paths.rapports
    make_dirs(folder)
    d = collect(settings, day, now, campaign)
    d.impayes = unpaid
    days = sorted(set(_pages(folder)) | {day})
    i = days.index(day)
    d.precedent = page_name(days[i - 1]) if i > 0 else None
    d.suivant = page_name(days[i + 1]) if i + 1 < len(days) else None
    page = folder / page_name(day)
    write_atomic(page, render(d))
    index = folder / "index.html"
    write_atomic(index, render_index(settings, days, now))
    return page, index


def parse_day(text: str) -> dt.date:
    """'17/08/2021' → date; ValueError with a French message otherwise."""
    m = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*", text or "")
    if not m:
        raise ValueError(f"Date « {text} » invalide : écrivez-la au format JJ/MM/AAAA, par exemple 17/08/2021.")
    try:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        raise ValueError(f"Date « {text} » impossible : vérifiez le jour et le mois (JJ/MM/AAAA).") from None
