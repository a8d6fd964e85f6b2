"""Each rule of the catalogue (schemas/regles.toml) on realistic rows, through `traiter`: the right code,
on the right line and column, with the right severity; and the rows that must pass do pass."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest

from amsn_batch.vocab import catalogue
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, nir_key, write_csv
from tests.acks import ack_path

TODAY = dt.date.today()
DET_HEADERS = MOVEMENT_HEADERS + ["Aucun suivi particulier", "Habilitation électrique", "Autorisation de conduite",
                                  "CMR", "Travail de nuit", "Examen d'aptitude spécifique"]


def det_row(nir, siret, dets: str = "", **kw):
    """A row with determinant columns; dets: letters among A(ucun) H(abilitation) C(onduite) R(CMR) N(uit) E(xamen)."""
    return employee_row(nir, siret, **kw) + ["X" if c in dets else "" for c in "AHCRNE"]


def run(ws, rows, headers=MOVEMENT_HEADERS, sender="10001", name="f.csv"):
    write_csv(ws.drop(sender, name), headers, rows)
    ws.cli("traiter")
    stem = Path(name).stem
    return ws.ack(sender, stem), ws.ack_rows(sender, stem)


def found(rows) -> set[tuple[int, str, str, str]]:
    return {(int(r["ligne"]), r["colonne"], r["code"], r["gravite"]) for r in rows}


@pytest.fixture
def rng():
    return random.Random(3)


def with_body(body13: str) -> str:
    return body13 + nir_key(body13)


def test_nir_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    good = make_nir(rng, year=1985, month=5)
    rows = [
        employee_row(with_body("1851399123456"), s),  # month 13
        employee_row(with_body("1852599123456"), s),  # month 25
        employee_row(with_body("1853599123456"), s, name="A"),  # month 35: fictitious, accepted
        employee_row(with_body("1850599123000"), s),  # order 000
        employee_row(with_body("7850599123456"), s, name="B"),  # NIA: accepted with a warning
        employee_row(with_body("3850599123456"), s),  # sex 3
        employee_row(good[:13], s),  # no key
        employee_row("1,85058E+14", s),  # scientific notation
        employee_row(good, s, birth="12/07/1990", name="C"),  # birth date disagrees: warning
        employee_row("2850599ABC45612", s),  # letters
        employee_row(with_body("185052A123456"), s, name="D"),  # Corsica
    ]
    ack, out = run(ws, rows)
    col = "N° sécurité sociale"
    assert found(out) == {
        (2, col, "NIR_MOIS", "bloquant"), (3, col, "NIR_MOIS", "bloquant"), (5, col, "NIR_ORDRE", "bloquant"),
        (6, col, "NIR_PROVISOIRE", "avertissement"), (7, col, "NIR_FORMAT", "bloquant"),
        (8, col, "NIR_SANS_CLE", "bloquant"), (9, col, "NIR_NOTATION_SCIENTIFIQUE", "bloquant"),
        (10, "Date de naissance", "NIR_NAISSANCE", "avertissement"), (11, col, "NIR_FORMAT", "bloquant"),
    }
    assert sorted(n for (n,) in ws.sql("SELECT nom FROM salaries_actuels")) == ["A", "B", "C", "D"]
    msg = {r["code"]: r["message"] for r in out}
    assert "Texte" in msg["NIR_NOTATION_SCIENTIFIQUE"] and "clé" in msg["NIR_SANS_CLE"]
    assert "naissance en mai 1985," in msg["NIR_NAISSANCE"] and "12/07/1990" in msg["NIR_NAISSANCE"]


def test_nir_with_spaces_dots_and_apostrophe_is_normalised(ws, rng):
    s = ws.registry.members["10001"][0]
    n = make_nir(rng)
    spaced = f"{n[0]} {n[1:3]} {n[3:5]} {n[5:7]} {n[7:10]} {n[10:13]} {n[13:]}"
    dotted = ".".join([n[:5], n[5:10], n[10:]])
    ack, out = run(ws, [employee_row("'" + n, s), employee_row(spaced, s, name="X", job="Y"), employee_row(dotted, s)])
    # the three rows are the same person: the later two are duplicates
    assert found(out) == {(3, "N° sécurité sociale", "DOUBLON_FICHIER", "bloquant"), (4, "N° sécurité sociale", "DOUBLON_FICHIER", "bloquant")}
    assert ws.sql("SELECT nir FROM salaries") == [(n,)]


def test_pcs_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), s, pcs=p) for p in ("552a", "552A", "55D1", "552z", "5521", "999a", "")]
    ack, out = run(ws, rows)
    got = found(out)
    assert got == {(4, "Code PCS", "PCS_2020", "bloquant"), (5, "Code PCS", "PCS_INCONNU", "bloquant"),
                   (6, "Code PCS", "PCS_FORMAT", "bloquant"), (7, "Code PCS", "PCS_INCONNU", "bloquant"),
                   (8, "Code PCS", "CHAMP_OBLIGATOIRE", "bloquant")}
    msg = {int(r["ligne"]): r["message"] for r in out}
    assert "552a (Caissiers de magasin)" in msg[5]  # closest codes, with labels
    assert "PCS 2020" in msg[4]
    assert ws.sql("SELECT DISTINCT pcs FROM salaries_actuels") == [("552a",)]


@pytest.mark.parametrize("value,code", [("01", "01"), ("CDI", "01"), ("contrat à durée indéterminée", "01"), ("cdd", "02"),
                                        ("Intérim", "03"), ("CDI intermittent", "07"), ("2", "02"), ("Stage", "29")])
def test_contract_labels_stored_as_dsn_code(ws, rng, value, code):
    s = ws.registry.members["10001"][0]
    run(ws, [employee_row(make_nir(rng), s, contract=value)])
    assert ws.sql("SELECT contrat FROM salaries_actuels") == [(code,)]


def test_contract_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    ack, out = run(ws, [employee_row(make_nir(rng), s, contract="Apprenti"), employee_row(make_nir(rng), s, contract="Contrat aidé")])
    assert found(out) == {(2, "Contrat", "CONTRAT_DISPOSITIF", "bloquant"), (3, "Contrat", "CONTRAT_INVALIDE", "bloquant")}


def test_date_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    far = (TODAY + dt.timedelta(days=400)).strftime("%d/%m/%Y")
    soon = (TODAY + dt.timedelta(days=60)).strftime("%d/%m/%Y")
    rows = [
        employee_row(make_nir(rng), s, hired=far),
        employee_row(make_nir(rng), s, hired="01/01/1939"),
        employee_row(make_nir(rng), s, hired=soon, name="OK1"),
        employee_row(make_nir(rng), s, hired="17/08/21", name="OK2"),
        employee_row(make_nir(rng), s, hired="2021-08-17", name="OK3"),
        employee_row(make_nir(rng), s, hired="44425", name="OK4"),
        employee_row(make_nir(rng, year=2019, month=1), s, birth="01/01/2019", category="SIA"),
        employee_row(make_nir(rng), s, hired="30/02/2024"),
    ]
    ack, out = run(ws, rows)
    assert found(out) == {(2, "Date d'embauche", "DATE_EMBAUCHE_FUTURE", "bloquant"),
                          (3, "Date d'embauche", "DATE_EMBAUCHE_ANCIENNE", "bloquant"),
                          (8, "Date de naissance", "DATE_NAISSANCE_INVRAISEMBLABLE", "bloquant"),
                          (9, "Date d'embauche", "DATE_INVALIDE", "bloquant")}
    assert dict(ws.sql("SELECT nom, date_embauche FROM salaries_actuels WHERE nom LIKE 'OK%'")) == {
        "OK1": (TODAY + dt.timedelta(days=60)).isoformat(), "OK2": "2021-08-17", "OK3": "2021-08-17", "OK4": "2021-08-17"}


def test_exit_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    a, b = make_nir(rng), make_nir(rng)
    run(ws, [employee_row(a, s, hired="01/09/2026"), employee_row(b, s)], name="1.csv")
    ack, out = run(ws, [employee_row(a, s, movement="Sortie", exit="01/08/2026"),
                        employee_row(b, s, movement="Sortie", hired="", exit="")], name="2.csv")
    assert found(out) == {(2, "Date de sortie", "DATE_SORTIE_AVANT_EMBAUCHE", "bloquant"),
                          (3, "Date de sortie", "DATE_SORTIE_MANQUANTE", "bloquant")}


def test_category_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    rows = [
        det_row(make_nir(rng), s, "R", category="SI"),  # CMR but SI: too low
        det_row(make_nir(rng), s, "N", category="SI"),  # night work but SI: too low
        det_row(make_nir(rng), s, "H", category="SIR"),  # habilitation only, SIR: 2025 reform warning
        det_row(make_nir(rng), s, "H", category="SI", name="SIH"),  # stored as SIH with a warning
        det_row(make_nir(rng), s, "H", category="SIH", name="OK"),
        det_row(make_nir(rng), s, "AR", category="SIR"),  # "aucun" with a risk
        det_row(make_nir(rng), s, "", category="SIA"),  # SIA with nothing checked
        det_row(make_nir(rng), s, "E", category="SIR", name="OK2"),  # employer-added SIR post
        det_row(make_nir(rng), s, "RC", category="", name="DERIVED"),  # empty: derived from the determinants
    ]
    ack, out = run(ws, rows, headers=DET_HEADERS)
    assert found(out) == {
        (2, "Catégorie déclarée", "CATEGORIE_INSUFFISANTE", "bloquant"),
        (3, "Catégorie déclarée", "CATEGORIE_INSUFFISANTE", "bloquant"),
        (4, "Catégorie déclarée", "CATEGORIE_SIR_HABILITATION", "avertissement"),
        (5, "Catégorie déclarée", "CATEGORIE_SIH", "avertissement"),
        (7, "Aucun suivi particulier", "AUCUN_AVEC_RISQUE", "bloquant"),
        (8, "Catégorie déclarée", "CATEGORIE_SANS_DETERMINANT", "avertissement"),
    }
    got = dict(ws.sql("SELECT nom, categorie FROM salaries_actuels"))
    assert got["SIH"] == "SIH" and got["OK"] == "SIH" and got["OK2"] == "SIR" and got["DERIVED"] == "SIR"
    assert ws.sql("SELECT determinants FROM salaries_actuels WHERE nom='DERIVED'") == [("autorisation_conduite,cmr",)]
    assert "CMR" in next(r["message"] for r in out if r["ligne"] == "2")


def test_minor_is_sia_at_least(ws, rng):
    s = ws.registry.members["10001"][0]
    minor_year = TODAY.year - 16
    rows = [
        employee_row(make_nir(rng, year=minor_year, month=1), s, category="SI"),  # minor from the NIR
        employee_row(make_nir(rng, year=1990), s, birth=f"01/01/{minor_year}", category="SI"),  # from the birth date
        employee_row(make_nir(rng, year=minor_year, month=1), s, category="", name="DERIVED"),
        employee_row(make_nir(rng, year=minor_year, month=1), s, category="SIA", name="OK"),
    ]
    ack, out = run(ws, rows)
    codes = found(out)
    assert (2, "Catégorie déclarée", "MINEUR_SIA", "bloquant") in codes
    assert (3, "Catégorie déclarée", "MINEUR_SIA", "bloquant") in codes
    assert not any(c[0] in (4, 5) and c[3] == "bloquant" for c in codes)
    assert dict(ws.sql("SELECT nom, categorie FROM salaries_actuels")) == {"DERIVED": "SIA", "OK": "SIA"}


def test_multi_employer_warning_only_within_the_senders_own_file(ws, rng):
    n, m = make_nir(rng), make_nir(rng)
    s2, s3 = ws.registry.members["10002"][0], ws.registry.members["10003"][0]
    ack, out = run(ws, [employee_row(n, s2), employee_row(n, s3), employee_row(m, s2), employee_row(m, s3, multi="Oui")],
                   sender="PAIE01", name="2.csv")
    assert found(out) == {(2, "Salarié multi-employeurs", "MULTI_EMPLOYEUR_NON_DECLARE", "avertissement"),
                          (3, "Salarié multi-employeurs", "MULTI_EMPLOYEUR_NON_DECLARE", "avertissement"),
                          (4, "Salarié multi-employeurs", "MULTI_EMPLOYEUR_NON_DECLARE", "avertissement")}
    assert ack["lignes_acceptees"] == 4


def test_a_sender_is_never_told_that_someone_works_for_another_member(ws, rng):
    n = make_nir(rng)
    run(ws, [employee_row(n, ws.registry.members["10001"][0])], name="1.csv")
    ack, out = run(ws, [employee_row(n, ws.registry.members["10002"][0])], sender="PAIE01", name="2.csv")
    assert found(out) == set() and ack["lignes_acceptees"] == 1
    ws.cli("rapport", "quotidien")
    page = next((ws.root / "rapports").glob("quotidien-*.html")).read_text(encoding="utf-8")
    staff = page[page.index('id="h-multi-employeurs"'):]
    assert "10001" in staff and "10002" in staff


def test_inactive_member_entry_is_a_warning(ws, rng, tmp_path):
    rows = ws.registry.rows()
    for r in rows:
        if r[0] == "10003":
            r[6] = "Liquidation judiciaire"
    reg = write_csv(tmp_path / "r.csv", ws.registry.HEADERS, rows, encoding="utf-8")
    ws.cli("adherents", "importer", str(reg))
    ack, out = run(ws, [employee_row(make_nir(rng), ws.registry.members["10003"][0])], sender="10003")
    assert found(out) == {(2, "SIRET", "ADHERENT_INACTIF", "avertissement")} and ack["statut"] == "accepte"


def test_findings_capped_per_code_but_all_counted(ws, rng):
    ws.config.write_text(ws.config.read_text() + "\n[limites]\nconstats_par_code = 5\n", encoding="utf-8")
    s = ws.registry.members["10001"][0]
    rows = [employee_row("123", s) for _ in range(12)] + [employee_row(make_nir(rng), s, pcs="55D1")]
    ack, out = run(ws, rows)
    assert ack["lignes_rejetees"] == 13
    assert sum(r["code"] == "NIR_FORMAT" for r in out) == 5 + 1  # five listed, one line saying how many more
    assert ack["constats_non_listes"] == {"NIR_FORMAT": 7}
    assert any("7 autres" in r["message"] for r in out)
    assert ws.sql("SELECT count(*) FROM constats WHERE code='NIR_FORMAT'") == [(12,)]


def test_every_rule_has_a_test():
    text = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    untested = [code for code in catalogue() if not re.search(rf"\b{code}\b", text)]
    assert untested == []


def test_rules_doc_is_generated_from_the_catalogue():
    from amsn_batch.rules.doc import rules_markdown

    doc = (Path(__file__).resolve().parent.parent / "docs" / "regles.md").read_text(encoding="utf-8")
    assert doc == rules_markdown(), "docs/regles.md is stale: run `amsn-batch regles --doc docs/regles.md`"


def test_file_shape_rules(ws, rng):
    s = ws.registry.members["10001"][0]
    # header only
    ack, out = run(ws, [], name="vide.csv")
    assert ack["statut"] == "rejete" and found(out) == {(1, "", "FICHIER_VIDE", "bloquant")}
    # a repeated column, a line with more fields than headers, bad yes/no and category values
    headers = MOVEMENT_HEADERS + ["NIR"]
    n = make_nir(rng)
    rows = [employee_row(n, s) + [n],
            employee_row(make_nir(rng), s, multi="Peut-être") + [""],
            employee_row(make_nir(rng), s, category="SIX") + [""],
            employee_row(make_nir(rng), s) + ["", "décalé"]]
    ack, out = run(ws, rows, headers=headers, name="forme.csv")
    assert found(out) == {(1, "NIR", "COLONNE_EN_DOUBLE", "avertissement"),
                          (3, "Salarié multi-employeurs", "OUI_NON_INVALIDE", "bloquant"),
                          (4, "Catégorie déclarée", "CATEGORIE_INVALIDE", "bloquant"),
                          (5, "", "LIGNE_CHAMPS_EN_TROP", "bloquant")}
    assert ack["lignes_acceptees"] == 1


def test_registry_rules(tmp_path):
    from tests.conftest import make_workspace
    from tests.factories import Registry, make_siren, make_siret, make_vat

    ws = make_workspace(tmp_path / "ws")
    reg = Registry()
    rows = reg.rows()
    rows[0][3] = ""  # no VAT number: warning
    rows[1][3] = ""
    other = make_siren("61234567")
    rows[2][3] = make_vat(other)  # VAT of another company: warning
    rows.append(["", "Sans numéro", make_siret(make_siren("71234567")), "", "x@y.fr", "Caen", "Actif"])
    rows.append(["10009", "Doublon", rows[0][2], "", "x@y.fr", "Caen", "Actif"])
    rows.append(["10010", "Statut bizarre", make_siret(make_siren("81234567")), "", "x@y.fr", "Caen", "En sommeil"])
    path = write_csv(tmp_path / "r.csv", reg.HEADERS, rows, encoding="utf-8")
    mand = write_csv(tmp_path / "m.csv", ["Mandataire", "N° adhérent"], [["PAIE01", "10002"], ["PAIE01", "99999"]], encoding="utf-8")
    proc = ws.cli("adherents", "importer", str(path), "--mandats", str(mand), check=False)
    assert proc.returncode == 1
    err = proc.stderr
    assert "r.csv ligne 2 [N° TVA intracommunautaire] avertissement REG_TVA_MANQUANTE" in err
    assert "r.csv ligne 4 [N° TVA intracommunautaire] avertissement REG_TVA_AUTRE_SIREN" in err
    assert "r.csv ligne 7 [N° adhérent] bloquant REG_CHAMP_OBLIGATOIRE" in err
    assert "r.csv ligne 8 [SIRET] bloquant REG_SIRET_EN_DOUBLE" in err
    assert "r.csv ligne 9 [Statut] bloquant REG_STATUT_INVALIDE" in err
    assert "m.csv ligne 3 [N° adhérent] bloquant REG_MANDAT_ADHERENT_INCONNU" in err


LIST_HEADERS = [h for h in MOVEMENT_HEADERS if h != "Mouvement"] + ["Date de la liste"]


def list_row(nir, siret, list_date="30/11/2026", **kw):
    row = employee_row(nir, siret, **kw)
    del row[MOVEMENT_HEADERS.index("Mouvement")]
    return row + [list_date]


def test_full_staff_list_derives_movements(ws, rng):
    s = ws.registry.members["10001"][0]
    staff = [make_nir(rng) for _ in range(10)]
    run(ws, [employee_row(n, s, name=f"N{i}") for i, n in enumerate(staff)], name="depart.csv")
    newcomer = make_nir(rng)
    rows = [list_row(n, s, name=f"N{i}") for i, n in enumerate(staff[:9])]  # N9 missing: leaves
    rows[0] = list_row(staff[0], s, name="N0", job="Responsable")  # changed
    rows[1] = list_row(staff[1], s, name="N1", exit="15/11/2026")  # leaves at a given date
    rows.append(list_row(newcomer, s, name="NEW"))
    ack, out = run(ws, rows, headers=LIST_HEADERS, name="liste.csv")
    assert ack["statut"] == "accepte"
    assert (ack["entrees"], ack["modifications"], ack["sorties"]) == (1, 1, 2)
    codes = {(r["ligne"], r["code"]) for r in out}
    assert ("1", "LISTE_COMPLETE") in codes and ("2", "LISTE_MODIFICATION") in codes and ("11", "LISTE_ENTREE") in codes
    gone = [r for r in out if r["code"] == "LISTE_SORTIE"]
    assert len(gone) == 1 and "N9" in gone[0]["message"] and "30/11/2026" in gone[0]["message"]
    assert staff[9] not in ack_path(ws.outbox / "10001", "liste", "ar.csv").read_text(encoding="utf-8-sig")  # masked
    assert "Poste de travail" in next(r["message"] for r in out if r["code"] == "LISTE_MODIFICATION")
    state = {n: (p, d) for n, p, d in ws.sql("SELECT nom, present, date_sortie FROM salaries_actuels")}
    assert state["N9"] == (0, "2026-11-30") and state["N1"] == (0, "2026-11-15") and state["NEW"] == (1, None)
    assert state["N2"] == (1, None)
    # unchanged employees get no new version
    assert ws.sql("SELECT count(*) FROM salaries_versions v JOIN salaries s ON s.id=v.salarie_id WHERE s.nir=?", staff[2]) == [(1,)]


def test_full_list_exiting_too_many_is_held_until_released(ws, rng):
    s = ws.registry.members["10001"][0]
    staff = [make_nir(rng) for _ in range(10)]
    run(ws, [employee_row(n, s) for n in staff], name="depart.csv")
    ack, out = run(ws, [list_row(n, s) for n in staff[:7]], headers=LIST_HEADERS, name="liste partielle.csv")
    assert ack["statut"] == "en_attente" and ack["sorties"] == 0
    held = [r for r in out if r["code"] == "LISTE_RETENUE"]
    assert held and "3 salarié(s) sur 10" in held[0]["message"] and "30 %" in held[0]["message"]
    assert ws.sql("SELECT count(*) FROM salaries WHERE present=1") == [(10,)]
    kept = ws.archive / "10001" / "en_attente" / "liste partielle.csv"
    assert kept.exists()
    proc = ws.cli("liste", "valider", "inconnue.csv", check=False)
    assert proc.returncode == 1 and "liste partielle.csv" in proc.stderr
    ws.cli("liste", "valider", "liste partielle.csv")
    ack = ws.ack("10001", "liste partielle")
    assert ack["statut"] == "accepte" and ack["sorties"] == 3
    assert ws.sql("SELECT count(*) FROM salaries WHERE present=1") == [(7,)]
    assert not kept.exists() and list((ws.archive / "10001").rglob("liste partielle.csv"))
    assert ws.sql("SELECT statut, etape FROM fichiers WHERE nom='liste partielle.csv'") == [("accepte", "termine")]


def test_full_list_with_bad_date_is_refused(ws, rng):
    s = ws.registry.members["10001"][0]
    ack, out = run(ws, [list_row(make_nir(rng), s, list_date="30/11/2026"), list_row(make_nir(rng), s, list_date="31/12/2026")],
                   headers=LIST_HEADERS, name="l.csv")
    assert ack["statut"] == "rejete" and {r["code"] for r in out} == {"LISTE_DATE_INVALIDE"}


def test_held_list_refused_by_staff(ws, rng):
    s = ws.registry.members["10001"][0]
    staff = [make_nir(rng) for _ in range(10)]
    run(ws, [employee_row(n, s) for n in staff], name="depart.csv")
    run(ws, [list_row(n, s) for n in staff[:5]], headers=LIST_HEADERS, name="moitie.csv")
    assert ws.ack("10001", "moitie")["statut"] == "en_attente"
    ws.cli("liste", "rejeter", "moitie.csv", "--motif", "liste d'un seul établissement")
    ack = ws.ack("10001", "moitie")
    assert ack["statut"] == "rejete" and ack["sorties"] == 0 and ack["lignes_acceptees"] == 0
    refusal = [r for r in ws.ack_rows("10001", "moitie") if r["code"] == "LISTE_REFUSEE_SERVICE"]
    assert refusal and "seul établissement" in refusal[0]["message"] and refusal[0]["gravite"] == "bloquant"
    assert ws.sql("SELECT count(*) FROM salaries WHERE present=1") == [(10,)]
    assert ws.sql("SELECT statut, etape FROM fichiers WHERE nom='moitie.csv'") == [("rejete", "termine")]
    assert not (ws.archive / "10001" / "en_attente" / "moitie.csv").exists()
