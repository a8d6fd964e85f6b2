"""The staff's member registry: import, checks (SIRET, VAT with python-stdnum), updates with history."""

from __future__ import annotations

from amsn_batch.store import connect
from amsn_batch.store.registry import sender_groups
from tests.conftest import make_workspace
from tests.factories import Registry, make_siren, make_siret, make_vat, write_csv, write_xlsx

H = Registry.HEADERS


def test_import_csv_then_reimport_updates_with_history(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    reg = Registry()
    path, mandates = reg.write(tmp_path)
    out = ws.cli("adherents", "importer", str(path), "--mandats", str(mandates))
    assert "4 adhérent(s) et 5 établissement(s) ajoutés" in out.stdout
    assert ws.sql("SELECT count(*) FROM adherents") == [(4,)]
    assert ws.sql("SELECT adherent FROM mandats WHERE mandataire='PAIE01' ORDER BY 1") == [("10002",), ("10003",)]
    # a changed e-mail and status, a new establishment, a mandate withdrawn
    rows = reg.rows()
    rows[0][4] = rows[1][4] = "nouvelle.compta@example.fr"
    siren = make_siren("51234567")
    rows.append(["10005", "Nouvelle SARL", make_siret(siren), make_vat(siren), "a@b.fr", "Centre de Caen", "cessation d'activité"])
    write_csv(path, H, rows, encoding="utf-8")
    write_csv(mandates, ["Mandataire", "N° adhérent"], [["PAIE01", "10002"]], encoding="utf-8")
    out = ws.cli("adherents", "importer", str(path), "--mandats", str(mandates))
    assert "1 retiré" in out.stdout
    assert ws.sql("SELECT email_facturation FROM adherents WHERE numero='10001'") == [("nouvelle.compta@example.fr",)]
    assert ws.sql("SELECT statut FROM adherents WHERE numero='10005'") == [("cessation",)]
    assert ws.sql("SELECT avant, apres FROM registre_historique WHERE objet='adherent' AND cle='10001' AND champ='email_facturation'") == [
        ("compta10001@example.fr", "nouvelle.compta@example.fr")]
    assert ws.sql("SELECT apres FROM registre_historique WHERE objet='mandat' AND cle='PAIE01/10003'")[-1] == ("retiré",)
    assert ws.sql("SELECT adherent FROM mandats") == [("10002",)]


def test_xlsx_registry_with_mandates_on_second_sheet(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    reg = Registry()
    path = write_xlsx(tmp_path / "registre.xlsx", H, reg.rows(), title=["Registre des adhérents au 01/11/2026"],
                      sheet="Adhérents", extra_sheets={"Mandats": [["Mandataire", "N° adhérent"], ["CAB7", "10001"], ["CAB7", "10004"]]})
    ws.cli("adherents", "importer", str(path))
    assert ws.sql("SELECT count(*) FROM etablissements") == [(5,)]
    assert ws.sql("SELECT mandataire, adherent FROM mandats ORDER BY 2") == [("CAB7", "10001"), ("CAB7", "10004")]


def test_invalid_siret_and_vat_refuse_the_import(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    reg = Registry()
    rows = reg.rows()
    rows[0][2] = rows[0][2][:-1] + str((int(rows[0][2][-1]) + 1) % 10)  # Luhn broken
    rows[2][3] = "FR00" + rows[2][3][4:]  # VAT key broken
    rows[3][4] = "pas-une-adresse"
    path = write_csv(tmp_path / "r.csv", H, rows, encoding="cp1252")
    proc = ws.cli("adherents", "importer", str(path), check=False)
    assert proc.returncode == 1
    assert "ligne 2 [SIRET] bloquant REG_SIRET_INVALIDE" in proc.stderr
    assert "ligne 4 [N° TVA intracommunautaire] bloquant REG_TVA_INVALIDE" in proc.stderr
    assert "ligne 5 [Email facturation] bloquant REG_EMAIL_INVALIDE" in proc.stderr
    assert ws.sql("SELECT count(*) FROM adherents") == [(0,)]


def test_la_poste_siret_exception_is_accepted(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    # La Poste (SIREN 356000000): establishments are valid when the digits of the SIRET add up to a multiple of 5
    from stdnum import luhn

    siret = "35600000000100"
    assert sum(int(c) for c in siret) % 5 == 0 and not luhn.is_valid(siret)
    path = write_csv(tmp_path / "r.csv", H, [["20001", "La Poste", siret, make_vat("356000000"), "f@laposte.fr", "Centre de Caen", "Actif"]], encoding="utf-8")
    ws.cli("adherents", "importer", str(path))
    assert ws.sql("SELECT siret FROM etablissements") == [(siret,)]


def test_member_described_two_ways_is_refused(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    rows = Registry().rows()
    rows[1][1] = "Autre raison sociale"  # second establishment of 10001
    path = write_csv(tmp_path / "r.csv", H, rows, encoding="utf-8")
    proc = ws.cli("adherents", "importer", str(path), check=False)
    assert proc.returncode == 1 and "REG_ADHERENT_INCOHERENT" in proc.stderr and "ligne 3" in proc.stderr


def test_a_wrong_file_is_one_french_line_and_changes_nothing(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    path, mandates = Registry().write(tmp_path)
    ws.cli("adherents", "importer", str(path), "--mandats", str(mandates))
    before = ws.sql("SELECT numero, email_facturation FROM adherents ORDER BY 1")
    renamed = tmp_path / "registre.xlsx"
    renamed.write_bytes(path.read_bytes())  # a CSV given the workbook's extension
    proc = ws.cli("adherents", "importer", str(renamed), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("amsn-batch : registre.xlsx illisible, rien n'a été modifié. ")
    assert "n'est pas un classeur" in proc.stderr
    proc = ws.cli("adherents", "importer", str(path), "--mandats", str(tmp_path / "registre.xlsx"), check=False)
    assert proc.returncode == 1 and "registre.xlsx illisible" in proc.stderr
    few = write_csv(tmp_path / "incomplet.csv", H[:3], [r[:3] for r in Registry().rows()], encoding="utf-8")
    proc = ws.cli("adherents", "importer", str(few), check=False)  # columns missing: named, nothing applied
    assert proc.returncode == 1 and "COLONNE_MANQUANTE" in proc.stderr and "Traceback" not in proc.stderr
    assert "Registre refusé" in proc.stderr
    assert ws.sql("SELECT numero, email_facturation FROM adherents ORDER BY 1") == before


def test_sender_groups_join_a_member_and_the_firms_acting_for_it(tmp_path):
    """Parallel workers keep in order the files of senders sharing a member: a firm bridging two members joins
    their groups; a member without mandate, or a firm whose mandates are withdrawn, is alone again."""
    reg = Registry()
    reg.mandates = {"PAIE01": ["10002"], "PAIE02": ["10002", "10003"], "PAIE03": ["10004"]}
    ws = make_workspace(tmp_path / "ws", reg)
    registry, mandates = reg.write(tmp_path / "registre")
    ws.cli("adherents", "importer", str(registry), "--mandats", str(mandates))
    conn = connect(ws.store).conn
    try:
        assert sender_groups(conn) == {"10002": "10002", "10003": "10002", "PAIE01": "10002", "PAIE02": "10002",
                                       "10004": "10004", "PAIE03": "10004"}
        reg.mandates = {"PAIE01": ["10002"], "PAIE03": ["10003", "10004"]}  # PAIE02's mandates withdrawn
        registry, mandates = reg.write(tmp_path / "registre")
        ws.cli("adherents", "importer", str(registry), "--mandats", str(mandates))
        assert sender_groups(conn) == {"10002": "10002", "PAIE01": "10002",
                                       "10003": "10003", "10004": "10003", "PAIE03": "10003"}
    finally:
        conn.close()
