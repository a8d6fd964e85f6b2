"""E-mail notices: a real SMTP server on localhost (aiosmtpd, in this process) receives what `traiter`,
`declaration preparer/ouvrir` and `facturer` send; without [smtp], .eml files. Each test reads back what was
received: recipients, French subject, the HTML part, the attachments, and that no full NIR is anywhere."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import shutil
import socket
import subprocess
import threading
from email import message_from_bytes, policy
from pathlib import Path

import openpyxl
import pytest
import pypdf
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from amsn_batch.config import ConfigError, load_settings
from amsn_batch.mail import recipients
from amsn_batch.store import connect
from tests.billing_helpers import billing_workspace, declare
from tests.conftest import import_registry, make_workspace
from tests.factories import employee_row, make_nir, write_csv, MOVEMENT_HEADERS
from tests.fiche_factory import HEADERS as FICHE_HEADERS, row as fiche_row

PASSWORD_ENV = "AMSN_TEST_SMTP_SECRET"
FULL_NIR = re.compile(rb"(?<![0-9])[12][0-9]{12}(?:[0-9]{2})?(?![0-9])")


class Inbox:
    """The aiosmtpd handler: keeps each message received; `refuse` first answers with temporary failures."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[dict] = []
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 Service momentanément indisponible, réessayez"
            self.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from,
                                  "raw": bytes(envelope.original_content or envelope.content),
                                  "tls": session.ssl is not None, "login": session.auth_data})
        return "250 2.0.0 Message accepté"

    def parsed(self) -> list:
        return [message_from_bytes(m["raw"], policy=policy.default) for m in self.messages]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An SMTP server on 127.0.0.1:`port`: plain, with STARTTLS required (`tls`), or TLS from the first byte
    (`implicit`); with `logins`, AUTH required."""

    def __init__(self, inbox: Inbox, port: int, tls=None, logins: dict | None = None, implicit=None) -> None:
        kwargs = {}
        if tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if implicit is not None:
            kwargs.update(ssl_context=implicit)
        if logins is not None:
            def authenticator(server, session, envelope, mechanism, data):
                ok = logins.get(data.login.decode()) == data.password.decode()
                return AuthResult(success=ok, auth_data=data.login.decode() if ok else None)
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls is not None)
        self.controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def _smtp(port: int, **extra) -> str:
    lines = ['hote = "127.0.0.1"', f"port = {port}", 'expediteur = "AMSN <ne-pas-repondre@amsn.fr>"',
             "delai_essai = 0.05", "delai_connexion = 5"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n[smtp]\n" + "\n".join(lines) + "\n"


def _workspace(tmp_path: Path, extra: str = ""):
    return import_registry(make_workspace(tmp_path / "ws", extra_config=extra), tmp_path / "registre")


def _drop_with_refusals(ws, sender: str, seed: int = 3) -> list[str]:
    """A movements file with accepted rows and one refused row (unknown contract); a NIR also typed in a comment.
    Returns the NIRs it holds."""
    rng = random.Random(seed)
    siret = ws.registry.members[sender if sender in ws.registry.members else "10002"][0]
    nirs = [make_nir(rng) for _ in range(3)]
    rows = [employee_row(nirs[0], siret, name="MARTIN", first="Léa"),
            employee_row(nirs[1], siret, name="DURAND", first="Paul", comment=f"ancien n° {nirs[2]}"),
            employee_row(nirs[2], siret, name="PETIT", first="Zoé", contract="CONTRAT INCONNU")]
    write_csv(ws.drop(sender, f"mouvements-{sender}.csv"), MOVEMENT_HEADERS, rows)
    return nirs


def _decoded(msg) -> list[bytes]:
    """The raw bytes of every leaf part, decoded from base64 or quoted-printable."""
    return [part.get_payload(decode=True) or b"" for part in msg.walk() if not part.is_multipart()]


def _assert_no_full_nir(raw: bytes, nirs: list[str]) -> None:
    msg = message_from_bytes(raw, policy=policy.default)
    for blob in [raw, *_decoded(msg)]:
        assert not FULL_NIR.search(blob), FULL_NIR.search(blob)
        for nir in nirs:
            assert nir.encode() not in blob


def _cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("commande openssl absente")
    key, cert = folder / "serveur.key", folder / "serveur.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def _envois(ws) -> list[tuple]:
    return ws.sql("SELECT nature, adherent, destinataires, statut, tentatives, erreur, message_id FROM envois ORDER BY id")


def test_acknowledgement_mailed_over_starttls_with_login(tmp_path):
    import ssl

    cert, key = _cert(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    port = _free_port()
    ws = _workspace(tmp_path, _smtp(port, securite='"starttls"', identifiant='"amsn-batch"',
                                    mot_de_passe_variable=f'"{PASSWORD_ENV}"', certificat_ca=f'"{cert}"'))
    nirs = _drop_with_refusals(ws, "10001")
    inbox = Inbox()
    with Server(inbox, port, tls=tls, logins={"amsn-batch": "s3cret-du-test"}):
        ws.cli("traiter", env={PASSWORD_ENV: "s3cret-du-test"})
    assert "s3cret" not in ws.config.read_text()
    [got] = inbox.messages
    assert got["tls"] and got["login"] == "amsn-batch"
    assert got["rcpt"] == ["compta10001@example.fr"] and got["from"] == "ne-pas-repondre@amsn.fr"
    msg = message_from_bytes(got["raw"], policy=policy.default)
    assert msg["Subject"] == "Accusé de réception : mouvements-10001.csv — Fichier accepté en partie"
    assert msg["To"] == "compta10001@example.fr"
    page = next((ws.outbox / "10001").glob("*.ar.html")).read_text(encoding="utf-8")
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n").rstrip("\n") == page.rstrip("\n")
    text = msg.get_body(("plain",)).get_content()
    assert "Lignes : 3 reçue(s), 2 acceptée(s), 1 refusée(s)." in text
    assert "il n'est pas joint à ce message" in text
    assert list(msg.iter_attachments()) == []  # the correction workbook: only for those who opted in
    assert next((ws.outbox / "10001").glob("*.rejets.xlsx")).is_file()
    _assert_no_full_nir(got["raw"], nirs)
    [row] = _envois(ws)
    assert row[:6] == ("accuse", "10001", "compta10001@example.fr", "envoye", 1, None)
    assert row[6] == msg["Message-ID"]
    # the same run again: nothing new to say, nothing sent again
    with Server(inbox, port, tls=tls, logins={"amsn-batch": "s3cret-du-test"}):
        ws.cli("traiter", env={PASSWORD_ENV: "s3cret-du-test"})
    assert len(inbox.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd only sees STARTTLS as TLS
def test_tls_from_the_first_byte_with_the_password_in_a_file(tmp_path):
    import ssl

    cert, key = _cert(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    secret = tmp_path / "smtp.secret"
    secret.write_text("mot-de-passe-en-fichier\n", encoding="utf-8")
    port = _free_port()
    ws = _workspace(tmp_path, _smtp(port, securite='"ssl"', identifiant='"amsn"', mot_de_passe_fichier=f'"{secret}"',
                                    certificat_ca=f'"{cert}"'))
    _drop_with_refusals(ws, "10004")
    inbox = Inbox()
    with Server(inbox, port, logins={"amsn": "mot-de-passe-en-fichier"}, implicit=tls):
        ws.cli("traiter")
    [got] = inbox.messages
    assert got["login"] == "amsn" and got["rcpt"] == ["compta10004@example.fr"]
    assert [r[3:5] for r in _envois(ws)] == [("envoye", 1)]


def test_an_untrusted_certificate_is_refused_and_the_message_kept(tmp_path):
    import ssl

    cert, key = _cert(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    port = _free_port()
    ws = _workspace(tmp_path, _smtp(port, securite='"starttls"', essais=1))  # no certificat_ca: self-signed, refused
    _drop_with_refusals(ws, "10001")
    inbox = Inbox()
    with Server(inbox, port, tls=tls):
        assert "1 fichier(s) traité(s), 0 en échec" in ws.cli("traiter").stdout
    assert inbox.messages == []
    [row] = _envois(ws)
    assert row[3:5] == ("echec", 1) and "connexion chiffrée impossible" in row[5] and "CERTIFICATE_VERIFY_FAILED" in row[5]


def test_correction_workbook_attached_only_for_senders_who_opted_in(tmp_path):
    port = _free_port()
    ws = _workspace(tmp_path, _smtp(port, securite='"aucune"') + '\n[envois]\nclasseur_joint = ["10002"]\n')
    nirs = _drop_with_refusals(ws, "10001")
    _drop_with_refusals(ws, "10002", seed=4)
    inbox = Inbox()
    with Server(inbox, port):
        ws.cli("traiter")
    by_rcpt = {m["rcpt"][0]: m for m in inbox.messages}
    assert set(by_rcpt) == {"compta10001@example.fr", "compta10002@example.fr"}
    opted = message_from_bytes(by_rcpt["compta10002@example.fr"]["raw"], policy=policy.default)
    [attached] = list(opted.iter_attachments())
    assert attached.get_filename().endswith(".rejets.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(attached.get_content()))
    assert book.sheetnames  # a real workbook, read back
    assert "Le classeur de correction des lignes refusées est joint" in opted.get_body(("plain",)).get_content()
    other = message_from_bytes(by_rcpt["compta10001@example.fr"]["raw"], policy=policy.default)
    assert list(other.iter_attachments()) == []
    _assert_no_full_nir(by_rcpt["compta10001@example.fr"]["raw"], nirs)


def test_a_server_that_refuses_then_accepts_gets_the_message_on_a_retry(tmp_path):
    port = _free_port()
    ws = _workspace(tmp_path, _smtp(port, securite='"aucune"', essais=3))
    _drop_with_refusals(ws, "10003")
    inbox = Inbox(refuse=1)
    with Server(inbox, port):
        ws.cli("traiter")
    assert len(inbox.messages) == 1
    [row] = _envois(ws)
    assert row[3:6] == ("envoye", 2, None)  # two attempts recorded, the second went through


def test_a_server_down_never_blocks_the_run_and_the_next_run_sends(tmp_path):
    port = _free_port()  # nothing listens there yet
    ws = _workspace(tmp_path, _smtp(port, securite='"aucune"', essais=2))
    _drop_with_refusals(ws, "10001")
    _drop_with_refusals(ws, "10004", seed=5)
    out = ws.cli("traiter").stdout
    assert "2 fichier(s) traité(s), 0 en échec" in out
    assert len(list(ws.outbox.glob("*/*.ar.html"))) == 2
    assert ws.sql("SELECT COUNT(*) FROM fichiers WHERE etape='termine'") == [(2,)]
    rows = _envois(ws)
    assert [r[3] for r in rows] == ["echec", "echec"]
    assert rows[0][4] == 2 and "injoignable" in rows[0][5]  # its tries, then the others marked at once
    assert rows[1][4] == 1
    listed = ws.cli("envois", "liste").stdout
    assert "en échec" in listed and "dernière erreur : serveur injoignable" in listed
    inbox = Inbox()
    with Server(inbox, port):
        ws.cli("traiter")  # no new file: the failed messages are sent again
    assert sorted(m["rcpt"][0] for m in inbox.messages) == ["compta10001@example.fr", "compta10004@example.fr"]
    assert [r[3:6] for r in _envois(ws)] == [("envoye", 3, None), ("envoye", 2, None)]
    assert "accusé de réception · 10001 → compta10001@example.fr : envoyé (3 essai(s))" in ws.cli("envois", "liste").stdout


def test_a_refused_recipient_is_kept_until_staff_send_it_again(tmp_path):
    port = _free_port()
    ws = _workspace(tmp_path, _smtp(port, securite='"aucune"'))
    _drop_with_refusals(ws, "10001")

    class Refusing(Inbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if self.refuse:
                return "550 5.1.1 Destinataire inconnu"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    inbox = Refusing(refuse=1)
    with Server(inbox, port):
        ws.cli("traiter")
        assert inbox.messages == []
        assert [r[3:5] for r in _envois(ws)] == [("refuse", 1)]  # refused for good: one attempt, not retried
        ws.cli("traiter")
        assert [r[3:5] for r in _envois(ws)] == [("refuse", 1)]
        inbox.refuse = 0
        out = ws.cli("envois", "relancer").stdout
    assert "1 message(s) envoyé(s)" in out and "Tous les messages ont été remis." in out
    assert len(inbox.messages) == 1
    assert [r[3:5] for r in _envois(ws)] == [("envoye", 2)]


def test_without_smtp_messages_are_written_as_eml_files_once(tmp_path):
    ws = _workspace(tmp_path)
    nirs = _drop_with_refusals(ws, "10002")
    _drop_with_refusals(ws, "PAIE01", seed=6)  # a mandataire: no address in the registry yet
    ws.cli("traiter")
    [eml] = sorted((ws.root / "envois").glob("*.eml"))
    raw = eml.read_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["To"] == "compta10002@example.fr" and msg["Subject"].startswith("Accusé de réception : mouvements-10002.csv")
    assert "<html" in msg.get_body(("html",)).get_content()
    _assert_no_full_nir(raw, nirs)
    assert [(r[1], r[3]) for r in _envois(ws)] == [("10002", "ecrit"), ("PAIE01", "sans_destinataire")]
    assert ws.sql("SELECT COUNT(*) FROM envois WHERE message IS NOT NULL") == [(0,)]  # written, or no address: not kept
    ws.cli("traiter")
    assert len(list((ws.root / "envois").glob("*.eml"))) == 1
    assert "sans adresse connue" in ws.cli("envois", "liste").stdout


JAN = dt.datetime(2026, 1, 15, 10)


def _subject(received: dict) -> str:
    return message_from_bytes(received["raw"], policy=policy.default)["Subject"]


def test_invoice_mailed_with_its_facturx_pdf_to_the_billing_address(tmp_path):
    port = _free_port()
    ws = billing_workspace(tmp_path, extra=_smtp(port, securite='"aucune"'))
    declare(ws, "10003", JAN, si=4)
    inbox = Inbox()
    with Server(inbox, port):
        ws.cli("traiter")
        ws.cli("facturer", "--annee", "2026", "--date", "20/01/2026")
    [got] = [m for m in inbox.messages if _subject(m).startswith("Facture n°")]
    assert got["rcpt"] == ["compta10003@example.fr"]
    msg = message_from_bytes(got["raw"], policy=policy.default)
    numero = ws.sql("SELECT numero FROM factures")[0][0]
    assert msg["Subject"] == f"Facture n° {numero} du 20/01/2026 — AMSN Santé au travail"
    assert "à régler au plus tard le" in msg.get_body(("plain",)).get_content()
    assert "Factur-X" in msg.get_body(("html",)).get_content()
    [pdf] = list(msg.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_filename() == f"facture-{numero}.pdf"
    data = pdf.get_content()
    assert data == (ws.outbox / "10003" / "factures" / f"facture-{numero}.pdf").read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert numero in "".join(p.extract_text() for p in reader.pages)
    assert "factur-x.xml" in reader.attachments
    assert ("facture", "10003", "envoye") in [(r[0], r[1], r[3]) for r in _envois(ws)]
    with Server(inbox, port):
        ws.cli("facturer", "--annee", "2026", "--date", "21/01/2026")
    assert len([m for m in inbox.messages if _subject(m).startswith("Facture n°")]) == 1  # nothing issued, nothing sent twice


def test_campaign_opening_mailed_once_to_each_member_that_must_declare(tmp_path):
    ws = billing_workspace(tmp_path)
    ws.cli("declaration", "preparer", "--annee", "2027")
    ws.cli("declaration", "preparer", "--annee", "2027")
    emls = sorted((ws.root / "envois").glob("*.eml"))
    assert len(emls) == 4
    msgs = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in emls]
    assert sorted(m["To"] for m in msgs) == [f"compta1000{i}@example.fr" for i in range(1, 5)]
    assert {m["Subject"] for m in msgs} == {"Déclaration des effectifs 2027 : la campagne est ouverte"}
    text = next(m for m in msgs if m["To"] == "compta10002@example.fr").get_body(("plain",)).get_content()
    assert "ouverte du 01/01/2027 au 31/01/2027" in text and "declaration-effectifs-2027-10002.csv" in text
    ws.cli("declaration", "ouvrir", "--annee", "2027", "--jusqu-au", "15/02/2027", "--adherent", "10002")
    ws.cli("declaration", "ouvrir", "--annee", "2027", "--jusqu-au", "15/02/2027", "--adherent", "10002")
    new = sorted(set((ws.root / "envois").glob("*.eml")) - set(emls))
    assert len(new) == 1
    again = message_from_bytes(new[0].read_bytes(), policy=policy.default)
    assert again["To"] == "compta10002@example.fr"
    assert again["Subject"] == "Déclaration des effectifs 2027 : campagne ouverte du 01/01/2027 au 15/02/2027"


def test_smtp_settings(tmp_path):
    config = tmp_path / "reglages.toml"
    config.write_text('[smtp]\nhote = "smtp.example.fr"\nidentifiant = "x"\nmot_de_passe = "secret"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="le mot de passe ne s'écrit pas dans le fichier de réglages"):
        load_settings(config)
    config.write_text('[smtp]\nhote = "smtp.example.fr"\nidentifiant = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="identifiant sans mot de passe"):
        load_settings(config)
    config.write_text('[smtp]\nhote = "smtp.example.fr"\nsecurite = "tls"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="securite"):
        load_settings(config)
    config.write_text('[paths]\nenvois = "messages"\n[smtp]\nhote = "smtp.example.fr"\nsecurite = "ssl"\n'
                      'identifiant = "amsn"\nmot_de_passe_fichier = "secret/smtp"\n', encoding="utf-8")
    s = load_settings(config)
    assert (s.mail.smtp.port, s.mail.smtp.security) == (465, "ssl")
    assert s.mail.smtp.password_file == tmp_path / "secret" / "smtp"
    assert s.paths.envois == tmp_path / "messages"
    config.write_text('[paths]\ninbox = "depots"\n', encoding="utf-8")
    plain = load_settings(config)
    assert plain.mail.smtp is None and plain.paths.envois == tmp_path / "envois"


def test_credit_note_mailed_with_its_pdf_and_the_invoice_it_cancels(tmp_path):
    ws = billing_workspace(tmp_path)
    rng = random.Random(11)
    siret = ws.registry.members["10004"][0]
    rows = [employee_row(make_nir(rng), siret, name=f"SAL{i}", hired="01/09/2025") for i in range(3)]
    write_csv(ws.drop("10004", "salaries-10004.csv"), MOVEMENT_HEADERS, rows)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "01/02/2026")  # no declaration: facture d'office
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", "10004")
    declare(ws, "10004", dt.datetime(2026, 2, 20, 9), si=3)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", "23/02/2026")
    [office, avoir, facture] = ws.sql("SELECT numero FROM factures ORDER BY sequence")
    msgs = {m["Subject"]: m for m in (message_from_bytes(p.read_bytes(), policy=policy.default)
                                      for p in (ws.root / "envois").glob("*.eml"))}
    assert f"Facture d'office n° {office[0]} du 01/02/2026 — AMSN Santé au travail" in msgs
    credit = msgs[f"Avoir n° {avoir[0]} du 23/02/2026 — AMSN Santé au travail"]
    assert credit["To"] == "compta10004@example.fr"
    assert f"qui annule la facture n° {office[0]}" in credit.get_body(("plain",)).get_content()
    [pdf] = list(credit.iter_attachments())
    assert pdf.get_filename() == f"avoir-{avoir[0]}.pdf"
    assert avoir[0] in "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert f"Facture n° {facture[0]} du 23/02/2026 — AMSN Santé au travail" in msgs
    natures = [r[0] for r in _envois(ws)]
    assert natures.count("facture") == 2 and natures.count("avoir") == 1 and natures.count("campagne") == 1


def test_an_eml_folder_that_cannot_be_written_never_fails_the_run(tmp_path):
    ws = _workspace(tmp_path)
    (ws.root / "envois").write_text("un fichier à la place du dossier\n", encoding="utf-8")
    _drop_with_refusals(ws, "10003")
    proc = ws.cli("traiter")
    assert "1 fichier(s) traité(s), 0 en échec" in proc.stdout and "envois_impossibles" in proc.stderr
    assert [r[3] for r in _envois(ws)] == ["a_envoyer"]  # still queued
    (ws.root / "envois").unlink()
    ws.cli("traiter")
    assert [r[3] for r in _envois(ws)] == ["ecrit"]
    assert len(list((ws.root / "envois").glob("*.eml"))) == 1


def test_contacts_from_the_fiche_adherent_receive_the_messages_meant_for_them(tmp_path):
    """Once a member has sent its contacts (fiche adhérent), its acknowledgements go to its HR and payroll
    contacts (not to the billing address any more), and invoices to the billing address and its accountant."""
    ws = _workspace(tmp_path)
    write_csv(ws.drop("10002", "fiche.csv"), FICHE_HEADERS, [
        fiche_row(type_="Responsable ressources humaines", nom="RH", prenom="Rose", email="rh@transports.fr"),
        fiche_row(type_="Comptabilité", nom="COMPTA", prenom="Carl", email="compta@transports.fr")])
    ws.cli("traiter")
    _drop_with_refusals(ws, "10002")
    ws.cli("traiter")
    msgs = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((ws.root / "envois").glob("*.eml"))]
    to = {m["Subject"].split(" : ", 1)[1].split(" ")[0]: m["To"] for m in msgs}
    assert to["fiche.csv"] == "rh@transports.fr"  # answered once applied: to the contact it gave
    assert to["mouvements-10002.csv"] == "rh@transports.fr"
    # the recipients of an invoice: the billing address first, then the accountant
    conn = connect(ws.store).conn
    try:
        assert recipients(conn, "10002", "facture") == ["compta10002@example.fr", "compta@transports.fr"]
        assert recipients(conn, "PAIE01", "accuse") == []
    finally:
        conn.close()
