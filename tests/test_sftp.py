"""SFTP drop folders for real: a real OpenSSH server on a localhost port, accounts made by
`amsn-batch sftp ajouter`, uploads with the OpenSSH sftp client, `traiter` run as an unprivileged batch user
(with CAP_DAC_READ_SEARCH, as the systemd unit of cron/ does). A sender gets its acknowledgements, and
nothing of another sender's; slow and interrupted uploads are taken once, whole."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Workspace, make_workspace
from tests.exchange import wait_for
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv
from tests.acks import ack_path, plain_name

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="les tests SFTP créent des comptes système et lancent "
                                "sshd : ils demandent root (la CI les lance en root)")

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class Sender:
    code: str
    account: str
    key: Path


@dataclass
class Drop:
    ws: Workspace
    base: Path
    port: int
    batch_user: str
    senders: dict[str, Sender]
    sftp_group: str

    def sftp(self, code: str, *commands: str, limit_kbps: int | None = None, popen: bool = False, key: Path | None = None,
             account: str | None = None):
        """Run sftp batch commands as a sender (a leading '-' lets a command fail without stopping the batch)."""
        s = self.senders[code]
        cmd = ["sftp", "-b", "-", "-i", str(key or s.key), "-P", str(self.port), *_SSH_OPTS]
        if limit_kbps:
            cmd += ["-l", str(limit_kbps), "-B", "1024", "-R", "1"]
        cmd.append(f"{account or s.account}@127.0.0.1")
        script = "\n".join(commands) + "\n"
        if popen:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            proc.stdin.write(script)
            proc.stdin.close()
            return proc
        return subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=300)

    def traiter(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`amsn-batch traiter` as the batch user, with only the capability the systemd unit grants."""
        batch = pwd.getpwnam(self.batch_user)
        cmd = ["setpriv", f"--reuid={batch.pw_uid}", f"--regid={batch.pw_gid}", "--init-groups",
               "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
               sys.executable, "-m", "amsn_batch", "traiter", *args, "--config", str(self.ws.config)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.ws.root, timeout=300,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def depot(self, code: str) -> Path:
        return self.base / "sftp" / code / "depot"

    def retour(self, code: str) -> Path:
        return self.base / "sftp" / code / "retour"


_SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return path


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@pytest.fixture(scope="module")
def drop():
    tag = "".join(random.choices(string.ascii_lowercase, k=5))
    Path("/srv").mkdir(mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(dir="/srv", prefix="amsn-batch-test-"))  # sshd refuses chroots under /tmp
    os.chmod(base, 0o755)
    batch_user, sftp_group, prefix = f"t{tag}-batch", f"t{tag}-sftp", f"t{tag}-"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", batch_user], check=True)
    sshd = None
    try:
        ws = make_workspace(base / "ws", extra_config=(
            "[depot]\ndelai_stabilite = 2\nattente_max = 20\ndelai_fichier_incomplet = 3600\n"
            f'[sftp]\nracine = "{base}/sftp"\ngroupe = "{sftp_group}"\ncles = "{base}/cles"\n'
            f'prefixe_compte = "{prefix}"\nutilisateur_traitement = "{batch_user}"\n'))
        reg, mand = ws.registry.write(base / "registre")
        ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
        senders = {}
        for code in ("10001", "PAIE01"):
            key = _keygen(base / f"cle-{code}")
            out = ws.cli("sftp", "ajouter", code, "--cle", f"{key}.pub")
            assert "autorisée" in out.stdout
            senders[code] = Sender(code, f"{prefix}{code.lower()}", key)
        batch = pwd.getpwnam(batch_user)
        for top in ("inbox", "outbox", "archive", "quarantine", "travail", "data"):  # the batch user's own folders
            for dirpath, dirnames, filenames in os.walk(ws.root / top):
                for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                    os.lchown(name, batch.pw_uid, batch.pw_gid)
        os.chown(ws.root, batch.pw_uid, batch.pw_gid)

        conf = base / "sshd"
        (conf / "sshd_config.d").mkdir(parents=True)
        (conf / "sshd_config.d" / "amsn-batch.conf").write_text(ws.cli("sftp", "config-sshd").stdout, encoding="utf-8")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(conf / "hote")], check=True)
        port = _free_port()
        (conf / "sshd_config").write_text(
            f"Include {conf}/sshd_config.d/*.conf\nPort {port}\nListenAddress 127.0.0.1\nHostKey {conf}/hote\n"
            f"PidFile {conf}/sshd.pid\nUsePAM no\nAuthorizedKeysFile none\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nStrictModes yes\nLogLevel VERBOSE\nMaxStartups 50\n"
            "Subsystem sftp /usr/lib/openssh/sftp-server\n", encoding="utf-8")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder (Debian)
        subprocess.run([SSHD, "-t", "-f", str(conf / "sshd_config")], check=True)
        log = open(conf / "sshd.log", "w")
        sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(conf / "sshd_config")], stderr=log)
        wait_for(lambda: _port_open(port) or sshd.poll() is not None, timeout=30)
        assert sshd.poll() is None, (conf / "sshd.log").read_text()
        yield Drop(ws, base, port, batch_user, senders, sftp_group)
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait(timeout=30)
        for code in ("10001", "PAIE01"):
            subprocess.run(["userdel", f"{prefix}{code.lower()}"], capture_output=True)
        subprocess.run(["userdel", batch_user], capture_output=True)
        for g in (sftp_group, batch_user, f"{prefix}10001", f"{prefix}paie01"):
            subprocess.run(["groupdel", g], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _movements(path: Path, ws: Workspace, n: int = 3, adherent: str = "10001", seed: int | None = None) -> Path:
    rng = random.Random(seed)
    siret = ws.registry.members[adherent][0]
    return write_csv(path, MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret, name=f"SFTP{i}") for i in range(n)])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_is_processed_and_the_ack_is_for_that_sender_only(drop, tmp_path):
    local = _movements(tmp_path / "paie-sftp.csv", drop.ws)
    up = drop.sftp("10001", "pwd", f"put {local}", "ls -l")
    assert up.returncode == 0, up.stderr
    assert "Remote working directory: /depot" in up.stdout
    out = drop.traiter()
    assert "10001/paie-sftp.csv : accepté" in out.stdout
    assert drop.ws.sql("SELECT expediteur, statut, sha256 FROM fichiers WHERE nom='paie-sftp.csv'") == [
        ("10001", "accepte", _sha(local))]

    answer = ack_path(drop.retour("10001"), "paie-sftp", "ar.json").name
    got = drop.sftp("10001", f"get /retour/{answer} {tmp_path}/ar.json",
                    f"get /retour/{ack_path(drop.retour('10001'), 'paie-sftp', 'ar.csv').name} {tmp_path}/ar.csv")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "ar.json").read_bytes() == ack_path(drop.retour("10001"), "paie-sftp", "ar.json").read_bytes()
    assert '"statut": "accepte"' in (tmp_path / "ar.json").read_text(encoding="utf-8")
    assert not (drop.depot("10001") / "paie-sftp.csv").exists()  # taken out of the drop folder

    # The other sender sees none of it: its own chroot, and the files are closed to it anyway.
    other = drop.sftp("PAIE01", "ls -la /", "ls -la /retour", f"-get /retour/{answer} /dev/null",
                      f"-get ../10001/retour/{answer} /dev/null", f"-get /../10001/retour/{answer} /dev/null",
                      "-ls /../10001", "-cd /../../..", "pwd", "ls -la")
    assert other.returncode == 0, other.stderr
    seen = "\n".join(line for line in other.stdout.splitlines() if not line.startswith("sftp>"))  # minus the echo
    assert "paie-sftp" not in seen and "10001" not in seen
    assert "Remote working directory: /\n" in other.stdout + "\n"
    assert "not found" in other.stderr
    ack = ack_path(drop.retour("10001"), "paie-sftp", "ar.json")
    st = ack.stat()
    assert st.st_mode & 0o777 == 0o640
    assert grp.getgrgid(st.st_gid).gr_name == drop.senders["10001"].account
    paie01 = pwd.getpwnam(drop.senders["PAIE01"].account)
    peek = subprocess.run(["setpriv", f"--reuid={paie01.pw_uid}", f"--regid={paie01.pw_gid}", "--init-groups",
                           "cat", str(ack)], capture_output=True, text=True)
    assert peek.returncode != 0 and "Permission denied" in peek.stderr  # even outside any chroot
    for target in (drop.depot("10001") / "intrus.csv", drop.retour("10001") / "intrus.csv"):
        write = subprocess.run(["setpriv", f"--reuid={paie01.pw_uid}", f"--regid={paie01.pw_gid}", "--init-groups",
                                "touch", str(target)], capture_output=True, text=True)
        assert write.returncode != 0 and not target.exists()
    listing = subprocess.run(["setpriv", f"--reuid={paie01.pw_uid}", f"--regid={paie01.pw_gid}", "--init-groups",
                              "ls", str(drop.depot("10001"))], capture_output=True, text=True)
    assert listing.returncode != 0


