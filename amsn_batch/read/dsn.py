"""DSN files (déclaration sociale nominative) → rubriques with the line numbers of the file, and the blocks
they belong to.

A DSN is a text file (ISO-8859-1 in practice, CRLF), one rubrique per line: `S21.G00.30.001,'value'`. A
rubrique names its block (`S21.G00.30`, the individual) and its place in the block (`001`); a block starts
again when a rubrique of it comes whose number is not above the previous one's (its first rubrique
reappears, or the first ones are absent). Blocks nest in a fixed order: a declaration (S20.G00.05) holds an
entreprise (S21.G00.06), an établissement (S21.G00.11) and individuals (S21.G00.30), each holding contracts
(S21.G00.40) that may end (S21.G00.62). The trailer (S90.G00.90) counts the rubriques and the declarations.

The whole file is parsed as bytes with numpy: no Python object per line. Values are decoded only for the
rubriques asked for (`DsnFile.values`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from .errors import UnreadableFile

MAGIC = b"S10.G00.00."  # the first rubrique of every DSN: the sending (envoi)
_SHAPE = b"S00.G00.00.000,'"  # digits where this has 0
_DIGITS = np.array([c == ord("0") for c in _SHAPE], dtype=bool)
_WEIGHTS = np.array([10 ** k for k in range(8, -1, -1)], dtype=np.int64)  # SS GG bb iii → one integer

# Blocks as integers (SS GG bb) and what holds them.
DECLARATION, ENTREPRISE, ETABLISSEMENT = 200005, 210006, 210011
INDIVIDU, CONTRAT, FIN = 210030, 210040, 210062
TRAILER = 900090


def rubrique_key(name: str) -> int:
    """'S21.G00.30.001' → 210030001."""
    return int(name[1:3] + name[5:7] + name[8:10] + name[11:14])


def rubrique_name(key: int) -> str:
    s = f"{key:09d}"
    return f"S{s[0:2]}.G{s[2:4]}.{s[4:6]}.{s[6:9]}"


def is_dsn(head: bytes) -> bool:
    """Whether the first bytes of a file are a DSN's (a BOM or blank lines before it allowed)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(MAGIC)


@dataclass
class DsnFile:
    """The rubriques of a DSN file, in file order (malformed lines left out), and where each block starts."""

    data: np.ndarray  # the file's bytes (UTF-8)
    line: np.ndarray  # line number in the file (1-based), per rubrique
    key: np.ndarray  # rubrique as an integer (rubrique_key), per rubrique
    start: np.ndarray  # byte offset of the value, per rubrique
    end: np.ndarray  # byte offset just after the value
    encoding: str
    malformed: list[tuple[int, str]] = field(default_factory=list)  # the first malformed lines (line, text)
    n_malformed: int = 0
    n_lines: int = 0

    def __len__(self) -> int:
        return len(self.key)

    def __post_init__(self) -> None:
        self._memo: dict = {}

    @property
    def block(self) -> np.ndarray:
        if "block" not in self._memo:
            self._memo["block"] = self.key // 1000
        return self._memo["block"]

    def _restarts(self) -> np.ndarray:
        """Per rubrique, whether it starts a block: it follows one of another block, or one of the same block
        whose number is not below its own."""
        if "restarts" not in self._memo:
            blk, item = self.block, self.key % 1000
            out = np.ones(len(blk), dtype=bool)
            out[1:] = (blk[1:] != blk[:-1]) | (item[1:] <= item[:-1])
            self._memo["restarts"] = out
        return self._memo["restarts"]

    def instance(self, block: int) -> np.ndarray:
        """Per rubrique, the number of the latest instance of `block` started at or before it (-1 before the
        first)."""
        if ("instance", block) not in self._memo:
            starts = self._restarts() & (self.block == block)
            self._memo[("instance", block)] = np.cumsum(starts, dtype=np.int32) - 1
            self._memo[("starts", block)] = np.flatnonzero(starts)
        return self._memo[("instance", block)]

    def starts(self, block: int) -> np.ndarray:
        """Positions (rubrique index) where each instance of `block` starts."""
        self.instance(block)
        return self._memo[("starts", block)]

    def values(self, positions: np.ndarray) -> np.ndarray:
        """The values of the rubriques at these positions, as text (object array)."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return np.array([], dtype=object)
        order = np.argsort(self.start[positions], kind="stable")
        s, e = self.start[positions][order], self.end[positions][order]
        offsets = np.empty(2 * len(s) + 1, dtype=np.int64)  # value, gap, value, gap…: one zero-copy array
        offsets[0:-1:2], offsets[1::2] = s, e
        offsets[-1] = e[-1]
        arr = pa.LargeStringArray.from_buffers(2 * len(s), pa.py_buffer(offsets), pa.py_buffer(self.data))
        texts = arr.take(pa.array(np.arange(0, 2 * len(s), 2))).to_numpy(zero_copy_only=False)
        out = np.empty(len(positions), dtype=object)
        out[order] = texts
        return out

    def pick(self, rubrique: str, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(value, line) of `rubrique` for each of `n` owners ('' and 0 where absent); `owner`: per rubrique,
        the owning block instance (DsnFile.instance of the owner's block). The last one wins if repeated."""
        hit = np.flatnonzero((self.key == rubrique_key(rubrique)) & (owner >= 0))
        value, line = np.full(n, "", dtype=object), np.zeros(n, dtype=np.int64)
        value[owner[hit]] = self.values(hit)
        line[owner[hit]] = self.line[hit]
        return value, line


