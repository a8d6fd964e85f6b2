-- Registry, ledger of files, employees with one version per change.
CREATE TABLE adherents (
    numero TEXT PRIMARY KEY,
    raison_sociale TEXT NOT NULL,
    tva TEXT,
    email_facturation TEXT,
    centre TEXT,
    statut TEXT NOT NULL DEFAULT 'actif',
    maj_le TEXT NOT NULL
);
CREATE TABLE etablissements (
    siret TEXT PRIMARY KEY,
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    adresse TEXT, code_postal TEXT, ville TEXT,
    maj_le TEXT NOT NULL
);
CREATE INDEX etablissements_adherent ON etablissements(adherent);
CREATE TABLE mandataires (code TEXT PRIMARY KEY, nom TEXT, maj_le TEXT NOT NULL);
CREATE TABLE mandats (
    mandataire TEXT NOT NULL REFERENCES mandataires(code),
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    depuis TEXT NOT NULL,
    PRIMARY KEY (mandataire, adherent)
);
CREATE TABLE registre_historique (
    id INTEGER PRIMARY KEY,
    objet TEXT NOT NULL,      -- adherent, etablissement, mandataire, mandat
    cle TEXT NOT NULL,
    champ TEXT NOT NULL,
    avant TEXT,
    apres TEXT,
    source TEXT,
    le TEXT NOT NULL
);
CREATE TABLE fichiers (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    expediteur TEXT NOT NULL,
    nom TEXT NOT NULL,
    taille INTEGER,
    recu_le TEXT NOT NULL,
    traite_le TEXT,
    statut TEXT NOT NULL,
    etape TEXT NOT NULL,      -- applique (store written), termine (acknowledged and archived)
    lignes INTEGER DEFAULT 0,
    lignes_acceptees INTEGER DEFAULT 0,
    lignes_rejetees INTEGER DEFAULT 0,
    entrees INTEGER DEFAULT 0,
    sorties INTEGER DEFAULT 0,
    modifications INTEGER DEFAULT 0,
    avertissements INTEGER DEFAULT 0,
    details TEXT,             -- JSON: format, encoding, separator or sheet, header line, column headers
    archive TEXT
);
CREATE TABLE constats (
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    ligne INTEGER,
    colonne TEXT,
    valeur TEXT,              -- masked when it is a NIR
    code TEXT NOT NULL,
    gravite TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX constats_fichier ON constats(fichier_id);
CREATE TABLE salaries (
    id INTEGER PRIMARY KEY,
    adherent TEXT NOT NULL,
    nir TEXT NOT NULL,
    present INTEGER NOT NULL,
    version_id INTEGER NOT NULL,
    UNIQUE (adherent, nir)
);
CREATE TABLE salaries_versions (
    id INTEGER PRIMARY KEY,
    salarie_id INTEGER NOT NULL,
    precedente_id INTEGER,
    mouvement TEXT NOT NULL,  -- entree, sortie, modification
    fichier_id INTEGER NOT NULL,
    ligne INTEGER,
    le TEXT NOT NULL,
    champs_modifies TEXT,
    siret TEXT, nom TEXT, prenom TEXT, date_naissance TEXT, date_embauche TEXT, date_sortie TEXT,
    contrat TEXT, poste TEXT, pcs TEXT, multi_employeur INTEGER, categorie TEXT, determinants TEXT,
    commentaire TEXT, contraintes TEXT
);
CREATE INDEX salaries_versions_salarie ON salaries_versions(salarie_id);
CREATE VIEW salaries_actuels AS
    SELECT s.id, s.adherent, s.nir, s.present, v.siret, v.nom, v.prenom, v.date_naissance,
           v.date_embauche, v.date_sortie, v.contrat, v.poste, v.pcs, v.multi_employeur, v.categorie,
           v.determinants, v.commentaire, v.contraintes, v.fichier_id, v.le AS maj_le
    FROM salaries s JOIN salaries_versions v ON v.id = s.version_id;
CREATE VIEW evenements AS
    SELECT v.id, s.adherent, s.nir, v.salarie_id, v.mouvement, v.fichier_id, f.nom AS fichier,
           v.ligne, v.le, v.champs_modifies,
           CASE WHEN p.id IS NULL THEN NULL ELSE json_object(
             'siret', p.siret, 'nom', p.nom, 'prenom', p.prenom, 'date_naissance', p.date_naissance,
             'date_embauche', p.date_embauche, 'date_sortie', p.date_sortie, 'contrat', p.contrat,
             'poste', p.poste, 'pcs', p.pcs, 'multi_employeur', p.multi_employeur,
             'categorie', p.categorie, 'determinants', p.determinants, 'commentaire', p.commentaire,
             'contraintes', p.contraintes) END AS avant,
           json_object(
             'siret', v.siret, 'nom', v.nom, 'prenom', v.prenom, 'date_naissance', v.date_naissance,
             'date_embauche', v.date_embauche, 'date_sortie', v.date_sortie, 'contrat', v.contrat,
             'poste', v.poste, 'pcs', v.pcs, 'multi_employeur', v.multi_employeur,
             'categorie', v.categorie, 'determinants', v.determinants, 'commentaire', v.commentaire,
             'contraintes', v.contraintes) AS apres
    FROM salaries_versions v
    JOIN salaries s ON s.id = v.salarie_id
    JOIN fichiers f ON f.id = v.fichier_id
    LEFT JOIN salaries_versions p ON p.id = v.precedente_id;
