"""Billing settings (a bottom module: config.py builds Settings.billing from it): the service's identity on its invoices, the declaration window and the yearly tariffs.

Tariffs are configuration, not code: a `[tarifs.AAAA]` table per year in the settings file (or in a separate
TOML file named by `[facturation] tarifs`, relative to the settings file). Loading a tariff checks the fee per
worker against the year's national average cost (80-120 %, article L4622-6 of the code du travail) and warns
when it falls outside; payment terms beyond the legal limits (Code de commerce L441-10) are refused.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .settings_file import ConfigError, read_toml

log = logging.getLogger("amsn_batch")

_ACCOUNTS = {"client": "411000", "ventes": "706000", "tva": "445710", "journal": "VE",
             # VAT on receipts (tva_sur_debits = false): pending until paid; the bank and the receipts journal
             "tva_attente": "445740", "banque": "512000", "journal_banque": "BQ"}
_ISSUER_KEYS = {
    "raison_sociale": "name", "forme_juridique": "legal_form", "siren": "siren", "siret": "siret", "tva": "vat",
    "adresse": "address", "code_postal": "postcode", "ville": "city", "email": "email", "telephone": "phone",
    "iban": "iban", "bic": "bic",
}
_ISSUER_REQUIRED = ("raison_sociale", "siren", "siret", "tva", "adresse", "code_postal", "ville", "email")
_BILLING_KEYS = {"premier_numero", "tva_sur_debits", "comptabilite", "police", "tarifs", "comptes", "relances",
                 "taux_penalites_retard", *_ISSUER_KEYS}
# Late payment (Code de commerce L441-10): without a rate in the conditions, the ECB refinancing rate + 10 points
# (2,15 % since June 2025: 12,15 %); it must be at least 3 × the legal interest rate. To check every half-year.
DEFAULT_LATE_RATE = Decimal("12.15")
DEFAULT_REMINDER_STAGES = (15, 30, 45)  # days late: reminder 1, reminder 2, formal notice (the last one)
MULTI_EMPLOYER = ("entier", "partage")  # a worker of n members: counted in full by each, or 1/n by each
_TARIFF_KEYS = {
    "cotisation_par_salarie", "supplements", "embauche_non_declaree", "taux_tva", "delai_paiement_jours",
    "fin_de_mois", "echeances", "cout_moyen_national", "multi_employeur", "absence_non_excusee",
}
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


@dataclass(frozen=True)
class Tariff:
    """One year's fees ([tarifs.AAAA]); amounts HT in euros, VAT rate in percent."""

    year: int
    fee_per_worker: Decimal
    supplements: dict[str, Decimal]  # category → supplement per worker (e.g. SIR)
    fee_per_missing_hire: Decimal
    vat_rate: Decimal
    payment_days: int
    end_of_month: bool  # "45 jours fin de mois" rather than "N jours date de facture"
    instalments: int
    national_average: Decimal | None
    warnings: tuple[str, ...] = ()
    multi_employer: str = "entier"  # a worker declared by n members: "entier" (1 each) or "partage" (1/n each)
    fee_missed_appointment: Decimal = Decimal(0)  # an unexcused missed appointment (non honoré), HT; 0: not charged


@dataclass(frozen=True)
class Issuer:
    """The service as it appears on its invoices ([facturation])."""

    name: str
    legal_form: str
    siren: str
    siret: str
    vat: str
    address: str
    postcode: str
    city: str
    email: str
    phone: str = ""
    iban: str = ""
    bic: str = ""


@dataclass(frozen=True)
class Billing:
    issuer: Issuer | None = None
    first_number: int = 1
    vat_on_debits: bool = False
    window_open: tuple[int, int] = (1, 1)  # (day, month) in the declared year
    window_close: tuple[int, int] = (31, 1)
    accounting: Path | None = None  # folder of the accounting journals
    font: Path | None = None  # TrueType font embedded in the PDF invoices
    accounts: dict[str, str] = field(default_factory=lambda: dict(_ACCOUNTS))
    tariffs: dict[int, Tariff] = field(default_factory=dict)
    late_rate: Decimal = DEFAULT_LATE_RATE  # late-payment penalties, annual percent (L441-10)
    reminder_stages: tuple[int, ...] = DEFAULT_REMINDER_STAGES  # days late of each reminder; the last: mise en demeure

    def tariff(self, year: int) -> Tariff:
        if year not in self.tariffs:
            raise ConfigError(f"Aucun tarif pour {year} : ajoutez une table [tarifs.{year}] au fichier de réglages.")
        return self.tariffs[year]

    def require_issuer(self) -> Issuer:
        if self.issuer is None:
            raise ConfigError("Section [facturation] absente du fichier de réglages : renseignez l'identité du "
                              "service (raison_sociale, siren, siret, tva, adresse, code_postal, ville, email).")
        return self.issuer

    def window(self, year: int) -> tuple[dt.date, dt.date]:
        """The default declaration window for a year (dates included)."""
        return dt.date(year, self.window_open[1], self.window_open[0]), dt.date(year, self.window_close[1], self.window_close[0])


