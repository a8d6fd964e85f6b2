"""DSN files for the tests, written from the format's facts (cahier technique DSN, norme NEODeS), not from the
product's reader: one rubrique per line `Sxx.Gxx.xx.xxx,'value'`, ISO-8859-1, CRLF; dates JJMMAAAA; the NIR
on 13 characters without its key; a trailer S90.G00.90 counting the rubriques (S10 to S90 included) and
the declarations."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path


def jjmmaaaa(d: dt.date) -> str:
    return d.strftime("%d%m%Y")


@dataclass
class Contract:
    start: dt.date
    pcs: str = "552a"
    job: str = "Vendeuse"
    nature: str = "01"  # S21.G00.40.007
    number: str = "00001"
    expected_end: dt.date | None = None
    end: dt.date | None = None  # S21.G00.62.001
    motif: str = "031"  # S21.G00.62.002
    raw_start: str | None = None  # written as is instead of `start`
    raw_end: str | None = None


@dataclass
class Person:
    nir13: str | None  # None: no S21.G00.30.001
    nom: str
    prenom: str
    birth: dt.date
    contracts: list[Contract] = field(default_factory=list)
    usage_name: str = ""
    ntt: str = ""


@dataclass
class Declaration:
    siren: str
    nic: str
    month: dt.date  # any day of the declared month
    people: list[Person] = field(default_factory=list)
    nature: str = "01"  # S20.G00.05.001: 01 mensuelle, 07 FCTU


def nir13(rng: random.Random, sex: str = "1", birth: dt.date | None = None) -> str:
    birth = birth or dt.date(1980, 5, 1)
    return f"{sex}{birth.year % 100:02d}{birth.month:02d}{rng.randint(1, 95):02d}{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"


def full_nir(body13: str) -> str:
    n = int(body13.replace("2A", "19").replace("2B", "18"))
    return f"{body13}{97 - n % 97:02d}"


def person(rng: random.Random, nom: str, prenom: str, start: dt.date, **contract) -> Person:
    birth = dt.date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
    return Person(nir13(rng, rng.choice("12"), birth), nom, prenom, birth, [Contract(start, **contract)])


def lines(declarations: list[Declaration], *, sender_siren: str = "123456789") -> list[str]:
    out = [
        "S10.G00.00.001,'LOGICIEL PAIE TEST'", "S10.G00.00.002,'EDITEUR TEST'", "S10.G00.00.003,'1.0'",
        "S10.G00.00.005,'01'", "S10.G00.00.006,'P26V01'", "S10.G00.00.008,'01'",
        f"S10.G00.01.001,'{sender_siren}'", "S10.G00.01.002,'00012'", "S10.G00.01.003,'CABINET DE PAIE'",
        "S10.G00.01.004,'1 RUE DU PORT'", "S10.G00.01.005,'14000'", "S10.G00.01.006,'CAEN'",
        "S10.G00.02.002,'MARTIN PAUL'", "S10.G00.02.004,'paie@example.fr'",
    ]
    for k, d in enumerate(declarations):
        first = d.month.replace(day=1)
        out += [f"S20.G00.05.001,'{d.nature}'", "S20.G00.05.002,'01'", "S20.G00.05.003,'11'",
                f"S20.G00.05.004,'{k + 1}'", f"S20.G00.05.005,'{jjmmaaaa(first)}'", "S20.G00.05.007,'05042026'",
                "S20.G00.05.010,'01'",
                f"S21.G00.06.001,'{d.siren}'", f"S21.G00.06.002,'{d.nic}'", "S21.G00.06.003,'4711D'",
                f"S21.G00.11.001,'{d.nic}'", "S21.G00.11.002,'4711D'", "S21.G00.11.003,'2 AVENUE DE PARIS'",
                "S21.G00.11.004,'14000'", "S21.G00.11.005,'CAEN'"]
        for p in d.people:
            if p.nir13 is not None:
                out.append(f"S21.G00.30.001,'{p.nir13}'")
            out.append(f"S21.G00.30.002,'{p.nom}'")
            if p.usage_name:
                out.append(f"S21.G00.30.003,'{p.usage_name}'")
            out += [f"S21.G00.30.004,'{p.prenom}'", f"S21.G00.30.005,'{'01' if p.nir13 and p.nir13[0] == '1' else '02'}'",
                    f"S21.G00.30.006,'{jjmmaaaa(p.birth)}'", "S21.G00.30.007,'CAEN'"]
            if p.ntt:
                out.append(f"S21.G00.30.020,'{p.ntt}'")
            for c in p.contracts:
                out += [f"S21.G00.40.001,'{c.raw_start or jjmmaaaa(c.start)}'", "S21.G00.40.002,'04'",
                        "S21.G00.40.003,'01'", f"S21.G00.40.004,'{c.pcs}'", f"S21.G00.40.006,'{c.job}'",
                        f"S21.G00.40.007,'{c.nature}'", "S21.G00.40.008,'99'", f"S21.G00.40.009,'{c.number}'"]
                if c.expected_end:
                    out.append(f"S21.G00.40.010,'{jjmmaaaa(c.expected_end)}'")
                out += ["S21.G00.40.011,'10'", "S21.G00.40.012,'151.67'"]
                if c.end or c.raw_end:
                    out += [f"S21.G00.62.001,'{c.raw_end or jjmmaaaa(c.end)}'", f"S21.G00.62.002,'{c.motif}'"]
            out += [f"S21.G00.50.001,'{jjmmaaaa(first.replace(day=28))}'", "S21.G00.50.002,'1800.00'",
                    f"S21.G00.51.001,'{jjmmaaaa(first)}'", f"S21.G00.51.002,'{jjmmaaaa(first.replace(day=28))}'",
                    "S21.G00.51.010,'00001'", "S21.G00.51.011,'001'", "S21.G00.51.013,'2300.00'"]
    out += [f"S90.G00.90.001,'{len(out) + 2}'", f"S90.G00.90.002,'{len(declarations)}'"]
    return out


def write_dsn(path: Path, declarations: list[Declaration], *, trailer: bool = True, total_delta: int = 0,
              count_delta: int = 0, encoding: str = "iso-8859-1") -> Path:
    rows = lines(declarations)
    if not trailer:
        rows = rows[:-2]
    else:
        total, count = rows[-2:]
        rows[-2] = f"S90.G00.90.001,'{int(total.split(',')[1].strip(chr(39))) + total_delta}'"
        rows[-1] = f"S90.G00.90.002,'{int(count.split(',')[1].strip(chr(39))) + count_delta}'"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode(encoding))
    return path
