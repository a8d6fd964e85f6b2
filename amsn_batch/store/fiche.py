"""The member's administrative information in the store: a fiche adhérent file recorded in one transaction
(ledger entry, findings, then each accepted line applied with its history in registre_historique), the
member's contacts by type with their versions, and the billing team's queue (demandes_facturation) of what a
member asked that staff apply by hand (a new SIRET, a new company name).

`contacts(conn, adherent, types=None)` is what other parts read (e-mail notices): the member's current
contacts and its billing address."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from ..rules.fiche import Change, Contact
from . import ledger
from .db import records, transaction
from .registry import FICHE_SOURCE as SOURCE
from .registry import _history as history  # one history table for every change of the registry



@dataclass(frozen=True)
class MemberContact(Contact):
    """A member's contact as the store holds it (telephone formatted, '' when not given)."""

    depuis: str  # ISO timestamp it was recorded


@dataclass
class MemberContacts:
    """A member's current contacts (by type, in type order) and its billing and e-invoicing address."""

    adherent: str
    email_facturation: str
    contacts: list[MemberContact] = field(default_factory=list)

    def of_type(self, type_: str) -> MemberContact | None:
        return next((c for c in self.contacts if c.type == type_), None)


def contacts(conn: sqlite3.Connection, adherent: str, types: list[str] | tuple[str, ...] | None = None) -> MemberContacts | None:
    """The member's current contacts (all, or of these types: codes of schemas/types_contact.toml) and its
    billing e-mail ('' when unknown); None for an unknown member."""
    found = records(conn, "SELECT COALESCE(email_facturation, '') AS email FROM adherents WHERE numero=?", (adherent,))
    if not found:
        return None
    where, params = "", (adherent,)
    if types is not None:
        if not types:
            return MemberContacts(adherent, found[0]["email"])
        where, params = f" AND type IN ({','.join('?' * len(types))})", (adherent, *types)
    rows = records(conn, "SELECT type, nom, COALESCE(prenom, '') AS prenom, COALESCE(email, '') AS email, "
                         "COALESCE(telephone, '') AS telephone, depuis FROM contacts "
                         f"WHERE adherent=? AND jusqu_au IS NULL{where} ORDER BY type", params)
    return MemberContacts(adherent, found[0]["email"], [MemberContact(**r) for r in rows])


@dataclass(frozen=True)
class BillingRequest:
    """A request of the billing team's queue."""

    id: int
    adherent: str
    raison_sociale: str
    champ: str  # siret | raison_sociale
    actuel: str
    demande: str
    expediteur: str
    fichier: str  # the file's name
    ligne: int
    recue_le: str


def pending_requests(conn: sqlite3.Connection, request_id: int | None = None) -> list[BillingRequest]:
    """The requests the billing team has not dealt with yet, oldest first (only request `request_id`, if it waits)."""
    return [BillingRequest(**r) for r in records(
        conn, "SELECT d.id, d.adherent, COALESCE(a.raison_sociale, '') AS raison_sociale, d.champ, "
              "COALESCE(d.actuel, '') AS actuel, d.demande, d.expediteur, f.nom AS fichier, COALESCE(d.ligne, 0) AS ligne, "
              "d.recue_le FROM demandes_facturation d JOIN fichiers f ON f.id=d.fichier_id "
              "LEFT JOIN adherents a ON a.numero=d.adherent WHERE d.traitee_le IS NULL"
              + ("" if request_id is None else " AND d.id = ?") + " ORDER BY d.recue_le, d.id",
        () if request_id is None else (request_id,))]


def close_request(conn: sqlite3.Connection, request_id: int, when: str) -> BillingRequest | None:
    """Mark a request of the billing team's queue as dealt with (`when`, ISO timestamp): it leaves the queue.
    Returns it, or None when no request of that number is waiting (unknown, or already dealt with)."""
    waiting = pending_requests(conn, request_id)
    if not waiting:
        return None
    with transaction(conn):
        conn.execute("UPDATE demandes_facturation SET traitee_le=? WHERE id=? AND traitee_le IS NULL", (when, request_id))
    return waiting[0]


@dataclass(frozen=True)
class SituationChange:
    """A change of a member's situation, from the registry history."""

    adherent: str
    raison_sociale: str
    avant: str
    apres: str  # statuts.toml code
    depuis: str  # ISO day it takes effect ('' when not dated)
    le: str  # ISO timestamp it was recorded
    source: str


