"""DSN files dropped like any other file: several months of one establishment, a payroll firm's file, broken
files, the same DSN twice, an older month after a newer one, FCTU; compared with what a careful agent would
decide (the store's employees and the acknowledgements)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from tests.dsn_factory import Contract, Declaration, Person, full_nir, person, write_dsn

D = dt.date


def _staff(rng: random.Random, n: int, start: D = D(2021, 1, 4)) -> list[Person]:
    names = ["DURAND", "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND",
             "ROUX", "VINCENT"]
    return [person(rng, names[i % len(names)], f"Prénom{i}", start, number=f"{i:05d}") for i in range(n)]


def _decl(siret: str, month: D, people: list[Person], nature: str = "01") -> Declaration:
    return Declaration(siret[:9], siret[9:], month, people, nature)


def _employee(ws, nir: str) -> dict:
    rows = ws.sql("SELECT present, siret, date_embauche, date_sortie, contrat, poste, pcs, nom, prenom "
                  "FROM salaries_actuels WHERE nir = ?", nir)
    assert len(rows) == 1, rows
    keys = ("present", "siret", "date_embauche", "date_sortie", "contrat", "poste", "pcs", "nom", "prenom")
    return dict(zip(keys, rows[0]))


def _codes(ack: dict) -> list[str]:
    return [c["code"] for c in ack["constats"]]


def _traiter(ws):
    return ws.cli("traiter")


def test_months_of_one_establishment(ws):
    """March: ten employees. April: one hire, one resignation (S21.G00.62), a change of job and PCS-ESE, a CDD
    followed by a CDI. May: the resigned one is gone (already out), one is left out without an end."""
    rng = random.Random(11)
    siret = ws.registry.members["10001"][0]
    staff = _staff(rng, 10)
    cdd = person(rng, "PETIT", "Léa", D(2026, 3, 2), nature="02", pcs="554a", job="Caissière", number="C0100",
                 expected_end=D(2026, 3, 31))
    write_dsn(ws.drop("10001", "dsn-2026-03.txt"), [_decl(siret, D(2026, 3, 1), staff + [cdd])])
    _traiter(ws)
    ack = ws.ack("10001", "dsn-2026-03")
    assert (ack["statut"], ack["entrees"], ack["sorties"]) == ("accepte", 11, 0)
    assert _codes(ack).count("DSN_ENTREE") == 11 and "DSN_MENSUELLE" in _codes(ack)
    first = _employee(ws, full_nir(staff[0].nir13))
    assert first == {"present": 1, "siret": siret, "date_embauche": "2021-01-04", "date_sortie": None, "contrat": "01",
                     "poste": "Vendeuse", "pcs": "552a", "nom": "DURAND", "prenom": "Prénom0"}  # accents read as ISO-8859-1

    # April
    hired = person(rng, "NOUVEAU", "Jean", D(2026, 4, 13), pcs="621a", job="Magasinier", number="N0001")
    staff[1].contracts[0].end, staff[1].contracts[0].motif = D(2026, 4, 15), "059"
    staff[2].contracts[0].job, staff[2].contracts[0].pcs = "Responsable de rayon", "462a"
    cdd.contracts[0].end, cdd.contracts[0].motif = D(2026, 3, 31), "031"
    cdd.contracts.append(Contract(D(2026, 4, 1), pcs="554a", job="Caissière", nature="01", number="C0101"))
    write_dsn(ws.drop("10001", "dsn-2026-04.txt"), [_decl(siret, D(2026, 4, 1), staff + [cdd, hired])])
    _traiter(ws)
    ack = ws.ack("10001", "dsn-2026-04")
    assert (ack["statut"], ack["entrees"], ack["sorties"], ack["modifications"]) == ("accepte", 1, 1, 2)
    resigned = _employee(ws, full_nir(staff[1].nir13))
    assert (resigned["present"], resigned["date_sortie"]) == (0, "2026-04-15")
    end = next(c for c in ack["constats"] if c["code"] == "DSN_FIN_CONTRAT")
    assert "15/04/2026" in end["message"] and "059" in end["message"] and "Démission" in end["message"]
    assert end["colonne"] == "S21.G00.62.001" and end["nir_masque"].startswith(full_nir(staff[1].nir13)[:5])
    assert ws.sql("SELECT date_fin, motif, numero_contrat FROM dsn_fins") == [("2026-04-15", "059", "00001")]
    changed = _employee(ws, full_nir(staff[2].nir13))
    assert (changed["poste"], changed["pcs"], changed["present"]) == ("Responsable de rayon", "462a", 1)
    history = ws.sql("SELECT v.mouvement, v.pcs FROM salaries_versions v JOIN salaries s ON s.id = v.salarie_id "
                     "WHERE s.nir = ? ORDER BY v.id", full_nir(staff[2].nir13))
    assert history == [("entree", "552a"), ("modification", "462a")]
    modification = next(c for c in ack["constats"] if c["code"] == "DSN_MODIFICATION" and "Poste" in c["message"])
    assert "Code PCS" in modification["message"]
    # the CDD then CDI: still present, the employment goes on from the CDD's start, on a CDI
    léa = _employee(ws, full_nir(cdd.nir13))
    assert (léa["present"], léa["date_embauche"], léa["contrat"], léa["date_sortie"]) == (1, "2026-03-02", "01", None)

    # May: staff[1] is gone (out in April), staff[3] is left out with no end
    may = [p for i, p in enumerate(staff) if i not in (1, 3)] + [cdd, hired]
    write_dsn(ws.drop("10001", "dsn-2026-05.txt"), [_decl(siret, D(2026, 5, 1), may)])
    _traiter(ws)
    ack = ws.ack("10001", "dsn-2026-05")
    assert (ack["statut"], ack["entrees"], ack["sorties"], ack["modifications"]) == ("accepte", 0, 1, 0)
    absent = next(c for c in ack["constats"] if c["code"] == "DSN_ABSENT")
    assert "30/04/2026" in absent["message"] and absent["nom"] == "SIMON" and siret in absent["message"]
    assert absent["nir_masque"] and full_nir(staff[3].nir13) not in str(ack)
    assert _employee(ws, full_nir(staff[3].nir13))["date_sortie"] == "2026-04-30"
    assert _employee(ws, full_nir(staff[1].nir13))["date_sortie"] == "2026-04-15"  # untouched
    assert ws.sql("SELECT mois FROM dsn_mois WHERE siret = ?", siret) == [("2026-05",)]

    # the same DSN twice: already processed
    write_dsn(ws.drop("10001", "dsn-2026-05-bis.txt"), [_decl(siret, D(2026, 5, 1), may)])
    _traiter(ws)
    assert ws.ack("10001", "dsn-2026-05-bis")["statut"] == "deja_traite"

    # an older month after a newer one: February has staff[3] (known: left untouched) and someone never seen
    seasonal = person(rng, "SAISON", "Hugo", D(2026, 2, 2), nature="02", number="S0001", end=D(2026, 2, 20))
    february = [replace(p, contracts=[replace(c, end=None) for c in p.contracts]) for p in staff]  # all still there
    write_dsn(ws.drop("10001", "dsn-2026-02.txt"), [_decl(siret, D(2026, 2, 1), february + [seasonal])])
    _traiter(ws)
    ack = ws.ack("10001", "dsn-2026-02")
    older = next(c for c in ack["constats"] if c["code"] == "DSN_MOIS_ANTERIEUR")
    assert "février 2026" in older["message"] and "mai 2026" in older["message"] and "(10 salarié(s)" in older["message"]
    assert _employee(ws, full_nir(staff[3].nir13))["present"] == 0  # May's word stands
    assert _employee(ws, full_nir(staff[1].nir13))["present"] == 0
    hugo = _employee(ws, full_nir(seasonal.nir13))
    assert (hugo["present"], hugo["date_embauche"], hugo["date_sortie"]) == (0, "2026-02-02", "2026-02-20")
    assert ws.sql("SELECT mois FROM dsn_mois WHERE siret = ?", siret) == [("2026-05",)]

    # FCTU: the exit alone
    staff[4].contracts[0].end, staff[4].contracts[0].motif = D(2026, 6, 10), "043"
    staff[4].contracts[0].job, staff[4].contracts[0].pcs = "Autre emploi", "999z"  # not taken from an FCTU
    write_dsn(ws.drop("10001", "fctu.txt"), [_decl(siret, D(2026, 6, 1), [staff[4]], nature="07")])
    _traiter(ws)
    ack = ws.ack("10001", "fctu")
    assert (ack["statut"], ack["sorties"], ack["entrees"]) == ("accepte", 1, 0)
    assert "DSN_FCTU" in _codes(ack) and "DSN_ABSENT" not in _codes(ack)
    assert _employee(ws, full_nir(staff[4].nir13))["date_sortie"] == "2026-06-10"
    assert (_employee(ws, full_nir(staff[4].nir13))["poste"], _employee(ws, full_nir(staff[4].nir13))["pcs"]) == ("Vendeuse", "552a")
    assert _employee(ws, full_nir(staff[5].nir13))["present"] == 1
    assert ws.sql("SELECT mois FROM dsn_mois WHERE siret = ?", siret) == [("2026-05",)]


def test_payroll_firm_needs_a_mandate_for_every_establishment(ws):
    rng = random.Random(5)
    mandated, other = ws.registry.members["10002"][0], ws.registry.members["10004"][0]
    write_dsn(ws.drop("PAIE01", "dsn-cabinet.txt"), [_decl(mandated, D(2026, 3, 1), _staff(rng, 3)),
                                                     _decl(other, D(2026, 3, 1), _staff(rng, 2))])
    _traiter(ws)
    ack = ws.ack("PAIE01", "dsn-cabinet")
    assert ack["statut"] == "rejete" and "MANDAT_ABSENT" in _codes(ack)
    refusal = next(c for c in ack["constats"] if c["code"] == "MANDAT_ABSENT")
    assert refusal["colonne"] == "S21.G00.11.001" and other in refusal["message"]
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)] and ws.sql("SELECT count(*) FROM dsn_mois") == [(0,)]

    both = ws.registry.members["10003"][0]
    write_dsn(ws.drop("PAIE01", "dsn-cabinet-2.txt"), [_decl(mandated, D(2026, 3, 1), _staff(rng, 3)),
                                                       _decl(both, D(2026, 4, 1), _staff(rng, 2))])
    _traiter(ws)
    ack = ws.ack("PAIE01", "dsn-cabinet-2")
    assert (ack["statut"], ack["entrees"]) == ("accepte", 5)
    assert sorted(ws.sql("SELECT adherent, count(*) FROM salaries GROUP BY adherent")) == [("10002", 3), ("10003", 2)]


@pytest.mark.parametrize("broken, code", [
    ({"trailer": False}, "DSN_FIN_ABSENTE"),
    ({"total_delta": -3}, "DSN_TOTAL_FAUX"),
    ({"count_delta": 1}, "DSN_TOTAL_FAUX"),
])
def test_broken_files_are_refused_whole(ws, broken, code):
    siret = ws.registry.members["10001"][0]
    write_dsn(ws.drop("10001", "dsn.txt"), [_decl(siret, D(2026, 3, 1), _staff(random.Random(2), 3))], **broken)
    _traiter(ws)
    ack = ws.ack("10001", "dsn")
    assert ack["statut"] == "rejete" and code in _codes(ack)
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]


def test_a_malformed_line_refuses_the_file(ws):
    siret = ws.registry.members["10001"][0]
    path = write_dsn(ws.drop("10001", "dsn.txt"), [_decl(siret, D(2026, 3, 1), _staff(random.Random(2), 2))])
    text = path.read_bytes().split(b"\r\n")
    text[20] = b"S21.G00.30.002;DUPONT"
    path.write_bytes(b"\r\n".join(text))
    _traiter(ws)
    ack = ws.ack("10001", "dsn")
    finding = next(c for c in ack["constats"] if c["code"] == "DSN_LIGNE_MAL_FORMEE")
    assert ack["statut"] == "rejete" and "lignes 21" in finding["message"]


def test_bad_rows_are_refused_alone_with_their_rubrique_and_line(ws):
    rng = random.Random(9)
    siret = ws.registry.members["10001"][0]
    good = _staff(rng, 6)
    bad_nir = person(rng, "FAUX", "Nir", D(2025, 1, 6))
    bad_nir.nir13 = "1801399123456"  # month 13
    bad_pcs = person(rng, "INCONNU", "Pcs", D(2025, 1, 6), pcs="999z")
    backwards = person(rng, "ENVERS", "Dates", D(2026, 3, 20), end=D(2026, 3, 5))
    ntt = person(rng, "SANSNIR", "Ntt", D(2026, 3, 2))
    ntt.nir13, ntt.ntt = None, "NTT2026000123"
    placeholder = person(rng, "SUBSTITUT", "Nir", D(2026, 3, 2))
    placeholder.nir13 = "1999999999999"
    path = write_dsn(ws.drop("10001", "dsn.txt"),
                     [_decl(siret, D(2026, 3, 1), good + [bad_nir, bad_pcs, backwards, ntt, placeholder])])
    lines = path.read_bytes().decode("iso-8859-1").split("\r\n")
    _traiter(ws)
    ack = ws.ack("10001", "dsn")
    assert (ack["statut"], ack["lignes"], ack["lignes_acceptees"], ack["lignes_rejetees"]) == ("accepte_partiellement", 11, 6, 5)
    by_code = {c["code"]: c for c in ack["constats"] if c["gravite"] == "bloquant"}
    assert set(by_code) == {"NIR_MOIS", "PCS_INCONNU", "DATE_SORTIE_AVANT_EMBAUCHE", "DSN_SANS_NIR"}
    for code, rubrique in (("NIR_MOIS", "S21.G00.30.001"), ("PCS_INCONNU", "S21.G00.40.004"),
                           ("DATE_SORTIE_AVANT_EMBAUCHE", "S21.G00.62.001")):
        c = by_code[code]
        assert c["colonne"] == rubrique and lines[c["ligne"] - 1].startswith(rubrique), (code, c)
    assert by_code["PCS_INCONNU"]["nom"] == "INCONNU" and "999z" in by_code["PCS_INCONNU"]["message"]
    no_nir = [c for c in ack["constats"] if c["code"] == "DSN_SANS_NIR"]
    assert {c["nom"] for c in no_nir} == {"SANSNIR", "SUBSTITUT"}
    assert any("NTT" in c["message"] for c in no_nir) and any("substitution" in c["message"] for c in no_nir)
    assert not any(c["code"] == "CHAMP_OBLIGATOIRE" for c in ack["constats"])
    assert ws.sql("SELECT count(*) FROM salaries") == [(6,)]  # nobody invented without a real NIR
    assert not list((ws.outbox / "10001").glob("*rejets*"))  # no correction workbook for a DSN


def _march_then_april(ws, seed: int, kept: int) -> str:
    """Five employees in March's DSN (mars.txt), only the first `kept` of them in April's (avril.txt), both
    processed; the establishment's SIRET."""
    rng = random.Random(seed)
    siret = ws.registry.members["10001"][0]
    staff = _staff(rng, 5)
    write_dsn(ws.drop("10001", "mars.txt"), [_decl(siret, D(2026, 3, 1), staff)])
    _traiter(ws)
    write_dsn(ws.drop("10001", "avril.txt"), [_decl(siret, D(2026, 4, 1), staff[:kept])])
    _traiter(ws)
    return siret


