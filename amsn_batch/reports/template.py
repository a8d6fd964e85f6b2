"""Templates for senders (`amsn-batch modele effectifs`): a workbook that passes the checks when filled in
as it asks, and the same headers as CSV.

The workbook has the canonical headers of the member portal, a notice sheet in French, drop-down lists
(movement, contract, category, yes/no, PCS-ESE codes), the NIR and SIRET columns formatted as text (so that
a spreadsheet never turns a NIR into 1,85058E+14) and the date columns as dates.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..vocab import load_toml, pcs_reference, vocabulary
from ..formats import safe_cell, write_atomic

ROWS = 2000  # rows prepared with formats and drop-down lists
SHEET, NOTICE, LISTS = "Salariés", "Notice", "Listes"
TEXT_FIELDS = ("nir", "siret")
DATE_FIELDS = ("date_naissance", "date_embauche", "date_sortie", "date_liste")
YES_NO = ["Oui", "Non"]
MOVEMENTS = ["Entrée", "Sortie", "Modification"]

# How each column is filled in, for the notice sheet.
HELP = {
    "nom": "Nom de naissance du salarié.",
    "nom_usage": "Facultatif : nom d'usage (nom marital…), s'il diffère du nom de naissance. Un changement de nom "
                 "d'usage seul s'envoie comme une Modification.",
    "prenom": "Prénom usuel.",
    "nir": "N° de sécurité sociale (NIR ou INS) : 15 caractères, clé comprise, sans espace (la colonne est au format Texte ; "
           "ne la changez pas en Nombre). Un numéro provisoire (NIA, commençant par 7 ou 8) est accepté.",
    "date_naissance": "Facultatif : date de naissance JJ/MM/AAAA (sert à vérifier l'âge des mineurs et le N° de sécurité sociale).",
    "siret": "SIRET (14 chiffres) de l'établissement adhérent où travaille le salarié.",
    "mouvement": "Entrée, Sortie ou Modification. Sans cette colonne, le fichier est lu comme la liste complète du personnel.",
    "date_liste": "Seulement pour une liste complète du personnel : la date à laquelle la liste est arrêtée.",
    "date_embauche": "Date d'embauche JJ/MM/AAAA (obligatoire pour une entrée).",
    "date_sortie": "Date de sortie JJ/MM/AAAA (obligatoire pour une sortie).",
    "contrat": "Nature du contrat : choisissez dans la liste (CDI, CDD, Intérim…) ou indiquez le code DSN (01, 02, 03…). "
               "L'apprentissage est un CDD ou un CDI.",
    "poste": "Intitulé du poste de travail.",
    "pcs": "Code PCS-ESE de l'emploi (3 chiffres et une lettre minuscule, par exemple 552a), celui de la DSN ; "
           "la liste est dans la feuille « Listes ».",
    "multi_employeur": "Oui si le salarié a plusieurs employeurs en même temps (décret 2023-547).",
    "categorie": "Catégorie de suivi : SI, SIA, SIR ou SIH. Laissée vide, elle est déduite des déterminants cochés.",
    "commentaire": "Facultatif.",
    "contraintes": "Facultatif : contraintes de convocation (horaires, jours…).",
}


def template_fields() -> list:
    """The columns of the template: every movement field but the ones only a full list or a correction uses."""
    spec = load_toml("colonnes.toml")["mouvements"]
    return [f for f in vocabulary("mouvements").fields
            if f.key != "date_liste" and not spec.get(f.key, {}).get("ignoree")]


def contract_choices() -> list[str]:
    """One label per DSN contract code, as the drop-down shows it (each maps back to its code)."""
    out = []
    for code, spec in load_toml("contrats.toml").items():
        short = [a for a in spec.get("alias", []) if not a.isdigit()]
        out.append(short[0] if short else spec["libelle"])
    return out


def drop_down_lists() -> dict[str, list[str]]:
    """The lists of the « Listes » sheet, by name: the drop-down lists of the template and of the correction
    workbook (reports.rejects), and the PCS-ESE labels beside their codes."""
    pcs = pcs_reference()
    return {"Mouvement": MOVEMENTS, "Contrat": contract_choices(), "Catégorie": ["SI", "SIA", "SIR", "SIH"],
            "Oui / Non": YES_NO, "Code PCS-ESE": list(pcs), "Libellé PCS-ESE": list(pcs.values())}


def drop_down(key: str) -> tuple[str, bool] | None:
    """The drop-down list of a field's column, if any: (list name in drop_down_lists(), strict). A strict list
    refuses another value; the others warn (a DSN contract code or a PCS code typed by hand stays allowed)."""
    if key in ("mouvement", "categorie"):
        return ("Mouvement" if key == "mouvement" else "Catégorie"), True
    if key == "contrat":
        return "Contrat", False
    if key == "pcs":
        return "Code PCS-ESE", False
    if key == "multi_employeur" or key.startswith("det_"):
        return "Oui / Non", False
    return None


@dataclass(frozen=True)
class TemplateSpec:
    """What a sender template is made of: its columns (vocabulary fields), the data sheet's name, the notice's
    title and steps, how each column is filled in, the drop-down lists and which column takes which."""

    sheet: str
    fields: list
    intro: list[str]
    help: Callable[[object], str]  # field → how to fill it in
    lists: dict[str, list[str]]
    drop_down: Callable[[str], tuple[str, bool] | None]
    text_fields: tuple[str, ...] = TEXT_FIELDS
    date_fields: tuple[str, ...] = DATE_FIELDS


def _employee_help(f) -> str:
    if not f.key.startswith("det_"):
        return HELP.get(f.key, "")
    cat = load_toml("determinants.toml")[f.key[4:]]["categorie"]
    return (f"Déterminant de suivi : Oui si le poste l'implique (appelle un suivi {cat})." if cat
            else "Oui si le salarié n'a aucun risque particulier (ne pas cocher avec un risque).")


def employees_template() -> TemplateSpec:
    return TemplateSpec(SHEET, template_fields(), _notice_intro(), _employee_help, drop_down_lists(), drop_down)


def write_csv_template(path: Path, spec: TemplateSpec | None = None) -> Path:
    fields = spec.fields if spec is not None else template_fields()
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerow([safe_cell(f.label) for f in fields])
    write_atomic(path, "\ufeff" + buf.getvalue())
    return path


def write_xlsx_template(path: Path, spec: TemplateSpec | None = None) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    spec = spec or employees_template()
    fields = spec.fields
    wb = Workbook()
    ws = wb.active
    ws.title = spec.sheet
    ws.append([safe_cell(f.label) for f in fields])
    head = PatternFill("solid", fgColor="DCE6F1")
    for i, f in enumerate(fields, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True, color="9C0006" if f.required else "000000")
        cell.fill = head
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(i)].width = max(14, min(len(f.label) + 4, 34))
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 45

    lists = wb.create_sheet(LISTS)
    columns = spec.lists
    ranges = {}
    for j, (name, items) in enumerate(columns.items(), start=1):
        letter = get_column_letter(j)
        lists.cell(row=1, column=j, value=name).font = Font(bold=True)
        for i, item in enumerate(items, start=2):
            lists.cell(row=i, column=j, value=safe_cell(item))
        lists.column_dimensions[letter].width = 60 if name.startswith("Libellé") else 24
        ranges[name] = f"'{LISTS}'!${letter}$2:${letter}${len(items) + 1}"

    def validation(letter: str, source: str, strict: bool) -> None:
        dv = DataValidation(type="list", formula1=source, allow_blank=True, showErrorMessage=strict,
                            errorStyle="stop" if strict else "warning",
                            error="Choisissez une valeur de la liste.", errorTitle="Valeur non prévue")
        dv.add(f"{letter}2:{letter}{ROWS + 1}")
        ws.add_data_validation(dv)

    for i, f in enumerate(fields, start=1):
        letter = get_column_letter(i)
        if (chosen := spec.drop_down(f.key)) is not None:
            validation(letter, ranges[chosen[0]], chosen[1])
        fmt = "@" if f.key in spec.text_fields else ("DD/MM/YYYY" if f.key in spec.date_fields else None)
        if fmt:
            ws.column_dimensions[letter].number_format = fmt
            for row in range(2, ROWS + 2):
                ws.cell(row=row, column=i).number_format = fmt

    notice = wb.create_sheet(NOTICE, 0)
    notice.column_dimensions["A"].width = 32
    notice.column_dimensions["B"].width = 12
    notice.column_dimensions["C"].width = 100
    for text in spec.intro:
        notice.append([text])
    notice["A1"].font = Font(bold=True, size=14)
    notice.append([])
    notice.append(["Colonne", "Obligatoire", "Comment la remplir"])
    for c in notice[notice.max_row]:
        c.font = Font(bold=True)
    for f in fields:
        text = spec.help(f)
        notice.append([safe_cell(f.label), "oui" if f.required else "non", safe_cell(text)])
        notice.cell(row=notice.max_row, column=3).alignment = Alignment(wrap_text=True, vertical="top")
    wb.active = 1  # open on the data sheet
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def _notice_intro() -> list[str]:
    return [
        "Modèle de fichier des salariés – mode d'emploi",
        "",
        "1. Remplissez la feuille « Salariés » : une ligne par salarié, sans changer ni déplacer les en-têtes "
        "(les colonnes en rouge sont obligatoires pour une entrée).",
        "2. Mouvement : Entrée pour un nouveau salarié, Sortie pour un départ (avec la date de sortie), "
        "Modification pour changer un salarié déjà déclaré (les cellules laissées vides ne changent rien).",
        "3. Dates au format JJ/MM/AAAA. N° de sécurité sociale complet, 15 caractères avec la clé.",
        "4. Enregistrez au format Excel (.xlsx) ou CSV (séparateur point-virgule) et déposez le fichier dans votre "
        "dossier de dépôt. L'accusé de réception arrive dans votre dossier de retour : il dit ligne par ligne ce qui a "
        "été pris en compte et ce qui est à corriger.",
        "Pour envoyer la liste complète de votre personnel plutôt que des mouvements, supprimez la colonne Mouvement : "
        "les entrées, modifications et sorties seront déduites (règles détaillées dans docs/regles.md).",
    ]
