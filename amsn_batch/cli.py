"""Command line: a thin layer over the library. Options → one call → a French summary and an exit code.

Exit codes: 0 done (even when lines or files were refused: that is in the acknowledgements),
1 configuration or system error (one French line on stderr), 2 wrong usage.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="amsn-batch : échanges de fichiers entre le service de santé au travail, ses adhérents et leurs mandataires.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
adherents_app = typer.Typer(help="Registre des adhérents, établissements et mandataires.", no_args_is_help=True)
app.add_typer(adherents_app, name="adherents")
liste_app = typer.Typer(help="Listes complètes du personnel retenues pour vérification.", no_args_is_help=True)
app.add_typer(liste_app, name="liste")

rapport_app = typer.Typer(help="Rapports pour le personnel du service.", no_args_is_help=True)
app.add_typer(rapport_app, name="rapport")

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Fichier de réglages TOML (par défaut ./amsn-batch.toml).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Journal détaillé pour l'exploitation.")]


class Fatal(Exception):
    """A configuration or system error: one French line, exit code 1."""


def _settings(config: Optional[Path], verbose: bool = False) -> Settings:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    return load_settings(config)


@app.command("traiter")
def traiter(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Traite tous les fichiers prêts dans inbox/<expéditeur>/ et écrit les accusés de réception."""
    from .pipeline import run

    settings = _settings(config, verbose)
    results = run(settings)
    if not results:
        typer.echo("Aucun fichier à traiter.")
        return
    for r in results:
        typer.echo(f"{r.sender}/{r.name} : {r.status} → {r.ack[0].parent if r.ack else '-'}")
    typer.echo(f"{len(results)} fichier(s) traité(s). Accusés de réception dans {settings.paths.outbox}")


@app.command("valider")
def valider(
    fichier: Annotated[Path, typer.Argument(help="Fichier à contrôler.", exists=True, dir_okay=False)],
    expediteur: Annotated[str, typer.Option("--expediteur", help="N° adhérent ou code mandataire de l'expéditeur.")],
    sortie: Annotated[Path, typer.Option("--sortie", help="Dossier où écrire l'accusé de réception.")],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Contrôle un fichier sans rien enregistrer (essai à blanc) et écrit l'accusé dans --sortie."""
    from .pipeline import dry_run

    settings = _settings(config, verbose)
    checked, paths = dry_run(settings, fichier, expediteur, sortie)
    rec = checked.record
    blocking = int((checked.findings["gravite"] == "bloquant").sum())
    typer.echo(f"{fichier.name} : {rec.status} — {rec.rows} ligne(s), {rec.accepted} acceptée(s), "
               f"{rec.refused} refusée(s), {blocking} anomalie(s) bloquante(s), {rec.warnings} avertissement(s).")
    typer.echo("Aucune donnée n'a été enregistrée (essai à blanc).")
    typer.echo(f"Accusé de réception : {paths[0].parent}")


@adherents_app.command("importer")
def adherents_importer(
    fichier: Annotated[Path, typer.Argument(help="Registre des adhérents (CSV ou XLSX, une ligne par établissement).", exists=True, dir_okay=False)],
    mandats: Annotated[Optional[Path], typer.Option("--mandats", help="Fichier des mandats (Mandataire ; N° adhérent), si ce n'est pas la 2e feuille du classeur.", exists=True, dir_okay=False)] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Importe ou met à jour le registre des adhérents et des mandats (avec historique)."""
    from .registry import import_registry
    from .store import connect

    settings = _settings(config, verbose)
    db = connect(settings.paths.database)
    try:
        report = import_registry(db, fichier, mandats)
    finally:
        db.conn.close()
    for r in report.findings.to_dict("records"):
        typer.echo(f"{r['fichier']} ligne {r['ligne']} [{r['colonne']}] {r['gravite']} {r['code']} : {r['message']}", err=True)
    if not report.applied:
        typer.echo("Registre refusé : corrigez les anomalies bloquantes ci-dessus ; rien n'a été modifié.", err=True)
        raise typer.Exit(1)
    c = report.counts
    typer.echo(f"Registre importé : {c['adherents']} adhérent(s) et {c['etablissements']} établissement(s) ajoutés, "
               f"{c['modifications']} fiche(s) modifiée(s), {c['mandats']} mandat(s) ajouté(s), {c['mandats_retires']} retiré(s).")


@liste_app.command("valider")
def liste_valider(
    fichier: Annotated[str, typer.Argument(help="Nom du fichier retenu, ou début de son empreinte SHA-256.")],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Libère une liste complète retenue (trop de sorties) : elle est appliquée et son accusé réécrit."""
    from .pipeline import ReleaseError, release

    settings = _settings(config, verbose)
    try:
        r = release(settings, fichier)
    except ReleaseError as exc:
        raise Fatal(str(exc)) from exc
    typer.echo(f"{r.sender}/{r.name} : {r.status} → {r.ack[0].parent}")


@app.command("regles")
def regles(
    doc: Annotated[Optional[Path], typer.Option("--doc", help="Écrit la page des règles (Markdown) dans ce fichier.")] = None,
) -> None:
    """Affiche le catalogue des règles de contrôle (ou écrit docs/regles.md avec --doc)."""
    from .rules.doc import rules_markdown

    text = rules_markdown()
    if doc is None:
        typer.echo(text)
        return
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    typer.echo(f"Page des règles écrite : {doc}")

@rapport_app.command("quotidien")
def rapport_quotidien(
    date: Annotated[Optional[str], typer.Option("--date", help="Jour du tableau de bord, JJ/MM/AAAA (par défaut : aujourd'hui).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Écrit le tableau de bord du jour (page HTML) et l'index des jours précédents dans le dossier des rapports."""
    import datetime as dt

    from .reports.dashboard import parse_day, write_daily

    settings = _settings(config, verbose)
    try:
        day = parse_day(date) if date else dt.date.today()
    except ValueError as exc:
        typer.echo(f"amsn-batch : {exc}", err=True)
        raise typer.Exit(2)
    page, index = write_daily(settings, day)
    typer.echo(f"Tableau de bord du {day:%d/%m/%Y} : {page}")
    typer.echo(f"Index des jours : {index}")


@app.command("demo")
def demo(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Démonstration : importe le registre d'exemple, dépose les fichiers d'exemple et lance le traitement."""
    from .demo import run_demo

    settings = _settings(config, verbose)
    for line in run_demo(settings):
        typer.echo(line)


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click returns the code of typer.Exit in this mode
    except (ConfigError, Fatal) as exc:
        print(f"amsn-batch : {exc}", file=sys.stderr)
        sys.exit(1)
    except sqlite3.Error as exc:
        print(f"amsn-batch : erreur de la base de données ({exc}).", file=sys.stderr)
        sys.exit(1)
    except OSError as exc:
        print(f"amsn-batch : erreur système ({exc.strerror or exc} : {exc.filename or ''}).", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
    sys.exit(code if isinstance(code, int) else 0)