def test_mass_exits_are_held_until_staff_decide(ws):
    siret = _march_then_april(ws, seed=4, kept=2)
    ack = ws.ack("10001", "avril")
    assert ack["statut"] == "en_attente" and "DSN_RETENUE" in _codes(ack)
    held = next(c for c in ack["constats"] if c["code"] == "DSN_RETENUE")
    assert "3 salarié(s) sur 5" in held["message"] and siret in held["message"]
    assert ws.sql("SELECT count(*) FROM salaries WHERE present = 1") == [(5,)]
    assert ws.sql("SELECT mois FROM dsn_mois") == [("2026-03",)]
    ws.cli("liste", "valider", "avril.txt")
    assert ws.sql("SELECT count(*) FROM salaries WHERE present = 1") == [(2,)]
    assert ws.sql("SELECT mois FROM dsn_mois") == [("2026-04",)]


def test_fctu_of_someone_unknown_is_refused(ws):
    rng = random.Random(8)
    siret = ws.registry.members["10001"][0]
    gone = person(rng, "INCONNU", "Fctu", D(2025, 1, 6), end=D(2026, 3, 10), motif="059")
    write_dsn(ws.drop("10001", "fctu.txt"), [_decl(siret, D(2026, 3, 1), [gone], nature="07")])
    _traiter(ws)
    ack = ws.ack("10001", "fctu")
    assert ack["statut"] == "rejete" and "SALARIE_INCONNU" in _codes(ack)
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]