def test_sender_can_only_drop_and_read_its_answers(drop, tmp_path):
    local = _movements(tmp_path / "droits.csv", drop.ws)
    drop.sftp("10001", f"put {local}")
    drop.traiter()
    answer = ack_path(drop.retour("10001"), "droits", "ar.json").name
    attempts = [
        f"put {local} /retour/faux.ar.json",        # write into retour/
        f"rm /retour/{answer}",                     # delete an acknowledgement
        f"rename /retour/{answer} /depot/x.csv",
        "mkdir /nouveau",                           # the chroot itself is root's
        f"put {local} /droits.csv",
        f"ln /retour/{answer} /depot/lien-dur.csv",  # hard link to a file it does not own
        "chmod 777 /retour",
        "chmod 777 /",
    ]
    for cmd in attempts:
        proc = drop.sftp("10001", cmd)
        assert proc.returncode != 0, f"accepté à tort : {cmd}\n{proc.stdout}"
    assert ack_path(drop.retour("10001"), "droits", "ar.json").exists()
    assert not ack_path(drop.retour("10001"), "faux", "ar.json").exists()

    # No links at all (and the pipeline would not follow a symbolic link anyway: test_exchange_intake).
    for cmd in (f"symlink /retour/{answer} /depot/lien.csv", "symlink /etc/shadow /depot/ombre.csv"):
        proc = drop.sftp("10001", cmd)
        assert proc.returncode != 0, f"accepté à tort : {cmd}"
    assert sorted(os.listdir(drop.depot("10001"))) == []


