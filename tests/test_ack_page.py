"""The acknowledgement page as the sender sees it, in a real headless Chromium: realistic files with many
refusals, none, thousands of lines, a whole file refused; at phone (375 px) and desktop (1280 px) widths,
printed to A4 PDF. Screenshots and PDFs are kept under screenshots/ (see the README)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from amsn_batch.intake import safe_name
from tests.browser import PHONE, DESKTOP, assert_a4_pdf, assert_readable, browser, page, pdf_text  # noqa: F401
from tests.conftest import ROOT, make_workspace
from tests.factories import write_csv, write_xlsx
from tests.report_data import drop_without_column, generate, wrong_key
from tests.acks import ack_path

NNBSP = "\u202f"  # thousands separator of the pages (French typography)


def n(x: int) -> str:
    return f"{x:,}".replace(",", NNBSP)


@pytest.fixture
def ws_dir(tmp_path):
    """A workspace whose settings point at the example service directory (centres and teams)."""
    w = make_workspace(tmp_path / "ws", extra_config=f'annuaire = "{ROOT / "examples" / "annuaire.toml"}"\n')
    reg, mand = w.registry.write(tmp_path / "registre")
    w.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    return w


def counters(page) -> dict[str, str]:
    return page.js("Object.fromEntries([...document.querySelectorAll('[data-compteur]')].map(e => [e.dataset.compteur, e.querySelector('dd').innerText]))")


def visible_without_scrolling(page, selector: str) -> bool:
    return page.js(f"document.querySelector('{selector}').getBoundingClientRect().bottom <= innerHeight")


def test_many_refusals(ws_dir, page):
    sirets = ws_dir.registry.members["10001"]
    g = generate(sirets, 300, {"nir_cle": 60, "date": 40, "pcs": 25, "contrat": 12, "siret": 5})
    write_csv(ws_dir.drop("10001", "embauches-novembre.csv"), g.headers, g.rows)
    ws_dir.cli("traiter")
    out = ws_dir.outbox / "10001"
    html = ack_path(out, "embauches-novembre", "ar.html")
    ack = ws_dir.ack("10001", "embauches-novembre")
    assert (ack["statut"], ack["lignes"], ack["lignes_acceptees"], ack["lignes_rejetees"]) == ("accepte_partiellement", 300, 158, 142)
    assert ack_path(out, "embauches-novembre", "rejets.xlsx").is_file()

    # No NIR, right or wrong, in what is sent back (the CSV masks the column, the page masks everything).
    sent_back = html.read_text(encoding="utf-8") + ack_path(out, "embauches-novembre", "ar.csv").read_text(encoding="utf-8-sig")
    for i, nir in g.good_nirs.items():
        assert nir not in sent_back and wrong_key(nir) not in sent_back

    for width in (PHONE, DESKTOP):
        page.open(html, width, height=740)
        assert page.text("#verdict-phrase") == (
            "Fichier accepté en partie : 158 lignes sur 300 ont été prises en compte, 142 lignes refusées sont à corriger.")
        assert counters(page) == {"lignes": "300", "lignes_acceptees": "158", "lignes_rejetees": "142",
                                  "entrees": "158", "sorties": "0", "modifications": "0"}
        assert visible_without_scrolling(page, "#verdict")
        # Findings grouped by rule, most frequent first, each with how to fix it and capped lines.
        codes = page.js("[...document.querySelectorAll('article.regle')].map(a => [a.dataset.code, a.dataset.lignes])")
        assert codes == [["NIR_CLE", "60"], ["DATE_INVALIDE", "40"], ["PCS_FORMAT", "25"], ["CONTRAT_INVALIDE", "12"], ["SIRET_INCONNU", "5"]]
        first = "#regle-NIR_CLE"
        assert page.js(f"document.querySelectorAll('{first} tbody tr').length") == 20
        assert page.text(f"{first} .autres").startswith("… et 40 autres")
        assert "Comment corriger" in page.text(f"{first} .correction")
        assert "Vitale" in page.text(f"{first} .correction")
        lines = page.js(f"[...document.querySelectorAll('{first} tbody tr td:first-child')].map(td => td.innerText.replace(/^Ligne : /, ''))")
        assert lines == sorted(lines, key=lambda s: int(s.replace(NNBSP, ""))), "lines in file order"
        assert "classeur" in page.text("#classeur") and ack_path(out, "embauches-novembre", "rejets.xlsx").name in page.text("#classeur")
        contacts = page.text("#contacts")
        for expected in ("Centre de Caen", "Dr Claire Exemple", "Secrétaire médicale", "relation.adherents@amsn.fr",
                         "comptabilite@amsn.fr", "formations@amsn.fr", "communication@amsn.fr"):
            assert expected in contacts
        assert_readable(page)
        page.screenshot(f"ar-refus-nombreux-{width}")
    pdf = page.pdf("ar-refus-nombreux")
    assert_a4_pdf(pdf)
    printed = pdf_text(pdf)
    assert "Fichier accepté en partie" in printed and "142 lignes refusées" in printed


def test_nothing_refused_thousands_of_lines(ws, page):
    g = generate(ws.registry.members["10001"], 2500)
    write_csv(ws.drop("10001", "effectif-complet.csv"), g.headers, g.rows, encoding="utf-8", bom=True)
    ws.cli("traiter")
    html = ack_path(ws.outbox / "10001", "effectif-complet", "ar.html")
    assert not ack_path(ws.outbox / "10001", "effectif-complet", "rejets.xlsx").exists()
    for width in (PHONE, DESKTOP):
        page.open(html, width, height=740)
        assert page.text("#verdict-phrase") == f"Fichier accepté : les {n(2500)} lignes ont été prises en compte."
        assert page.js("document.querySelector('#verdict').dataset.statut") == "accepte"
        assert counters(page)["lignes_rejetees"] == "0"
        assert page.text("#aucun-constat") == "Aucune anomalie n'a été relevée dans ce fichier."
        assert page.js("document.querySelector('#a-corriger')") is None
        # The default directory knows the service e-mails but not the centres: the centre is named, with a pointer.
        contacts = page.text("#contacts")
        assert "Centre de Caen" in contacts and "Joindre nos services" in contacts and "relation.adherents@amsn.fr" in contacts
        assert_readable(page)
        page.screenshot(f"ar-accepte-{width}")
    pdf = page.pdf("ar-accepte")
    assert assert_a4_pdf(pdf) <= 2
    assert "Fichier accepté" in pdf_text(pdf)


def test_thousands_of_lines_many_refused(ws, page):
    g = generate(ws.registry.members["10001"], 5000, {"nir_cle": 700, "date": 300, "pcs": 200, "nir_excel": 150}, seed=3)
    write_xlsx(ws.drop("10001", "mouvements-annuels.xlsx"), g.headers, g.rows, title=["Mouvements du personnel 2026"])
    ws.cli("traiter")
    out = ws.outbox / "10001"
    html = ack_path(out, "mouvements-annuels", "ar.html")
    assert ws.ack("10001", "mouvements-annuels")["lignes_rejetees"] == 1350
    # The page stays a page: 20 lines per rule, the rest counted.
    assert html.stat().st_size < 150_000
    for width in (PHONE, DESKTOP):
        page.open(html, width, height=740)
        assert page.text("#verdict-phrase") == (
            f"Fichier accepté en partie : {n(3650)} lignes sur {n(5000)} ont été prises en compte, {n(1350)} lignes refusées sont à corriger.")
        assert page.js("document.querySelectorAll('article.regle tbody tr').length") == 4 * 20
        assert page.text("#regle-NIR_CLE .autres").startswith("… et 680 autres")
        assert page.text("#regle-NIR_NOTATION_SCIENTIFIQUE h3").endswith("150 lignes")
        assert_readable(page)
        page.screenshot(f"ar-milliers-{width}")
    pdf = page.pdf("ar-milliers")
    assert assert_a4_pdf(pdf) >= 2
    assert f"{1350:,}".replace(",", " ") in pdf_text(pdf)
    # The CSV keeps its own limit (200 per code) and says how many more there were.
    rows = ws.ack_rows("10001", "mouvements-annuels")
    assert sum(r["code"] == "NIR_CLE" and r["ligne"] != "" for r in rows) == 200
    assert any("500 autres constats NIR_CLE" in r["message"] for r in rows)


def test_whole_file_refused(ws, page):
    drop_without_column(ws, "sans-pcs.csv", "Code PCS")
    html = ack_path(ws.outbox / "10001", "sans-pcs", "ar.html")
    page.open(html, PHONE, height=740)
    assert page.text("#verdict-phrase") == "Fichier refusé : aucune des 12 lignes n'a été prise en compte."
    assert page.js("document.querySelector('#verdict').dataset.statut") == "rejete"
    assert "Colonne obligatoire absente" in page.text("#causes")
    assert "« Code PCS » est absente" in page.text("#regle-COLONNE_MANQUANTE")
    assert_readable(page)
    page.screenshot("ar-refuse-colonne-375")
    page.open(html, DESKTOP)
    assert_readable(page)
    page.screenshot("ar-refuse-colonne-1280")


def test_unknown_sender_and_unreadable_file(ws, page):
    g = generate(ws.registry.members["10001"], 3)
    write_csv(ws.drop("99999", "inconnu.csv"), g.headers, g.rows)
    ws.drop("10001", "binaire.csv").write_bytes(bytes(range(256)) * 40)
    ws.cli("traiter")
    page.open(ack_path(ws.outbox / "99999", "inconnu", "ar.html"), PHONE, height=740)
    assert page.text("#verdict-phrase") == "Fichier refusé : il n'a pas pu être traité, rien n'a été pris en compte."
    assert "Expéditeur inconnu" in page.text("#causes")
    assert page.js("document.querySelectorAll('#contacts .carte').length") == 0  # no centre to name
    assert "relation.adherents@amsn.fr" in page.text("#contacts")
    assert_readable(page)
    page.open(ack_path(ws.outbox / "10001", "binaire", "ar.html"), PHONE, height=740)
    assert "Fichier illisible" in page.text("#causes")
    assert_readable(page)
    page.screenshot("ar-illisible-375")


def test_nir_typed_anywhere_is_masked(ws, page):
    """A NIR in a date column, in a column header or in the file name never reaches the page or the CSV."""
    g = generate(ws.registry.members["10001"], 6)
    stray = g.good_nirs[5]
    spaced = " ".join([stray[0], stray[1:3], stray[3:5], stray[5:7], stray[7:10], stray[10:13], stray[13:]])
    g.rows[1][6] = stray  # typed in « Date d'embauche »
    g.rows[2][6] = spaced
    headers = g.headers + [g.good_nirs[4]]  # a NIR pasted in the header row
    rows = [r + [""] for r in g.rows]
    name = f"export {g.good_nirs[3]}.csv"
    write_csv(ws.drop("10001", name), headers, rows)
    ws.cli("traiter")
    stem = Path(safe_name(name)).stem  # the NIR in the name is masked in the acknowledgement's name too
    assert g.good_nirs[3] not in stem
    html = ack_path(ws.outbox / "10001", stem, "ar.html").read_text(encoding="utf-8")
    csv_text = ack_path(ws.outbox / "10001", stem, "ar.csv").read_text(encoding="utf-8-sig")
    for nir in (g.good_nirs[3], g.good_nirs[4], stray):
        assert nir not in html and nir not in csv_text
    assert spaced not in html and spaced not in csv_text
    assert stray[:5] + "*" * 10 in csv_text  # masked the same way as the NIR column
    page.open(ack_path(ws.outbox / "10001", stem, "ar.html"), DESKTOP)
    seen = page.js("document.body.innerText")
    assert stray not in seen and g.good_nirs[3] not in seen
    assert "Colonne non reconnue" in page.text("#pour-information")


def test_already_processed(ws, page):
    g = generate(ws.registry.members["10001"], 5, {"date": 1})
    data_path = write_csv(ws.drop("10001", "envoi.csv"), g.headers, g.rows)
    data = data_path.read_bytes()
    ws.cli("traiter")
    assert ack_path(ws.outbox / "10001", "envoi", "rejets.xlsx").is_file()
    ws.drop("10001", "envoi.csv").write_bytes(data)
    ws.cli("traiter")
    page.open(ack_path(ws.outbox / "10001", "envoi", "ar.html"), PHONE, height=740)
    assert re.fullmatch(r"Fichier déjà reçu le \d\d/\d\d/\d{4} : il n'a pas été appliqué une seconde fois\.", page.text("#verdict-phrase"))
    assert "Premier traitement" in page.text("#fiche")
    assert ack_path(ws.outbox / "10001", "envoi", "rejets.xlsx").is_file()  # the first processing's workbook still applies
    assert_readable(page)


def test_dry_run_page_and_workbook(ws, tmp_path, page):
    g = generate(ws.registry.members["10001"], 8, {"pcs": 2})
    src = write_csv(tmp_path / "essai.csv", g.headers, g.rows)
    out = tmp_path / "sortie"
    ws.cli("valider", str(src), "--expediteur", "10001", "--sortie", str(out))
    assert (out / "essai.rejets.xlsx").is_file()
    page.open(out / "essai.ar.html", PHONE, height=740)
    assert "rien n'a été enregistré" in page.text("#essai")
    assert page.text("#verdict-phrase").startswith("Fichier accepté en partie : 6 lignes sur 8")
    assert ws.sql("SELECT COUNT(*) FROM fichiers") == [(0,)]


def test_mandataire_sees_the_centres_of_its_adherents(ws_dir, page):
    sirets = ws_dir.registry.members["10002"] + ws_dir.registry.members["10003"]
    g = generate(sirets, 6, {"contrat": 1})
    write_csv(ws_dir.drop("PAIE01", "paie.csv"), g.headers, g.rows, encoding="utf-8", bom=True)
    ws_dir.cli("traiter")
    page.open(ack_path(ws_dir.outbox / "PAIE01", "paie", "ar.html"), DESKTOP)
    contacts = page.text("#contacts")
    assert "Pour les adhérents 10002, 10003" in contacts
    assert "code mandataire" in contacts
    assert_readable(page)


def test_page_is_self_contained(ws):
    """No request leaves the page: no external stylesheet, script, font, image or frame."""
    g = generate(ws.registry.members["10001"], 4, {"nir_cle": 1})
    write_csv(ws.drop("10001", "autonome.csv"), g.headers, g.rows)
    ws.cli("traiter")
    html = ack_path(ws.outbox / "10001", "autonome", "ar.html").read_text(encoding="utf-8")
    assert not re.search(r"<(link|script|img|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"url\(|@import|src=", html, re.I)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<svg" in html and "<style>" in html
    # The CSV acknowledgement keeps its columns (issue 11 appends the column letter, the person and the member
    # after them) and formula-safe cells.
    with open(ack_path(ws.outbox / "10001", "autonome", "ar.csv"), encoding="utf-8-sig") as fh:
        assert next(csv.reader(fh, delimiter=";")) == ["ligne", "colonne", "valeur", "code", "gravite", "message",
                                                      "colonne_excel", "nom", "prenom", "nir_masque", "adherent",
                                                      "raison_sociale"]


def test_one_refused_line_named_with_its_person_and_column(ws, page):
    """Plural agreement, who each line is about, what may be resent, the fingerprint only in the footer."""
    g = generate(ws.registry.members["10001"], 5, {"pcs": 1})
    write_csv(ws.drop("10001", "une-erreur.csv"), g.headers, g.rows)
    ws.cli("traiter")
    ack = ws.ack("10001", "une-erreur")
    bad = next(r for r in ack["constats"] if r["gravite"] == "bloquant")
    for width in (PHONE, DESKTOP):
        page.open(ack_path(ws.outbox / "10001", "une-erreur", "ar.html"), width, height=740)
        assert page.text("#classeur").startswith("La ligne refusée est dans le classeur")
        renvoi = page.text("#renvoi")
        assert "classeur de correction" in renvoi and "fichier d'origine corrigé, en entier" in renvoi
        row = page.text("#a-corriger tbody tr")
        assert f"{bad['nom']} {bad['prenom']} · NIR {bad['nir_masque']}" in row
        assert f"{bad['colonne_excel']} — {bad['colonne']}" in row
        assert "Empreinte" not in page.text("main") and ack["sha256"] not in page.text("main")
        assert ack["sha256"] in page.text("#reference-technique")
        assert "accepte_partiellement" not in page.js("document.body.innerText")
        assert_readable(page)


def test_missing_column_does_not_speak_of_highlighted_cells(ws, page):
    drop_without_column(ws, "sans-poste.csv", "Poste de travail")
    page.open(ack_path(ws.outbox / "10001", "sans-poste", "ar.html"), PHONE, height=740)
    assert "classeur" in page.text("#classeur") and "surlignées" not in page.text("#classeur")
    assert "fichier d'origine corrigé, en entier" in page.text("#renvoi")
    assert "déjà prises en compte" not in page.text("#renvoi")  # nothing was
    assert_readable(page)
