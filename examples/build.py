"""Builds examples/depots/10002/mouvements.xlsx: a workbook as HR teams make them (a title above the
header, dates stored as numbers or as real dates, a NIR typed as a number)."""

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def build() -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Mouvements"
    ws.append(["Transports Lefèvre — mouvements du personnel, novembre 2026"])
    ws.append([])
    ws.append(["Nom", "Prénom", "NIR", "SIRET", "Action", "Date d'entrée", "Date de sortie", "Type de contrat",
               "Poste", "PCS-ESE", "Catégorie", "Autorisation de conduite"])
    ws.append(["ROUX", "Julien", "192123312345606", "55210055400013", "Entrée", dt.date(2026, 11, 3), None,
               "CDI", "Chauffeur poids lourd", "641a", "SIH", "X"])
    ws.append(["FOURNIER", "Inès", 288089934501244, "55210055400013", "Entrée", 46330, None,
               "CDD", "Agent de quai", "676a", "SI", None])
    ws.append([])
    ws.append(["BLANC", "Théo", "295037512304509", "55210055400013", "Entrée", "04/11/2026", None,
               "Intérim", "Cariste", "652a", "SIH", "Oui"])
    out = HERE / "depots" / "10002" / "mouvements.xlsx"
    wb.save(out)
    return out


if __name__ == "__main__":
    print(build())