MALFORMED_KEPT = 5


def read_dsn(path: Path) -> DsnFile:
    st = path.stat()
    return _read_dsn(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=1)
def _read_dsn(name: str, _size: int, _mtime_ns: int) -> DsnFile:
    """The last file read is kept: the kind reads it before its checks, which read it again."""
    raw = Path(name).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    buf = np.frombuffer(raw, dtype=np.uint8)
    encoding = "ascii"
    if not raw.isascii():
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            raw = raw.decode("latin-1").encode("utf-8")
            encoding = "iso-8859-1"
            buf = np.frombuffer(raw, dtype=np.uint8)
    if not len(buf):
        raise UnreadableFile("Le fichier est vide.")
    nl = np.flatnonzero(buf == ord("\n"))
    line_start = np.concatenate(([0], nl + 1))
    line_end = np.concatenate((nl, [len(buf)]))
    if line_start[-1] >= len(buf):  # the file ends with a newline: no last empty line
        line_start, line_end = line_start[:-1], line_end[:-1]
    n_lines = len(line_start)
    cr = (line_end > line_start) & (buf[np.maximum(line_end - 1, 0)] == ord("\r"))
    line_end = line_end - cr
    length = line_end - line_start
    numbers = np.arange(1, n_lines + 1, dtype=np.int64)
    blank = length == 0
    # the 16 first bytes of each line, Sdd.Gdd.dd.ddd,' : read as two 8-byte words per line from a view of
    # the buffer at every byte offset (two gathers, not sixteen), then looked at as a 16-column byte table
    ok = ~blank & (length >= len(_SHAPE) + 1)
    idx = np.flatnonzero(ok)
    padded = np.concatenate((buf, np.zeros(16, dtype=np.uint8)))
    words = np.ndarray(shape=(len(buf) + 8,), dtype="<u8", buffer=padded.data, strides=(1,))
    head = np.empty((len(idx), 2), dtype="<u8")
    head[:, 0], head[:, 1] = words[line_start[idx]], words[line_start[idx] + 8]
    head = head.view(np.uint8).reshape(len(idx), 16)
    good = buf[line_end[idx] - 1] == ord("'")
    key = np.zeros(len(idx), dtype=np.int64)
    weight = iter(_WEIGHTS)
    for j, expected in enumerate(_SHAPE):
        byte = head[:, j]
        if _DIGITS[j]:
            good &= (byte >= ord("0")) & (byte <= ord("9"))
            key += (byte.astype(np.int64) - ord("0")) * next(weight)
        else:
            good &= byte == expected
    ok[idx] = good
    full_key = np.zeros(n_lines, dtype=np.int64)
    full_key[idx] = key
    key = full_key
    bad = np.flatnonzero(~ok & ~blank)
    malformed = [(int(numbers[i]), raw[line_start[i]:line_end[i]][:120].decode("utf-8", "replace"))
                 for i in bad[:MALFORMED_KEPT]]
    keep = np.flatnonzero(ok)
    return DsnFile(buf, numbers[keep], key[keep], line_start[keep] + len(_SHAPE), line_end[keep] - 1, encoding,
                   malformed, len(bad), n_lines)
