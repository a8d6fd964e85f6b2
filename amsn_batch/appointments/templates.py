"""Sender templates of the request files (`amsn-batch modele demande-visite`, `modele annulation`): a workbook
with its notice and drop-down lists (reports.template), and the same headers as CSV."""

from __future__ import annotations

from pathlib import Path

from ..reports.template import TEXT_FIELDS, Model, write_csv_template, write_xlsx_template
from ..vocab import load_toml, vocabulary
from .requests import CANCEL, VISIT
from .setup import visit_labels

_HELP = {
    "nir": "N° de sécurité sociale du salarié (15 caractères, clé comprise ; colonne au format Texte).",
    "nom": "Nom du salarié.",
    "prenom": "Prénom du salarié.",
    "siret": "Facultatif : SIRET de l'établissement où travaille le salarié (utile si vous envoyez pour plusieurs "
             "adhérents).",
    "type_demande": "La visite demandée : choisissez dans la liste.",
    "motif": "Facultatif : la raison de la demande (arrêt de travail, changement de poste, inquiétude du salarié…).",
    "periode": "Facultatif : la période souhaitée (par exemple « semaine du 12/01/2027 » ou « avant le 31/01/2027 »).",
    "contraintes": "Facultatif : contraintes de convocation (jours, horaires, travail de nuit…).",
    "rdv_annule": "Le N° du rendez-vous à annuler, tel qu'il figure dans vos rendez-vous à venir ; à défaut, "
                  "le N° de sécurité sociale du salarié et la date du rendez-vous.",
    "date_rdv": "Date du rendez-vous JJ/MM/AAAA (si le N° de rendez-vous n'est pas donné).",
}
_HELP_CANCEL_MOTIF = "Facultatif : la raison de l'annulation."

_VISIT_INTRO = [
    "Demande de visite – mode d'emploi",
    "",
    "1. Une ligne par salarié pour qui vous demandez une visite (colonnes en rouge obligatoires).",
    "2. Visite demandée : choisissez dans la liste (visite de reprise, pré-reprise, à la demande de l'employeur…).",
    "3. Enregistrez en XLSX ou en CSV (séparateur point-virgule) et déposez le fichier dans votre dossier de dépôt : "
    "l'accusé de réception dit quelles demandes sont transmises au planning ; le rendez-vous fixé apparaîtra dans "
    "vos rendez-vous à venir (dossier rendez-vous de votre dossier de retour).",
]


def _cancel_intro(days: int) -> list[str]:
    return [
        "Demande d'annulation de rendez-vous – mode d'emploi",
        "",
        f"Une annulation se demande au moins {days} jours ouvrés avant le rendez-vous (du lundi au vendredi, hors jours "
        "fériés), à compter de la réception du fichier par le service. Une demande plus tardive est refusée : "
        "appelez alors votre centre.",
        "1. Une ligne par rendez-vous à annuler : son N° (il figure dans vos rendez-vous à venir), ou le N° de sécurité "
        "sociale du salarié et la date du rendez-vous.",
        "2. Enregistrez en XLSX ou en CSV (séparateur point-virgule) et déposez le fichier dans votre dossier de dépôt.",
    ]


def _spec(genre: str) -> Model:
    fields = list(vocabulary(genre).fields)
    if genre == VISIT:
        lists = {"Visite demandée": visit_labels()}
        return Model("Demandes de visite", fields, lists,
                     lambda key: ("Visite demandée", True) if key == "type_demande" else None, TEXT_FIELDS, (),
                     _VISIT_INTRO, lambda f: _HELP.get(f.key, ""))
    days = load_toml("rendez_vous.toml")["delais"]["annulation_jours_ouvres"]
    return Model("Annulations", fields, {}, lambda key: None, ("nir", "rdv_annule"), ("date_rdv",),
                 _cancel_intro(days), lambda f: _HELP_CANCEL_MOTIF if f.key == "motif" else _HELP.get(f.key, ""))


def write_templates(genre: str, folder: Path) -> list[Path]:
    stem = "modele-demande-visite" if genre == VISIT else "modele-annulation"
    spec = _spec(genre)
    return [write_xlsx_template(folder / f"{stem}.xlsx", spec), write_csv_template(folder / f"{stem}.csv", spec)]


__all__ = ["CANCEL", "VISIT", "write_templates"]