def situation_changes(conn: sqlite3.Connection, since: str, until: str) -> list[SituationChange]:
    """The changes of situation recorded from `since` to before `until` (ISO timestamps), oldest first."""
    return [SituationChange(**r) for r in records(
        conn, "SELECT h.cle AS adherent, COALESCE(a.raison_sociale, '') AS raison_sociale, COALESCE(h.avant, '') AS avant, "
              "COALESCE(h.apres, '') AS apres, COALESCE((SELECT d.apres FROM registre_historique d WHERE d.objet='adherent' "
              "AND d.cle=h.cle AND d.champ='statut_depuis' AND d.le=h.le ORDER BY d.id DESC LIMIT 1), '') AS depuis, "
              "h.le, COALESCE(h.source, '') AS source FROM registre_historique h LEFT JOIN adherents a ON a.numero=h.cle "
              "WHERE h.objet='adherent' AND h.champ='statut' AND h.le>=? AND h.le<? ORDER BY h.le, h.id", (since, until))]


def record_fiche(conn: sqlite3.Connection, checked, now: str) -> tuple[int, dict[str, int]]:
    """Record a checked fiche adhérent file (kinds.fiche.CheckedFiche) in one transaction: its ledger entry and
    findings, then each accepted line's changes with their history, and its requests in the billing team's
    queue. Returns (file id, counts of what changed)."""
    rec = checked.record
    counts = {"modifications": 0, "contacts": 0, "situations": 0, "demandes": 0}
    with transaction(conn):
        file_id = ledger.insert_entry(conn, rec, "applique")
        ledger.insert_findings(conn, file_id, checked.findings)
        source = f"{SOURCE} {rec.name} (expéditeur {rec.sender})"
        for change in checked.changes:
            _apply(conn, change, file_id, source, now, rec.sender, counts)
        # The acknowledgement counts what changed as modifications (nothing enters or leaves).
        ledger.set_movement_counts(conn, file_id, {"entree": 0, "sortie": 0, "modification": counts["modifications"]
                                                   + counts["contacts"] + counts["situations"]})
    return file_id, counts


def _apply(conn, change: Change, file_id: int, source: str, now: str, sender: str, counts: dict[str, int]) -> None:
    member = records(conn, "SELECT tva, email_facturation, statut, statut_depuis FROM adherents WHERE numero=?",
                     (change.adherent,))[0]
    updates = {}
    if change.tva is not None:
        updates["tva"] = change.tva
    if change.email_facturation is not None:
        updates["email_facturation"] = change.email_facturation
    if change.situation is not None:
        updates["statut"] = change.situation
        updates["statut_depuis"] = change.situation_date
    updates = {k: v for k, v in updates.items() if (member[k] or "") != (v or "")}
    if updates:
        sets = ", ".join(f"{k}=?" for k in updates)
        conn.execute(f"UPDATE adherents SET {sets}, maj_le=? WHERE numero=?", (*updates.values(), now, change.adherent))
        for k, v in updates.items():
            history(conn, "adherent", change.adherent, k, member[k], v, source, now)
        counts["situations"] += "statut" in updates
        counts["modifications"] += len(updates.keys() - {"statut", "statut_depuis"})
    if change.contact is not None and _set_contact(conn, change.adherent, change.contact, file_id, change.line, source, now):
        counts["contacts"] += 1
    for champ, actuel, demande in change.requests:
        conn.execute("INSERT INTO demandes_facturation (adherent, champ, actuel, demande, expediteur, fichier_id, ligne, "
                     "recue_le) VALUES (?,?,?,?,?,?,?,?)",
                     (change.adherent, champ, actuel, demande, sender, file_id, change.line, now))
        counts["demandes"] += 1


def _describe(c: dict | Contact) -> str:
    get = c.get if isinstance(c, dict) else lambda k: getattr(c, k)
    who = " ".join(x for x in (get("prenom"), get("nom")) if x)
    extra = " ".join(f"<{x}>" if "@" in x else x for x in (get("email"), get("telephone")) if x)
    return f"{who} {extra}".strip()


def _set_contact(conn, adherent: str, contact: Contact, file_id: int, line: int, source: str, now: str) -> bool:
    """Make `contact` the member's current one of its type (the previous one closed); False when unchanged."""
    current = records(conn, "SELECT id, nom, COALESCE(prenom, '') AS prenom, COALESCE(email, '') AS email, "
                            "COALESCE(telephone, '') AS telephone FROM contacts WHERE adherent=? AND type=? AND jusqu_au IS NULL",
                      (adherent, contact.type))
    before = current[0] if current else None
    if before and (before["nom"], before["prenom"], before["email"], before["telephone"]) == (
            contact.nom, contact.prenom, contact.email, contact.telephone):
        return False
    if before:
        conn.execute("UPDATE contacts SET jusqu_au=? WHERE id=?", (now, before["id"]))
    conn.execute("INSERT INTO contacts (adherent, type, nom, prenom, email, telephone, depuis, fichier_id, ligne) "
                 "VALUES (?,?,?,?,?,?,?,?,?)",
                 (adherent, contact.type, contact.nom, contact.prenom or None, contact.email or None,
                  contact.telephone or None, now, file_id, line))
    history(conn, "contact", f"{adherent}/{contact.type}", "*", _describe(before) if before else None,
            _describe(contact), source, now)
    return True
