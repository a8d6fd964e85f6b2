-- DSN intake: the last monthly DSN month applied per establishment (an older month never undoes a newer one),
-- and the contract ends (S21.G00.62) the DSN gave, with their reason, for the exits they recorded.
CREATE TABLE dsn_mois (
    siret TEXT PRIMARY KEY,
    mois TEXT NOT NULL,               -- AAAA-MM of the latest monthly DSN applied
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    le TEXT NOT NULL
);
CREATE TABLE dsn_fins (
    id INTEGER PRIMARY KEY,
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    ligne INTEGER,                    -- line of S21.G00.62.001 in the file
    adherent TEXT NOT NULL,
    nir TEXT NOT NULL,
    siret TEXT NOT NULL,
    date_fin TEXT NOT NULL,           -- ISO
    motif TEXT,                       -- S21.G00.62.002 code (031 fin de CDD, 059 démission…)
    numero_contrat TEXT               -- S21.G00.40.009
);
CREATE INDEX dsn_fins_salarie ON dsn_fins (adherent, nir);
