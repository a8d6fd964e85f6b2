-- What a file's findings add up to, written with them (rules.catalogue.to_rows's frame is still in memory then):
-- per rule for each client (adherent: '' for the file or an unknown member) and per rule over the whole file
-- (adherent NULL), and the distinct messages of each rule and client when they are few. The answer reads these
-- instead of grouping all of a file's findings again (a million of them: 2 to 6 s). Written only with a file's
-- first findings; a finding appended later, or findings deleted, drop them (the answer then groups the
-- findings themselves, as it does for files recorded before).
CREATE TABLE constats_comptes (
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    adherent TEXT,
    code TEXT NOT NULL,
    constats INTEGER NOT NULL,
    lignes INTEGER NOT NULL,
    premiere INTEGER NOT NULL,
    places INTEGER NOT NULL,
    messages_complets INTEGER NOT NULL  -- 1: every distinct message of this client's rule is in constats_messages
);
CREATE INDEX constats_comptes_fichier ON constats_comptes(fichier_id);
CREATE TABLE constats_messages (
    fichier_id INTEGER NOT NULL REFERENCES fichiers(id),
    adherent TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX constats_messages_fichier ON constats_messages(fichier_id);
