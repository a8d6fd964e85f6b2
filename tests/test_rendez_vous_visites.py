"""Visits due (issue 15, part 4), through `amsn-batch rendez-vous visites`: employees hired at various dates, in
each monitoring category, with and without honoured visits, compared with deadlines computed by hand here."""

from __future__ import annotations

import csv
import datetime as dt
import random

from tests.factories import MOVEMENT_HEADERS, make_nir, write_csv
from tests.test_rendez_vous_planning import PLANNING_HEADERS, planning_row

TODAY = dt.date(2026, 12, 1)


def test_visits_due_against_a_hand_computation(ws, tmp_path):
    rng = random.Random(45)
    s2 = ws.registry.members["10002"][0]
    # name: (category, hired, born, night worker, CMR)
    staff = {
        "ALPHA": ("SI", "01/10/2026", "1990-05-05", "", ""),
        "BRAVO": ("SI", "15/06/2026", "1988-02-02", "", ""),
        "CHARLIE": ("SIA", "01/11/2026", "2009-03-10", "", ""),  # a minor: VIP before assignment
        "DELTA": ("SIA", "01/09/2026", "1985-01-01", "Oui", ""),  # a night worker: VIP before assignment
        "ECHO": ("SIR", "01/02/2024", "1992-06-06", "", "Oui"),
        "FOXTROT": ("SIR", "01/03/2023", "1993-07-07", "", "Oui"),
        "GOLF": ("SI", "01/01/2015", "1982-07-01", "", ""),
        "HOTEL": ("SI", "01/01/2016", "1981-04-04", "", ""),
        "INDIA": ("SI", "01/01/2017", "1990-09-09", "", ""),
        "JULIET": ("SIH", "31/03/2026", "1995-10-10", "", ""),
        "KILO": ("SIR", "01/12/2026", "1996-11-11", "", "Oui"),
    }
    nirs = {n: make_nir(rng, year=int(born[:4]), month=int(born[5:7])) for n, (_, _, born, _, _) in staff.items()}
    rows = [[n, "Marie", nirs[n], f"{born[8:]}/{born[5:7]}/{born[:4]}", s2, "Entrée", hired, "", "CDI", "Vendeuse",
             "554a", "Non", cat, "", night, cmr] for n, (cat, hired, born, night, cmr) in staff.items()]
    write_csv(ws.drop("10002", "effectifs.csv"), [*MOVEMENT_HEADERS, "Travail de nuit", "CMR"], rows)
    ws.cli("traiter", env={"AMSN_BATCH_MAINTENANT": "2026-11-02T09:00"})
    assert ws.sql("SELECT count(*) FROM salaries WHERE present=1") == [(len(staff),)]

    visits = [("V1", "10/02/2024", "ECHO", "Examen d'aptitude"),
              ("V2", "03/03/2023", "FOXTROT", "Examen d'aptitude"), ("V3", "05/03/2025", "FOXTROT", "Visite intermédiaire"),
              ("V4", "20/05/2022", "GOLF", "Visite périodique"),
              ("V5", "10/01/2024", "HOTEL", "Visite périodique"),
              ("V6", "12/01/2024", "INDIA", "Visite périodique")]
    planning = [planning_row(rdv, day, "09:00", nirs[n], n, status="Honoré", kind=kind) + [""] for rdv, day, n, kind in visits]
    planning[-1][-1] = "24"  # the médecin du travail set INDIA's periodicity to 2 years
    planning.append(planning_row("V7", "15/12/2026", "09:00", nirs["ALPHA"], "ALPHA") + [""])  # planned, not honoured
    export = write_csv(tmp_path / "planning.csv", [*PLANNING_HEADERS, "Périodicité (mois)"], planning, encoding="utf-8")
    ws.cli("rendez-vous", "importer", str(export), env={"AMSN_BATCH_MAINTENANT": "2026-11-30T08:00"})

    out = ws.cli("rendez-vous", "visites", "--date", "01/12/2026").stdout
    d = dt.date
    expected = {  # by hand: (visit, deadline)
        "ALPHA": ("Visite d'information et de prévention", d(2027, 1, 1)),  # hired 01/10 + 3 months
        "BRAVO": ("Visite d'information et de prévention", d(2026, 9, 15)),  # 15/06 + 3 months: overdue
        "CHARLIE": ("Visite d'information et de prévention", d(2026, 11, 1)),  # minor: before assignment
        "DELTA": ("Visite d'information et de prévention", d(2026, 9, 1)),  # night worker: before assignment
        "ECHO": ("Visite intermédiaire", d(2026, 2, 10)),  # aptitude 10/02/2024 + 2 years
        "FOXTROT": ("Examen médical d'aptitude", d(2027, 3, 3)),  # aptitude 03/03/2023 + 4 years (intermediate done)
        "GOLF": ("Visite périodique", d(2027, 5, 20)),  # 20/05/2022 + 5 years, before the 45th-birthday year's end
        "HOTEL": ("Visite de mi-carrière", d(2026, 12, 31)),  # 45 in 2026, earlier than 10/01/2029
        "INDIA": ("Visite périodique", d(2026, 1, 12)),  # 12/01/2024 + 24 months (médecin du travail)
        "JULIET": ("Visite d'information et de prévention", d(2026, 6, 30)),  # 31/03 + 3 months: end of June
        "KILO": ("Examen médical d'aptitude", d(2026, 12, 1)),  # SIR: before assignment
    }
    late = sum((TODAY - due).days > 0 for _, due in expected.values())
    assert f"Visites à prévoir au 01/12/2026 : {len(staff)} salarié(s), dont {late} en retard." in out

    team = ws.root / "rapports" / "rendez-vous" / "visites-a-prevoir-2026-12-01.csv"
    rows = list(csv.DictReader(team.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    got = {r["Nom"]: (r["Visite à prévoir"], dt.datetime.strptime(r["Échéance"], "%d/%m/%Y").date()) for r in rows}
    assert got == expected
    # overdue first (the most overdue at the top), then by deadline
    assert [r["Nom"] for r in rows] == sorted(expected, key=lambda n: expected[n][1])
    situation = {r["Nom"]: r["Situation"] for r in rows}
    assert situation["BRAVO"] == f"En retard de {(TODAY - d(2026, 9, 15)).days} jour(s)"
    assert situation["ALPHA"] == "À prévoir" and situation["KILO"] == "À prévoir"
    assert {r["N° sécurité sociale"] for r in rows} == set(nirs.values())  # the planning team's list: full NIR

    # the member's and its mandataire's lists: the same, NIR masked
    for folder in ("10002", "PAIE01"):
        path = ws.outbox / folder / "rendez-vous" / "visites-a-prevoir-10002.csv"
        member = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
        assert [(r["Nom"], r["Échéance"]) for r in member] == [(r["Nom"], r["Échéance"]) for r in rows]
        assert not any(n in path.read_text(encoding="utf-8-sig") for n in nirs.values())
        assert (ws.outbox / folder / "rendez-vous" / "visites-a-prevoir-10002.xlsx").exists()


def test_activity_summary_counts_the_appointments_and_the_visits_due(ws, tmp_path):
    from tests.test_rendez_vous_planning import people

    nirs = people(ws)  # hired 01/06/2026 at 10002, SI
    export = write_csv(tmp_path / "planning.csv", PLANNING_HEADERS, [
        planning_row("S-1", "10/07/2026", "09:00", nirs["MARTIN"], "MARTIN", status="Honoré"),
        planning_row("S-2", "11/07/2026", "09:00", nirs["BERNARD"], "BERNARD", status="Annulé"),
        planning_row("S-3", "12/07/2026", "09:00", nirs["PETIT"], "PETIT", status="Non honoré", kind="Visite de reprise"),
    ], encoding="utf-8")
    env = {"AMSN_BATCH_MAINTENANT": "2026-12-01T08:00"}
    ws.cli("rendez-vous", "importer", str(export), env=env)
    ws.cli("synthese", "--annee", "2026", env=env)
    html = (ws.outbox / "10002" / "synthese" / "synthese-2026-10002.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="visites"'):]
    section = section[:section.index("</section>")]
    assert 'data-etat="rempli"' in section
    assert "En 2026 : 1 visite réalisée, 1 rendez-vous annulé, 1 non honoré." in section
    # MARTIN's VIP is done (next: 5 years); BERNARD's and PETIT's were due on 01/09/2026 (hired 01/06 + 3 months)
    assert "Visites à prévoir au 01/12/2026 : 3, dont 2 en retard." in section
    assert "Visite de reprise" in section and "information et de prévention" in section
    empty = (ws.outbox / "10001" / "synthese" / "synthese-2026-10001.html").read_text(encoding="utf-8")
    assert "Aucun rendez-vous en 2026 et aucune visite à prévoir au 01/12/2026." in empty
    service = (ws.root / "rapports" / "synthese-2026-service.html").read_text(encoding="utf-8")
    assert "Visites à prévoir au 01/12/2026 : 3, dont 2 en retard." in service
