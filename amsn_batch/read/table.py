"""One table of text cells, whatever the file format, with the line numbers the sender sees.

Every cell is read as text: dates, numbers and identifiers are parsed by the rules, so that each failure
can name its line, its column and the raw value. Blank rows are dropped but keep their place in the
numbering; the header row may sit below a title.
"""

from __future__ import annotations

import csv
import io
import mmap
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .arrow import byte_set, holds_any
from .errors import XLS_MAGIC, XLSX_MAGIC, UnreadableFile
from .excel import cell_text, column_text, read_workbook, row_text
from .guard import check_zip
from .memory import give_back
from ..formats import unprotect_columns
from ..vocab import Vocabulary, load_toml, vocabulary
from .headers import score_header_row

HEADER_SEARCH_ROWS = 30
EXTRA_FIELDS = 32  # a CSV row may carry this many fields more than its header before the reader gives up


@dataclass
class Table:
    headers: list[str]  # as written in the file (a repeated header gets " (2)")
    frame: pd.DataFrame  # text cells, '' for empty; columns are `headers`
    lines: np.ndarray  # line number of each row, as the sender sees it (1-based)
    header_line: int
    overflow: np.ndarray  # rows that had more fields than the header
    format: str  # 'csv' or 'xlsx'
    details: dict = field(default_factory=dict)  # encoding, separator or sheet
    footer: list[tuple[int, str]] = field(default_factory=list)  # (line, text) of the total lines skipped at the end

    def __len__(self) -> int:
        return len(self.frame)


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def read_table(path: Path, vocab: Vocabulary, max_rows: int = 2_000_000, max_columns: int = 200,
               max_unzipped_bytes: int = 1024 * 1024 * 1024, max_zip_ratio: int = 200,
               max_read_bytes: int = 4096 * 1024 * 1024) -> Table:
    """The file as a Table. The last table read is kept (same path, size, time and settings): the checks and
    the correction workbook look at the same file and it is parsed once. Callers must not change it.
    `max_read_bytes`: the memory a workbook's reader may use (see excel.py)."""
    st = path.stat()
    table = _read_table(str(path), st.st_size, st.st_mtime_ns, vocab.kind, max_rows, max_columns, max_unzipped_bytes,
                        max_zip_ratio, max_read_bytes)
    give_back()  # what the reader's threads used on the way
    return table


def forget_tables() -> None:
    """Let go of the table `read_table` keeps, and give its memory back, once nothing in this process will
    read that file again (a big file's correction workbook is written by a second process): on a million-row
    file, some 200 MB the store's write need not carry."""
    _read_table.cache_clear()
    give_back()


@lru_cache(maxsize=1)
def _read_table(name: str, _size: int, _mtime_ns: int, kind: str, max_rows: int, max_columns: int,
                max_unzipped_bytes: int, max_zip_ratio: int, max_read_bytes: int) -> Table:
    path, vocab = Path(name), vocabulary(kind)
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise UnreadableFile("Le fichier est vide. Déposez un fichier contenant une ligne d'en-têtes et des lignes de données.")
    is_workbook = head.startswith(XLSX_MAGIC) or head.startswith(XLS_MAGIC)
    if not is_workbook and path.suffix.lower() in WORKBOOK_SUFFIXES:
        raise UnreadableFile(
            f"Le fichier porte l'extension {path.suffix} mais n'est pas un classeur (ni XLSX, ni XLS, ni ODS) : "
            "il a peut-être été renommé, ou son envoi a été interrompu. Enregistrez-le depuis Excel au format XLSX, "
            "ou en CSV avec l'extension .csv."
        )
    if is_workbook:
        return _without_footer(_read_workbook_table(path, head, vocab, max_rows, max_columns, max_unzipped_bytes,
                                                    max_zip_ratio, max_read_bytes))
    return _without_footer(_read_csv(path, head, vocab, max_rows, max_columns))


