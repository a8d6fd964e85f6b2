"""The staff's daily dashboard after a day of mixed traffic, read in a real headless Chromium; the January
campaign section when the store has declarations; the index of past days."""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets

import pytest

from amsn_batch.config import load_settings
from amsn_batch.pipeline import run
from tests.browser import PHONE, DESKTOP, assert_a4_pdf, assert_readable, browser, page, pdf_text  # noqa: F401
from tests.conftest import make_workspace
from tests.factories import MOVEMENT_HEADERS, write_csv
from tests.report_data import CATEGORIE, generate
from tests.acks import ack_path

DAY = dt.date(2026, 11, 30)


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def process(ws, when: dt.datetime, drops: list[tuple[str, str, callable]]) -> None:
    """Drop files as senders would at `when`, then run the pipeline as cron would at that time."""
    for sender, name, write in drops:
        path = ws.drop(sender, name)
        write(path)
        os.utime(path, (when.timestamp(), when.timestamp()))
    run(load_settings(ws.config), now=when)


def csv_of(g):
    return lambda p: write_csv(p, g.headers, g.rows)


def with_categories(g, seed: int = 5):
    rng = random.Random(seed)
    for r in g.rows:
        r[CATEGORIE] = rng.choice(["SI", "SI", "SI", "SIA", "SIR", "SIH", ""])
    return g


@pytest.fixture
def traffic(ws):
    """A month of files, then a mixed day (30/11/2026)."""
    reg = ws.registry.members
    for k, day in enumerate([dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 16)]):  # weekly sender
        process(ws, at(day), [("10001", f"hebdo-{k}.csv", csv_of(with_categories(generate(reg["10001"], 10, seed=100 + k), k)))])
    for k in range(26, 30):  # a daily sender
        process(ws, at(dt.date(2026, 11, k), 8), [("10002", f"jour-{k}.csv", csv_of(generate(reg["10002"], 3, seed=200 + k)))])
    missing_pcs = generate(reg["10004"], 4, seed=7)
    headers = [h for h in MOVEMENT_HEADERS if h != "Code PCS"]
    rows = [[v for h, v in zip(MOVEMENT_HEADERS, r) if h != "Code PCS"] for r in missing_pcs.rows]
    process(ws, at(DAY, 7, 30), [
        ("10002", "jour-30.csv", csv_of(generate(reg["10002"], 3, seed=230))),
        ("PAIE01", "paie-novembre.csv", csv_of(generate(reg["10002"] + reg["10003"], 40, {"nir_cle": 6, "date": 3, "pcs": 2}, seed=9))),
        ("10003", "export.csv", lambda p: p.write_bytes(b"\x00\x01\x02 pas un tableur " * 50)),
        ("10004", "sans-pcs.csv", lambda p: write_csv(p, headers, rows)),
        ("99999", "inconnu.csv", csv_of(generate(reg["10001"], 2, seed=8))),
    ])
    # A file held for review (the full-staff-list feature holds suspicious lists: statut en_attente).
    ws.sql("INSERT INTO fichiers (sha256, expediteur, nom, recu_le, traite_le, statut, etape, lignes) "
           "VALUES (?, '10002', 'liste-complete.csv', '2026-11-29T18:00:00', NULL, 'en_attente', 'termine', 25)",
           "f" + secrets.token_hex(31).upper())
    write_csv(ws.drop("10001", "arrive-ce-soir.csv"), MOVEMENT_HEADERS, [])  # waiting in the inbox
    return ws


