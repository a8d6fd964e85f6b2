"""Acknowledgement of a file: <base>.ar.csv (one row per finding), <base>.ar.json (the verdict and counts),
<base>.ar.html (a page a person can read: self-contained, phone-sized and printable on A4) and, when rows were
refused, <base>.rejets.xlsx (the correction workbook, see rejects.py).

Every received file has its own <base>, `<stem>.recu-<AAAAMMJJ-HHMMSS>.<id>` (`ack_base`): the file's name
without its extension, when it was received, and six letters drawn from its claim id. Letters around the date on
purpose: its 14 digits stand alone, never chained to digits of the stem or the id into a run that the NIR masker
(`masking.scrub`, which every name a sender sees goes through) would take for a NIR. A sender's outbox thus lists
the answers by name then by date, and a later file (same name, same stem, same content) never overwrites an
earlier answer. The base is decided once per claim and kept in the file's ledger entry (`accuse`), so a
rebuilt acknowledgement (a stopped run, a held list released by staff) replaces that file's own answer.
A dry run (`valider`) writes <stem>.ar.* into the folder it is given.

One model, `Ack`, built once per file from its ledger entry and findings (`Ack.of`; `Ack.duplicate` for the
same content sent again), renders all four: `traiter`, `liste valider/rejeter` and the dry run `valider` use it.

Every text taken from the sender's file is passed through `masking.scrub` before it is written, in the CSV
and in the page: the NIR column is masked at the source, and a NIR typed anywhere else is masked here."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from ..masking import scrub
from ..rules.catalogue import ROW_COLUMNS
from ..store import ledger
from ..store.ledger import FileEntry
from . import rejects
from .contacts import service_contacts
from ..formats import safe_cell, write_atomic
from .pages import environment
from .summary import ROWS_PER_RULE, VERDICT_KIND, VERDICT_TITLE, Tallies, group_by_member, group_findings, plural, verdict_sentence

log = logging.getLogger("amsn_batch")

CSV_COLUMNS = ROW_COLUMNS  # the historical six (ligne … message), then the column's letter, the person, the member
SCRUBBED = frozenset({"colonne", "valeur", "message", "nom", "prenom", "raison_sociale"})  # text that may hold a NIR
VERDICTS = {
    "accepte": "Fichier accepté : toutes les lignes ont été prises en compte.",
    "accepte_partiellement": "Fichier accepté en partie : certaines lignes ont été refusées, les autres ont été prises en compte.",
    "rejete": "Fichier refusé : aucune ligne n'a été prise en compte.",
    "en_attente": "Fichier mis en attente : il sera examiné par le service avant d'être pris en compte.",
    "deja_traite": "Fichier déjà reçu : il a déjà été traité, il n'a pas été appliqué une seconde fois.",
}


@dataclass
class Ack:
    fichier: str  # the safe name it was kept under
    sha256: str
    recu_le: str
    statut: str
    expediteur: str
    lignes: int = 0
    lignes_acceptees: int = 0
    lignes_rejetees: int = 0
    entrees: int = 0
    sorties: int = 0
    modifications: int = 0
    avertissements: int = 0
    constats_non_listes: dict[str, int] = field(default_factory=dict)
    traitement_initial: dict | None = None  # for deja_traite: when and how it was first processed, which answer
    nom_depose: str = ""  # the name as dropped (undecodable bytes shown as \xNN)
    accuse: str = ""  # the base name of this acknowledgement's files ('' for a dry run: the file's stem)
    genre: str = ""  # a file that is not about employees' movements: declaration, fiche_adherent, visite, annulation
    classeurs_retires: list[str] = field(default_factory=list)  # earlier correction workbooks this file made
    # needless, moved aside into archives/ of the outbox (rejects.covered); in the JSON when any
    findings: list[dict] = field(default_factory=list, repr=False)  # all of them (CSV_COLUMNS), or with `tallies`
    # every blocking one and the first of each rule (ledger.answer_findings); the CSV and the
    # JSON list `per_code` of each code (`constats`), the counts say the rest
    tallies: Tallies | None = field(default=None, repr=False)  # of all the findings, when `findings` are the first

    @classmethod
    def of(cls, entry: FileEntry, findings: list[dict], tallies: Tallies | None = None) -> Ack:
        """The acknowledgement of a file: its ledger entry (FileEntry.unrecorded for a dry run) and all its
        findings, or (`tallies`) the first of them and the tallies of all."""
        return cls(entry.name, entry.sha256, entry.received, entry.status, entry.sender, entry.rows, entry.accepted,
                   entry.refused, entry.entries, entry.exits, entry.changes, entry.warnings, findings=findings, tallies=tallies,
                   nom_depose=dropped_name(entry), accuse=entry.details.get("accuse", ""),
                   genre=entry.details.get("genre", ""))

    @classmethod
    def recorded(cls, conn, entry: FileEntry, per_code: int, workbook_rows: int | None = None) -> Ack:
        """The acknowledgement of a recorded file, from the store: every blocking finding when the correction
        workbook may need them (at most `workbook_rows` refused lines: a workbook is made of them), and the
        first of each rule, as many as the CSV (`per_code`, and one more to tell the order of its « … et N
        autres » rows) and the page (ROWS_PER_RULE, per client too) list, with the tallies of all. A first
        full list of a million employees is a million warnings, not read back; nor are a million refused
        lines that get no workbook."""
        first = max(per_code + 1, ROWS_PER_RULE)
        every_blocking = workbook_rows is None or entry.refused <= workbook_rows
        return cls.of(entry, ledger.answer_findings(conn, entry.id, first, ROWS_PER_RULE, every_blocking),
                      Tallies.stored(ledger.finding_tallies(conn, entry.id), ledger.finding_messages(conn, entry.id)))

    def tallied(self) -> Tallies:
        """The tallies of all the findings: the store's, or those of `findings` when they are all of them."""
        if self.tallies is None:
            self.tallies = Tallies.of(self.findings)
        return self.tallies

    @classmethod
    def duplicate(cls, first: FileEntry, name: str, sender: str, received: str, *, dropped: str, base: str,
                  first_files: list[str]) -> Ack:
        """The same content sent again (nothing applied), answered in files of its own (`base`). Its own sender
        is told how it was first processed and which acknowledgement files (`first_files`) answered it; another
        sender learns only that the content is known, nothing of the first file's outcome."""
        same_sender = first.sender == sender
        initial = ({"traite_le": first.done_at, "statut": first.status, "lignes": first.rows,
                    "lignes_acceptees": first.accepted, "accuse": first_files} if same_sender else None)
        return cls(name, first.sha256, received, "deja_traite", sender, first.rows if same_sender else 0,
                   traitement_initial=initial, nom_depose=readable(dropped), accuse=base)

    @property
    def base(self) -> str:
        """The base name of its files."""
        return self.accuse or ack_stem(self.fichier)

    @property
    def verdict(self) -> str:
        return VERDICTS[self.statut]


