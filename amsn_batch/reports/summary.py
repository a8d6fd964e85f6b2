"""What an acknowledgement page says: the verdict in one sentence, and the findings grouped by rule.

Findings are grouped by rule code: blocking rules first (the lines to fix), then warnings, each most frequent
first. A group carries the rule's title, what is wrong and how to fix it (said once when it is the same for
every line), and the first lines concerned; the rest are counted ("et N autres"). Every text taken from the
sender's file goes through `masking.scrub`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from ..masking import scrub
from ..vocab import BLOCKING, catalogue
from ..formats import date_fr, number_fr

ROWS_PER_RULE = 20  # lines listed per rule on the page; the CSV lists more, the workbook has them all


@dataclass
class LineRow:
    ligne: int
    colonne: str  # « E — Poste »: the spreadsheet letter then the header as written
    valeur: str
    detail: str
    qui: str = ""  # the person: « DUPONT Marie · NIR 28505********** »


@dataclass
class RuleGroup:
    code: str
    titre: str
    gravite: str
    constats: int  # findings of this rule
    lignes: int  # distinct lines concerned
    premiere: int = 0  # first line concerned (ties are shown in file order)
    explication: str = ""  # what is wrong, when the same for every line
    correction: str = ""  # how to fix it, when the same for every line
    exemples: list[LineRow] = field(default_factory=list)
    autres: int = 0  # findings not listed
    detail_varie: bool = False  # the table needs a « Détail » column
    fichier_entier: bool = False  # about the file as a whole (no line to show)

    @property
    def bloquant(self) -> bool:
        return self.gravite == BLOCKING


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 ligne', '0 ligne', '1 234 lignes' (French: 0 and 1 take the singular)."""
    return f"{number_fr(n)} {one if abs(n) < 2 else (many or one + 's')}"


def column_label(finding: dict) -> str:
    """« E — Poste »: the column's spreadsheet letter and its header as written (the header alone when the
    letter is not known)."""
    header, letter = scrub(finding.get("colonne") or ""), finding.get("colonne_excel") or ""
    return f"{letter} — {header}" if letter and header else header


def person(finding: dict) -> str:
    """Whom a finding is about, as a person reads it: name, first name and masked NIR ('' when unknown)."""
    name = " ".join(scrub(finding.get(k) or "") for k in ("nom", "prenom")).strip()
    nir = finding.get("nir_masque") or ""
    if name and nir:
        return f"{name} · NIR {nir}"
    return name or (f"NIR {nir}" if nir else "")


@dataclass
class MemberGroup:
    """A payroll firm's findings for one of its clients (adherent '' : the file as a whole, or lines whose
    member is not recognised)."""

    adherent: str
    nom: str
    bloquants: list[RuleGroup]
    avertissements: list[RuleGroup]

    @property
    def titre(self) -> str:
        if not self.adherent:
            return "Tout le fichier, ou lignes dont l'adhérent n'est pas reconnu"
        return f"Adhérent {self.adherent}" + (f" — {self.nom}" if self.nom else "")


@dataclass
class Tally:
    """What all the findings of one rule add up to, in the whole file or for one client: an answer lists only
    the first of them."""

    constats: int
    lignes: int  # distinct lines (0: the file itself)
    premiere: int
    places: bool  # some finding names a column or a value
    explication: str | None  # what is wrong, when every finding says the same (None: it varies)
    correction: str | None  # how to fix it, likewise


class _Said:
    """What the findings of one rule say, told apart once two differ: a rule with a million distinct messages
    (a million quoted values) keeps two texts, not a million."""

    def __init__(self) -> None:
        self.detail: str | None = None
        self.fix: str | None = None
        self.details_vary = self.fixes_vary = False

    def add(self, detail: str, fix: str) -> None:
        if self.detail is None and not self.details_vary:
            self.detail, self.fix = detail, fix
            return
        if detail != self.detail:
            self.details_vary, self.detail = True, None
        self.add_fix(fix)

    def add_fix(self, fix: str) -> None:
        if fix != self.fix and not self.fixes_vary:
            self.fixes_vary, self.fix = True, None


_NOT_IN_PLAIN_FIX = re.compile(r"[0-9*{]")


def _plain_fix(code: str) -> str | None:
    """A rule's fix when it is a plain text (no parameter, no digit, no asterisk): masking, which only turns
    characters of runs of digits into asterisks, can neither touch it nor make it appear, so the fix `_split`
    finds in a message is known without masking it. None otherwise."""
    rule = catalogue().get(code)
    fix = rule.fix if rule else ""
    if not fix or _NOT_IN_PLAIN_FIX.search(fix) or fix[0] in "AaBb":
        return None
    return fix