def test_december_dsn_says_it_feeds_the_declaration(ws):
    siret = ws.registry.members["10001"][0]
    write_dsn(ws.drop("10001", "dec.txt"), [_decl(siret, D(2026, 12, 1), _staff(random.Random(1), 2))])
    _traiter(ws)
    note = next(c for c in ws.ack("10001", "dec")["constats"] if c["code"] == "DSN_DECEMBRE")
    assert "31/12/2026" in note["message"] and "2027" in note["message"]


def test_valider_checks_a_dsn_without_recording_it(ws, tmp_path):
    siret = ws.registry.members["10001"][0]
    staff = _staff(random.Random(3), 2)
    staff[1].contracts[0].pcs = "12345"
    path = write_dsn(tmp_path / "paie.dsn", [_decl(siret, D(2026, 3, 1), staff)])
    out = ws.cli("valider", str(path), "--expediteur", "10001", "--sortie", str(tmp_path / "essai")).stdout
    assert "2 ligne(s), 1 acceptée(s), 1 refusée(s)" in out
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)] and ws.sql("SELECT count(*) FROM dsn_mois") == [(0,)]


def test_declarations_the_service_cannot_take(ws):
    rng = random.Random(6)
    siret, second = ws.registry.members["10001"]
    cases = {
        "arret.txt": ([_decl(siret, D(2026, 3, 1), _staff(rng, 1), nature="04")], "DSN_NATURE"),
        "melange.txt": ([_decl(siret, D(2026, 3, 1), _staff(rng, 1)),
                         _decl(second, D(2026, 3, 1), _staff(rng, 1), nature="07")], "DSN_NATURES_MELANGEES"),
        "double.txt": ([_decl(siret, D(2026, 3, 1), _staff(rng, 1)), _decl(siret, D(2026, 4, 1), _staff(rng, 1))],
                       "DSN_ETABLISSEMENT_EN_DOUBLE"),
    }
    for name, (declarations, _) in cases.items():
        write_dsn(ws.drop("10001", name), declarations)
    path = write_dsn(ws.drop("10001", "sans-nic.txt"), [_decl(siret, D(2026, 3, 1), _staff(rng, 1))], total_delta=-1)
    path.write_bytes(b"".join(line for line in path.read_bytes().splitlines(keepends=True)
                               if not line.startswith(b"S21.G00.11.001")))
    cases["sans-nic.txt"] = ([], "DSN_BLOC_MANQUANT")
    write_dsn(ws.drop("10001", "vide.txt"), [_decl(siret, D(2026, 3, 1), [])])
    cases["vide.txt"] = ([], "DSN_SANS_SALARIE")
    _traiter(ws)
    for name, (_, code) in cases.items():
        ack = ws.ack("10001", name[:-4])
        assert ack["statut"] == "rejete" and code in _codes(ack), (name, _codes(ack))
    assert ws.sql("SELECT count(*) FROM salaries") == [(0,)]


