"""Test data made by code: valid and broken identifiers, registries and employee files as French users
write them (Excel CSV exports in Windows-1252 with ';', XLSX with a title above the header, BOMs...)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

from stdnum import luhn

MOVEMENT_HEADERS = [
    "Nom de naissance", "Prénom", "N° sécurité sociale", "Date de naissance", "SIRET", "Mouvement",
    "Date d'embauche", "Date de sortie", "Contrat", "Poste de travail", "Code PCS", "Salarié multi-employeurs",
    "Catégorie déclarée", "Commentaire",
]


def nir_key(body13: str) -> str:
    n = int(body13.replace("2A", "19").replace("2B", "18"))
    return f"{97 - n % 97:02d}"


def make_nir(rng: random.Random | None = None, sex: str = "1", year: int | None = None, month: int | None = None,
             dept: str | None = None, order: int | None = None) -> str:
    """A valid 15-character NIR (key computed)."""
    rng = rng or random.Random()
    yy = f"{(year if year is not None else rng.randint(1950, 2006)) % 100:02d}"
    mm = f"{month if month is not None else rng.randint(1, 12):02d}"
    dd = dept or f"{rng.randint(1, 95):02d}"
    if dd == "20":
        dd = "21"
    commune = f"{rng.randint(1, 999):03d}"
    order_s = f"{order if order is not None else rng.randint(1, 999):03d}"
    body = f"{sex}{yy}{mm}{dd}{commune}{order_s}"
    return body + nir_key(body)


def make_siren(prefix8: str) -> str:
    return prefix8 + luhn.calc_check_digit(prefix8)


def make_siret(siren9: str, nic4: str = "0001") -> str:
    base = siren9 + nic4
    return base + luhn.calc_check_digit(base)


def make_vat(siren9: str) -> str:
    return f"FR{(12 + 3 * (int(siren9) % 97)) % 97:02d}{siren9}"


def write_csv(path: Path, headers: list[str], rows: list[list[object]], encoding: str = "cp1252",
              sep: str = ";", bom: bool = False, title: list[str] | None = None) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    for line in title or []:
        w.writerow([line])
    w.writerow(headers)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    data = buf.getvalue().encode(encoding)
    if bom and encoding.lower().replace("-", "") == "utf8":
        data = b"\xef\xbb\xbf" + data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_xlsx(path: Path, headers: list[str], rows: list[list[object]], title: list[str] | None = None,
               sheet: str = "Salariés", extra_sheets: dict[str, list[list[object]]] | None = None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for line in title or []:
        ws.append([line])
    ws.append(headers)
    for r in rows:
        ws.append(r)
    for name, sheet_rows in (extra_sheets or {}).items():
        other = wb.create_sheet(name)
        for r in sheet_rows:
            other.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


class Registry:
    """A small member registry: adhérents with establishments, a mandataire with mandates."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.members: dict[str, list[str]] = {}  # N° adhérent → SIRETs
        self.vat: dict[str, str] = {}
        for i, numero in enumerate(["10001", "10002", "10003", "10004"]):
            siren = make_siren(f"{rng.randint(30000000, 89999999)}")
            self.vat[numero] = make_vat(siren)
            self.members[numero] = [make_siret(siren, f"{k + 1:04d}") for k in range(2 if i == 0 else 1)]
        self.mandates = {"PAIE01": ["10002", "10003"]}

    def rows(self) -> list[list[str]]:
        out = []
        for numero, sirets in self.members.items():
            for s in sirets:
                out.append([numero, f"Entreprise {numero}", s, self.vat[numero], f"compta{numero}@example.fr",
                            "Centre de Caen", "Actif"])
        return out

    HEADERS = ["N° adhérent", "Raison sociale", "SIRET", "N° TVA intracommunautaire", "Email facturation", "Centre", "Statut"]

    def write(self, folder: Path) -> tuple[Path, Path]:
        reg = write_csv(folder / "registre.csv", self.HEADERS, self.rows(), encoding="utf-8")
        mand = write_csv(folder / "mandats.csv", ["Mandataire", "N° adhérent"],
                         [[m, a] for m, adh in self.mandates.items() for a in adh], encoding="utf-8")
        return reg, mand


def employee_row(nir: str, siret: str, movement: str = "Entrée", hired: str = "01/09/2026", exit: str = "",
                 name: str = "DUPONT", first: str = "Marie", contract: str = "CDI", job: str = "Vendeuse",
                 pcs: str = "554a", multi: str = "Non", category: str = "SI", birth: str = "",
                 comment: str = "") -> list[str]:
    """A row in MOVEMENT_HEADERS order."""
    return [name, first, nir, birth, siret, movement, hired, exit, contract, job, pcs, multi, category, comment]


def fr_date(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")
