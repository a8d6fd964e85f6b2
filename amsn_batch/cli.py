"""Command line: a thin layer over the library. Options → one call → a French summary and an exit code.

Exit codes: 0 done (even when lines or files were refused: that is in the acknowledgements),
1 configuration or system error (one French line on stderr), 2 wrong usage,
3 another run of `traiter` holds the lock (this one did nothing).

Each command imports the library module it calls inside its function, on purpose: `amsn-batch --help`, a usage
error or `statut` must not pay for pandas and the readers (importing the pipeline takes 1 to 3 s here). The import
contracts (pyproject.toml) prove that nothing imports this module, so these are never a dodged cycle.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import billing, cli_fr
from .config import ConfigError, Settings, load_settings
from .lock import AlreadyRunning
from .masking import scrub
from .store import StoreError
from .formats import money_fr

cli_fr.french_help()

app = typer.Typer(
    help="amsn-batch : échanges de fichiers entre le service de santé au travail, ses adhérents et leurs mandataires.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
adherents_app = typer.Typer(help="Registre des adhérents, établissements et mandataires.", no_args_is_help=True)
app.add_typer(adherents_app, name="adherents")
modele_app = typer.Typer(help="Modèles de fichiers à remplir par les expéditeurs.", no_args_is_help=True)
app.add_typer(modele_app, name="modele")
liste_app = typer.Typer(help="Listes complètes du personnel retenues pour vérification.", no_args_is_help=True)
app.add_typer(liste_app, name="liste")

rapport_app = typer.Typer(help="Rapports pour le personnel du service.", no_args_is_help=True)
app.add_typer(rapport_app, name="rapport")
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


CLOCK_ENV = "AMSN_BATCH_MAINTENANT"


def _fixed_clock() -> dt.datetime | None:
    """For tests and demos only: `AMSN_BATCH_MAINTENANT=2026-01-12T09:30` makes `traiter` run as if it were
    that moment (reception time of the files it claims, processing time, archive month). Read here and
    nowhere else; unset in production, where the service's clock is the system's. A sender has no way to set
    it: the dates of a dropped file never count."""
    value = os.environ.get(CLOCK_ENV, "").strip()
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise Fatal(f"{CLOCK_ENV}={value!r} n'est pas une date ISO (exemple : 2026-01-12T09:30). "
                    "Retirez cette variable, réservée aux tests et démonstrations.") from None


class ProgressLine:
    """`traiter` on a terminal: one line on stderr, rewritten as each file goes through its stages (a bar, the
    file's rank, its name and its stage), cleared before a log line is written and at the end. Never used when
    stderr is not a terminal (cron, a pipe) nor with --verbose."""

    WIDTH = 20

    def __init__(self, stream) -> None:
        self.stream, self.shown = stream, False
        self.columns = shutil.get_terminal_size().columns
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)

    def __call__(self, step) -> None:  # a pipeline.Step
        filled = round(step.fraction * self.WIDTH)
        text = scrub(f"{'█' * filled}{'░' * (self.WIDTH - filled)} fichier {step.number}/{step.total} · "
                          f"{step.sender}/{step.name} · {step.stage}")
        self.stream.write("\r\x1b[K" + text[:max(10, self.columns - 1)])
        self.stream.flush()
        self.shown = True

    def filter(self, record: logging.LogRecord) -> bool:
        """As a logging filter: the line is cleared so that the log line starts on an empty line."""
        self.clear()
        return True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def close(self) -> None:
        self.clear()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)


@app.command("traiter")
def traiter(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Traite tous les fichiers prêts dans inbox/<expéditeur>/ et écrit les accusés de réception.

    Un seul traitement à la fois : si un autre est en cours, s'arrête aussitôt (code de sortie 3)."""
    from .pipeline import run

    settings = _settings(config, verbose, quiet_level=logging.INFO)
    line = ProgressLine(sys.stderr) if sys.stderr.isatty() and not verbose else None  # quiet under cron
    try:
        results = run(settings, now=_fixed_clock(), progress=line)
    finally:
        if line is not None:
            line.close()
    if not results:
        typer.echo("Aucun fichier à traiter.")
        return
    from .status import status_words

    failed = [r for r in results if r.status == "erreur"]
    for r in results:  # a file name may carry a NIR: masked like in the logs
        outcome = (f"{status_words(r.status)} → {r.ack[0].parent if r.ack else '-'}" if r.status != "erreur"
                   else "erreur, pas d'accusé : il sera repris au prochain traitement")
        typer.echo(scrub(f"{r.sender}/{r.name} : {outcome}"))
    typer.echo(f"{len(results) - len(failed)} fichier(s) traité(s), {len(failed)} en échec. "
               f"Accusés de réception dans {settings.paths.outbox}")
    if failed:
        raise Fatal(f"{len(failed)} fichier(s) n'ont pas pu être traités (voir le journal) ; "
                    "ils seront repris au prochain traitement.")


@app.command("statut")
def statut(
    derniers: Annotated[int, typer.Option("--derniers", min=1, help="Nombre de traitements récents à afficher.")] = 10,
    jours: Annotated[int, typer.Option("--jours", min=1, help="Période des fichiers refusés et reçus par expéditeur, en jours.")] = 7,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Fichiers en attente, en cours, retenus, en quarantaine, refusés, reçus par expéditeur, et les derniers
    traitements avec leurs comptes."""
    from .status import report

    settings = _settings(config, verbose)
    for line in report(settings, derniers, jours, now=_fixed_clock()):
        typer.echo(line)


envois_app = typer.Typer(help="Messages envoyés par e-mail (accusés de réception, campagne, factures).",
                         no_args_is_help=True)
app.add_typer(envois_app, name="envois")
DerniersEnvoisOpt = Annotated[int, typer.Option("--derniers", min=1, help="Nombre de messages récents à afficher.")]


@envois_app.command("liste")
def envois_liste(derniers: DerniersEnvoisOpt = 20, config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Liste les derniers messages : destinataires, objet, résultat, nombre d'essais, dernière erreur."""
    from .mail import staff_view

    for line in staff_view(_settings(config, verbose), derniers):
        typer.echo(line)


@envois_app.command("relancer")
def envois_relancer(derniers: DerniersEnvoisOpt = 20, config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Renvoie maintenant les messages en attente, en échec ou refusés par le serveur, puis liste ceux qui ne
    sont toujours pas remis."""
    from .mail import staff_view

    for line in staff_view(_settings(config, verbose), derniers, retry=True):
        typer.echo(line)


@sftp_app.command("ajouter")
def sftp_ajouter(
    expediteur: Annotated[str, typer.Argument(help="N° adhérent ou code mandataire (dossier de dépôt).")],
    cle: Annotated[Path, typer.Option("--cle", help="Clé publique OpenSSH de l'expéditeur (fichier .pub).", exists=True, dir_okay=False)],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Crée le compte SFTP d'un expéditeur (root) : chroot avec depot/ et retour/, reliés à inbox/ et outbox/."""
    from .sftp import SftpError, create_account

    try:
        for line in create_account(_settings(config, verbose), expediteur, cle):
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
    from .pipeline import Step, dry_run
    from .status import status_words

    settings = _settings(config, verbose)
    line = ProgressLine(sys.stderr) if sys.stderr.isatty() and not verbose else None

    def stage(name: str) -> None:
        if line is not None:
            line(Step(expediteur, fichier.name, 1, 1, name))

    try:
        ack, paths = dry_run(settings, fichier, expediteur, sortie, stage)
    finally:
        if line is not None:
            line.close()
    blocking = sum(f["gravite"] == "bloquant" for f in ack.findings)
    typer.echo(scrub(f"{fichier.name} : {status_words(ack.statut)} — {ack.lignes} ligne(s), {ack.lignes_acceptees} acceptée(s), "
               f"{ack.lignes_rejetees} refusée(s), {blocking} anomalie(s) bloquante(s), {ack.avertissements} avertissement(s)."))
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
    from .registry import RegistryError, import_registry_files, kept_lines

    try:
        report = import_registry_files(_settings(config, verbose), fichier, mandats)
    except RegistryError as exc:
        raise Fatal(str(exc)) from None
    for r in report.findings.to_dict("records"):
        column = f" [{r['colonne']}]" if r["colonne"] else ""
        typer.echo(f"{r['fichier']} ligne {r['ligne']}{column} {r['gravite']} {r['code']} : {r['message']}", err=True)
    if not report.applied:
        typer.echo("Registre refusé : corrigez les anomalies bloquantes ci-dessus ; rien n'a été modifié.", err=True)
        raise typer.Exit(1)
    c = report.counts
    typer.echo(f"Registre importé : {c['adherents']} adhérent(s) et {c['etablissements']} établissement(s) ajoutés, "
               f"{c['modifications']} fiche(s) modifiée(s), {c['mandats']} mandat(s) ajouté(s), {c['mandats_retires']} retiré(s).")
    for line in kept_lines(report):
        typer.echo(line)


@adherents_app.command("demande-traitee")
def adherents_demande_traitee(
    numero: Annotated[int, typer.Argument(help="Numéro de la demande, tel que `amsn-batch statut` le donne.")],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Marque traitée une demande du service facturation (nouveau SIRET ou nouvelle raison sociale reçus dans une
    fiche adhérent, jamais appliqués depuis le fichier) : elle quitte `statut` et le tableau de bord."""
    from .status import request_what
    from .store import connect
    from .store.fiche import close_request

    settings = _settings(config, verbose)
    when = (_fixed_clock() or dt.datetime.now()).isoformat(timespec="seconds")
    conn = connect(settings.paths.database).conn
    try:
        done = close_request(conn, numero, when)
    finally:
        conn.close()
    if done is None:
        raise Fatal(f"Aucune demande n° {numero} n'attend le service facturation (numéro inconnu, ou demande déjà "
                    "traitée) : `amsn-batch statut` liste les demandes en attente avec leur numéro.")
    typer.echo(scrub(f"Demande n° {done.id} traitée : {done.adherent} {done.raison_sociale} — {request_what(done)} « {done.demande} »."))


def _held_list(fichier: str, config: Optional[Path], verbose: bool, refuse: Optional[str]) -> None:
    from .pipeline import ReleaseError, release
    from .status import status_words

    settings = _settings(config, verbose)
    try:
        r = release(settings, fichier, refuse=refuse)
    except ReleaseError as exc:
        raise Fatal(str(exc)) from exc
    typer.echo(f"{r.sender}/{r.name} : {status_words(r.status)} → {r.ack[0].parent}")


@modele_app.command("effectifs")
def modele_effectifs(
    sortie: Annotated[Path, typer.Option("--sortie", help="Dossier où écrire les modèles.")] = Path("."),
    config: ConfigOpt = None,
) -> None:
    """Écrit le modèle de fichier des salariés : modele-effectifs.xlsx (notice, listes déroulantes) et .csv."""
    from .reports.template import write_csv_template, write_xlsx_template

    for path in (write_xlsx_template(sortie / "modele-effectifs.xlsx"), write_csv_template(sortie / "modele-effectifs.csv")):
        typer.echo(f"Modèle écrit : {path}")


@modele_app.command("fiche-adherent")
def modele_fiche_adherent(
    sortie: Annotated[Path, typer.Option("--sortie", help="Dossier où écrire les modèles.")] = Path("."),
    config: ConfigOpt = None,
) -> None:
    """Écrit le modèle des informations administratives de l'adhérent (TVA, facturation, contacts, situation) :
    modele-fiche-adherent.xlsx (notice, listes déroulantes) et .csv."""
    from .reports.template import fiche_model, write_csv_template, write_xlsx_template

    model = fiche_model()
    for path in (write_xlsx_template(sortie / "modele-fiche-adherent.xlsx", model),
                 write_csv_template(sortie / "modele-fiche-adherent.csv", model)):
        typer.echo(f"Modèle écrit : {path}")


HeldOpt = Annotated[str, typer.Argument(help="Nom du fichier retenu, ou début de son empreinte SHA-256.")]


@liste_app.command("valider")
def liste_valider(fichier: HeldOpt, config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Libère une liste complète retenue (trop de sorties) : elle est appliquée et son accusé réécrit."""
    _held_list(fichier, config, verbose, refuse=None)


@liste_app.command("rejeter")
def liste_rejeter(
    fichier: HeldOpt,
    motif: Annotated[str, typer.Option("--motif", help="Raison du refus, reprise dans l'accusé de réception.")] = "",
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Refuse une liste complète retenue : rien n'est appliqué, l'accusé est réécrit avec le refus."""
    _held_list(fichier, config, verbose, refuse=motif)


@app.command("regles")
def regles(
    doc: Annotated[Optional[Path], typer.Option("--doc", help="Écrit la page des règles (Markdown) dans ce fichier.")] = None,
    config: ConfigOpt = None,
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

    from .reports.dashboard import parse_day
    from .status import daily_report

    settings = _settings(config, verbose)
    try:
        day = parse_day(date) if date else dt.date.today()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--date") from None
    page, index = daily_report(settings, day)
    typer.echo(f"Tableau de bord du {day:%d/%m/%Y} : {page}")
    typer.echo(f"Index des jours : {index}")


@app.command("demo")
def demo(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Démonstration : importe le registre d'exemple, dépose les fichiers d'exemple et lance le traitement."""
    from .demo import run_demo

    settings = _settings(config, verbose)
    for line in run_demo(settings):
        typer.echo(line)


# --- declarations and billing ---------------------------------------------------------------------

declaration_app = typer.Typer(help="Déclaration annuelle des effectifs : fichiers pré-remplis, campagne, statuts.",
                              no_args_is_help=True)
app.add_typer(declaration_app, name="declaration")
paiements_app = typer.Typer(help="Paiements reçus des adhérents.", no_args_is_help=True)
app.add_typer(paiements_app, name="paiements")
contentieux_app = typer.Typer(help="Factures en contentieux (retirées de l'échéancier de l'adhérent).", no_args_is_help=True)
app.add_typer(contentieux_app, name="contentieux")

YearOpt = Annotated[int, typer.Option("--annee", help="Année déclarée ou facturée (AAAA).", min=2000, max=2100)]


def _day(value: Optional[str], option: str) -> dt.date:
    if value is None:
        return dt.date.today()
    day = billing.service.parse_day(value)
    if day is None:
        raise typer.BadParameter(f"date invalide « {value} » (JJ/MM/AAAA attendu)", param_hint=option)
    return day


@declaration_app.command("preparer")
def declaration_preparer(annee: YearOpt, config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Écrit pour chaque adhérent un fichier de déclaration pré-rempli avec les effectifs connus du service,
    dans outbox/<adhérent>/declarations/ (et chez ses mandataires), à confirmer ou corriger puis à renvoyer."""
    paths = billing.service.prepare_declarations(_settings(config, verbose), annee)
    for path in paths:
        typer.echo(f"Déclaration pré-remplie : {path}")
    typer.echo(f"{len(paths)} fichier(s) de déclaration {annee} écrit(s).")


@declaration_app.command("ouvrir")
def declaration_ouvrir(
    annee: YearOpt,
    jusqu_au: Annotated[str, typer.Option("--jusqu-au", help="Dernier jour où les déclarations sont acceptées (JJ/MM/AAAA).")],
    depuis: Annotated[Optional[str], typer.Option("--depuis", help="Premier jour (JJ/MM/AAAA ; par défaut l'ouverture habituelle).")] = None,
    adherent: Annotated[Optional[str], typer.Option("--adherent", help="Pour ce seul adhérent (par défaut : pour tous).")] = None,
    motif: Annotated[Optional[str], typer.Option("--motif", help="Raison de la dérogation (gardée dans l'historique).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Dérogation du service : ouvre (ou rouvre, ou prolonge) la campagne de déclaration d'une année."""
    settings = _settings(config, verbose)
    closes = _day(jusqu_au, "--jusqu-au")
    opens = _day(depuis, "--depuis") if depuis else None
    try:
        win = billing.service.open_campaign(settings, annee, closes, opens, adherent, motif)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    who = f"l'adhérent {adherent}" if adherent else "tous les adhérents"
    typer.echo(f"Campagne {annee} ouverte pour {who} du {win.opens:%d/%m/%Y} au {win.closes:%d/%m/%Y}.")


@declaration_app.command("fermer")
def declaration_fermer(
    annee: YearOpt,
    adherent: Annotated[Optional[str], typer.Option("--adherent", help="La dérogation de ce seul adhérent.")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Retire une dérogation : la campagne de l'année revient à la fenêtre habituelle (janvier par défaut)."""
    closed = billing.service.close_campaign(_settings(config, verbose), annee, adherent)
    if not closed.removed:
        typer.echo("Aucune dérogation en cours pour cette campagne.")
        return
    typer.echo(f"Dérogation retirée : la campagne {annee} suit la fenêtre habituelle "
               f"({closed.usual.opens:%d/%m/%Y} – {closed.usual.closes:%d/%m/%Y}).")


@declaration_app.command("statuts")
def declaration_statuts(
    annee: YearOpt,
    date: Annotated[Optional[str], typer.Option("--date", help="Date d'observation (JJ/MM/AAAA, par défaut aujourd'hui).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Liste, pour chaque adhérent, le statut de sa déclaration des effectifs de l'année."""
    settings = _settings(config, verbose)
    for r in billing.service.declaration_statuses(settings, annee, _day(date, "--date")):
        extra = f" — {r.total} salarié(s)" if r.total is not None else ""
        invoice = f" — facture {r.invoice}" if r.invoice else ""
        typer.echo(f"{r.adherent} {r.name} : {r.label}{extra}{invoice}")


@app.command("facturer")
def facturer(
    annee: YearOpt,
    date: Annotated[Optional[str], typer.Option("--date", help="Date d'émission des pièces (JJ/MM/AAAA, par défaut aujourd'hui).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Émet les factures des déclarations confirmées, les factures d'office (campagne close, pas de déclaration),
    les avoirs et nouvelles factures des déclarations tardives ou corrigées ; écrit PDF Factur-X, listes et
    échéanciers dans outbox/<adhérent>/factures/. Relancer la commande n'émet rien deux fois."""
    settings = _settings(config, verbose)
    now = _fixed_clock() or dt.datetime.now()
    issued_day = _day(date, "--date") if date else now.date()
    try:
        done = billing.service.issue_year(settings, annee, issued_day, now)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    for note in done.notes:
        typer.echo(note)
    for piece in done.issued:
        typer.echo(billing.service.summary_line(piece))
    if not done.issued:
        typer.echo(f"Aucune pièce à émettre pour {annee}.")
    else:
        typer.echo(f"{len(done.issued)} pièce(s) émise(s). Documents dans {settings.paths.outbox}/<adhérent>/factures/")


@app.command("echeanciers")
def echeanciers(
    adherent: Annotated[Optional[str], typer.Option("--adherent", help="Ce seul adhérent (par défaut : tous).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Réécrit les listes de factures et les échéanciers (CSV et XLSX) des adhérents, et les documents manquants."""
    settings = _settings(config, verbose)
    try:
        paths = billing.service.refresh_documents(settings, adherent)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    typer.echo(f"{len(paths)} fichier(s) écrit(s) dans {settings.paths.outbox}.")


@paiements_app.command("importer")
def paiements_importer(
    fichier: Annotated[Path, typer.Argument(help="Paiements reçus (CSV ou XLSX : N° facture, Date, Montant, et si possible la Référence bancaire).", exists=True, dir_okay=False)],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Enregistre des paiements ; les factures réglées apparaissent comme acquittées. Un paiement déjà enregistré
    (même facture, date, montant et référence) n'est pas enregistré deux fois, même depuis un relevé réexporté."""
    try:
        result = billing.service.record_payments(_settings(config, verbose), fichier)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    if result.already:
        typer.echo(f"{fichier.name} : fichier déjà importé, aucun paiement enregistré une seconde fois.")
        return
    for problem in result.problems:
        typer.echo(problem, err=True)
    already = f" ; {result.duplicates} déjà enregistré(s) (relevé déjà importé), ignoré(s)" if result.duplicates else ""
    typer.echo(f"{result.recorded} paiement(s) enregistré(s) sur {result.rows} ligne(s){already}.")


def _dispute(numero: str, active: bool, motif: Optional[str], config, verbose) -> None:
    try:
        adherent = billing.service.set_dispute(_settings(config, verbose), numero, active, motif)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    typer.echo(f"Facture {numero} {'mise en contentieux : retirée de' if active else 'sortie du contentieux : remise dans'} "
               f"l'échéancier de l'adhérent {adherent}.")


@contentieux_app.command("ajouter")
def contentieux_ajouter(
    numero: Annotated[str, typer.Argument(help="N° de la facture.")],
    motif: Annotated[Optional[str], typer.Option("--motif", help="Raison (gardée dans l'historique).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Met une facture en contentieux : elle sort de l'échéancier de l'adhérent."""
    _dispute(numero, True, motif, config, verbose)


@contentieux_app.command("retirer")
def contentieux_retirer(
    numero: Annotated[str, typer.Argument(help="N° de la facture.")],
    motif: Annotated[Optional[str], typer.Option("--motif", help="Raison (gardée dans l'historique).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Lève le contentieux d'une facture : elle revient dans l'échéancier."""
    _dispute(numero, False, motif, config, verbose)


@app.command("relances")
def relances(
    date: Annotated[Optional[str], typer.Option("--date", help="Jour des relances (JJ/MM/AAAA, par défaut aujourd'hui).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Relance les factures impayées aux étapes des réglages ([facturation] relances, par exemple 15, 30 et 45 jours de
    retard, la dernière étant la mise en demeure avec pénalités et indemnité forfaitaire) ; écrit les lettres (PDF) dans
    outbox/<adhérent>/relances/, le fichier de publipostage du jour et la liste des impayés par ancienneté dans le
    dossier de la comptabilité. Une étape n'est jamais envoyée deux fois ; les factures en contentieux ne sont pas
    relancées."""
    settings = _settings(config, verbose)
    now = _fixed_clock() or dt.datetime.now()
    day = _day(date, "--date") if date else now.date()
    try:
        done = billing.service.send_reminders(settings, day, now)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    for line in done.sent:
        typer.echo(line)
    typer.echo(f"{len(done.sent)} lettre(s) de relance au {day:%d/%m/%Y}." if done.sent
               else f"Aucune relance à envoyer au {day:%d/%m/%Y}.")
    if done.merge_path:
        typer.echo(f"Publipostage du jour : {done.merge_path}")
    typer.echo(f"Factures impayées : {done.list_paths[0]} (et .xlsx)")


@app.command("journal")
def journal_cmd(
    du: Annotated[str, typer.Option("--du", help="Premier jour de la période (JJ/MM/AAAA).")],
    au: Annotated[str, typer.Option("--au", help="Dernier jour de la période (JJ/MM/AAAA).")],
    sortie: Annotated[Optional[Path], typer.Option("--sortie", help="Fichier à écrire, ou dossier pour le FEC (par défaut le dossier [facturation] comptabilite).")] = None,
    format_: Annotated[str, typer.Option("--format", help="csv (lisible) ou fec (fichier des écritures comptables, article A47 A-1 du LPF).")] = "csv",
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Journal des ventes (factures et avoirs) et de banque (règlements) d'une période, pour la comptabilité :
    CSV lisible ou FEC, chaque écriture équilibrée, lettrage compris."""
    if format_ not in ("csv", "fec"):
        raise typer.BadParameter(f"format inconnu « {format_} » (csv ou fec)", param_hint="--format")
    settings = _settings(config, verbose)
    try:
        done = billing.service.write_journal(settings, _day(du, "--du"), _day(au, "--au"), sortie, format_)
    except billing.BillingError as exc:
        raise Fatal(str(exc)) from exc
    typer.echo(f"Journal des ventes : {done.pieces} pièce(s), journal de banque : {done.payments} règlement(s), "
               f"débit {money_fr(done.debit)}, crédit {money_fr(done.credit)} → {done.path}")


@app.command("synthese")
def synthese(
    annee: YearOpt,
    adherent: Annotated[Optional[str], typer.Option("--adherent", help="La synthèse de ce seul adhérent.")] = None,
    service: Annotated[bool, typer.Option("--service", help="La seule synthèse de tout le service (dossier des rapports).")] = False,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Synthèse d'activité de l'année (page HTML et PDF) : effectifs par catégorie de suivi et mouvements, fichiers
    envoyés et taux de refus, déclaration, factures, paiements et solde. Par adhérent dans
    outbox/<adhérent>/synthese/ (et chez ses mandataires) ; pour tout le service dans le dossier des rapports.
    Sans option : la synthèse du service et celle de chaque adhérent."""
    from .activity import SummaryError, write_summaries

    if adherent is not None and service:
        raise typer.BadParameter("--adherent et --service ne vont pas ensemble : choisissez l'un ou l'autre.",
                                 param_hint="--service")
    settings = _settings(config, verbose)
    try:
        done = write_summaries(settings, annee, adherent, service, now=_fixed_clock())
    except SummaryError as exc:
        raise Fatal(str(exc)) from None
    if done.service is not None:
        typer.echo(f"Synthèse {annee} du service : {done.service}")
    if adherent is not None:
        typer.echo(f"Synthèse {annee} de l'adhérent {adherent} : {done.paths[0]} (et .pdf)")
    elif done.members:
        typer.echo(f"{done.members} synthèse(s) d'adhérent {annee} écrite(s) dans {settings.paths.outbox}/<adhérent>/synthese/")


# --- appointments (docs/rendez-vous.md) -----------------------------------------------------------

rdv_app = typer.Typer(help="Rendez-vous : planning du logiciel médical, demandes des adhérents, visites à prévoir.",
                      no_args_is_help=True)
app.add_typer(rdv_app, name="rendez-vous")


@rdv_app.command("importer")
def rdv_importer(
    fichier: Annotated[Path, typer.Argument(help="Planning exporté du logiciel médical (CSV ou XLSX).", exists=True, dir_okay=False)],
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Importe le planning des rendez-vous (avec historique : un rendez-vous déplacé ou annulé garde son passé) et
    réécrit les rendez-vous à venir de chaque adhérent (CSV, XLSX, iCalendar) dans outbox/<adhérent>/rendez-vous/
    et chez ses mandataires. Réimporter le même export ne change rien."""
    from .appointments.planning import PlanningError, import_planning

    settings = _settings(config, verbose)
    try:
        done = import_planning(settings, fichier, _fixed_clock() or dt.datetime.now())
    except PlanningError as exc:
        raise Fatal(str(exc)) from None
    c = done.counts
    typer.echo(f"{fichier.name} : {done.rows} ligne(s) — {c['nouveaux']} rendez-vous nouveau(x), {c['modifies']} "
               f"modifié(s), {c['inchanges']} inchangé(s).")
    if c["absences_facturables"]:
        typer.echo(f"{c['absences_facturables']} absence(s) non excusée(s) enregistrée(s) pour la facturation.")
    if done.report is not None:
        typer.echo(f"{c['problemes']} rendez-vous gardé(s) avec un problème (adhérent ou salarié inconnu…), "
                   f"{c['ignorees']} ligne(s) non importée(s) : voir {done.report}")
    members = len({p.name for p in done.written if p.suffix == ".ics"})
    typer.echo(f"Rendez-vous à venir écrits pour {members} adhérent(s) dans {settings.paths.outbox}/<adhérent>/rendez-vous/")



@rdv_app.command("visites")
def rdv_visites(
    date: Annotated[Optional[str], typer.Option("--date", help="Date d'observation (JJ/MM/AAAA, par défaut aujourd'hui).")] = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Visites à prévoir : pour chaque salarié présent, la prochaine visite et son échéance (embauche, catégorie de
    suivi, déterminants, dernières visites honorées ; règles du code du travail). Par adhérent dans
    outbox/<adhérent>/rendez-vous/ (et chez ses mandataires), pour le planning dans rapports/rendez-vous/ ; les plus
    en retard d'abord."""
    from .appointments.due import write_visits_due
    from .store import connect

    settings = _settings(config, verbose)
    now = _fixed_clock() or dt.datetime.now()
    day = _day(date, "--date") if date else now.date()
    written, due = write_visits_due(connect(settings.paths.database).conn, settings, day)
    late = int((due["retard"] > 0).sum())
    typer.echo(f"Visites à prévoir au {day:%d/%m/%Y} : {len(due)} salarié(s), dont {late} en retard.")
    typer.echo(f"Liste du service : {written[-2]} (et .xlsx)")


def _request_templates(genre: str, sortie: Path) -> None:
    from .appointments.templates import write_templates

    for path in write_templates(genre, sortie):
        typer.echo(f"Modèle écrit : {path}")


@modele_app.command("demande-visite")
def modele_demande_visite(
    sortie: Annotated[Path, typer.Option("--sortie", help="Dossier où écrire les modèles.")] = Path("."),
    config: ConfigOpt = None,
) -> None:
    """Écrit le modèle de demande de visite : modele-demande-visite.xlsx (notice, liste des visites) et .csv."""
    _request_templates("demande_visite", sortie)


@modele_app.command("annulation")
def modele_annulation(
    sortie: Annotated[Path, typer.Option("--sortie", help="Dossier où écrire les modèles.")] = Path("."),
    config: ConfigOpt = None,
) -> None:
    """Écrit le modèle de demande d'annulation de rendez-vous : modele-annulation.xlsx (notice) et .csv."""
    _request_templates("annulation", sortie)

def run_cli(argv: list[str] | None = None, prog_name: str | None = None) -> int:
    """`amsn-batch ARGV` (default: sys.argv[1:]): its output printed, its exit code returned. Usable in-process:
    the messages go to sys.stdout and sys.stderr as they are at the call."""
    try:
        return cli_fr.invoke(app, argv, prog_name or "amsn-batch")
    except AlreadyRunning as exc:
        print(f"amsn-batch : {exc}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    except (ConfigError, Fatal) as exc:
        print(f"amsn-batch : {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"amsn-batch : erreur de la base de données ({exc}).", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"amsn-batch : erreur système ({exc.strerror or exc} : {exc.filename or ''}).", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not the user's doing: one line here, the details in the log with --verbose
        logging.getLogger("amsn_batch").debug("erreur_inattendue", exc_info=True)
        print(f"amsn-batch : erreur inattendue ({type(exc).__name__} : {exc}). Relancez la commande avec --verbose "
              "pour le détail technique, et transmettez-le à l'équipe qui maintient amsn-batch.", file=sys.stderr)
        return 1


def main() -> None:
    """The console command: `run_cli`, then the process ends without the interpreter's teardown. That teardown
    frees every object one by one, the imported libraries' included (pandas, Arrow, pandera: 0.1 s for any
    command) and a big file's tables (0.1 s more for `valider` of a million rows), when the system takes the
    whole memory back at once. What a normal exit does that matters is done first: the threads still at
    work finish, the atexit handlers run (the log's last lines flushed), the output is flushed."""
    import atexit
    import threading

    code = run_cli()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`amsn-batch statut | head`): nothing more can be said
            pass
    os._exit(code)