def test_an_individual_without_contract_is_refused(ws):
    rng = random.Random(7)
    siret = ws.registry.members["10001"][0]
    staff = _staff(rng, 3)
    staff[2].contracts = []
    write_dsn(ws.drop("10001", "dsn.txt"), [_decl(siret, D(2026, 3, 1), staff)])
    _traiter(ws)
    ack = ws.ack("10001", "dsn")
    assert (ack["statut"], ack["lignes_acceptees"]) == ("accepte_partiellement", 2)
    refusal = next(c for c in ack["constats"] if c["code"] == "DSN_SANS_CONTRAT")
    assert refusal["nom"] == staff[2].nom and refusal["gravite"] == "bloquant"
    assert not any(c["code"] == "CHAMP_OBLIGATOIRE" for c in ack["constats"])


def test_january_prefill_counts_the_staff_of_31_december_from_the_dsn(ws):
    """December: four employees. January's DSN (processed before the campaign is prepared): two resigned on
    10 January, one hired on 5 January. The pre-filled 2027 declaration counts the four of 31 December."""
    rng = random.Random(12)
    siret, other = ws.registry.members["10001"]
    staff = _staff(rng, 4)
    write_dsn(ws.drop("10001", "dsn-2026-12.txt"), [_decl(siret, D(2026, 12, 1), staff)])
    _traiter(ws)
    for p in staff[:2]:
        p.contracts[0].end, p.contracts[0].motif = D(2027, 1, 10), "059"
    january = staff + [person(rng, "JANVIER", "Nina", D(2027, 1, 5))]
    write_dsn(ws.drop("10001", "dsn-2027-01.txt"), [_decl(siret, D(2027, 1, 1), january)])
    _traiter(ws)
    assert ws.sql("SELECT count(*) FROM salaries WHERE present = 1") == [(3,)]
    ws.cli("declaration", "preparer", "--annee", "2027")
    text = (ws.outbox / "10001" / "declarations" / "declaration-effectifs-2027-10001.csv").read_text(encoding="utf-8-sig")
    rows = {r.split(";")[3]: r.split(";") for r in text.splitlines()[1:]}
    assert rows[siret][-1] == "4" and rows[siret][4] == "4"  # all SI, as of 31/12/2026
    assert rows[other][-1] == "0"  # no DSN there: the store's count, as before


