"""Settings from a TOML file.

Every path in the file is relative to the file itself, so that a settings file and its folders can be
moved together. Without a settings file, the defaults point inside the current directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .settings_file import ConfigError, read_toml
from .tariffs import Billing, load_billing

CONFIG_ENV = "AMSN_BATCH_CONFIG"
DEFAULT_NAME = "amsn-batch.toml"


@dataclass(frozen=True)
class Paths:
    inbox: Path
    outbox: Path
    archive: Path
    quarantine: Path
    database: Path | str  # a SQLite file, or a PostgreSQL URL (is_database_url) kept as written
    rapports: Path = Path("rapports")  # staff dashboard pages (amsn-batch rapport quotidien)
    annuaire: Path | None = None  # service directory (contacts); None: schemas/annuaire.toml
    travail: Path | None = None  # claimed files while they go through the stages (same filesystem as inbox, ideally)
    envois: Path | None = None  # e-mails written as .eml files when there is no [smtp] table

    def __post_init__(self) -> None:
        if self.travail is None:  # Paths built by hand (tests, older callers): next to the store
            beside = self.inbox if is_database_url(self.database) else self.database
            object.__setattr__(self, "travail", beside.parent / "travail")
        if self.envois is None:
            beside = self.inbox if is_database_url(self.database) else self.database
            object.__setattr__(self, "envois", beside.parent / "envois")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 200 * 1024 * 1024
    max_rows: int = 2_000_000
    max_columns: int = 200
    findings_per_code: int = 200
    max_rejects_rows: int = 50_000  # above this, no correction workbook (the ack says so)
    max_unzipped_bytes: int = 1024 * 1024 * 1024  # total uncompressed size of a workbook (zip bomb guard)
    max_zip_ratio: int = 200  # compression ratio above which a large workbook member is refused
    max_read_bytes: int = 4096 * 1024 * 1024  # address space of the child process that reads a workbook
    max_cell_chars: int = 2000  # a longer value refuses its line
    background_rejects_rows: int = 500  # from this many refused rows, the correction workbook is written by a
    # second process while the store is written


@dataclass(frozen=True)
class Intake:
    """When a dropped file is ready to be taken ([depot] table)."""

    stable_seconds: float = 5.0  # size, mtime and ctime unchanged for this long
    incomplete_seconds: float = 600.0  # longer delay for a file that looks cut (no final newline, no zip end)
    max_wait_seconds: float = 30.0  # a run waits at most this long for files about to become stable
    marker_required: bool = False  # take only files announced by a <name>.ok or <name>.done marker


@dataclass(frozen=True)
class Sftp:
    """SFTP drop accounts ([sftp] table): one chrooted, SFTP-only system account per sender."""

    root: Path = Path("/srv/amsn-batch/sftp")  # <root>/<EXPEDITEUR>/ is the chroot, with depot/ and retour/
    group: str = "amsn-sftp"  # group of the SFTP-only accounts, the sshd `Match Group`
    keys: Path = Path("/etc/ssh/amsn-batch-cles")  # authorized keys, one file per account, outside the chroots
    account_prefix: str = "amsn-"  # account name = prefix + sender code in lower case
    batch_user: str = "amsn"  # the user running `traiter`: takes files from depot/, writes retour/


SECURITY = ("starttls", "ssl", "aucune")


@dataclass(frozen=True)
class Smtp:
    """The mail server ([smtp] table). The password is never in the settings file: it is read, when a message
    is sent, from the environment variable `password_env` or the file `password_file`."""

    host: str
    port: int = 587
    security: str = "starttls"  # SECURITY: STARTTLS on a plain connection, TLS from the start, or none
    user: str = ""  # empty: no AUTH
    password_env: str = ""
    password_file: Path | None = None
    ca_file: Path | None = None  # certificates to trust besides the system's (a private CA, a self-signed server)
    sender: str = ""  # From:; empty: [envois] expediteur
    tries: int = 3  # attempts per message within one run (then retried at the next run)
    retry_delay: float = 2.0  # seconds before the 2nd attempt, doubled at each next one (capped at 60 s)
    timeout: float = 30.0  # seconds to connect or for any server reply


DEFAULT_SENDER = "Service de santé au travail <ne-pas-repondre@localhost>"


@dataclass(frozen=True)
class Mail:
    """E-mail notices: the server (None: messages written as .eml files in [paths] envois), the From: address,
    and who opted in to get the correction workbook attached to their acknowledgement ([envois] table)."""

    smtp: Smtp | None = None
    sender: str = DEFAULT_SENDER
    workbook_for: frozenset[str] | bool = False  # True: every sender; a set: these senders' codes

    @property
    def from_address(self) -> str:
        return (self.smtp.sender if self.smtp and self.smtp.sender else "") or self.sender


@dataclass(frozen=True)
class Settings:
    paths: Paths
    limits: Limits = field(default_factory=Limits)
    source: Path | None = None
    list_exit_threshold: float = 0.20  # [listes] seuil_sorties: share of a member's staff a full list may exit
    billing: Billing | None = None  # [facturation], [declaration] and [tarifs.AAAA]
    intake: Intake = field(default_factory=Intake)
    sftp: Sftp = field(default_factory=Sftp)
    mail: Mail = field(default_factory=Mail)

    def ensure_dirs(self) -> None:
        """The service's folders of a run, with their modes (DIR_MODE) whatever the umask; the drop folders are
        the senders' (their modes come from the SFTP setup); rapports/ is made by the report that writes it."""
        self.paths.inbox.mkdir(parents=True, exist_ok=True)
        for p in (self.paths.outbox, self.paths.archive, self.paths.quarantine, self.paths.travail):
            make_dirs(p)
        if not is_database_url(self.paths.database):
            make_dirs(self.paths.database.parent)


