"""The parts of the reports that need no browser: NIR masking of free text, French formats, the verdict
sentence, grouping findings by rule, the service directory, the charts' text alternatives."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amsn_batch.config import ConfigError
from amsn_batch.reports.ack import Ack
from amsn_batch.reports.charts import Bar, bar_chart
from amsn_batch.reports.contacts import load_directory
from amsn_batch.formats import percent_fr
from amsn_batch.masking import scrub
from amsn_batch.reports.summary import group_findings, verdict_sentence
from tests.factories import make_nir, make_siren, make_siret


def test_scrub_masks_nir_in_any_spelling():
    nir = make_nir(random.Random(1), sex="2", year=1985, month=3)
    assert scrub(f"valeur {nir} tapée") == f"valeur {nir[:5]}{'*' * 10} tapée"
    spaced = f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}"
    assert scrub(spaced) == f"{nir[0]} {nir[1:3]} {nir[3:5]} ** *** *** **"
    assert scrub(nir.replace(nir[5:7], "2A", 1)[:15]).count("*") == 10  # Corsica
    assert scrub(nir[:13]) == nir[:5] + "*" * 8  # without its key
    assert scrub(f"export_{nir}.csv") == f"export_{nir[:5]}{'*' * 10}.csv"


def test_scrub_leaves_other_numbers_alone():
    siret = make_siret(make_siren("73282932"))
    for text in (siret, "02 31 00 00 10", "17/08/2021", "552a", "1 234,56 €", "2,95109E+14", "", "Vendeuse"):
        assert scrub(text) == text


@given(st.text(alphabet="0123456789 ./-AB", max_size=40))
def test_scrub_never_lets_fifteen_nir_digits_through(text):
    out = scrub(text)
    assert len(out) == len(text)
    nir = make_nir(random.Random(len(text)))
    assert nir not in scrub(text + nir + " " + text)


def test_percent_fr():
    assert percent_fr(0.275) == "27,5\u00a0%"
    assert percent_fr(1) == "100\u00a0%"
    assert percent_fr(0) == "0\u00a0%"


@pytest.mark.parametrize("statut, counts, expected", [
    ("accepte", (1, 1, 0), "Fichier accepté : la ligne a été prise en compte."),
    ("accepte", (1234, 1234, 0), "Fichier accepté : les 1\u202f234 lignes ont été prises en compte."),
    ("accepte_partiellement", (10, 1, 9), "Fichier accepté en partie : 1 ligne sur 10 a été prise en compte, 9 lignes refusées sont à corriger."),
    ("accepte_partiellement", (10, 9, 1), "Fichier accepté en partie : 9 lignes sur 10 ont été prises en compte, 1 ligne refusée est à corriger."),
    ("rejete", (0, 0, 0), "Fichier refusé : il n'a pas pu être traité, rien n'a été pris en compte."),
    ("rejete", (1, 0, 1), "Fichier refusé : sa ligne n'a pas été prise en compte."),
    ("rejete", (40, 0, 40), "Fichier refusé : aucune des 40 lignes n'a été prise en compte."),
])
def test_verdict_sentence(statut, counts, expected):
    n, ok, ko = counts
    assert verdict_sentence(Ack("f.csv", "0" * 64, "2026-11-30T09:00:00", statut, "10001", n, ok, ko)) == expected


def test_findings_grouped_by_rule_most_frequent_first():
    def f(line, code, col="", val="", msg="m", grav="bloquant"):
        return {"ligne": line, "colonne": col, "valeur": val, "code": code, "gravite": grav, "message": msg}
    date_msg = "« {} » n'est pas une date valide. Écrivez la date au format JJ/MM/AAAA, par exemple 17/08/2021."
    findings = ([f(i, "DATE_INVALIDE", "Date d'embauche", f"3{i}/13/2026", date_msg.format(f"3{i}/13/2026")) for i in range(2, 30)]
                + [f(40, "COLONNE_INCONNUE", "Remarques", msg="La colonne « Remarques » n'est pas reconnue : elle est ignorée. "
                     "Supprimez-la, ou renommez-la avec un des en-têtes attendus si elle devait être lue.", grav="avertissement")]
                + [f(i, "PCS_FORMAT", "Code PCS", "55D1") for i in (50, 51)])
    groups = group_findings(findings, rows_per_rule=5)
    assert [g.code for g in groups] == ["DATE_INVALIDE", "PCS_FORMAT", "COLONNE_INCONNUE"]  # blocking first
    date = groups[0]
    assert (date.lignes, len(date.exemples), date.autres) == (28, 5, 23)
    assert date.correction == "Écrivez la date au format JJ/MM/AAAA, par exemple 17/08/2021."
    assert date.detail_varie and date.exemples[0].detail == "« 32/13/2026 » n'est pas une date valide."
    assert groups[2].explication == "La colonne « Remarques » n'est pas reconnue : elle est ignorée."


def test_directory_errors_are_french_configuration_errors(tmp_path):
    bad = tmp_path / "annuaire.toml"
    bad.write_text('[[services]]\nlibelle = "Sans adresse"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="email"):
        load_directory(bad)
    bad.write_text('[centres."Centre de Caen"]\nequipe = [{ nom = "Dr X" }]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="role"):
        load_directory(bad)
    with pytest.raises(ConfigError, match="introuvable"):
        load_directory(tmp_path / "absent.toml")


def test_default_directory_has_the_portal_service_emails():
    from amsn_batch import vocab

    d = load_directory(vocab.path("annuaire.toml"))
    assert [s["email"] for s in d.services] == ["relation.adherents@amsn.fr", "comptabilite@amsn.fr",
                                                "formations@amsn.fr", "communication@amsn.fr"]


def test_chart_has_text_alternative_and_escapes_labels():
    svg = str(bar_chart([Bar("<b>A & B</b>", 3, "3"), Bar("C", 0, "0")], "Titre", "A : 3 ; C : 0"))
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg and "A : 3 ; C : 0" in svg
    assert "<b>" not in svg and "&lt;b&gt;A &amp; B&lt;/b&gt;" in svg


@pytest.mark.parametrize("statut", ["accepte", "accepte_partiellement", "rejete", "en_attente", "deja_traite"])
def test_every_status_renders_a_verdict(statut):
    from amsn_batch.reports.ack import render_html

    ack = Ack("liste.csv", "a" * 64, "2026-11-30T09:00:00", statut, "10001", 10, 4 if statut != "rejete" else 0,
              6 if statut in ("accepte_partiellement", "rejete") else 0,
              traitement_initial={"traite_le": "2026-11-02T08:00:00", "statut": "accepte", "lignes": 10, "lignes_acceptees": 10}
              if statut == "deja_traite" else None)
    html = render_html(ack, [])
    assert f'data-statut="{statut}"' in html
    assert verdict_sentence(ack).split(" : ")[0] in html
    if statut == "deja_traite":
        assert "Fichier déjà reçu le 02/11/2026" in verdict_sentence(ack)


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    from amsn_batch.formats import write_atomic

    target = tmp_path / "accuse.ar.csv"
    write_atomic(target, "ancien\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "nouveau \udc80")  # fails once the temporary file is open
    assert target.read_text(encoding="utf-8") == "ancien\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuse.ar.csv"]


def test_findings_of_a_payroll_firm_grouped_by_client():
    from amsn_batch.reports.summary import column_label, group_by_member, person

    def finding(ligne, code, adherent, nom="", **kw):
        return {"ligne": ligne, "colonne": "Contrat", "colonne_excel": "I", "valeur": "X", "code": code,
                "gravite": "bloquant", "message": "Contrat « X » non reconnu.", "nom": nom, "prenom": "Anne",
                "nir_masque": "28505**********", "adherent": adherent,
                "raison_sociale": f"Entreprise {adherent}" if adherent else "", **kw}

    findings = [finding(3, "CONTRAT_INVALIDE", "10003", "NOIR"), finding(2, "CONTRAT_INVALIDE", "10002", "BLANC"),
                finding(1, "COLONNE_INCONNUE", "", gravite="avertissement", colonne="Divers", colonne_excel="O"),
                finding(4, "CONTRAT_INVALIDE", "10002", "GRIS")]
    clients = group_by_member(findings)
    assert [(c.adherent, c.titre) for c in clients] == [
        ("10002", "Adhérent 10002 — Entreprise 10002"), ("10003", "Adhérent 10003 — Entreprise 10003"),
        ("", "Tout le fichier, ou lignes dont l'adhérent n'est pas reconnu")]
    assert [r.ligne for r in clients[0].bloquants[0].exemples] == [2, 4]
    assert clients[2].bloquants == [] and clients[2].avertissements[0].code == "COLONNE_INCONNUE"
    assert clients[0].bloquants[0].exemples[0].qui == "BLANC Anne · NIR 28505**********"
    assert column_label(findings[0]) == "I — Contrat"
    assert column_label({"colonne": "Contrat"}) == "Contrat" and column_label({"colonne": ""}) == ""
    assert person({"nom": "", "prenom": "", "nir_masque": ""}) == ""
