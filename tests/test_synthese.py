"""`amsn-batch synthese`: a year of activity generated through the real CLI (registry, movements files on
different days of the service's clock, a declaration, an invoice, a payment, a payroll firm's file), then the
yearly summaries: their figures against what the generated data implies (computed here from the events, not
from the store), the pages in a real browser at phone and desktop widths, the PDFs read back, no full NIR."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.billing_helpers import billing_workspace, declare, employees_file
from tests.browser import DESKTOP, PHONE, assert_a4_pdf, assert_readable, page, browser, pdf_text  # noqa: F401
from tests.factories import employee_row, make_nir, write_csv

YEAR = 2026
HIRED = "01/11/2025"


class Tables(HTMLParser):
    """The text of the cells of every table with an id, row by row (head, body and foot), and the text of the
    elements with a data-compteur or data-etat attribute."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.counters: dict[str, str] = {}
        self.sections: dict[str, str] = {}
        self._table = self._cell = self._counter = None
        self._dd = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif a.get("data-compteur"):
            self._counter = a["data-compteur"]
        elif tag == "dd" and self._counter:
            self._dd, self._cell = True, []
        if tag == "section" and a.get("id"):
            self.sections[a["id"]] = a.get("data-etat", "")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "dd" and self._dd:
            self.counters[self._counter] = " ".join("".join(self._cell).split())
            self._dd, self._cell, self._counter = False, None, None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data.replace("\u202f", " ").replace("\u00a0", " "))


def money(text: str) -> Decimal:
    return Decimal(text.replace(" €", "").replace(" ", "").replace(",", "."))


# --- the year, as events -----------------------------------------------------------------------------------


class Year:
    """The workspace after a year of activity, with the events that made it (who entered, left or changed,
    where and in which category, on which day) to compute the expected figures from."""

    def __init__(self, tmp: Path) -> None:
        self.ws = billing_workspace(tmp)
        rng = random.Random(2026)
        self.s1, self.s2 = self.ws.registry.members["10001"]
        self.f1 = self.ws.registry.members["10002"][0]
        self.nir = {n: make_nir(rng) for n in ("ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT")}
        self.events: list[tuple[dt.datetime, str, str, str, str, str]] = []  # (when, member, name, action, siret, category)
        self.files: list[tuple[str, str, str]] = []  # (member concerned, sender, expected status) of the year's files

    def movements(self, when: dt.datetime, sender: str, member: str, name: str, rows: list[tuple], status: str) -> None:
        """A movements file: rows of (name, action, siret, category, exit date)."""
        lines = []
        for who, action, siret, cat, exit_ in rows:
            word = {"entree": "Entrée", "sortie": "Sortie", "modification": "Modification"}[action]
            hired = "01/05/2026" if who == "FOXTROT" else ("01/03/2026" if who == "ECHO" else HIRED)
            lines.append(employee_row(self.nir[who], siret, movement=word, hired=hired, exit=exit_, name=who, category=cat))
            self.events.append((when, member, who, action, siret, cat))
        employees_file(self.ws, sender, name, lines, when)
        self.ws.cli("traiter")
        if when.year == YEAR:
            self.files.append((member, sender, status))

    def state(self, member: str, before: dt.datetime) -> dict[str, tuple[str, str]]:
        """name → (siret, category) of the member's employees present just before `before`."""
        present: dict[str, tuple[str, str]] = {}
        for when, m, who, action, siret, cat in sorted(self.events):
            if m != member or when >= before:
                continue
            if action == "sortie":
                present.pop(who, None)
            else:
                present[who] = (siret or present[who][0], cat or present[who][1])
        return present


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Year:
    y = Year(tmp_path_factory.mktemp("synthese"))
    ws = y.ws
    y.movements(dt.datetime(2025, 12, 10, 9), "10001", "10001", "personnel-decembre.csv", [
        ("ALPHA", "entree", y.s1, "SI", ""), ("BRAVO", "entree", y.s1, "SIR", ""),
        ("CHARLIE", "entree", y.s2, "SIA", ""), ("DELTA", "entree", y.s1, "SI", "")], "accepte")
    declare(ws, "10001", dt.datetime(2026, 1, 12, 9), si=2, sia=1, sir=1)
    ws.cli("traiter")
    y.files.append(("10001", "10001", "accepte"))
    ws.cli("facturer", "--annee", str(YEAR), "--date", "01/02/2026")
    y.movements(dt.datetime(2026, 3, 20, 9), "10001", "10001", "mouvements-mars.csv", [
        ("ECHO", "entree", y.s2, "SI", ""), ("ALPHA", "sortie", y.s1, "SI", "15/03/2026"),
        ("BRAVO", "modification", y.s1, "SIA", "")], "accepte")
    bad = [employee_row("1234", y.s1, name="ZULU"), employee_row("999", y.s1, name="YANKEE")]
    employees_file(ws, "10001", "mouvements-avril.csv", bad, dt.datetime(2026, 4, 2, 9))
    ws.cli("traiter")
    y.files.append(("10001", "10001", "rejete"))
    numero = ws.sql("SELECT numero FROM factures WHERE adherent='10001' AND type='facture'")[0][0]
    ws.clock = dt.datetime(2026, 4, 10, 9)
    pay = write_csv(ws.root / "releve-avril.csv", ["N° facture", "Date", "Montant"], [[numero, "10/04/2026", "300,00"]])
    ws.cli("paiements", "importer", str(pay))
    y.movements(dt.datetime(2026, 5, 5, 9), "PAIE01", "10002", "paie-mai.csv", [("FOXTROT", "entree", y.f1, "SI", "")],
                "accepte")
    y.movements(dt.datetime(2026, 9, 1, 9), "10001", "10001", "mutation-septembre.csv",
                [("DELTA", "modification", y.s2, "SI", "")], "accepte")
    ws.clock = dt.datetime(2027, 1, 5, 10)
    out = ws.cli("synthese", "--annee", str(YEAR)).stdout
    assert "Synthèse 2026 du service" in out and "4 synthèse(s) d'adhérent 2026" in out
    return y