def test_a_late_month_corrects_inferred_exits_and_changes_nothing_newer(ws):
    """March, then May, then April arrives late. May leaves out X (no end: exit inferred on 30 April); April
    has X's real end (20 April), Y's job as it was in April (May's stands), and Z hired and gone in April."""
    rng = random.Random(21)
    siret = ws.registry.members["10001"][0]
    staff = _staff(rng, 10)
    x, y = staff[0], staff[1]
    write_dsn(ws.drop("10001", "mars.txt"), [_decl(siret, D(2026, 3, 1), staff)])
    _traiter(ws)
    y.contracts[0].job, y.contracts[0].pcs = "Chef de rayon", "462a"
    write_dsn(ws.drop("10001", "mai.txt"), [_decl(siret, D(2026, 5, 1), staff[1:])])
    _traiter(ws)
    assert _employee(ws, full_nir(x.nir13))["date_sortie"] == "2026-04-30"
    x.contracts[0].end, x.contracts[0].motif = D(2026, 4, 20), "059"
    y.contracts[0].job, y.contracts[0].pcs = "Vendeuse", "552a"
    z = person(rng, "AVRIL", "Zoé", D(2026, 4, 6), nature="02", end=D(2026, 4, 24), number="Z0001")
    write_dsn(ws.drop("10001", "avril.txt"), [_decl(siret, D(2026, 4, 1), staff + [z])])
    _traiter(ws)
    ack = ws.ack("10001", "avril")
    assert ack["statut"] == "accepte" and (ack["entrees"], ack["sorties"], ack["modifications"]) == (1, 0, 1)
    assert "SORTIE_CORRIGEE" in _codes(ack) and "DSN_ABSENT" not in _codes(ack)
    assert "(9 salarié(s) laissé(s) de côté)" in next(c["message"] for c in ack["constats"] if c["code"] == "DSN_MOIS_ANTERIEUR")
    assert _employee(ws, full_nir(x.nir13))["date_sortie"] == "2026-04-20"
    assert (_employee(ws, full_nir(y.nir13))["poste"], _employee(ws, full_nir(y.nir13))["present"]) == ("Chef de rayon", 1)
    zoe = _employee(ws, full_nir(z.nir13))
    assert (zoe["present"], zoe["date_embauche"], zoe["date_sortie"]) == (0, "2026-04-06", "2026-04-24")
    assert ws.sql("SELECT mois FROM dsn_mois") == [("2026-05",)]


