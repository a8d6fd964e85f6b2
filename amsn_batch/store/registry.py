"""The member registry in the store: adhérents, their establishments, mandataires and mandates, and the
history of every change an import made (registre_historique)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from ..rules.catalogue import Members
from ..rules.employees import Sender
from .db import records, transaction

ADHERENT_FIELDS = ("raison_sociale", "tva", "email_facturation", "centre", "statut")
MEMBER_DECLARED = ("tva", "email_facturation")  # fields a member's fiche may change too (its situation: see _upsert)
FICHE_SOURCE = "fiche adhérent"  # the source of the history rows a member's fiche writes


@dataclass
class Establishment:
    """An establishment of an adhérent: as the registry file gives it (empty fields as None, `adherent` left
    empty: the member holds it), or as read back (`establishment_list`: empty fields as '')."""

    siret: str
    adresse: str | None = None
    code_postal: str | None = None
    ville: str | None = None
    adherent: str = ""


@dataclass
class Member:
    """An adhérent: as the registry file gives it (empty fields as None), with its establishments; or as read back
    (`members`, `member`: empty fields as '', establishments not loaded)."""

    numero: str
    raison_sociale: str | None = None
    tva: str | None = None
    email_facturation: str | None = None
    centre: str | None = None
    statut: str | None = None
    establishments: list[Establishment] = field(default_factory=list)
    statut_depuis: str = ""  # ISO day the situation took effect (a member's fiche); '' when the registry gave it undated


@dataclass
class Mandate:
    mandataire: str
    adherent: str
    nom_mandataire: str | None = None


@dataclass(frozen=True)
class Kept:
    """A value a member declared (its fiche) that a registry import left in place: the registry still gives the
    value it gave before the member's change."""

    adherent: str
    champ: str
    valeur: str  # the member's, kept
    registre: str  # what the registry still says


@dataclass
class SenderInfo:
    """Who a sender is, for the contacts of an acknowledgement."""

    name: str
    mandataire: bool
    members: list[str]  # the adhérent itself, or the mandataire's adhérents


def find_sender(conn: sqlite3.Connection, code: str) -> Sender | None:
    """The sender of a drop folder: an adhérent, or a mandataire with the adhérents it acts for."""
    if conn.execute("SELECT 1 FROM adherents WHERE numero=?", (code,)).fetchone():
        return Sender(code, "adherent", frozenset({code}))
    if conn.execute("SELECT 1 FROM mandataires WHERE code=?", (code,)).fetchone():
        return Sender(code, "mandataire", frozenset(_mandated(conn, code)))
    return None


def _mandated(conn: sqlite3.Connection, code: str) -> list[str]:
    return [r["adherent"] for r in records(conn, "SELECT adherent FROM mandats WHERE mandataire=? ORDER BY adherent", (code,))]


def establishments(conn: sqlite3.Connection) -> dict[str, str]:
    """SIRET → N° adhérent."""
    return {r["siret"]: r["adherent"] for r in records(conn, "SELECT siret, adherent FROM etablissements")}


def member_statuses(conn: sqlite3.Connection) -> dict[str, str]:
    """N° adhérent → status (statuts.toml code)."""
    return {r["numero"]: r["statut"] for r in records(conn, "SELECT numero, statut FROM adherents")}


def member_numbers(conn: sqlite3.Connection) -> set[str]:
    return {r["numero"] for r in records(conn, "SELECT numero FROM adherents")}


def known_sender_codes(conn: sqlite3.Connection) -> set[str]:
    """Every code that may have a drop folder: adhérents and mandataires."""
    return {r["code"] for r in records(conn, "SELECT numero AS code FROM adherents UNION SELECT code FROM mandataires")}


def sender_names(conn: sqlite3.Connection) -> dict[str, str]:
    """Code → name of every sender (a mandataire without a name is « Mandataire »)."""
    names = {r["code"]: r["nom"] or "Mandataire" for r in records(conn, "SELECT code, nom FROM mandataires")}
    names.update({r["numero"]: r["raison_sociale"] or "" for r in records(conn, "SELECT numero, raison_sociale FROM adherents")})
    return names


_MEMBER_COLUMNS = "numero, " + ", ".join(f"COALESCE({f}, '') AS {f}" for f in (*ADHERENT_FIELDS, "statut_depuis"))


def members(conn: sqlite3.Connection, numbers: list[str] | None = None) -> list[Member]:
    """Adhérents (all, or these), in number order; missing fields as ''."""
    where, params = "", ()
    if numbers is not None:
        if not numbers:
            return []
        where, params = f"WHERE numero IN ({','.join('?' * len(numbers))})", tuple(numbers)
    return [Member(**r) for r in records(conn, f"SELECT {_MEMBER_COLUMNS} FROM adherents {where} ORDER BY numero", params)]


