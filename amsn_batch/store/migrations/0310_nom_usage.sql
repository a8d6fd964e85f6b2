-- The usage name (nom d'usage, after a marriage…) beside the birth name: a file with both a birth-name and a
-- usage-name column keeps the birth name in `nom` and the usage name here (read.headers, colonnes.toml
-- `aussi`). A change of usage name alone is a modification, versioned like any other field.
ALTER TABLE salaries_versions ADD COLUMN nom_usage TEXT;
DROP VIEW salaries_actuels;
CREATE VIEW salaries_actuels AS
    SELECT s.id, s.adherent, s.nir, s.present, v.siret, v.nom, v.prenom, v.date_naissance,
           v.date_embauche, v.date_sortie, v.contrat, v.poste, v.pcs, v.multi_employeur, v.categorie,
           v.determinants, v.commentaire, v.contraintes, v.fichier_id, v.le AS maj_le, v.nom_usage
    FROM salaries s JOIN salaries_versions v ON v.id = s.version_id;
DROP VIEW evenements;
CREATE VIEW evenements AS
    SELECT v.id, s.adherent, s.nir, v.salarie_id, v.mouvement, v.fichier_id, f.nom AS fichier,
           v.ligne, v.le, v.champs_modifies,
           CASE WHEN p.id IS NULL THEN NULL ELSE json_object(
             'siret', p.siret, 'nom', p.nom, 'prenom', p.prenom, 'date_naissance', p.date_naissance,
             'date_embauche', p.date_embauche, 'date_sortie', p.date_sortie, 'contrat', p.contrat,
             'poste', p.poste, 'pcs', p.pcs, 'multi_employeur', p.multi_employeur,
             'categorie', p.categorie, 'determinants', p.determinants, 'commentaire', p.commentaire,
             'contraintes', p.contraintes, 'nom_usage', p.nom_usage) END AS avant,
           json_object(
             'siret', v.siret, 'nom', v.nom, 'prenom', v.prenom, 'date_naissance', v.date_naissance,
             'date_embauche', v.date_embauche, 'date_sortie', v.date_sortie, 'contrat', v.contrat,
             'poste', v.poste, 'pcs', v.pcs, 'multi_employeur', v.multi_employeur,
             'categorie', v.categorie, 'determinants', v.determinants, 'commentaire', v.commentaire,
             'contraintes', v.contraintes, 'nom_usage', v.nom_usage) AS apres
    FROM salaries_versions v
    JOIN salaries s ON s.id = v.salarie_id
    JOIN fichiers f ON f.id = v.fichier_id
    LEFT JOIN salaries_versions p ON p.id = v.precedente_id;
