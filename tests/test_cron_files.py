"""What cron/ gives the administrator stays true: the sshd snippet is the one the product generates, the
scheduled command is `traiter` with the production settings, the settings load."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from amsn_batch.config import load_settings
from tests.conftest import cli_in_process

CRON = Path(__file__).resolve().parent.parent / "cron"
PROD_CONFIG = "/etc/amsn-batch/amsn-batch.toml"


def test_production_settings_load():
    s = load_settings(CRON / "amsn-batch.toml")
    assert s.paths.inbox == Path("/srv/amsn-batch/inbox") and s.paths.travail == Path("/srv/amsn-batch/travail")
    assert s.sftp.root == Path("/srv/amsn-batch/sftp") and s.sftp.batch_user == "amsn"
    assert s.intake.stable_seconds > 0


def test_sshd_snippet_is_the_generated_one():
    proc = cli_in_process(["sftp", "config-sshd", "--config", str(CRON / "amsn-batch.toml")], CRON.parent)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert (CRON / "sshd-amsn-batch.conf").read_text(encoding="utf-8") == out


@pytest.mark.skipif(not (shutil.which("sshd") or os.path.exists("/usr/sbin/sshd")), reason="sshd absent (paquet openssh-server)")
@pytest.mark.skipif(os.geteuid() != 0, reason="sshd -t demande root")
def test_sshd_accepts_the_snippet(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hote")], check=True)
    conf = tmp_path / "sshd_config"
    conf.write_text(f"Include {CRON}/sshd-amsn-batch.conf\nHostKey {tmp_path}/hote\nSubsystem sftp internal-sftp\n", encoding="utf-8")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    proc = subprocess.run([shutil.which("sshd") or "/usr/sbin/sshd", "-t", "-f", str(conf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_systemd_units():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(CRON / "amsn-batch-traiter.service", encoding="utf-8")
    svc = service["Service"]
    assert svc["Type"] == "oneshot" and svc["User"] == "amsn"
    assert svc["ExecStart"].split()[1:] == ["traiter", "--config", PROD_CONFIG]
    assert "3" in svc["SuccessExitStatus"].split()
    assert svc["AmbientCapabilities"] == "CAP_DAC_READ_SEARCH"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(CRON / "amsn-batch-traiter.timer", encoding="utf-8")
    assert timer["Timer"]["OnUnitInactiveSec"] and timer["Install"]["WantedBy"] == "timers.target"


def test_crontab_line():
    lines = [line for line in (CRON / "amsn-batch.cron").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 1
    fields = lines[0].split(None, 6)
    assert fields[:5] == ["*/5", "*", "*", "*", "*"] and fields[5] == "root"
    assert f"amsn-batch traiter --config {PROD_CONFIG}" in fields[6] and "--reuid=amsn" in fields[6]
