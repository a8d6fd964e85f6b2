"""The DSN reader and the DSN → rows step on small files written by hand: line numbers as in the file,
encodings and line ends, blocks that start again, values with an apostrophe, the NIR key."""

from __future__ import annotations

import numpy as np

from amsn_batch import kinds
from amsn_batch.read.dsn import INDIVIDU, read_dsn
from amsn_batch.rules import dsn as rules
from amsn_batch.rules.catalogue import PARAM, Findings
from tests.dsn_factory import full_nir

TEXT = """S10.G00.00.001,'PAIE'
S20.G00.05.001,'01'
S20.G00.05.005,'01032026'
S21.G00.06.001,'123456789'
S21.G00.11.001,'00011'

S21.G00.30.001,'1800514123456'
S21.G00.30.002,'D'ARC'
S21.G00.30.004,'Jérôme'
S21.G00.30.002,'SANSNIR'
S21.G00.30.004,'Anne'
S21.G00.30.020,'NTT42'
S21.G00.40.001,'01022026'
S21.G00.40.004,'552a'
S21.G00.40.001,'01032026'
S21.G00.40.004,'462a'
S21.G00.40.007,'01'
S21.G00.30.001,'2820A'
S90.G00.90.001,'19'
S90.G00.90.002,'1'
"""


def _write(tmp_path, text: str, encoding: str, newline: str, bom: bytes = b""):
    path = tmp_path / "f.dsn"
    path.write_bytes(bom + text.replace("\n", newline).encode(encoding))
    return path


def test_lines_encodings_and_blocks(tmp_path):
    for encoding, newline, bom in (("iso-8859-1", "\r\n", b""), ("utf-8", "\n", b"\xef\xbb\xbf")):
        path = _write(tmp_path, TEXT, encoding, newline, bom)
        assert kinds.detect(path).name == "dsn"  # by content, whatever the name
        dsn = read_dsn(path)
        assert len(dsn) == 19 and dsn.n_malformed == 0 and dsn.n_lines == 20
        assert dsn.line[:6].tolist() == [1, 2, 3, 4, 5, 7]  # the blank line keeps its number
        assert len(dsn.starts(INDIVIDU)) == 3  # .002 after .004 starts another individual, without its .001
        f = Findings()
        declarations = rules.structure(dsn, f)
        assert f.frame().empty and declarations[0].siret == "12345678900011" and declarations[0].month == "2026-03"
        people = rules.people(dsn, declarations)
        assert people.cells["nom"].tolist() == ["D'ARC", "SANSNIR", ""]
        assert people.cells["prenom"][0] == "Jérôme"
        assert people.cells["nir"].tolist() == [full_nir("1800514123456"), "", "2820A"]
        assert people.lines["nir"].tolist() == [7, 0, 18] and people.ntt[1] == "NTT42"
        # two contracts: the later one gives the job, the earlier one the hire date
        assert (people.cells["pcs"][1], people.cells["date_embauche"][1], people.contracts[1]) == ("462a", "01022026", 2)
        assert (people.lines["pcs"][1], people.lines["date_embauche"][1]) == (16, 13)


def test_malformed_lines_and_counts(tmp_path):
    text = TEXT.replace("S21.G00.40.007,'01'", "S21.G00.40.007;'01'").replace("'19'", "'18'")
    dsn = read_dsn(_write(tmp_path, text, "iso-8859-1", "\r\n"))
    f = Findings()
    rules.structure(dsn, f)
    frame = f.frame()
    assert sorted(frame["code"]) == ["DSN_LIGNE_MAL_FORMEE", "DSN_TOTAL_FAUX"]
    assert frame.loc[frame["code"] == "DSN_LIGNE_MAL_FORMEE", PARAM + "lignes"].iloc[0] == "17"


def test_nir_key_and_corsica():
    nirs = np.array(["1800514123456", "180052A123456", "180052B123456", "12345", ""], dtype=object)
    keyed = rules.with_key(nirs)
    assert keyed[0] == full_nir("1800514123456")
    assert keyed[1] == "180052A123456" + f"{97 - int('1800519123456') % 97:02d}"
    assert keyed[2] == "180052B123456" + f"{97 - int('1800518123456') % 97:02d}"
    assert keyed[3:].tolist() == ["12345", ""]
