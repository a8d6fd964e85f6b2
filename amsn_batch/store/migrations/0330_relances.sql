-- Reminders of unpaid invoices (amsn-batch relances): one row per stage sent for an invoice, so that a stage is
-- never sent twice. The last stage of the settings is the formal notice (mise en demeure); its late-payment
-- penalties (L441-10 Code de commerce) and fixed recovery indemnity (D441-5) are kept as computed that day.
CREATE TABLE relances (
    id INTEGER PRIMARY KEY,
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    etape INTEGER NOT NULL,          -- 1, 2, … in the order of [facturation] relances
    libelle TEXT NOT NULL,           -- Relance 1 … Mise en demeure
    date_relance TEXT NOT NULL,      -- ISO day of the letter
    jours_retard INTEGER NOT NULL,
    montant_du TEXT NOT NULL,        -- TTC still due that day
    taux_penalites TEXT NOT NULL,    -- annual rate, percent
    penalites TEXT NOT NULL,
    indemnite TEXT NOT NULL,
    fichier TEXT NOT NULL,           -- the letter (PDF), relative to the outbox
    cree_le TEXT NOT NULL,
    UNIQUE (facture_id, etape)
);
CREATE INDEX relances_date ON relances (date_relance);
