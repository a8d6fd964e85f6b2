"""E-mail notices in the store (table `envois`, migration 0420): queue a message once, pick the ones to
send, record each attempt and its outcome. The messages themselves are built and sent by amsn_batch/mail.py."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .db import records, transaction

TO_SEND = ("a_envoyer", "echec")  # sent at each run until they go through
REFUSED = "refuse"  # refused for good by the server (5xx): sent again only when staff ask (envois --relancer)


@dataclass(frozen=True)
class Outgoing:
    """A message to queue."""

    key: str
    nature: str
    adherent: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    message: bytes


@dataclass(frozen=True)
class Sent:
    """A row of `envois`, as listed or picked for sending (`message` only when picked)."""

    id: int
    cle: str
    nature: str
    adherent: str
    destinataires: str
    sujet: str
    message_id: str
    statut: str
    tentatives: int
    erreur: str | None
    cree_le: str
    tente_le: str | None
    envoye_le: str | None
    fichier: str | None
    message: bytes | None = None


_COLUMNS = ("id, cle, nature, adherent, destinataires, sujet, message_id, statut, tentatives, erreur, cree_le, tente_le, "
            "envoye_le, fichier")


def queue(conn: sqlite3.Connection, m: Outgoing, now: str) -> bool:
    """Queue a message unless one with the same key was queued before. True if queued now. Without recipients it
    is only noted (`sans_destinataire`), its content not kept."""
    status = "a_envoyer" if m.recipients else "sans_destinataire"
    with transaction(conn):
        cur = conn.execute(
            "INSERT OR IGNORE INTO envois (cle, nature, adherent, destinataires, sujet, message_id, message, statut, "
            "cree_le) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (m.key, m.nature, m.adherent, ", ".join(m.recipients), m.subject, m.message_id,
             m.message if m.recipients else None, status, now))
    return cur.rowcount == 1


def known(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute("SELECT 1 FROM envois WHERE cle=?", (key,)).fetchone() is not None


def to_send(conn: sqlite3.Connection, refused_too: bool = False) -> list[Sent]:
    """The messages to send now, oldest first, with their content."""
    states = TO_SEND + ((REFUSED,) if refused_too else ())
    return [Sent(**r) for r in records(
        conn, f"SELECT {_COLUMNS}, message FROM envois WHERE statut IN ({','.join('?' * len(states))}) "
              "AND message IS NOT NULL ORDER BY id", states)]


def attempt_failed(conn: sqlite3.Connection, envoi_id: int, error: str, now: str, refused: bool = False) -> None:
    """One more attempt, failed: kept for the next run (`echec`), or refused for good (`refuse`)."""
    with transaction(conn):
        conn.execute("UPDATE envois SET tentatives=tentatives+1, statut=?, erreur=?, tente_le=? WHERE id=?",
                     (REFUSED if refused else "echec", error[:500], now, envoi_id))


def delivered(conn: sqlite3.Connection, envoi_id: int, now: str, written_to: str | None = None) -> None:
    """Sent to the server (or written as a .eml file): the content is no longer kept."""
    with transaction(conn):
        conn.execute("UPDATE envois SET tentatives=tentatives+1, statut=?, erreur=NULL, tente_le=?, envoye_le=?, "
                     "fichier=?, message=NULL WHERE id=?",
                     ("ecrit" if written_to else "envoye", now, now, written_to, envoi_id))


def recent(conn: sqlite3.Connection, limit: int, failed_only: bool = False) -> list[Sent]:
    """The latest messages, most recent first (only those not delivered: `failed_only`)."""
    where = "WHERE statut NOT IN ('envoye', 'ecrit') " if failed_only else ""
    return [Sent(**r) for r in records(conn, f"SELECT {_COLUMNS} FROM envois {where}ORDER BY id DESC LIMIT ?", (limit,))]

