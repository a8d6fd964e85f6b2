"""Resending, as HR people do it: the whole original file, corrected in its cells, dropped again. What was
already recorded gives one DEJA_ENREGISTRE warning (which file, when) and is neither written nor counted; the
corrected lines are applied. And a refused value is reported alone, without the findings that only follow
from it (root causes only)."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest

from amsn_batch.store import connect
from amsn_batch.store.employees import existing_employees, record_file
from amsn_batch.store.ledger import FileRecord
from tests.factories import MOVEMENT_HEADERS, employee_row, fr_date, make_nir, write_csv

TODAY = dt.date.today()
HIRED = fr_date(TODAY - dt.timedelta(days=400))
NEW_HIRE = fr_date(TODAY - dt.timedelta(days=10))
LEFT = fr_date(TODAY - dt.timedelta(days=5))
LIST_HEADERS = [h for h in MOVEMENT_HEADERS if h != "Mouvement"] + ["Date de la liste"]


@pytest.fixture
def rng():
    return random.Random(11)


def versions(ws) -> int:
    return ws.sql("SELECT count(*) FROM salaries_versions")[0][0]


def codes(rows) -> list[tuple[str, str, str]]:
    return [(r["ligne"], r["colonne"], r["code"]) for r in rows]


def exit_row(nir, siret, exit, name):
    return employee_row(nir, siret, movement="Sortie", exit=exit, hired="", contract="", job="", pcs="", category="",
                        multi="", name=name)


def change_row(nir, siret, name, **kw):
    base = dict(movement="Modification", hired="", contract="", job="", pcs="", category="", multi="", name=name)
    return employee_row(nir, siret, **{**base, **kw})


def test_whole_corrected_file_resent(ws, rng):
    siret = ws.registry.members["10001"][0]
    a, b, c, x = (make_nir(rng) for _ in range(4))
    write_csv(ws.drop("10001", "personnel.csv"), MOVEMENT_HEADERS,
              [employee_row(n, siret, hired=HIRED, name=nm) for n, nm in ((a, "A"), (b, "B"), (c, "C"), (x, "X"))])
    ws.cli("traiter")
    e, f, g = make_nir(rng), make_nir(rng), make_nir(rng, year=1990, month=3)
    bad_key = f[:13] + f"{(int(f[13:]) + 1) % 97:02d}"
    far = f"01/09/{TODAY.year + 36}"
    monthly = [
        employee_row(e, siret, hired=NEW_HIRE, name="E"),  # 2: applied
        employee_row(bad_key, siret, hired=NEW_HIRE, name="F"),  # 3: refused, wrong NIR key
        exit_row(x, siret, LEFT, "X"),  # 4: applied
        exit_row(b, siret, "", "B"),  # 5: refused, no exit date
        change_row(a, siret, "A", job="Chef de rayon"),  # 6: applied
        change_row(c, siret, "C", pcs="999z"),  # 7: refused, unknown PCS
        employee_row(g, siret, hired=far, name="G", birth="12/03/1990"),  # 8: refused, hire date typed far ahead
    ]
    write_csv(ws.drop("10001", "mouvements-novembre.csv"), MOVEMENT_HEADERS, monthly)
    ws.cli("traiter")
    first = ws.ack("10001", "mouvements-novembre")
    assert (first["entrees"], first["sorties"], first["modifications"], first["lignes_rejetees"]) == (1, 1, 1, 4)
    assert codes(ws.ack_rows("10001", "mouvements-novembre")) == [
        ("3", "N° sécurité sociale", "NIR_CLE"), ("5", "Date de sortie", "DATE_SORTIE_MANQUANTE"),
        ("7", "Code PCS", "PCS_INCONNU"), ("8", "Date d'embauche", "DATE_EMBAUCHE_FUTURE")]
    before = versions(ws)

    # the HR person fixes the four cells in the original and resends all of it
    fixed = list(monthly)
    fixed[1] = employee_row(f, siret, hired=NEW_HIRE, name="F")
    fixed[3] = exit_row(b, siret, LEFT, "B")
    fixed[5] = change_row(c, siret, "C", pcs="552a")
    fixed[6] = employee_row(g, siret, hired=NEW_HIRE, name="G", birth="12/03/1990")
    write_csv(ws.drop("10001", "mouvements-novembre.csv"), MOVEMENT_HEADERS, fixed)
    ws.cli("traiter")
    ack = ws.ack("10001", "mouvements-novembre")
    assert ack["statut"] == "accepte"
    assert (ack["lignes"], ack["lignes_acceptees"], ack["lignes_rejetees"]) == (7, 7, 0)
    assert (ack["entrees"], ack["sorties"], ack["modifications"]) == (2, 1, 1)  # F and G, B, C: the new ones only
    rows = ws.ack_rows("10001", "mouvements-novembre")
    assert codes(rows) == [("2", "Mouvement", "DEJA_ENREGISTRE"), ("4", "Mouvement", "DEJA_ENREGISTRE"),
                           ("6", "Mouvement", "DEJA_ENREGISTRE")]
    assert {r["gravite"] for r in rows} == {"avertissement"}
    received = fr_date(TODAY)
    for r, movement in zip(rows, ("entrée", "sortie", "modification")):
        assert f"Cette {movement} est déjà enregistrée" in r["message"]
        assert "« mouvements-novembre.csv »" in r["message"] and f"reçu le {received}" in r["message"]
    # four versions for the four corrected lines, none for the three repeated ones
    assert versions(ws) == before + 4
    state = {n: (p, poste, pcs, sortie) for n, p, poste, pcs, sortie
             in ws.sql("SELECT nom, present, poste, pcs, date_sortie FROM salaries_actuels")}
    assert state["A"][:2] == (1, "Chef de rayon") and state["C"][2] == "552a"
    assert state["X"][0] == 0 and state["B"][0] == 0 and state["F"][0] == 1 and state["G"][0] == 1
    assert ws.sql("SELECT count(*) FROM salaries_versions v JOIN salaries s ON s.id = v.salarie_id WHERE s.nir = ?", x) == [(2,)]
    assert ws.sql("SELECT entrees, sorties, modifications FROM fichiers ORDER BY id DESC LIMIT 1") == [(2, 1, 1)]

    # resent once more, unchanged but saved again (other bytes): every line is already recorded
    write_csv(ws.drop("10001", "mouvements-novembre.csv"), MOVEMENT_HEADERS, fixed, encoding="utf-8", bom=True)
    ws.cli("traiter")
    ack = ws.ack("10001", "mouvements-novembre")
    assert (ack["statut"], ack["entrees"], ack["sorties"], ack["modifications"], ack["lignes_acceptees"]) == ("accepte", 0, 0, 0, 7)
    assert [r["code"] for r in ws.ack_rows("10001", "mouvements-novembre")] == ["DEJA_ENREGISTRE"] * 7
    assert versions(ws) == before + 4


def test_entry_again_changes_only_what_differs_and_exit_date_corrected(ws, rng):
    siret = ws.registry.members["10001"][0]
    a, x = make_nir(rng), make_nir(rng)
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS,
              [employee_row(a, siret, hired=HIRED, name="A"), employee_row(x, siret, hired=HIRED, name="X")])
    ws.cli("traiter")
    write_csv(ws.drop("10001", "sorties.csv"), MOVEMENT_HEADERS, [exit_row(x, siret, LEFT, "X")])
    ws.cli("traiter")
    before = versions(ws)
    corrected_exit = fr_date(TODAY - dt.timedelta(days=3))
    write_csv(ws.drop("10001", "embauches-corrige.csv"), MOVEMENT_HEADERS, [
        employee_row(a, siret, hired=HIRED, name="A", job="Caissière", pcs="552a"),  # present: what differs changes
        employee_row(x, siret, hired=HIRED, name="X"),  # the entry of an employment that has ended since
        employee_row(make_nir(rng), siret, hired=HIRED, name="N"),  # a new employee
    ])
    ws.cli("traiter")
    ack = ws.ack("10001", "embauches-corrige")
    assert (ack["entrees"], ack["sorties"], ack["modifications"], ack["lignes_rejetees"]) == (1, 0, 1, 0)
    rows = {r["code"]: r for r in ws.ack_rows("10001", "embauches-corrige")}
    assert set(rows) == {"ENTREE_SALARIE_PRESENT", "DEJA_ENREGISTRE"}
    assert rows["ENTREE_SALARIE_PRESENT"]["message"].count("(Poste de travail, Code PCS)") == 1
    assert rows["DEJA_ENREGISTRE"]["ligne"] == "3"
    assert f"sorti depuis, le {LEFT}" in rows["DEJA_ENREGISTRE"]["message"]
    assert "« sorties.csv »" in rows["DEJA_ENREGISTRE"]["message"]
    assert ws.sql("SELECT champs_modifies FROM evenements WHERE nir = ? ORDER BY id DESC LIMIT 1", a) == [("poste,pcs",)]
    assert ws.sql("SELECT present FROM salaries_actuels WHERE nir = ?", x) == [(0,)]
    assert versions(ws) == before + 2  # A's change and N's entry

    # the exit sent again with another date: a correction of the exit, counted as a modification
    write_csv(ws.drop("10001", "sorties-corrige.csv"), MOVEMENT_HEADERS, [exit_row(x, siret, corrected_exit, "X")])
    ws.cli("traiter")
    ack = ws.ack("10001", "sorties-corrige")
    assert (ack["statut"], ack["entrees"], ack["sorties"], ack["modifications"]) == ("accepte", 0, 0, 1)
    rows = ws.ack_rows("10001", "sorties-corrige")
    assert codes(rows) == [("2", "Date de sortie", "SORTIE_CORRIGEE")]
    assert f"déjà sorti, le {LEFT}" in rows[0]["message"] and f"corrigée au {corrected_exit}" in rows[0]["message"]
    assert ws.sql("SELECT present, date_sortie FROM salaries_actuels WHERE nir = ?", x) == [
        (0, (TODAY - dt.timedelta(days=3)).isoformat())]
    assert ws.sql("SELECT mouvement, champs_modifies FROM evenements WHERE nir = ? ORDER BY id", x) == [
        ("entree", None), ("sortie", "date_sortie"), ("sortie", "date_sortie")]
    # a modification of someone who has left that gives nothing new: already recorded, not refused
    write_csv(ws.drop("10001", "modif.csv"), MOVEMENT_HEADERS, [change_row(x, siret, "X", job="Vendeuse")])
    ws.cli("traiter")
    assert [r["code"] for r in ws.ack_rows("10001", "modif")] == ["DEJA_ENREGISTRE"]
    assert ws.ack("10001", "modif")["modifications"] == 0


def list_row(nir, siret, name, exit="", job="Vendeuse"):
    row = employee_row(nir, siret, hired=HIRED, name=name, exit=exit, job=job)
    del row[MOVEMENT_HEADERS.index("Mouvement")]
    return row + [fr_date(TODAY)]


def test_full_list_resent_identical_changes_nothing(ws, rng):
    siret = ws.registry.members["10001"][0]
    staff = [make_nir(rng) for _ in range(6)]
    rows = [list_row(n, siret, f"N{i}") for i, n in enumerate(staff)]
    gone = make_nir(rng)
    rows.append(list_row(gone, siret, "H", exit=LEFT))  # hired and gone since the last list: kept as history
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, rows)
    ws.cli("traiter")
    assert ws.ack("10001", "liste")["entrees"] == 7
    assert ws.sql("SELECT present FROM salaries_actuels WHERE nir = ?", gone) == [(0,)]
    assert ws.sql("SELECT mouvement FROM evenements WHERE nir = ? ORDER BY id", gone) == [("entree",), ("sortie",)]
    rows[0] = list_row(staff[0], siret, "N0", exit=LEFT)  # leaves
    rows[1] = list_row(staff[1], siret, "N1", job="Caissière")  # changes
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, rows)
    ws.cli("traiter")
    ack = ws.ack("10001", "liste")
    assert (ack["entrees"], ack["sorties"], ack["modifications"]) == (0, 1, 1)
    before = versions(ws)
    # the same list again, its lines in another order (other bytes, same staff)
    write_csv(ws.drop("10001", "liste.csv"), LIST_HEADERS, rows[::-1])
    ws.cli("traiter")
    ack = ws.ack("10001", "liste")
    assert (ack["statut"], ack["entrees"], ack["sorties"], ack["modifications"]) == ("accepte", 0, 0, 0)
    assert [r["code"] for r in ws.ack_rows("10001", "liste")] == ["LISTE_COMPLETE"]
    assert versions(ws) == before
    assert ws.sql("SELECT present, date_sortie FROM salaries_actuels WHERE nir = ?", staff[0]) == [
        (0, (TODAY - dt.timedelta(days=5)).isoformat())]


def test_root_cause_only(ws, rng):
    siret = ws.registry.members["10001"][0]
    far = f"01/09/{TODAY.year + 36}"
    minor_birth = fr_date(TODAY.replace(year=TODAY.year - 11, month=1, day=15))
    nir = make_nir(rng, year=TODAY.year - 16)
    bad_key = nir[:13] + f"{(int(nir[13:]) + 1) % 97:02d}"
    rows = [
        # the hire date typed 2062 for 2026: the birth date is right, and is not blamed
        employee_row(make_nir(rng, year=1964, month=3), siret, hired=far, birth="12/03/1964", exit=fr_date(TODAY)),
        # a birth date typed 1867: the NIR's year (67) is not reported against it
        employee_row(make_nir(rng, year=1967, month=6), siret, hired=HIRED, birth="14/06/1867"),
        # a birth date that makes a child of 11 at hire: not also a minor in category SI
        employee_row(make_nir(rng, year=1990), siret, hired=HIRED, birth=minor_birth, category="SI"),
        # two independent mistakes: a wrong NIR key does not hide that a 16-year-old is declared SI
        employee_row(bad_key, siret, hired=NEW_HIRE, birth=fr_date(TODAY.replace(year=TODAY.year - 16, day=1)),
                     category="SI"),
    ]
    write_csv(ws.drop("10001", "f.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    out = ws.ack_rows("10001", "f")
    assert codes(out) == [("2", "Date d'embauche", "DATE_EMBAUCHE_FUTURE"),
                          ("3", "Date de naissance", "DATE_NAISSANCE_INVRAISEMBLABLE"),
                          ("4", "Date de naissance", "DATE_NAISSANCE_INVRAISEMBLABLE"),
                          ("5", "Catégorie déclarée", "MINEUR_SIA"), ("5", "N° sécurité sociale", "NIR_CLE")]
    limit = fr_date(TODAY + dt.timedelta(days=365))
    assert far in out[0]["message"] and f"au plus tard pour le {limit}" in out[0]["message"]


def test_nir_and_birth_worded_as_a_person_would(ws, rng):
    siret = ws.registry.members["10001"][0]
    minor_year = TODAY.year - 16
    write_csv(ws.drop("10001", "f.csv"), MOVEMENT_HEADERS, [
        employee_row(make_nir(rng, year=1967, month=6), siret, hired=HIRED, birth="12/07/1990"),
        employee_row(make_nir(rng, year=minor_year, month=3), siret, hired=HIRED, category="SI"),
        employee_row(make_nir(rng, year=2005, month=1), siret, hired=HIRED, birth=f"01/01/{minor_year}", category="SI"),
    ])
    ws.cli("traiter")
    msg = {(r["ligne"], r["code"]): r["message"] for r in ws.ack_rows("10001", "f")}
    assert "indique une naissance en juin 1967, la date de naissance donnée est le 12/07/1990" in msg["2", "NIR_NAISSANCE"]
    assert f"(né en mars {minor_year})" in msg["3", "MINEUR_SIA"]
    assert f"(né le 01/01/{minor_year})" in msg["4", "MINEUR_SIA"]
    assert "naissance en janvier 2005" in msg["4", "NIR_NAISSANCE"]


def test_the_store_never_versions_a_row_that_changes_nothing(ws, rng):
    """The store's own guard, below the checks: handed a modification equal to what it holds and a real one,
    it writes one version and counts one modification."""
    siret = ws.registry.members["10001"][0]
    a, b = make_nir(rng), make_nir(rng)
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS,
              [employee_row(a, siret, hired=HIRED, name="A"), employee_row(b, siret, hired=HIRED, name="B")])
    ws.cli("traiter")
    db = connect(ws.store)
    try:
        existing = existing_employees(db.conn, ["10001"])
        assert set(existing["fichier"]) == {"embauches.csv"}
        assert all(v.startswith(TODAY.isoformat()) for v in existing["fichier_recu_le"])
        # the accepted rows as the checks give them: texts as Python objects, None where not given
        accepted = existing.drop(columns=["id", "present", "version_id", "fichier", "fichier_recu_le"]).astype(object)
        accepted = accepted.where(accepted.notna(), None)
        accepted["action"] = accepted["compte"] = "modification"
        accepted["pos"], accepted["line"], accepted["stored_row"] = [0, 1], [2, 3], [0, 1]
        accepted.loc[accepted["nir"] == b, "poste"] = "Caissière"
        before = versions(ws)
        rec = FileRecord("0" * 64, "10001", "direct.csv", 1, TODAY.isoformat(), "accepte", 2, 2, 0, 0, {})
        _, counts = record_file(db.conn, rec, pd.DataFrame(), accepted, existing, TODAY.isoformat())
    finally:
        db.conn.close()
    assert counts == {"entree": 0, "sortie": 0, "modification": 1}
    assert versions(ws) == before + 1
    assert ws.sql("SELECT poste FROM salaries_actuels WHERE nir = ?", b) == [("Caissière",)]
