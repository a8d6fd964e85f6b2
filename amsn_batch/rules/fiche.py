"""Checks of a member's administrative information file (fiche adhérent), pure: they take the read table and a
context of plain values (the sender, its own adhérents as the registry knows them, the day) and return the
findings and, per accepted line, what it changes. Nothing here reads the store or writes anything.

One row per piece of information, several on one row if wanted: the VAT number, the billing and e-invoicing
address, a change of situation with its date, a contact of one type (schemas/types_contact.toml), and a new
SIRET or company name, which is never applied from the file but passed to the billing team (a warning tells
the sender the service will contact them). A blank cell changes nothing. A file is small (a few lines per
member): the checks go row by row.

E-mail addresses are checked for their form only (no network): one address, a local part, a domain of
labels separated by dots ending with a top-level domain of letters. Phones are French numbers: 10 digits
starting with 0, or +33 / 0033 then 9 digits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from stdnum.eu import vat as eu_vat
from stdnum.fr import siren as fr_siren
from stdnum.fr import tva as fr_tva

from ..read.headers import map_headers
from ..read.table import Table
from ..vocab import load_toml, normalize, vocabulary
from .catalogue import Findings
from .cells import hostile_cells
from .employees import Sender
from .identifiers import siret_valid
from .values import lookup, parse_date

VOCABULARY = "fiche"
CONTACT_FIELDS = ("type_contact", "nom", "prenom", "email", "telephone")
REQUESTS = {"siret": "SIRET", "raison_sociale": "raison sociale"}  # handled by the billing team, in French
FUTURE_DAYS = 366  # a situation may be announced up to a year ahead


@dataclass(frozen=True)
class MemberInfo:
    """An adhérent of the sender as the registry knows it."""

    numero: str
    raison_sociale: str
    tva: str
    sirets: tuple[str, ...]

    @property
    def sirens(self) -> set[str]:
        return {s[:9] for s in self.sirets}


@dataclass
class FicheContext:
    sender: Sender
    members: dict[str, MemberInfo]  # the sender's own adhérents only (never another member's)
    today: dt.date
    max_cell_chars: int = 2000


@dataclass(frozen=True)
class Contact:
    type: str  # types_contact.toml code
    nom: str
    prenom: str
    email: str
    telephone: str  # formatted « 02 76 08 12 23 », '' when not given


@dataclass
class Change:
    """What one accepted line changes (None: not given)."""

    line: int
    adherent: str
    tva: str | None = None
    email_facturation: str | None = None
    situation: str | None = None  # statuts.toml code
    situation_date: str | None = None  # ISO day
    contact: Contact | None = None
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (champ, actuel, demande)


@dataclass
class FicheCheck:
    findings: Findings
    columns: dict[str, str]  # field key → header found
    details: dict
    rows: int = 0
    accepted: int = 0
    changes: list[Change] = field(default_factory=list)


def contact_types() -> dict[str, str]:
    """Code → label of the contact types the service offers (schemas/types_contact.toml)."""
    return {code: spec["libelle"] for code, spec in load_toml("types_contact.toml").items()}


def situations() -> dict[str, str]:
    """Code → label of the situations of a member company (schemas/statuts.toml)."""
    return {code: spec["libelle"] for code, spec in load_toml("statuts.toml").items()}


# --- single values ----------------------------------------------------------------------------------

_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"[A-Za-z]{2,63}")


def email_problem(text: str) -> str | None:
    """Why `text` is not one e-mail address (French, for the message), or None when its form is right."""
    t = text.strip()
    if any(c in t for c in " ;,\t"):
        return "une seule adresse, sans espace ni séparateur ( ; ou , )"
    if t.count("@") != 1:
        return "il faut un seul @ entre le nom et le domaine" if t.count("@") else "il manque le @"
    local, domain = t.split("@")
    if not local:
        return "rien avant le @"
    if len(t) > 254 or len(local) > 64:
        return "elle est trop longue"
    if not _LOCAL.fullmatch(local):
        return f"la partie avant le @ (« {local} ») contient un caractère non permis ou un point mal placé"
    labels = domain.split(".")
    if len(labels) < 2:
        return f"le domaine « {domain} » n'a pas d'extension (.fr, .com…)" if domain else "rien après le @"
    if not all(_LABEL.fullmatch(label) for label in labels[:-1]) or not _TLD.fullmatch(labels[-1]):
        return f"le domaine « {domain} » est mal formé"
    return None


_PHONE_NOISE = re.compile(r"[\s.\-/()\u00a0\u202f]")


def phone_number(text: str) -> str | None:
    """A French phone number formatted « 02 76 08 12 23 », or None when it is not one."""
    t = text.strip().replace("(0)", "")
    t = _PHONE_NOISE.sub("", t)
    if t.startswith("+33"):
        t = "0" + t[3:]
    elif t.startswith("0033"):
        t = "0" + t[4:]
    if not re.fullmatch(r"0[1-9][0-9]{8}", t):
        return None
    return " ".join(t[i:i + 2] for i in range(0, 10, 2))


def vat_problem(text: str, member: MemberInfo) -> tuple[str, dict] | None:
    """(code, params) of what is wrong with a VAT number for this member, or None."""
    compact = eu_vat.compact(text)
    if not compact.startswith("FR"):
        if eu_vat.is_valid(compact):
            return "FICHE_TVA_INVALIDE", {"detail": "c'est un numéro d'un autre pays, pas un numéro français"}
        return "FICHE_TVA_INVALIDE", {"detail": "il doit commencer par FR"}
    body = compact[2:]
    if not re.fullmatch(r"[0-9A-HJ-NP-Z]{2}[0-9]{9}", body):
        return "FICHE_TVA_INVALIDE", {"detail": "il s'écrit FR, 2 caractères de clé et les 9 chiffres du SIREN"}
    siren = body[2:]
    if not fr_siren.is_valid(siren):
        return "FICHE_TVA_INVALIDE", {"detail": f"le SIREN qu'il contient ({siren}) n'existe pas"}
    if not fr_tva.is_valid(compact):
        return "FICHE_TVA_INVALIDE", {"detail": "la clé (les 2 caractères après FR) ne correspond pas au SIREN"}
    if member.sirens and siren not in member.sirens:
        return "FICHE_TVA_AUTRE_SIREN", {"siren_tva": siren, "siren": ", ".join(sorted(member.sirens)),
                                         "adherent": member.numero}
    return None


# --- the file ---------------------------------------------------------------------------------------


def check(table: Table, ctx: FicheContext) -> FicheCheck:
    """Check a fiche adhérent file read as `table`."""
    f = Findings()
    vocab = vocabulary(VOCABULARY)
    headers = map_headers(table.headers, vocab)
    cols = headers.columns
    details = {"genre": "fiche_adherent", "format": table.format, "ligne_entetes": table.header_line,
               "colonnes": table.headers, **table.details}
    f.add_headers(headers, vocab)
    n = len(table)
    if n == 0:
        f.add_file("FICHIER_VIDE")
        return FicheCheck(f, cols, details)

    def cells(key: str) -> list[str]:
        if key not in cols:
            return [""] * n
        return [("" if v is None else str(v)).strip() for v in table.frame[cols[key]].tolist()]

    def label(key: str) -> str:
        return vocab.field(key).label

    values = {k: cells(k) for k in vocab.lookup.values()}
    lines = table.lines

    # Whose rows: the sender's own adhérents only; anything else refuses the file, and nothing more is said.
    sender = ctx.sender
    numero = [v or (sender.code if sender.kind == "adherent" else "") for v in values["numero"]]
    blank = [p for p in range(n) if not numero[p]]
    f.add_rows("CHAMP_OBLIGATOIRE", blank, "numero", "", colonne=label("numero"), contexte="chaque ligne d'un mandataire")
    foreign = [p for p in range(n) if numero[p] and numero[p] not in ctx.members]
    code = "FICHE_MANDAT_ABSENT" if sender.kind == "mandataire" else "FICHE_AUTRE_ADHERENT"
    f.add_rows(code, foreign, "numero", [numero[p] for p in foreign], valeur=[numero[p] for p in foreign],
               expediteur=sender.code)
    if f.file_refused():
        return FicheCheck(f, cols, details, n)
    if table.overflow.any():
        f.add_rows("LIGNE_CHAMPS_EN_TROP", np.flatnonzero(table.overflow), None)
    hostile_cells(table, f, ctx.max_cell_chars)

    types = contact_types()
    type_codes = lookup(table.frame[cols["type_contact"]] if "type_contact" in cols else _blank(n), "types_contact.toml")[0]
    situation_codes = lookup(table.frame[cols["situation"]] if "situation" in cols else _blank(n), "statuts.toml")[0]
    changes = [Change(int(lines[p]), numero[p]) for p in range(n)]
    for p in range(n):
        member = ctx.members.get(numero[p])
        if member is None:
            continue
        _check_row(f, p, values, changes[p], member, str(type_codes[p]), str(situation_codes[p]), ctx.today, label)

    _across_rows(f, values, changes, numero, types, label)
    blocked = set(f.blocked_positions().tolist())
    _vat_required(f, values, numero, ctx.members, blocked)
    blocked = set(f.blocked_positions().tolist())
    accepted = [changes[p] for p in range(n) if p not in blocked and numero[p] in ctx.members]
    for p in range(n):
        if p in blocked:
            continue
        for key, current, asked in changes[p].requests:
            f.add_rows("FICHE_DEMANDE_TRANSMISE", [p], key, asked, valeur=asked, quoi=REQUESTS[key])
    details["adherents"] = sorted({c.adherent for c in accepted})
    return FicheCheck(f, cols, details, n, len(accepted), accepted)


def _blank(n: int) -> pd.Series:
    return pd.Series([""] * n, dtype="str")


def _check_row(f: Findings, p: int, values: dict[str, list[str]], change: Change, member: MemberInfo,
               type_code: str, situation_code: str, today: dt.date, label) -> None:
    """The cells of one row, each checked and, when right, put into its Change."""
    tva = values["tva"][p]
    if tva:
        problem = vat_problem(tva, member)
        if problem:
            f.add_rows(problem[0], [p], "tva", tva, valeur=tva, **problem[1])
        else:
            change.tva = eu_vat.compact(tva)
    billing = values["email_facturation"][p]
    if billing:
        why = email_problem(billing)
        if why:
            f.add_rows("FICHE_EMAIL_INVALIDE", [p], "email_facturation", billing, valeur=billing, detail=why)
        else:
            change.email_facturation = billing.lower()

    situation, day = values["situation"][p], values["date_situation"][p]
    if situation and not situation_code:
        f.add_rows("FICHE_SITUATION_INCONNUE", [p], "situation", situation, valeur=situation,
                   liste=", ".join(situations().values()))
    parsed = parse_date(day, today) if day else None
    if day and parsed is None:
        f.add_rows("DATE_INVALIDE", [p], "date_situation", day, valeur=day)
    elif parsed is not None and (parsed - today).days > FUTURE_DAYS:
        f.add_rows("FICHE_DATE_SITUATION_LOINTAINE", [p], "date_situation", day, valeur=parsed.strftime("%d/%m/%Y"))
    elif situation and not day:
        f.add_rows("FICHE_SITUATION_INCOMPLETE", [p], "date_situation", "", colonne=label("date_situation"))
    elif day and not situation:
        f.add_rows("FICHE_SITUATION_INCOMPLETE", [p], "situation", "", colonne=label("situation"))
    elif situation_code and parsed is not None:
        change.situation, change.situation_date = situation_code, parsed.isoformat()

    given = {k: values[k][p] for k in CONTACT_FIELDS}
    if any(given.values()):
        ok = True
        for key, context in (("type_contact", "un contact"), ("nom", "un contact"), ("email", "un contact")):
            if not given[key]:
                f.add_rows("CHAMP_OBLIGATOIRE", [p], key, "", colonne=label(key), contexte=context)
                ok = False
        if given["type_contact"] and not type_code:
            f.add_rows("FICHE_TYPE_CONTACT_INCONNU", [p], "type_contact", given["type_contact"],
                       valeur=given["type_contact"], liste=", ".join(contact_types().values()))
            ok = False
        if given["email"]:
            why = email_problem(given["email"])
            if why:
                f.add_rows("FICHE_EMAIL_INVALIDE", [p], "email", given["email"], valeur=given["email"], detail=why)
                ok = False
        phone = ""
        if given["telephone"]:
            phone = phone_number(given["telephone"]) or ""
            if not phone:
                f.add_rows("FICHE_TELEPHONE_INVALIDE", [p], "telephone", given["telephone"], valeur=given["telephone"],
                           detail="10 chiffres commençant par 0, ou +33 suivi de 9 chiffres")
                ok = False
        if ok:
            change.contact = Contact(type_code, given["nom"], given["prenom"], given["email"].lower(), phone)

    siret = re.sub(r"\s", "", values["siret"][p])
    if siret:
        if not siret_valid(siret):
            f.add_rows("FICHE_SIRET_INVALIDE", [p], "siret", values["siret"][p], valeur=values["siret"][p])
        elif siret not in member.sirets:
            change.requests.append(("siret", ", ".join(member.sirets), siret))
    name = values["raison_sociale"][p]
    if name and normalize(name) != normalize(member.raison_sociale):
        change.requests.append(("raison_sociale", member.raison_sociale, name))


def _member_values(change: Change) -> dict[str, object]:
    """The member-level values a line brings, as checked (only the right ones are compared across lines)."""
    out: dict[str, object] = {"tva": change.tva, "email_facturation": change.email_facturation,
                              "situation": (change.situation, change.situation_date) if change.situation else None}
    out.update({key: asked for key, _, asked in change.requests})
    return {k: v for k, v in out.items() if v is not None}


def _across_rows(f: Findings, values: dict[str, list[str]], changes: list[Change], numero: list[str],
                 types: dict[str, str], label) -> None:
    """One value per member for its own fields, one contact per type."""
    first: dict[tuple[str, str], tuple[int, object, str]] = {}  # (adhérent, field) → (line, value, as written)
    for p, change in enumerate(changes):
        for key, value in _member_values(change).items():
            seen = first.setdefault((numero[p], key), (change.line, value, values[key][p]))
            if seen[1] != value:
                f.add_rows("FICHE_VALEUR_CONTRADICTOIRE", [p], key, values[key][p], adherent=numero[p],
                           colonne=label(key), valeur=values[key][p], autre=seen[2], premiere=seen[0])
        if change.contact is not None:
            seen = first.setdefault((numero[p], f"contact:{change.contact.type}"), (change.line, None, ""))
            if seen[0] != change.line:
                f.add_rows("FICHE_CONTACT_EN_DOUBLE", [p], "type_contact", values["type_contact"][p],
                           adherent=numero[p], valeur=types[change.contact.type], premiere=seen[0])


def _vat_required(f: Findings, values: dict[str, list[str]], numero: list[str], members: dict[str, MemberInfo],
                  blocked: set[int]) -> None:
    """The VAT number is mandatory: a member the service knows none for must give a right one in the file."""
    for adherent in sorted(set(numero) & set(members)):
        if members[adherent].tva:
            continue
        mine = [p for p in range(len(numero)) if numero[p] == adherent]
        if any(values["tva"][p] and p not in blocked for p in mine):
            continue
        f.add_rows("FICHE_TVA_MANQUANTE", [p for p in mine if not values["tva"][p]], "tva", "", adherent=adherent)