def _money(value, where: str) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", ".").strip())
    except (InvalidOperation, ValueError) as exc:
        raise ConfigError(f"Montant invalide pour {where} : {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"Montant invalide pour {where} : {value!r}")
    return amount


def _int(value, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"Valeur invalide pour {where} : {value!r} (nombre entier de {low} à {high} attendu)")
    return value


def _day_month(value, where: str) -> tuple[int, int]:
    try:
        d, m = (int(x) for x in str(value).split("/"))
        dt.date(2024, m, d)  # a leap year accepts 29/02
    except ValueError as exc:
        raise ConfigError(f"Date invalide pour {where} : {value!r} (format JJ/MM attendu, par exemple 31/01)") from exc
    return d, m


def load_tariff(year: int, spec: dict) -> Tariff:
    """One [tarifs.AAAA] table; the fee is checked against the national average cost (80-120 %)."""
    where = f"[tarifs.{year}]"
    unknown = set(spec) - _TARIFF_KEYS
    if unknown:
        raise ConfigError(f"Clé inconnue dans {where} : {', '.join(sorted(unknown))} (attendu : {', '.join(sorted(_TARIFF_KEYS))})")
    for key in ("cotisation_par_salarie", "taux_tva"):
        if key not in spec:
            raise ConfigError(f"Clé obligatoire absente de {where} : {key}")
    supplements = {}
    for cat, amount in (spec.get("supplements") or {}).items():
        if cat not in ("SI", "SIA", "SIR", "SIH"):
            raise ConfigError(f"Catégorie inconnue dans {where} supplements : {cat} (SI, SIA, SIR ou SIH)")
        supplements[cat] = _money(amount, f"{where} supplements.{cat}")
    end_of_month = spec.get("fin_de_mois", False)
    if not isinstance(end_of_month, bool):
        raise ConfigError(f"Valeur invalide pour {where} fin_de_mois : {end_of_month!r} (true ou false)")
    limit = 45 if end_of_month else 60
    days = _int(spec.get("delai_paiement_jours", 30), f"{where} delai_paiement_jours", 0, 10_000)
    if days > limit:
        raise ConfigError(
            f"{where} delai_paiement_jours = {days} dépasse le délai légal (Code de commerce L441-10) : "
            + ("45 jours fin de mois." if end_of_month else "60 jours à compter de la date de la facture."))
    vat = _money(spec["taux_tva"], f"{where} taux_tva")
    if vat >= 100:
        raise ConfigError(f"Taux de TVA invalide dans {where} : {vat} (en pourcentage, par exemple 20)")
    fee = _money(spec["cotisation_par_salarie"], f"{where} cotisation_par_salarie")
    average = _money(spec["cout_moyen_national"], f"{where} cout_moyen_national") if "cout_moyen_national" in spec else None
    warnings = []
    if average is None:
        if year >= 2025:
            warnings.append(f"{where} : coût moyen national non renseigné (cout_moyen_national), la fourchette "
                            "de 80 % à 120 % ne peut pas être contrôlée.")
    elif average > 0:
        ratio = fee / average * 100
        if not Decimal(80) <= ratio <= Decimal(120):
            warnings.append(
                f"{where} : la cotisation par salarié ({fee} € HT) représente {ratio:.1f} % du coût moyen national "
                f"({average} €), hors de la fourchette légale de 80 % à 120 % (article L4622-6 du code du travail).")
    for w in warnings:
        log.warning(w)
    parts = _int(spec.get("echeances", 1), f"{where} echeances", 1, 12)
    if parts > 1 and parts > days:
        raise ConfigError(f"{where} : {parts} échéances pour un délai de paiement de {days} jour(s) : chaque échéance "
                          "doit tomber un jour différent, prévoyez au moins un jour de délai par échéance.")
    multi = spec.get("multi_employeur", "entier")
    if multi not in MULTI_EMPLOYER:
        raise ConfigError(f"Valeur invalide pour {where} multi_employeur : {multi!r} (\"entier\" : chaque adhérent "
                          "compte le salarié en entier ; \"partage\" : chacun des n employeurs compte 1/n)")
    return Tariff(
        year=year, fee_per_worker=fee, multi_employer=multi, supplements=supplements,
        fee_per_missing_hire=_money(spec.get("embauche_non_declaree", 0), f"{where} embauche_non_declaree"),
        vat_rate=vat, payment_days=days, end_of_month=end_of_month,
        instalments=parts,
        national_average=average, warnings=tuple(warnings),
        fee_missed_appointment=_money(spec.get("absence_non_excusee", 0), f"{where} absence_non_excusee"),
    )


def _tariffs(data: dict, base: Path, section: dict) -> dict[int, Tariff]:
    tables = dict(data.get("tarifs", {}))
    if section.get("tarifs"):
        tpath = (base / section["tarifs"]).resolve()
        extra = read_toml(tpath, "Fichier des tarifs")
        tables.update(extra.get("tarifs", {}))
    out = {}
    for year, spec in tables.items():
        if not str(year).isdigit() or len(str(year)) != 4 or not isinstance(spec, dict):
            raise ConfigError(f"Table de tarif invalide : [tarifs.{year}] (une table par année, par exemple [tarifs.2026])")
        out[int(year)] = load_tariff(int(year), spec)
    return out


def load_billing(data: dict, base: Path) -> Billing:
    section = data.get("facturation", {})
    unknown = set(section) - _BILLING_KEYS
    if unknown:
        raise ConfigError(f"Clé inconnue dans [facturation] : {', '.join(sorted(unknown))}")
    issuer = None
    if any(k in section for k in _ISSUER_KEYS):
        missing = [k for k in _ISSUER_REQUIRED if not str(section.get(k, "")).strip()]
        if missing:
            raise ConfigError(f"Clé obligatoire absente de [facturation] : {', '.join(missing)}")
        issuer = Issuer(**{attr: str(section.get(key, "")).strip() for key, attr in _ISSUER_KEYS.items()},)
        if issuer.legal_form == "":
            issuer = Issuer(**{**issuer.__dict__, "legal_form": "Association loi 1901"})
    window = data.get("declaration", {})
    unknown = set(window) - {"ouverture", "fermeture"}
    if unknown:
        raise ConfigError(f"Clé inconnue dans [declaration] : {', '.join(sorted(unknown))} (attendu : ouverture, fermeture)")
    opens = _day_month(window.get("ouverture", "01/01"), "[declaration] ouverture")
    closes = _day_month(window.get("fermeture", "31/01"), "[declaration] fermeture")
    if (opens[1], opens[0]) > (closes[1], closes[0]):
        raise ConfigError("[declaration] : la fermeture doit suivre l'ouverture dans la même année.")
    accounts = dict(_ACCOUNTS)
    for key, value in (section.get("comptes") or {}).items():
        if key not in _ACCOUNTS:
            raise ConfigError(f"Clé inconnue dans [facturation.comptes] : {key} (attendu : {', '.join(_ACCOUNTS)})")
        accounts[key] = str(value)
    vat_on_debits = section.get("tva_sur_debits", False)
    if not isinstance(vat_on_debits, bool):
        raise ConfigError(f"Valeur invalide pour [facturation] tva_sur_debits : {vat_on_debits!r} (true ou false)")
    font = (base / section["police"]).resolve() if section.get("police") else next(
        (Path(p) for p in FONT_CANDIDATES if Path(p).is_file()), None)
    stages = section.get("relances", list(DEFAULT_REMINDER_STAGES))
    if (not isinstance(stages, list) or not stages or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in stages)
            or stages != sorted(set(stages))):
        raise ConfigError(f"Valeur invalide pour [facturation] relances : {stages!r} (jours de retard de chaque relance, "
                          "croissants, la dernière étant la mise en demeure ; par exemple [15, 30, 45])")
    late_rate = _money(section.get("taux_penalites_retard", DEFAULT_LATE_RATE), "[facturation] taux_penalites_retard")
    return Billing(
        late_rate=late_rate, reminder_stages=tuple(stages),
        issuer=issuer,
        first_number=_int(section.get("premier_numero", 1), "[facturation] premier_numero", 1, 10**12),
        vat_on_debits=vat_on_debits,
        window_open=opens, window_close=closes,
        accounting=(base / section.get("comptabilite", "comptabilite")).resolve(),
        font=font, accounts=accounts, tariffs=_tariffs(data, base, section),
    )
