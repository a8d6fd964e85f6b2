"""A file refused as a whole before its content is read, said the same way by every kind: a name that cannot
be used (NOM_FICHIER_INVALIDE), a file already known to be unreadable (FICHIER_ILLISIBLE), a sender folder
the registry does not know (EXPEDITEUR_INCONNU), a file over the size limit (FICHIER_ILLISIBLE with the size)."""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import Findings


@dataclass(frozen=True)
class Refusal:
    """The finding that refuses the file, and why it goes to quarantine (None: it does not)."""

    findings: Findings
    quarantine: str | None = None


def unreadable_file(reason: str) -> Refusal:
    """The file cannot be read, for this reason (French, for the sender): FICHIER_ILLISIBLE, quarantined."""
    f = Findings()
    f.add_file("FICHIER_ILLISIBLE", raison=reason)
    return Refusal(f, reason)


def refused_unread(sender_code: str, sender, *, name_problem: str | None = None, unreadable: str | None = None,
                   size: int = 0, max_bytes: int | None = None) -> Refusal | None:
    """Why the file is refused without being read, or None. `sender`: the registry's sender (None: unknown);
    `name_problem`: why the name as dropped cannot be used; `unreadable`: why the file is known to be
    unreadable; `size` and `max_bytes`: the file's size and the limit, for the kinds that check it here."""
    if name_problem:
        f = Findings()
        f.add_file("NOM_FICHIER_INVALIDE", raison=name_problem)
        return Refusal(f, name_problem)
    if unreadable:
        return unreadable_file(unreadable)
    if sender is None:
        f = Findings()
        f.add_file("EXPEDITEUR_INCONNU", expediteur=sender_code)
        return Refusal(f)
    if max_bytes is not None and size > max_bytes:
        return unreadable_file(f"Le fichier pèse {size / 1048576:.0f} Mo, au-delà de la limite de "
                               f"{max_bytes / 1048576:.0f} Mo. Découpez-le en plusieurs fichiers.")
    return None
