"""What the checks ask the store for, so that a file's cost follows the file and not the store: a movements
file gets the employees of its own NIRs (present or gone), a full list the whole present staff and its NIRs,
and both come back with the same columns and values as the whole load."""

from __future__ import annotations

import random

from amsn_batch.store import connect
from amsn_batch.store.employees import existing_employees, multi_employments
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv


def _store(ws):
    """Member 10001: A, B and four others present, C gone; member 10002: D present with A's NIR too."""
    rng = random.Random(5)
    a, b, c = (make_nir(rng) for _ in range(3))
    s1, s2 = ws.registry.members["10001"][0], ws.registry.members["10002"][0]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS,
              [employee_row(a, s1, name="A", hired="01/02/2024"), employee_row(b, s1, name="B", hired="01/02/2024"),
               employee_row(c, s1, name="C", hired="01/02/2024", comment="à revoir"),
               *(employee_row(make_nir(random.Random(100 + k)), s1, name=f"E{k}", hired="01/02/2024") for k in range(4))])
    write_csv(ws.drop("10002", "embauches.csv"), MOVEMENT_HEADERS, [employee_row(a, s2, name="D", hired="01/03/2024")])
    ws.cli("traiter")
    write_csv(ws.drop("10001", "sortie.csv"), MOVEMENT_HEADERS,
              [employee_row(c, s1, movement="Sortie", hired="", exit="30/06/2025", contract="", job="", pcs="",
                            category="", multi="", name="C")])
    ws.cli("traiter")
    return a, b, c


def _rows(frame) -> dict[tuple[str, str], dict]:
    """The employees by (adhérent, NIR), each value as the checks read it (a missing one as None)."""
    columns = {c: frame[c].to_numpy(dtype=object, na_value=None).tolist() for c in frame.columns}
    records = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return {(r["adherent"], r["nir"]): r for r in records}


def test_movements_lookup_gets_only_the_files_nirs(ws):
    a, b, c = _store(ws)
    db = connect(ws.store)
    try:
        whole = _rows(existing_employees(db.conn, ["10001", "10002"]))
        some = existing_employees(db.conn, ["10001", "10002"], [a, c, make_nir(random.Random(9)), ""])
        odd = existing_employees(db.conn, ["10001", "10002"], [c, 'x"\\y', a])  # a text JSON must escape: sent all the same
        staff = existing_employees(db.conn, ["10001"], [c], staff=True)
        # fewer NIRs named than gone employees: each NIR looked up, the gone C not named is left out
        staff_unnamed = existing_employees(db.conn, ["10001"], [], staff=True)
        none = existing_employees(db.conn, ["10001"], [])
        shared = [(e.person, e.adherent, e.nom) for e in multi_employments(db.conn)]
    finally:
        db.conn.close()
    assert set(_rows(some)) == {("10001", a), ("10002", a), ("10001", c)}  # a gone employee too; not B
    assert _rows(some) == {k: whole[k] for k in _rows(some)}  # the same values as the whole load
    assert _rows(odd) == _rows(some)
    assert whole[("10001", c)]["present"] == 0 and whole[("10001", c)]["date_sortie"] == "2025-06-30"
    assert whole[("10001", c)]["commentaire"] == "à revoir" and whole[("10001", c)]["fichier"] == "sortie.csv"
    assert whole[("10001", b)]["commentaire"] is None and whole[("10001", b)]["multi_employeur"] == 0
    assert {k for k in _rows(staff)} == {k for k, r in whole.items() if k[0] == "10001" and (r["present"] or k[1] == c)}
    assert len(staff) == 7  # the present staff (6), and the gone C named
    assert set(_rows(staff_unnamed)) == {k for k, r in whole.items() if k[0] == "10001" and r["present"]}
    assert _rows(staff_unnamed) == {k: whole[k] for k in _rows(staff_unnamed)}
    assert len(none) == 0 and list(none.columns) == list(some.columns)
    assert shared == [(1, "10001", "A"), (1, "10002", "D")]  # A's NIR at two members, neither declared multi-employer