def is_database_url(location) -> bool:
    """Whether `[paths] database` names a PostgreSQL database (postgresql://…) rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def shown_location(location: Path | str) -> str:
    """The store's location as shown to staff: a PostgreSQL URL without its password."""
    if not is_database_url(location):
        return str(location)
    return re.sub(r"^(\w+://[^:/@]*):[^@]*@", r"\1@", str(location))


# Modes of what the service writes (store, archive, quarantine, outbox, rapports, travail), whatever the umask:
# the service's account reads and writes, its group (staff, the SFTP accounts for outbox/) reads, others nothing.
FILE_MODE = 0o640
DIR_MODE = 0o750


def make_dirs(folder: Path) -> None:
    """`mkdir -p` giving each folder it creates DIR_MODE, whatever the umask (folders already there keep theirs)."""
    missing = []
    p = Path(folder)
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask


_PATH_DEFAULTS = {
    "inbox": "inbox",
    "outbox": "outbox",
    "archive": "archive",
    "quarantine": "quarantine",
    "database": "data/amsn.sqlite",
    "rapports": "rapports",
    "annuaire": "",
    "travail": "travail",
    "envois": "envois",
}

_OPTIONAL_PATHS = {"annuaire"}  # empty: the default shipped under schemas/

_LIMIT_KEYS = {
    "taille_max_mo": ("max_file_bytes", lambda v: int(float(v) * 1024 * 1024)),
    "lignes_max": ("max_rows", int),
    "colonnes_max": ("max_columns", int),
    "constats_par_code": ("findings_per_code", int),
    "lignes_classeur_rejets": ("max_rejects_rows", int),
    "decompression_max_mo": ("max_unzipped_bytes", lambda v: int(float(v) * 1024 * 1024)),
    "taux_compression_max": ("max_zip_ratio", int),
    "memoire_lecture_mo": ("max_read_bytes", lambda v: int(float(v) * 1024 * 1024)),
    "longueur_valeur_max": ("max_cell_chars", int),
    "classeur_rejets_en_parallele": ("background_rejects_rows", int),
}


def _seconds(v) -> float:
    x = float(v)
    if x < 0:
        raise ValueError(v)
    return x


def _flag(v) -> bool:
    if not isinstance(v, bool):
        raise ValueError(v)
    return v


def _name(v) -> str:
    if not isinstance(v, str) or not v or any(c.isspace() for c in v):
        raise ValueError(v)
    return v


_INTAKE_KEYS = {
    "delai_stabilite": ("stable_seconds", _seconds),
    "delai_fichier_incomplet": ("incomplete_seconds", _seconds),
    "attente_max": ("max_wait_seconds", _seconds),
    "marqueur_obligatoire": ("marker_required", _flag),
}
_SFTP_KEYS = {
    "racine": ("root", None),
    "groupe": ("group", _name),
    "cles": ("keys", None),
    "prefixe_compte": ("account_prefix", _name),
    "utilisateur_traitement": ("batch_user", _name),
}


