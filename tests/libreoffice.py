"""LibreOffice, headless, as the tests' spreadsheet: soffice converts a workbook to OpenDocument (or saves it
again as XLSX), which says what LibreOffice made of it. scripts/system-deps installs libreoffice-calc-nogui."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from lxml import etree

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
NS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
      "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
      "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
      "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
      "config": "urn:oasis:names:tc:opendocument:xmlns:config:1.0"}


def convert(source: Path, fmt: str, out: Path) -> Path:
    """soffice --convert-to, with its own profile folder (a run never touches a user's LibreOffice)."""
    assert SOFFICE, "LibreOffice (soffice) is missing: scripts/system-deps installs libreoffice-calc-nogui"
    out.mkdir(parents=True, exist_ok=True)
    profile = out / "profil"
    subprocess.run([SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", fmt,
                    "--outdir", str(out), str(source)], check=True, capture_output=True, timeout=180)
    target = out / f"{source.stem}.{fmt.split(':')[0]}"
    assert target.is_file(), f"LibreOffice wrote no {target.name}"
    return target


def ods_parts(ods: Path) -> tuple[etree._Element, etree._Element]:
    with zipfile.ZipFile(ods) as z:
        return etree.fromstring(z.read("content.xml")), etree.fromstring(z.read("settings.xml"))


def cell_text(cell) -> str:
    return "\n".join("".join(p.itertext()) for p in cell.findall("text:p", NS))


def rows_of(table) -> list[list]:
    """Each row's cells (repeated cells expanded), up to the first 30 columns."""
    out = []
    for row in table.findall(".//table:table-row", NS):
        cells = []
        for c in row:
            n = int(c.get(f"{{{NS['table']}}}number-columns-repeated", "1"))
            cells += [c] * min(n, 30 - len(cells))
        out.append((row, cells))
    return out


def cm(length: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(cm|in|pt|mm)", length).groups()
    return float(value) * {"cm": 1, "in": 2.54, "pt": 2.54 / 72, "mm": 0.1}[unit]
