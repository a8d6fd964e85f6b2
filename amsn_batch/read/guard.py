"""Checks a workbook before a parser opens it.

`check_zip`: a zip bomb (a few kilobytes that inflate to gigabytes) is refused from its declared sizes,
without inflating anything. The declared sizes can be trusted because the parser (calamine, through the
zip crate) stops with an error on a member that inflates past its declared size.

`check_sheets`: a sheet's extent, declared (<dimension ref>) and actual (the references of its rows and
cells), against the row and column limits. calamine allocates the whole grid from the first cell to the
farthest one: one cell at XFD1048576 in a 2 KB file asks for 17 billion cells. The sheet XML is streamed
and searched with regular expressions that only match far references (cheap on a normal sheet); a sheet
with rows or cells that carry no reference, or that is not UTF-8, is measured exactly with a streaming
XML parser instead. The child process's memory limit (sheets.py) stays the last guard.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from pathlib import Path
from xml.parsers import expat

from .sheets import grid_limits
from .errors import UnreadableFile

MAX_MEMBERS = 10_000
RATIO_FROM_BYTES = 10 * 1024 * 1024  # the ratio is only looked at for members above this size

_RESAVE = "Ouvrez-le dans Excel ou LibreOffice et enregistrez-le à nouveau au format XLSX."


def _mo(n: int) -> str:
    return f"{n / 1048576:.0f} Mo"


def check_zip(path: Path, max_unzipped_bytes: int, max_ratio: int) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise UnreadableFile(
            "Le fichier n'est pas un classeur lisible : son contenu compressé (ZIP) est endommagé ou incomplet. "
            + _RESAVE
        ) from exc
    if len(infos) > MAX_MEMBERS:
        raise UnreadableFile(f"Le classeur contient {len(infos)} éléments internes, au-delà de la limite de {MAX_MEMBERS}. " + _RESAVE)
    if any(i.flag_bits & 0x1 for i in infos):
        raise UnreadableFile("Le classeur est protégé par un mot de passe. Enregistrez-le sans mot de passe au format XLSX.")
    total = sum(i.file_size for i in infos)
    if total > max_unzipped_bytes:
        raise UnreadableFile(
            f"Une fois décompressé, le classeur occuperait {_mo(total)}, au-delà de la limite de "
            f"{_mo(max_unzipped_bytes)}. Découpez-le en plusieurs fichiers, ou déposez-le au format CSV."
        )
    for i in infos:
        if i.file_size > RATIO_FROM_BYTES and i.file_size > max_ratio * max(i.compress_size, 1):
            raise UnreadableFile(
                f"Le classeur est anormalement compressé (un élément de {_mo(i.file_size)} tient dans "
                f"{i.compress_size / 1024:.0f} Ko) : il est refusé par sécurité (bombe de décompression). " + _RESAVE
            )


# --- sheet extent -------------------------------------------------------------------------------------

_CHUNK = 1 << 22
_MAX_TAG = 1 << 20  # a tag longer than this (no '>' in a megabyte) sends the sheet to the exact measure
_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?dimension\s[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
# Inside <sheetData>, a normal sheet gives every row and cell a reference: `<row r="2">`, `<c r="B2">`.
_OPENS = (b"<c", b"<row")
_REF_ATTR = b"r="
_REF = re.compile(r"\$?([A-Za-z]{1,10})\$?(\d{1,15})")
_SHEET_TYPE = "/worksheet"


def column_name(n: int) -> str:
    name = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        name = chr(65 + rem) + name
    return name


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _far_refs(max_rows: int, max_columns: int) -> re.Pattern:
    """A regular expression that matches only the references that may lie beyond the limits (as many
    digits as the row limit or more, or as many letters as the column limit or more). It starts with a
    literal, so that the engine skips through the rest of the sheet at memory-search speed."""
    digits, letters = len(str(max_rows)), len(column_name(max_columns))
    return re.compile(rb"""r=["']\$?(?:([A-Za-z]{%d,})\$?\d|[A-Za-z]*\$?0*(\d{%d,}))""" % (letters, digits))


class _Beyond(Exception):
    def __init__(self, rows: int, columns: int) -> None:
        self.rows, self.columns = rows, columns


class _Exact(Exception):
    """The sheet needs the exact measure."""


def _measure_fast(fh, max_rows: int, max_columns: int) -> tuple[str | None, int, int]:
    """(declared ref, farthest row, farthest column) seen beyond the limits (0 when none); raises _Exact."""
    far = _far_refs(max_rows, max_columns)
    declared, top, right, tail, first = None, 0, 0, b"", True
    inside = False  # then True in <sheetData>, None after it
    while True:
        chunk = fh.read(_CHUNK)
        data = tail + chunk
        if first:
            head = data[:200]
            if b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
                    re.search(rb"encoding\s*=\s*[\"'](?!utf-?8[\"'])", head[:100], re.I)):
                raise _Exact()  # not UTF-8
            first = False
        cut = data.rfind(b">") + 1 if chunk else len(data)
        if chunk and cut == 0:
            if len(data) > _MAX_TAG:
                raise _Exact()
            tail = data
            continue
        part, tail = data[:cut], data[cut:]
        lo = 0
        if inside is False:
            lo = part.find(b"<sheetData")
            if declared is None:
                m = _DIMENSION.search(part, 0, lo if lo >= 0 else len(part))
                declared = m.group(1).decode("ascii", "replace") if m else None
            inside, lo = lo >= 0, max(lo, 0)
        if inside:
            hi = part.find(b"</sheetData>", lo)
            if hi >= 0:
                inside = None
            hi = len(part) if hi < 0 else hi
            if sum(part.count(n, lo, hi) for n in _OPENS) > part.count(_REF_ATTR, lo, hi):
                raise _Exact()  # some row or cell has no reference: placed after the previous one
        for letters, digits in far.findall(part):
            top = max(top, int(digits or 0))
            right = max(right, _column_number(letters.decode("ascii")) if letters else 0)
        if top > max_rows or right > max_columns or not chunk:
            if inside is False and not chunk:
                raise _Exact()  # no <sheetData> as written by Excel (an element prefix?)
            return declared, top, right


