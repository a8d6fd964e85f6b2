"""Declaration files through `amsn-batch traiter`: told apart from employee files, checked, the January
window and its staff overrides, the statuses, the pre-filled files."""

from __future__ import annotations

import csv
import datetime as dt
import random
import shutil

from tests.billing_helpers import (
    COUNT_HEADERS, LIST_HEADERS, billing_workspace, declare, drop_counts, employees_file, received, statuses,
)
from tests.factories import employee_row, make_nir, write_csv, write_xlsx
from tests.acks import ack_path

JAN = dt.datetime(2026, 1, 15, 10)


def test_counts_declaration_is_confirmed_and_stored(tmp_path):
    ws = billing_workspace(tmp_path)
    s1, s2 = ws.registry.members["10001"]
    drop_counts(ws, "10001", "effectifs.csv", [[2026, "10001", s1, 4, 1, 1, 0], [2026, "10001", s2, 2, 0, 0, 1]], JAN)
    ws.cli("traiter")
    ack = ws.ack("10001", "effectifs")
    assert ack["statut"] == "accepte" and ack["lignes"] == 2 and ack["lignes_acceptees"] == 2
    assert ws.sql("SELECT adherent, annee, etat, mode, total FROM declarations") == [("10001", 2026, "confirmee", "effectifs", 9)]
    assert sorted(ws.sql("SELECT siret, categorie, effectif FROM declarations_effectifs")) == sorted(
        [(s1, "SI", 4), (s1, "SIA", 1), (s1, "SIR", 1), (s2, "SI", 2), (s2, "SIH", 1)])
    assert (ws.archive / "10001" / "2026").exists() or any(ws.archive.rglob("effectifs.csv"))
    assert statuses(ws, "20/01/2026")["10001"] == "Confirmée — 9 salarié(s)"


def test_list_of_employees_is_counted_by_category_xlsx_with_title(tmp_path):
    ws = billing_workspace(tmp_path)
    s = ws.registry.members["10004"][0]
    rng = random.Random(1)
    rows = [[2026, s, f"NOM{i}", "Anne", make_nir(rng), cat] for i, cat in enumerate(["SI", "Suivi renforcé", "SIA", "SI", "Habilitation"])]
    path = write_xlsx(ws.drop("10004", "liste.xlsx"), LIST_HEADERS, rows, title=["Déclaration des effectifs 2026"])
    received(ws, path, JAN)
    ws.cli("traiter")
    assert ws.ack("10004", "liste")["statut"] == "accepte"
    assert ws.sql("SELECT mode, total FROM declarations") == [("liste", 5)]
    assert dict(ws.sql("SELECT categorie, SUM(effectif) FROM declarations_effectifs GROUP BY categorie")) == {
        "SI": 2, "SIR": 1, "SIA": 1, "SIH": 1}
    assert ws.sql("SELECT COUNT(*) FROM declarations_salaries")[0][0] == 5


def test_employee_files_still_go_the_employee_way(tmp_path):
    ws = billing_workspace(tmp_path)
    s = ws.registry.members["10004"][0]
    employees_file(ws, "10004", "embauches.csv", [employee_row(make_nir(random.Random(2)), s)])
    ws.cli("traiter")
    assert ws.ack("10004", "embauches")["entrees"] == 1
    assert ws.sql("SELECT COUNT(*) FROM declarations")[0][0] == 0


