"""The correction workbook, <base>.rejets.xlsx (beside the file's acknowledgement <base>.ar.*, see ack.py): the
refused rows exactly as the sender sent them, under the same headers, plus a « Motifs du refus » column; the
faulty cells highlighted (with the reason as a comment); the NIR and SIRET columns formatted as text, so that
Excel does not turn a corrected number into 2,95109E+14.

Once fixed, the workbook goes back into the inbox as it is: the reader knows the « Motifs du refus » header
(schemas/colonnes.toml, field `motifs_refus`) and ignores that column, so it causes neither a refusal nor a
warning. Values that start with =, +, -, @ are neutralised (`formats.safe_cell`) and every cell is written as
text, never as a formula.

The original file is read again here (it is still in the inbox when the acknowledgement is written), so the
cells are the sender's own text, not the normalized values of the store.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..formats import date_fr, number_fr, safe_cell, write_atomic

if TYPE_CHECKING:
    import numpy as np
from .. import faults
from ..logs import quote
from ..masking import scrub
from ..vocab import BLOCKING, catalogue, vocabulary

# numpy and pandas are imported where the plan is made: the child process that writes a
# big file's workbook (Background) needs none of them and starts in a tenth of the time.

log = logging.getLogger("amsn_batch")

SHEET = "Lignes refusées"
NOTICE_SHEET = "Mode d'emploi"
REASONS_HEADER = "Motifs du refus"
REASONS_FIELD = "motifs_refus"
TEXT_FIELDS = ("nir", "siret")  # identifiers: the column is formatted as text
DEFAULT_MAX_ROWS = 50_000  # settings: [limites] lignes_classeur_rejets
MAX_COMMENTS = 2000  # cell comments are heavy in XLSX; beyond, the reasons column still says it all
DROPDOWNS = (("mouvement", ["Entrée", "Sortie", "Modification"]), ("categorie", ["SI", "SIA", "SIR", "SIH"]))
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
    that another process can write the workbook (`Background`) while this one writes the store."""
    headers: list[str]  # the file's headers kept (an old reasons column dropped)
    written_headers: list[str]  # as the sender wrote them, plus the reasons column
    widths: list[int]
    text_idx: list[int]  # identifier columns, formatted as text
    dropdowns: list[tuple[int, list[str]]]  # (column, accepted values)
    columns: list[list[str | None]]  # the refused rows' cells, cleaned, column by column
    lines: list[int]  # their line numbers in the file
    own: list[list[tuple[str, str]]]  # per row: (column as written, message) of its blocking findings
    wide_text: list[str]  # why the whole file was refused
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
    from ..read.headers import map_headers

    if statut not in ("rejete", "accepte_partiellement") or not source.is_file():
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
    headers = [h for h in table.headers if h != old_reasons]
    col_of = {h: i for i, h in enumerate(headers)}
    by_line: dict[int, list[tuple[str, str]]] = {}
    for f in findings:
        if f.get("gravite") == BLOCKING and int(f.get("ligne") or 0) != table.header_line:
            by_line.setdefault(int(f["ligne"]), []).append((f.get("colonne") or "", f.get("message") or ""))
    keep = np.isin(table.lines, refused)
    frame = table.frame.loc[keep, headers]
    lines = table.lines[keep].tolist()
    sample = frame.head(200)
    widths = [min(max(max([len(h)] + [len(str(v)) for v in sample[h]]) + 2, 10), 45) for h in headers] + [80]
    return Plan(
        headers=headers,
        written_headers=original_headers(headers) + [REASONS_HEADER],
        widths=widths,
        text_idx=sorted(col_of[mapped.columns[k]] for k in TEXT_FIELDS if mapped.columns.get(k) in col_of),
        dropdowns=[(col_of[mapped.columns[k]], values) for k, values in DROPDOWNS if mapped.columns.get(k) in col_of],
        columns=[_clean_column(frame[h].to_numpy(dtype=object)) for h in headers],
        lines=lines,
        own=[by_line.get(line, []) for line in lines],
        wide_text=_file_wide_reasons(findings, table.header_line) if statut == "rejete" else [],
        file_name=file_name, received=received, help_email=help_email, statut=statut,
    )


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
    buffer = io.BytesIO()
    _write_book(buffer, plan)
    return buffer.getvalue()


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
    """A cell's text as written: the control characters XML cannot hold removed, a formula neutralised;
    None for an empty cell, left empty in the workbook."""
    if value is None or value == "":
        return None
    text = _ILLEGAL_XML.sub("", str(value))
    return safe_cell(text) if text else None


def _clean_column(values) -> list[str | None]:
    """_clean over a whole column; the control-character search is made once on the joined column, since
    almost no file has any."""
    texts = ["" if v is None else str(v) for v in values]
    if _ILLEGAL_XML.search("\n".join(texts)):
        texts = [_ILLEGAL_XML.sub("", t) for t in texts]
    return [safe_cell(t) if t else None for t in texts]