def test_full_list_against_the_lookup(ws):
    """A full list of 10001 naming A and the four others: B (present, not listed) leaves; C (gone) stays gone;
    10002's D is untouched."""
    a, b, c = _store(ws)
    s1 = ws.registry.members["10001"][0]
    headers = [h for h in MOVEMENT_HEADERS if h != "Mouvement"]
    rows = [employee_row(a, s1, name="A", hired="01/02/2024"),
            *(employee_row(make_nir(random.Random(100 + k)), s1, name=f"E{k}", hired="01/02/2024") for k in range(4))]
    write_csv(ws.drop("10001", "liste.csv"), headers, [row[:5] + row[6:] for row in rows])
    ws.cli("traiter")
    present = {k: v for k, v in ws.sql("SELECT adherent || ':' || nir, present FROM salaries")}
    assert {k: present[k] for k in (f"10001:{a}", f"10001:{b}", f"10001:{c}", f"10002:{a}")} == {
        f"10001:{a}": 1, f"10001:{b}": 0, f"10001:{c}": 0, f"10002:{a}": 1}
    assert sum(present.values()) == 6
    assert ws.sql("SELECT entrees, sorties, modifications FROM fichiers WHERE nom = 'liste.csv'") == [(0, 1, 0)]
    # the leaver's exit is a version of what the store held, at the list's date (the day received)
    received = ws.sql("SELECT substr(recu_le, 1, 10) FROM fichiers WHERE nom = 'liste.csv'")[0][0]
    assert ws.sql("SELECT v.mouvement, v.nom, v.poste, v.date_embauche, v.date_sortie FROM salaries s JOIN salaries_versions v "
                  "ON v.id = s.version_id WHERE s.adherent = '10001' AND s.nir = ?", b) == [
        ("sortie", "B", "Vendeuse", "2024-02-01", received)]


def test_a_full_lists_leavers_keep_the_accepted_rows_columns(ws):
    """The leavers a full list adds to its accepted rows take each column's dtype: texts held by Arrow stay so
    and numbers stay numbers (all made Python objects, a list of a million employees copied its accepted rows'
    texts into Python objects, and the store sorted new employees by NIR text)."""
    from amsn_batch.config import load_settings
    from amsn_batch.kinds.employees import EMPLOYEES

    a, b, c = _store(ws)
    s1 = ws.registry.members["10001"][0]
    headers = [h for h in MOVEMENT_HEADERS if h != "Mouvement"]
    newcomer = make_nir(random.Random(77))
    rows = [employee_row(a, s1, name="A", hired="01/02/2024", job="Caissière"), employee_row(newcomer, s1, name="N"),
            *(employee_row(make_nir(random.Random(100 + k)), s1, name=f"E{k}", hired="01/02/2024") for k in range(4))]
    path = write_csv(ws.root / "liste.csv", headers, [row[:5] + row[6:] for row in rows])
    settings = load_settings(ws.config)
    db = connect(ws.store)
    try:
        checked = EMPLOYEES.check(db.conn, path, "10001", settings)
    finally:
        db.conn.close()
    acc = checked.accepted
    assert acc["action"].tolist() == ["modification", "entree", "sortie"]  # A changed, N new, B gone
    assert acc["nom"].dtype == "str" and acc["nom"].tolist()[:2] == ["A", "N"] and acc["nom"].isna().tolist()[2]
    assert {c: acc[c].dtype for c in ("pos", "line", "stored_row", "nir_id")} == {c: "int64" for c in ("pos", "line", "stored_row", "nir_id")}
    assert acc["nir"].tolist()[2] == b and acc["pos"].tolist()[2] == -1


