"""The machine-readable answer <base>.ar.json: described by the published schema schemas/accuse.schema.json
(checked here with jsonschema for every status and for a declaration file), carrying the same findings as the
CSV, each naming the person, the column (header and spreadsheet letter) and, for a payroll firm, the client.
Also: PCS codes suggested from the job title, and findings kept readable in the ledger."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from amsn_batch.resources import folder
from amsn_batch.rules import pcs
from amsn_batch.rules.catalogue import Findings, column_letter, to_rows
from amsn_batch.store import db, ledger
from tests.acks import ack_path, ack_paths
from tests.billing_helpers import billing_workspace, declare
from tests.browser import PHONE, DESKTOP, assert_readable, browser, page  # noqa: F401
from tests.conftest import make_workspace
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv
from tests.test_rules_catalogue import LIST_HEADERS, list_row

SCHEMA = json.loads((folder("schemas") / "accuse.schema.json").read_text(encoding="utf-8"))
STATUSES = ("accepte", "accepte_partiellement", "rejete", "en_attente", "deja_traite")


def valid(doc: dict) -> dict:
    Draft202012Validator.check_schema(SCHEMA)
    errors = [f"{list(e.path)}: {e.message}" for e in Draft202012Validator(SCHEMA).iter_errors(doc)]
    assert errors == []
    return doc


def csv_rows(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_every_status_is_described_by_the_schema(ws):
    rng = random.Random(3)
    s = ws.registry.members["10001"][0]
    staff = [make_nir(rng) for _ in range(10)]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS, [employee_row(n, s) for n in staff])
    bad = [employee_row(make_nir(rng), s, name="MARTIN", first="Léa", job="Caissière", pcs="999z"),
           employee_row("123", s, name="DURAND", first="Paul")]
    write_csv(ws.drop("10001", "partiel.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), s), *bad])
    write_csv(ws.drop("10001", "refus.csv"), MOVEMENT_HEADERS[1:], [r[1:] for r in bad])  # no Nom column
    ws.cli("traiter")
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, [list_row(n, s) for n in staff[:6]])  # 4 of 10 leave: held
    ws.cli("traiter")
    data = write_csv(ws.drop("10001", "encore.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), s)]).read_bytes()
    ws.cli("traiter")
    ws.drop("10001", "encore.csv").write_bytes(data)
    ws.cli("traiter")  # the same content again: deja_traite

    docs = {}
    for stem in ("embauches", "partiel", "refus", "liste", "encore"):
        for p in ack_paths(ws.outbox / "10001", stem, "ar.json"):
            doc = valid(json.loads(p.read_text(encoding="utf-8")))
            docs.setdefault(doc["statut"], doc)
            # the JSON lists the same findings as the CSV, with the same fields
            rows = csv_rows(p.with_name(p.name.replace(".ar.json", ".ar.csv")))
            assert [{k: str(v) for k, v in r.items()} for r in doc["constats"]] == rows
    assert set(docs) == set(STATUSES)
    assert docs["accepte_partiellement"]["libelle_statut"] == "Fichier accepté en partie"
    # the historical keys are all still there
    for key in ("fichier", "nom_depose", "sha256", "recu_le", "statut", "expediteur", "lignes", "lignes_acceptees",
                "lignes_rejetees", "entrees", "sorties", "modifications", "avertissements", "constats_non_listes"):
        assert all(key in d for d in docs.values())
    assert "traitement_initial" in docs["deja_traite"]
    # a full list's leavers are not in the file: named from the store, NIR masked, for the sender's member
    leavers = [r for r in docs["en_attente"]["constats"] if r["code"] == "LISTE_SORTIE"]
    assert len(leavers) == 5  # staff[6:] and the one accepted line of partiel.csv
    assert {staff[i][:5] + "*" * 10 for i in range(6, 10)} <= {r["nir_masque"] for r in leavers}
    assert all(r["nom"] and r["prenom"] and r["adherent"] == "10001" for r in leavers)


def test_findings_name_the_person_the_column_and_suggest_pcs_from_the_job(ws):
    rng = random.Random(5)
    s = ws.registry.members["10001"][1]
    nir = make_nir(rng, sex="2", year=1990, month=4)
    rows = [employee_row(nir, s, name="MARTIN", first="Léa", job="Caissière", pcs="999z"),
            employee_row(make_nir(rng), s, name="PETIT", first="Luc", job="Vendeurs", pcs=""),
            employee_row(make_nir(rng), s, name="ROUX", first="Inès", job="Comptable", pcs="552z")]
    write_csv(ws.drop("10001", "novembre.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    doc = valid(ws.ack("10001", "novembre"))
    by_line = {r["ligne"]: r for r in doc["constats"]}
    martin = by_line[2]
    assert (martin["code"], martin["colonne"], martin["colonne_excel"]) == ("PCS_INCONNU", "Code PCS", "K")
    assert (martin["nom"], martin["prenom"], martin["nir_masque"]) == ("MARTIN", "Léa", nir[:5] + "*" * 10)
    assert (martin["adherent"], martin["raison_sociale"]) == ("10001", "Entreprise 10001")
    assert "D'après le poste « Caissière » : 552a (Caissiers de magasin)." in martin["message"]
    assert "Code d'écriture proche" not in martin["message"]  # nothing is written like 999z
    petit = by_line[3]
    assert (petit["code"], petit["nom"]) == ("CHAMP_OBLIGATOIRE", "PETIT")
    assert "D'après le poste « Vendeurs »" in petit["message"] and "554a" in petit["message"]
    roux = by_line[4]
    assert "Code d'écriture proche : 552a (Caissiers de magasin)." in roux["message"]
    assert "543b" in roux["message"]  # comptable → employés des services comptables
    assert nir not in json.dumps(doc, ensure_ascii=False)


def test_a_payroll_firms_findings_are_grouped_by_client(ws, page):
    rng = random.Random(9)
    s2, s3, s1 = ws.registry.members["10002"][0], ws.registry.members["10003"][0], ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), s2, name="BLANC", first="Anne", contract="XXX"),
            employee_row(make_nir(rng), s3, name="NOIR", first="Marc", pcs="999z", job="Caissier"),
            employee_row(make_nir(rng), s3, name="GRIS", first="Zoé"),
            employee_row(make_nir(rng), s1, name="VERT", first="Jean")]  # 10001 is not PAIE01's client
    write_csv(ws.drop("PAIE01", "paie.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    doc = valid(ws.ack("PAIE01", "paie"))
    who = {(r["nom"], r["code"]): (r["adherent"], r["raison_sociale"]) for r in doc["constats"]}
    assert who[("BLANC", "CONTRAT_INVALIDE")] == ("10002", "Entreprise 10002")
    assert who[("NOIR", "PCS_INCONNU")] == ("10003", "Entreprise 10003")
    assert who[("VERT", "MANDAT_ABSENT")] == ("", "")  # another member's establishment: not named
    html = ack_path(ws.outbox / "PAIE01", "paie", "ar.html")
    assert "Entreprise 10001" not in html.read_text(encoding="utf-8")
    for width in (PHONE, DESKTOP):
        page.open(html, width, height=740)
        titles = page.js("[...document.querySelectorAll('#a-corriger .client-titre')].map(h => h.innerText)")
        assert titles == ["Adhérent 10002 — Entreprise 10002", "Adhérent 10003 — Entreprise 10003",
                          "Tout le fichier, ou lignes dont l'adhérent n'est pas reconnu"]
        noir = page.text("#regle-PCS_INCONNU-10003 tbody tr")
        assert "NOIR Marc" in noir and "K — Code PCS" in noir
        # the cause at the top leads to its group
        assert page.js("document.querySelector('#causes a[href=\"#regle-MANDAT_ABSENT-fichier\"]') !== null")
        assert_readable(page)
        page.screenshot(f"ar-mandataire-clients-{width}")


def test_declaration_answer_is_described_by_the_schema(tmp_path):
    ws = billing_workspace(tmp_path)
    declare(ws, "10001", dt.datetime(2026, 1, 10, 9), si=4, sir=1, name="effectifs.csv")
    rows = [[2026, "10001", "123", 1, 0, 0, 0]]  # a SIRET that is not one
    write_csv(ws.drop("10001", "faux.csv"), ["Année", "N° adhérent", "SIRET", "Effectif SI", "Effectif SIA",
                                             "Effectif SIR", "Effectif SIH"], rows)
    ws.cli("traiter")
    ok = valid(ws.ack("10001", "effectifs"))
    assert ok["statut"] == "accepte"
    refused = valid(ws.ack("10001", "faux"))
    assert refused["statut"] == "rejete" and refused["constats"]
    assert refused["constats"][0]["colonne_excel"] in ("", "C")


def test_findings_recorded_before_the_new_columns_stay_readable(tmp_path):
    conn = db.connect(make_workspace(tmp_path / "ws").store).conn
    rec = ledger.FileRecord("a" * 64, "10001", "ancien.csv", 1, "2026-11-30T09:00:00", "rejete", 1, 0, 1, 0, {})
    with db.transaction(conn):
        file_id = ledger.insert_entry(conn, rec, "applique")
        ledger.insert_findings(conn, file_id, pd.DataFrame([(2, "Contrat", "XX", "CONTRAT_INVALIDE", "bloquant", "Contrat « XX »")],
                                                           columns=ledger.FINDING_COLUMNS[:6]))
        conn.execute("UPDATE constats SET nom=NULL, adherent=NULL WHERE fichier_id=?", (file_id,))  # as before 0300
    (found,) = ledger.findings(conn, file_id)
    assert found["message"] == "Contrat « XX »" and found["nom"] == "" and found["adherent"] == ""
    assert set(found) == set(ledger.FINDING_COLUMNS)
    conn.close()


def test_a_long_cell_is_cut_inside_its_quotes_never_a_sentence():
    f = Findings()
    f.add_rows("PCS_INCONNU", np.array([0]), "pcs", ["x" * 300], valeur="x" * 300, proches=" D'après " + "mot " * 80 + ".")
    (row,) = to_rows(f.frame(), np.array([2]), 1, {"pcs": "Code PCS"}).to_dict("records")
    assert "« " + "x" * 200 + "… »" in row["message"]
    assert "mot . Choisissez le code" in row["message"] and "caractères)" not in row["message"]
    assert row["valeur"] == "x" * 200 + "…"


@pytest.mark.parametrize("title, code", [
    ("Caissière", "552a"), ("CAISSIERS", "552a"), ("caissier", "552a"), ("Vendeuse en alimentation", "554a"),
    ("Aide-soignante", "526a"), ("Cuisinière", "636d"), ("Secrétaire", "542a")])
def test_job_titles_point_at_their_pcs_code(title, code):
    assert pcs.from_title(title)[0] == code


def test_codes_by_spelling_only_when_they_share_the_first_characters():
    assert pcs.by_spelling("999z") == ()
    assert pcs.by_spelling("552z") == ("552a",)
    assert all(c.startswith("55") for c in pcs.by_spelling("559z"))
    assert pcs.suggestion("999z", "") == ""


def test_column_letters():
    assert [column_letter(i) for i in (0, 10, 25, 26, 27, 701, 702)] == ["A", "K", "Z", "AA", "AB", "ZZ", "AAA"]


def _recorded(ws, name_like: str):
    """A store connection (either engine), the ledger entry of the file named like `name_like` and all its
    findings."""
    conn = ws.connection()
    if not hasattr(conn, "engine"):
        conn.close()
        conn = db.connect(ws.store).conn
    (file_id,) = [r[0] for r in conn.execute("SELECT id FROM fichiers WHERE nom LIKE ?", (name_like,)).fetchall()]
    return conn, ledger.entry(conn, file_id), ledger.findings(conn, file_id)


def test_an_answer_read_back_lists_the_first_findings_and_counts_them_all(ws, tmp_path):
    """A payroll firm resends 80 rows for two clients: 77 « déjà enregistré » warnings (about 38 a client) and 3
    refused rows. The answer reads back every blocking finding and only the first of each warning rule (here 5
    listed per code, 20 shown per rule on the page): what it says is what reading them all back says."""
    from amsn_batch.reports.ack import Ack, cap_findings, render_html, write_ack
    from amsn_batch.reports.summary import Tallies
    from tests.report_data import generate

    g = generate(ws.registry.members["10002"] + ws.registry.members["10003"], 80, {"contrat": 3})
    write_csv(ws.drop("PAIE01", "paie.csv"), g.headers, g.rows)
    ws.cli("traiter")
    write_csv(ws.drop("PAIE01", "paie-bis.csv"), g.headers, g.rows + [g.rows[0][:]])  # the same again, one line repeated
    ws.cli("traiter")
    conn, entry, every = _recorded(ws, "paie-bis%")
    per_code = 5
    sampled = Ack.recorded(conn, entry, per_code)  # what pipeline.finish reads back
    first, tallies = sampled.findings, sampled.tallies
    conn.close()
    warnings = [f for f in every if f["code"] == "DEJA_ENREGISTRE"]
    assert len(warnings) >= 70 and {f["adherent"] for f in warnings} == {"10002", "10003"}
    assert len(first) < len(every)  # the first 20 warnings of each client, not all
    assert [f for f in first if f["gravite"] == "bloquant"] == [f for f in every if f["gravite"] == "bloquant"]
    assert tallies == Tallies.of(every)  # the store's sums are those of the findings themselves

    whole = Ack.of(entry, every)
    now = dt.datetime(2026, 11, 30, 22, 0)
    pages = [render_html(a, a.findings, cap_findings(a.findings, per_code, a.tallied())[1], now=now) for a in (whole, sampled)]
    assert pages[0] == pages[1]
    assert "Adhérent 10002" in pages[0] and "Adhérent 10003" in pages[0]
    answers = []
    for name, ack in (("tout", whole), ("premiers", sampled)):
        paths = write_ack(tmp_path / name, ack, per_code)
        answers.append((paths[0].read_text(encoding="utf-8-sig"), json.loads(paths[1].read_text(encoding="utf-8"))))
    assert answers[0] == answers[1]
    csv_text, doc = answers[1]
    assert f"… et {len(warnings) - per_code} autres constats DEJA_ENREGISTRE non listés" in csv_text
    assert sum(c["code"] == "DEJA_ENREGISTRE" for c in doc["constats"]) == per_code


def test_findings_keep_the_order_they_were_recorded_in_when_the_engine_moves_them(tmp_path):
    """PostgreSQL stores a row anew when it is updated, and fills the space of deleted ones: its physical order
    is not the order findings were written in. The answer lists them in their recorded order all the same, and
    a finding added to the file later, last."""
    from amsn_batch.reports.summary import ROWS_PER_RULE, Tallies

    conn = db.connect(make_workspace(tmp_path / "ws").store).conn
    rec = ledger.FileRecord("b" * 64, "10001", "ordre.csv", 1, "2026-11-30T09:00:00", "rejete", 5, 0, 5, 0, {})
    rows = [(line, "Contrat", f"X{line}", "CONTRAT_INVALIDE", "bloquant", f"Contrat « X{line} »") for line in range(2, 7)]
    with db.transaction(conn):
        file_id = ledger.insert_entry(conn, rec, "applique")
        ledger.insert_findings(conn, file_id, pd.DataFrame(rows, columns=ledger.FINDING_COLUMNS[:6]))
    with db.transaction(conn):  # the first finding rewritten in place: a new row version at the end of the table
        conn.execute("UPDATE constats SET valeur = valeur WHERE fichier_id = ? AND ligne = 2", (file_id,))
    assert [f["ligne"] for f in ledger.findings(conn, file_id)] == [2, 3, 4, 5, 6]
    assert [f["ligne"] for f in ledger.answer_findings(conn, file_id, 3, ROWS_PER_RULE)] == [2, 3, 4, 5, 6]
    # a finding added later (the file changed after its outcome was committed) comes after them
    ledger.mark_changed_after_processing(conn, file_id, pd.DataFrame(
        [(1, "", "", "FICHIER_MODIFIE_APRES_TRAITEMENT", "avertissement", "Modifié")], columns=ledger.FINDING_COLUMNS[:6]))
    assert [f["ligne"] for f in ledger.findings(conn, file_id)] == [2, 3, 4, 5, 6, 1]
    assert [f["ligne"] for f in ledger.answer_findings(conn, file_id, 3, ROWS_PER_RULE)] == [2, 3, 4, 5, 6, 1]
    # one more of a rule the file has already: ranked after the others of its rule, so not among the first three
    with db.transaction(conn):
        ledger.insert_findings(conn, file_id, pd.DataFrame(
            [(7, "Contrat", "X7", "CONTRAT_INVALIDE", "avertissement", "Contrat « X7 »")], columns=ledger.FINDING_COLUMNS[:6]))
    assert [f["ligne"] for f in ledger.answer_findings(conn, file_id, 3, 3, every_blocking=False)] == [2, 3, 4, 1]
    assert ledger.answer_findings(conn, file_id, 3, 3) == ledger._ranked_here(conn, file_id, 3, 3, True)
    # the tallies written with the file's findings do not hide the ones appended since
    stored = Tallies.stored(ledger.finding_tallies(conn, file_id), ledger.finding_messages(conn, file_id))
    assert stored == Tallies.of(ledger.findings(conn, file_id)) and stored.by_code["CONTRAT_INVALIDE"].constats == 6
    with db.transaction(conn):  # findings recorded before their place was kept: theirs first, in table order
        conn.execute("UPDATE constats SET rang = NULL WHERE fichier_id = ? AND ligne > 2", (file_id,))
        conn.execute("DELETE FROM constats WHERE fichier_id = ? AND ligne = 2", (file_id,))
    assert [f["ligne"] for f in ledger.findings(conn, file_id)][-1] == 1
    conn.close()


def test_a_file_refused_beyond_the_workbook_limit_reads_back_only_what_its_answer_lists(tmp_path, monkeypatch):
    """A hundred refused lines for two clients of a payroll firm, where the service makes no correction workbook
    above ten: the answer reads back the first refused lines of each rule (20 on the page, per client too),
    not all of them, and says exactly what reading them all back says: the counts, the « … et N autres »
    rows, and for a rule whose lines all quote a different value, that the detail varies."""
    from amsn_batch.reports.ack import Ack, cap_findings, render_html, write_ack
    from amsn_batch.reports.summary import Tallies
    from tests.conftest import import_registry
    from tests.report_data import MISTAKES, generate

    monkeypatch.setattr(ledger, "MESSAGES_KEPT", 10)  # the 25 contracts quoted for each client: read from the findings
    w = import_registry(make_workspace(tmp_path / "ws", extra_config="\n[limites]\nlignes_classeur_rejets = 10\n"
                                                        "constats_par_code = 5\n"), tmp_path / "registre")
    g = generate(w.registry.members["10002"] + w.registry.members["10003"], 120, {"contrat": 50, "date": 50})
    for k, i in enumerate(i for i, kind in sorted(g.mistakes.items()) if kind == "contrat"):
        g.rows[i][MISTAKES["contrat"][0]] = f"Contrat {k}"  # each refused contract quoted back as it is
    write_csv(w.drop("PAIE01", "paie.csv"), g.headers, g.rows)
    w.cli("traiter")
    conn, entry, every = _recorded(w, "paie%")
    per_code = 5
    read = Ack.recorded(conn, entry, per_code, workbook_rows=10)  # what pipeline.finish reads back here
    with_workbook = Ack.recorded(conn, entry, per_code, workbook_rows=100)
    again = [ledger._ranked_here(conn, entry.id, 20, 20, every_blocking) for every_blocking in (False, True)]
    with db.transaction(conn):  # as recorded before the ranks were (migrations 0630, 0660): the answer ranks them itself
        conn.execute("UPDATE constats SET rang_regle = NULL, rang_client = NULL WHERE fichier_id = ?", (entry.id,))
        conn.execute("UPDATE constats_rangs_depuis SET fichier_id = ?", (entry.id,))
    unranked = Ack.recorded(conn, entry, per_code, workbook_rows=10)
    kept = conn.execute("SELECT COUNT(*) FROM constats_messages WHERE fichier_id = ?", (entry.id,)).fetchone()[0]
    with db.transaction(conn):  # nor the tallies: the answer sums the findings themselves
        ledger.delete_tallies(conn, entry.id)
    summed = Ack.recorded(conn, entry, per_code, workbook_rows=10)
    conn.close()
    assert unranked.findings == read.findings and unranked.tallies == read.tallies
    assert summed.findings == read.findings and summed.tallies == read.tallies
    assert 0 < kept < 50  # the date's one message for each client was kept, not the fifty contracts
    blocking = [f for f in every if f["gravite"] == "bloquant"]
    assert entry.refused == 100 and len(blocking) == 100
    assert len([f for f in read.findings if f["gravite"] == "bloquant"]) <= 80  # 20 of each rule for each client
    assert [f for f in with_workbook.findings if f["gravite"] == "bloquant"] == blocking  # a workbook needs them all
    assert read.tallies == Tallies.of(every)
    # the findings' recorded ranks find the same rows as ranking them all again (files recorded before 0630)
    assert [read.findings, with_workbook.findings] == again
    contracts = read.tallies.by_code["CONTRAT_INVALIDE"]
    assert contracts.explication is None and contracts.constats == 50  # fifty different values quoted
    assert read.tallies.by_code["DATE_INVALIDE"].explication  # the same text for every line: said once

    answers = []
    now = dt.datetime(2026, 11, 30, 23, 0)
    for name, ack in (("tout", Ack.of(entry, every)), ("lus", read)):
        paths = write_ack(tmp_path / name, ack, per_code)
        page_ = render_html(ack, ack.findings, cap_findings(ack.findings, per_code, ack.tallied())[1], now=now)
        answers.append([p.read_text(encoding="utf-8") for p in paths[:2]] + [page_])
    assert answers[0] == answers[1]
    csv_text = answers[1][0]
    assert "… et 45 autres constats CONTRAT_INVALIDE non listés" in csv_text
    delivered = ack_path(w.outbox / "PAIE01", "paie", "ar.csv").read_text(encoding="utf-8-sig")
    assert delivered == csv_text.lstrip("\ufeff")  # what the run sent
    assert not ack_path(w.outbox / "PAIE01", "paie", "rejets.xlsx").exists()


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _render_alone(rule, params: dict) -> str:
    """A finding's message as str.format_map writes the rule's message and fix with its parameters alone
    (missing or None: ''): the reference the messages written rule by rule are held to."""
    p = _Blank({k: ("" if v is None else v) for k, v in params.items()})
    return f"{rule.message.format_map(p)} {rule.fix.format_map(p)}".strip()


def test_messages_rendered_rule_by_rule_say_what_each_finding_alone_would_say():
    """to_rows writes a big file's messages rule by rule (a million leavers of a full list are a million
    different messages): for every rule of the catalogue, with parameters missing, empty, long (cut), not
    texts, with braces or spaces at the ends, and the NIR's value never quoted, each message is the one
    str.format_map writes for that finding alone; equal messages are one text."""
    import string

    from amsn_batch.rules import catalogue as cat_module
    from amsn_batch.vocab import catalogue

    cat = catalogue()
    rng = random.Random(16)
    values = [None, "", "abc", "x" * 300, 12, 3.5, np.int64(7), True, ["a", "b"], "  devant", "derrière  ", "{accolade}"]
    codes, fields, params = [], [], []
    for _ in range(5000):
        code = rng.choice(sorted(cat))
        names = {n for t in (cat[code].message, cat[code].fix) for _, n, _, _ in string.Formatter().parse(t) if n}
        codes.append(code)
        fields.append(rng.choice([None, "nir", "pcs"]))
        params.append({n: rng.choice(values) for n in sorted(names | {"valeur"}) if rng.random() < 0.9})
    names = sorted({n for p in params for n in p})
    columns = {n: pd.Series([p.get(n) for p in params], dtype=object).to_numpy() for n in names}
    got = cat_module._messages(cat, codes, fields, columns, frozenset({"nir"}))
    for code, field_, p, message in zip(codes, fields, params, got):
        alone = {k: cat_module._cap(v) if isinstance(v, str) and k not in cat_module.OWN_TEXT_PARAMS else v
                 for k, v in p.items() if not (k == "valeur" and field_ == "nir")}
        assert message == _render_alone(cat[code], alone)
    assert len({id(m) for m in got}) == len(set(got))


def test_findings_read_back_as_each_alone_would_be_whatever_rules_they_sit_beside():
    """Findings keep their message parameters as columns, one per name (None or NaN where a rule has none), so
    that a million findings are not a million dicts: each row as the sender reads it (message, value, column,
    the leaver a full list names, the member) is still what that finding alone says, for rules whose
    parameters repeat (a resent file's movements) or never do (leavers' names), numbers, lists, long texts and
    NIRs that must not be quoted."""
    from amsn_batch.masking import mask_nir
    from amsn_batch.rules import catalogue as cat_module
    from amsn_batch.rules.catalogue import FILE, Members
    from amsn_batch.vocab import catalogue

    cat = catalogue()
    rng = random.Random(44)
    n = 3000
    f = Findings()
    expected = []  # (ligne, code, message, valeur, colonne, nom, prenom, adherent) of each finding, alone
    columns = {"nir": "N° sécu", "mouvement": "Type", "pcs": "PCS"}
    members = Members(names={"10001": "Société A", "10002": "Société B"}, sender="10009")
    moves = np.array([rng.choice(["Entrée", "Sortie", "Modification"]) for _ in range(n)], dtype=object)
    pos = np.arange(n)
    f.add_rows("DEJA_ENREGISTRE", pos, "mouvement", moves, mouvement=moves, suite="", fichier="paie.csv",
               date=[rng.choice(["01/02/2026", "03/04/2026"]) for _ in range(n)])
    names = [f"NOM{i}" for i in range(n)]
    nirs = [make_nir(rng) for _ in range(n)]
    who = [rng.choice(["10001", "10002", "99999"]) for _ in range(n)]
    f.add_rows("LISTE_SORTIE", np.full(n, FILE), "nir", nirs, nom=names, prenom="Jean", adherent=who, date="31/01/2026")
    f.add_rows("NIR_MOIS", pos[:50], "nir", nirs[:50], mois=[rng.choice([13, "99", None]) for _ in range(50)])
    f.add_file("COLONNE_INCONNUE", None, "", colonne="x" * 300)
    f.add_rows("PCS_INCONNU", pos[:20], "pcs", ["zz"] * 20, valeur=["zz"] * 20, proches=[["a", "b"]] * 20)
    f.add_rows("MOUVEMENT_INVALIDE", pos[:3], "mouvement", [["a"]] * 3, valeur="x")  # a value that is no text
    for i in range(n):
        p = {"mouvement": moves[i], "suite": "", "fichier": "paie.csv", "date": f.frame().loc[i, cat_module.PARAM + "date"],
             "valeur": moves[i]}
        expected.append((i + 2, "DEJA_ENREGISTRE", cat["DEJA_ENREGISTRE"], p, moves[i], "Type", "", "", "10009"))
    for i in range(n):
        p = {"nom": names[i], "prenom": "Jean", "adherent": who[i], "date": "31/01/2026"}
        expected.append((1, "LISTE_SORTIE", cat["LISTE_SORTIE"], p, mask_nir(nirs[i]), "N° sécu", names[i], "Jean",
                         who[i] if who[i] in members.names else "10009"))
    months = f.frame().loc[f.frame()["code"] == "NIR_MOIS", cat_module.PARAM + "mois"].tolist()
    for i in range(50):
        expected.append((i + 2, "NIR_MOIS", cat["NIR_MOIS"], {"mois": months[i]}, mask_nir(nirs[i]), "N° sécu", "", "", "10009"))
    expected.append((1, "COLONNE_INCONNUE", cat["COLONNE_INCONNUE"], {"colonne": cat_module._cap("x" * 300)}, "",
                     "x" * 300, "", "", "10009"))
    for i in range(20):
        expected.append((i + 2, "PCS_INCONNU", cat["PCS_INCONNU"], {"valeur": "zz", "proches": ["a", "b"]}, "zz", "PCS", "", "",
                         "10009"))
    for i in range(3):
        expected.append((i + 2, "MOUVEMENT_INVALIDE", cat["MOUVEMENT_INVALIDE"], {"valeur": "x"}, "['a']", "Type", "", "",
                         "10009"))
    got = to_rows(f.frame(), np.arange(2, n + 2), 1, columns, members=members)
    want = pd.DataFrame([{"ligne": line, "code": code, "message": _render_alone(rule, p), "valeur": value, "colonne": column,
                          "nom": nom, "prenom": prenom, "adherent": adherent}
                         for line, code, rule, p, value, column, nom, prenom, adherent in expected])
    want = want.sort_values(["ligne", "code"], kind="stable").reset_index(drop=True)
    assert got[list(want.columns)].astype(object).to_dict("records") == want.astype(object).to_dict("records")
    assert got["message"].nunique() == len({id(m) for m in got["message"]})  # equal messages: one text


def test_what_a_rule_says_is_told_the_same_once_its_details_vary():
    """The page says a rule's explanation and fix once when all its findings say the same. Once two
    explanations differ, the rest of the rule's messages are only looked at for their fix (a million leavers
    are not masked one by one): the outcome is the one of masking and splitting every message, for rules
    with a plain fix and with a fix quoting a value, messages ending or not with the fix, and NIRs in the
    text that masking makes equal."""
    from amsn_batch.masking import scrub
    from amsn_batch.reports.summary import _said_by, _split
    from amsn_batch.vocab import catalogue

    cat = catalogue()
    rng = random.Random(30)
    codes = [c for c in sorted(cat) if cat[c].fix][:40]
    assert any("{" in cat[c].fix for c in codes) and any("{" not in cat[c].fix for c in codes)
    for _ in range(200):
        messages = set()
        for _ in range(rng.randint(1, 12)):
            code = rng.choice(codes[:6])
            nir = f"{rng.choice('12')}8{rng.randint(0, 99):02d}05{rng.randint(0, 10**8):08d}"
            head = rng.choice(["Valeur", f"NIR {nir}", f"NIR {nir[:5]}99999999", "Valeur « x »"])
            fix = rng.choice([cat[code].fix, "Autre conseil.", ""])
            messages.add((rng.choice(["10001", "10002", ""]), code, f"{head} {fix}".strip()))
        every: dict[tuple, list[tuple[str, str]]] = {}
        for adherent, code, message in messages:
            for key in ((adherent, code), (None, code)):
                every.setdefault(key, []).append(_split(code, scrub(message)))
        said = _said_by(sorted(messages))
        for key, parts in every.items():
            details, fixes = {d for d, _ in parts}, {f for _, f in parts}
            assert said[key].detail == (details.pop() if len(details) == 1 else None)
            assert said[key].fix == (fixes.pop() if len(fixes) == 1 else None)
