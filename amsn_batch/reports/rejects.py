"""The correction workbook, <base>.rejets.xlsx (beside the file's acknowledgement <base>.ar.*, see ack.py): the
refused rows exactly as the sender sent them, under the same headers, with the « Motifs du refus » column first
and the identity columns (name, first name, NIR) just after it, kept in view with the header row when
scrolling; the faulty cells highlighted (with the reason as a comment); row heights fitted to the reasons (a
spreadsheet such as LibreOffice does not fit them itself); the drop-down lists of the sender template
(template.drop_down_lists); the NIR and SIRET columns formatted as text, so that Excel does not turn a
corrected number into 2,95109E+14.

Once fixed, the workbook goes back into the inbox as it is: the reader knows the « Motifs du refus » header
(schemas/colonnes.toml, field `motifs_refus`) and ignores that column, so it causes neither a refusal nor a
warning. Every cell is a string cell, never a formula: a value that starts with =, +, -, @ keeps its own text
with the quote-prefix style (no apostrophe added), so it reads back as it was sent.

The original file is read again here (it is still in the inbox when the acknowledgement is written), so the
cells are the sender's own text, not the normalized values of the store.

Once a later file has made every refused row of a workbook accepted, the workbook is moved aside into
archives/ of the sender's outbox (`covered`, `retire`).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ..config import make_dirs
from ..formats import FORMULA_START, date_fr, number_fr, write_atomic

if TYPE_CHECKING:
    import numpy as np
from .. import faults
from ..logs import quote
from ..masking import scrub
from ..vocab import BLOCKING, catalogue, normalize, vocabulary
from .template import drop_down, drop_down_lists

# numpy and pandas (and the readers, rules and store modules that load them) are imported where the plan is
# made and where old workbooks are looked at: the child process that writes a big file's workbook
# (Background) needs none of them and starts in a tenth of the time.

log = logging.getLogger("amsn_batch")

SHEET = "Lignes refusées"
NOTICE_SHEET = "Mode d'emploi"
LISTS_SHEET = "Listes"
REASONS_HEADER = "Motifs du refus"
REASONS_FIELD = "motifs_refus"
TEXT_FIELDS = ("nir", "siret")  # identifiers: the column is formatted as text
IDENTITY_FIELDS = ("nom", "prenom", "nir")  # right after the reasons, kept in view when scrolling right
REASONS_WIDTH = 50
LINE_HEIGHT = 15  # points per line of 11-point text
MAX_ROW_HEIGHT = 409  # Excel's limit
DROPDOWN_ROWS = 500  # rows below the refused ones that get the drop-down lists too
DEFAULT_MAX_ROWS = 50_000  # settings: [limites] lignes_classeur_rejets
MAX_COMMENTS = 2000  # cell comments are heavy in XLSX; beyond, the reasons column still says it all
COMMENT_ROWS = 10  # rows a comment's box spans at most, from the row above its cell (140 pixels, rows of 24 or more)
_DEDUPED = re.compile(r"^(.*) \((\d+)\)$")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 cannot hold (as openpyxl's)

# Colours: Excel's own "bad" style (dark red on light red), readable when printed in grey too.
BAD_FILL, BAD_FONT, HEADER_FILL = "FFC7CE", "9C0006", "D9E1F2"


@dataclass
class RejectsOutcome:
    path: Path | None  # None: no workbook (nothing refused, file unreadable, or too many rows)
    rows: int = 0  # refused rows (written, or that would have been)
    too_many: bool = False


def rejects_name(stem: str) -> str:
    return f"{stem}.rejets.xlsx"


def original_headers(headers: list[str]) -> list[str]:
    """Undo the reader's ' (2)' suffix on a repeated header, so the header row is the sender's own."""
    out = []
    for h in headers:
        m = _DEDUPED.match(h)
        out.append(m.group(1) if m and m.group(1) in out else h)
    return out


def _refused_lines(statut: str, findings: list[dict], header_line: int, lines: np.ndarray) -> np.ndarray:
    """Line numbers (as in the file) of the refused rows."""
    import numpy as np

    if statut == "rejete":
        return lines
    blocked = {int(f["ligne"]) for f in findings if f.get("gravite") == BLOCKING and int(f.get("ligne") or 0) != header_line}
    return lines[np.isin(lines, list(blocked))]


def _file_wide_reasons(findings: list[dict], header_line: int) -> list[str]:
    """Why the whole file was refused: findings on the header line, and file-wide rules found on some rows."""
    cat = catalogue()
    out = [_reason(f) for f in findings if f.get("gravite") == BLOCKING and int(f.get("ligne") or 0) == header_line]
    on_rows: dict[str, list[int]] = {}
    for f in findings:
        rule = cat.get(f["code"])
        if f.get("gravite") == BLOCKING and rule is not None and rule.scope == "fichier" and int(f.get("ligne") or 0) != header_line:
            on_rows.setdefault(f["code"], []).append(int(f["ligne"]))
    for code, lines in on_rows.items():
        shown = ", ".join(number_fr(n) for n in lines[:5]) + ("…" if len(lines) > 5 else "")
        out.append(f"{cat[code].title} ({'ligne' if len(lines) < 2 else 'lignes'} {shown}) : le fichier entier est refusé.")
    return out


def _reason(f: dict) -> str:
    col = scrub(f.get("colonne") or "")
    msg = scrub(f.get("message") or "")
    return f"{col} : {msg}" if col else msg


@dataclass
class Plan:
    """What the correction workbook shows, worked out from the file and its findings. Plain data (JSON), so
    that another process can write the workbook (`Background`) while this one writes the store. Column
    indexes are the workbook's: 0 is the reasons column, then `headers`."""
    headers: list[str]  # the file's headers kept (an old reasons column dropped), identity columns first
    written_headers: list[str]  # the reasons column, then the headers as the sender wrote them
    widths: list[int]
    frozen: int  # columns kept in view when scrolling right: the reasons and the identity columns
    text_idx: list[int]  # identifier columns, formatted as text
    dropdowns: list[tuple[int, str, bool]]  # (column, list of template.drop_down_lists(), strict)
    columns: list[list[str | None]]  # the refused rows' cells, cleaned, column by column (as `headers`)
    lines: list[int]  # their line numbers in the file
    own: list[list[tuple[str, str]]]  # per row: (column as written, message) of its blocking findings
    wide_text: list[str]  # why the whole file was refused
    missing: list[str]  # required columns the file lacks (labels): the sender adds them
    file_name: str
    received: str
    help_email: str
    statut: str


