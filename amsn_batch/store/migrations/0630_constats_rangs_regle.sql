-- Each finding's rank within its rule (rang_regle: 1, 2, … for the file's findings of its code) and within its
-- rule for its client (rang_client: per adhérent, '' for the file or an unknown member), written with it: the
-- answer shows the first of each, and finds them by these indexes instead of ranking all of a file's findings
-- again (a million of them: 2.5 s). The indexes hold only what an answer can show: the first thousand of each
-- rule and client, and the blocking findings (a correction workbook needs them all). NULL for the findings
-- recorded before: their file's answer ranks them as before (constats_sans_rang tells which files).
ALTER TABLE constats ADD COLUMN rang_regle INTEGER;
ALTER TABLE constats ADD COLUMN rang_client INTEGER;
CREATE INDEX constats_montres ON constats(fichier_id, rang) WHERE rang_regle <= 1000 OR rang_client <= 1000;
CREATE INDEX constats_bloquants ON constats(fichier_id, rang) WHERE gravite = 'bloquant';
CREATE INDEX constats_sans_rang ON constats(fichier_id) WHERE rang_regle IS NULL;
