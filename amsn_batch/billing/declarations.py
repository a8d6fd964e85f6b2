"""Annual headcount declarations: the campaign window, the statuses, the checks of a declaration file and
the pre-filled files sent to members.

A declaration file gives, per establishment, the number of workers per category (SI, SIA, SIR and the SIH
label), or the list of the employees with their category (counted here). Each file received for an
(adhérent, year) is a new version: the latest `confirmee` one is the declaration; a version with blocking
findings is `en_cours` and replaces nothing. Once invoiced, a newer confirmed version is a correction that
invoicing settles with a credit note and a new invoice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import intake
from ..read import UnreadableFile, read_table
from ..read.headers import map_headers
from ..reports.formats import date_fr, safe_cell, write_atomic
from ..rules import identifiers, values
from ..rules.catalogue import Findings, to_rows
from ..store.employees import FileRecord
from ..vocab import load_toml, vocabulary
from .tariffs import Billing

CATEGORIES = ("SI", "SIA", "SIR", "SIH")
COUNT_FIELDS = {"effectif_si": "SI", "effectif_sia": "SIA", "effectif_sir": "SIR", "effectif_sih": "SIH"}
# Situations in which a member cannot declare (statuts.toml codes).
NOT_DECLARABLE = {"sans_personnel", "cession", "cessation", "liquidation"}
STATUS_LABELS = {
    "a_saisir": "À saisir", "en_cours": "En cours", "confirmee": "Confirmée", "facturee": "Facturée",
    "non_saisissable": "Non saisissable",
}
PREFILL_HEADERS = ["Année", "N° adhérent", "Raison sociale", "SIRET", "Effectif SI", "Effectif SIA", "Effectif SIR",
                   "Effectif SIH", "Effectif total"]
_INT = re.compile(r"\d+(?:[.,]0+)?")


# --- window -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    opens: dt.date
    closes: dt.date
    override: bool = False

    def contains(self, day: dt.date) -> bool:
        return self.opens <= day <= self.closes

    def closed_at(self, day: dt.date) -> bool:
        return day > self.closes


def window(conn, billing: Billing, adherent: str | None, year: int) -> Window:
    """The campaign window of a year for one adhérent: a staff override for this adhérent, else one for
    everybody, else the settings' window (January by default)."""
    rows = conn.execute(
        "SELECT ouverture, fermeture, adherent FROM campagnes_derogations WHERE annee=? AND retiree_le IS NULL "
        "AND (adherent IS NULL OR adherent=?) ORDER BY adherent IS NULL, id DESC LIMIT 1", (year, adherent)).fetchone()
    if rows:
        return Window(dt.date.fromisoformat(rows[0]), dt.date.fromisoformat(rows[1]), True)
    opens, closes = billing.window(year)
    return Window(opens, closes)


def set_override(conn, year: int, opens: dt.date, closes: dt.date, adherent: str | None, reason: str | None,
                 now: dt.datetime) -> None:
    if closes < opens:
        raise ValueError("La date de fermeture précède la date d'ouverture.")
    if adherent is not None and not conn.execute("SELECT 1 FROM adherents WHERE numero=?", (adherent,)).fetchone():
        raise LookupError(f"Adhérent inconnu : {adherent}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE campagnes_derogations SET retiree_le=? WHERE annee=? AND adherent IS ? AND retiree_le IS NULL",
                     (now.isoformat(timespec="seconds"), year, adherent))
        conn.execute("INSERT INTO campagnes_derogations (annee, adherent, ouverture, fermeture, motif, le) VALUES (?,?,?,?,?,?)",
                     (year, adherent, opens.isoformat(), closes.isoformat(), reason, now.isoformat(timespec="seconds")))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def remove_override(conn, year: int, adherent: str | None, now: dt.datetime) -> int:
    cur = conn.execute("UPDATE campagnes_derogations SET retiree_le=? WHERE annee=? AND adherent IS ? AND retiree_le IS NULL",
                       (now.isoformat(timespec="seconds"), year, adherent))
    return cur.rowcount


