"""Employee files end to end, through the real CLI: inbox → checks → store → acknowledgement → archive."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv, write_xlsx
from tests.acks import ack_path


@pytest.fixture
def rng():
    return random.Random(42)


def test_excel_csv_export_cp1252_is_taken_and_refused_lines_reported(ws, rng):
    siret = ws.registry.members["10001"][0]
    good = [make_nir(rng) for _ in range(3)]
    bad_key = good[0][:13] + f"{(int(good[0][13:]) + 1) % 100:02d}"
    rows = [
        employee_row(good[0], siret, name="LEFÈVRE", first="Jérôme"),
        employee_row(good[1], siret, name="MARTIN", first="Élodie"),
        employee_row(bad_key, siret, name="PETIT"),  # line 4: wrong key
        employee_row(good[2], siret, hired="31/11/2026", name="DURAND"),  # line 5: impossible date
        employee_row("2,95109E+14", siret, name="LEBLANC"),  # line 6: NIR ruined by the spreadsheet
    ]
    write_csv(ws.drop("10001", "embauches novembre.csv"), MOVEMENT_HEADERS, rows, encoding="cp1252")
    out = ws.cli("traiter")
    assert "embauches novembre.csv" in out.stdout

    ack = ws.ack("10001", "embauches novembre")
    assert ack["statut"] == "accepte_partiellement"
    assert (ack["lignes"], ack["lignes_acceptees"], ack["lignes_rejetees"]) == (5, 2, 3)
    assert (ack["entrees"], ack["sorties"], ack["modifications"]) == (2, 0, 0)
    assert len(ack["sha256"]) == 64
    findings = ws.ack_rows("10001", "embauches novembre")
    by_line = {(int(f["ligne"]), f["code"]): f for f in findings}
    assert by_line[(4, "NIR_CLE")]["colonne"] == "N° sécurité sociale"
    assert by_line[(5, "DATE_INVALIDE")]["colonne"] == "Date d'embauche"
    assert by_line[(5, "DATE_INVALIDE")]["valeur"] == "31/11/2026"
    assert by_line[(6, "NIR_NOTATION_SCIENTIFIQUE")]["gravite"] == "bloquant"
    assert "Texte" in by_line[(6, "NIR_NOTATION_SCIENTIFIQUE")]["message"]
    # a NIR is masked in what goes back to the sender
    assert bad_key not in ack_path(ws.outbox / "10001", "embauches novembre", "ar.csv").read_text(encoding="utf-8-sig")
    assert by_line[(4, "NIR_CLE")]["valeur"].startswith(bad_key[:5]) and "*" in by_line[(4, "NIR_CLE")]["valeur"]
    # the store holds exactly the accepted movements
    stored = ws.sql("SELECT nir, nom, prenom FROM salaries_actuels ORDER BY nom")
    assert stored == [(good[0], "LEFÈVRE", "Jérôme"), (good[1], "MARTIN", "Élodie")]
    # the original is archived under archive/<sender>/<AAAA>/<MM>/
    archived = list((ws.archive / "10001").rglob("*.csv"))
    assert [p.name for p in archived] == ["embauches novembre.csv"]
    assert len(archived[0].relative_to(ws.archive / "10001").parts) == 3
    assert not list((ws.inbox / "10001").iterdir())


@pytest.mark.parametrize("encoding,bom,sep", [("utf-8", True, ";"), ("utf-8", False, ","), ("utf-16", False, "\t"),
                                               ("cp1252", False, "\t"), ("utf-8", True, ",")])
def test_encodings_and_separators(ws, rng, encoding, bom, sep):
    siret = ws.registry.members["10003"][0]
    nirs = [make_nir(rng) for _ in range(2)]
    rows = [employee_row(n, siret, name="GÉRARD", first="Françoise", job="Opératrice, régleuse") for n in nirs]
    write_csv(ws.drop("10003", "f.csv"), MOVEMENT_HEADERS, rows, encoding=encoding, bom=bom, sep=sep)
    ws.cli("traiter")
    assert ws.ack("10003", "f")["statut"] == "accepte"
    assert ws.sql("SELECT DISTINCT nom, prenom, poste FROM salaries_actuels") == [("GÉRARD", "Françoise", "Opératrice, régleuse")]


def test_xlsx_with_title_blank_rows_numeric_dates_and_odd_headers(ws, rng):
    import datetime as dt

    siret = ws.registry.members["10002"][0]
    headers = ["NOM", "prénom", "N° SS", "Siret établissement", "Action", "Date d'entrée", "Type de contrat",
               "Poste", "Code PCS-ESE", "Catégorie", "Habilitation électrique"]
    n1, n2, n3 = (make_nir(rng) for _ in range(3))
    rows = [
        ["ROUX", "Julien", n1, siret, "Entrée", dt.date(2026, 11, 3), "CDI", "Chauffeur", "641a", "SIH", "X"],
        ["FOURNIER", "Inès", int(n2), siret, "entrée", 46330, "CDD", "Agent de quai", "676a", "SI", None],
        [],
        ["BLANC", "Théo", n3, siret, "Entrée", "04/11/2026", "Intérim", "Cariste", "652A", "SI", "non"],
        ["NOIR", "Léa", n3[:-2] + "00", siret, "Entrée", "2026-11-05", "CDI", "Cariste", "652a", "SI", ""],
    ]
    write_xlsx(ws.drop("10002", "Mouvements nov.xlsx"), headers, rows, title=["Transports — novembre 2026", ""])
    ws.cli("traiter")
    ack = ws.ack("10002", "Mouvements nov")
    assert (ack["statut"], ack["lignes"], ack["lignes_acceptees"]) == ("accepte_partiellement", 4, 3)
    findings = ws.ack_rows("10002", "Mouvements nov")
    # title on line 1, blank line 2, header line 3; the blank row between data rows keeps its place
    assert [(f["ligne"], f["colonne"], f["code"]) for f in findings] == [("8", "N° SS", "NIR_CLE")]
    got = dict(ws.sql("SELECT nom, date_embauche FROM salaries_actuels"))
    assert got == {"ROUX": "2026-11-03", "FOURNIER": "2026-11-04", "BLANC": "2026-11-04"}
    assert ws.sql("SELECT pcs, determinants FROM salaries_actuels WHERE nom='ROUX'") == [("641a", "habilitation_electrique")]
    assert ws.sql("SELECT pcs FROM salaries_actuels WHERE nom='BLANC'") == [("652a",)]


def test_file_dropped_twice_is_applied_once(ws, rng):
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), siret) for _ in range(3)]
    src = write_csv(ws.root / "f.csv", MOVEMENT_HEADERS, rows)
    shutil.copy(src, ws.drop("10001", "effectifs.csv"))
    ws.cli("traiter")
    first = ws.ack("10001", "effectifs")
    shutil.copy(src, ws.drop("10001", "effectifs.csv"))
    ws.cli("traiter")
    second = ws.ack("10001", "effectifs")
    assert first["statut"] == "accepte" and second["statut"] == "deja_traite"
    assert second["sha256"] == first["sha256"] and second["entrees"] == 0
    assert second["traitement_initial"]["lignes_acceptees"] == 3
    assert ws.sql("SELECT count(*) FROM salaries_versions") == [(3,)]
    assert ws.sql("SELECT count(*) FROM fichiers") == [(1,)]
    # both copies are kept
    assert len(list((ws.archive / "10001").rglob("effectifs*.csv"))) == 2
    # the same content under another name is also recognised
    shutil.copy(src, ws.drop("10001", "copie.csv"))
    ws.cli("traiter")
    assert ws.ack("10001", "copie")["statut"] == "deja_traite"


def test_mandataire_without_mandate_gets_whole_file_refused(ws, rng):
    ok_siret = ws.registry.members["10002"][0]  # PAIE01 holds a mandate for 10002
    other = ws.registry.members["10001"][0]  # ...but not for 10001
    rows = [employee_row(make_nir(rng), ok_siret), employee_row(make_nir(rng), other)]
    write_csv(ws.drop("PAIE01", "paie.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    ack = ws.ack("PAIE01", "paie")
    assert ack["statut"] == "rejete" and ack["lignes_acceptees"] == 0
    findings = ws.ack_rows("PAIE01", "paie")
    assert [(f["ligne"], f["code"]) for f in findings] == [("3", "MANDAT_ABSENT")]
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]


def test_mandataire_with_mandates_sends_for_several_members(ws, rng):
    rows = [employee_row(make_nir(rng), ws.registry.members["10002"][0]),
            employee_row(make_nir(rng), ws.registry.members["10003"][0])]
    write_csv(ws.drop("PAIE01", "paie.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    assert ws.ack("PAIE01", "paie")["statut"] == "accepte"
    assert sorted(ws.sql("SELECT adherent FROM salaries")) == [("10002",), ("10003",)]


def test_unknown_sender_folder_is_refused(ws, rng):
    rows = [employee_row(make_nir(rng), ws.registry.members["10001"][0])]
    write_csv(ws.drop("99999", "f.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    ack = ws.ack("99999", "f")
    assert ack["statut"] == "rejete"
    assert [f["code"] for f in ws.ack_rows("99999", "f")] == ["EXPEDITEUR_INCONNU"]
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]
    assert list((ws.archive / "99999").rglob("f.csv"))


def test_establishment_of_another_member_refuses_the_line(ws, rng):
    rows = [employee_row(make_nir(rng), ws.registry.members["10001"][0]),
            employee_row(make_nir(rng), ws.registry.members["10002"][0]),
            employee_row(make_nir(rng), "12345678901234")]
    write_csv(ws.drop("10001", "f.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    assert ws.ack("10001", "f")["lignes_acceptees"] == 1
    assert [(f["ligne"], f["code"]) for f in ws.ack_rows("10001", "f")] == [("3", "SIRET_AUTRE_ADHERENT"), ("4", "SIRET_INCONNU")]


def test_missing_mandatory_column_rejects_file_with_expected_headers(ws, rng):
    headers = [h for h in MOVEMENT_HEADERS if h != "Code PCS"] + ["Colonne perso"]
    rows = [[v for h, v in zip(MOVEMENT_HEADERS, employee_row(make_nir(rng), ws.registry.members["10001"][0])) if h != "Code PCS"] + ["x"]]
    write_csv(ws.drop("10001", "f.csv"), headers, rows)
    ws.cli("traiter")
    ack = ws.ack("10001", "f")
    assert ack["statut"] == "rejete"
    findings = ws.ack_rows("10001", "f")
    missing = [f for f in findings if f["code"] == "COLONNE_MANQUANTE"]
    assert len(missing) == 1 and "Code PCS" in missing[0]["message"] and "Nom de naissance" in missing[0]["message"]
    unknown = [f for f in findings if f["code"] == "COLONNE_INCONNUE"]
    assert unknown[0]["gravite"] == "avertissement" and unknown[0]["colonne"] == "Colonne perso"
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]


def test_unknown_extra_column_is_only_a_warning(ws, rng):
    headers = MOVEMENT_HEADERS + ["Service interne"]
    rows = [employee_row(make_nir(rng), ws.registry.members["10001"][0]) + ["Atelier"]]
    write_csv(ws.drop("10001", "f.csv"), headers, rows)
    ws.cli("traiter")
    assert ws.ack("10001", "f")["statut"] == "accepte"
    assert [(f["code"], f["gravite"], f["colonne"]) for f in ws.ack_rows("10001", "f")] == [
        ("COLONNE_INCONNUE", "avertissement", "Service interne")]


def test_unreadable_file_goes_to_quarantine_with_reason(ws):
    p = ws.drop("10001", "salaries.xlsx")
    p.write_bytes(b"PK\x03\x04 this is not really a workbook" * 10)
    proc = ws.cli("traiter")
    assert "Traceback" not in proc.stderr
    ack = ws.ack("10001", "salaries")
    assert ack["statut"] == "rejete"
    rows = ws.ack_rows("10001", "salaries")
    assert rows[0]["code"] == "FICHIER_ILLISIBLE" and "XLSX" in rows[0]["message"]
    kept = ws.quarantine / "10001" / "salaries.xlsx"
    assert kept.read_bytes() == b"PK\x03\x04 this is not really a workbook" * 10
    assert (ws.quarantine / "10001" / "salaries.xlsx.raison.txt").read_text(encoding="utf-8").strip()


def test_sortie_and_modification_with_history(ws, rng):
    siret, siret2 = ws.registry.members["10001"]
    a, b, c = (make_nir(rng) for _ in range(3))
    write_csv(ws.drop("10001", "1.csv"), MOVEMENT_HEADERS,
              [employee_row(a, siret, job="Vendeuse"), employee_row(b, siret), employee_row(c, siret)])
    ws.cli("traiter")
    rows = [
        employee_row(a, siret2, movement="Modification", hired="", contract="", job="Responsable de rayon", pcs="", category=""),
        employee_row(b, siret, movement="Sortie", exit="30/11/2026", hired="", contract="", job="", pcs="", category=""),
        employee_row(c, siret, movement="Sortie", hired="", contract="", job="", pcs="", category=""),  # no exit date
        employee_row(make_nir(rng), siret, movement="Modification"),  # unknown employee
    ]
    write_csv(ws.drop("10001", "2.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    ack = ws.ack("10001", "2")
    assert (ack["modifications"], ack["sorties"], ack["lignes_rejetees"]) == (1, 1, 2)
    assert [(f["ligne"], f["code"]) for f in ws.ack_rows("10001", "2")] == [("4", "DATE_SORTIE_MANQUANTE"), ("5", "SALARIE_INCONNU")]
    # a modification changes only the given fields
    assert ws.sql("SELECT siret, poste, contrat, pcs, date_embauche, present FROM salaries_actuels WHERE nir=?", a) == [
        (siret2, "Responsable de rayon", "01", "554a", "2026-09-01", 1)]
    assert ws.sql("SELECT present, date_sortie FROM salaries_actuels WHERE nir=?", b) == [(0, "2026-11-30")]
    assert ws.sql("SELECT present, date_sortie FROM salaries_actuels WHERE nir=?", c) == [(1, None)]
    # full history: one event per change, with before and after, the file and the line
    events = ws.sql("SELECT mouvement, fichier, ligne, champs_modifies, avant, apres FROM evenements WHERE nir=? ORDER BY id", a)
    assert [(e[0], e[1], e[2]) for e in events] == [("entree", "1.csv", 2), ("modification", "2.csv", 2)]
    assert events[1][3] == "siret,poste"
    before, after = json.loads(events[1][4]), json.loads(events[1][5])
    assert (before["poste"], after["poste"]) == ("Vendeuse", "Responsable de rayon")
    assert (before["siret"], after["siret"]) == (siret, siret2)
    # an exit then a new entry: the employee comes back with a new hire date
    write_csv(ws.drop("10001", "3.csv"), MOVEMENT_HEADERS, [employee_row(b, siret, hired="05/01/2027")])
    ws.cli("traiter")
    assert ws.sql("SELECT present, date_embauche, date_sortie FROM salaries_actuels WHERE nir=?", b) == [(1, "2027-01-05", None)]


def test_entry_for_present_employee_becomes_modification_and_duplicates_refused(ws, rng):
    siret = ws.registry.members["10001"][0]
    a = make_nir(rng)
    write_csv(ws.drop("10001", "1.csv"), MOVEMENT_HEADERS, [employee_row(a, siret)])
    ws.cli("traiter")
    b = make_nir(rng)
    write_csv(ws.drop("10001", "2.csv"), MOVEMENT_HEADERS,
              [employee_row(a, siret, job="Chef"), employee_row(b, siret), employee_row(b, siret, job="Autre")])
    ws.cli("traiter")
    ack = ws.ack("10001", "2")
    assert (ack["entrees"], ack["modifications"], ack["lignes_rejetees"]) == (1, 1, 1)
    found = {(f["ligne"], f["code"], f["gravite"]) for f in ws.ack_rows("10001", "2")}
    assert found == {("2", "ENTREE_SALARIE_PRESENT", "avertissement"), ("4", "DOUBLON_FICHIER", "bloquant")}
    assert ws.sql("SELECT poste FROM salaries_actuels WHERE nir=?", a) == [("Chef",)]


def test_required_fields_depend_on_movement(ws, rng):
    siret = ws.registry.members["10001"][0]
    rows = [employee_row(make_nir(rng), siret, contract="", pcs=""),
            employee_row(make_nir(rng), siret, movement="Transfert")]
    write_csv(ws.drop("10001", "f.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    found = [(f["ligne"], f["colonne"], f["code"]) for f in ws.ack_rows("10001", "f")]
    assert found == [("2", "Contrat", "CHAMP_OBLIGATOIRE"), ("2", "Code PCS", "CHAMP_OBLIGATOIRE"), ("3", "Mouvement", "MOUVEMENT_INVALIDE")]
    assert ws.ack("10001", "f")["statut"] == "rejete"


def test_ack_html_and_csv_format(ws, rng):
    siret = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "f.csv"), MOVEMENT_HEADERS, [employee_row("123", siret)])
    ws.cli("traiter")
    raw = ack_path(ws.outbox / "10001", "f", "ar.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    # issue 11: the column letter, the person and the member follow the historical six columns
    assert raw.decode("utf-8-sig").splitlines()[0] == (
        "ligne;colonne;valeur;code;gravite;message;colonne_excel;nom;prenom;nir_masque;adherent;raison_sociale")
    html = ack_path(ws.outbox / "10001", "f", "ar.html").read_text(encoding="utf-8")
    assert "Fichier refusé" in html and "NIR_FORMAT" in html


def test_dry_run_writes_ack_and_changes_nothing(ws, rng):
    siret = ws.registry.members["10001"][0]
    f = write_csv(ws.root / "essai.csv", MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret), employee_row("1", siret)])
    before = ws.sql("SELECT count(*) FROM fichiers")
    out = ws.cli("valider", str(f), "--expediteur", "10001", "--sortie", str(ws.root / "essai"))
    assert "accepté en partie" in out.stdout and "1 acceptée" in out.stdout
    ack = json.loads((ws.root / "essai" / "essai.ar.json").read_text(encoding="utf-8"))
    assert (ack["lignes"], ack["lignes_acceptees"], ack["entrees"]) == (2, 1, 1)
    assert ws.sql("SELECT count(*) FROM fichiers") == before
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]
    assert f.exists()


def test_dry_run_counts_the_movements_as_the_run_applies_them(ws, rng):
    """`valider` counts what `traiter` would apply (a repeat not counted, a corrected exit as a modification)
    without copying the accepted rows' fields: its checks keep only what the counts read."""
    from amsn_batch.config import load_settings
    from amsn_batch.kinds.employees import EMPLOYEES
    from amsn_batch.store.db import connect

    siret = ws.registry.members["10001"][0]
    a, b, c, d, e = (make_nir(rng) for _ in range(5))
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS, [employee_row(n, siret) for n in (a, b, c, e)])
    ws.cli("traiter")
    write_csv(ws.drop("10001", "sortie.csv"), MOVEMENT_HEADERS,
              [employee_row(e, siret, movement="Sortie", exit="30/09/2026")])
    ws.cli("traiter")
    rows = [employee_row(a, siret, movement="Modification", job="Caissière"),
            employee_row(b, siret, movement="Sortie", exit="31/10/2026"),
            employee_row(d, siret),
            employee_row(c, siret),  # what the store holds already: accepted, not counted
            employee_row(e, siret, movement="Sortie", exit="15/10/2026")]  # another exit date: a correction
    f = write_csv(ws.root / "suite.csv", MOVEMENT_HEADERS, rows)
    ws.cli("valider", str(f), "--expediteur", "10001", "--sortie", str(ws.root / "essai"))
    planned = json.loads((ws.root / "essai" / "suite.ar.json").read_text(encoding="utf-8"))
    shutil.copy(f, ws.drop("10001", "suite.csv"))
    ws.cli("traiter")
    applied = json.loads(ack_path(ws.outbox / "10001", "suite").read_text(encoding="utf-8"))
    counts = ("lignes_acceptees", "entrees", "sorties", "modifications")
    assert [planned[k] for k in counts] == [applied[k] for k in counts] == [5, 1, 1, 2]

    settings = load_settings(ws.config)
    db = connect(settings.paths.database)
    try:
        dry = EMPLOYEES.dry_check(db.conn, f, "10001", settings)
        full = EMPLOYEES.check(db.conn, f, "10001", settings)
    finally:
        db.conn.close()
    assert list(dry.accepted.columns) == ["compte"] and "nir" in full.accepted.columns
    assert EMPLOYEES.planned(dry) == EMPLOYEES.planned(full)

