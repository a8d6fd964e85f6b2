-- The member's administrative information sent as a file (fiche adhérent).
-- The day a situation (adherents.statut) took effect, when a member's file gave it; NULL when the registry set
-- the situation without a date (in force whatever the day).
ALTER TABLE adherents ADD COLUMN statut_depuis TEXT;
-- Contacts of a member by type (schemas/types_contact.toml), one version per change: the current one has no
-- `jusqu_au`; a new contact of the same type closes the previous one.
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    type TEXT NOT NULL,
    nom TEXT NOT NULL,
    prenom TEXT,
    email TEXT,
    telephone TEXT,
    depuis TEXT NOT NULL,            -- ISO timestamp it was recorded
    jusqu_au TEXT,                   -- ISO timestamp it was replaced (NULL: current)
    fichier_id INTEGER REFERENCES fichiers(id),
    ligne INTEGER
);
CREATE UNIQUE INDEX contacts_actuels ON contacts (adherent, type) WHERE jusqu_au IS NULL;
-- The billing team's queue: what a member asked in its file that staff apply by hand (a new SIRET, a new
-- company name), never applied from the file.
CREATE TABLE demandes_facturation (
    id INTEGER PRIMARY KEY,
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    champ TEXT NOT NULL,             -- siret | raison_sociale
    actuel TEXT,                     -- what the registry holds (the SIRETs, comma-separated)
    demande TEXT NOT NULL,
    expediteur TEXT NOT NULL,
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    ligne INTEGER,
    recue_le TEXT NOT NULL,
    traitee_le TEXT                  -- NULL: waiting for the billing team
);
CREATE INDEX demandes_facturation_attente ON demandes_facturation (traitee_le);