def plan_rejects(source: Path, statut: str, findings: list[dict], *, max_rows: int = DEFAULT_MAX_ROWS,
                 max_file_rows: int = 2_000_000, max_columns: int = 200, file_name: str = "", received: str = "",
                 help_email: str = "", kind: str = "mouvements") -> Plan | RejectsOutcome:
    """The workbook's plan, or a RejectsOutcome saying why there is no workbook."""
    import numpy as np

    from ..read import UnreadableFile, read_table  # lazy, like numpy: read/ loads pandas (see above)
    from ..read.dsn import is_dsn
    from ..read.headers import map_headers

    if statut not in ("rejete", "accepte_partiellement") or not source.is_file():
        return RejectsOutcome(None)
    with open(source, "rb") as fh:
        if is_dsn(fh.read(64)):  # the payroll software makes a DSN again: no workbook to correct it in
            return RejectsOutcome(None)
    vocab = vocabulary(kind)
    try:
        table = read_table(source, vocab, max_file_rows, max_columns)
    except UnreadableFile:
        return RejectsOutcome(None)
    if len(table) == 0:
        return RejectsOutcome(None)
    refused = _refused_lines(statut, findings, table.header_line, table.lines)
    if len(refused) == 0:
        return RejectsOutcome(None)
    if len(refused) > max_rows:
        return RejectsOutcome(None, len(refused), too_many=True)

    mapped = map_headers(table.headers, vocab)
    old_reasons = mapped.columns.get(REASONS_FIELD)  # a workbook sent back: its old reasons are replaced
    kept = [h for h in table.headers if h != old_reasons]
    as_written = dict(zip(kept, original_headers(kept)))
    identity = [mapped.columns[k] for k in IDENTITY_FIELDS if mapped.columns.get(k) in as_written]
    headers = identity + [h for h in kept if h not in identity]
    col_of = {h: i for i, h in enumerate(headers, start=1)}
    by_line: dict[int, list[tuple[str, str]]] = {}
    for f in findings:
        if f.get("gravite") == BLOCKING and int(f.get("ligne") or 0) != table.header_line:
            by_line.setdefault(int(f["ligne"]), []).append((f.get("colonne") or "", f.get("message") or ""))
    keep = np.isin(table.lines, refused)
    frame = table.frame.loc[keep, headers]
    lines = table.lines[keep].tolist()
    sample = frame.head(200)
    widths = [REASONS_WIDTH] + [min(max(max([len(h)] + [len(str(v)) for v in sample[h]]) + 2, 10), 45) for h in headers]
    lists = [(k, drop_down(k)) for k in mapped.columns] if kind == "mouvements" else []
    return Plan(
        headers=headers,
        written_headers=[REASONS_HEADER] + [as_written[h] for h in headers],
        widths=widths,
        frozen=1 + len(identity),
        text_idx=sorted(col_of[mapped.columns[k]] for k in TEXT_FIELDS if mapped.columns.get(k) in col_of),
        dropdowns=sorted((col_of[mapped.columns[k]], *chosen) for k, chosen in lists
                         if chosen is not None and mapped.columns[k] in col_of),
        columns=[_clean_column(frame[h].to_numpy(dtype=object)) for h in headers],
        lines=lines,
        own=[by_line.get(line, []) for line in lines],
        wide_text=_file_wide_reasons(findings, table.header_line) if statut == "rejete" else [],
        missing=_missing_columns(findings, vocab),
        file_name=file_name, received=received, help_email=help_email, statut=statut,
    )