def _page(y: Year, member: str, folder: str | None = None) -> Path:
    return y.ws.outbox / (folder or member) / "synthese" / f"synthese-{YEAR}-{member}.html"


def _service(y: Year) -> Path:
    return y.ws.root / "rapports" / f"synthese-{YEAR}-service.html"


def test_the_generated_files_had_the_expected_outcome(year):
    """The scenario itself: each file of the year got the status the test counts on."""
    got = Counter(s for (s,) in year.ws.sql("SELECT statut FROM fichiers WHERE recu_le >= '2026-01-01'"))
    assert got == Counter(status for _, _, status in year.files)


def test_member_headcount_by_category_and_establishment_match_the_events(year):
    t = Tables(_page(year, "10001").read_text(encoding="utf-8"))
    start, end = year.state("10001", dt.datetime(2026, 1, 1)), year.state("10001", dt.datetime(2027, 1, 1))
    in_year = [e for e in year.events if e[1] == "10001" and e[0].year == YEAR]
    entries = Counter(cat for _, _, _, action, _, cat in in_year if action == "entree")
    exits = Counter(start.get(who, ("", cat))[1] for _, _, who, action, _, cat in in_year if action == "sortie")
    came, left = Counter(), Counter()  # changes of category, from the state before each change of the year
    sites = Counter()  # changes of establishment: + where to, - where from
    for when, _, who, action, siret, cat in in_year:
        if action == "modification":
            before_site, before_cat = year.state("10001", when)[who]
            if before_cat != cat:
                left[before_cat] += 1
                came[cat] += 1
            if before_site != siret:
                sites[before_site] -= 1
                sites[siret] += 1
    rows = {r[0]: r[1:] for r in t.tables["table-categories"][1:]}
    for cat, label in (("SI", "Suivi individuel (SI)"), ("SIA", "Suivi individuel adapté (SIA)"),
                       ("SIR", "Suivi individuel renforcé (SIR)"), ("SIH", "Suivi individuel habilitation (SIH)")):
        n_start = sum(1 for _, c in start.values() if c == cat)
        n_end = sum(1 for _, c in end.values() if c == cat)
        assert rows[label] == [str(n_start), str(entries[cat]), str(exits[cat]), str(came[cat]), str(left[cat]),
                               str(n_end)], cat
        assert n_start + entries[cat] - exits[cat] + came[cat] - left[cat] == n_end
    assert rows["Total"] == [str(len(start)), str(sum(entries.values())), str(sum(exits.values())),
                             str(sum(came.values())), str(sum(left.values())), str(len(end))]
    assert (len(start), len(end), sum(entries.values()), sum(exits.values()), sum(came.values()), sites[year.s2]) == \
        (4, 4, 1, 1, 1, 1)  # the scenario is not trivial
    assert t.counters["effectif_debut"] == "4" and t.counters["effectif_fin"] == "4"
    assert [h for h in t.tables["table-categories"][0]][-1] == "Au 31/12/2026"

    by_site = {r[0]: r[1:] for r in t.tables["table-groupes"][1:]}
    for siret in (year.s1, year.s2):
        s0 = sum(1 for s, _ in start.values() if s == siret)
        s1 = sum(1 for s, _ in end.values() if s == siret)
        ins = sum(1 for _, _, _, a, s, _ in in_year if a == "entree" and s == siret)
        outs = sum(1 for _, _, w, a, _, _ in in_year if a == "sortie" and start.get(w, ("",))[0] == siret)
        transfers = sites[siret]
        assert s0 + ins - outs + transfers == s1
        changes = sum(1 for _, _, _, a, s, _ in in_year if a == "modification" and s == siret)
        assert by_site[siret] == [str(s0), str(ins), str(outs), f"+{transfers}" if transfers > 0 else
                                  (f"−{-transfers}" if transfers else "0"), str(changes), str(s1)], siret