def test_no_shell_no_password_no_other_key(drop):
    s = drop.senders["10001"]
    shell = subprocess.run(["ssh", "-i", str(s.key), "-p", str(drop.port), *_SSH_OPTS, f"{s.account}@127.0.0.1", "id"],
                           capture_output=True, text=True, timeout=60)
    assert "uid=" not in shell.stdout and shell.returncode != 0
    password = subprocess.run(["ssh", "-p", str(drop.port), *_SSH_OPTS, "-o", "PubkeyAuthentication=no",
                               "-o", "PreferredAuthentications=password,keyboard-interactive", f"{s.account}@127.0.0.1", "true"],
                              capture_output=True, text=True, timeout=60)
    assert password.returncode != 0 and "Permission denied (publickey)" in password.stderr
    wrong_key = drop.sftp("PAIE01", "pwd", key=s.key)  # 10001's key does not open PAIE01's account
    assert wrong_key.returncode != 0 and "Permission denied" in wrong_key.stderr
    effective = subprocess.run([SSHD, "-T", "-f", str(drop.base / "sshd" / "sshd_config"), "-C",
                                f"user={s.account},host=localhost,addr=127.0.0.1"], capture_output=True, text=True, check=True).stdout
    for line in ("allowtcpforwarding no", "x11forwarding no", "permittty no", "passwordauthentication no",
                 "forcecommand internal-sftp -d /depot -u 0027 -P symlink,hardlink", "chrootdirectory %h", "authenticationmethods publickey"):
        assert line in effective
    assert pwd.getpwnam(s.account).pw_shell.endswith("nologin")