def _said_by(messages: Iterable[tuple[str | None, str, str]]) -> dict[tuple, _Said]:
    """What the messages of each rule say, for each client (`adherent`: '' for the file or an unknown member)
    and over the whole file (None), from the distinct (adherent, code, message) of the findings. Once the
    details of a rule vary, only its fix is looked at: a million leavers of a full list are a million messages,
    each masked (9 µs) only until two differ."""
    said: dict[tuple, _Said] = {}
    plain: dict[str, str | None] = {}
    for adherent, code, message in messages:
        message = message or ""
        pair = []
        for key in ((adherent, code), (None, code)):
            s = said.get(key)
            if s is None:
                s = said[key] = _Said()
            pair.append(s)
        if pair[0].details_vary and pair[1].details_vary:
            fix = plain[code] if code in plain else plain.setdefault(code, _plain_fix(code))
            if fix is not None:
                fix = fix if message.endswith(fix) else ""
                pair[0].add_fix(fix)
                pair[1].add_fix(fix)
                continue
        detail, fix = _split(code, scrub(message))
        pair[0].add(detail, fix)
        pair[1].add(detail, fix)
    return said


@dataclass
class Tallies:
    by_code: dict[str, Tally]
    by_client: dict[tuple[str, str], Tally]  # (adhérent, '' for the file or an unknown member; code)
    _per_client: dict[str, dict[str, Tally]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, findings: list[dict]) -> Tallies:
        """The tallies of a complete list of findings (a dry run's, held in memory)."""
        acc: dict[tuple, list] = {}
        messages = set()
        for f in findings:
            line, places, adherent = int(f.get("ligne") or 0), bool(f.get("colonne") or f.get("valeur")), f.get("adherent") or ""
            messages.add((adherent, f["code"], f.get("message", "")))
            for key in ((None, f["code"]), (adherent, f["code"])):
                a = acc.get(key)
                if a is None:
                    a = acc[key] = [0, set(), False]
                a[0] += 1
                a[1].add(line)
                a[2] |= places
        said = _said_by(messages)
        return cls._split({k: Tally(n, len(lines), min(lines), places, said[k].detail, said[k].fix)
                           for k, (n, lines, places) in acc.items()})

    @classmethod
    def stored(cls, rows: list[dict], messages: Iterable[tuple[str, str, str]]) -> Tallies:
        """From the store's sums (ledger.finding_tallies: adherent None for the whole file) and the distinct
        messages of each rule and client (ledger.finding_messages, read as they come)."""
        said = _said_by(messages)
        return cls._split({(r["adherent"], r["code"]): Tally(int(r["constats"]), int(r["lignes"]), int(r["premiere"]),
                                                            bool(r["places"]), said[(r["adherent"], r["code"])].detail,
                                                            said[(r["adherent"], r["code"])].fix) for r in rows})

    @classmethod
    def _split(cls, by_key: dict[tuple, Tally]) -> Tallies:
        return cls({code: t for (a, code), t in by_key.items() if a is None},
                   {k: t for k, t in by_key.items() if k[0] is not None})

    def client(self, adherent: str) -> dict[str, Tally]:
        if self._per_client is None:  # once: a payroll firm may have thousands of clients
            self._per_client = {}
            for (a, code), t in self.by_client.items():
                self._per_client.setdefault(a, {})[code] = t
        return self._per_client.get(adherent, {})


def group_by_member(findings: list[dict], rows_per_rule: int = ROWS_PER_RULE, tallies: Tallies | None = None) -> list[MemberGroup]:
    """The findings of a payroll firm's file, client by client (by N° adhérent; the rest last), each grouped
    by rule like `group_findings`. `tallies`: of all the file's findings, when `findings` are only the first."""
    tallies = tallies or Tallies.of(findings)
    parts: dict[str, list[dict]] = {}
    names: dict[str, str] = {}
    for f in findings:
        a = f.get("adherent") or ""
        parts.setdefault(a, []).append(f)
        names.setdefault(a, f.get("raison_sociale") or "")
    out = []
    for a in sorted(parts, key=lambda a: (a == "", a)):
        groups = group_findings(parts[a], rows_per_rule, tallies.client(a))
        out.append(MemberGroup(a, scrub(names[a]), [g for g in groups if g.bloquant], [g for g in groups if not g.bloquant]))
    return out


