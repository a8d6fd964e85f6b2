-- Which files' findings carry their ranks (migration 0630): those recorded after the last file that has a finding
-- without one. Told by that file's id here rather than by an index over every finding recorded before 0630 (a
-- service's years of findings), which is dropped.
CREATE TABLE constats_rangs_depuis (fichier_id INTEGER NOT NULL);
INSERT INTO constats_rangs_depuis (fichier_id) SELECT COALESCE(MAX(fichier_id), 0) FROM constats WHERE rang_regle IS NULL;
DROP INDEX constats_sans_rang;
