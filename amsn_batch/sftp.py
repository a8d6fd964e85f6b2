"""SFTP drop accounts for senders, on the system's OpenSSH server.

One system account per sender, in the SFTP-only group; sshd (cron/sshd-amsn-batch.conf, or
`amsn-batch sftp config-sshd`) chroots the group's members into their home folder and allows them nothing
but internal-sftp, with a key. The layout, for sender X and the settings' [sftp] table:

    <racine>/X/            root:root 0755      the chroot (sshd demands root-owned, not group/other-writable)
    <racine>/X/depot/      X:<batch> 2770      the sender writes; the batch user takes files out (rename)
    <racine>/X/retour/     <batch>:X 2750      the batch user writes acknowledgements; the sender reads
    <cles>/<account>       root:root 0644      the sender's public keys, outside any chroot
    inbox/X  → <racine>/X/depot                the pipeline's drop and answer folders are symlinks into the
    outbox/X → <racine>/X/retour               chroot: the pipeline itself does not change

where <batch> is the user running `traiter` ([sftp] utilisateur_traitement). Another sender's folders are
out of reach twice: outside its chroot, and closed by owner and mode (no access for "others").
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path

from .config import Settings
from .store import connect
from .store.registry import known_sender_codes

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}")
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
NOLOGIN = next((p for p in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false") if os.path.exists(p)), "/usr/sbin/nologin")


class SftpError(Exception):
    """French message for the administrator."""


def account_name(settings: Settings, code: str) -> str:
    return f"{settings.sftp.account_prefix}{code.lower()}"


def sshd_snippet(settings: Settings) -> str:
    """The sshd_config block for the SFTP-only group (to put in /etc/ssh/sshd_config.d/)."""
    s = settings.sftp
    return f"""\
# amsn-batch : comptes de dépôt SFTP des expéditeurs (un compte par expéditeur, créé par
# `amsn-batch sftp ajouter`). Fichier produit par `amsn-batch sftp config-sshd` ; à placer dans
# /etc/ssh/sshd_config.d/amsn-batch.conf, puis : sshd -t && systemctl reload ssh
# Le fichier sshd_config principal doit déclarer un sous-système sftp (Debian : « Subsystem sftp
# /usr/lib/openssh/sftp-server », présent par défaut) ; ForceCommand ci-dessous le remplace par internal-sftp.
Match Group {s.group}
    # Clés seulement, lues hors du chroot dans un dossier que seul root modifie.
    AuthorizedKeysFile {s.keys}/%u
    AuthenticationMethods publickey
    PubkeyAuthentication yes
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    # Enfermé dans {s.root}/<EXPEDITEUR> (son dossier personnel), SFTP seulement, départ dans depot/,
    # fichiers créés sans droits pour les autres, pas de liens (symboliques ou physiques).
    ChrootDirectory %h
    ForceCommand internal-sftp -d /depot -u 0027 -P symlink,hardlink
    # Ni terminal, ni redirection, ni tunnel.
    PermitTTY no
    PermitUserRC no
    AllowTcpForwarding no
    AllowStreamLocalForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    PermitListen none
    PermitOpen none
    GatewayPorts no
"""


def parse_keys(text: str) -> list[tuple[str, str, str]]:
    """(type, base64 blob, comment) for each public key of an OpenSSH .pub file; SftpError otherwise."""
    if "PRIVATE KEY" in text:
        raise SftpError("Ce fichier contient une clé PRIVÉE : ne la transmettez à personne. "
                        "Demandez à l'expéditeur le fichier .pub (sa clé publique).")
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[0] not in KEY_TYPES:
            raise SftpError(f"Ligne {n} : ce n'est pas une clé publique OpenSSH (attendu : « ssh-ed25519 AAAA… commentaire », "
                            f"types acceptés : {', '.join(KEY_TYPES)}).")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise SftpError(f"Ligne {n} : la clé publique est tronquée ou altérée (base64 invalide).") from None
        kind_len = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
        if blob[4:4 + kind_len].decode("ascii", "replace") != parts[0]:
            raise SftpError(f"Ligne {n} : la clé publique est altérée (son contenu ne correspond pas au type {parts[0]}).")
        comment = parts[2] if len(parts) > 2 else ""
        keys.append((parts[0], parts[1], re.sub(r"[^\w@.+-]", "_", comment)[:80]))
    if not keys:
        raise SftpError("Le fichier ne contient aucune clé publique.")
    return keys


def fingerprint(blob_b64: str) -> str:
    digest = hashlib.sha256(base64.b64decode(blob_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _run(*cmd: str) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise SftpError(f"Commande système introuvable : {cmd[0]} (paquet passwd).") from None
    except subprocess.CalledProcessError as exc:
        raise SftpError(f"Échec de « {' '.join(cmd)} » : {exc.stderr.strip() or exc.returncode}") from None


def _group(name: str) -> grp.struct_group:
    try:
        return grp.getgrnam(name)
    except KeyError:
        _run("groupadd", "--system", name)
        return grp.getgrnam(name)


def _check_chroot_path(path: Path) -> None:
    """sshd refuses a chroot when the folder or any folder above it is not root's, or is writable by others."""
    for p in [path, *path.parents]:
        st = os.stat(p)
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise SftpError(f"sshd refusera le chroot : le dossier {p} doit appartenir à root et n'être modifiable "
                            "que par lui (chown root:root, chmod 755). Choisissez une autre racine ([sftp] racine) "
                            "ou corrigez ce dossier.")


