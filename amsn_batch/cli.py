"""Command line: a thin layer over the library. Options → one call → a French summary and an exit code.

Exit codes: 0 done (even when lines or files were refused: that is in the acknowledgements),
1 configuration or system error (one French line on stderr), 2 wrong usage,
3 another run of `traiter` holds the lock (this one did nothing).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .config import ConfigError, Settings, load_settings
from .lock import AlreadyRunning

app = typer.Typer(
    help="amsn-batch : échanges de fichiers entre le service de santé au travail, ses adhérents et leurs mandataires.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
adherents_app = typer.Typer(help="Registre des adhérents, établissements et mandataires.", no_args_is_help=True)
app.add_typer(adherents_app, name="adherents")
sftp_app = typer.Typer(help="Comptes de dépôt SFTP des expéditeurs (OpenSSH, chroot, clés).", no_args_is_help=True)
app.add_typer(sftp_app, name="sftp")

EXIT_ALREADY_RUNNING = 3

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Fichier de réglages TOML (par défaut ./amsn-batch.toml).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Journal détaillé pour l'exploitation.")]


class Fatal(Exception):
    """A configuration or system error: one French line, exit code 1."""


def _settings(config: Optional[Path], verbose: bool = False, quiet_level: int = logging.WARNING) -> Settings:
    from .logs import setup

    setup(logging.DEBUG if verbose else quiet_level)
    return load_settings(config)


@app.command("traiter")
def traiter(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Traite tous les fichiers prêts dans inbox/<expéditeur>/ et écrit les accusés de réception.

    Un seul traitement à la fois : si un autre est en cours, s'arrête aussitôt (code de sortie 3)."""
    from .pipeline import run

    settings = _settings(config, verbose, quiet_level=logging.INFO)
    results = run(settings)
    if not results:
        typer.echo("Aucun fichier à traiter.")
        return
    from .logs import mask_text

    for r in results:  # a file name may carry a NIR: masked like in the logs
        typer.echo(mask_text(f"{r.sender}/{r.name} : {r.status} → {r.ack[0].parent if r.ack else '-'}"))
    typer.echo(f"{len(results)} fichier(s) traité(s). Accusés de réception dans {settings.paths.outbox}")
    failed = [r for r in results if r.status == "erreur"]
    if failed:
        raise Fatal(f"{len(failed)} fichier(s) n'ont pas pu être traités (voir le journal) ; "
                    "ils seront repris au prochain traitement.")


@app.command("statut")
def statut(
    derniers: Annotated[int, typer.Option("--derniers", min=1, help="Nombre de traitements récents à afficher.")] = 10,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Fichiers en attente, retenus, en quarantaine, et les derniers traitements avec leurs comptes."""
    from .status import report

    settings = _settings(config, verbose)
    for line in report(settings, derniers):
        typer.echo(line)


@sftp_app.command("ajouter")
def sftp_ajouter(
    expediteur: Annotated[str, typer.Argument(help="N° adhérent ou code mandataire (dossier de dépôt).")],
    cle: Annotated[Path, typer.Option("--cle", help="Clé publique OpenSSH de l'expéditeur (fichier .pub).", exists=True, dir_okay=False)],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Crée le compte SFTP d'un expéditeur (root) : chroot avec depot/ et retour/, reliés à inbox/ et outbox/."""
    from .sftp import SftpError, add_account
    from .store import connect

    settings = _settings(config, verbose)
    settings.ensure_dirs()
    db = connect(settings.paths.database)
    try:
        known = {r[0] for r in db.conn.execute("SELECT numero FROM adherents UNION SELECT code FROM mandataires")}
    finally:
        db.conn.close()
    try:
        for line in add_account(settings, expediteur, cle, known):
            typer.echo(line)
    except SftpError as exc:
        raise Fatal(str(exc)) from None


@sftp_app.command("config-sshd")
def sftp_config_sshd(config: ConfigOpt = None) -> None:
    """Affiche le bloc de configuration sshd des comptes SFTP (à placer dans /etc/ssh/sshd_config.d/)."""
    from .sftp import sshd_snippet

    typer.echo(sshd_snippet(_settings(config)), nl=False)


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


@app.command("demo")
def demo(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Démonstration : importe le registre d'exemple, dépose les fichiers d'exemple et lance le traitement."""
    from .demo import run_demo

    settings = _settings(config, verbose)
    for line in run_demo(settings):
        typer.echo(line)


def main() -> None:
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except AlreadyRunning as exc:
        print(f"amsn-batch : {exc}", file=sys.stderr)
        sys.exit(EXIT_ALREADY_RUNNING)
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