def test_lookup_gives_every_value_as_stored(ws):
    """The known employees come back column by column (each column joined into one text by the store, then cut):
    every value as the store holds it, NULL missing, the flag as 0/1, whether a column has few distinct values
    (a SIRET, a comment left on three of forty employees: a Categorical) or one per employee (names, NIRs:
    Arrow text), a date one text however many employees share it."""
    s1 = ws.registry.members["10001"][0]
    rng = random.Random(11)
    rows = [employee_row(make_nir(rng), s1, name=f"NOM{k}", first=f"P{k % 3}", hired=f"{k % 28 + 1:02d}/02/2024",
                         comment=("à revoir" if k % 2 else "poste adapté") if k < 3 else "",
                         multi="Oui" if k in (5, 6) else "Non") for k in range(40)]
    write_csv(ws.drop("10001", "embauches.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    columns = ["id", "present", "version_id", "adherent", "nir", "siret", "nom", "prenom", "date_naissance",
               "date_embauche", "date_sortie", "contrat", "poste", "pcs", "multi_employeur", "categorie",
               "determinants", "commentaire", "contraintes", "nom_usage"]
    stored = {(r[3], r[4]): dict(zip(columns, r)) for r in ws.sql(
        f"SELECT s.id, s.present, s.version_id, s.adherent, s.nir, {', '.join('v.' + c for c in columns[5:])} "
        "FROM salaries s JOIN salaries_versions v ON v.id = s.version_id")}
    db = connect(ws.store)
    try:
        found = existing_employees(db.conn, ["10001"])
    finally:
        db.conn.close()
    assert len(found) == 40 and len(stored) == 40
    assert {k: {c: r[c] for c in columns} for k, r in _rows(found).items()} == stored
    assert sorted(r["commentaire"] for r in stored.values() if r["commentaire"]) == ["poste adapté", "poste adapté", "à revoir"]
    assert sum(r["multi_employeur"] for r in stored.values()) == 2 and set(found["fichier"]) == {"embauches.csv"}
    # dates repeat over a big staff even when a few rows do not show it: one Python text per distinct date
    hired = found["date_embauche"].tolist()
    assert len(set(hired)) == 28 and len({id(d) for d in hired}) == 28
    # a million employees' texts in little memory: no object array of a million items
    assert {c: str(found[c].dtype) for c in ("nir", "nom", "siret", "prenom", "commentaire", "date_sortie", "date_embauche")} == {
        "nir": "str", "nom": "str", "siret": "category", "prenom": "category", "commentaire": "category",
        "date_sortie": "category", "date_embauche": "category"}


def test_what_an_accepted_file_asks_about_earlier_workbooks_is_found_by_index(ws):
    """For each accepted file, the earlier correction workbooks of its sender are looked at: the file each one
    answered (by the name of its acknowledgement), whether another accepted file of the sender came in between,
    and whom the new file wrote. Each is found by an index, not by reading the ledger or every version: a
    service's years of files would otherwise be read for every file of every night (SQLite's plan)."""
    import pytest

    from amsn_batch.store import employees, ledger

    _store(ws)
    db = connect(ws.store)
    conn = getattr(db.conn, "raw", db.conn)
    if not hasattr(conn, "set_trace_callback"):
        pytest.skip("the plan read here is SQLite's")
    try:
        first = ledger.entry(db.conn, 1)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        assert ledger.entry_by_ack_base(db.conn, first.details["accuse"]).id == 1
        assert ledger.sender_files_between(db.conn, "10001", 0, 3)  # the 10001 file before this one
        nirs, names = employees.written_by(db.conn, 1)
        conn.set_trace_callback(None)
        assert len(nirs) == 7 and "A" in names
        assert len(statements) == 3
        for sql in statements:
            plan = " / ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (sql, plan)
    finally:
        db.conn.close()


def test_the_lookup_cut_into_ranges_of_nirs_gives_the_same_employees(ws, monkeypatch):
    """The file's NIRs cut the lookup into queries of CHUNK of them (a million employees' joined texts never
    all in memory): ranges of two NIRs give every employee once, with the same values, in every kind of lookup."""
    from amsn_batch.store import employees as store_employees

    a, b, c = _store(ws)
    others = [make_nir(random.Random(100 + k)) for k in range(4)]
    s1 = ws.registry.members["10001"][0]
    write_csv(ws.drop("10001", "sorties.csv"), MOVEMENT_HEADERS,
              [employee_row(n, s1, movement="Sortie", hired="", exit="31/07/2025", contract="", job="", pcs="",
                            category="", multi="", name=f"E{k}") for k, n in enumerate(others[:2])])
    ws.cli("traiter")  # gone: C, E0, E1
    asked = {
        "mouvements": (["10001", "10002"], [a, c, *others[:2], make_nir(random.Random(9)), ""], False),
        "liste": (["10001"], [a, *others], True),  # the 3 gone fewer than the NIRs: all of 10001 read
        "liste, NIR par NIR": (["10001"], [a, c], True),  # more gone than NIRs: the NIRs' and the present staff
        "tout": (["10001", "10002"], None, False),
    }
    db = connect(ws.store)
    try:
        whole = {k: _rows(existing_employees(db.conn, *v)) for k, v in asked.items()}
        monkeypatch.setattr(store_employees, "CHUNK", 1)
        cut = {k: existing_employees(db.conn, *v) for k, v in asked.items()}
    finally:
        db.conn.close()
    assert {k: _rows(v) for k, v in cut.items()} == whole
    assert {k: len(v) for k, v in cut.items()} == {k: len(v) for k, v in whole.items()} == {
        "mouvements": 5, "liste": 7, "liste, NIR par NIR": 5, "tout": 8}
