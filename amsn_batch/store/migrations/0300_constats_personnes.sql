-- Findings name the column's spreadsheet letter, the person (NIR masked) and the member the line is for
-- (rules.catalogue.ROW_COLUMNS): an acknowledgement rebuilt from the ledger says who, not only which line.
-- Findings recorded before stay readable: their new columns are NULL, read back as ''.
ALTER TABLE constats ADD COLUMN colonne_excel TEXT;
ALTER TABLE constats ADD COLUMN nom TEXT;
ALTER TABLE constats ADD COLUMN prenom TEXT;
ALTER TABLE constats ADD COLUMN nir_masque TEXT;
ALTER TABLE constats ADD COLUMN adherent TEXT;
ALTER TABLE constats ADD COLUMN raison_sociale TEXT;