def test_a_move_between_two_establishments_of_one_member(ws):
    """One file, the two establishments of 10001: a contract ends in the first, another runs in the second."""
    rng = random.Random(30)
    first, second = ws.registry.members["10001"]
    mover = person(rng, "MOBILE", "Yves", D(2024, 9, 2))
    staff = _staff(rng, 5)
    write_dsn(ws.drop("10001", "mars.txt"), [_decl(first, D(2026, 3, 1), [mover] + staff)])
    _traiter(ws)
    leaving = replace(mover, contracts=[replace(mover.contracts[0], end=D(2026, 4, 14), motif="059")])
    arriving = replace(mover, contracts=[Contract(D(2026, 4, 15), job="Chef de rayon", pcs="462a", number="B0001")])
    write_dsn(ws.drop("10001", "avril.txt"), [_decl(first, D(2026, 4, 1), [leaving] + staff),
                                             _decl(second, D(2026, 4, 1), [arriving])])
    _traiter(ws)
    ack = ws.ack("10001", "avril")
    assert (ack["statut"], ack["entrees"], ack["sorties"], ack["modifications"]) == ("accepte", 0, 0, 1)
    assert "DOUBLON_FICHIER" not in _codes(ack) and "DSN_ABSENT" not in _codes(ack)
    note = next(c for c in ack["constats"] if c["code"] == "DSN_CHANGEMENT_ETABLISSEMENT")
    assert first in note["message"] and "14/04/2026" in note["message"] and note["nom"] == "MOBILE"
    moved = _employee(ws, full_nir(mover.nir13))
    assert (moved["present"], moved["siret"], moved["poste"], moved["date_embauche"]) == (1, second, "Chef de rayon", "2024-09-02")