def refusal_hint(win: Window, year: int, day: dt.date, billing: Billing) -> str:
    """When the campaign opens (or opened), in French, for a declaration refused outside the window."""
    if day < win.opens:
        return f"La campagne {year} ouvrira le {date_fr(win.opens)} : déposez votre déclaration à partir de cette date."
    next_open, _ = billing.window(year + 1)
    return (f"La campagne {year} est close depuis le {date_fr(win.closes)} ; la prochaine campagne (effectifs {year + 1}) "
            f"ouvrira le {date_fr(next_open)}. Pour une déclaration tardive, contactez le service relation adhérents "
            "(relation.adherents@amsn.fr) qui peut la rouvrir pour vous.")


# --- headcounts -------------------------------------------------------------------------------------


def _determinant_categories() -> dict[str, str]:
    return {key: spec.get("categorie", "") for key, spec in load_toml("determinants.toml").items()}


def employee_category(declared: str | None, determinants: str | None) -> str:
    """The category an employee counts in: the declared one, else the strongest its determinants call for."""
    if declared in CATEGORIES:
        return declared
    cats = {_determinant_categories().get(d, "") for d in (determinants or "").split(",") if d}
    for cat in ("SIR", "SIA", "SIH"):
        if cat in cats:
            return cat
    return "SI"


def store_headcount(conn, adherent: str) -> dict[str, dict[str, int]]:
    """Employees present in the store, per establishment and category."""
    out: dict[str, dict[str, int]] = {}
    for siret, cat, det in conn.execute(
            "SELECT siret, categorie, determinants FROM salaries_actuels WHERE adherent=? AND present=1", (adherent,)):
        per = out.setdefault(siret or "", {c: 0 for c in CATEGORIES})
        per[employee_category(cat, det)] += 1
    return out


def declaration_counts(conn, declaration_id: int) -> dict[str, int]:
    counts = {c: 0 for c in CATEGORIES}
    for cat, n in conn.execute("SELECT categorie, SUM(effectif) FROM declarations_effectifs WHERE declaration_id=? "
                               "GROUP BY categorie", (declaration_id,)):
        counts[cat] = int(n)
    return counts


def current_declaration(conn, adherent: str, year: int):
    """(id, recue_le, facture_id) of the latest confirmed declaration, or None."""
    return conn.execute("SELECT id, recue_le, facture_id FROM declarations WHERE adherent=? AND annee=? AND etat='confirmee' "
                        "ORDER BY id DESC LIMIT 1", (adherent, year)).fetchone()


# --- statuses ---------------------------------------------------------------------------------------


@dataclass
class DeclarationStatus:
    adherent: str
    name: str
    status: str  # key of STATUS_LABELS
    total: int | None
    window: Window
    invoice: str | None  # number of the invoice in force, if any

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def statuses(conn, billing: Billing, year: int, today: dt.date) -> list[DeclarationStatus]:
    out = []
    for numero, name, situation in conn.execute("SELECT numero, raison_sociale, statut FROM adherents ORDER BY numero").fetchall():
        win = window(conn, billing, numero, year)
        cur = current_declaration(conn, numero, year)
        active = conn.execute(
            "SELECT f.id, f.numero FROM factures f WHERE f.adherent=? AND f.annee=? AND f.type IN ('facture','facture_office') "
            "AND NOT EXISTS (SELECT 1 FROM factures a WHERE a.origine_id=f.id) ORDER BY f.id DESC LIMIT 1", (numero, year)).fetchone()
        total = None
        if cur is not None:
            total = conn.execute("SELECT total FROM declarations WHERE id=?", (cur[0],)).fetchone()[0]
            status = "facturee" if active is not None and cur[2] == active[0] else "confirmee"
        elif situation in NOT_DECLARABLE:
            status = "non_saisissable"
        elif conn.execute("SELECT 1 FROM declarations WHERE adherent=? AND annee=? AND etat='en_cours'", (numero, year)).fetchone():
            status = "en_cours"
        elif win.contains(today):
            status = "a_saisir"
        else:
            status = "non_saisissable"
        out.append(DeclarationStatus(numero, name, status, total, win, active[1] if active else None))
    return out