def test_member_files_refusal_rate_and_billing(year):
    t = Tables(_page(year, "10001").read_text(encoding="utf-8"))
    mine = Counter(status for member, _, status in year.files if member == "10001")
    n = sum(mine.values())
    files = {r[0]: r[1] for r in t.tables["table-fichiers"][1:]}
    assert files["Acceptés"] == str(mine["accepte"]) and files["Refusés"] == str(mine["rejete"]) and files["Total"] == str(n)
    rate = f"{round(100 * mine['rejete'] / n, 1):.1f}".replace(".", ",").removesuffix(",0") + " %"
    assert t.counters["taux_refus"] == rate == "25 %"

    # 2 SI + 1 SIA + 1 SIR declared: 4 × 115,80 + SIR supplement 51,10 = 514,30 HT, VAT 20 %: 617,16 TTC; 300,00 paid
    ht = 4 * Decimal("115.80") + Decimal("51.10")
    ttc = (ht * Decimal("1.20")).quantize(Decimal("0.01"))
    assert {r[0]: r[1] for r in t.tables["table-declaration"][1:]} == {
        "Suivi individuel (SI)": "2", "Suivi individuel adapté (SIA)": "1", "Suivi individuel renforcé (SIR)": "1",
        "Suivi individuel habilitation (SIH)": "0", "Total": "4"}
    pieces = t.tables["table-pieces"][1:]
    assert len(pieces) == 1 and pieces[0][1] == "Facture" and pieces[0][2] == "01/02/2026"
    assert (money(pieces[0][3]), money(pieces[0][4]), money(pieces[0][5])) == (ttc, Decimal("300.00"), ttc - 300)
    assert pieces[0][6] == "Partiellement payée"
    assert t.tables["table-paiements"][1] == ["10/04/2026", pieces[0][0], "300,00 €"]
    assert money(t.counters["reste_du"]) == ttc - 300 and money(t.counters["facture"]) == ttc
    html = _page(year, "10001").read_text(encoding="utf-8")
    assert "Déclaration des effectifs 2026 : Facturée." in html


def test_payroll_firm_files_count_for_its_client_and_its_copy(year):
    page_ = _page(year, "10002")
    t = Tables(page_.read_text(encoding="utf-8"))
    assert t.counters["fichiers"] == "1" and t.counters["effectif_debut"] == "0" and t.counters["effectif_fin"] == "1"
    assert "envoyé pour vous par votre mandataire" in page_.read_text(encoding="utf-8")
    copy = _page(year, "10002", "PAIE01")
    assert copy.read_bytes() == page_.read_bytes() and copy.with_suffix(".pdf").is_file()
    assert not _page(year, "10001", "PAIE01").exists()  # no mandate for 10001


def test_member_without_data_gets_an_empty_state_and_visits_are_a_placeholder(year):
    html = _page(year, "10004").read_text(encoding="utf-8")
    t = Tables(html)
    assert 'id="aucune-donnee"' in html and "Aucune activité enregistrée pour 2026" in html
    assert t.sections == {"effectifs": "vide", "fichiers": "vide", "facturation": "vide", "visites": "a-venir"}
    assert t.tables == {}
    assert "pas encore disponibles" in html
    full = Tables(_page(year, "10001").read_text(encoding="utf-8"))
    assert full.sections["visites"] == "a-venir" and full.sections["effectifs"] == "rempli"