def _dedupe(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        h = str(h).strip()
        n = seen.get(h, 0) + 1
        seen[h] = n
        out.append(h if n == 1 else f"{h} ({n})")
    return out


def _find_header(rows: list[list[object]], vocab: Vocabulary) -> int:
    """Index of the header row among the first rows: the one naming the most known fields (at least 2)."""
    best, best_score = -1, 1
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = score_header_row(row, vocab)
        if score > best_score:
            best, best_score = i, score
    return best


FOOTER_TAIL = 10  # rows at the end of a table looked at for total and page-footer lines
_FOOTER_CELLS = 3  # such a line fills at most this many cells (fewer in a narrow table)
_COUNT = re.compile(r"\d[\d\s\u00a0\u202f.,]*(?:\s*[^\W\d_]+)?")  # "132", "1 234,50", "132 salariés"
_LONG_DIGITS = re.compile(r"\d{9}")  # a SIRET, a NIR, a phone number: data, never a footer
_DIGIT_JOINERS = re.compile(r"[\s.\-\u00a0\u202f]")  # what may be written between the digits of one number
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _plain(text: str) -> str:
    """'Édité le 03/02' → 'edite le 03 02': what footer words are compared with."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _NOT_WORD.sub(" ", ascii_text).strip()


def _is_footer(cells: list[str], most: int, words: tuple[str, ...]) -> bool:
    """A total or page-footer line by its shape (see colonnes.toml [pied_de_tableau]): 1 to `most` cells
    filled, each a count or text beginning with a footer word, none holding an identifier; or a total word
    followed by counts only, however many ("Total ; ; 12 ; 3 ; 1", a declaration's totals by category)."""
    filled = [c.strip() for c in cells if c.strip()]
    if not filled or any(_LONG_DIGITS.search(_DIGIT_JOINERS.sub("", c)) for c in filled):
        return False
    if not all(_DIGIT_JOINERS.sub(" ", c).isprintable() for c in filled):
        return False  # control or bidi characters: left to the cell screening, never quoted back

    def worded(cell: str) -> bool:
        plain = _plain(cell)
        return any(plain == w or plain.startswith(w + " ") for w in words)

    if len(filled) <= most:
        return all(_COUNT.fullmatch(c) or worded(c) for c in filled)
    return worded(filled[0]) and all(_COUNT.fullmatch(c) for c in filled[1:])


def _without_footer(table: Table) -> Table:
    """The table without the total and page-footer lines below its last data row ("Total : 132 salariés",
    "Édité le 03/02/2026 – page 1/1"), kept in `footer` for the warning. Only the last FOOTER_TAIL rows are
    looked at, from the end up to the first row that is not such a line; at least one row stays."""
    n = len(table)
    if n < 2:
        return table
    words = tuple(_plain(w) for w in load_toml("colonnes.toml").get("pied_de_tableau", {}).get("mots", ()))
    start = max(1, n - FOOTER_TAIL)
    tail = [[str(c) for c in row] for row in table.frame.iloc[start:].to_numpy(dtype=object).tolist()]
    most = max(1, min(_FOOTER_CELLS, len(table.headers) // 2))
    cut = n
    while cut > start and not table.overflow[cut - 1] and _is_footer(tail[cut - 1 - start], most, words):
        cut -= 1
    if cut < n:
        table.footer = [(int(table.lines[p]), " ".join(c.strip() for c in tail[p - start] if c.strip()))
                        for p in range(cut, n)]
        table.frame, table.lines, table.overflow = table.frame.iloc[:cut], table.lines[:cut], table.overflow[:cut]
    return table


def _no_header(vocab: Vocabulary) -> UnreadableFile:
    expected = ", ".join(f.label for f in vocab.fields if f.required)
    return UnreadableFile(
        "Ligne d'en-têtes introuvable : aucune des 30 premières lignes ne contient les intitulés attendus. "
        f"Placez en première ligne les en-têtes des colonnes : {expected}."
    )


# --- CSV -----------------------------------------------------------------------------------------------


def detect_encoding(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:4096]
    if b"\x00" in sample:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even == 0:
            return "utf-16-le"
        if even > len(sample) // 4 and odd == 0:
            return "utf-16-be"
        raise UnreadableFile(
            "Le fichier n'est pas un fichier texte ni un classeur Excel (contenu binaire). "
            "Enregistrez-le au format CSV (séparateur point-virgule) ou XLSX."
        )
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return "utf-8"
        return "cp1252"


def detect_separator(lines: list[str]) -> str:
    """The candidate separator that splits the first lines most consistently into the most fields."""
    best, best_key = ";", (-1, -1)
    sample = [line for line in lines[:HEADER_SEARCH_ROWS] if line.strip()]
    for sep in (";", "\t", ",", "|"):
        counts = [len(next(csv.reader([line], delimiter=sep))) for line in sample]
        if not counts or max(counts) < 2:
            continue
        common = max(set(counts), key=counts.count)
        key = (counts.count(common) if common > 1 else 0, common)
        if key > best_key:
            best, best_key = sep, key
    return best


def _read_csv(path: Path, head: bytes, vocab: Vocabulary, max_rows: int, max_columns: int) -> Table:
    """A file in one encoding goes to the fast readers as it is. A file whose bytes are not all valid in one
    encoding (UTF-8 lines and Windows-1252 lines, as when a line is added in another editor) is decoded line
    by line (`decode_lines`) and read from the decoded text."""
    encoding = detect_encoding(head)
    if encoding.startswith("utf-16"):
        for enc in (encoding, "cp1252"):
            try:
                return _read_csv_as(path, head, enc, vocab, max_rows, max_columns)
            except UnicodeDecodeError:
                continue
        raise UnreadableFile("Encodage des caractères non reconnu. Enregistrez le fichier en CSV UTF-8.")
    data = _mapped(path)
    start = 3 if encoding == "utf-8-sig" else 0  # after the BOM
    try:
        table = None
        if encoding != "cp1252" or not holds_utf8(data):
            table = _read_fast(path, head, encoding, vocab, max_rows, max_columns)
            if table is not None and encoding != "cp1252" and holds_mojibake(data):
                table.details["double_encodage"] = True
        if table is None and encoding != "cp1252" and not holds_utf8(data, start):  # UTF-8 head, Windows-1252 below
            table = _read_fast(path, head, "cp1252", vocab, max_rows, max_columns)
        if table is not None:
            return table
        text, details = decode_lines(data[start:])
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    table = _read_csv_as(text, text[:65536], "utf-8", vocab, max_rows, max_columns)
    table.details.update(details)
    if holds_mojibake(text):
        table.details["double_encodage"] = True
    return table


def _read_fast(path: Path, head: bytes, encoding: str, vocab: Vocabulary, max_rows: int, max_columns: int) -> Table | None:
    """The file read by the fast readers in this encoding; None when some bytes are not valid in it."""
    try:
        return _read_csv_as(path, head, encoding, vocab, max_rows, max_columns)
    except UnicodeDecodeError:
        return None


def _mapped(path: Path) -> mmap.mmap | bytes:
    """The bytes of the file without reading them into memory (b'' for an empty file)."""
    with open(path, "rb") as fh:
        try:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty
            return b""


_SCAN_STEP = 1 << 22


def holds_utf8(data, start: int = 0) -> bool:
    """Whether the bytes hold something shaped like a UTF-8 multi-byte character (a lead byte C2–F4 followed
    by a continuation byte 80–BF): text written in Windows-1252 almost never does (an accented capital
    followed by a symbol such as « É» »). A screen over the whole file, a few hundredths of a second per
    100 MB; the line-by-line decoding then decides line by line."""
    arr = np.frombuffer(data, dtype=np.uint8)[start:] if len(data) else np.zeros(0, dtype=np.uint8)
    try:
        for at in range(0, len(arr), _SCAN_STEP):
            chunk = arr[at:at + _SCAN_STEP + 1]
            lead = np.flatnonzero(chunk[:-1] >= 0xC2)
            if len(lead) and ((chunk[lead] <= 0xF4) & ((chunk[lead + 1] >> 6) == 2)).any():
                return True
        return False
    finally:
        _unmap_pages(data)


def _unmap_pages(data) -> None:
    """After a screen of a mapped file: its pages out of this process's memory (they stay in the system's file
    cache). Otherwise a 100 MB file read once by the screen counts 100 MB more until it is closed."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        data.madvise(mmap.MADV_DONTNEED)


# UTF-8 text that went once through a Windows-1252 reader and was saved again as UTF-8: « Ã© » for « é »,
# « Ã‰ » for « É », « Â« » for « « ». The bytes of « Ã » or « Â » (C3 83, C3 82) followed by the first byte of
# an accent read that way (C2, C5, C6, CB or E2) are searched in the file; the rows are then found by
# `MOJIBAKE` in the decoded cells (rules.cells).
MOJIBAKE = "Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|Â[\u00a0-\u00bf]"
_MOJIBAKE_NEXT = np.zeros(256, dtype=bool)
_MOJIBAKE_NEXT[[0xC2, 0xC5, 0xC6, 0xCB, 0xE2]] = True


def holds_mojibake(data) -> bool:
    """Whether UTF-8 bytes (or text) hold a character encoded twice, such as « Ã© » for « é ». On bytes, a
    numpy scan of the rare bytes 82 and 83 (a few hundredths of a second per 100 MB)."""
    if isinstance(data, str):
        return re.search(MOJIBAKE, data) is not None
    arr = np.frombuffer(data, dtype=np.uint8) if len(data) else np.zeros(0, dtype=np.uint8)
    try:
        for at in range(0, len(arr), _SCAN_STEP):
            chunk = arr[max(at - 1, 0):at + _SCAN_STEP + 1]
            second = np.flatnonzero((chunk[1:-1] == 0x83) | (chunk[1:-1] == 0x82)) + 1
            if len(second) and ((chunk[second - 1] == 0xC3) & _MOJIBAKE_NEXT[chunk[second + 1]]).any():
                return True
        return False
    finally:
        _unmap_pages(data)


_UTF8_CHAR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_UNLIKELY = re.compile("[\u0080-\u009f\u0250-\u02af]")  # C1 controls, phonetic letters: never in a French file


def decode_lines(data) -> tuple[str, dict]:
    """Text of a file mixing encodings, decoded line by line: a line valid in UTF-8 is UTF-8 (unless it then
    holds characters no French file holds while Windows-1252 reads it sensibly); a line that is not is
    Windows-1252 when it decodes without an undefined byte and holds no UTF-8 character (a line mixing both
    cannot be decoded sensibly). A line that cannot be decoded either way gets U+FFFD for its undecodable
    characters: the rules refuse it, naming its line (CARACTERE_ILLISIBLE). Line breaks are kept, so the line
    numbers do not move. Returns the text and the details for the acknowledgement."""
    raw = bytes(data)
    out: list[str] = []
    utf8_lines, cp1252_lines, bad_lines = 0, [], []
    for number, line in enumerate(raw.splitlines(keepends=True), start=1):
        if line.isascii():
            out.append(line.decode("ascii"))
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and not _UNLIKELY.search(text):
            out.append(text)
            utf8_lines += 1
            continue
        try:
            if text is None and _UTF8_CHAR.search(line):
                raise UnicodeDecodeError("cp1252", line, 0, 1, "UTF-8 and Windows-1252 in one line")
            out.append(line.decode("cp1252"))
            cp1252_lines.append(number)
        except UnicodeDecodeError:
            if text is not None:  # valid UTF-8 after all, however odd
                out.append(text)
                utf8_lines += 1
            else:
                out.append(line.decode("utf-8", errors="replace"))
                bad_lines.append(number)
    details: dict = {"encodage": "utf-8" if utf8_lines or not cp1252_lines else "cp1252"}
    if utf8_lines and cp1252_lines:
        details["encodage"] = "utf-8 et cp1252"
        details["lignes_cp1252"] = cp1252_lines
    if bad_lines:
        details["lignes_illisibles"] = bad_lines
    return "".join(out), details


def _sample_lines(head: bytes | str, encoding: str) -> list[str]:
    text = head if isinstance(head, str) else head.decode(encoding, errors="strict" if len(head) < 65536 else "ignore")
    lines = text.splitlines()
    if len(head) == 65536 and lines:
        lines = lines[:-1]  # possibly cut
    return lines


Source = Path | str  # a CSV file, or the text of one decoded line by line (read as UTF-8)


def _readable(source: Source):
    """What the CSV readers take: the file's path, or a stream over the decoded text as UTF-8."""
    return source if isinstance(source, Path) else io.BytesIO(source.encode("utf-8"))


def _read_csv_as(path: Source, head: bytes | str, encoding: str, vocab: Vocabulary, max_rows: int, max_columns: int) -> Table:
    lines = _sample_lines(head, encoding)
    sep = detect_separator(lines)
    parsed = [next(csv.reader([line], delimiter=sep), []) for line in lines[:HEADER_SEARCH_ROWS]]
    h = _find_header(parsed, vocab)
    if h < 0:
        raise _no_header(vocab)
    raw_headers = [c.strip() for c in parsed[h]]
    while raw_headers and not raw_headers[-1]:
        raw_headers.pop()  # trailing separators after the last header
    if len(raw_headers) > max_columns:
        raise UnreadableFile(f"Le fichier a {len(raw_headers)} colonnes, au-delà de la limite de {max_columns}.")
    headers = _dedupe(raw_headers)
    details = {"encodage": encoding, "separateur": sep}
    try:
        frame, lines_no, overflow = _parse_arrow(path, encoding, sep, h, headers, max_rows)
    except _ArrowFallback:
        frame, lines_no, overflow = _parse_pandas(path, encoding, sep, h, headers, max_rows)
    if len(frame) > max_rows:
        raise UnreadableFile(f"Le fichier dépasse la limite de {max_rows:,} lignes. Découpez-le en plusieurs fichiers.".replace(",", " "))
    return _finish(frame, headers, lines_no, overflow, h + 1, "csv", details)


_LINE_BREAKS = byte_set(b"\r\n")


class _ArrowFallback(Exception):
    """The fast reader cannot take this file (e.g. a line break inside a quoted value)."""


def _parse_arrow(path: Source, encoding: str, sep: str, h: int, headers: list[str], max_rows: int):
    """pyarrow's CSV reader on both cores; when some lines cannot be split (too many or too few fields), read
    again on one thread so that each such line tells its number: they are split again by the csv module and put
    back in their place."""
    import pyarrow as pa

    width = len(headers)
    try:
        table, odd = _arrow_table(path, encoding, sep, h, width, threads=True)
        if any(number is None for number, _ in odd):
            table, odd = _arrow_table(path, encoding, sep, h, width, threads=False)
    except UnicodeDecodeError:
        raise
    except (pa.ArrowInvalid, _ArrowFallback) as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise UnicodeDecodeError(encoding, b"", 0, 1, str(exc)) from exc
        raise _ArrowFallback() from exc
    if table.num_rows > max_rows:
        raise UnreadableFile(f"Le fichier dépasse la limite de {max_rows:,} lignes. Découpez-le en plusieurs fichiers.".replace(",", " "))
    if any(holds_any(chunk, _LINE_BREAKS) for column in table.columns for chunk in column.chunks):
        raise _ArrowFallback()  # a quoted value holds a line break: records no longer match lines
    frame = table.rename_columns(headers).to_pandas()
    total = table.num_rows + len(odd)
    all_lines = np.arange(h + 2, h + 2 + total, dtype=np.int64)
    if not odd:
        return frame, all_lines, np.zeros(total, dtype=bool)
    odd_lines = np.array([n for n, _ in odd], dtype=np.int64)
    lines_no = np.setdiff1d(all_lines, odd_lines, assume_unique=True)
    extra_rows = []
    for _, text in odd:
        cells = next(csv.reader([text], delimiter=sep), [])
        extra_rows.append((cells + [""] * width)[:width] + [any(c.strip() for c in cells[width:])])
    extra = pd.DataFrame(extra_rows, columns=[*headers, "\x00overflow"])
    frame["\x00overflow"] = False
    merged = pd.concat([frame.assign(**{"\x00line": lines_no}), extra.assign(**{"\x00line": odd_lines})], ignore_index=True)
    merged = merged.sort_values("\x00line", kind="stable").reset_index(drop=True)
    overflow = merged.pop("\x00overflow").to_numpy(dtype=bool)
    lines_no = merged.pop("\x00line").to_numpy(dtype=np.int64)
    return merged.astype("str"), lines_no, overflow


def _arrow_table(path: Source, encoding: str, sep: str, h: int, width: int, threads: bool):
    """(the table, the lines it could not split as (number, text)). On several threads a line's number may be
    unknown (None): the caller then reads again on one thread, where it is always known."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    odd: list[tuple[int | None, str]] = []

    def on_invalid(row) -> str:
        if row.number is None and not threads:
            raise _ArrowFallback()
        odd.append((row.number, row.text))
        return "skip"

    names = [f"c{i}" for i in range(width)]
    source = _Cp1252AsUtf8(path) if encoding == "cp1252" and isinstance(path, Path) else _readable(path)
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(skip_rows=h + 1, column_names=names, use_threads=threads, block_size=1 << 24,
                                           encoding="utf8" if isinstance(source, _Cp1252AsUtf8) else _arrow_encoding(encoding)),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            # large_string: what a pandas text column holds (a string column would be cast: its offsets copied)
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    finally:
        if isinstance(source, io.IOBase):
            source.close()
    return table, odd


_C1 = bytes(range(0x80, 0xA0))  # the bytes on which Windows-1252 differs from Latin-1 (its undefined ones too)


class _Cp1252AsUtf8(io.RawIOBase):
    """A Windows-1252 file as UTF-8, for pyarrow's CSV reader: given another encoding, pyarrow decodes through
    Python's incremental codec, 0.3 s of the 0.55 s a million-row export takes to read. A block of ASCII is
    passed as it is; one without a byte from 0x80 to 0x9F is Latin-1, which Python decodes by a copy; any other
    is decoded as Windows-1252, strictly (an undefined byte fails as with the codec). One byte per character:
    a block may end anywhere."""

    BLOCK = 1 << 22

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(self.BLOCK), b""))
        if not self._pending:
            block = self._file.read(self.BLOCK)
            if block.isascii():
                self._pending = block
            elif len(block.translate(None, _C1)) == len(block):
                self._pending = block.decode("latin-1").encode("utf-8")
            else:
                self._pending = block.decode("cp1252").encode("utf-8")
        if size >= len(self._pending):
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def close(self) -> None:
        self._file.close()
        super().close()


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding


def _parse_pandas(path: Source, encoding: str, sep: str, h: int, headers: list[str], max_rows: int):
    """pandas' C reader: slower, but takes line breaks inside quoted values."""
    names = headers + [f"\x00extra{i}" for i in range(EXTRA_FIELDS)]
    try:
        frame = pd.read_csv(_readable(path), sep=sep, header=None, names=names, skiprows=h + 1, dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding=encoding,
                            quotechar='"', nrows=max_rows + 1, engine="c", index_col=False)
    except UnicodeDecodeError:
        raise  # the caller retries with the next encoding
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise UnreadableFile(
            f"Structure CSV illisible ({exc}). Vérifiez que les guillemets sont fermés et que chaque ligne "
            f"utilise le séparateur « {_sep_name(sep)} »."
        ) from exc
    lines_no = _record_lines(path, encoding, sep, h, len(frame))
    extra = names[len(headers):]
    overflow = (frame[extra] != "").any(axis=1).to_numpy()
    return frame[headers], lines_no, overflow


def _record_lines(path: Source, encoding: str, sep: str, h: int, n: int) -> np.ndarray:
    """The line on which each of the n records after the header (line h + 1) starts, as a text editor numbers
    them: a quoted value holding line breaks pushes the next records down. Counted with the csv module; if it
    does not see the same n records as the reader, one record per line after the header."""
    starts = []
    try:
        with (open(path, encoding=encoding, newline="") if isinstance(path, Path) else io.StringIO(path, newline="")) as fh:
            for _ in range(h + 1):
                fh.readline()
            reader = csv.reader(fh, delimiter=sep, quotechar='"')
            consumed = 0
            for _ in reader:
                starts.append(h + 2 + consumed)
                consumed = reader.line_num
                if len(starts) > n:
                    break
    except (OSError, UnicodeDecodeError, csv.Error):
        starts = []
    if len(starts) != n:
        return np.arange(n, dtype=np.int64) + (h + 2)
    return np.array(starts, dtype=np.int64)


def _sep_name(sep: str) -> str:
    return {";": "point-virgule", ",": "virgule", "\t": "tabulation", "|": "barre verticale"}[sep]


def _finish(frame, headers, lines_no, overflow, header_line, fmt, details) -> Table:
    blank = (frame == "").all(axis=1).to_numpy() & ~overflow
    if blank.any():
        keep = ~blank
        frame = frame.loc[keep].reset_index(drop=True)
        lines_no = lines_no[keep]
        overflow = overflow[keep]
    unprotect_columns(frame)  # a value protected against formulas by the product, sent back: as it was
    return Table(headers, frame, lines_no, header_line, overflow, fmt, details)


# --- spreadsheets --------------------------------------------------------------------------------------


def _read_workbook_table(path: Path, head: bytes, vocab: Vocabulary, max_rows: int, max_columns: int,
                         max_unzipped_bytes: int, max_zip_ratio: int, max_read_bytes: int) -> Table:
    if head.startswith(XLSX_MAGIC):
        check_zip(path, max_unzipped_bytes, max_zip_ratio)
    rows_by_sheet = read_workbook(path, max_rows, max_columns, max_read_bytes)
    return _table_from_rows(rows_by_sheet, vocab, max_columns)


def _table_from_rows(rows_by_sheet: list[tuple[str, list[list]]], vocab: Vocabulary, max_columns: int) -> Table:
    """Pick the sheet whose header names the most fields (the first one on a tie). Cells become text column
    by column: a column of text cells, the usual case, is taken as it is."""
    best = None
    for name, rows in rows_by_sheet:
        head = [row_text(r) for r in rows[:HEADER_SEARCH_ROWS]]
        h = _find_header(head, vocab)
        if h >= 0:
            score = score_header_row(head[h], vocab)
            if best is None or score > best[0]:
                best = (score, name, rows, h, head[h])
    if best is None:
        raise _no_header(vocab)
    _, sheet, rows, h, header_cells = best
    header_cells = list(header_cells)
    while header_cells and not header_cells[-1].strip():
        header_cells.pop()
    headers = _dedupe(header_cells)
    if len(headers) > max_columns:
        raise UnreadableFile(f"La feuille a {len(headers)} colonnes, au-delà de la limite de {max_columns}.")
    width = len(headers)
    body = rows[h + 1 :]
    if body and all(len(r) == len(body[0]) for r in body) and len(body[0]) >= width:  # calamine: a rectangle
        transposed = list(zip(*body))
        columns = {name: column_text(transposed[i]) for i, name in enumerate(headers)}
        overflow = np.zeros(len(body), dtype=bool)
        for col in transposed[width:]:
            overflow |= np.fromiter((bool(cell_text(c).strip()) for c in col), bool, len(body))
    else:
        columns = {name: column_text([r[i] if i < len(r) else "" for r in body]) for i, name in enumerate(headers)}
        overflow = np.fromiter((any(cell_text(c).strip() for c in r[width:]) for r in body), bool, len(body))
    frame = pd.DataFrame(columns, dtype=str) if body else pd.DataFrame({c: pd.Series([], dtype=str) for c in headers})
    lines_no = np.arange(len(body), dtype=np.int64) + (h + 2)
    return _finish(frame, headers, lines_no, overflow, h + 1, "xlsx", {"feuille": sheet})