def test_slow_upload_is_taken_once_whole(drop, tmp_path):
    """An upload of several seconds while `traiter` runs again and again: never taken half-written."""
    local = _movements(tmp_path / "lent.csv", drop.ws, n=2000, seed=3)
    started = time.monotonic()
    drop.traiter()  # nothing to do: how long a run takes on this machine now
    seconds = max(7.0, 4 * (time.monotonic() - started))  # the upload outlasts several runs, however slow they are
    upload = drop.sftp("10001", f"put {local}", limit_kbps=min(320, int(local.stat().st_size * 8 / 1000 / seconds)),
                       popen=True)  # at most 40 KB/s: some 7 seconds or more
    runs = 0
    try:
        while upload.poll() is None:
            drop.traiter()
            runs += 1
    finally:
        if upload.poll() is None:
            upload.kill()
    assert upload.returncode == 0, upload.stderr.read()
    assert runs >= 2
    wait_for(lambda: "lent.csv" in drop.traiter().stdout or _done(drop, "lent.csv"), timeout=120, step=0)
    rows = drop.ws.sql("SELECT sha256, lignes, lignes_acceptees FROM fichiers WHERE nom='lent.csv'")
    assert rows == [(_sha(local), 2000, 2000)]
    archived = list((drop.ws.archive / "10001").rglob("lent.csv"))
    assert len(archived) == 1 and archived[0].read_bytes() == local.read_bytes()


def _done(drop, name: str) -> bool:
    return bool(drop.ws.sql("SELECT 1 FROM fichiers WHERE nom=?", name))


def test_interrupted_upload_is_not_taken_and_the_retry_is(drop, tmp_path):
    """The connection drops halfway (client killed). Under its final name, the cut file does not look whole
    (no final line break) and waits; the sender sends it again; the whole file is taken, once."""
    local = _movements(tmp_path / "coupe.csv", drop.ws, n=700, seed=4)
    upload = drop.sftp("10001", f"put {local}", limit_kbps=160, popen=True)
    remote = drop.depot("10001") / "coupe.csv"
    wait_for(lambda: remote.exists() and remote.stat().st_size > 20_000, timeout=120)
    upload.send_signal(signal.SIGKILL)
    upload.wait()
    wait_for(lambda: not any(_is_sftp_server_of(drop.senders["10001"].account, p) for p in os.listdir("/proc") if p.isdigit()), timeout=60)
    assert 0 < remote.stat().st_size < local.stat().st_size
    drop.traiter()
    assert not _done(drop, "coupe.csv") and remote.exists()
    assert "coupe.csv" in drop.ws.cli("statut").stdout

    # Same with the temporary-name convention: a cut .part never counts.
    upload = drop.sftp("10001", f"put {local} coupe2.csv.part", "rename coupe2.csv.part coupe2.csv", limit_kbps=160, popen=True)
    part = drop.depot("10001") / "coupe2.csv.part"
    wait_for(lambda: part.exists() and part.stat().st_size > 20_000, timeout=120)
    upload.send_signal(signal.SIGKILL)
    upload.wait()
    drop.traiter()
    assert not _done(drop, "coupe2.csv")

    retry = drop.sftp("10001", f"put {local} coupe.csv", f"put {local} coupe2.csv.part", "rename coupe2.csv.part coupe2.csv")
    assert retry.returncode == 0, retry.stderr
    drop.traiter()
    assert drop.ws.sql("SELECT nom, sha256, lignes, statut FROM fichiers WHERE nom LIKE 'coupe%'") == [
        ("coupe.csv", _sha(local), 700, "accepte")]  # the second copy is a duplicate, not applied
    assert drop.ws.sql("SELECT count(*) FROM fichiers WHERE sha256=?", _sha(local)) == [(1,)]
    assert '"statut": "deja_traite"' in ack_path(drop.retour("10001"), "coupe2", "ar.json").read_text(encoding="utf-8")