# --- the declaration file ---------------------------------------------------------------------------


@dataclass
class Version:
    adherent: str
    year: int
    state: str  # confirmee | en_cours
    mode: str  # effectifs | liste
    counts: list[tuple[str, str, int]]  # (siret, category, headcount)
    employees: list[tuple[int, str, str, str, str, str]] = field(default_factory=list)  # line, siret, nir, nom, prenom, cat

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.counts)


@dataclass
class CheckedDeclaration:
    record: FileRecord
    findings: pd.DataFrame
    versions: list[Version]
    quarantine_reason: str | None = None


def _record(sha, sender_code, path, received, findings: Findings, frame_lines, header_line, columns, rows, accepted,
            details) -> tuple[FileRecord, pd.DataFrame]:
    lines = frame_lines if frame_lines is not None else np.array([], dtype=np.int64)
    frame = to_rows(findings.frame(), lines, header_line, columns)
    refused_file = findings.file_refused()
    if refused_file:
        accepted = 0
    status = "rejete" if refused_file or accepted == 0 else ("accepte" if accepted == rows else "accepte_partiellement")
    record = FileRecord(sha, sender_code, path.name, path.stat().st_size, received, status, rows, accepted, rows - accepted,
                        int((frame["gravite"] == "avertissement").sum()), {"genre": "declaration", **details})
    return record, frame