def test_daily_dashboard_after_mixed_traffic(traffic, page):
    ws = traffic
    proc = ws.cli("rapport", "quotidien", "--date", "30/11/2026")
    page_path = ws.root / "rapports" / "quotidien-2026-11-30.html"
    assert str(page_path) in proc.stdout and "Index des jours" in proc.stdout
    html = page_path.read_text(encoding="utf-8")
    for nir in ws.sql("SELECT nir FROM salaries"):
        assert nir[0] not in html

    expected_heads = dict(ws.sql("SELECT COALESCE(categorie, ''), COUNT(*) FROM salaries_actuels WHERE present=1 GROUP BY 1"))
    for width in (PHONE, DESKTOP):
        page.open(page_path, width, height=800)
        assert page.text("h1") == "Tableau de bord du 30/11/2026"
        counters = page.js("Object.fromEntries([...document.querySelectorAll('[data-compteur]')].map(e => [e.dataset.compteur, e.querySelector('dd').innerText]))")
        assert counters["fichiers"] == "5" and counters["expediteurs"] == "5"
        # An unknown sender's or an unreadable file counts no line (nothing was read).
        assert counters["lignes"] == str(3 + 40 + 4) and counters["lignes_rejetees"] == str(11 + 4)
        assert counters["a_examiner"] == "2" and counters["inbox"] == "1"
        # Files per sender with their status.
        statuses = page.js("Object.fromEntries([...document.querySelectorAll('tbody.expediteur')].map(b => [b.dataset.expediteur, [...b.querySelectorAll('tr[data-statut]')].map(r => r.dataset.statut)]))")
        assert statuses == {"10002": ["accepte"], "PAIE01": ["accepte_partiellement"], "10003": ["rejete"],
                            "10004": ["rejete"], "99999": ["rejete"]}
        assert "Refusé (quarantaine)" in page.text("tbody[data-expediteur='10003']")
        assert "expéditeur inconnu du registre" in page.text("tbody[data-expediteur='99999']")
        assert "27,5 %" in page.text("tbody[data-expediteur='PAIE01'] tr.groupe").replace("\u00a0", " ")
        # The acknowledgement pages are linked.
        href = page.js("document.querySelector('tbody[data-expediteur=PAIE01] a').getAttribute('href')")
        assert (page_path.parent / href).resolve() == ack_path(ws.outbox / "PAIE01", "paie-novembre", "ar.html").resolve()
        # Most frequent rules, blocking first.
        codes = page.js("[...document.querySelectorAll('#regles tr[data-code]')].map(r => r.dataset.code)")
        assert codes[0] == "NIR_CLE" and {"DATE_INVALIDE", "PCS_FORMAT", "COLONNE_MANQUANTE", "EXPEDITEUR_INCONNU", "FICHIER_ILLISIBLE"} <= set(codes)
        # Held and quarantined files, whatever their day.
        where = page.js("[...document.querySelectorAll('#a-examiner tr[data-ou]')].map(r => r.dataset.ou)")
        assert sorted(where) == ["attente", "quarantaine"]
        assert "liste-complete.csv" in page.text("#a-examiner") and "export.csv" in page.text("#a-examiner")
        assert "contenu binaire" in page.text("#a-examiner")  # the quarantine reason
        # Silent senders: the weekly one, not the daily one.
        silent = page.js("[...document.querySelectorAll('#silencieux tr[data-expediteur]')].map(r => r.dataset.expediteur)")
        assert silent == ["10001"]
        assert "14 jours" in page.text("#silencieux").replace("\u202f", " ")
        # No campaign in November.
        assert page.js("document.querySelector('#campagne')") is None
        # Headcount by category, as the store has it at the end of the day.
        heads = page.js("Object.fromEntries([...document.querySelectorAll('#effectifs tr[data-categorie]')].map(r => [r.dataset.categorie, r.children[1].innerText]))")
        assert {k: int(v) for k, v in heads.items() if int(v)} == expected_heads
        # Charts: images with a text alternative.
        charts = page.js("[...document.querySelectorAll('svg[role=img]')].map(s => [s.querySelector('title').textContent, s.querySelector('desc').textContent])")
        assert len(charts) == 3 and all(t and d for t, d in charts)
        assert "PAIE01 : 27,5 % des lignes refusées (11 sur 40)" in charts[0][1].replace("\u00a0", " ")
        # Every counter's number stays on one line; labels and summary in plain French, no « (s) ».
        lines = page.js("[...document.querySelectorAll('.compteur dd')].map(dd => { const r = document.createRange(); "
                        "r.selectNodeContents(dd); return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; })")
        assert lines and set(lines) == {1}
        assert (counters["entrees"], counters["sorties"], counters["modifications"]) == ("32", "0", "0")
        assert "inbox" not in page.text("#compteurs") and "Déposés, pas encore traités" in page.text("#compteurs")
        assert "(s)" not in page.text("#resume") and "1 expéditeur silencieux" in page.text("#resume")
        assert_readable(page)
        page.screenshot(f"tableau-de-bord-{width}")
    pdf = page.pdf("tableau-de-bord")
    assert_a4_pdf(pdf)
    assert "Tableau de bord du 30/11/2026" in pdf_text(pdf)


