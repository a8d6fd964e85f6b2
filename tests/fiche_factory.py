"""Fiche adhérent files for the tests: the template's headers and one row of it (blank cells change nothing)."""

from __future__ import annotations

HEADERS = ["N° adhérent", "N° TVA intracommunautaire", "Adresse de facturation et de dématérialisation",
           "Changement de situation", "Date du changement de situation", "Type de contact", "Nom", "Prénom",
           "E-mail", "Téléphone"]


def row(numero="", tva="", billing="", situation="", date="", type_="", nom="", prenom="", email="", phone=""):
    return [numero, tva, billing, situation, date, type_, nom, prenom, email, phone]