def test_outside_the_window_refused_with_when_it_opens(tmp_path):
    ws = billing_workspace(tmp_path)
    declare(ws, "10004", dt.datetime(2025, 12, 31, 23, 0), si=3, name="decembre.csv")
    ws.cli("traiter")
    declare(ws, "10002", dt.datetime(2026, 2, 1, 8, 0), si=3, name="fevrier.csv")
    ws.cli("traiter")
    before = ws.ack_rows("10004", "decembre")
    assert ws.ack("10004", "decembre")["statut"] == "rejete"
    assert [r["code"] for r in before] == ["DECL_HORS_CAMPAGNE"]
    assert before[0]["gravite"] == "bloquant"
    assert ("reçue le 31/12/2025, est hors campagne : elle est ouverte du 01/01/2026 au 31/01/2026. "
            "La campagne 2026 ouvrira le 01/01/2026") in before[0]["message"]
    after = ws.ack_rows("10002", "fevrier")[0]["message"]
    assert "close depuis le 31/01/2026" in after and "ouvrira le 01/01/2027" in after and "relation adhérents" in after
    assert ws.sql("SELECT COUNT(*) FROM declarations")[0][0] == 0
    html = ack_path(ws.outbox / "10002", "fevrier", "ar.html").read_text(encoding="utf-8")
    assert "hors campagne" in html


def test_window_is_configurable(tmp_path):
    ws = billing_workspace(tmp_path, extra="")
    text = ws.config.read_text(encoding="utf-8").replace('fermeture = "31/01"', 'fermeture = "15/02"')
    ws.config.write_text(text, encoding="utf-8")
    declare(ws, "10004", dt.datetime(2026, 2, 10, 9), si=3)
    ws.cli("traiter")
    assert ws.sql("SELECT etat FROM declarations") == [("confirmee",)]


def test_staff_override_for_everybody_and_for_one_member(tmp_path):
    ws = billing_workspace(tmp_path)
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004", "--motif", "retard accepté")
    declare(ws, "10004", dt.datetime(2026, 2, 20, 9), si=3, name="a.csv")
    declare(ws, "10001", dt.datetime(2026, 2, 20, 9), si=3, name="b.csv")
    ws.cli("traiter")
    assert ws.ack("10004", "a")["statut"] == "accepte"
    refused = ws.ack_rows("10001", "b")[0]["message"]
    assert "ouverte du 01/01/2026 au 31/01/2026" in refused
    out = ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "15/03/2026").stdout
    assert "Campagne 2026 ouverte pour tous les adhérents du 01/01/2026 au 15/03/2026." in out
    declare(ws, "10001", dt.datetime(2026, 3, 1, 9), si=4, name="c.csv")
    ws.cli("traiter")
    assert ws.ack("10001", "c")["statut"] == "accepte"
    ws.cli("declaration", "fermer", "--annee", "2026")
    declare(ws, "10002", dt.datetime(2026, 3, 2, 9), si=4, name="d.csv")
    ws.cli("traiter")
    assert ws.ack("10002", "d")["statut"] == "rejete"
    assert ws.sql("SELECT motif FROM campagnes_derogations WHERE adherent='10004'") == [("retard accepté",)]
    bad = ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "99999", check=False)
    assert bad.returncode == 1 and "Adhérent inconnu : 99999" in bad.stderr


def test_same_file_sent_too_early_then_in_january_is_examined_again(tmp_path):
    ws = billing_workspace(tmp_path)
    p = declare(ws, "10004", dt.datetime(2025, 12, 20, 9), si=3, name="effectifs.csv")
    content = p.read_bytes()
    ws.cli("traiter")
    assert ws.ack("10004", "effectifs")["statut"] == "rejete"
    again = ws.drop("10004", "effectifs.csv")
    again.write_bytes(content)
    received(ws, again, JAN)
    ws.cli("traiter")
    assert ws.ack("10004", "effectifs")["statut"] == "accepte"
    assert ws.sql("SELECT COUNT(*) FROM fichiers")[0][0] == 1
    # and once accepted, the same file again is a duplicate, applied once
    again.write_bytes(content)
    received(ws, again, JAN + dt.timedelta(days=1))
    ws.cli("traiter")
    assert ws.ack("10004", "effectifs")["statut"] == "deja_traite"
    assert ws.sql("SELECT COUNT(*) FROM declarations")[0][0] == 1