def check_declaration(conn, path: Path, sender, sender_code: str, settings, sha: str | None = None) -> CheckedDeclaration:
    """Read and check a declaration file against the registry, the window and the store; writes nothing.
    `sender` is the pipeline's Sender (None when the folder is unknown)."""
    billing: Billing = settings.billing or Billing()
    sha = sha or intake.sha256(path)
    received = intake.received_at(path)
    day = dt.datetime.fromisoformat(received).date()
    f = Findings()

    def done(rows=0, accepted=0, versions=(), table=None, columns=None, details=None, quarantine=None):
        record, frame = _record(sha, sender_code, path, received, f, table.lines if table is not None else None,
                                table.header_line if table is not None else 0, columns or {}, rows, accepted, details or {})
        return CheckedDeclaration(record, frame, list(versions) if not f.file_refused() else [], quarantine)

    if sender is None:
        f.add_file("EXPEDITEUR_INCONNU", expediteur=sender_code)
        return done()
    vocab = vocabulary("declaration")
    try:
        table = read_table(path, vocab, settings.limits.max_rows, settings.limits.max_columns)
    except UnreadableFile as exc:
        f.add_file("FICHIER_ILLISIBLE", raison=str(exc))
        return done(quarantine=str(exc))
    headers = map_headers(table.headers, vocab)
    details = {"format": table.format, "ligne_entetes": table.header_line, "colonnes": table.headers, **table.details}
    for header in headers.unknown:
        f.add_file("COLONNE_INCONNUE", None, "", colonne=header)
    for key, header in headers.duplicated:
        f.add_file("COLONNE_EN_DOUBLE", None, "", colonne=header, attendu=vocab.field(key).label)
    n = len(table)
    if headers.missing:
        expected = ", ".join(fl.label for fl in vocab.fields if fl.required)
        for missing in headers.missing:
            f.add_file("COLONNE_MANQUANTE", None, "", attendu=missing.label, liste=expected)
        return done(n, table=table, columns=headers.columns, details=details)
    if n == 0:
        f.add_file("FICHIER_VIDE")
        return done(0, table=table, columns=headers.columns, details=details)

    def col(key: str) -> pd.Series:
        header = headers.columns.get(key)
        return table.frame[header].astype(str).str.strip() if header else pd.Series([""] * n, dtype=str)

    count_mode = any(k in headers.columns for k in COUNT_FIELDS)
    list_mode = "categorie" in headers.columns and ("nir" in headers.columns or "nom" in headers.columns)
    if not count_mode and not list_mode:
        f.add_file("DECL_COLONNES")
        return done(n, table=table, columns=headers.columns, details=details)
    mode = "effectifs" if count_mode else "liste"
    details["mode"] = mode

    # Year: one per file
    years = col("annee")
    distinct = sorted(set(years) - {""})
    bad_year = [y for y in distinct if not (re.fullmatch(r"\d{4}", y) and 2000 <= int(y) <= 2100)]
    if bad_year or not distinct:
        f.add_file("DECL_ANNEE_INVALIDE", "annee", bad_year[0] if bad_year else "", valeur=bad_year[0] if bad_year else "")
    elif len(distinct) > 1:
        f.add_file("DECL_ANNEES_MULTIPLES", annees=", ".join(distinct))
    if f.file_refused():
        return done(n, table=table, columns=headers.columns, details=details)
    year = int(distinct[0])
    details["annee"] = year
    blank_year = np.flatnonzero((years == "").to_numpy())
    f.add_rows("CHAMP_OBLIGATOIRE", blank_year, "annee", "", colonne=vocab.field("annee").label, contexte="chaque ligne")

    if table.overflow.any():
        f.add_rows("LIGNE_CHAMPS_EN_TROP", np.flatnonzero(table.overflow), None)

    # Establishment and sender
    establishments = dict(conn.execute("SELECT siret, adherent FROM etablissements").fetchall())
    siret = col("siret").str.replace(r"\s", "", regex=True)
    adherent = siret.map(establishments).fillna("").to_numpy(dtype=object)
    blank = (siret == "").to_numpy()
    f.add_rows("CHAMP_OBLIGATOIRE", np.flatnonzero(blank), "siret", "", colonne=vocab.field("siret").label, contexte="chaque ligne")
    unknown = ~blank & (adherent == "")
    f.add_rows("SIRET_INCONNU", np.flatnonzero(unknown), "siret", col("siret")[unknown], valeur=col("siret")[unknown])
    foreign = (adherent != "") & ~np.isin(adherent, list(sender.adherents))
    if foreign.any():
        pos = np.flatnonzero(foreign)
        code = "MANDAT_ABSENT" if sender.kind == "mandataire" else "SIRET_AUTRE_ADHERENT"
        f.add_rows(code, pos, "siret", siret.to_numpy()[pos], valeur=siret.to_numpy()[pos], siret=siret.to_numpy()[pos],
                   adherent=adherent[pos], expediteur=sender.code)
    if f.file_refused():
        return done(n, table=table, columns=headers.columns, details=details)

    # Content
    rows = pd.DataFrame({"pos": np.arange(n), "line": table.lines, "siret": siret.to_numpy(dtype=object), "adherent": adherent})
    if mode == "effectifs":
        for key, cat in COUNT_FIELDS.items():
            raw = col(key).str.replace(r"[\s\u00a0\u202f]", "", regex=True)
            ok = raw.str.fullmatch(_INT).fillna(False).to_numpy(dtype=bool) | (raw == "").to_numpy()
            bad = np.flatnonzero(~ok)
            f.add_rows("DECL_EFFECTIF_INVALIDE", bad, key, col(key).to_numpy()[bad], valeur=col(key).to_numpy()[bad])
            rows[cat] = [int(re.split(r"[.,]", v)[0]) if good and v else 0 for v, good in zip(raw, ok)]
        if "total" in headers.columns:
            raw = col("total").str.replace(r"[\s\u00a0\u202f]", "", regex=True)
            given = (raw != "").to_numpy()
            ok = raw.str.fullmatch(_INT).fillna(False).to_numpy(dtype=bool)
            bad = np.flatnonzero(given & ~ok)
            f.add_rows("DECL_EFFECTIF_INVALIDE", bad, "total", col("total").to_numpy()[bad], valeur=col("total").to_numpy()[bad])
            sums = rows[list(CATEGORIES)].sum(axis=1).to_numpy()
            totals = np.array([int(re.split(r"[.,]", v)[0]) if g and o else -1 for v, g, o in zip(raw, given, ok)])
            wrong = np.flatnonzero(given & ok & (totals != sums))
            f.add_rows("DECL_TOTAL_INCOHERENT", wrong, "total", col("total").to_numpy()[wrong],
                       valeur=col("total").to_numpy()[wrong], somme=sums[wrong])
        keyed = rows["siret"] != ""
        dup = rows.loc[keyed, "siret"].duplicated(keep="first")
        if dup.any():
            first = rows.loc[keyed].groupby("siret")["line"].transform("first")
            idx = dup.index[dup.to_numpy()]
            f.add_rows("DECL_ETABLISSEMENT_EN_DOUBLE", rows.loc[idx, "pos"].to_numpy(), "siret", rows.loc[idx, "siret"].to_numpy(),
                       valeur=rows.loc[idx, "siret"].to_numpy(), premiere=first.loc[idx].to_numpy())
    else:
        codes, empty, unknown_cat = values.lookup(col("categorie"), "categories.toml")
        f.add_rows("CATEGORIE_INVALIDE", np.flatnonzero(unknown_cat), "categorie", col("categorie")[unknown_cat],
                   valeur=col("categorie")[unknown_cat])
        f.add_rows("CHAMP_OBLIGATOIRE", np.flatnonzero(empty), "categorie", "", colonne=vocab.field("categorie").label,
                   contexte="chaque salarié")
        rows["categorie"] = codes
        nir = identifiers.nir_check(col("nir"))
        raw_nir = col("nir")
        for mask, detail in ((nir["scientific"], "le tableur l'a transformé en nombre : formatez la colonne en Texte"),
                             (nir["no_key"], "il n'a que 13 chiffres : la clé (2 derniers chiffres) manque"),
                             (nir["shape"], "il est mal écrit")):
            f.add_rows("NIR_FORMAT", np.flatnonzero(mask), "nir", raw_nir[mask], detail=detail)
        f.add_rows("NIR_CLE", np.flatnonzero(nir["key"]), "nir", raw_nir[nir["key"]])
        nir_ok = ~(nir["empty"] | nir["scientific"] | nir["no_key"] | nir["shape"] | nir["key"])
        rows["nir"] = np.where(nir_ok, nir["value"], "")
        rows["nom"] = col("nom").to_numpy(dtype=object)
        rows["prenom"] = col("prenom").to_numpy(dtype=object)
        anonymous = nir["empty"] & (col("nom") == "").to_numpy()
        f.add_rows("CHAMP_OBLIGATOIRE", np.flatnonzero(anonymous), "nir" if "nir" in headers.columns else "nom", "",
                   colonne=vocab.field("nir").label if "nir" in headers.columns else vocab.field("nom").label,
                   contexte="chaque salarié")
        keyed = (rows["nir"] != "") & (rows["adherent"] != "")
        dup = rows.loc[keyed, ["adherent", "nir"]].duplicated(keep="first")
        if dup.any():
            first = rows.loc[keyed].groupby(["adherent", "nir"])["line"].transform("first")
            idx = dup.index[dup.to_numpy()]
            f.add_rows("DOUBLON_FICHIER", rows.loc[idx, "pos"].to_numpy(), "nir", "", premiere=first.loc[idx].to_numpy())

    # Per adhérent: situation, window, then the version to record
    situations = dict(conn.execute("SELECT numero, statut FROM adherents").fetchall())
    labels = {code: spec["libelle"] for code, spec in load_toml("statuts.toml").items()}
    versions, accepted = [], 0
    for numero in sorted(set(adherent) - {""}):
        mine = np.flatnonzero(adherent == numero)
        if situations.get(numero) in NOT_DECLARABLE:
            f.add_rows("DECL_ADHERENT_NON_SAISISSABLE", mine, None, adherent=numero,
                       statut=labels.get(situations[numero], situations[numero]))
            continue
        win = window(conn, billing, numero, year)
        if not win.contains(day):
            f.add_rows("DECL_HORS_CAMPAGNE", mine, None, annee=year, adherent=numero, recue=date_fr(day),
                       ouverture=date_fr(win.opens), fermeture=date_fr(win.closes), quand=refusal_hint(win, year, day, billing))
            continue
        blocked = np.intersect1d(f.blocked_positions(), mine)
        sub = rows.iloc[mine]
        if mode == "effectifs":
            summed: dict[tuple[str, str], int] = {}
            for _, r in sub.iterrows():
                for c in CATEGORIES:
                    if int(r[c]) > 0:
                        summed[(r["siret"], c)] = summed.get((r["siret"], c), 0) + int(r[c])
            counts = [(s, c, k) for (s, c), k in summed.items()]
            employees = []
        else:
            good = sub[sub["categorie"] != ""]
            grouped = good.groupby(["siret", "categorie"]).size()
            counts = [(s, c, int(k)) for (s, c), k in grouped.items()]
            employees = [(int(r["line"]), r["siret"], r["nir"], r["nom"], r["prenom"], r["categorie"]) for _, r in good.iterrows()]
        state = "en_cours" if len(blocked) else "confirmee"
        version = Version(numero, year, state, mode, counts, employees)
        versions.append(version)
        if state == "confirmee":
            accepted += len(mine)
            _warnings(conn, f, version, establishments, sub)
    details["declarations"] = [{"adherent": v.adherent, "etat": v.state, "total": v.total} for v in versions]
    return done(n, accepted, versions, table, headers.columns, details)