def _measure_exact(fh, max_rows: int, max_columns: int) -> tuple[int, int]:
    """(farthest row, farthest column) as a sheet reader places the cells: a row or a cell without a
    reference comes right after the previous one. Stops as soon as the limits are passed."""
    state = {"row": 0, "col": 0, "top": 0, "right": 0}

    def start(name: str, attrs: dict) -> None:
        local = name.rpartition(":")[2]
        if local == "row":
            r = attrs.get("r", "")
            state["row"] = int(r) if r.isdigit() else state["row"] + 1
            state["col"] = 0
        elif local == "c":
            m = _REF.fullmatch(attrs.get("r", "").strip())
            if m:
                state["col"], row = _column_number(m.group(1)), int(m.group(2))
            else:
                state["col"], row = state["col"] + 1, state["row"]
            state["top"], state["right"] = max(state["top"], row, state["row"]), max(state["right"], state["col"])
            if state["top"] > max_rows or state["right"] > max_columns:
                raise _Beyond(state["top"], state["right"])

    def no_doctype(*_args) -> None:
        raise UnreadableFile("Le classeur contient une déclaration de type de document (DTD), ce qu'un classeur "
                             "Excel ne contient jamais : il est refusé par sécurité. " + _RESAVE)

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = no_doctype
    try:
        while True:
            chunk = fh.read(_CHUNK)
            parser.Parse(chunk, not chunk)
            if not chunk:
                break
    except _Beyond as exc:
        return exc.rows, exc.columns
    except expat.ExpatError:
        pass  # a damaged sheet: the reader says so
    return state["top"], state["right"]


def _declared_extent(ref: str | None) -> tuple[int, int]:
    m = _REF.fullmatch((ref or "").rpartition(":")[2].strip())
    return (int(m.group(2)), _column_number(m.group(1))) if m else (0, 0)


def _sheet_parts(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member) of the workbook's sheets: the members its relationships name, and anything
    under xl/worksheets/ (a sheet a reader might find without them)."""
    names = set(zf.namelist())

    def small(member: str) -> str:
        if member not in names or zf.getinfo(member).file_size > 16 * 1024 * 1024:
            return ""
        return zf.read(member).decode("utf-8", "replace")

    attr = re.compile(r'([\w:]+)\s*=\s*["\']([^"\']*)["\']')
    targets = {}
    for tag in re.findall(r"<(?:\w+:)?Relationship\s[^>]*>", small("xl/_rels/workbook.xml.rels")):
        a = dict(attr.findall(tag))
        if a.get("Type", "").endswith(_SHEET_TYPE) and "Id" in a and "Target" in a:
            target = html.unescape(a["Target"])
            targets[a["Id"]] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    parts = []
    for tag in re.findall(r"<(?:\w+:)?sheet\s[^>]*>", small("xl/workbook.xml")):
        a = {k.rpartition(":")[2]: v for k, v in attr.findall(tag)}
        if targets.get(a.get("id", "")) in names:
            parts.append((html.unescape(a.get("name", "")), targets[a["id"]]))
    known = {member for _, member in parts}
    parts += [(posixpath.basename(n), n) for n in sorted(names)
              if n.startswith("xl/worksheets/") and n.endswith(".xml") and n not in known]
    return parts


def check_sheets(path: Path, max_rows: int, max_columns: int) -> None:
    """Refuse an XLSX whose sheets declare or hold cells beyond the limits, before any reader allocates
    them (see the module's docstring). `max_rows`, `max_columns`: the settings' limits."""
    rows_max, columns_max = grid_limits(max_rows, max_columns)
    try:
        with zipfile.ZipFile(path) as zf:
            for sheet, member in _sheet_parts(zf):
                with zf.open(member) as fh:
                    try:
                        declared, top, right = _measure_fast(fh, rows_max, columns_max)
                    except _Exact:
                        declared = None
                        with zf.open(member) as again:
                            top, right = _measure_exact(again, rows_max, columns_max)
                d_rows, d_columns = _declared_extent(declared)
                if d_rows > rows_max or d_columns > columns_max:
                    raise _beyond(sheet, "déclare s'étendre", d_rows, d_columns, max_rows, max_columns)
                if top > rows_max or right > columns_max:
                    raise _beyond(sheet, "a des cellules", top, right, max_rows, max_columns)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError, ValueError) as exc:
        raise UnreadableFile(
            "Le fichier n'est pas un classeur lisible : son contenu compressé (ZIP) est endommagé ou incomplet. "
            + _RESAVE
        ) from exc


def _beyond(sheet: str, what: str, rows: int, columns: int, max_rows: int, max_columns: int) -> UnreadableFile:
    where = (f"jusqu'à la cellule {column_name(columns)}{rows}" if rows and columns
             else f"jusqu'à la ligne {thousands(rows)}" if rows else f"jusqu'à la colonne {column_name(columns)}")
    return UnreadableFile(
        f"La feuille « {sheet} » {what} {where}, au-delà des limites ({thousands(max_rows)} lignes, {max_columns} "
        "colonnes) : le classeur est refusé sans être lu. Dans Excel, Ctrl+Fin montre la dernière cellule "
        "utilisée ; supprimez les lignes et les colonnes au-delà de vos données (ou copiez les seules données "
        "dans un nouveau classeur), enregistrez, puis déposez à nouveau le fichier."
    )


def thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")