def _dir(path: Path, uid: int, gid: int, mode: int) -> None:
    path.mkdir(exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise SftpError(f"{path} existe et n'est pas un dossier.")
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _wire(link: Path, target: Path, uid: int | None = None, gid: int | None = None) -> str:
    """Make `link` (inbox/X or outbox/X) a symlink to `target`, moving what it held into target."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return "déjà relié"
        link.unlink()
    elif link.is_dir():
        for item in sorted(link.iterdir()):
            dest = target / item.name
            if dest.exists():
                raise SftpError(f"{item} existe aussi dans {target} : déplacez-le à la main, puis relancez la commande.")
            shutil.move(str(item), str(dest))
            if uid is not None:
                os.chown(dest, uid, gid)
                os.chmod(dest, 0o640)
        link.rmdir()
    elif link.exists():
        raise SftpError(f"{link} existe et n'est pas un dossier.")
    link.symlink_to(target, target_is_directory=True)
    return "relié"


def create_account(settings: Settings, code: str, key_file: Path) -> list[str]:
    """`amsn-batch sftp ajouter`: the account of a sender known to the registry (see add_account)."""
    settings.ensure_dirs()
    db = connect(settings.paths.database)
    try:
        known = known_sender_codes(db.conn)
    finally:
        db.conn.close()
    return add_account(settings, code, key_file, known)


def add_account(settings: Settings, code: str, key_file: Path, known_senders: set[str]) -> list[str]:
    """Create (or complete) the SFTP account of a sender; returns what was done, in French."""
    if os.geteuid() != 0:
        raise SftpError("Cette commande crée un compte système : lancez-la en root (sudo amsn-batch sftp ajouter …).")
    if not CODE.fullmatch(code):
        raise SftpError(f"Code d'expéditeur invalide : « {code} » (lettres, chiffres, tiret ou souligné ; 31 caractères au plus).")
    if code not in known_senders:
        raise SftpError(f"L'expéditeur {code} n'est ni un adhérent ni un mandataire du registre : importez d'abord "
                        "le registre (amsn-batch adherents importer), puis relancez.")
    try:
        keys = parse_keys(key_file.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise SftpError(f"Clé illisible : {key_file} ({exc.strerror}).") from None
    s = settings.sftp
    name = account_name(settings, code)
    if len(name) > 32:
        raise SftpError(f"Nom de compte trop long : {name} (32 caractères au plus) ; raccourcissez [sftp] prefixe_compte.")
    try:
        batch = pwd.getpwnam(s.batch_user)
    except KeyError:
        raise SftpError(f"L'utilisateur qui lance les traitements, « {s.batch_user} » ([sftp] utilisateur_traitement), "
                        "n'existe pas : créez-le d'abord (voir le README, « Planification »).") from None
    done = []
    sftp_group = _group(s.group)
    chroot = s.root / code
    try:
        user = pwd.getpwnam(name)
        if Path(user.pw_dir) != chroot:
            raise SftpError(f"Le compte {name} existe déjà avec un autre dossier ({user.pw_dir}) : choisissez un autre "
                            "préfixe ([sftp] prefixe_compte) ou supprimez ce compte.")
        if name not in sftp_group.gr_mem and user.pw_gid != sftp_group.gr_gid:
            _run("usermod", "--append", "--groups", s.group, name)
        done.append(f"Compte système {name} : existait déjà.")
    except KeyError:
        _run("useradd", "--system", "--user-group", "--groups", s.group, "--home-dir", str(chroot), "--no-create-home",
             "--shell", NOLOGIN, "--comment", f"amsn-batch SFTP {code}", name)
        done.append(f"Compte système {name} créé (groupe {s.group}, sans shell, sans mot de passe).")
        user = pwd.getpwnam(name)
    # '*': no password can match, but the account is not "locked" (sshd refuses locked accounts, keys too).
    _run("usermod", "--password", "*", name)

    s.root.mkdir(parents=True, exist_ok=True)
    _check_chroot_path(s.root)
    _dir(chroot, 0, 0, 0o755)
    _dir(chroot / "depot", user.pw_uid, batch.pw_gid, 0o2770)
    _dir(chroot / "retour", batch.pw_uid, user.pw_gid, 0o2750)
    done.append(f"Dossier du compte (chroot) : {chroot}")
    done.append(f"  depot/  : l'expéditeur y dépose ; {s.batch_user} les prend → {settings.paths.inbox / code}")
    done.append(f"  retour/ : accusés de réception, en lecture seule pour l'expéditeur → {settings.paths.outbox / code}")
    _wire(settings.paths.inbox / code, chroot / "depot")
    _wire(settings.paths.outbox / code, chroot / "retour", batch.pw_uid, user.pw_gid)

    s.keys.mkdir(parents=True, exist_ok=True)
    os.chown(s.keys, 0, 0)
    os.chmod(s.keys, 0o755)
    _check_chroot_path(s.keys)  # sshd's StrictModes applies the same rule to the keys' folders
    key_path = s.keys / name
    lines = key_path.read_text(encoding="utf-8").splitlines() if key_path.exists() else []
    present = {line.split()[2] for line in lines if len(line.split()) > 2}
    for kind, blob, comment in keys:
        if blob in present:
            done.append(f"Clé {kind} {fingerprint(blob)} : déjà autorisée.")
            continue
        lines.append(f"restrict {kind} {blob} {comment}".rstrip())
        present.add(blob)
        done.append(f"Clé {kind} {fingerprint(blob)} autorisée.")
    tmp = key_path.with_name(f".{key_path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chown(tmp, 0, 0)
    os.chmod(tmp, 0o644)
    os.replace(tmp, key_path)
    done.append(f"Clés autorisées : {key_path}")
    done.append(f"Connexion : sftp {name}@<serveur> (configuration sshd : amsn-batch sftp config-sshd).")
    return done