def test_past_day_and_index(traffic, page):
    ws = traffic
    ws.cli("rapport", "quotidien", "--date", "30/11/2026")
    ws.cli("rapport", "quotidien", "--date", "16/11/2026")
    folder = ws.root / "rapports"
    past = (folder / "quotidien-2026-11-16.html")
    page.open(past, DESKTOP)
    assert page.js("[...document.querySelectorAll('tbody.expediteur')].map(b => b.dataset.expediteur)") == ["10001"]
    # Headcount as it was that evening: the weekly sender's 30 entries only.
    total = page.js("[...document.querySelectorAll('#effectifs tr[data-categorie]')].reduce((s, r) => s + Number(r.children[1].innerText), 0)")
    assert total == 30
    assert page.js("document.querySelector('a[rel=next]').getAttribute('href')") == "quotidien-2026-11-30.html"
    assert page.js("[...document.querySelectorAll('#silencieux tr[data-expediteur]')].length") == 0

    page.open(folder / "index.html", PHONE)
    days = page.js("[...document.querySelectorAll('#jours tbody tr')].map(r => [r.cells[0].innerText, r.cells[1].innerText.replace(/^.*: /, '')])")
    assert days == [["30/11/2026", "5"], ["16/11/2026", "1"]]
    assert_readable(page)
    page.screenshot("tableau-de-bord-index-375")


def test_january_campaign_lists_who_has_not_declared(ws, page):
    from tests.billing_helpers import COUNT_HEADERS

    jan = at(dt.date(2027, 1, 14))
    process(ws, jan, [("10001", "janvier.csv", csv_of(generate(ws.registry.members["10001"], 4)))])
    ws.cli("rapport", "quotidien", "--date", "15/12/2026")  # outside the campaign: no section
    page.open(ws.root / "rapports" / "quotidien-2026-12-15.html", DESKTOP)
    assert page.js("document.querySelector('#campagne')") is None

    s1, s2 = ws.registry.members["10001"]
    ok = [[2027, "10001", s1, 3, 1, 0, 0], [2027, "10001", s2, 1, 0, 0, 0]]
    to_fix = [[2027, "10002", ws.registry.members["10002"][0], "quatre", 0, 0, 0]]  # blocking finding: En cours
    process(ws, jan, [("10001", "declaration.csv", lambda p: write_csv(p, COUNT_HEADERS, ok)),
                      ("10002", "declaration.csv", lambda p: write_csv(p, COUNT_HEADERS, to_fix))])
    ws.cli("rapport", "quotidien", "--date", "15/01/2027")
    path = ws.root / "rapports" / "quotidien-2027-01-15.html"
    for width in (PHONE, DESKTOP):
        page.open(path, width)
        text = page.text("#campagne").replace("\u202f", " ")
        assert "Campagne de déclaration des effectifs 2027" in text
        assert "1 adhérent sur 4 a déclaré" in text and "2 adhérents n'ont pas encore déclaré" in text
        missing = page.js("[...document.querySelectorAll('#non-declares tbody tr')].map(r => r.cells[0].innerText.replace(/^.*: /, ''))")
        assert missing == ["10003", "10004"]
        in_progress = page.js("[...document.querySelectorAll('#declarations-en-cours tbody tr')].map(r => r.cells[0].innerText.replace(/^.*: /, ''))")
        assert in_progress == ["10002"]
        assert_readable(page)
        page.screenshot(f"tableau-de-bord-campagne-{width}")

    ws.cli("rapport", "quotidien", "--date", "15/02/2027")  # the campaign is over: no section
    page.open(ws.root / "rapports" / "quotidien-2027-02-15.html", DESKTOP)
    assert page.js("document.querySelector('#campagne')") is None


def test_reports_folder_is_configurable_and_bad_dates_refused(tmp_path):
    w = make_workspace(tmp_path / "ws", extra_config='rapports = "service/rapports"\n')
    out = w.cli("rapport", "quotidien", "--date", "01/12/2026")
    assert (w.root / "service" / "rapports" / "quotidien-2026-12-01.html").is_file()
    assert (w.root / "service" / "rapports" / "index.html").is_file()
    assert "Aucun fichier traité ce jour" in (w.root / "service" / "rapports" / "quotidien-2026-12-01.html").read_text(encoding="utf-8")
    assert "01/12/2026" in out.stdout
    bad = w.cli("rapport", "quotidien", "--date", "2026-12-01", check=False)
    assert bad.returncode == 2 and "JJ/MM/AAAA" in bad.stderr
    bad = w.cli("rapport", "quotidien", "--date", "31/02/2026", check=False)
    assert bad.returncode == 2 and "impossible" in bad.stderr
