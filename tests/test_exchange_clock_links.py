"""Hostile senders against the exchange's clock, its links and its files: a backdated file is received when
the service takes it; no link is followed, at any level; a file that grows after it was claimed is never
applied in part; what the service writes has its own modes whatever the umask; a full disk leaves no
partial copy behind."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import random
import shutil
import stat
from pathlib import Path

import pytest

from amsn_batch import claims, faults, intake, pipeline
from amsn_batch.config import Intake, load_settings
from tests.billing_helpers import billing_workspace, declare
from tests.conftest import make_workspace
from tests.acks import ack_path
from tests.factories import MOVEMENT_HEADERS, employee_row, make_nir, write_csv

NOV = dt.datetime(2026, 11, 3, 10, 0)


def _movements(ws, sender: str, name: str, n: int = 2, seed: int = 3) -> Path:
    rng = random.Random(seed)
    siret = ws.registry.members[sender][0]
    return write_csv(ws.drop(sender, name), MOVEMENT_HEADERS, [employee_row(make_nir(rng), siret) for _ in range(n)])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the reception time is the service's clock --------------------------------------------------------


def test_backdated_declaration_is_late_and_accepted_with_a_derogation(tmp_path):
    ws = billing_workspace(tmp_path)
    path = declare(ws, "10004", NOV, si=3, name="effectifs.csv")  # the service takes it on 3 November
    content = path.read_bytes()
    january = dt.datetime(2026, 1, 15, 10).timestamp()
    os.utime(path, (january, january))  # `put -p`: the sender's client sets the date of January
    ws.cli("traiter")
    ack = ws.ack("10004", "effectifs")
    assert ack["statut"] == "rejete" and ack["recu_le"].startswith("2026-11-03")
    refusal = ws.ack_rows("10004", "effectifs")[0]
    assert refusal["code"] == "DECL_HORS_CAMPAGNE" and "reçue le 03/11/2026" in refusal["message"]
    assert ws.sql("SELECT recu_le FROM fichiers") == [("2026-11-03T10:00:00",)]
    assert ws.sql("SELECT COUNT(*) FROM declarations")[0][0] == 0

    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "30/11/2026", "--adherent", "10004",
           "--motif", "retard accepté")
    again = ws.drop("10004", "effectifs.csv")
    again.write_bytes(content)
    os.utime(again, (january, january))
    ws.cli("traiter")
    assert ws.ack("10004", "effectifs")["statut"] == "accepte"
    assert ws.sql("SELECT etat, total FROM declarations") == [("confirmee", 3)]


def test_a_resumed_claim_keeps_its_reception_time(ws):
    _movements(ws, "10001", "paie.csv")
    settings = load_settings(ws.config)
    settings.ensure_dirs()
    cand = intake.survey(settings.paths.inbox, settings.intake).ready[0]
    claims.take(cand, settings.paths.travail, NOV)  # a run stopped right after the claim
    pipeline.run(settings, now=NOV + dt.timedelta(days=2))
    assert ws.sql("SELECT recu_le, statut FROM fichiers") == [("2026-11-03T10:00:00", "accepte")]
    assert ws.ack("10001", "paie")["recu_le"].startswith("2026-11-03")


def test_the_clock_variable_must_be_a_date(ws):
    out = ws.cli("traiter", check=False, env={"AMSN_BATCH_MAINTENANT": "hier"})
    assert out.returncode == 1 and "AMSN_BATCH_MAINTENANT" in out.stderr and "date ISO" in out.stderr


# --- no link is followed ------------------------------------------------------------------------------


def test_a_sender_folder_that_is_a_link_is_never_read(ws, tmp_path):
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    secret = _movements(ws, "10002", "secret.csv")
    shutil.move(secret, elsewhere / "secret.csv")
    (elsewhere / "notes.txt").write_text("confidentiel\n", encoding="utf-8")
    before = {p.name: (_sha(p), p.stat().st_mtime_ns) for p in elsewhere.iterdir()}
    shutil.rmtree(ws.inbox / "10002")
    (ws.inbox / "10002").symlink_to(elsewhere, target_is_directory=True)
    _movements(ws, "10001", "paie.csv")  # another sender's file goes through as usual

    out = ws.cli("traiter")
    assert "dossier_lien_ignore" in out.stderr and "10002" in out.stderr
    assert {p.name: (_sha(p), p.stat().st_mtime_ns) for p in elsewhere.iterdir()} == before
    assert ws.sql("SELECT expediteur, nom FROM fichiers") == [("10001", "paie.csv")]
    assert not (ws.archive / "10002").exists() and not (ws.outbox / "10002").exists()
    assert (ws.inbox / "10002").is_symlink()


def test_only_the_services_own_sftp_wiring_is_followed(tmp_path):
    """`sftp ajouter` links inbox/X to <racine>/X/depot: that link is the service's, taken; any other is not."""
    sftp = tmp_path / "sftp"
    ws = make_workspace(tmp_path / "ws", extra_config=f'[sftp]\nracine = "{sftp}"\n')
    reg, mand = ws.registry.write(tmp_path / "registre")
    ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
    depot = sftp / "10001" / "depot"
    depot.mkdir(parents=True)
    _movements(ws, "10001", "paie.csv")
    shutil.move(ws.inbox / "10001" / "paie.csv", depot / "paie.csv")
    (ws.inbox / "10001").rmdir()
    (ws.inbox / "10001").symlink_to(depot, target_is_directory=True)
    (ws.inbox / "10002").symlink_to(depot, target_is_directory=True)  # another sender's drop folder
    out = ws.cli("traiter")
    assert "10001/paie.csv : accepté" in out.stdout and "dossier_lien_ignore expediteur=10002" in out.stderr
    assert ws.sql("SELECT expediteur, nom FROM fichiers") == [("10001", "paie.csv")]
    assert list(depot.iterdir()) == []