def test_service_summary_covers_every_member(year):
    html = _service(year).read_text(encoding="utf-8")
    t = Tables(html)
    members = {"10001", "10002"}
    start = sum(len(year.state(m, dt.datetime(2026, 1, 1))) for m in members)
    end = sum(len(year.state(m, dt.datetime(2027, 1, 1))) for m in members)
    assert (t.counters["effectif_debut"], t.counters["effectif_fin"]) == (str(start), str(end)) == ("4", "5")
    by_member = {r[0].split(" — ")[0]: r for r in t.tables["table-groupes"][1:]}
    assert by_member["10002"][-1] == "1" and by_member["10001"][1] == "4"
    assert t.counters["fichiers"] == str(len(year.files))
    invoiced = sum(Decimal(x) for (x,) in year.ws.sql("SELECT total_ttc FROM factures WHERE annee=2026 AND type != 'avoir'"))
    assert money(t.counters["facture"]) == invoiced
    statuses = {r[0]: r[1] for r in t.tables["table-declarations"][1:]}
    assert statuses["Facturée"] == "1" and statuses["Total"] == "4"
    assert _service(year).with_suffix(".pdf").is_file()


def test_pdf_has_the_member_and_key_figures_and_no_nir_anywhere(year):
    pdf = _page(year, "10001").with_suffix(".pdf")
    assert assert_a4_pdf(pdf) >= 1
    text = pdf_text(pdf, pages=10)
    ttc = (4 * Decimal("115.80") + Decimal("51.10")) * Decimal("1.20")
    for expected in ("Synthèse d'activité 2026", "Entreprise 10001 (adhérent 10001)", "Effectif au 31/12/2026 4",
                     "Taux de refus des fichiers 25 %", f"{ttc:.2f}".replace(".", ",") + " €", "317,16 €",
                     "Visites et rendez-vous", "pas encore disponibles"):
        assert expected in text, expected
    outputs = [*year.ws.outbox.rglob("synthese-*"), *(year.ws.root / "rapports").glob("synthese-*")]
    assert len(outputs) == 2 * (4 + 2 + 1)  # 4 members, 2 copies for PAIE01, the service; HTML and PDF each
    for path in outputs:
        text = path.read_text(encoding="utf-8") if path.suffix == ".html" else pdf_text(path, pages=50)
        for nir in year.nir.values():
            assert nir not in text and nir[:13] not in text, path


def test_unknown_member_is_refused_in_french_and_one_member_alone(year):
    ws = year.ws
    done = ws.cli("synthese", "--annee", "2026", "--adherent", "99999", check=False)
    assert done.returncode == 1 and "Adhérent inconnu : 99999" in done.stderr
    future = ws.cli("synthese", "--annee", "2028", check=False)
    assert future.returncode == 1 and "L'année 2028 n'a pas commencé" in future.stderr
    both = ws.cli("synthese", "--annee", "2026", "--adherent", "10001", "--service", check=False)
    assert both.returncode == 2 and "ne vont pas ensemble" in both.stderr
    def text() -> str:  # the charts' ids are numbered per process
        return re.sub(r"graphique-\d+", "graphique", _page(year, "10001").read_text(encoding="utf-8"))

    before = text()
    out = ws.cli("synthese", "--annee", "2026", "--adherent", "10001").stdout
    assert "Synthèse 2026 de l'adhérent 10001" in out and "du service" not in out
    assert text() == before  # same clock, same store: the same page


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_pages_are_readable_on_a_phone_and_a_desktop(year, page, width):  # noqa: F811
    for path, name in ((_page(year, "10001"), "adherent"), (_service(year), "service"), (_page(year, "10004"), "vide")):
        page.open(path, width)
        assert_readable(page)
        assert page.js("document.querySelectorAll('figure.graphique svg').length") == (0 if name == "vide" else
                                                                                      page.js("document.querySelectorAll('figure.graphique').length"))
        page.screenshot(f"synthese-{name}-{width}")
        if width == DESKTOP and name == "adherent":  # printed from the browser: A4 pages, the figures kept
            printed = page.pdf("synthese-adherent-impression")
            assert assert_a4_pdf(printed) >= 1
            assert "Total 4 1 1 1 1 4" in pdf_text(printed, pages=10)  # the category table