def _is_sftp_server_of(account: str, pid: str) -> bool:
    try:
        return pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name == account
    except (OSError, KeyError):
        return False


def test_same_file_twice_and_two_senders_at_once(drop, tmp_path):
    mine = _movements(tmp_path / "mien.csv", drop.ws, seed=21)
    theirs = _movements(tmp_path / "leur.csv", drop.ws, adherent="10002", seed=22)
    a = drop.sftp("10001", f"put {mine}", popen=True)
    b = drop.sftp("PAIE01", f"put {theirs}", popen=True)
    assert a.wait(timeout=120) == 0 and b.wait(timeout=120) == 0
    out = drop.traiter().stdout
    assert "10001/mien.csv : accepté" in out and "PAIE01/leur.csv : accepté" in out
    before = drop.ws.sql("SELECT count(*) FROM salaries_versions")

    assert drop.sftp("10001", f"put {mine}").returncode == 0  # pushed again, same name
    assert drop.sftp("PAIE01", f"put {mine} recu-ailleurs.csv").returncode == 0  # another sender, same bytes
    out = drop.traiter().stdout
    assert "10001/mien.csv : déjà traité" in out and "PAIE01/recu-ailleurs.csv : déjà traité" in out
    assert drop.ws.sql("SELECT count(*) FROM salaries_versions") == before
    assert drop.ws.sql("SELECT count(*) FROM fichiers WHERE sha256=?", _sha(mine)) == [(1,)]
    import json

    own = json.loads(ack_path(drop.retour("10001"), "mien", "ar.json").read_text(encoding="utf-8"))
    assert own["statut"] == "deja_traite" and own["traitement_initial"]["statut"] == "accepte"
    other = json.loads(ack_path(drop.retour("PAIE01"), "recu-ailleurs", "ar.json").read_text(encoding="utf-8"))
    assert other["statut"] == "deja_traite" and "traitement_initial" not in other and other["lignes"] == 0
    assert sorted(plain_name(p.name) for p in drop.retour("PAIE01").iterdir()) == sorted(
        f"{stem}.ar.{ext}" for stem in ("leur", "recu-ailleurs") for ext in ("csv", "json", "html"))


def test_ajouter_refuses_what_it_must(drop, tmp_path):
    ws = drop.ws
    key = drop.senders["10001"].key
    again = ws.cli("sftp", "ajouter", "10001", "--cle", f"{key}.pub")
    assert "existait déjà" in again.stdout and "déjà autorisée" in again.stdout
    cases = {
        ("INCONNU", f"{key}.pub"): "ni un adhérent ni un mandataire",
        ("10001", str(key)): "clé PRIVÉE",
        ("../10001", f"{key}.pub"): "Code d'expéditeur invalide",
    }
    bad = tmp_path / "pas-une-cle.pub"
    bad.write_text("ssh-ed25519 ceci-n-est-pas-du-base64\n", encoding="utf-8")
    cases[("10001", str(bad))] = "base64 invalide"
    for (code, path), message in cases.items():
        proc = ws.cli("sftp", "ajouter", code, "--cle", path, check=False)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    batch = pwd.getpwnam(drop.batch_user)
    proc = subprocess.run(["setpriv", f"--reuid={batch.pw_uid}", f"--regid={batch.pw_gid}", "--init-groups",
                           "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", sys.executable, "-m",
                           "amsn_batch", "sftp", "ajouter", "10002", "--cle", f"{key}.pub", "--config", str(ws.config)],
                          capture_output=True, text=True, cwd=ws.root)
    assert proc.returncode == 1 and "lancez-la en root" in proc.stderr