def test_statuses_a_saisir_en_cours_confirmee_non_saisissable(tmp_path):
    ws = billing_workspace(tmp_path)
    # 10003 goes into liquidation: its declaration cannot be entered.
    rows = [r if r[0] != "10003" else r[:6] + ["Liquidation judiciaire"] for r in ws.registry.rows()]
    reg = write_csv(tmp_path / "reg2.csv", ws.registry.HEADERS, rows, encoding="utf-8")
    ws.cli("adherents", "importer", str(reg))
    s2 = ws.registry.members["10002"][0]
    drop_counts(ws, "10002", "faux.csv", [[2026, "10002", s2, "six", 0, 0, 0]], JAN)
    declare(ws, "10004", JAN, si=2)
    declare(ws, "10003", JAN, si=2, name="liquidation.csv", sender="PAIE01")
    ws.cli("traiter")
    assert ws.ack_rows("10002", "faux")[0]["code"] == "DECL_EFFECTIF_INVALIDE"
    assert ws.sql("SELECT adherent, etat FROM declarations ORDER BY id") == [("10002", "en_cours"), ("10004", "confirmee")]
    assert ws.ack_rows("PAIE01", "liquidation")[0]["code"] == "DECL_ADHERENT_NON_SAISISSABLE"
    assert "Liquidation judiciaire" in ws.ack_rows("PAIE01", "liquidation")[0]["message"]
    st = statuses(ws, "20/01/2026")
    assert st == {"10001": "À saisir", "10002": "En cours", "10003": "Non saisissable", "10004": "Confirmée — 2 salarié(s)"}
    st = statuses(ws, "02/02/2026")  # campaign closed, nothing declared: not the liquidation label (issue 12)
    assert st["10001"] == "Non déclarée" and st["10003"] == "Non saisissable"
    # En cours then fixed: confirmed
    drop_counts(ws, "10002", "corrige.csv", [[2026, "10002", s2, 6, 0, 0, 0]], JAN + dt.timedelta(days=2))
    ws.cli("traiter")
    assert statuses(ws, "20/01/2026")["10002"] == "Confirmée — 6 salarié(s)"


def test_new_declaration_replaces_the_earlier_one_before_invoicing(tmp_path):
    ws = billing_workspace(tmp_path)
    declare(ws, "10004", JAN, si=2, name="v1.csv")
    ws.cli("traiter")
    declare(ws, "10004", JAN + dt.timedelta(days=3), si=5, name="v2.csv")
    ws.cli("traiter")
    assert statuses(ws, "20/01/2026")["10004"] == "Confirmée — 5 salarié(s)"
    ws.cli("facturer", "--annee", "2026", "--date", "02/02/2026")
    assert ws.sql("SELECT numero, total_ht FROM factures") == [("420930", "579.00")]  # 5 × 115,80: one invoice


def test_declaration_checks(tmp_path):
    ws = billing_workspace(tmp_path)
    s1, s1b = ws.registry.members["10001"]
    s2 = ws.registry.members["10002"][0]
    headers = COUNT_HEADERS + ["Effectif total", "Colonne en trop"]
    rows = [[2026, "10001", s1, 4, 0, 0, 0, 5, ""],          # total is not the sum
            [2026, "10001", s1, 1, 0, 0, 0, "", ""],         # same establishment twice
            [2026, "10001", "12345678901234", 1, 0, 0, 0, "", ""],  # unknown SIRET
            [2026, "10001", s2, 1, 0, 0, 0, "", ""],         # another member's establishment
            [2026, "10001", s1b, "-2", 0, 0, 0, "", ""]]     # not a headcount
    drop_counts(ws, "10001", "controles.csv", rows, JAN, headers=headers)
    ws.cli("traiter")
    codes = [r["code"] for r in ws.ack_rows("10001", "controles")]
    assert codes == ["COLONNE_INCONNUE", "DECL_TOTAL_INCOHERENT", "DECL_ETABLISSEMENT_EN_DOUBLE", "SIRET_INCONNU",
                     "SIRET_AUTRE_ADHERENT", "DECL_EFFECTIF_INVALIDE"]
    assert ws.ack("10001", "controles")["statut"] == "rejete"
    # Several years, or none
    drop_counts(ws, "10004", "annees.csv", [[2026, "10004", ws.registry.members["10004"][0], 1, 0, 0, 0],
                                            [2027, "10004", ws.registry.members["10004"][0], 1, 0, 0, 0]], JAN)
    drop_counts(ws, "10002", "annee.csv", [["26", "10002", s2, 1, 0, 0, 0]], JAN)
    ws.cli("traiter")
    assert ws.ack_rows("10004", "annees")[0]["code"] == "DECL_ANNEES_MULTIPLES"
    assert ws.ack_rows("10002", "annee")[0]["code"] == "DECL_ANNEE_INVALIDE"
    # Neither counts nor a list
    received(ws, write_csv(ws.drop("10002", "rien.csv"), ["Année", "SIRET", "Raison sociale"], [[2026, s2, "X"]]), JAN)
    ws.cli("traiter")
    assert ws.ack_rows("10002", "rien")[-1]["code"] == "DECL_COLONNES"