def _port(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 65536:
        raise ValueError(v)
    return v


def _security(v) -> str:
    if v not in SECURITY:
        raise ValueError(v)
    return v


def _text(v) -> str:
    if not isinstance(v, str):
        raise ValueError(v)
    return v.strip()


def _tries(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10:
        raise ValueError(v)
    return v


_SMTP_KEYS = {
    "hote": ("host", _name),
    "port": ("port", _port),
    "securite": ("security", _security),
    "identifiant": ("user", _text),
    "mot_de_passe_variable": ("password_env", _name),
    "mot_de_passe_fichier": ("password_file", None),
    "certificat_ca": ("ca_file", None),
    "expediteur": ("sender", _text),
    "essais": ("tries", _tries),
    "delai_essai": ("retry_delay", _seconds),
    "delai_connexion": ("timeout", _seconds),
}


def _workbook_for(v) -> frozenset[str] | bool:
    if isinstance(v, bool):
        return v
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise ValueError(v)
    return frozenset(x.strip() for x in v)


_MAIL_KEYS = {"expediteur": ("sender", _text), "classeur_joint": ("workbook_for", _workbook_for)}


def _mail(data: dict, base: Path) -> Mail:
    """[smtp] (the server, optional) and [envois] (the messages): see docs/exploitation.md « Envois par e-mail »."""
    raw = data.get("smtp")
    smtp = None
    if raw is not None:
        if isinstance(raw, dict) and any(k in raw for k in ("mot_de_passe", "password")):
            raise ConfigError("[smtp] : le mot de passe ne s'écrit pas dans le fichier de réglages. Indiquez "
                              "mot_de_passe_variable (nom d'une variable d'environnement) ou mot_de_passe_fichier "
                              "(fichier lisible du seul compte de service).")
        kw = _table(data, "smtp", _SMTP_KEYS, base)
        if "host" not in kw:
            raise ConfigError("[smtp] hote manquant (nom ou adresse du serveur de messagerie).")
        if kw.get("security") == "ssl" and "port" not in kw:
            kw["port"] = 465
        if kw.get("user") and not (kw.get("password_env") or kw.get("password_file")):
            raise ConfigError("[smtp] identifiant sans mot de passe : indiquez mot_de_passe_variable ou "
                              "mot_de_passe_fichier.")
        smtp = Smtp(**kw)
    return Mail(smtp=smtp, **_table(data, "envois", _MAIL_KEYS, base))


def find_config(explicit: Path | None) -> Path | None:
    """The settings file to use: --config, then $AMSN_BATCH_CONFIG, then ./amsn-batch.toml."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"Fichier de configuration introuvable : {explicit}")
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"Fichier de configuration introuvable ({CONFIG_ENV}) : {p}")
        return p
    local = Path.cwd() / DEFAULT_NAME
    return local if local.is_file() else None


def load_settings(explicit: Path | None = None) -> Settings:
    path = find_config(explicit)
    data: dict = {}
    base = Path.cwd()
    if path is not None:
        data = read_toml(path, "Fichier de configuration")
        base = path.resolve().parent
    raw_paths = {**_PATH_DEFAULTS, **data.get("paths", {})}
    unknown = set(raw_paths) - set(_PATH_DEFAULTS)
    if unknown:
        raise ConfigError(f"Clé inconnue dans [paths] : {', '.join(sorted(unknown))}")
    paths = Paths(**{k: None if k in _OPTIONAL_PATHS and not v else v if is_database_url(v) else (base / v).resolve()
                     for k, v in raw_paths.items()})
    limits_kw = {}
    for key, value in data.get("limites", {}).items():
        if key not in _LIMIT_KEYS:
            raise ConfigError(
                f"Clé inconnue dans [limites] : {key} (attendu : {', '.join(_LIMIT_KEYS)})"
            )
        name, conv = _LIMIT_KEYS[key]
        try:
            limits_kw[name] = conv(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Valeur invalide pour [limites] {key} : {value!r}") from exc
    lists = data.get("listes", {})
    unknown = set(lists) - {"seuil_sorties"}
    if unknown:
        raise ConfigError(f"Clé inconnue dans [listes] : {', '.join(sorted(unknown))} (attendu : seuil_sorties)")
    threshold = lists.get("seuil_sorties", 0.20)
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"[listes] seuil_sorties doit être une part entre 0 et 1 (par exemple 0.2), pas {threshold!r}")
    intake = Intake(**_table(data, "depot", _INTAKE_KEYS, base))
    sftp = Sftp(**_table(data, "sftp", _SFTP_KEYS, base))
    return Settings(paths=paths, limits=Limits(**limits_kw), source=path, list_exit_threshold=float(threshold),
                    billing=load_billing(data, base), intake=intake, sftp=sftp, mail=_mail(data, base))


def _table(data: dict, table: str, keys: dict, base: Path) -> dict:
    """Keyword arguments from one TOML table; a converter of None means a path relative to the file."""
    out = {}
    raw = data.get(table, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"[{table}] doit être une table")
    for key, value in raw.items():
        if key not in keys:
            raise ConfigError(f"Clé inconnue dans [{table}] : {key} (attendu : {', '.join(keys)})")
        name, conv = keys[key]
        try:
            out[name] = (base / str(value)).resolve() if conv is None else conv(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Valeur invalide pour [{table}] {key} : {value!r}") from exc
    return out
