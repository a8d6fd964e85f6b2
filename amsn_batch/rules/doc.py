"""docs/regles.md, generated from the catalogue (schemas/regles.toml) and the column vocabularies."""

from __future__ import annotations

from ..vocab import catalogue, load_toml, vocabulary

INTRO = """# Règles de contrôle des fichiers

Page générée depuis `schemas/regles.toml` par `amsn-batch regles --doc docs/regles.md` : ne pas la modifier à la main.

Chaque constat d'un accusé de réception porte un **code** stable, une **gravité** et un message qui dit ce qui
ne va pas et comment le corriger :

- `bloquant` : la ligne est refusée (portée *ligne*) ou le fichier entier (portée *fichier*) ; rien de ce qui est
  refusé n'est enregistré ;
- `avertissement` : la ligne est prise en compte, mais mérite d'être vérifiée.

Un accusé liste au plus `constats_par_code` constats par code (200 par défaut, réglage `[limites]`), dit combien
d'autres il y en a, et les compte tous.

## Fichier de mouvements ou liste complète

Un fichier qui a une colonne `Mouvement` déclare des mouvements (Entrée, Sortie, Modification). Sans cette colonne,
c'est la **liste complète du personnel** des adhérents qu'il nomme, à la date de la colonne `Date de la liste`
(ou à sa date de réception) : les entrées, modifications et sorties sont déduites de la base (un salarié absent de
la liste sort à la date de la liste, sauf date de sortie donnée sur sa ligne). Une liste qui ferait sortir plus de
`seuil_sorties` (20 % par défaut, réglage `[listes]`) de l'effectif d'un adhérent est **retenue** (statut
`en_attente`) : rien n'est appliqué tant que le service ne l'a pas libérée avec `amsn-batch liste valider FICHIER`.
"""


def rules_markdown() -> str:
    out = [INTRO, "## Colonnes\n", "| en-tête | obligatoire | variantes acceptées |", "|---|---|---|"]
    spec = load_toml("colonnes.toml")["mouvements"]
    for f in vocabulary("mouvements").fields:
        if f.key.startswith("det_") or spec[f.key].get("ignoree"):
            continue
        alias = ", ".join(spec[f.key].get("alias", []))
        out.append(f"| {f.label} | {'oui' if f.required else 'non'} | {alias} |")
    out += ["", "Déterminants de suivi individuel (une colonne chacun, Oui / Non, X ou vide) :", "",
            "| déterminant | catégorie appelée |", "|---|---|"]
    for det in load_toml("determinants.toml").values():
        out.append(f"| {det['libelle']} | {det['categorie'] or 'aucune'} |")
    out += ["", "## Constats", "", "| code | gravité | portée | constat | correction |", "|---|---|---|---|---|"]
    for rule in catalogue().values():
        out.append(f"| `{rule.code}` | {rule.severity} | {rule.scope} | **{rule.title}.** {rule.message} | {rule.fix} |")
    return "\n".join(out) + "\n"