def test_a_held_dsn_refused_by_staff_changes_nothing(ws):
    _march_then_april(ws, seed=14, kept=1)
    ws.cli("liste", "rejeter", "avril.txt", "--motif", "DSN incomplète")
    ack = ws.ack("10001", "avril")
    assert ack["statut"] == "rejete" and "LISTE_REFUSEE_SERVICE" in _codes(ack)
    assert ws.sql("SELECT count(*) FROM salaries WHERE present = 1") == [(5,)]
    assert ws.sql("SELECT mois FROM dsn_mois") == [("2026-03",)]


def test_establishments_that_are_not_the_senders(ws):
    rng = random.Random(15)
    own, foreign = ws.registry.members["10001"][0], ws.registry.members["10002"][0]
    unknown = "98765432100017"
    write_dsn(ws.drop("10001", "dsn.txt"), [_decl(own, D(2026, 3, 1), _staff(rng, 2)),
                                           _decl(foreign, D(2026, 3, 1), _staff(rng, 1)),
                                           _decl(unknown, D(2026, 3, 1), _staff(rng, 1))])
    _traiter(ws)
    ack = ws.ack("10001", "dsn")
    assert (ack["statut"], ack["lignes_acceptees"], ack["lignes_rejetees"]) == ("accepte_partiellement", 2, 2)
    assert {"SIRET_AUTRE_ADHERENT", "SIRET_INCONNU"} <= set(_codes(ack))
    assert ws.sql("SELECT DISTINCT adherent FROM salaries") == [("10001",)]
    assert ws.sql("SELECT siret FROM dsn_mois") == [(own,)]