def _missing_columns(findings: list[dict], vocab) -> list[str]:
    """The labels of the required columns the file lacks (COLONNE_MANQUANTE names each one « label »)."""
    said = " ".join(f.get("message") or "" for f in findings if f.get("code") == "COLONNE_MANQUANTE")
    return [f.label for f in vocab.fields if f"« {f.label} »" in said]


def write_rejects(outdir: Path, stem: str, source: Path, statut: str, findings: list[dict], **options) -> RejectsOutcome:
    """Write <stem>.rejets.xlsx in outdir when the file has refused rows (options: see plan_rejects)."""
    plan = plan_rejects(source, statut, findings, **options)
    if isinstance(plan, RejectsOutcome):
        return plan
    target = outdir / rejects_name(stem)
    write_planned(plan, target)
    return RejectsOutcome(target, len(plan.lines))


def write_planned(plan: Plan, target: Path) -> None:
    """The workbook of a plan at `target`, whole or not at all (built in memory, then written atomically)."""
    write_atomic(target, book_bytes(plan))


def book_bytes(plan: Plan) -> bytes:
    # The cyclic garbage collector paused meanwhile: the workbook makes many objects and no garbage that only it
    # would free, and each of its full passes would walk the caller's heap too (a big file's tables: 0.1 s).
    collecting = gc.isenabled()
    gc.disable()
    try:
        buffer = io.BytesIO()
        _write_book(buffer, plan)
        return buffer.getvalue()
    finally:
        if collecting:
            gc.enable()