def _warnings(conn, f: Findings, v: Version, establishments: dict[str, str], sub: pd.DataFrame) -> None:
    """Non-blocking remarks on a confirmed declaration."""
    present = set(sub["siret"])
    for siret in sorted(s for s, a in establishments.items() if a == v.adherent and s not in present):
        f.add_file("DECL_ETABLISSEMENT_ABSENT", siret=siret, adherent=v.adherent)
    if v.total == 0:
        f.add_file("DECL_AUCUN_SALARIE", annee=v.year, adherent=v.adherent)
    known = sum(sum(c.values()) for c in store_headcount(conn, v.adherent).values())
    if known and known != v.total:
        f.add_file("DECL_ECART_EFFECTIF", adherent=v.adherent, declare=v.total, connu=known)
    cur = current_declaration(conn, v.adherent, v.year)
    if cur is not None and cur[2] is not None:
        numero, issued = conn.execute("SELECT numero, date_emission FROM factures WHERE id=?", (cur[2],)).fetchone()
        if not conn.execute("SELECT 1 FROM factures WHERE origine_id=?", (cur[2],)).fetchone():
            f.add_file("DECL_CORRECTION_APRES_FACTURE", annee=v.year, adherent=v.adherent, facture=numero, date=date_fr(issued))


# --- pre-filled declarations ------------------------------------------------------------------------