def test_warnings_on_a_confirmed_declaration(tmp_path):
    ws = billing_workspace(tmp_path)
    s1 = ws.registry.members["10001"][0]
    rng = random.Random(3)
    employees_file(ws, "10001", "salaries.csv", [employee_row(make_nir(rng), s1, name=f"N{i}") for i in range(3)])
    ws.cli("traiter")
    drop_counts(ws, "10001", "un-site.csv", [[2026, "10001", s1, 5, 0, 0, 0]], JAN)
    ws.cli("traiter")
    rows = ws.ack_rows("10001", "un-site")
    assert ws.ack("10001", "un-site")["statut"] == "accepte"
    by_code = {r["code"]: r for r in rows}
    assert set(by_code) == {"DECL_ETABLISSEMENT_ABSENT", "DECL_ECART_EFFECTIF"}
    assert all(r["gravite"] == "avertissement" for r in rows)
    assert "déclare 5 salarié(s) ; le service en connaît 3" in by_code["DECL_ECART_EFFECTIF"]["message"]


def test_mandataire_declares_for_its_members_only(tmp_path):
    ws = billing_workspace(tmp_path)
    s2, s3, s4 = (ws.registry.members[a][0] for a in ("10002", "10003", "10004"))
    drop_counts(ws, "PAIE01", "deux.csv", [[2026, "10002", s2, 3, 0, 0, 0], [2026, "10003", s3, 4, 0, 1, 0]], JAN)
    drop_counts(ws, "PAIE01", "sans-mandat.csv", [[2026, "10004", s4, 3, 0, 0, 0]], JAN)
    ws.cli("traiter")
    assert ws.ack("PAIE01", "deux")["statut"] == "accepte"
    assert sorted(ws.sql("SELECT adherent, total FROM declarations")) == [("10002", 3), ("10003", 5)]
    assert ws.ack_rows("PAIE01", "sans-mandat")[0]["code"] == "MANDAT_ABSENT"