def test_exit_codes(ws, rng, tmp_path):
    siret = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "f.csv"), MOVEMENT_HEADERS, [employee_row("1", siret)])
    assert ws.cli("traiter").returncode == 0  # refused lines are in the ack, not an error
    bad = tmp_path / "bad.toml"
    bad.write_text("[paths]\ninbox = \n", encoding="utf-8")
    from tests.conftest import cli_in_process

    proc = cli_in_process(["traiter", "--config", str(bad)], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "configuration" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli_in_process(["traiter", "--config", str(tmp_path / "absent.toml")], tmp_path)
    assert proc.returncode == 1 and "introuvable" in proc.stderr
    ro = tmp_path / "ro.toml"
    ro.write_text('[paths]\ndatabase = "/proc/amsn/x.sqlite"\n', encoding="utf-8")
    proc = cli_in_process(["traiter", "--config", str(ro)], tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_usage_errors_are_french_and_exit_2(ws):
    proc = ws.cli("traiter", "--inconnue", check=False)
    assert proc.returncode == 2 and "option inconnue : --inconnue" in proc.stderr and "Traceback" not in proc.stderr
    proc = ws.cli("valider", str(ws.root / "absent.csv"), "--expediteur", "10001", "--sortie", str(ws.root), check=False)
    assert proc.returncode == 2 and "fichier introuvable" in proc.stderr


def test_help_is_french(ws):
    out = ws.cli("valider", "--help").stdout
    assert "Utilisation : " in out and "Affiche cette aide" in out and "obligatoire" in out
    assert "Show this message" not in out and "Usage:" not in out
    import subprocess

    from tests.conftest import CLI

    assert "Commandes :" in subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True).stdout


def test_a_file_without_refused_rows_lets_go_of_its_table_before_the_store_is_written(ws, rng, monkeypatch):
    """Nothing reads a file again once checked when it has no correction workbook: its table (200 MB for a
    million rows) is let go before the store's write; a file with refused rows keeps it for its workbook."""
    from amsn_batch.read import table as table_module
    from amsn_batch.store import employees as store_employees

    siret = ws.registry.members["10001"][0]
    cached = []
    record = store_employees.record_file

    def spying(*args, **kwargs):
        cached.append(table_module._read_table.cache_info().currsize)
        return record(*args, **kwargs)

    monkeypatch.setattr("amsn_batch.kinds.employees.record_file", spying)
    write_csv(ws.drop("10001", "bon.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret) for _ in range(3)])
    ws.cli("traiter")
    write_csv(ws.drop("10001", "partiel.csv"), MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret), employee_row("1", siret)])
    ws.cli("traiter")
    assert cached == [0, 1]
    assert ack_path(ws.outbox / "10001", "partiel", "rejets.xlsx").exists()


def test_a_nir_typed_with_spaces_or_dots_is_taken_from_a_file(ws, rng):
    """NIRs as people type them ('1 80 01 75 123 456 78', dots), also in a file whose last line stops before its
    empty last cells (exporters trim them; the reader then gives the columns in two Arrow chunks): normalised
    and recorded. The NIR kernel raised on a chunked column (its mask), which refused such a file whole as
    unreadable."""
    siret = ws.registry.members["10001"][0]
    nirs = [make_nir(rng) for _ in range(4)]
    a, b = nirs[0], nirs[1]
    typed = [" ".join([a[:1], a[1:3], a[3:5], a[5:7], a[7:10], a[10:13], a[13:]]), ".".join([b[:7], b[7:]]), nirs[2]]
    write_csv(ws.drop("10001", "saisie.csv"), MOVEMENT_HEADERS, [employee_row(t, siret) for t in typed])
    d = nirs[3]
    trimmed = employee_row(f"{d[:5]} {d[5:10]} {d[10:]}", siret)[:-1]  # no comment, and no separator for it
    ws.drop("10001", "une.csv").write_bytes((";".join(MOVEMENT_HEADERS) + "\r\n" + ";".join(trimmed) + "\r\n").encode("cp1252"))
    ws.cli("traiter")
    assert [(ws.ack("10001", s)["statut"], ws.ack("10001", s)["lignes_acceptees"]) for s in ("saisie", "une")] == [
        ("accepte", 3), ("accepte", 1)]
    assert sorted(n for (n,) in ws.sql("SELECT nir FROM salaries")) == sorted(nirs)
