"""The correction workbook, <nom>.rejets.xlsx: the refused rows exactly as the sender sent them, under the
same headers, plus a « Motifs du refus » column; the faulty cells highlighted (with the reason as a comment);
the NIR and SIRET columns formatted as text, so that Excel does not turn a corrected number into 2,95109E+14.

Once fixed, the workbook goes back into the inbox as it is: the reader knows the « Motifs du refus » header
(schemas/colonnes.toml, field `motifs_refus`) and ignores that column, so it causes neither a refusal nor a
warning. Values that start with =, +, -, @ are neutralised (`formats.safe_cell`) and every cell is written as
text, never as a formula.

The original file is read again here (it is still in the inbox when the acknowledgement is written), so the
cells are the sender's own text, not the normalized values of the store.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..rules.catalogue import BLOCKING, catalogue
from .formats import date_fr, number_fr, safe_cell
from .masking import scrub

log = logging.getLogger("amsn_batch")

SHEET = "Lignes refusées"
NOTICE_SHEET = "Mode d'emploi"
REASONS_HEADER = "Motifs du refus"
REASONS_FIELD = "motifs_refus"
TEXT_FIELDS = ("nir", "siret")  # identifiers: the column is formatted as text
DEFAULT_MAX_ROWS = 50_000  # settings: [limites] lignes_classeur_rejets
MAX_COMMENTS = 2000  # cell comments are heavy in XLSX; beyond, the reasons column still says it all
_DEDUPED = re.compile(r"^(.*) \((\d+)\)$")

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


def write_rejects(outdir: Path, stem: str, source: Path, statut: str, findings: list[dict], *,
                  max_rows: int = DEFAULT_MAX_ROWS, max_file_rows: int = 2_000_000, max_columns: int = 200,
                  file_name: str = "", received: str = "", help_email: str = "", kind: str = "mouvements") -> RejectsOutcome:
    """Write <stem>.rejets.xlsx in outdir when the file has refused rows."""
    from ..read import UnreadableFile, read_table
    from ..read.headers import map_headers, vocabulary

    target = outdir / rejects_name(stem)
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
    written_headers = original_headers(headers) + [REASONS_HEADER]
    text_cols = {mapped.columns[k] for k in TEXT_FIELDS if k in mapped.columns}

    by_line: dict[int, list[dict]] = {}
    for f in findings:
        if f.get("gravite") == BLOCKING and int(f.get("ligne") or 0) != table.header_line:
            by_line.setdefault(int(f["ligne"]), []).append(f)
    wide_text = _file_wide_reasons(findings, table.header_line) if statut == "rejete" else []

    keep = np.isin(table.lines, refused)
    frame = table.frame.loc[keep, headers]
    lines = table.lines[keep]
    outdir.mkdir(parents=True, exist_ok=True)
    tmp = outdir / f".{target.name}.tmp"
    _write_book(tmp, frame, lines, headers, written_headers, text_cols, by_line, wide_text, mapped,
                file_name=file_name, received=received, help_email=help_email, statut=statut)
    os.replace(tmp, target)
    return RejectsOutcome(target, len(lines))


def _clean(value: str) -> str | None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or value == "":
        return None
    return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def _write_book(path: Path, frame, lines, headers, written_headers, text_cols, by_line, wide_text, mapped,
                file_name: str, received: str, help_email: str, statut: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook(write_only=True)
    wb.properties.title = f"Lignes refusées – {scrub(file_name)}"
    wb.properties.creator = "amsn-batch"
    ws = wb.create_sheet(SHEET)
    n_rows = len(lines)
    col_of = {h: i for i, h in enumerate(headers)}
    text_idx = {col_of[h] for h in text_cols if h in col_of}

    # Column formats and widths must be set before the first row.
    sample = frame.head(200)
    for i, h in enumerate(written_headers):
        letter = get_column_letter(i + 1)
        if i < len(headers):
            longest = max([len(h)] + [len(str(v)) for v in sample[headers[i]]]) if len(sample) else len(h)
            ws.column_dimensions[letter].width = min(max(longest + 2, 10), 45)
        else:
            ws.column_dimensions[letter].width = 80
        if i in text_idx:
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"
    last = get_column_letter(len(written_headers))
    ws.auto_filter.ref = f"A1:{last}{n_rows + 1}"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    # Drop-down lists where the accepted values are few (typing another spelling stays allowed).
    for key, values in (("mouvement", "Entrée,Sortie,Modification"), ("categorie", "SI,SIA,SIR,SIH")):
        header = mapped.columns.get(key)
        if header in col_of:
            letter = get_column_letter(col_of[header] + 1)
            dv = DataValidation(type="list", formula1=f'"{values}"', allow_blank=True, showErrorMessage=False)
            dv.add(f"{letter}2:{letter}{max(n_rows + 1, 2) + 500}")
            ws.data_validations.append(dv)

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor=HEADER_FILL)
    thin = Side(style="thin", color=BAD_FONT)
    # Named styles are registered once: setting fill, font and border on each faulty cell would hash
    # three style objects per cell.
    bad = NamedStyle("a_corriger", fill=PatternFill("solid", fgColor=BAD_FILL), font=Font(color=BAD_FONT, bold=True),
                     border=Border(left=thin, right=thin, top=thin, bottom=thin))
    bad_text = NamedStyle("a_corriger_texte", fill=bad.fill, font=bad.font, border=bad.border, number_format="@")
    text = NamedStyle("texte", number_format="@")
    for style in (bad, bad_text, text):
        wb.add_named_style(style)
    wrap = Alignment(wrap_text=True, vertical="top")
    header_cells = []
    for i, h in enumerate(written_headers):
        c = WriteOnlyCell(ws, value=_clean(h))
        c.font, c.fill = bold, head_fill
        header_cells.append(c)
    ws.append(header_cells)

    comments = 0
    columns = [frame[h].to_numpy(dtype=object) for h in headers]
    for r, line in enumerate(lines.tolist()):
        own = by_line.get(int(line), [])
        faulty: dict[int, list[str]] = {}
        for f in own:
            idx = col_of.get(f.get("colonne") or "")
            if idx is not None:
                faulty.setdefault(idx, []).append(scrub(f.get("message") or ""))
        row = []
        for i in range(len(headers)):
            value = _clean(columns[i][r])
            if i in faulty or i in text_idx:
                c = WriteOnlyCell(ws, value=value)
                c.style = ("a_corriger_texte" if i in text_idx else "a_corriger") if i in faulty else "texte"
                if i in faulty:
                    if comments < MAX_COMMENTS:
                        c.comment = Comment("\n".join(faulty[i]), "amsn-batch", width=320, height=140)
                        comments += 1
                row.append(c)
            else:
                row.append(value)
        reasons = [f"Ligne {number_fr(int(line))} du fichier envoyé."]
        reasons += [f"• {_reason(f)}" for f in own]
        reasons += [f"• Fichier entier : {t}" for t in wide_text]
        if not own and not wide_text:
            reasons.append("• Ligne refusée avec le fichier entier (voir l'accusé de réception).")
        c = WriteOnlyCell(ws, value=_clean("\n".join(reasons)))
        c.alignment = wrap
        row.append(c)
        ws.append(row)

    notice = wb.create_sheet(NOTICE_SHEET)
    notice.column_dimensions["A"].width = 110
    title = WriteOnlyCell(notice, value=_clean(f"Classeur de correction du fichier « {scrub(file_name)} »"
                                                + (f" reçu le {date_fr(received)}" if received else "")))
    title.font = Font(bold=True, size=14)
    notice.append([title])
    for text in notice_lines(n_rows, statut, help_email):
        c = WriteOnlyCell(notice, value=_clean(text))
        c.alignment = Alignment(wrap_text=True, vertical="top")
        notice.append([c])
    wb.save(path)


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
    """An earlier file with the same name left a workbook: it no longer matches this acknowledgement."""
    try:
        (outdir / rejects_name(stem)).unlink()
    except FileNotFoundError:
        pass
