"""Property-based tests: whatever bytes or malformed tables arrive, the readers return a table with sane line
numbers or refuse the file with a French message (UnreadableFile); the checks then give a verdict. Never
another exception."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from amsn_batch.config import load_settings
from amsn_batch.kinds.employees import check_file
from amsn_batch.read import UnreadableFile, read_table
from amsn_batch.vocab import vocabulary
from amsn_batch.rules.catalogue import ROW_COLUMNS
from amsn_batch.registry import import_registry
from amsn_batch.store import connect
from tests.conftest import make_workspace
from tests.factories import MOVEMENT_HEADERS, Registry, employee_row, make_nir

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                    max_examples=120)
VOCAB = vocabulary("mouvements")

cell_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", ";", ",", '"', '""', "\n", "\r\n", "\t", "\x00", "=1+1", "é", "\ufeff", "2,95109E+14",
                     "01/09/2026", "Entrée", "CDI", "554a", "\u2028", "\x1a", " "]),
    st.sampled_from(MOVEMENT_HEADERS),
)
rows_strategy = st.lists(st.lists(cell_text, max_size=18), max_size=25)


def _check_table(table, n_physical_lines: int | None = None) -> None:
    assert len(table.lines) == len(table.frame)
    assert list(table.frame.columns) == table.headers
    assert len(set(table.headers)) == len(table.headers)
    if len(table.lines):
        assert (table.lines[1:] > table.lines[:-1]).all()
        assert table.lines[0] > table.header_line >= 1
    for col in table.headers:
        assert all(isinstance(v, str) for v in table.frame[col].tolist())
    if table.footer:  # total lines are skipped only below the last data row, never the whole table
        assert len(table) >= 1 and table.footer[0][0] > table.lines[-1]
        assert not any(re.search(r"\d{9}", re.sub(r"\s", "", text)) for _, text in table.footer)  # no identifier


def _read(data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"depot{suffix}"
        path.write_bytes(data)
        try:
            table = read_table(path, VOCAB, max_rows=1000, max_columns=60)
        except UnreadableFile as exc:
            assert str(exc) and str(exc)[0].isupper()  # a French sentence, not an exception repr
            event("refusé")
            return None
        _check_table(table)
        event("lu" if len(table) else "lu, sans ligne")
        return table


@SETTINGS
@given(data=st.binary(max_size=4000), suffix=st.sampled_from([".csv", ".xlsx", ".txt", ".xls", ""]))
def test_random_bytes(data, suffix):
    _read(data, suffix)


@SETTINGS
@given(tail=st.binary(max_size=3000), magic=st.sampled_from([b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf", b"\xff\xfe"]))
def test_random_bytes_behind_a_known_signature(tail, magic):
    _read(magic + tail, ".xlsx" if magic.startswith((b"PK", b"\xd0")) else ".csv")


def _csv_bytes(header, rows, sep, encoding, bom, eol, quoting) -> bytes:
    buf = io.StringIO()
    if quoting:
        w = csv.writer(buf, delimiter=sep, lineterminator=eol)
        w.writerow(header)
        w.writerows(rows)
    else:  # naive export: no quoting at all, separators and quotes inside values break the structure
        buf.write(eol.join(sep.join(r) for r in [header, *rows]) + eol)
    try:
        data = buf.getvalue().encode(encoding, errors="replace" if encoding != "utf-16" else "surrogatepass")
    except UnicodeEncodeError:
        data = buf.getvalue().encode("utf-8", errors="replace")
    return (b"\xef\xbb\xbf" + data) if bom and encoding == "utf-8" else data


@SETTINGS
@given(header=st.one_of(st.just(MOVEMENT_HEADERS), st.lists(st.one_of(cell_text, st.sampled_from(MOVEMENT_HEADERS)), max_size=20)),
       rows=rows_strategy, sep=st.sampled_from([";", ",", "\t", "|"]), encoding=st.sampled_from(["utf-8", "cp1252", "utf-16", "latin-1"]),
       bom=st.booleans(), eol=st.sampled_from(["\r\n", "\n", "\r"]), quoting=st.booleans(),
       title=st.lists(cell_text, max_size=3))
def test_random_malformed_csv(header, rows, sep, encoding, bom, eol, quoting, title):
    body = _csv_bytes(header, rows, sep, encoding, bom, eol, quoting)
    pre = "".join(t.replace("\n", " ").replace("\r", " ") + eol for t in title).encode(encoding, errors="replace") if encoding != "utf-16" else b""
    _read(pre + body, ".csv")


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.lists(st.one_of(st.sampled_from(MOVEMENT_HEADERS), st.text(max_size=10)), max_size=16),
       rows=st.lists(st.lists(st.one_of(st.text(max_size=15), st.integers(-10**16, 10**16), st.floats(allow_nan=True, allow_infinity=True),
                                        st.booleans(), st.none(), st.dates()), max_size=16), max_size=12),
       title=st.lists(st.text(max_size=10), max_size=2))
def test_random_workbooks(header, rows, title):
    from openpyxl import Workbook

    ILLEGAL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}
    clean = lambda v: "".join(ch for ch in v if ch not in ILLEGAL) if isinstance(v, str) else v  # noqa: E731
    wb = Workbook()
    ws = wb.active
    for t in title:
        ws.append([clean(t)])
    ws.append([clean(h) for h in header])
    for r in rows:
        ws.append([clean(v) for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    _read(buf.getvalue(), ".xlsx")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("prop")
    w = make_workspace(root / "ws")  # the suite's engine: a SQLite file, or a PostgreSQL database
    cfg = load_settings(w.config)
    reg, mand = w.registry.write(root / "registre")
    db = connect(w.store)
    import_registry(db, reg, mand)
    yield cfg, db.conn
    db.conn.close()


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell_text, min_size=0, max_size=16), max_size=15), good=st.integers(0, 3),
       sender=st.sampled_from(["10001", "PAIE01", "10004", "INCONNU"]), drop=st.sets(st.integers(0, 13), max_size=4))
def test_checks_give_a_verdict_on_any_table(store, rows, good, sender, drop):
    """Random rows (plus a few valid ones) with random columns removed: the checks always conclude."""
    cfg, conn = store
    reg = Registry()
    keep = [i for i in range(len(MOVEMENT_HEADERS)) if i not in drop]
    valid = [employee_row(make_nir(), reg.members["10001"][0]) for _ in range(good)]
    body = [[r[i] for i in keep] for r in valid] + rows
    data = _csv_bytes([MOVEMENT_HEADERS[i] for i in keep], body, ";", "utf-8", True, "\r\n", True)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "depot.csv"
        path.write_bytes(data)
        checked = check_file(conn, path, sender, cfg)
    rec = checked.record
    assert rec.status in ("accepte", "accepte_partiellement", "rejete")
    assert rec.accepted + rec.refused == rec.rows
    assert tuple(checked.findings.columns) == ROW_COLUMNS  # the CSV's six, then the column letter and the person
    assert all(isinstance(m, str) and m for m in checked.findings["message"])
    event(rec.status)


_VALID_CSV = _csv_bytes(MOVEMENT_HEADERS, [employee_row(make_nir(), Registry().members["10001"][0], name=f"N{i}") for i in range(6)],
                        ";", "cp1252", False, "\r\n", True)


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, len(_VALID_CSV)), st.sampled_from(["insert", "delete", "replace"]),
                                st.binary(min_size=1, max_size=8)), min_size=1, max_size=12))
def test_damaged_valid_csv(edits):
    """A real export with bytes inserted, removed or overwritten here and there (a damaged transfer)."""
    data = bytearray(_VALID_CSV)
    for pos, op, chunk in edits:
        pos = min(pos, len(data))
        if op == "insert":
            data[pos:pos] = chunk
        elif op == "delete":
            del data[pos:pos + len(chunk)]
        else:
            data[pos:pos + len(chunk)] = chunk
    _read(bytes(data), ".csv")


FOOTERS = st.sampled_from(["Total : {n} salariés", "Nombre de salariés : {n}", "{n}", "Fin de fichier", "Effectif total;{n}",
                           "Édité le 30/11/2026 à 10:12 – page 1/1", ";;Total;;{n}", "TOTAL GÉNÉRAL;;;;;;;;;;;;;{n} salariés",
                           "Sous-total;{n}", "*** Fin de l'export ***"])


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 12), footers=st.lists(FOOTERS, max_size=4), blanks=st.sets(st.integers(0, 12), max_size=4),
       broken=st.lists(st.sampled_from(["DUPONT", "DUPONT;Marie", "1234;DURAND", ";;{nir}", "Total;Marie;{nir}"]), max_size=2),
       encoding=st.sampled_from(["utf-8-sig", "cp1252"]), blank_before_footer=st.booleans())
def test_footer_lines_are_skipped_and_employee_rows_never(n, footers, blanks, broken, encoding, blank_before_footer):
    """An export's data rows (valid ones, then possibly broken ones), blank lines anywhere among them, then
    total and footer lines: every data row is read on its line, every footer line is skipped, nothing else."""
    reg = Registry()
    body, data_lines = [], []
    for i in range(n):
        if i in blanks:
            body.append("")
        body.append(";".join(employee_row(make_nir(), reg.members["10001"][0], name=f"NOM{i}")))
        data_lines.append(len(body) + 1)
    for b in broken:
        body.append(b.format(nir=make_nir()))
        data_lines.append(len(body) + 1)
    if blank_before_footer and footers:
        body.append("")
    footer_lines = []
    for f in footers:
        body.append(f.format(n=n))
        footer_lines.append(len(body) + 1)
    text = "\r\n".join([";".join(MOVEMENT_HEADERS), *body]) + "\r\n"
    table = _read(text.encode(encoding), ".csv")
    assert table is not None
    assert table.lines.tolist() == data_lines
    assert [line for line, _ in table.footer] == footer_lines