def prefill_rows(conn, adherent: str, name: str, year: int) -> list[list[object]]:
    counts = store_headcount(conn, adherent)
    rows = []
    for (siret,) in conn.execute("SELECT siret FROM etablissements WHERE adherent=? ORDER BY siret", (adherent,)):
        c = counts.get(siret, {k: 0 for k in CATEGORIES})
        rows.append([year, adherent, name, siret, c["SI"], c["SIA"], c["SIR"], c["SIH"], sum(c.values())])
    return rows


def prepare(conn, outbox: Path, year: int) -> list[Path]:
    """For each adhérent that can declare, a declaration file pre-filled with the headcount the store knows,
    in outbox/<adhérent>/declarations/ (and a copy for each mandataire acting for it)."""
    written = []
    mandates: dict[str, list[str]] = {}
    for mandataire, numero in conn.execute("SELECT mandataire, adherent FROM mandats"):
        mandates.setdefault(numero, []).append(mandataire)
    for numero, name, situation in conn.execute("SELECT numero, raison_sociale, statut FROM adherents ORDER BY numero").fetchall():
        if situation in NOT_DECLARABLE:
            continue
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        w.writerow(PREFILL_HEADERS)
        for r in prefill_rows(conn, numero, name, year):
            w.writerow([safe_cell(v) if isinstance(v, str) else v for v in r])
        data = "\ufeff" + buf.getvalue()
        fname = f"declaration-effectifs-{year}-{numero}.csv"
        for folder in [numero, *sorted(mandates.get(numero, []))]:
            path = outbox / folder / "declarations" / fname
            write_atomic(path, data)
            written.append(path)
    return written
