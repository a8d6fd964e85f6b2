"""Readers and value checks, without the CLI: line numbers, encodings, header aliases, NIR, dates."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from stdnum.fr import nir as stdnum_nir

from amsn_batch.config import ConfigError, load_settings
from amsn_batch.read import UnreadableFile, forget_tables, read_table
from amsn_batch.read.headers import map_headers
from amsn_batch.masking import mask_nir
from amsn_batch.vocab import normalize, vocabulary
from amsn_batch.rules import identifiers, values
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv

V = vocabulary("mouvements")


@pytest.mark.parametrize("header,key", [
    ("N° SS", "nir"), ("NIR", "nir"), ("N° sécurité sociale", "nir"), ("n° de SÉCURITÉ SOCIALE", "nir"),
    ("Date d'entrée", "date_embauche"), ("DATE D'EMBAUCHE", "date_embauche"), ("Code PCS-ESE", "pcs"),
    ("Nom", "nom"), ("prénom", "prenom"), ("Habilitation électrique", "det_habilitation_electrique"),
])
def test_header_aliases(header, key):
    assert V.lookup[normalize(header)] == key


def test_missing_and_unknown_headers():
    m = map_headers(["Nom", "Prénom", "NIR", "Bidule", "Nom de naissance", "N° SS"], V)
    assert m.columns["nir"] == "NIR" and m.unknown == ["Bidule"] and m.duplicated == [("nir", "N° SS")]
    # issue 11: "Nom" beside a birth-name column is the usage name, no longer a second birth name
    assert m.columns["nom"] == "Nom de naissance" and m.columns["nom_usage"] == "Nom"
    assert {f.label for f in m.missing} == {"SIRET", "Date d'embauche", "Contrat", "Poste de travail", "Code PCS"}


def test_csv_line_numbers_with_title_and_blank_lines(tmp_path):
    p = tmp_path / "f.csv"
    header = ";".join(MOVEMENT_HEADERS)
    p.write_text(f"Effectifs au 01/11/2026\n\n{header}\nA;x\n\n;\nB;y\nC;z;;;;;;;;;;;;;;;;;;;;;;;extra\n", encoding="cp1252")
    t = read_table(p, V)
    assert t.header_line == 3
    assert t.lines.tolist() == [4, 7, 8]
    assert t.frame["Nom de naissance"].tolist() == ["A", "B", "C"]
    assert t.overflow.tolist() == [False, False, True]
    assert (t.details["encodage"], t.details["separateur"]) == ("cp1252", ";")


def test_the_last_table_read_is_kept_until_forgotten(tmp_path):
    p = tmp_path / "f.csv"
    write_csv(p, MOVEMENT_HEADERS, [["A", "x"], ["B", "y"]])
    first = read_table(p, V)
    assert read_table(p, V) is first  # the checks and the correction workbook parse the file once
    forget_tables()
    again = read_table(p, V)
    assert again is not first
    assert again.frame["Nom de naissance"].tolist() == first.frame["Nom de naissance"].tolist() == ["A", "B"]


@pytest.mark.parametrize("encoding,eol", [("utf-8-sig", "\r\n"), ("cp1252", "\n")])
def test_csv_line_breaks_inside_quoted_values_keep_the_editors_line_numbers(tmp_path, encoding, eol):
    p = tmp_path / "f.csv"
    header = ";".join(MOVEMENT_HEADERS)
    rows = ['A;x', 'B;y;;;;;;;;;;;;"commentaire\nsur deux lignes"', '', 'C;z;;;;;;;;;;;;"trois\nlignes\nici"', 'D;w']
    p.write_text(eol.join(["Titre", header, *rows]) + eol, encoding=encoding, newline="")
    t = read_table(p, V)
    assert t.header_line == 2
    assert t.lines.tolist() == [3, 4, 7, 10]  # B spans lines 4-5, line 6 is blank, C spans 7-9
    assert t.frame["Nom de naissance"].tolist() == ["A", "B", "C", "D"]
    assert t.frame["Commentaire"].tolist()[1] in ("commentaire\nsur deux lignes", "commentaire\r\nsur deux lignes")


def test_no_header_found(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="En-têtes|en-têtes"):
        read_table(p, V)


def test_binary_and_empty_files_are_unreadable(tmp_path):
    (tmp_path / "b.csv").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "e.csv").write_bytes(b"")
    for name in ("b.csv", "e.csv"):
        with pytest.raises(UnreadableFile):
            read_table(tmp_path / name, V)


def test_utf16_with_bom(tmp_path):
    p = write_csv(tmp_path / "f.csv", MOVEMENT_HEADERS, [["ÉTÉ", "Zoé"]], encoding="utf-16", sep="\t")
    t = read_table(p, V)
    assert t.frame.iloc[0, 0] == "ÉTÉ" and t.details["separateur"] == "\t"


def test_cp1252_detected_even_late_in_file(tmp_path):
    rows = [["A"]] * 5000 + [["LEFÈVRE"]]
    p = write_csv(tmp_path / "f.csv", MOVEMENT_HEADERS, rows, encoding="cp1252")
    t = read_table(p, V)
    assert t.frame.iloc[-1, 0] == "LEFÈVRE" and t.lines[-1] == 5002


def test_a_windows_1252_export_reads_as_the_codec_decodes_it(tmp_path, monkeypatch):
    """Windows-1252 files are handed to pyarrow as UTF-8 block by block (ASCII as is, Latin-1 by a copy, the
    others through the codec): every cell as Python's codec decodes the file, whatever the blocks hold; an
    undefined byte still makes the file no Windows-1252 (it is then decoded line by line, and refused there)."""
    import pyarrow.csv as pacsv

    from amsn_batch.read import table as table_module

    monkeypatch.setattr(table_module._Cp1252AsUtf8, "BLOCK", 97)  # small blocks: ASCII, Latin-1 and others mixed
    rng = random.Random(4)
    names = ["MARTIN", "LEFÈVRE", "N°12 D’ARTAGNAN", "CŒUR", "ŸVES €", "Ça", "plain", "„quoted“ — …"]
    rows = [[rng.choice(names), rng.choice(names), f"{k}"] for k in range(400)]
    p = write_csv(tmp_path / "f.csv", ["Nom de naissance", "Prénom", "Commentaire"], rows, encoding="cp1252")
    t = read_table(p, V)
    assert t.details["encodage"] == "cp1252"
    expected = pacsv.read_csv(p, read_options=pacsv.ReadOptions(encoding="cp1252"),
                              parse_options=pacsv.ParseOptions(delimiter=";"),
                              convert_options=pacsv.ConvertOptions(strings_can_be_null=False, column_types={
                                  "Nom de naissance": "string", "Prénom": "string", "Commentaire": "string"}))
    assert t.frame.iloc[:, 0].tolist() == expected.column(0).to_pylist() == [r[0] for r in rows]
    assert t.frame.iloc[:, 1].tolist() == [r[1] for r in rows]
    assert table_module._Cp1252AsUtf8(p).read() == p.read_bytes().decode("cp1252").encode("utf-8")
    (tmp_path / "g.csv").write_bytes(p.read_bytes().replace(b"plain", b"pl\x81in"))
    with pytest.raises(UnicodeDecodeError):
        table_module._Cp1252AsUtf8(tmp_path / "g.csv").read()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789AB ", min_size=0, max_size=17))
def test_nir_vectorised_agrees_with_stdnum(text):
    r = identifiers.nir_check(pd.Series([text], dtype="str"))
    ok = not (r["empty"][0] or r["scientific"][0] or r["no_key"][0] or r["shape"][0] or r["key"][0])
    compact = text.replace(" ", "")
    expected = stdnum_nir.is_valid(compact) and compact[:1] in "1278" and len(compact) == 15
    assert ok == expected


def test_nir_variants():
    rng = random.Random(1)
    good = make_nir(rng)
    corsica = make_nir(rng, dept="2A")
    raw = pd.Series([good, f"'{good}", " ".join([good[:1], good[1:3], good[3:5], good[5:7], good[7:10], good[10:13], good[13:]]),
                     good[:13], "2,95109E+14", good[:14] + str((int(good[14]) + 1) % 10), corsica, corsica.lower(), ""], dtype="str")
    r = identifiers.nir_check(raw)
    ok = ~(r["empty"] | r["scientific"] | r["no_key"] | r["shape"] | r["key"])
    assert ok.tolist() == [True, True, True, False, False, False, True, True, False]
    assert r["no_key"].tolist()[3] and r["scientific"].tolist()[4] and r["key"].tolist()[5] and r["empty"].tolist()[8]


def test_mask_nir():
    assert mask_nir("185057800608491") == "18505**********"


@pytest.mark.parametrize("text,expected", [
    ("17/08/2021", dt.date(2021, 8, 17)), ("17/08/21", dt.date(2021, 8, 17)), ("2021-08-17", dt.date(2021, 8, 17)),
    ("44425", dt.date(2021, 8, 17)), ("17.08.2021", dt.date(2021, 8, 17)), ("2021-08-17 00:00:00", dt.date(2021, 8, 17)),
    ("31/11/2026", None), ("29/02/2023", None), ("bientôt", None), ("", None),
])
def test_dates(text, expected):
    assert values.parse_date(text) == expected


def test_distinct_value_mapping_matches_rowwise():
    s = pd.Series(["CDI", "cdd", "Intérim", "contrat à durée indéterminée", "zz", ""] * 1000, dtype="str")
    codes, empty, unknown = values.lookup(s, "contrats.toml")
    assert codes[:6].tolist() == ["01", "02", "03", "01", "", ""]
    assert unknown[:6].tolist() == [False, False, False, False, True, False]
    assert np.array_equal(codes[6:12], codes[:6])


def test_settings_paths_relative_to_file(tmp_path):
    cfg = tmp_path / "conf" / "a.toml"
    cfg.parent.mkdir()
    cfg.write_text('[paths]\ninbox = "../depots"\ndatabase = "db/x.sqlite"\n[limites]\nconstats_par_code = 5\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.paths.inbox == (tmp_path / "depots").resolve()
    assert s.paths.database == (tmp_path / "conf" / "db" / "x.sqlite").resolve()
    assert s.paths.outbox == (tmp_path / "conf" / "outbox").resolve()
    assert s.limits.findings_per_code == 5
    cfg.write_text('[paths]\nboite = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="inconnue"):
        load_settings(cfg)


# --- the per-cell schema (pandera), generated from the catalogue -------------------------------------------

def _clear_schema_caches():
    from amsn_batch import vocab

    for fn in (vocab.load_toml, vocab.vocabulary, vocab.catalogue, values._vocab_file, vocab.pcs_reference):
        fn.cache_clear()


@pytest.fixture
def schemas_copy(tmp_path, monkeypatch):
    """A copy of schemas/ that a test may edit, read instead of the real one."""
    import shutil

    from amsn_batch import vocab

    copy = tmp_path / "schemas"
    shutil.copytree(vocab.SCHEMAS, copy)
    monkeypatch.setattr(vocab, "SCHEMAS", copy)
    _clear_schema_caches()
    yield copy
    monkeypatch.undo()
    _clear_schema_caches()


def _checks(schema, key):
    return {c.error: c for c in schema.columns[key].checks}


def test_cell_schema_is_generated_from_the_catalogue(schemas_copy):
    from amsn_batch.rules.catalogue import catalogue
    from amsn_batch.rules.schema import cell_rules, schema

    with open(schemas_copy / "contrats.toml", "a", encoding="utf-8") as f:
        f.write('"99" = { libelle = "Contrat de démonstration", alias = ["Contrat démo"] }\n')
    with open(schemas_copy / "regles.toml", "a", encoding="utf-8") as f:
        f.write('\n[POSTE_RESERVE]\ngravite = "avertissement"\nportee = "ligne"\ntitre = "Poste réservé"\n'
                'message = "« {valeur} » est réservé."\ncorrection = "Changez-le."\nfichier = "mouvements"\n'
                'colonnes = ["poste"]\ncontrole = "valeurs_interdites"\nvaleurs = ["Poste test"]\n')
    s = schema("mouvements")
    # every cell rule of the catalogue is a check on each column it names, with its code as the error
    for rule, key in cell_rules("mouvements"):
        assert rule.code in _checks(s, key), (rule.code, key)
    assert {r.code for r, _ in cell_rules("mouvements")} == {c for c, r in catalogue().items()
                                                             if r.columns and r.kind == "mouvements"}
    # the vocabulary added to contrats.toml is in the contract's isin check, by its code and its alias
    contract = _checks(s, "contrat")["CONTRAT_INVALIDE"]
    assert contract.name == "isin"
    assert {"99", normalize("Contrat démo"), "cdi"} <= set(contract.statistics["allowed_values"])
    # the rule added to regles.toml is a check of its column; determinant columns all get the yes/no check
    assert _checks(s, "poste")["POSTE_RESERVE"].name == "notin"
    assert all("OUI_NON_INVALIDE" in _checks(s, f.key) for f in V.fields if f.key.startswith("det_"))
    assert _checks(s, "date_embauche")["DATE_EMBAUCHE_ANCIENNE"].statistics["min_value"] == "1940-01-01"
    # a device (apprenticeship…) is never also a contract: CONTRAT_INVALIDE yields to CONTRAT_DISPOSITIF
    device = catalogue()["CONTRAT_DISPOSITIF"].params["valeurs"]
    assert not set(values.vocab(device)) & set(values.vocab("contrats.toml"))
    # colonnes.toml says which columns are required
    assert [k for k, c in s.columns.items() if c.required] == [f.key for f in vocabulary("mouvements").fields if f.required]


def test_schema_failure_cases_become_findings_on_the_senders_line_and_column(schemas_copy, tmp_path):
    from amsn_batch.rules.catalogue import to_rows
    from amsn_batch.rules.employees import Context, Sender, validate

    with open(schemas_copy / "regles.toml", "a", encoding="utf-8") as f:
        f.write('\n[POSTE_RESERVE]\ngravite = "avertissement"\nportee = "ligne"\ntitre = "Poste réservé"\n'
                'message = "« {valeur} » est réservé."\ncorrection = "Changez-le."\nfichier = "mouvements"\n'
                'colonnes = ["poste"]\ncontrole = "valeurs_interdites"\nvaleurs = ["Poste test"]\n')
    siret = "73282932000074"
    headers = [h if h != "Contrat" else "Type de contrat" for h in MOVEMENT_HEADERS]
    good = ["DUPONT", "Marie", make_nir(random.Random(1)), "", siret, "Entrée", "01/09/2020", "", "CDI", "Vendeuse",
            "554a", "Non", "SI", ""]
    rows = [good, [*good[:8], "Bidule", *good[9:]], [*good[:9], "Poste test", *good[10:]]]
    rows[1][2] = make_nir(random.Random(2))
    rows[2][2] = make_nir(random.Random(3))
    p = tmp_path / "f.csv"
    lines = [";".join(["Effectifs"]), "", ";".join(headers), ";".join(rows[0]), "", "", ";".join(rows[1]), ";".join(rows[2])]
    p.write_text("\n".join(lines) + "\n", encoding="cp1252")
    table = read_table(p, V)
    m = map_headers(table.headers, V)
    out = validate(table, m, Context(Sender("10001", "adherent", frozenset({"10001"})), {siret: "10001"}))
    found = to_rows(out.findings.frame(), table.lines, table.header_line, m.columns)
    assert found[["ligne", "colonne", "valeur", "code"]].values.tolist() == [
        [7, "Type de contrat", "Bidule", "CONTRAT_INVALIDE"],
        [8, "Poste de travail", "Poste test", "POSTE_RESERVE"],
    ]
    assert found["message"][0].startswith("Contrat « Bidule » non reconnu.")
    assert out.accepted["line"].tolist() == [4, 8]


def test_the_schema_is_built_once_follows_the_catalogue_and_holds_no_file(schemas_copy, tmp_path):
    """The checks' pandera schema is kept from one file to the next (pandera copies every column of a schema
    it builds: milliseconds a file, on a night of small files); a catalogue read again is a new schema, with
    the rule it adds; and no file stays held by the kept schema once its checks are done."""
    from amsn_batch.rules import schema as schema_module
    from amsn_batch.rules.employees import Context, Sender, validate

    siret = "73282932000074"
    good = ["DUPONT", "Marie", make_nir(random.Random(1)), "", siret, "Entrée", "01/09/2020", "", "CDI", "Vendeuse",
            "554a", "Non", "SI", ""]
    reserved = [*good[:9], "Poste test", *good[10:]]
    reserved[2] = make_nir(random.Random(3))
    p = tmp_path / "f.csv"
    p.write_text("\n".join(";".join(r) for r in (MOVEMENT_HEADERS, good, reserved)) + "\n", encoding="cp1252")

    def codes() -> set[str]:
        table = read_table(p, vocabulary("mouvements"))
        m = map_headers(table.headers, vocabulary("mouvements"))
        out = validate(table, m, Context(Sender("10001", "adherent", frozenset({"10001"})), {siret: "10001"}))
        assert all(b[3].cells is None for b in schema_module._BUILT.values())  # the file let go
        return set(out.findings.frame()["code"])

    first = codes()
    kept = {k: v[2] for k, v in schema_module._BUILT.items()}
    table = read_table(p, vocabulary("mouvements"))
    a, b = (schema_module.Cells(table, map_headers(table.headers, vocabulary("mouvements"))) for _ in range(2))
    held, bound_a = schema_module._bound_schema("mouvements", a)
    other, bound_b = schema_module._bound_schema("mouvements", b)  # while a's checks hold the kept one
    assert other is not held and (bound_a.cells, bound_b.cells) == (a, b)
    bound_a.cells = None
    assert codes() == first and "POSTE_RESERVE" not in first
    assert {k: schema_module._BUILT[k][2] for k in kept} == kept  # the same schema objects, not built again
    with open(schemas_copy / "regles.toml", "a", encoding="utf-8") as f:
        f.write('\n[POSTE_RESERVE]\ngravite = "avertissement"\nportee = "ligne"\ntitre = "Poste réservé"\n'
                'message = "« {valeur} » est réservé."\ncorrection = "Changez-le."\nfichier = "mouvements"\n'
                'colonnes = ["poste"]\ncontrole = "valeurs_interdites"\nvaleurs = ["Poste test"]\n')
    _clear_schema_caches()
    assert codes() == first | {"POSTE_RESERVE"}


# --- the declaration's per-cell schema ------------------------------------------------------------------------

_DECL_RULE = ('\n[RAISON_SOCIALE_TEST]\ngravite = "bloquant"\nportee = "ligne"\ntitre = "Raison sociale de test"\n'
              'message = "« {valeur} » est une raison sociale de test."\ncorrection = "Donnez la vraie."\n'
              'fichier = "declaration"\ncolonnes = ["raison_sociale"]\ncontrole = "motif"\nmotif = "[^0-9]*"\n'
              # the same finding as employee files, checked here too: a sub-table named after the kind of file
              '\n[MOUVEMENT_INVALIDE.declaration]\ncolonnes = ["numero"]\ncontrole = "motif"\nmotif = "[0-9]{5}"\n')


def test_declaration_schema_is_generated_from_the_catalogue(schemas_copy):
    from amsn_batch.rules.catalogue import catalogue
    from amsn_batch.rules.schema import cell_rules, schema

    with open(schemas_copy / "regles.toml", "a", encoding="utf-8") as f:
        f.write(_DECL_RULE)
    s = schema("declaration")
    for rule, key in cell_rules("declaration"):
        assert rule.code in _checks(s, key), (rule.code, key)
    # the rules added to the catalogue are checks of their columns, a new rule and a shared code alike
    assert _checks(s, "raison_sociale")["RAISON_SOCIALE_TEST"].statistics == {"pattern": "[^0-9]*"}
    assert _checks(s, "numero")["MOUVEMENT_INVALIDE"].name == "str_matches"
    assert "MOUVEMENT_INVALIDE" in _checks(schema("mouvements"), "mouvement")  # its employee check unchanged
    # shared codes keep one code whatever the file, with the declaration's own control
    assert all(_checks(s, k)["CHAMP_OBLIGATOIRE"].name == "renseigne" for k in ("annee", "siret", "categorie"))
    assert _checks(s, "categorie")["CATEGORIE_INVALIDE"].name == "isin"
    assert set(_checks(s, "nir")) == {"NIR_FORMAT", "NIR_CLE"}
    assert _checks(s, "annee")["DECL_ANNEE_INVALIDE"].statistics == {"min_value": 2000, "max_value": 2100}
    assert all("DECL_EFFECTIF_INVALIDE" in _checks(s, k)
               for k in ("effectif_si", "effectif_sia", "effectif_sir", "effectif_sih", "total"))
    # the declaration's checks are not the employee file's: no movement-dependent "obligatoire" here
    assert all(r.control != "obligatoire" for r, _ in cell_rules("declaration"))
    assert catalogue()["CHAMP_OBLIGATOIRE"].kind == "mouvements"
    assert [k for k, c in s.columns.items() if c.required] == ["annee", "siret"]


def test_declaration_schema_failures_become_findings_on_the_senders_line_and_column(schemas_copy, tmp_path):
    from amsn_batch.rules import declarations
    from amsn_batch.rules.catalogue import to_rows
    from amsn_batch.rules.employees import Sender

    with open(schemas_copy / "regles.toml", "a", encoding="utf-8") as f:
        f.write(_DECL_RULE)
    s1, s2 = "73282932000074", "73282932000082"
    headers = ["Année", "N° adhérent", "Nom de l'entreprise", "SIRET", "Nb SI", "SIA", "Effectif SIR", "Effectif SIH"]
    p = tmp_path / "decl.csv"
    p.write_text("\n".join(["Déclaration des effectifs 2026", "", ";".join(headers),
                            f"2026;10001;Dupont SA;{s1};3;1;0;0", "", f"2026;1001;Test 2;{s2};2;x;0;0",
                            "2026;10001;Dupont SA; ;1;0;0;-1"]) + "\n", encoding="utf-8")
    table = read_table(p, vocabulary("declaration"))
    ctx = declarations.DeclarationContext(
        Sender("10001", "adherent", frozenset({"10001"})), {s1: "10001", s2: "10001"}, {"10001": "actif"},
        window_refusal=lambda a, y: None, known_headcount=lambda a: 0, invoice_in_force=lambda a, y: None)
    out = declarations.check(table, ctx)
    found = to_rows(out.findings.frame(), table.lines, table.header_line, out.columns)
    assert found[["ligne", "colonne", "valeur", "code"]].values.tolist() == [
        [6, "SIA", "x", "DECL_EFFECTIF_INVALIDE"],
        [6, "N° adhérent", "1001", "MOUVEMENT_INVALIDE"],
        [6, "Nom de l'entreprise", "Test 2", "RAISON_SOCIALE_TEST"],
        [7, "SIRET", "", "CHAMP_OBLIGATOIRE"],
        [7, "Effectif SIH", "-1", "DECL_EFFECTIF_INVALIDE"],
    ]
    assert found["message"][2].startswith("« Test 2 » est une raison sociale de test.")
    assert found["message"][3].startswith("« SIRET » est obligatoire pour chaque ligne.")
    assert [(v.adherent, v.state, v.total) for v in out.versions] == [("10001", "en_cours", 6)]


# --- payroll exports: decorated headers, total lines (issue 11, item 10) ---------------------------------------

@pytest.mark.parametrize("header,key", [
    ("N° SIRET de l'établissement", "siret"), ("SIRET établissement employeur", "siret"), ("Siret (14 chiffres)", "siret"),
    ("Date d'entrée dans l'entreprise", "date_embauche"), ("Prénom(s)", "prenom"), ("N° de sécurité sociale (NIR)", "nir"),
    ("Date de naissance (JJ/MM/AAAA)", "date_naissance"), ("Nature du contrat de travail", "contrat"),
    ("Catégorie de suivi médical", "categorie"), ("Date de sortie (le cas échéant)", "date_sortie"),
    ("Nom d'usage du salarié", "nom_usage"), ("Numéro de sécurité sociale du salarié", "nir"),
    ("Salariés multi-employeurs", "multi_employeur"), ("Catégorie socio-professionnelle", "pcs"),
])
def test_decorated_headers_are_read_without_their_extra_words(header, key):
    assert normalize(header) not in V.lookup or V.lookup[normalize(header)] == key
    m = map_headers(["Nom de naissance", header] if key != "nom" else [header], V)
    assert m.columns[key] == header and not m.unknown and not m.ambiguous


@pytest.mark.parametrize("header", ["Lieu de naissance", "Date de naissance du conjoint", "Nom du responsable",
                                    "Matricule", "Code postal", "Nom Prénom", "Service"])
def test_headers_that_only_look_alike_stay_unknown(header):
    m = map_headers(["Nom de naissance", "Date de naissance", header], V)
    assert m.unknown == [header] and set(m.columns) == {"nom", "date_naissance"}


def test_header_that_could_be_two_fields_is_ambiguous():
    # "Nom de l'entreprise" and "Nom" are two fields of a declaration: "Nom entreprise" could be either
    m = map_headers(["Année", "SIRET", "Nom entreprise"], vocabulary("declaration"))
    assert m.ambiguous == [("Nom entreprise", "« Nom de naissance » ou « Raison sociale »")]
    assert "nom" not in m.columns and "raison_sociale" not in m.columns and not m.unknown


def test_header_row_found_by_decorated_headers_under_a_title(tmp_path):
    p = tmp_path / "f.csv"
    header = "Nom du salarié;Prénom(s);N° de sécurité sociale (NIR);N° SIRET de l'établissement;Date d'entrée dans l'entreprise"
    p.write_text(f"Export Sage Paie\nSociété X;le 30/11/2026\n{header}\nA;B;1;2;01/01/2026\n", encoding="utf-8")
    t = read_table(p, V)
    assert t.header_line == 3 and t.lines.tolist() == [4]


def _table_with_tail(tmp_path, tail: list[str], width: int = 6):
    p = tmp_path / "f.csv"
    head = ["Nom de naissance;Prénom;NIR;SIRET;Mouvement;Poste"]
    nir = make_nir(random.Random(5))
    data = [f"DUPONT;Marie;{nir};73282932000074;Entrée;Vendeuse", f"MARTIN;Paul;{nir};73282932000074;Entrée;Vendeur"]
    p.write_text("\n".join(head + data + tail) + "\n", encoding="utf-8")
    return read_table(p, V)


@pytest.mark.parametrize("tail,skipped", [
    (["Total : 2 salariés"], [(4, "Total : 2 salariés")]),
    (["", "Total;;;;;2"], [(5, "Total 2")]),
    (["Nombre de salariés : 2;;;;;", "Édité le 30/11/2026 – page 1/1"],
     [(4, "Nombre de salariés : 2"), (5, "Édité le 30/11/2026 – page 1/1")]),
    (["2"], [(4, "2")]),
    (["Fin de fichier"], [(4, "Fin de fichier")]),
    (["TOTAL GÉNÉRAL;;;;;2 salariés"], [(4, "TOTAL GÉNÉRAL 2 salariés")]),
    (["Total;2;2;0;1;1"], [(4, "Total 2 2 0 1 1")]),  # a total word then counts, however many
    (["Total\u00a0:;1\u202f234"], [(4, "Total\u00a0: 1\u202f234")]),  # French spaces
])
def test_total_and_footer_lines_below_the_table_are_skipped(tmp_path, tail, skipped):
    t = _table_with_tail(tmp_path, tail)
    assert t.lines.tolist() == [2, 3] and t.footer == skipped


@pytest.mark.parametrize("tail", [
    ["DURAND"],  # a name only: a broken employee row, refused by the checks with its line number
    ["1234;DURAND"],  # a payroll number and a name
    ["Total;Marie;1850460752123;73282932000074;Entrée;Vendeuse"],  # a person whose name is Total
    ["Total : 2;;;73282932000074"],  # an identifier on the line: data, not a footer
    ["Total : 2", "DURAND;Paul"],  # a footer-looking line above a data line: not at the end
    ["Commentaire : voir RH"],
    [";;;;;Fin de CDD"],  # "fin" alone is no footer word: only "fin de fichier" and the like
    ["Total 1-85-05-75-123-456"],  # a NIR written with dashes is an identifier all the same
    ["Total\u202e2"],  # a bidi control: left to the cell screening, never quoted back in a warning
    ["2026;;3;2;1;0"],  # counts without a total word, more than a footer fills: a row missing its identifiers
    ["Total;Paul;2;0;1"],  # a name among the counts
])
def test_lines_that_may_be_employees_are_never_skipped(tmp_path, tail):
    t = _table_with_tail(tmp_path, tail)
    assert t.footer == [] and len(t) == 2 + len(tail)


def test_total_line_of_a_workbook_and_a_lone_row_are_kept_apart(tmp_path):
    from tests.factories import write_xlsx

    p = write_xlsx(tmp_path / "f.xlsx", MOVEMENT_HEADERS, [["DUPONT", "Marie"], [None], ["Total", None, None, None, 1]],
                   title=["Mouvements de novembre", ""])
    t = read_table(p, V)
    assert t.lines.tolist() == [4] and t.footer == [(6, "Total 1")]
    # a table whose only row looks like a count is not emptied: the row is left to the checks
    q = tmp_path / "g.csv"
    q.write_text("Nom de naissance;Prénom;NIR\n12\n", encoding="utf-8")
    assert read_table(q, V).footer == [] and len(read_table(q, V)) == 1


def test_declaration_totals_by_category_below_the_table(tmp_path):
    from tests.billing_helpers import COUNT_HEADERS

    p = tmp_path / "d.csv"
    rows = [";".join(COUNT_HEADERS), "2026;10001;73282932000074;12;3;1;0", "2026;10001;73282932000082;4;0;0;1",
            "Total;;;16;3;1;1"]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    t = read_table(p, vocabulary("declaration"))
    assert t.lines.tolist() == [2, 3] and t.footer == [(4, "Total 16 3 1 1")]


def test_a_big_files_rows_and_findings_hold_no_python_text_per_person(tmp_path):
    """What keeps a million-row file's memory down: the findings' names and masked NIRs are Arrow text cut from
    the file's cells (stripped, '' on a file-level finding), the accepted rows' NIRs Arrow text, and their
    movements one Python text per distinct movement, whatever numpy made of them."""
    from amsn_batch.rules.catalogue import Findings, Members, to_rows
    from amsn_batch.rules.employees import Context, Sender, validate

    rng = random.Random(7)
    siret = "73282932000074"
    n = 3000
    nirs = [make_nir(rng) for _ in range(n)]
    rows = [employee_row(nirs[i], siret, "Entrée", exit=rng.choice(["", "30/09/2026"]),
                         name=rng.choice(["MARTIN{}", " Durand{} ", "Lefèvre{}\u00a0"]).format(i), first=rng.choice(["Luc", " Zoé"]))
            for i in range(n)]
    table = read_table(write_csv(tmp_path / "f.csv", MOVEMENT_HEADERS, rows), V)
    m = map_headers(table.headers, V)
    out = validate(table, m, Context(Sender("10001", "adherent", frozenset({"10001"})), {siret: "10001"}))
    assert len(out.accepted) == n
    assert out.accepted["nir"].dtype == "str" and out.accepted["nir"].tolist() == nirs
    actions = out.accepted["action"].to_numpy()
    assert set(actions) == {"entree"} and len({id(a) for a in actions}) == 1

    f = Findings()
    f.add_rows("LISTE_ENTREE", np.arange(n), None, "")
    f.add_file("COLONNE_INCONNUE", None, "", colonne="Divers")
    found = to_rows(f.frame(), table.lines, table.header_line, m.columns, table=table,
                    members=Members({siret: "10001"}, {"10001": "Société A"}, "10001"))
    assert [found[c].dtype for c in ("nom", "prenom", "nir_masque")] == ["str"] * 3
    assert found["ligne"].tolist() == [table.header_line] + table.lines.tolist()
    assert found["nom"].tolist() == [""] + [r[0].strip() for r in rows]
    assert found["prenom"].tolist() == [""] + [r[1].strip() for r in rows]
    assert found["nir_masque"].tolist() == [""] + [mask_nir(x) for x in nirs]
    assert found["raison_sociale"].tolist() == ["Société A"] * (n + 1)


def test_a_full_lists_movements_are_one_text_shared_by_its_rows(tmp_path):
    """A full list's rows are all entries until compared with the store: one Python text for all of them, not
    one per row (np.full copies a text per item: 60 MB for a million rows)."""
    from amsn_batch.rules.schema import Cells

    rng = random.Random(3)
    siret = "73282932000074"
    headers = [h for h in MOVEMENT_HEADERS if h != "Mouvement"]
    rows = [[c for i, c in enumerate(employee_row(make_nir(rng), siret)) if i != 5] for _ in range(50)]
    table = read_table(write_csv(tmp_path / "liste.csv", headers, rows), V)
    action = Cells(table, map_headers(table.headers, V), True, dt.date(2026, 12, 1)).action()
    assert action.tolist() == ["entree"] * 50 and len({id(a) for a in action}) == 1
    assert len({id(v) for v in values.repeated("SI", 1000)}) == 1


def test_a_files_nirs_stay_arrow_text_through_the_checks(tmp_path):
    """The NIR kernel's normalized values and the accepted NIRs are Arrow text ('' where refused): a million
    NIRs were a million Python texts (70 MB) held through the checks."""
    import pyarrow as pa

    from amsn_batch.rules.schema import Cells

    rng = random.Random(8)
    siret = "73282932000074"
    good = make_nir(rng)
    rows = [employee_row(f" {good[:5]} {good[5:]} ", siret), employee_row("1", siret), employee_row("", siret)]
    table = read_table(write_csv(tmp_path / "f.csv", MOVEMENT_HEADERS, rows), V)
    c = Cells(table, map_headers(table.headers, V), False, dt.date(2026, 12, 1)).nir()
    assert isinstance(c["value"], pa.Array) and c["value"].to_pylist() == [good, "1", ""]
    assert c["accepted"].dtype == "str" and c["accepted"].tolist() == [good, "", ""]