def test_a_drop_file_swapped_for_a_link_after_the_survey_is_not_read(ws, tmp_path):
    secret = tmp_path / "archive-d-un-autre.csv"
    write_csv(secret, MOVEMENT_HEADERS, [employee_row(make_nir(random.Random(9)), ws.registry.members["10002"][0])])
    secret_sha = _sha(secret)
    dropped = _movements(ws, "10001", "paie.csv")
    settings = load_settings(ws.config)
    settings.ensure_dirs()
    cand = intake.survey(settings.paths.inbox, Intake(stable_seconds=0)).ready[0]
    dropped.unlink()
    dropped.symlink_to(secret)  # swapped between the survey and the claim
    assert claims.take(cand, settings.paths.travail, NOV) is None
    assert dropped.is_symlink() and _sha(secret) == secret_sha
    assert not any(p.is_file() for p in settings.paths.travail.rglob("*") if p.name != ".verrou")


def test_a_drop_file_swapped_for_a_link_at_the_instant_of_the_claim_is_given_back(ws, tmp_path, monkeypatch):
    """The swap lands between the last check and the rename: what was moved in is not read but put back."""
    secret = tmp_path / "secret.csv"
    write_csv(secret, MOVEMENT_HEADERS, [employee_row(make_nir(random.Random(9)), ws.registry.members["10002"][0])])
    dropped = _movements(ws, "10001", "paie.csv")
    settings = load_settings(ws.config)
    settings.ensure_dirs()
    cand = intake.survey(settings.paths.inbox, Intake(stable_seconds=0)).ready[0]
    real_stat = os.stat

    def stat_then_swap(path, *a, dir_fd=None, follow_symlinks=True):
        st = real_stat(path, *a, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
        if dir_fd is not None and path == "paie.csv" and not dropped.is_symlink():
            dropped.unlink()
            dropped.symlink_to(secret)
        return st

    monkeypatch.setattr(os, "stat", stat_then_swap)
    assert claims.take(cand, settings.paths.travail, NOV) is None
    monkeypatch.undo()
    assert dropped.is_symlink() and os.readlink(dropped) == str(secret)
    pipeline.run(settings, now=NOV)  # and the link stays ignored
    assert ws.sql("SELECT COUNT(*) FROM fichiers")[0][0] == 0
    assert not (ws.outbox / "10001").exists() or not any((ws.outbox / "10001").iterdir())


def test_claimed_files_are_read_without_following_links(tmp_path):
    target = tmp_path / "cible.csv"
    target.write_bytes(b"a;b\n")
    link = tmp_path / "lien.csv"
    link.symlink_to(target)
    with pytest.raises(OSError):
        intake.sha256(link)
    with pytest.raises(intake.NotRegular):
        intake.sha256(tmp_path)


# --- a file that changes after it was claimed ---------------------------------------------------------


def test_a_stalled_upload_that_grows_after_the_claim_is_not_applied_then_taken_whole(ws, tmp_path, monkeypatch):
    rng = random.Random(4)
    siret = ws.registry.members["10001"][0]
    whole = write_csv(tmp_path / "entier.csv", MOVEMENT_HEADERS,
                      [employee_row(make_nir(rng), siret, name=f"NOM{i}") for i in range(200)])
    data = whole.read_bytes()
    lines = data.splitlines(keepends=True)
    first = b"".join(lines[:100])  # the header and 99 rows, cut just after a line break
    dropped = ws.drop("10001", "paie.csv")
    dropped.write_bytes(first)
    settings = load_settings(ws.config)
    real_point = faults.point

    def writer_goes_on(name: str) -> None:  # the sender's client still has the claimed file open
        if name == "controle_fait":
            for f in settings.paths.travail.rglob("paie.csv"):
                with open(f, "ab") as fh:
                    fh.write(data[len(first):])
        real_point(name)

    monkeypatch.setattr(faults, "point", writer_goes_on)
    assert pipeline.run(settings, now=NOV) == []
    monkeypatch.setattr(faults, "point", real_point)
    assert ws.sql("SELECT COUNT(*) FROM fichiers")[0][0] == 0
    assert ws.sql("SELECT COUNT(*) FROM salaries")[0][0] == 0
    assert not (ws.outbox / "10001").exists() or not any((ws.outbox / "10001").iterdir())
    assert [p.read_bytes() for p in settings.paths.travail.rglob("paie.csv")] == [data]

    results = pipeline.run(settings, now=NOV)
    assert [(r.name, r.status) for r in results] == [("paie.csv", "accepte")]
    assert ws.sql("SELECT lignes, lignes_acceptees, sha256 FROM fichiers") == [(200, 200, hashlib.sha256(data).hexdigest())]
    assert ws.sql("SELECT COUNT(*) FROM salaries")[0][0] == 200
    archived = next(ws.archive.rglob("paie.csv"))
    assert _sha(archived) == hashlib.sha256(data).hexdigest()


def test_a_change_noticed_after_the_commit_alerts_staff_and_asks_the_sender_to_resend(ws, monkeypatch):
    _movements(ws, "10001", "paie.csv", n=3)
    settings = load_settings(ws.config)
    real_point = faults.point

    def writer_goes_on(name: str) -> None:  # the last bytes land just after the commit
        if name == "applique":
            for f in settings.paths.travail.rglob("paie.csv"):
                with open(f, "ab") as fh:
                    fh.write(b"DUPONT;Jean\r\n")
        real_point(name)

    monkeypatch.setattr(faults, "point", writer_goes_on)
    pipeline.run(settings, now=NOV)
    monkeypatch.setattr(faults, "point", real_point)
    codes = [r["code"] for r in ws.ack_rows("10001", "paie")]
    assert "FICHIER_MODIFIE_APRES_TRAITEMENT" in codes
    page = ack_path(ws.outbox / "10001", "paie", "ar.html").read_text(encoding="utf-8")
    assert "Renvoyez le fichier complet" in page
    assert "Fichiers modifiés après traitement" in ws.cli("statut").stdout
    ws.cli("rapport", "quotidien")
    pages = " ".join(p.read_text(encoding="utf-8") for p in (ws.root / "rapports").glob("*.html"))
    assert "Fichier modifié après traitement" in pages


# --- modes and partial copies -------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o077, 0o000])
def test_modes_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        ws = make_workspace(tmp_path / "ws")
        reg, mand = ws.registry.write(tmp_path / "registre")
        ws.cli("adherents", "importer", str(reg), "--mandats", str(mand))
        _movements(ws, "10001", "paie.csv")
        (ws.drop("10001", "illisible.xlsx")).write_bytes(b"PK\x03\x04 pas un classeur")
        ws.cli("traiter")
        ws.cli("rapport", "quotidien")
    finally:
        os.umask(old)
    assert any(ws.quarantine.rglob("illisible.xlsx")) and any(ws.archive.rglob("paie.csv"))
    seen = 0
    store = () if ws.database else ("data",)  # a PostgreSQL store has no file here
    for top in (*store, "archive", "quarantine", "outbox", "rapports", "travail"):
        root = ws.root / top
        assert stat.S_IMODE(root.stat().st_mode) == 0o750, top
        for p in root.rglob("*"):
            mode = stat.S_IMODE(p.lstat().st_mode)
            assert mode == (0o750 if p.is_dir() else 0o640), (str(p.relative_to(ws.root)), oct(mode))
            seen += 1
    assert seen > 10


def test_a_full_disk_leaves_no_partial_copy(tmp_path, monkeypatch):
    src = tmp_path / "travail" / "fichier.csv"
    src.parent.mkdir()
    src.write_bytes(b"x" * 3_000_000)
    dest = tmp_path / "archive" / "10001" / "fichier.csv"
    real_rename = os.rename

    def cross_device(a, b, *args, **kw):
        if str(a) == str(src):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(a, b, *args, **kw)

    def full_disk(fin, fout, length=0):
        fout.write(fin.read(1 << 20))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "rename", cross_device)
    monkeypatch.setattr(shutil, "copyfileobj", full_disk)
    with pytest.raises(OSError) as exc:
        intake.move_durably(src, dest)
    assert exc.value.errno == errno.ENOSPC
    assert src.exists() and not dest.exists() and list(dest.parent.iterdir()) == []

    # the same through a claim across filesystems
    ws_inbox = tmp_path / "inbox" / "10001"
    ws_inbox.mkdir(parents=True)
    (ws_inbox / "paie.csv").write_bytes(b"a;b\n1;2\n")
    cand = intake.survey(tmp_path / "inbox", Intake(stable_seconds=0)).ready[0]

    def cross_device_all(a, b, *args, **kw):
        if kw.get("src_dir_fd") is not None:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(a, b, *args, **kw)

    monkeypatch.setattr(os, "rename", cross_device_all)
    with pytest.raises(OSError):
        claims.take(cand, tmp_path / "travail2", NOV)
    assert not any(p.name == claims.COPY for p in (tmp_path / "travail2").rglob("*"))
    assert (ws_inbox / "paie.csv").exists()


def test_a_partial_copy_left_by_a_crash_is_removed_at_the_next_attempt(tmp_path):
    src = tmp_path / "travail" / "fichier.csv"
    src.parent.mkdir()
    src.write_bytes(b"a;b\n")
    dest = tmp_path / "archive" / "fichier.csv"
    dest.parent.mkdir()
    (dest.parent / ".fichier.csv.copie").write_bytes(b"a;")  # a copy cut short by a power cut
    intake.move_durably(src, dest)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fichier.csv"]
