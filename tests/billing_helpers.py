"""Helpers of the billing tests: a workspace with the service's identity and tariffs in its settings,
declaration and payment files written as members and accounting write them, received on a chosen date.

The reception time of a file is the service's clock when `traiter` claims it, never the file's own dates: a
billing workspace runs `traiter` at the moment the last file was said to be received (`ws.clock`, passed as
the test-only AMSN_BATCH_MAINTENANT). Files received on different days are processed by different runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tests.conftest import Workspace, import_registry, make_workspace
from tests.facturx_checks import check_outbox
from tests.factories import make_siren, make_siret, make_vat, write_csv

ISSUER_SIREN = make_siren("77556612")
BILLING_CONFIG = f"""
[facturation]
raison_sociale = "AMSN Santé au travail"
siren = "{ISSUER_SIREN}"
siret = "{make_siret(ISSUER_SIREN)}"
tva = "{make_vat(ISSUER_SIREN)}"
adresse = "12 rue de la Prévention"
code_postal = "14000"
ville = "Caen"
email = "comptabilite@amsn.fr"
iban = "FR76 3000 6000 0112 3456 7890 189"
bic = "AGRIFRPP"
premier_numero = 420930

[declaration]
ouverture = "01/01"
fermeture = "31/01"

[tarifs.2026]
cotisation_par_salarie = "115.80"
supplements = {{ SIR = "51.10" }}
embauche_non_declaree = "76.00"
taux_tva = "20"
delai_paiement_jours = 30
echeances = 1
cout_moyen_national = "116.00"
"""

COUNT_HEADERS = ["Année", "N° adhérent", "SIRET", "Effectif SI", "Effectif SIA", "Effectif SIR", "Effectif SIH"]
LIST_HEADERS = ["Année", "SIRET", "Nom de naissance", "Prénom", "N° sécurité sociale", "Catégorie déclarée"]


CLOCK_ENV = "AMSN_BATCH_MAINTENANT"  # the service's clock, for tests and demos
PIECE_COMMANDS = {"facturer", "echeanciers", "paiements", "contentieux", "relances", "demo"}  # they write pieces


@dataclass
class BillingWorkspace(Workspace):
    clock: dt.datetime | None = None  # the service's clock of the next commands (None: the real one)

    def cli(self, *args: str, check: bool = True, env: dict | None = None, **options):
        """`amsn-batch ARGS` on the service's clock. `facturer --date JJ/MM/AAAA` runs on that day at the
        earliest (the service issues pieces dated today or earlier, never in its future)."""
        clock = self.clock
        if args and args[0] == "facturer" and "--date" in args:
            try:
                day = dt.datetime.strptime(args[args.index("--date") + 1], "%d/%m/%Y").replace(hour=18)
            except ValueError:  # a test of a wrong date: the command says so
                day = None
            if day is not None:
                clock = max(clock, day) if clock else day
        fixed = {CLOCK_ENV: clock.isoformat()} if clock else {}
        done = super().cli(*args, check=check, env={**fixed, **(env or {})}, **options)
        if args and args[0] in PIECE_COMMANDS:  # every e-invoice written: XSD, EN 16931 schematron, PDF/A metadata
            check_outbox(self.outbox)
        return done


def billing_workspace(tmp_path: Path, extra: str = "", config: str = BILLING_CONFIG) -> BillingWorkspace:
    base = make_workspace(tmp_path / "ws", extra_config=config + extra)
    w = BillingWorkspace(base.root, base.config, base.registry, base.database)
    return import_registry(w, tmp_path / "registre")


def received(ws: BillingWorkspace, path: Path, when: dt.datetime) -> Path:
    """The file dropped at `path` will be received at `when`: the service's clock of the next `traiter`."""
    ws.clock = when
    return path


def drop_counts(ws: Workspace, sender: str, name: str, rows: list[list[object]], when: dt.datetime,
                headers: list[str] = COUNT_HEADERS) -> Path:
    return received(ws, write_csv(ws.drop(sender, name), headers, rows), when)


def declare(ws: Workspace, adherent: str, when: dt.datetime, si: int = 0, sia: int = 0, sir: int = 0, sih: int = 0,
            year: int = 2026, name: str | None = None, sender: str | None = None) -> Path:
    """A declaration of counts on the adhérent's first establishment (0 on the others)."""
    sirets = ws.registry.members[adherent]
    rows = [[year, adherent, sirets[0], si, sia, sir, sih]] + [[year, adherent, s, 0, 0, 0, 0] for s in sirets[1:]]
    return drop_counts(ws, sender or adherent, name or f"effectifs-{adherent}-{when:%Y%m%d%H%M}.csv", rows, when)


def late_declaration(ws: Workspace, adherent: str, office_day: str, declared: dt.datetime, invoice_day: str,
                     **counts) -> None:
    """The usual late declarant: `facturer` on office_day (its facture d'office), the campaign reopened for it
    until 28/02/2026, its declaration of `counts` received at `declared`, then `facturer` on invoice_day (the
    avoir and the invoice)."""
    ws.cli("facturer", "--annee", "2026", "--date", office_day)
    ws.cli("declaration", "ouvrir", "--annee", "2026", "--jusqu-au", "28/02/2026", "--adherent", adherent)
    declare(ws, adherent, declared, **counts)
    ws.cli("traiter")
    ws.cli("facturer", "--annee", "2026", "--date", invoice_day)


def statuses(ws: Workspace, day: str) -> dict[str, str]:
    """`declaration statuts` for 2026 on a day: adhérent → its status as printed."""
    out = {}
    for line in ws.cli("declaration", "statuts", "--annee", "2026", "--date", day).stdout.splitlines():
        numero, rest = line.split(" ", 1)
        out[numero] = rest.split(" : ", 1)[1]
    return out


def run(ws: Workspace, *args: str, **kw):
    return ws.cli(*args, **kw)


def pieces(ws: Workspace) -> list[tuple]:
    """(numero, type, adherent, date_emission, total_ht, total_tva, total_ttc, origine numero) by sequence."""
    return ws.sql("SELECT f.numero, f.type, f.adherent, f.date_emission, f.total_ht, f.total_tva, f.total_ttc, o.numero "
                  "FROM factures f LEFT JOIN factures o ON o.id=f.origine_id ORDER BY f.sequence")


def assert_gapless(ws: Workspace, first: int = 420930) -> list[int]:
    seq = [int(r[0]) for r in ws.sql("SELECT numero FROM factures ORDER BY sequence")]
    assert seq == list(range(first, first + len(seq))), seq
    dates = [r[0] for r in ws.sql("SELECT date_emission FROM factures ORDER BY sequence")]
    assert dates == sorted(dates)
    return seq


def D(x: str) -> Decimal:
    return Decimal(x)


def employees_file(ws: Workspace, sender: str, name: str, rows: list[list[str]], when: dt.datetime | None = None) -> Path:
    from tests.factories import MOVEMENT_HEADERS

    p = write_csv(ws.drop(sender, name), MOVEMENT_HEADERS, rows)
    return received(ws, p, when) if when else p

