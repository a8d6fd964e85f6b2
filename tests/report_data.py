"""Employee files for the report tests: realistic mixes of good rows and the mistakes HR teams make, with a
known number of each mistake, and the fix a person would type for each."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir

# Column positions in MOVEMENT_HEADERS
NOM, PRENOM, NIR, NAISSANCE, SIRET, MOUVEMENT, EMBAUCHE, SORTIE, CONTRAT, POSTE, PCS, MULTI, CATEGORIE, COMMENTAIRE = range(14)

# mistake → (column, what the sender wrote, rule code)
MISTAKES = {
    "nir_cle": (NIR, None, "NIR_CLE"),  # value computed from the right NIR
    "date": (EMBAUCHE, "31/11/2026", "DATE_INVALIDE"),
    "pcs": (PCS, "5521", "PCS_FORMAT"),
    "contrat": (CONTRAT, "Contrat aidé", "CONTRAT_INVALIDE"),
    "siret": (SIRET, "12345678901234", "SIRET_INCONNU"),
    "nir_excel": (NIR, "2,95109E+14", "NIR_NOTATION_SCIENTIFIQUE"),
}
FIXES = {EMBAUCHE: "30/11/2026", PCS: "552a", CONTRAT: "CDD"}


@dataclass
class Generated:
    rows: list[list[str]]
    good_nirs: dict[int, str] = field(default_factory=dict)  # row index → the NIR it should have
    mistakes: dict[int, str] = field(default_factory=dict)  # row index → mistake kind
    sirets: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return list(MOVEMENT_HEADERS)

    def count(self, kind: str) -> int:
        return sum(1 for k in self.mistakes.values() if k == kind)

    @property
    def refused(self) -> int:
        return len(self.mistakes)


def wrong_key(nir: str) -> str:
    return nir[:13] + f"{int(nir[13:]) % 97 + 1:02d}"


def generate(sirets: list[str], n: int, mistakes: dict[str, int] | None = None, seed: int = 11,
             comments: dict[int, str] | None = None) -> Generated:
    """n entries; `mistakes` says how many rows get each mistake (spread over the file)."""
    rng = random.Random(seed)
    used: set[str] = set()
    g = Generated([], sirets=sirets)
    for i in range(n):
        nir = make_nir(rng)
        while nir in used:
            nir = make_nir(rng)
        used.add(nir)
        g.good_nirs[i] = nir
        g.rows.append(employee_row(nir, sirets[i % len(sirets)], name=f"NOM{i:05d}", first=rng.choice(["Marie", "Jules", "Inès", "Léo"]),
                                   hired=f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2026",
                                   contract=rng.choice(["CDI", "CDD", "01"]), job="Employé de commerce", pcs="552a"))
    slots = list(range(n))
    rng.shuffle(slots)
    for kind, count in (mistakes or {}).items():
        col, bad, _ = MISTAKES[kind]
        for _ in range(count):
            i = slots.pop()
            g.mistakes[i] = kind
            g.rows[i][col] = wrong_key(g.good_nirs[i]) if kind == "nir_cle" else bad
    for i, text in (comments or {}).items():
        g.rows[i][COMMENTAIRE] = text
    return g


def fix_row(values: list, kind: str, good_nir: str, good_siret: str, col_of: dict[str, int]) -> None:
    """Correct one row of the workbook in place, the way a person would (by header name)."""
    col, _, _ = MISTAKES[kind]
    header = MOVEMENT_HEADERS[col]
    if col == NIR:
        values[col_of[header]] = good_nir
    elif col == SIRET:
        values[col_of[header]] = good_siret
    else:
        values[col_of[header]] = FIXES[col]


def drop_without_column(ws, name: str, header: str, n: int = 12) -> list[str]:
    """Drop a generated file of member 10001 that lacks one column (so the whole file is refused) and run
    traiter; returns the headers sent."""
    from tests.factories import write_csv

    g = generate(ws.registry.members["10001"], n)
    headers = [h for h in MOVEMENT_HEADERS if h != header]
    rows = [[v for h, v in zip(MOVEMENT_HEADERS, r) if h != header] for r in g.rows]
    write_csv(ws.drop("10001", name), headers, rows)
    ws.cli("traiter")
    return headers