def test_prepared_files_hold_the_known_headcount_and_come_back_as_is(tmp_path):
    ws = billing_workspace(tmp_path)
    s1, s1b = ws.registry.members["10001"]
    s3 = ws.registry.members["10003"][0]
    rng = random.Random(4)
    rows = [employee_row(make_nir(rng), s1, name="A", category="SIR"),
            employee_row(make_nir(rng), s1, name="B", category=""),
            employee_row(make_nir(rng), s1b, name="C", category="SIA")]
    employees_file(ws, "10001", "salaries.csv", rows)
    employees_file(ws, "PAIE01", "salaries3.csv", [employee_row(make_nir(rng), s3, name="D")])
    ws.cli("traiter")
    out = ws.cli("declaration", "preparer", "--annee", "2026").stdout
    assert "fichier(s) de déclaration 2026 écrit(s)" in out
    path = ws.outbox / "10001" / "declarations" / "declaration-effectifs-2026-10001.csv"
    lines = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert lines[0] == ["Année", "N° adhérent", "Raison sociale", "SIRET", "Effectif SI", "Effectif SIA", "Effectif SIR",
                        "Effectif SIH", "Effectif total"]
    assert sorted(lines[1:]) == sorted([["2026", "10001", "Entreprise 10001", s1, "1", "0", "1", "0", "2"],
                                        ["2026", "10001", "Entreprise 10001", s1b, "0", "1", "0", "0", "1"]])
    # The mandataire gets a copy for each member it acts for.
    assert (ws.outbox / "PAIE01" / "declarations" / "declaration-effectifs-2026-10003.csv").is_file()
    # Sent back unchanged in January: confirmed with the known headcount.
    back = ws.drop("10001", "retour.csv")
    shutil.copy(path, back)
    received(ws, back, JAN)
    ws.cli("traiter")
    assert ws.ack("10001", "retour")["statut"] == "accepte"
    assert ws.ack_rows("10001", "retour") == []
    assert ws.sql("SELECT total FROM declarations WHERE adherent='10001'") == [(3,)]