class Background:
    """The workbook of a plan written by a second process (`python -m amsn_batch.reports.rejects PLAN`) while
    this one writes the store: on a big file the machine's second core does it meanwhile, and it is ready
    when the transaction ends. The child reads the plan from a JSON file and sends the workbook's bytes back
    on its standard output; it writes no file, so a child outliving a stopped run leaves nothing behind (its
    output pipe is broken: it ends)."""

    def __init__(self, plan: Plan, folder: Path) -> None:
        self.rows = len(plan.lines)
        plan_path = folder / f".rejets-{os.getpid()}.json"
        plan_path.write_text(json.dumps(vars(plan), ensure_ascii=False), encoding="utf-8")  # asdict() deep-copies: slow
        self.proc = subprocess.Popen([sys.executable, "-m", __name__, str(plan_path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def deliver(self, target: Path, timeout: float = 600) -> RejectsOutcome | None:
        """Wait for the workbook and write it at `target` (whole or not at all); None if the child failed:
        the caller then writes it itself."""
        try:
            data, errors = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            log.error("classeur_rejets_processus_echec raison=delai")
            return None
        if self.proc.returncode != 0 or not data.startswith(b"PK"):
            last = (errors.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
            log.error("classeur_rejets_processus_echec code=%s erreur=%s", self.proc.returncode, quote(scrub(last[:200])))
            return None
        try:
            write_atomic(target, data)
        except OSError as exc:
            log.error("classeur_rejets_echec erreur=%s", type(exc).__name__)
            return None
        return RejectsOutcome(target, self.rows)

    def cancel(self) -> None:
        """Stop the child if it still runs (the file's processing failed, or its workbook was delivered)."""
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.communicate()


def _main(argv: list[str]) -> int:
    """The child of Background: the workbook of the plan in argv[0], written to standard output."""
    data = book_bytes(Plan(**json.loads(Path(argv[0]).read_text(encoding="utf-8"))))
    faults.point("classeur_rejets")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def _clean(value) -> str | None:
    """A cell's text as written, the control characters XML cannot hold removed; None for an empty cell, left
    empty in the workbook."""
    if value is None or value == "":
        return None
    text = _ILLEGAL_XML.sub("", str(value))
    return text or None


def _clean_column(values) -> list[str | None]:
    """_clean over a whole column; the control-character search is made once on the joined column, since
    almost no file has any."""
    texts = ["" if v is None else str(v) for v in values]
    if _ILLEGAL_XML.search("\n".join(texts)):
        texts = [_ILLEGAL_XML.sub("", t) for t in texts]
    return [t or None for t in texts]


def row_height(text: str, width: float) -> float:
    """The height (points) of a row whose wrapped cell holds `text` in a column `width` characters wide. The
    line count is estimated on the safe side (a character as wide as a digit): a spreadsheet that does not fit
    rows itself (LibreOffice, with a file written by xlsxwriter) then shows every line."""
    per_line = max(int(width) - 2, 1)
    lines = sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))
    return min(lines * LINE_HEIGHT + 3, MAX_ROW_HEIGHT)


def _write_book(buffer: io.BytesIO, plan: Plan) -> None:
    """Write the workbook into a buffer: xlsxwriter writes all of it but the refused rows' cells, whose XML
    is made here in bulk (`_rows_xml`) and streamed into the data sheet of a copy of xlsxwriter's file
    (`_splice_rows`): through xlsxwriter's per-cell API they cost several times as much.

    Every value is a string cell (an inline string), never a formula nor a number: a value starting with
    =, +, -, @ gets a format with the quote-prefix property too, so that it stays text when the person edits it."""
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    # in_memory: the XML parts are made and zipped in memory, so nothing is on disk before close() and a
    # failure leaves no temporary files behind.
    written = io.BytesIO()
    wb = xlsxwriter.Workbook(written, {"in_memory": True})
    wb.set_properties({"title": _ILLEGAL_XML.sub("", f"Lignes refusées – {scrub(plan.file_name)}"), "author": "amsn-batch"})
    ws = wb.add_worksheet(SHEET)
    written_headers = plan.written_headers
    n_rows = len(plan.lines)
    n_cols = len(written_headers)
    col_of = {h: i for i, h in enumerate(plan.headers, start=1)}
    text_idx = set(plan.text_idx)

    bad_style = {"pattern": 1, "bg_color": f"#{BAD_FILL}", "font_color": f"#{BAD_FONT}", "bold": True,
                 "border": 1, "border_color": f"#{BAD_FONT}"}
    head_style = {"bold": True, "pattern": 1, "bg_color": f"#{HEADER_FILL}", "text_wrap": True, "valign": "top"}
    wrap_style = {"text_wrap": True, "valign": "top"}
    quote = {None: wb.add_format({"quote_prefix": True})}  # each format → the same with the quote prefix

    def add(props: dict):
        fmt = wb.add_format(props)
        quote[fmt] = wb.add_format({**props, "quote_prefix": True})
        return fmt

    bad = add(bad_style)
    bad_text = add({**bad_style, "num_format": "@"})  # a faulty identifier stays text once fixed
    text = add({"num_format": "@"})
    head = add(head_style)
    wrap = add(wrap_style)
    comment_options = {"author": "amsn-batch", "width": 320, "height": 140}

    def put(sheet, row: int, col: int, value, fmt) -> None:
        """One string cell (quote prefix when the value starts like a formula), or a blank one."""
        value = _clean(value)
        if value is None:
            sheet.write_blank(row, col, None, fmt)
        else:
            sheet.write_string(row, col, value, quote[fmt] if value.startswith(FORMULA_START) else fmt)

    # The identifier columns formatted as text as a whole, so that a row typed below the refused ones keeps
    # its NIR as text too.
    for i in range(n_cols):
        ws.set_column(i, i, plan.widths[i], text if i in text_idx else None)
    ws.freeze_panes(1, plan.frozen)
    ws.autofilter(0, 0, n_rows, n_cols - 1)
    ws.repeat_rows(0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed

    # The sender template's drop-down lists, read from its lists, written in a last sheet of their own.
    lists = drop_down_lists() if plan.dropdowns else {}
    where = {name: f"='{LISTS_SHEET}'!${xl_col_to_name(j)}$2:${xl_col_to_name(j)}${len(items) + 1}"
             for j, (name, items) in enumerate(lists.items())}
    for c, name, strict in plan.dropdowns:
        ws.data_validation(1, c, n_rows + DROPDOWN_ROWS, c,
                           {"validate": "list", "source": where[name], "ignore_blank": True, "show_input": False,
                            "show_error": bool(strict), "error_type": "stop" if strict else "warning",
                            "error_title": "Valeur non prévue", "error_message": "Choisissez une valeur de la liste."})

    for i, h in enumerate(written_headers):
        put(ws, 0, i, h, head)
    ws.set_row(0, max(row_height(h, plan.widths[i]) for i, h in enumerate(written_headers)))

    # Scrubbing is the costliest step per row, and messages repeat (the same wrong date on many rows): each
    # distinct text is scrubbed (and rid of what XML cannot hold) once.
    scrubbed: dict[str, str] = {}

    def scrub_once(value) -> str:
        text = value or ""
        out = scrubbed.get(text)
        if out is None:
            out = scrubbed[text] = _ILLEGAL_XML.sub("", scrub(text))
        return out

    wide = [_ILLEGAL_XML.sub("", f"• Fichier entier : {t}") for t in plan.wide_text]
    write_comment, set_row = ws.write_comment, ws.set_row
    reasons_width = plan.widths[0]
    comments = placed = 0
    reasons_column: list[str] = []
    heights: list[float] = []
    faulty_cells: list[tuple[int, int]] = []  # (row, column) of the highlighted cells, 0-based among the rows
    for r, (line, own) in enumerate(zip(plan.lines, plan.own)):
        row = r + 1
        faulty: dict[int, list[str]] = {}
        reasons = [f"Ligne {number_fr(int(line))} du fichier envoyé."]
        for header, message in own:
            msg, col = scrub_once(message), scrub_once(header)
            reasons.append(f"• {col} : {msg}" if col else f"• {msg}")  # as _reason()
            idx = col_of.get(header)
            if idx is not None:
                faulty.setdefault(idx, []).append(msg)
        for i, msgs in faulty.items():
            faulty_cells.append((r, i))
            if comments < MAX_COMMENTS:
                write_comment(row, i, "\n".join(msgs), comment_options)
                comments += 1
        reasons += wide
        if not own and not wide:
            reasons.append("• Ligne refusée avec le fichier entier (voir l'accusé de réception).")
        said = "\n".join(reasons)  # clean: made of clean parts
        height = row_height(said, reasons_width)
        if comments < MAX_COMMENTS or row <= placed + COMMENT_ROWS or row == n_rows:
            # for xlsxwriter to place the comments' boxes (over a few rows from the row above theirs), and the
            # last row for the sheet's dimension: _splice_rows replaces these rows
            set_row(row, height)
            if comments < MAX_COMMENTS:
                placed = row
        reasons_column.append(said)
        heights.append(height)
    highlighted = bool(faulty_cells)

    # The refused rows' cells, made here: the xf index of each format is fixed now, so that styles.xml has it.
    def xf(fmt) -> tuple[int, int]:
        return (0 if fmt is None else fmt._get_xf_index()), quote[fmt]._get_xf_index()

    base = [xf(wrap)] + [xf(text if i in text_idx else None) for i in range(1, n_cols)]
    marked = {i: xf(bad_text if i in text_idx else bad) for i in {i for _, i in faulty_cells}}
    rows_xml = _rows_xml([reasons_column, *plan.columns], heights, base,
                         [(r, i, marked[i]) for r, i in faulty_cells])  # a generator: made while written

    notice = wb.add_worksheet(NOTICE_SHEET)
    notice_width = 110
    notice.set_column(0, 0, notice_width)
    title = (f"Classeur de correction du fichier « {scrub(plan.file_name)} »"
             + (f" reçu le {date_fr(plan.received)}" if plan.received else ""))
    put(notice, 0, 0, title, add({"bold": True, "font_size": 14}))
    for k, line_text in enumerate(notice_lines(n_rows, plan.statut, plan.help_email, plan.missing, highlighted,
                                               bool(plan.dropdowns)), start=1):
        put(notice, k, 0, line_text, wrap)
        if line_text:
            notice.set_row(k, row_height(line_text, notice_width))

    if lists:
        sheet = wb.add_worksheet(LISTS_SHEET)
        bold = add({"bold": True})
        for j, (name, items) in enumerate(lists.items()):
            sheet.set_column(j, j, 60 if name.startswith("Libellé") else 24)
            put(sheet, 0, j, f"Liste « {name} »", bold)  # not the field's own header: never read as the data
            for k, item in enumerate(items, start=1):
                put(sheet, k, j, item, None)
    wb.close()
    _splice_rows(written.getvalue(), buffer, rows_xml)


_XSTRING = re.compile(r"_x[0-9a-fA-F]{4}_|[\r\ufffe\uffff]")  # what a string cell (ST_Xstring) must escape
_SEP = "\x01"  # joins a column's texts for escaping them in one pass: _ILLEGAL_XML keeps it out of any text
MAX_CELL = 32767  # Excel's limit, in UTF-16 code units


def _xstring(match: re.Match) -> str:
    """A literal _xHHHH_ keeps its text (its underscore escaped); a character XML cannot keep as it is becomes
    its _xHHHH_ escape (a carriage return would read back as a line feed), as Excel writes them."""
    found = match.group()
    return "_x005F" + found if len(found) > 1 else f"_x{ord(found):04X}_"


def _escaped(texts: list[str | None]) -> list[str]:
    """The XML text of each cell's string ("" for an empty cell): the column joined, escaped in one pass, split."""
    texts = [t or "" for t in texts]
    if max(map(len, texts), default=0) > MAX_CELL // 2:  # maybe beyond what a cell holds: cut, as xlsxwriter does
        texts = [t.encode("utf-16-le")[: 2 * MAX_CELL].decode("utf-16-le", "ignore") for t in texts]
    joined = _SEP.join(texts)
    if joined.count(_SEP) != len(texts) - 1:  # a text not cleaned (see _clean): the characters removed first
        texts = [_ILLEGAL_XML.sub("", t) for t in texts]
        joined = _SEP.join(texts)
    if "&" in joined or "<" in joined or ">" in joined:
        joined = joined.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "_x" in joined or "\r" in joined or "\ufffe" in joined or "\uffff" in joined:  # faster than the search
        joined = _XSTRING.sub(_xstring, joined)
    return joined.split(_SEP)


def _rows_xml(columns: list[list[str | None]], heights: list[float], base: list[tuple[int, int]],
              marked: list[tuple[int, int, tuple[int, int]]], block: int = 1000) -> Iterator[str]:
    """The <row> elements of the data rows (row 2 on), `block` rows at a time, from their cells given column by
    column: each non-empty one an inline string, with the style (xf index) of its column's `base` (plain,
    quote-prefixed for a value that starts like a formula) or, for the `marked` cells (row, column, styles),
    their own; an empty one kept only when its style is not the default. Each row with its height, as
    xlsxwriter's set_row writes it."""
    from xlsxwriter.utility import xl_col_to_name

    letters = [xl_col_to_name(i) for i in range(len(columns))]
    escaped = [_escaped(column) for column in columns]
    styles = [tuple(f' s="{x}"' if x else "" for x in pair) for pair in base]
    # A column with a value that starts like a formula (quote prefix) or with or before a space (kept) has its
    # cells looked at one by one; the others are made in one go.
    one_by_one = []
    for column in columns:
        edges = {t[0] for t in column if t} | {t[-1] for t in column if t}
        one_by_one.append(any(c.isspace() or c in FORMULA_START for c in edges))
    own: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for r, i, pair in marked:
        own.setdefault(r, []).append((i, pair))
    for first in range(0, len(heights), block):
        rows = range(first, min(first + block, len(heights)))
        numbers = [str(r + 2) for r in rows]
        cells = []
        for column, xml, letter, (plain, quoted), slow in zip(columns, escaped, letters, styles, one_by_one):
            if slow:
                cells.append([_cell(f"{letter}{n}", column[r], xml[r], plain, quoted) for n, r in zip(numbers, rows)])
            else:
                empty = plain and f"<c r=\"{letter}{{}}\"{plain}/>"
                cells.append([f'<c r="{letter}{n}"{plain} t="inlineStr"><is><t>{x}</t></is></c>' if x
                              else empty and empty.format(n) for n, x in zip(numbers, xml[first:first + block])])
        for r in rows:
            for i, pair in own.get(r, ()):
                plain, quoted = (f' s="{x}"' for x in pair)
                cells[i][r - first] = _cell(f"{letters[i]}{r + 2}", columns[i][r], escaped[i][r], plain, quoted)
        yield "".join(f'<row r="{n}" ht="{heights[r]:g}" customHeight="1">{"".join(row)}</row>'
                      for n, r, row in zip(numbers, rows, zip(*cells)))


def _cell(ref: str, text: str | None, xml: str, plain: str, quoted: str) -> str:
    """One cell looked at by itself: `text` as the sender wrote it, `xml` the same escaped (_escaped)."""
    if not text:
        return f'<c r="{ref}"{plain}/>' if plain else ""
    preserve = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    style = quoted if text.startswith(FORMULA_START) else plain
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{preserve}>{xml}</t></is></c>'


_FIRST_DATA_ROW = re.compile(r'<row r="2"[ />]')
DATA_PART = "xl/worksheets/sheet1.xml"


def _splice_rows(written: bytes, buffer: io.BytesIO, rows_xml: Iterable[str]) -> None:
    """Copy the workbook xlsxwriter `written` into `buffer`, the data rows' XML in its data sheet in place of
    the empty rows its set_row calls made (its header row is kept; the sheet's dimension, filter and lists
    already span them), streamed into the zip block by block: the sheet's whole XML is never in memory."""
    with zipfile.ZipFile(io.BytesIO(written)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        if DATA_PART not in source.namelist():
            raise ValueError("no data sheet in xlsxwriter's file")
        for info in source.infolist():
            data = source.read(info)
            if info.filename != DATA_PART:
                out.writestr(info, data)
                continue
            xml = data.decode("utf-8")
            first, end = _FIRST_DATA_ROW.search(xml), xml.find("</sheetData>")
            if first is None or end < first.start():
                raise ValueError("the data sheet's rows were not found in xlsxwriter's XML")
            with out.open(info, "w") as sheet:
                sheet.write(xml[: first.start()].encode("utf-8"))
                for chunk in rows_xml:
                    sheet.write(chunk.encode("utf-8"))
                sheet.write(xml[end:].encode("utf-8"))


def notice_lines(n_rows: int, statut: str, help_email: str = "", missing: list[str] | None = None,
                 highlighted: bool = True, lists: bool = False) -> list[str]:
    others = ("Rien n'a été enregistré : le fichier entier a été refusé." if statut == "rejete"
              else "Les autres lignes ont été enregistrées : ne les renvoyez pas.")
    missing = missing or []
    what = []
    if missing:
        names = " et ".join(f"« {m} »" for m in missing)
        one = len(missing) < 2
        what.append(f"Il manque {'la colonne' if one else 'les colonnes'} {names} : {'ajoutez-la' if one else 'ajoutez-les'} "
                    f"(avec {'cet en-tête' if one else 'ces en-têtes'}, à la place de votre choix) et "
                    f"{'remplissez-la' if one else 'remplissez-les'} pour chaque ligne.")
    if highlighted:
        what.append("Les cellules à corriger sont surlignées en rouge ; passez la souris dessus pour lire le motif.")
    lines = [
        "",
        f"1. La feuille « {SHEET} » contient {'la ligne refusée' if n_rows < 2 else f'les {number_fr(n_rows)} lignes refusées'}, "
        f"telles que vous les avez envoyées, sous les mêmes en-têtes. {others}",
        f"2. La première colonne, « {REASONS_HEADER} », dit pour chaque ligne ce qui ne va pas et comment le corriger ; "
        "elle reste visible, avec le nom, le prénom et le N° de sécurité sociale, quand vous faites défiler la feuille. "
        + " ".join(what),
        "3. Corrigez (supprimez les lignes que vous ne voulez plus envoyer), enregistrez au format Excel (.xlsx), puis "
        f"déposez ce classeur tel quel dans votre dossier de dépôt. La colonne « {REASONS_HEADER} » est ignorée à la "
        "lecture : inutile de la vider ou de la supprimer. Vous pouvez aussi renvoyer votre fichier d'origine entier, "
        "corrigé.",
        "4. Les colonnes N° de sécurité sociale et SIRET sont au format Texte : saisissez les numéros en entier, sans espace "
        "(15 caractères pour le N° de sécurité sociale, clé comprise).",
        "5. Une valeur qui commence par =, +, - ou @ (un téléphone +33…, un intitulé -Vendeuse…) est enregistrée comme du "
        "texte : votre tableur l'affiche telle quelle et ne l'exécute jamais comme une formule. Pour en saisir une, "
        "tapez une apostrophe devant ('+33…) : le tableur ne la garde pas.",
    ]
    if lists:
        lines.append("6. Certaines colonnes (Mouvement, Contrat, Catégorie, Code PCS…) proposent la liste des valeurs "
                     f"attendues, comme le modèle de fichier ; la feuille « {LISTS_SHEET} » donne aussi le libellé de "
                     "chaque code PCS-ESE.")
    if help_email:
        lines.append(f"Une question ? Écrivez à {help_email} en rappelant votre N° adhérent et le nom du fichier.")
    return lines


ARCHIVES = "archives"  # outbox/<sender>/archives/: workbooks moved aside, never deleted


def remove_stale(outdir: Path, stem: str) -> None:
    """This file's own answer, written again (a held list released by staff), had a workbook that no longer
    matches it: moved aside (`retire`). Another file's workbook is never touched: each file's answer has its
    own `stem` (ack.ack_base)."""
    retire([outdir / rejects_name(stem)])


def covered(conn, outdir: Path, entry) -> list[Path]:
    """The correction workbooks of the sender's outbox `outdir` whose refused rows have all been accepted since,
    now that the file of ledger entry `entry` is recorded: the workbook itself sent back and wholly accepted
    (its name is the workbook's), or each of its rows recorded by a later file of the sender (the corrected
    original sent back whole, or the rows sent again in other files): see `_rows_recorded`.

    A run of many files of one sender would otherwise read every workbook of its outbox again for each file
    (hundreds of files and workbooks a night: quadratic). So each workbook's rows are read once per run
    (`_asked`), and a workbook found not all recorded after the sender's previous file is looked up again only
    when this file wrote someone it names (same NIR or same name), no other accepted file of the sender having
    been recorded in between (by another process). `new_run` starts each run afresh."""
    if entry.status not in ("accepte", "accepte_partiellement") or not outdir.is_dir():
        return []
    from ..store import employees, ledger

    own = rejects_name(entry.details.get("accuse") or "")
    previous = _last_checked.get(entry.sender)
    _last_checked[entry.sender] = entry.id
    follows = previous is not None and not ledger.sender_files_between(conn, entry.sender, previous, entry.id)
    written = employees.written_by(conn, entry.id) if follows else None
    out = []
    for book in sorted(outdir.glob(rejects_name("*"))):
        if book.name == own or not book.is_file():
            continue
        if entry.status == "accepte" and Path(entry.name).stem.casefold() == book.stem.casefold():  # sent back
            out.append(book)
            continue
        asked = _asked(book)
        if asked is None:
            continue
        key = (asked.key, entry.sender)
        if (written is not None and _unfinished.get(key) == previous
                and written[0].isdisjoint(asked.nirs) and written[1].isdisjoint(asked.names)):
            _unfinished[key] = entry.id  # still missing rows: nothing this file wrote is one of them
            continue
        if _rows_recorded(conn, asked, entry.sender):
            out.append(book)
        else:
            _unfinished[key] = entry.id
    return out


_last_checked: dict[str, int] = {}  # sender → the last recorded file whose workbooks were looked at, this run
_unfinished: dict[tuple, int] = {}  # (workbook, sender) → the file after which its rows were not all recorded


def new_run() -> None:
    """Forget what earlier runs of this process learnt of the workbooks (another store, another outbox, files
    recorded by other processes since): a run's first file of each sender looks at every workbook."""
    _last_checked.clear()
    _unfinished.clear()
    _read_asked.cache_clear()


@dataclass(frozen=True)
class _Asked:
    """The rows a correction workbook asks for, as read from it: see `_rows_recorded`."""

    key: tuple  # the workbook's path, size and modification time: what it was read as
    answered: str  # the acknowledgement base of the file it answered
    nirs: list[str]
    people: list[tuple[str, str, str, str]]  # (name, first name, birth, hire) normalised
    wanted: list[str]  # each row's movement ('' for a full list's row)
    names: list[str]  # the distinct names as written, sorted


def _asked(book: Path) -> _Asked | None:
    """What the workbook asks, read once per run (`new_run` forgets) as long as it does not change; None when it cannot be
    read or names no one."""
    try:
        st = book.stat()
    except OSError:
        return None
    return _read_asked(str(book), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _read_asked(path: str, size: int, mtime_ns: int) -> _Asked | None:
    import pandas as pd
    from python_calamine import CalamineWorkbook

    from ..read.headers import map_headers
    from ..rules.values import movements, parse_date

    try:
        rows = CalamineWorkbook.from_path(path).get_sheet_by_name(SHEET).to_python()
    except Exception:  # not a workbook the service wrote as it is now: kept where it is
        return None
    headers = [str(h) for h in rows[0]] if rows else []
    columns = map_headers(headers, vocabulary("mouvements")).columns
    if len(rows) < 2 or not ("nir" in columns or "nom" in columns):
        return None

    def column(key: str) -> list[str]:
        i = headers.index(columns[key]) if key in columns else None
        return ["" if i is None or i >= len(r) else str(r[i]).strip() for r in rows[1:]]

    def day(text: str) -> str:
        parsed = parse_date(text or "")
        return parsed.isoformat() if parsed else ""

    nirs = [re.sub(r"[\s.\-]", "", v).upper() for v in column("nir")]
    people = [(normalize(n), normalize(p), day(b), day(h)) for n, p, b, h in
              zip(column("nom"), column("prenom"), column("date_naissance"), column("date_embauche"))]
    wanted = (list(movements(pd.Series(column("mouvement"), dtype=object))[0]) if "mouvement" in columns
              else [""] * len(nirs))
    names = sorted(set(column("nom")) - {""})
    return _Asked((path, size, mtime_ns), Path(path).name[: -len(rejects_name(""))], nirs, people, wanted, names)


def _rows_recorded(conn, asked: _Asked, sender: str) -> bool:
    """Whether every row of a correction workbook has been recorded by a file of the sender later than the one
    the workbook answered: the same movement (any, for a full list of the personnel) for the same N° de
    sécurité sociale; or, the N° itself having been corrected, for the same name, first name and dates of birth
    and hire given in the row."""
    from ..store import employees, ledger

    answered = ledger.entry_by_ack_base(conn, asked.answered)
    if answered is None:
        return False
    done = employees.recorded_since(conn, answered.id, sender, sorted(set(asked.nirs) - {""}), asked.names)
    by_nir = {(v["nir"], m) for v in done for m in (v["mouvement"], "")}
    by_person = [(normalize(v["nom"]), normalize(v["prenom"]), v["date_naissance"] or "", v["date_embauche"] or "",
                  v["mouvement"]) for v in done]

    def same_person(row: tuple[str, str, str, str], m: str) -> bool:
        name, first, born, hired = row
        return bool(name and (born or hired)) and any(
            (n, f) == (name, first) and born in ("", b) and hired in ("", h) and m in ("", vm)
            for n, f, b, h, vm in by_person)

    return all((nir, m) in by_nir or same_person(row, m) for nir, row, m in zip(asked.nirs, asked.people, asked.wanted))


def retire(books: list[Path]) -> list[Path]:
    """Move correction workbooks aside, into archives/ beside them (a name already taken there gets a number):
    what a sender received is never deleted. Returns where they went."""
    moved = []
    for book in books:
        if not book.is_file():
            continue
        folder = book.parent / ARCHIVES
        target, n = folder / book.name, 1
        while target.exists():
            n += 1
            target = folder / f"{book.stem}.{n}{book.suffix}"
        try:
            make_dirs(folder)
            os.rename(book, target)
        except FileNotFoundError:
            continue
        log.info("classeur_rejets_archive %s", quote(scrub(book.name)))
        moved.append(target)
    return moved


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
