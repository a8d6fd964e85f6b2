-- Appointments (docs/rendez-vous.md). The planning of the medical software is imported with its history:
-- `rendez_vous` holds the current state of each appointment (known by the medical software's id), every
-- change adds a row to `rendez_vous_versions`, and `sequence` (the iCalendar SEQUENCE) counts the changes.
-- A row the import could not attach to a member or an employee is kept with its problem (`probleme`).
CREATE TABLE rendez_vous (
    id TEXT PRIMARY KEY,           -- the appointment id of the medical software
    sequence INTEGER NOT NULL,     -- 0 when first imported, + 1 at each change
    version_id INTEGER NOT NULL,
    empreinte TEXT NOT NULL,       -- the imported fields, to tell a change from a re-import
    debut TEXT,                    -- ISO local time, Europe/Paris (NULL: date or time unreadable)
    duree INTEGER NOT NULL,        -- minutes
    centre TEXT, professionnel TEXT, role TEXT,
    type_visite TEXT,              -- code of schemas/rendez_vous.toml [types_visite], or the text as given
    nir TEXT, nom TEXT, prenom TEXT,
    adherent TEXT, siret TEXT,
    statut TEXT NOT NULL,          -- prevu, honore, annule, non_honore
    periodicite_mois INTEGER,      -- set by the médecin du travail for this employee
    probleme TEXT,                 -- why the row is not attached to a known member or employee
    modifie_le TEXT NOT NULL
);
CREATE INDEX rendez_vous_adherent ON rendez_vous (adherent, debut);
CREATE INDEX rendez_vous_nir ON rendez_vous (nir);
CREATE TABLE rendez_vous_versions (
    id INTEGER PRIMARY KEY,
    rdv_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    debut TEXT, duree INTEGER, centre TEXT, professionnel TEXT, role TEXT, type_visite TEXT,
    nir TEXT, nom TEXT, prenom TEXT, adherent TEXT, siret TEXT, statut TEXT NOT NULL, periodicite_mois INTEGER,
    probleme TEXT,
    source TEXT NOT NULL,          -- name of the planning file
    ligne INTEGER,
    le TEXT NOT NULL,
    UNIQUE (rdv_id, sequence)
);
-- Requests from members (kinds demande_visite and annulation): one row per line, accepted or refused.
CREATE TABLE demandes_rdv (
    id INTEGER PRIMARY KEY,
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    ligne INTEGER NOT NULL,
    genre TEXT NOT NULL,           -- visite, annulation
    expediteur TEXT NOT NULL,
    adherent TEXT,
    rdv_id TEXT,
    nir TEXT, nom TEXT, prenom TEXT, siret TEXT,
    type_visite TEXT, motif TEXT, periode TEXT, contraintes TEXT,
    date_rdv TEXT,                 -- ISO day of the appointment to cancel
    decision TEXT NOT NULL,        -- acceptee, refusee
    date_limite TEXT,              -- last day a cancellation was accepted
    recue_le TEXT NOT NULL         -- service clock
);
CREATE INDEX demandes_rdv_recue ON demandes_rdv (recue_le);
-- Unexcused missed appointments (non honoré) the tariff charges (`[tarifs.AAAA] absence_non_excusee`): one row
-- per appointment, for the billing module to invoice (facture_id once invoiced).
CREATE TABLE absences_facturables (
    rdv_id TEXT PRIMARY KEY,
    adherent TEXT NOT NULL,
    jour TEXT NOT NULL,
    montant TEXT NOT NULL,         -- HT, euros
    enregistre_le TEXT NOT NULL,
    facture_id INTEGER
);