def test_dry_run_checks_a_declaration_without_recording_it(tmp_path):
    ws = billing_workspace(tmp_path)
    path = declare(ws, "10004", dt.datetime(2026, 2, 5, 9), si=3)
    out = ws.cli("valider", str(path), "--expediteur", "10004", "--sortie", str(tmp_path / "essai"))
    assert "refusé" in out.stdout and "Aucune donnée n'a été enregistrée" in out.stdout
    rows = list(csv.DictReader((tmp_path / "essai" / f"{path.stem}.ar.csv").read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0]["code"] == "DECL_HORS_CAMPAGNE"
    assert ws.sql("SELECT COUNT(*) FROM fichiers")[0][0] == 0


def test_kind_of_file_is_decided_from_the_header_row(tmp_path):
    from amsn_batch.kinds import detect
    from tests.factories import MOVEMENT_HEADERS

    def detect_kind(path):
        return detect(path).name

    s = "12345678900017"
    assert detect_kind(write_xlsx(tmp_path / "m.xlsx", MOVEMENT_HEADERS, [employee_row("1", s)], title=["Mouvements"])) == "mouvements"
    assert detect_kind(write_csv(tmp_path / "m.csv", MOVEMENT_HEADERS, [employee_row("1", s)])) == "mouvements"
    assert detect_kind(write_xlsx(tmp_path / "d.xlsx", COUNT_HEADERS, [[2026, "1", s, 1, 0, 0, 0]], title=["Effectifs"])) == "declaration"
    assert detect_kind(write_csv(tmp_path / "d.csv", LIST_HEADERS, [[2026, s, "A", "B", "", "SI"]], encoding="utf-8")) == "declaration"
    # an employee file with a stray "Année" column stays an employee file
    assert detect_kind(write_csv(tmp_path / "m2.csv", MOVEMENT_HEADERS + ["Année"], [employee_row("1", s) + ["2026"]])) == "mouvements"
    (tmp_path / "x.bin").write_bytes(b"\x00\x01garbage" * 100)
    assert detect_kind(tmp_path / "x.bin") == "mouvements"


def test_declaration_of_no_worker_is_confirmed_with_a_warning(tmp_path):
    ws = billing_workspace(tmp_path)
    s1, s1b = ws.registry.members["10001"]
    drop_counts(ws, "10001", "zero.csv", [[2026, "10001", s1, 0, 0, 0, 0], [2026, "10001", s1b, 0, 0, 0, 0]], JAN)
    ws.cli("traiter")
    rows = ws.ack_rows("10001", "zero")
    assert [(r["code"], r["gravite"]) for r in rows] == [("DECL_AUCUN_SALARIE", "avertissement")]
    assert ws.ack("10001", "zero")["statut"] == "accepte"


def test_a_declared_name_with_a_bidi_control_is_refused_like_in_any_file(tmp_path):
    ws = billing_workspace(tmp_path)
    s = ws.registry.members["10004"][0]
    rng = random.Random(3)
    rows = [[2026, s, "MARTIN", "Anne", make_nir(rng), "SI"], [2026, s, "DUR\u202eAND", "Paul", make_nir(rng), "SI"]]
    received(ws, write_csv(ws.drop("10004", "liste.csv"), LIST_HEADERS, rows, encoding="utf-8"), JAN)
    ws.cli("traiter")
    assert [(r["ligne"], r["code"]) for r in ws.ack_rows("10004", "liste")] == [("3", "CARACTERE_BIDI")]
    assert ws.sql("SELECT etat FROM declarations") == [("en_cours",)]  # a blocking line: nothing confirmed


def test_valider_masks_a_nir_in_the_file_name(tmp_path):
    ws = billing_workspace(tmp_path)
    nir = make_nir(random.Random(4))
    path = write_csv(tmp_path / f"liste {nir}.csv", LIST_HEADERS, [[2026, ws.registry.members["10004"][0], "A", "B", "", "SI"]],
                     encoding="utf-8")
    out = ws.cli("valider", str(path), "--expediteur", "10004", "--sortie", str(tmp_path / "essai")).stdout
    assert nir not in out and nir[:5] in out


def test_a_declaration_whose_name_cannot_be_used_is_refused_unread_like_any_file(tmp_path):
    ws = billing_workspace(tmp_path)
    s1, _ = ws.registry.members["10001"]
    drop_counts(ws, "10001", "effectifs\nsuite.csv", [[2026, "10001", s1, 4, 1, 1, 0]], JAN)
    ws.cli("traiter")
    ack = ws.ack("10001", "effectifs_suite")
    assert ack["statut"] == "rejete"
    assert [r["code"] for r in ws.ack_rows("10001", "effectifs_suite")] == ["NOM_FICHIER_INVALIDE"]
    assert ws.sql("SELECT count(*) FROM declarations") == [(0,)]


def test_a_declaration_finding_names_the_person_and_the_member_like_an_employee_file(tmp_path):
    ws = billing_workspace(tmp_path)
    s = ws.registry.members["10004"][0]
    rng = random.Random(4)
    wrong = make_nir(rng)
    wrong = wrong[:13] + f"{(int(wrong[13:]) + 1) % 97:02d}"  # a wrong key
    rows = [[2026, s, "MARTIN", "Anne", make_nir(rng), "SI"], [2026, s, "DURAND", "Paul", wrong, "SI"]]
    received(ws, write_csv(ws.drop("10004", "liste.csv"), LIST_HEADERS, rows, encoding="utf-8"), JAN)
    ws.cli("traiter")
    found = [r for r in ws.ack_rows("10004", "liste") if r["code"] == "NIR_CLE"]
    assert len(found) == 1
    row = found[0]
    assert (row["ligne"], row["nom"], row["prenom"]) == ("3", "DURAND", "Paul")
    assert row["nir_masque"] == wrong[:5] + "*" * 10 and wrong not in str(row)
    assert (row["adherent"], row["raison_sociale"]) == ("10004", "Entreprise 10004")
    page = ack_path(ws.outbox / "10004", "liste", "ar.html").read_text(encoding="utf-8")
    assert 'data-compteur="lignes_rejetees"' in page and 'data-compteur="entrees"' not in page  # no movements here
    assert '<th scope="col">Salarié</th>' in page and "DURAND" in page


def test_an_employee_file_page_still_counts_entries_exits_and_changes(tmp_path):
    ws = billing_workspace(tmp_path)
    s = ws.registry.members["10004"][0]
    employees_file(ws, "10004", "embauches.csv", [employee_row(make_nir(random.Random(2)), s)])
    ws.cli("traiter")
    page = ack_path(ws.outbox / "10004", "embauches", "ar.html").read_text(encoding="utf-8")
    assert all(f'data-compteur="{k}"' in page for k in ("entrees", "sorties", "modifications"))