def _write_book(buffer: io.BytesIO, plan: Plan) -> None:
    """Write the workbook into a buffer with xlsxwriter, which writes the whole file on close().

    Every value goes through write_string (write_blank for an empty cell that keeps a format), never write(),
    which would turn a value that looks like a number or a formula into one."""
    import xlsxwriter

    # Normal mode: constant_memory keeps comments and formats but was slower here (inline strings written
    # to a temporary file: 0.93 s against 0.85 s for 10,000 rows). in_memory: the XML parts are zipped from
    # memory, so nothing is on disk before close() and a failure leaves no temporary files behind.
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    wb.set_properties({"title": _ILLEGAL_XML.sub("", f"Lignes refusées – {scrub(plan.file_name)}"), "author": "amsn-batch"})
    ws = wb.add_worksheet(SHEET)
    headers, written_headers = plan.headers, plan.written_headers
    n_rows = len(plan.lines)
    n_cols = len(written_headers)
    col_of = {h: i for i, h in enumerate(headers)}
    text_idx = set(plan.text_idx)

    bad_style = {"pattern": 1, "bg_color": f"#{BAD_FILL}", "font_color": f"#{BAD_FONT}", "bold": True,
                 "border": 1, "border_color": f"#{BAD_FONT}"}
    bad = wb.add_format(bad_style)
    bad_text = wb.add_format({**bad_style, "num_format": "@"})  # a faulty identifier stays text once fixed
    text = wb.add_format({"num_format": "@"})
    head = wb.add_format({"bold": True, "pattern": 1, "bg_color": f"#{HEADER_FILL}"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    comment_options = {"author": "amsn-batch", "width": 320, "height": 140}

    # The identifier columns formatted as text as a whole, so that a row typed below the refused ones keeps
    # its NIR as text too.
    for i in range(n_cols):
        ws.set_column(i, i, plan.widths[i], text if i in text_idx else None)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, n_rows, n_cols - 1)
    ws.repeat_rows(0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed

    # Drop-down lists where the accepted values are few (typing another spelling stays allowed).
    for c, values in plan.dropdowns:
        ws.data_validation(1, c, max(n_rows + 1, 2) + 500 - 1, c,
                           {"validate": "list", "source": list(values), "ignore_blank": True,
                            "show_input": False, "show_error": False})

    for i, h in enumerate(written_headers):
        value = _clean(h)
        if value is None:
            ws.write_blank(0, i, None, head)
        else:
            ws.write_string(0, i, value, head)

    # Scrubbing is the costliest step per row, and messages repeat (the same wrong date on many rows): each
    # distinct text is scrubbed once.
    scrubbed: dict[str, str] = {}

    def scrub_once(value) -> str:
        text = value or ""
        out = scrubbed.get(text)
        if out is None:
            out = scrubbed[text] = scrub(text)
        return out

    columns = plan.columns
    base = [text if i in text_idx else None for i in range(len(headers))]
    reasons_col = len(headers)
    wide = [f"• Fichier entier : {t}" for t in plan.wide_text]
    write_string, write_blank, write_comment = ws.write_string, ws.write_blank, ws.write_comment
    comments = 0
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
        fmts = base
        if faulty:
            fmts = base.copy()
            for i in faulty:
                fmts[i] = bad_text if i in text_idx else bad
        for i in range(reasons_col):
            value, fmt = columns[i][r], fmts[i]
            if value is not None:
                write_string(row, i, value, fmt)
            elif fmt is not None:
                write_blank(row, i, None, fmt)
        for i, msgs in faulty.items():
            if comments >= MAX_COMMENTS:
                break
            write_comment(row, i, _ILLEGAL_XML.sub("", "\n".join(msgs)), comment_options)
            comments += 1
        reasons += wide
        if not own and not wide:
            reasons.append("• Ligne refusée avec le fichier entier (voir l'accusé de réception).")
        write_string(row, reasons_col, _clean("\n".join(reasons)), wrap)

    notice = wb.add_worksheet(NOTICE_SHEET)
    notice.set_column(0, 0, 110)
    title = _clean(f"Classeur de correction du fichier « {scrub(plan.file_name)} »"
                   + (f" reçu le {date_fr(plan.received)}" if plan.received else ""))
    notice.write_string(0, 0, title, wb.add_format({"bold": True, "font_size": 14}))
    for k, line_text in enumerate(notice_lines(n_rows, plan.statut, plan.help_email), start=1):
        value = _clean(line_text)
        if value is None:
            notice.write_blank(k, 0, None, wrap)
        else:
            notice.write_string(k, 0, value, wrap)
    wb.close()


def notice_lines(n_rows: int, statut: str, help_email: str = "") -> list[str]:
    others = ("Rien n'a été enregistré : le fichier entier a été refusé." if statut == "rejete"
              else "Les autres lignes ont été enregistrées : ne les renvoyez pas.")
    lines = [
        "",
        f"1. La feuille « {SHEET} » contient {'la ligne refusée' if n_rows < 2 else f'les {number_fr(n_rows)} lignes refusées'}, "
        f"telles que vous les avez envoyées, sous les mêmes en-têtes. {others}",
        f"2. La colonne « {REASONS_HEADER} » dit, pour chaque ligne, ce qui ne va pas et comment le corriger. Les cellules à "
        "corriger sont surlignées en rouge ; passez la souris dessus pour lire le motif.",
        "3. Corrigez les cellules (supprimez les lignes que vous ne voulez plus envoyer), enregistrez, puis déposez ce classeur "
        f"tel quel dans votre dossier de dépôt. La colonne « {REASONS_HEADER} » est ignorée à la lecture : inutile de la vider.",
        "4. Les colonnes N° de sécurité sociale et SIRET sont au format Texte : saisissez les numéros en entier, sans espace "
        "(15 caractères pour le N° de sécurité sociale, clé comprise).",
        "5. Une valeur qui commençait par =, +, - ou @ est précédée d'une apostrophe : c'est une protection contre les formules, "
        "vous pouvez la laisser.",
    ]
    if help_email:
        lines.append(f"Une question ? Écrivez à {help_email} en rappelant votre N° adhérent et le nom du fichier.")
    return lines


def remove_stale(outdir: Path, stem: str) -> None:
    """This file's own answer, written again (a held list released by staff), had a workbook that no longer
    matches it. Another file's workbook is never touched: each file's answer has its own `stem` (ack.ack_base)."""
    try:
        (outdir / rejects_name(stem)).unlink()
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