def _split(code: str, message: str) -> tuple[str, str]:
    """(what is wrong, how to fix it) from a stored message, which is the rule's message then its fix."""
    rule = catalogue().get(code)
    fix = rule.fix if rule else ""
    if fix and "{" not in fix and message.endswith(fix):
        return message[: -len(fix)].strip(), fix
    return message, ""


def group_findings(findings: list[dict], rows_per_rule: int = ROWS_PER_RULE,
                   tallies: dict[str, Tally] | None = None) -> list[RuleGroup]:
    """The findings of a file → one group per rule, in reading order: its first `rows_per_rule` lines as
    examples, its counts from `tallies` (by code) when `findings` are only the first of each rule (an answer
    read back from the store), else from `findings`, all of them."""
    tallies = tallies if tallies is not None else Tallies.of(findings).by_code
    cat = catalogue()
    groups: dict[str, RuleGroup] = {}
    split: dict[tuple[str, str], tuple[str, str]] = {}  # (code, message) → (detail, fix): a message is split once

    def parts(code: str, message: str) -> tuple[str, str]:
        key = (code, message)
        if key not in split:
            split[key] = _split(code, scrub(message))
        return split[key]

    for f in findings:
        code = f["code"]
        g = groups.get(code)
        if g is None:
            rule = cat.get(code)
            g = groups[code] = RuleGroup(code, rule.title if rule else code, f.get("gravite") or (rule.severity if rule else ""), 0, 0)
        if len(g.exemples) < rows_per_rule:
            detail = parts(code, f.get("message", ""))[0]
            g.exemples.append(LineRow(int(f.get("ligne") or 0), column_label(f), scrub(f.get("valeur", "")), detail,
                                      person(f)))
    for code, g in groups.items():
        t = tallies[code]
        g.constats, g.lignes, g.premiere = t.constats, t.lignes, t.premiere
        g.autres = g.constats - len(g.exemples)
        if t.explication is not None:
            g.explication = t.explication
        else:
            g.detail_varie = True
        if t.correction is not None:
            g.correction = t.correction
        rule = cat.get(code)
        g.fichier_entier = bool(rule and rule.scope == "fichier" and not t.places and g.lignes == 1)
        if g.fichier_entier and g.detail_varie:  # e.g. several missing columns: one explanation each
            g.explication = ""
    return sorted(groups.values(), key=lambda g: (not g.bloquant, -g.lignes, -g.constats, g.premiere, g.code))


VERDICT_KIND = {
    "accepte": "ok", "accepte_partiellement": "partiel", "rejete": "refus", "en_attente": "attente", "deja_traite": "deja",
}
VERDICT_TITLE = {
    "accepte": "Fichier accepté",
    "accepte_partiellement": "Fichier accepté en partie",
    "rejete": "Fichier refusé",
    "en_attente": "Fichier mis en attente",
    "deja_traite": "Fichier déjà reçu",
}


def verdict_sentence(ack) -> str:
    """One sentence a person reads first: what happened to the file, with the numbers that matter."""
    n, ok, ko = ack.lignes, ack.lignes_acceptees, ack.lignes_rejetees
    if ack.statut == "accepte":
        if n == 1:
            return "Fichier accepté : la ligne a été prise en compte."
        return f"Fichier accepté : les {plural(n, 'ligne')} ont été prises en compte."
    if ack.statut == "accepte_partiellement":
        return (f"Fichier accepté en partie : {number_fr(ok)} {'ligne' if ok < 2 else 'lignes'} sur {number_fr(n)} "
                f"{'a été prise' if ok < 2 else 'ont été prises'} en compte, {plural(ko, 'ligne')} "
                f"{'refusée est' if ko < 2 else 'refusées sont'} à corriger.")
    if ack.statut == "rejete":
        if n == 0:
            return "Fichier refusé : il n'a pas pu être traité, rien n'a été pris en compte."
        if n == 1:
            return "Fichier refusé : sa ligne n'a pas été prise en compte."
        return f"Fichier refusé : aucune des {plural(n, 'ligne')} n'a été prise en compte."
    if ack.statut == "en_attente":
        return "Fichier mis en attente : il sera examiné par le service avant d'être pris en compte ; rien n'a encore été enregistré."
    if ack.statut == "deja_traite":
        first = (ack.traitement_initial or {}).get("traite_le")
        when = f" le {date_fr(first).split(' à ')[0]}" if first else ""
        return f"Fichier déjà reçu{when} : il n'a pas été appliqué une seconde fois."
    return ack.verdict
