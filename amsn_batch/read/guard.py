"""Checks a workbook's zip container before a parser opens it: a zip bomb (a few kilobytes that inflate to
gigabytes) is refused from its declared sizes, without inflating anything. The declared sizes can be
trusted because the parser (calamine, through the zip crate) stops with an error on a member that
inflates past its declared size."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .table import UnreadableFile

MAX_MEMBERS = 10_000
RATIO_FROM_BYTES = 10 * 1024 * 1024  # the ratio is only looked at for members above this size

_RESAVE = "Ouvrez-le dans Excel ou LibreOffice et enregistrez-le à nouveau au format XLSX."


def _mo(n: int) -> str:
    return f"{n / 1048576:.0f} Mo"


def check_zip(path: Path, max_unzipped_bytes: int, max_ratio: int) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise UnreadableFile(
            "Le fichier n'est pas un classeur lisible : son contenu compressé (ZIP) est endommagé ou incomplet. "
            + _RESAVE
        ) from exc
    if len(infos) > MAX_MEMBERS:
        raise UnreadableFile(f"Le classeur contient {len(infos)} éléments internes, au-delà de la limite de {MAX_MEMBERS}. " + _RESAVE)
    if any(i.flag_bits & 0x1 for i in infos):
        raise UnreadableFile("Le classeur est protégé par un mot de passe. Enregistrez-le sans mot de passe au format XLSX.")
    total = sum(i.file_size for i in infos)
    if total > max_unzipped_bytes:
        raise UnreadableFile(
            f"Une fois décompressé, le classeur occuperait {_mo(total)}, au-delà de la limite de "
            f"{_mo(max_unzipped_bytes)}. Découpez-le en plusieurs fichiers, ou déposez-le au format CSV."
        )
    for i in infos:
        if i.file_size > RATIO_FROM_BYTES and i.file_size > max_ratio * max(i.compress_size, 1):
            raise UnreadableFile(
                f"Le classeur est anormalement compressé (un élément de {_mo(i.file_size)} tient dans "
                f"{i.compress_size / 1024:.0f} Ko) : il est refusé par sécurité (bombe de décompression). " + _RESAVE
            )
