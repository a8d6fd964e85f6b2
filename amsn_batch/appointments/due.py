"""Visits due: for each present employee, the next visit it needs and its deadline, from its hire date, its
monitoring category (SI, SIA, SIR, SIH), its determinants, its birth date and its honoured appointments, with
the defaults of the code du travail ([suivi] of schemas/rendez_vous.toml, sources there; the settings'
[rendez_vous] may change them) and the periodicity the médecin du travail set for one employee (column
« Périodicité (mois) » of the planning). Computed for all employees at once (pandas), never one by one.

The rules, in order:
- no honoured visit yet: SIR, examen médical d'aptitude before assignment (deadline: the hire date); others, the
  visite d'information et de prévention within `vip_mois` months of the hire, or before assignment (the hire
  date) for night workers and minors;
- SIR: the intermediate visit `intermediaire_sir_mois` after the last aptitude exam, then the next aptitude exam
  `periodicite_sir_mois` after it;
- SI, SIA, SIH: the periodic visit the category's periodicity (or the employee's own) after the last visit;
- the mid-career visit in the calendar year of the `age_mi_carriere`th birthday (from 2022, loi 2021-1018), when
  not done and earlier than the above.
The visite de reprise (after the absences R4624-31 lists) needs absence data the service does not receive: it
is asked for by the members (visit requests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from ..billing.documents import csv_text, write_xlsx
from ..config import Settings
from ..formats import write_atomic
from ..masking import mask_nir
from ..store import appointments as store
from ..store import registry
from . import setup
from .setup import visit_label

MID_CAREER_FROM = 2022  # loi 2021-1018, in force 31 March 2022
COLUMNS = ["N° adhérent", "Nom", "Prénom", "N° sécurité sociale", "SIRET", "Catégorie", "Date d'embauche",
           "Dernière visite", "Visite à prévoir", "Échéance", "Situation", "Règle"]


def add_months(days: pd.Series, months: pd.Series) -> pd.Series:
    """Each date plus its number of months (the end of the month when the day does not exist: 31/01 + 1 → 28/02)."""
    d = pd.to_datetime(days)
    total = d.dt.year * 12 + d.dt.month - 1 + months.astype("Int64")
    year, month = total // 12, total % 12 + 1
    first = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}), errors="coerce")
    last_day = first.dt.days_in_month
    return first + pd.to_timedelta(np.minimum(d.dt.day, last_day) - 1, unit="D")


def visits_due(conn, settings: Settings, today: dt.date) -> pd.DataFrame:
    """One row per present employee: adherent, nir, nom, prenom, siret, categorie, date_embauche, derniere,
    visite (code), echeance (date), retard (days, > 0 when overdue), regle; overdue first, then by deadline."""
    rules = setup.load(settings).follow_up
    e = store.employees(conn)
    if e.empty:
        return pd.DataFrame(columns=["adherent", "nir", "nom", "prenom", "siret", "categorie", "date_embauche",
                                     "derniere", "visite", "echeance", "retard", "regle"])
    e["categorie"] = e["categorie"].fillna("").replace("", "SI")
    hired = pd.to_datetime(e["date_embauche"].replace("", None), errors="coerce")
    born = pd.to_datetime(e["date_naissance"].replace("", None), errors="coerce")
    minor = (hired - born).dt.days < 18 * 365.25
    flagged = e["determinants"].fillna("").str.contains(rf"(?:^|,)(?:{'|'.join(rules['vip_avant_affectation'])})(?:,|$)")
    before_assignment = minor.fillna(False) | flagged

    v = store.honoured(conn)
    v["jour"] = pd.to_datetime(v["debut"].str[:10])
    key = ["adherent", "nir"]
    last = v.groupby(key)["jour"].max().rename("derniere")
    aptitude = v[v["type_visite"] == "aptitude"].groupby(key)["jour"].max().rename("aptitude")
    mid = v[v["type_visite"] == "mi_carriere"].groupby(key)["jour"].max().rename("mi_carriere")
    own = (v.dropna(subset=["periodicite_mois"]).sort_values("jour").groupby(key)["periodicite_mois"].last()
           .rename("periodicite"))
    e = e.join(last, on=key).join(aptitude, on=key).join(mid, on=key).join(own, on=key)

    cat = e["categorie"]
    period = cat.map({"SI": rules["periodicite_si_mois"], "SIA": rules["periodicite_sia_mois"],
                      "SIR": rules["periodicite_sir_mois"], "SIH": rules["periodicite_sih_mois"]}).fillna(
        rules["periodicite_si_mois"])
    period = pd.to_numeric(e["periodicite"], errors="coerce").fillna(period).astype(int)
    sir = cat == "SIR"
    never = e["derniere"].isna()
    vip_delay = pd.Series(np.where(before_assignment, 0, rules["vip_mois"]), index=e.index)

    # the candidates, each a (code, deadline, rule) triple of columns
    visit = pd.Series("periodique", index=e.index, dtype=object)
    due = add_months(e["derniere"], period)
    rule = "Visite périodique : au plus tard " + period.map(_months) + " après la dernière visite"
    # SIR
    no_exam = sir & e["aptitude"].isna()
    after_exam = sir & e["aptitude"].notna() & (e["derniere"] > e["aptitude"])
    inter = sir & e["aptitude"].notna() & ~after_exam
    visit = visit.mask(no_exam, "aptitude").mask(after_exam, "aptitude").mask(inter, "intermediaire")
    due = due.mask(no_exam, hired).mask(after_exam, add_months(e["aptitude"], period)).mask(
        inter, add_months(e["aptitude"], pd.Series(rules["intermediaire_sir_mois"], index=e.index)))
    rule = rule.mask(no_exam, "SIR : examen médical d'aptitude avant l'affectation au poste (R4624-24)").mask(
        after_exam, "SIR : renouvellement de l'examen d'aptitude au plus tard " + period.map(_months) + " après le "
        "précédent (R4624-28)").mask(
        inter, f"SIR : visite intermédiaire {_months(rules['intermediaire_sir_mois'])} après l'examen d'aptitude (R4624-28)")
    # the first visit of the others
    first = ~sir & never
    visit = visit.mask(first, "vip")
    due = due.mask(first, add_months(hired, vip_delay))
    rule = rule.mask(first & before_assignment, "VIP avant l'affectation au poste (travail de nuit, mineur : R4624-18)").mask(
        first & ~before_assignment, f"VIP dans les {_months(rules['vip_mois'])} de la prise de poste (R4624-10)")
    # mid-career
    year45 = born.dt.year + rules["age_mi_carriere"]
    mid_due = pd.to_datetime(pd.DataFrame({"year": year45, "month": 12, "day": 31}), errors="coerce")
    wants_mid = (year45 >= MID_CAREER_FROM) & e["mi_carriere"].isna() & mid_due.notna() & (mid_due < due)
    visit = visit.mask(wants_mid, "mi_carriere")
    due = due.mask(wants_mid, mid_due)
    rule = rule.mask(wants_mid, f"Visite de mi-carrière l'année des {rules['age_mi_carriere']} ans (L4624-2-2)")

    when = pd.Timestamp(today)
    out = pd.DataFrame({
        "adherent": e["adherent"], "nir": e["nir"], "nom": e["nom"].fillna(""), "prenom": e["prenom"].fillna(""),
        "siret": e["siret"].fillna(""), "categorie": cat, "date_embauche": hired.dt.date, "derniere": e["derniere"].dt.date,
        "visite": visit, "echeance": due.dt.date, "retard": (when - due).dt.days, "regle": rule})
    out["derniere"] = out["derniere"].astype(object).where(e["derniere"].notna(), None)
    return out.sort_values(["echeance", "adherent", "nom", "prenom"], na_position="first").reset_index(drop=True)


def _months(n) -> str:
    n = int(n)
    return f"{n // 12} an{'s' if n >= 24 else ''}" if n % 12 == 0 else f"{n} mois"


def _situation(retard) -> str:
    if pd.isna(retard):
        return "Date d'embauche inconnue"
    return f"En retard de {int(retard)} jour(s)" if retard > 0 else "À prévoir"


def _rows(frame: pd.DataFrame, masked: bool) -> list[list]:
    return [[r.adherent, r.nom, r.prenom, mask_nir(r.nir) if masked else r.nir, r.siret, r.categorie,
             r.date_embauche if not pd.isna(r.date_embauche) else "", r.derniere or "", visit_label(r.visite),
             r.echeance if not pd.isna(r.echeance) else "", _situation(r.retard), r.regle]
            for r in frame.itertuples(index=False)]


def write_visits_due(conn, settings: Settings, today: dt.date) -> tuple[list[Path], pd.DataFrame]:
    """Per member (and its mandataires) outbox/<member>/rendez-vous/visites-a-prevoir-<member>.csv/.xlsx (NIR
    masked); for the planning team rapports/rendez-vous/visites-a-prevoir-AAAA-MM-JJ.csv/.xlsx (all members,
    full NIR: it stays in the service). Overdue first."""
    due = visits_due(conn, settings, today)
    mandates = registry.mandataires_by_member(conn)
    written = []
    title = f"Visites à prévoir au {today:%d/%m/%Y} (les plus en retard d'abord)"
    for adherent, own in due.groupby("adherent", sort=True):
        rows = _rows(own, masked=True)
        for folder in [adherent, *sorted(mandates.get(adherent, []))]:
            out = settings.paths.outbox / folder / "rendez-vous"
            write_atomic(out / f"visites-a-prevoir-{adherent}.csv", csv_text(COLUMNS, rows))
            write_xlsx(out / f"visites-a-prevoir-{adherent}.xlsx", [("Visites à prévoir", [(title, COLUMNS, rows)])])
            written += [out / f"visites-a-prevoir-{adherent}.csv", out / f"visites-a-prevoir-{adherent}.xlsx"]
    team = settings.paths.rapports / "rendez-vous"
    rows = _rows(due, masked=False)
    write_atomic(team / f"visites-a-prevoir-{today.isoformat()}.csv", csv_text(COLUMNS, rows))
    write_xlsx(team / f"visites-a-prevoir-{today.isoformat()}.xlsx", [("Visites à prévoir", [(title, COLUMNS, rows)])])
    written += [team / f"visites-a-prevoir-{today.isoformat()}.csv", team / f"visites-a-prevoir-{today.isoformat()}.xlsx"]
    return written, due
