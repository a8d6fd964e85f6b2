-- Annual headcount declarations, invoices and credit notes, payments, disputes (issue 5).
-- Amounts are Decimal values written as text ('694.80'), signed: a credit note carries negative amounts.

-- Staff overrides of the declaration window (the default window comes from the settings).
CREATE TABLE campagnes_derogations (
    id INTEGER PRIMARY KEY,
    annee INTEGER NOT NULL,
    adherent TEXT REFERENCES adherents(numero),   -- NULL: every adhérent
    ouverture TEXT NOT NULL,                       -- ISO dates, both included
    fermeture TEXT NOT NULL,
    motif TEXT,
    le TEXT NOT NULL,
    retiree_le TEXT
);
CREATE INDEX campagnes_derogations_annee ON campagnes_derogations(annee);

-- One row per declaration received for (adhérent, year): each file is a new version, never edited.
-- The current declaration is the latest `confirmee` one; `en_cours` ones had blocking findings.
CREATE TABLE declarations (
    id INTEGER PRIMARY KEY,
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    annee INTEGER NOT NULL,
    fichier_id INTEGER REFERENCES fichiers(id),
    etat TEXT NOT NULL CHECK (etat IN ('confirmee', 'en_cours')),
    mode TEXT NOT NULL CHECK (mode IN ('effectifs', 'liste')),
    recue_le TEXT NOT NULL,
    total INTEGER NOT NULL,
    facture_id INTEGER REFERENCES factures(id)   -- the invoice that covers this version, once issued
);
CREATE INDEX declarations_adherent ON declarations(adherent, annee);
CREATE TABLE declarations_effectifs (
    declaration_id INTEGER NOT NULL REFERENCES declarations(id),
    siret TEXT NOT NULL,
    categorie TEXT NOT NULL,                       -- SI, SIA, SIR, SIH
    effectif INTEGER NOT NULL,
    PRIMARY KEY (declaration_id, siret, categorie)
);
CREATE TABLE declarations_salaries (
    declaration_id INTEGER NOT NULL REFERENCES declarations(id),
    ligne INTEGER,
    siret TEXT NOT NULL,
    nir TEXT,
    nom TEXT,
    prenom TEXT,
    categorie TEXT NOT NULL
);
CREATE INDEX declarations_salaries_decl ON declarations_salaries(declaration_id);

-- One continuous chronological sequence for invoices and credit notes (CGI ann. II art. 242 nonies A).
-- A number is taken in the same transaction that writes the invoice: a run stopped midway leaves no gap.
CREATE TABLE numerotation (
    serie TEXT PRIMARY KEY,
    dernier INTEGER NOT NULL
);
CREATE TABLE factures (
    id INTEGER PRIMARY KEY,
    numero TEXT NOT NULL UNIQUE,
    sequence INTEGER NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('facture', 'facture_office', 'facture_complementaire', 'avoir')),
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    annee INTEGER NOT NULL,
    date_emission TEXT NOT NULL,
    date_exigibilite TEXT NOT NULL,
    declaration_id INTEGER REFERENCES declarations(id),
    origine_id INTEGER REFERENCES factures(id),   -- credit note: the invoice it cancels
    motif TEXT,
    total_ht TEXT NOT NULL,
    total_tva TEXT NOT NULL,
    total_ttc TEXT NOT NULL,
    taux_tva TEXT NOT NULL,
    emetteur TEXT NOT NULL,                        -- JSON snapshot: the service as it was at issue
    client TEXT NOT NULL,                          -- JSON snapshot: the adhérent as it was at issue
    conditions TEXT NOT NULL,                      -- JSON: payment terms, penalties, VAT option...
    cree_le TEXT NOT NULL
);
CREATE INDEX factures_adherent ON factures(adherent, annee);
CREATE UNIQUE INDEX factures_un_avoir_par_facture ON factures(origine_id) WHERE origine_id IS NOT NULL;
CREATE TABLE factures_lignes (
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    rang INTEGER NOT NULL,
    libelle TEXT NOT NULL,
    categorie TEXT,
    quantite INTEGER NOT NULL,
    prix_unitaire_ht TEXT NOT NULL,
    montant_ht TEXT NOT NULL,
    PRIMARY KEY (facture_id, rang)
);
CREATE TABLE factures_echeances (
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    rang INTEGER NOT NULL,
    date_exigibilite TEXT NOT NULL,
    montant TEXT NOT NULL,
    PRIMARY KEY (facture_id, rang)
);
-- Hires billed on a complementary invoice (fee per hire missing from the declaration), billed once.
CREATE TABLE embauches_facturees (
    salarie_id INTEGER NOT NULL REFERENCES salaries(id),
    annee INTEGER NOT NULL,
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    PRIMARY KEY (salarie_id, annee)
);

-- An issued invoice is never modified nor deleted: a correction is a credit note.
CREATE TRIGGER factures_sans_modification BEFORE UPDATE ON factures
BEGIN SELECT RAISE(ABORT, 'facture émise : elle ne peut pas être modifiée (émettez un avoir)'); END;
CREATE TRIGGER factures_sans_suppression BEFORE DELETE ON factures
BEGIN SELECT RAISE(ABORT, 'facture émise : elle ne peut pas être supprimée (émettez un avoir)'); END;
CREATE TRIGGER factures_lignes_sans_modification BEFORE UPDATE ON factures_lignes
BEGIN SELECT RAISE(ABORT, 'facture émise : ses lignes ne peuvent pas être modifiées'); END;
CREATE TRIGGER factures_lignes_sans_suppression BEFORE DELETE ON factures_lignes
BEGIN SELECT RAISE(ABORT, 'facture émise : ses lignes ne peuvent pas être supprimées'); END;
CREATE TRIGGER factures_echeances_sans_modification BEFORE UPDATE ON factures_echeances
BEGIN SELECT RAISE(ABORT, 'facture émise : son échéancier ne peut pas être modifié'); END;

-- Payments recorded from the accounting files (N° facture, date, montant).
CREATE TABLE paiements_imports (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    nom TEXT NOT NULL,
    lignes INTEGER NOT NULL,
    enregistres INTEGER NOT NULL,
    le TEXT NOT NULL
);
CREATE TABLE paiements (
    id INTEGER PRIMARY KEY,
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    date_paiement TEXT NOT NULL,
    montant TEXT NOT NULL,
    import_id INTEGER REFERENCES paiements_imports(id),
    ligne INTEGER,
    enregistre_le TEXT NOT NULL
);
CREATE INDEX paiements_facture ON paiements(facture_id);

-- Disputes (contentieux): set and lifted by staff, with the history kept.
CREATE TABLE contentieux (
    id INTEGER PRIMARY KEY,
    facture_id INTEGER NOT NULL REFERENCES factures(id),
    actif INTEGER NOT NULL,                        -- 1: set, 0: lifted
    motif TEXT,
    le TEXT NOT NULL
);
CREATE INDEX contentieux_facture ON contentieux(facture_id);
CREATE VIEW factures_en_contentieux AS
    SELECT c.facture_id FROM contentieux c
    WHERE c.id = (SELECT MAX(id) FROM contentieux WHERE facture_id = c.facture_id) AND c.actif = 1;
