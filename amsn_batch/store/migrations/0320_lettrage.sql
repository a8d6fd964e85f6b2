-- Payments recognised by their content, and lettering (issue 12).
-- A payment keeps the bank reference its file gave (if any): the same statement exported again (one byte
-- different, so another SHA-256) is recognised line by line by invoice, date, amount and reference.
ALTER TABLE paiements ADD COLUMN reference TEXT;
CREATE INDEX paiements_contenu ON paiements(facture_id, date_paiement);

-- What settles each invoice: part of a payment or of a credit note set against it (a credit note against
-- the invoice it cancels, a payment against the invoice it names; what is left over is a credit applied
-- to the member's next invoice). Computed by billing/balances.py and rewritten for a member after each change.
CREATE TABLE imputations (
    id INTEGER PRIMARY KEY,
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    paiement_id INTEGER REFERENCES paiements(id),
    avoir_id INTEGER REFERENCES factures(id),
    montant TEXT NOT NULL,
    le TEXT NOT NULL,                              -- ISO day the amount was set against the invoice
    CHECK ((paiement_id IS NULL) <> (avoir_id IS NULL))
);
CREATE INDEX imputations_facture ON imputations(facture_id);

-- Lettering: an invoice fully settled gets a code (AA, AB...) shared with the payments and credit notes
-- set against it, and the day it was settled. A code, once given, is kept.
CREATE TABLE lettrages (
    facture_id INTEGER PRIMARY KEY REFERENCES factures(id),
    code TEXT NOT NULL UNIQUE,
    date_lettrage TEXT NOT NULL
);