_ANSWER_TOKEN = re.compile(r"\.recu-\d{8}-\d{6}\.[a-z]{6}(?=(\.rejets)?$)")


def ack_stem(name: str) -> str:
    """The file's name without its extension (the start of its acknowledgement's base name); a correction
    workbook sent back, <base>.rejets.xlsx, without its answer's date and id: `novembre.rejets`."""
    stem = Path(name).stem
    return _ANSWER_TOKEN.sub("", stem) or name


def ack_base(name: str, received: str, claim_id: str) -> str:
    """The base name of the acknowledgement of the file received as `name` at `received` (ISO time) and
    claimed as `claim_id`: `<stem>.recu-<AAAAMMJJ-HHMMSS>.<6 letters>`, the same whenever it is rebuilt."""
    when = dt.datetime.fromisoformat(received).strftime("%Y%m%d-%H%M%S")
    digest = int.from_bytes(hashlib.sha256(claim_id.encode()).digest()[:8], "big")
    letters = "".join(chr(ord("a") + digest // 26 ** i % 26) for i in range(6))
    return f"{ack_stem(name)}.recu-{when}.{letters}"


def entry_base(entry: FileEntry) -> str:
    """The base name of a ledger entry's acknowledgement (entries from before `accuse`: the file's stem)."""
    return entry.details.get("accuse") or ack_stem(entry.name)


def ack_names(base: str) -> list[str]:
    """The acknowledgement's files, CSV, JSON, page, in that order (plus rejects.rejects_name(base) when any)."""
    return [f"{base}.ar.csv", f"{base}.ar.json", f"{base}.ar.html"]


def written(outdir: Path, base: str) -> list[str]:
    """The names of the acknowledgement files of `base` present in outdir (the correction workbook included)."""
    return [n for n in [*ack_names(base), rejects.rejects_name(base)] if (outdir / n).is_file()]


def readable(name: str) -> str:
    """A name as dropped, fit for a text: bytes that are not UTF-8 shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def dropped_name(entry: FileEntry) -> str:
    """The name a ledger entry's file was dropped under (kept quoted as a log field when it differs)."""
    raw = entry.details.get("nom_depose")
    if not raw:
        return entry.name
    return json.loads(raw) if raw.startswith('"') else raw


def cap_findings(rows: list[dict], per_code: int, tallies: Tallies | None = None) -> tuple[list[dict], dict[str, int]]:
    """At most `per_code` findings per code are listed; how many more there were is counted (from `tallies`
    when `rows` are only the first of each code: at least per_code + 1 of a code that has more)."""
    seen: dict[str, int] = {}
    kept, extra = [], {}
    for r in rows:
        n = seen.get(r["code"], 0) + 1
        seen[r["code"]] = n
        if n <= per_code:
            kept.append(r)
        else:
            extra[r["code"]] = extra.get(r["code"], 0) + 1
    if tallies is not None:
        extra = {code: tallies.by_code[code].constats - per_code for code in extra}
    return kept, extra


def write_ack(outdir: Path, ack: Ack, per_code: int = 200, *, contacts=None, source: Path | None = None,
              limits=None, dry_run: bool = False, kind: str = "mouvements", prepared=None) -> list[Path]:
    """Write the acknowledgement files; returns their paths.

    The CSV lists `per_code` of each code of `ack.findings`, the page fewer; all are counted. With `source` (the file as received, still readable, read with the column vocabulary
    `kind` of schemas/colonnes.toml), the refused rows also go into the correction workbook <nom>.rejets.xlsx.
    `contacts` (contacts.Contacts) fills « Qui contacter »; `dry_run` marks the page as a trial; `prepared`
    (rejects.Background), the correction workbook already being written by another process."""
    findings = ack.findings
    listed, extra = cap_findings(findings, per_code, ack.tallied())
    ack.constats_non_listes = extra
    stem = ack.base
    paths = [outdir / n for n in ack_names(stem)]

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    rows = [answer_row(r) for r in listed]
    for r in rows:
        w.writerow([safe_cell(r[c]) for c in CSV_COLUMNS])
    for code, n in extra.items():
        w.writerow(["", "", "", code, "", f"… et {n} autres constats {code} non listés (limite de {per_code} par code).",
                    *[""] * (len(CSV_COLUMNS) - 6)])
    write_atomic(paths[0], "\ufeff" + buf.getvalue())
    write_atomic(paths[1], json.dumps(answer_document(ack, rows), ensure_ascii=False, indent=2))

    workbook = rejects.RejectsOutcome(None)
    if ack.statut != "deja_traite":
        if source is not None and ack.lignes_rejetees > 0:
            workbook = _write_workbook(outdir, stem, ack, findings, source, limits, contacts, kind, prepared)
        if workbook.path is None:
            rejects.remove_stale(outdir, stem)
    write_atomic(paths[2], render_html(ack, findings, extra, contacts=contacts, workbook=workbook, dry_run=dry_run))
    if workbook.path is not None:
        paths.append(workbook.path)
    return paths


def answer_row(finding: dict) -> dict:
    """One finding as the CSV and the JSON give it: CSV_COLUMNS, text masked, '' for what is not known."""
    out = {}
    for c in CSV_COLUMNS:
        v = finding.get(c)
        if c == "ligne":
            out[c] = int(v or 0)
        else:
            out[c] = scrub(v) if c in SCRUBBED else ("" if v is None else str(v))
    return out


def answer_document(ack: Ack, rows: list[dict]) -> dict:
    """The JSON answer (schemas/accuse.schema.json): the verdict and counts, as ever, and the listed findings
    (`constats`, the CSV's rows: same fields, the person and the member included)."""
    doc = {"fichier": ack.fichier, "nom_depose": scrub(ack.nom_depose), "accuse": ack.accuse}  # which file first
    doc |= {f.name: getattr(ack, f.name) for f in fields(ack) if f.name not in ("findings", "tallies", *doc)}
    for optional in ("traitement_initial", "accuse", "classeurs_retires"):
        if not doc[optional]:
            doc.pop(optional)
    doc["libelle_statut"] = VERDICT_TITLE[ack.statut]
    doc["constats"] = rows
    return doc


def _write_workbook(outdir: Path, stem: str, ack: Ack, findings: list[dict], source: Path, limits, contacts, kind: str,
                    prepared=None):
    if prepared is not None and (delivered := prepared.deliver(outdir / rejects.rejects_name(stem))) is not None:
        return delivered

    kw = {}
    if limits is not None:
        kw = {"max_rows": limits.max_rejects_rows, "max_file_rows": limits.max_rows, "max_columns": limits.max_columns}
    if ack.lignes_rejetees > kw.get("max_rows", rejects.DEFAULT_MAX_ROWS):  # known already: no need to read the file again
        return rejects.RejectsOutcome(None, ack.lignes_rejetees, too_many=True)
    try:
        return rejects.write_rejects(outdir, stem, source, ack.statut, findings, file_name=ack.fichier,
                                     received=ack.recu_le, help_email=help_email(contacts), kind=kind, **kw)
    except Exception as exc:  # the acknowledgement must go out even if the workbook cannot be written
        log.error("classeur_rejets_echec fichier=%s erreur=%s", ack.sha256[:12], type(exc).__name__)
        return rejects.RejectsOutcome(None)


def help_email(contacts) -> str:
    services = getattr(contacts, "services", None) or []
    return services[0].get("email", "") if services else ""


@cache
def _env() -> jinja2.Environment:
    return environment({"masque": scrub,
                        "tel": lambda s: "".join(ch for ch in str(s) if ch.isdigit() or ch == "+")}, {"icone": icon})


ICONS = {
    # 24×24 strokes; decorative (aria-hidden): the verdict is always said in words next to it.
    "ok": '<circle cx="12" cy="12" r="10"/><path d="M7 12.5l3.2 3.2L17 9"/>',
    "partiel": '<path d="M12 2.8L22 20.5H2z"/><path d="M12 9.5v5"/><circle cx="12" cy="17.4" r=".6"/>',
    "refus": '<circle cx="12" cy="12" r="10"/><path d="M8 8l8 8M16 8l-8 8"/>',
    "attente": '<circle cx="12" cy="12" r="10"/><path d="M12 6.5V12l3.5 2.5"/>',
    "deja": '<rect x="8" y="8" width="12" height="13" rx="1.5"/><path d="M16 8V4.5A1.5 1.5 0 0 0 14.5 3h-9A1.5 1.5 0 0 0 4 4.5v11A1.5 1.5 0 0 0 5.5 17H8"/>',
}


def icon(kind: str, size: int = 32) -> Markup:
    return Markup(
        f'<svg class="icone" width="{size}" height="{size}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        f'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">'
        f"{ICONS[kind]}</svg>"
    )


def counts(ack: Ack) -> list[tuple[str, str, int]]:
    """(key, French label, value) of the counters shown on top of the page; the employees' entries, exits and
    changes only for a file about them (not a declaration, a fiche adhérent or an appointment request)."""
    lines = [
        ("lignes", "Lignes reçues", ack.lignes),
        ("lignes_acceptees", "Lignes acceptées", ack.lignes_acceptees),
        ("lignes_rejetees", "Lignes refusées", ack.lignes_rejetees),
    ]
    if ack.genre:
        return lines
    return [*lines, ("entrees", "Entrées", ack.entrees), ("sorties", "Sorties", ack.sorties),
            ("modifications", "Modifications", ack.modifications)]


def _clients(ack: Ack, findings: list[dict], tallies: Tallies) -> list:
    """A payroll firm's findings client by client; [] when the file is one adhérent's own."""
    if not any((f.get("adherent") or ack.expediteur) != ack.expediteur for f in findings):
        return []
    return group_by_member(findings, tallies=tallies)


def render_html(ack: Ack, findings: list[dict], extra: dict[str, int] | None = None, *, contacts=None,
                workbook=None, dry_run: bool = False, now: dt.datetime | None = None) -> str:
    tallies = ack.tallied()
    groups = group_findings(findings, tallies=tallies.by_code)
    clients = _clients(ack, findings, tallies)
    anchors = {}  # a cause at the top links to the first client's group of that rule
    for c in clients:
        for g in c.bloquants:
            anchors.setdefault(g.code, f"regle-{g.code}-{c.adherent or 'fichier'}")
    phrase = verdict_sentence(ack)
    head, _, rest = phrase.partition(" : ")
    return _env().get_template("ack.html.j2").render(
        ack=ack,
        fichier=scrub(ack.fichier),
        kind=VERDICT_KIND.get(ack.statut, "attente"),
        titre=VERDICT_TITLE.get(ack.statut, ""),
        phrase=phrase,
        phrase_tete=head,
        phrase_suite=rest,
        compteurs=counts(ack),
        qui_titre="Contact" if ack.genre == "fiche_adherent" else "Salarié",  # whom a line of the file is about
        bloquants=[g for g in groups if g.bloquant],
        clients=clients,
        ancres=anchors,
        cellules=any(g.bloquant and not g.fichier_entier for g in groups),  # some cell to highlight
        avertissements=[g for g in groups if not g.bloquant],
        contacts=contacts if contacts is not None else service_contacts(),
        classeur=workbook or rejects.RejectsOutcome(None),
        classeur_nom=rejects.rejects_name(ack.base),  # names made by the service from the masked safe name:
        stem=ack.base,  # scrubbing them again would mask date and id digits that happen to follow the stem's
        essai=dry_run,
        genere_le=(now or dt.datetime.now()).isoformat(timespec="minutes"),
        pluriel=plural,
    )