def member(conn: sqlite3.Connection, numero: str) -> Member | None:
    found = members(conn, [numero])
    return found[0] if found else None


def establishment_list(conn: sqlite3.Connection, adherent: str | None = None) -> list[Establishment]:
    """The establishments (of one adhérent), by SIRET; missing fields as ''."""
    where, params = ("WHERE adherent=? ", (adherent,)) if adherent else ("", ())
    return [Establishment(**r) for r in records(
        conn, "SELECT siret, COALESCE(adresse, '') AS adresse, COALESCE(code_postal, '') AS code_postal, "
              f"COALESCE(ville, '') AS ville, adherent FROM etablissements {where}ORDER BY siret", params)]


def mandataires_by_member(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """N° adhérent → the mandataires acting for it."""
    out: dict[str, list[str]] = {}
    for r in records(conn, "SELECT mandataire, adherent FROM mandats"):
        out.setdefault(r["adherent"], []).append(r["mandataire"])
    return out


def sender_members(conn: sqlite3.Connection, sender: Sender, known: dict[str, str] | None = None) -> Members:
    """Whose the lines of a sender's file are, to name them in its acknowledgement: the sender's own adhérents
    (never another member's), by their establishments' SIRET, with their names, and the sender's number when it
    is an adhérent. `known`: the establishments (SIRET → N° adhérent) when the caller already has them."""
    own = sender.adherents
    names = {m.numero: m.raison_sociale or "" for m in members(conn, sorted(own))}
    sirets = establishments(conn) if known is None else known
    return Members({s: a for s, a in sirets.items() if a in own}, names, sender.code if sender.kind == "adherent" else "")


def sender_groups(conn: sqlite3.Connection) -> dict[str, str]:
    """Senders whose files must be applied in the order received, across parallel workers: an adhérent and every
    mandataire holding a mandate for it, and through a mandataire every other adhérent it acts for (the connected
    groups of the mandates). Code → the group's smallest code, for the codes of a mandate; any other sender is
    alone in its group."""
    parent: dict[str, str] = {}

    def root(code: str) -> str:
        while parent.setdefault(code, code) != code:
            parent[code] = parent[parent[code]]
            code = parent[code]
        return code

    for r in records(conn, "SELECT mandataire, adherent FROM mandats"):
        a, b = root(r["mandataire"]), root(r["adherent"])
        if a != b:
            parent[max(a, b)] = min(a, b)  # the smallest code of a group stays its root
    return {code: root(code) for code in parent}


def sender_info(conn: sqlite3.Connection, code: str) -> SenderInfo:
    row = records(conn, "SELECT raison_sociale FROM adherents WHERE numero=?", (code,))
    if row:
        return SenderInfo(row[0]["raison_sociale"] or "", False, [code])
    m = records(conn, "SELECT nom FROM mandataires WHERE code=?", (code,))
    return SenderInfo((m[0]["nom"] or "") if m else "", bool(m), _mandated(conn, code))


# --- the registry import ---------------------------------------------------------------------------


def apply_registry(conn: sqlite3.Connection, members_: list[Member], mandates: list[Mandate] | None, now: str,
                   source: str) -> tuple[dict[str, int], list[Kept]]:
    """Add or update the adhérents and establishments (and, when given, make the mandates exactly these), all
    in one transaction, each change recorded in registre_historique. Returns the counts of what changed, and
    the values members declared that the import left in place (see _declared)."""
    counts = {"adherents": 0, "etablissements": 0, "mandats": 0, "modifications": 0, "mandats_retires": 0}
    kept: list[Kept] = []
    with transaction(conn):
        for m in members_:
            row = {k: getattr(m, k) for k in ADHERENT_FIELDS}
            given = {k: row[k] for k in MEMBER_DECLARED}
            kept += _declared(conn, m.numero, row)
            _upsert(conn, "adherents", "numero", m.numero, row, "adherent", source, now, counts)
            for champ, valeur in given.items():
                conn.execute("INSERT INTO registre_valeurs (adherent, champ, valeur) VALUES (?,?,?) ON CONFLICT "
                             "(adherent, champ) DO UPDATE SET valeur = excluded.valeur", (m.numero, champ, valeur))
            for e in m.establishments:
                _upsert(conn, "etablissements", "siret", e.siret,
                        {"adherent": m.numero, "adresse": e.adresse, "code_postal": e.code_postal, "ville": e.ville},
                        "etablissement", source, now, counts)
        if mandates is not None:
            _apply_mandates(conn, mandates, now, source, counts)
    return counts, kept


def _declared(conn, numero: str, row: dict) -> list[Kept]:
    """A three-way merge of the fields a member may change itself: where the registry gives the same value as
    at its previous import while the member has changed it since (its fiche), the member's newer value stays
    (`row` is changed to it) and is reported; a value the registry changed (the staff edited it) applies.
    Without a previous import on record (a store older than registre_valeurs), the registry's previous value
    is taken to be the one the member's last change replaced."""
    current = records(conn, f"SELECT {', '.join(MEMBER_DECLARED)} FROM adherents WHERE numero=?", (numero,))
    if not current:
        return []
    before = {r["champ"]: r["valeur"] or "" for r in records(
        conn, "SELECT champ, valeur FROM registre_valeurs WHERE adherent=?", (numero,))}
    kept = []
    for champ in MEMBER_DECLARED:
        given, held = row[champ] or "", current[0][champ] or ""
        if given == held:
            continue
        previous = before[champ] if champ in before else _replaced_by_member(conn, numero, champ)
        if previous is not None and given == previous:
            row[champ] = current[0][champ]
            kept.append(Kept(numero, champ, held, given))
    return kept


def _replaced_by_member(conn, numero: str, champ: str) -> str | None:
    """The value a member's fiche replaced, when the field's last change came from one; None otherwise."""
    last = records(conn, "SELECT avant, COALESCE(source, '') AS source FROM registre_historique WHERE objet='adherent' "
                         "AND cle=? AND champ=? ORDER BY id DESC LIMIT 1", (numero, champ))
    if last and last[0]["source"].startswith(FICHE_SOURCE):
        return last[0]["avant"] or ""
    return None


def _history(conn, objet: str, cle: str, field_: str, before, after, source: str, now: str) -> None:
    conn.execute(
        "INSERT INTO registre_historique (objet, cle, champ, avant, apres, source, le) VALUES (?,?,?,?,?,?,?)",
        (objet, cle, field_, before, after, source, now),
    )


def _upsert(conn, table: str, key_col: str, key: str, row: dict, objet: str, source: str, now: str, counts: dict) -> None:
    current = records(conn, f"SELECT * FROM {table} WHERE {key_col}=?", (key,))
    if not current:
        cols = [key_col, *row, "maj_le"]
        conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", (key, *row.values(), now))
        _history(conn, objet, key, "*", None, "création", source, now)
        counts[table] += 1
        return
    old = current[0]
    changes = {k: v for k, v in row.items() if (old.get(k) or "") != (v or "")}
    if "statut" in changes and old.get("statut_depuis"):  # staff set the situation: a member's dated one is over
        changes["statut_depuis"] = None
    if changes:
        sets = ", ".join(f"{k}=?" for k in changes)
        conn.execute(f"UPDATE {table} SET {sets}, maj_le=? WHERE {key_col}=?", (*changes.values(), now, key))
        for k, v in changes.items():
            _history(conn, objet, key, k, old.get(k), v, source, now)
        counts["modifications"] += 1


def _apply_mandates(conn, mandates: list[Mandate], now: str, source: str, counts: dict) -> None:
    wanted = set()
    for m in mandates:
        if conn.execute("SELECT 1 FROM mandataires WHERE code=?", (m.mandataire,)).fetchone() is None:
            conn.execute("INSERT INTO mandataires (code, nom, maj_le) VALUES (?,?,?)", (m.mandataire, m.nom_mandataire, now))
            _history(conn, "mandataire", m.mandataire, "*", None, "création", source, now)
        elif m.nom_mandataire:
            conn.execute("UPDATE mandataires SET nom=? WHERE code=?", (m.nom_mandataire, m.mandataire))
        wanted.add((m.mandataire, m.adherent))
    current = {(r["mandataire"], r["adherent"]) for r in records(conn, "SELECT mandataire, adherent FROM mandats")}
    for code, numero in sorted(wanted - current):
        conn.execute("INSERT INTO mandats (mandataire, adherent, depuis) VALUES (?,?,?)", (code, numero, now))
        _history(conn, "mandat", f"{code}/{numero}", "*", None, "création", source, now)
        counts["mandats"] += 1
    for code, numero in sorted(current - wanted):
        conn.execute("DELETE FROM mandats WHERE mandataire=? AND adherent=?", (code, numero))
        _history(conn, "mandat", f"{code}/{numero}", "*", "actif", "retiré", source, now)
        counts["mandats_retires"] += 1
