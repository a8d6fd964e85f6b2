-- Runs of `traiter` with their counts (shown by `amsn-batch statut`), and a lookup of ledger entries by
-- claim id (details.depot: the travail/ folder the file went through), used when a run resumes the work
-- of one that was stopped.
CREATE TABLE traitements (
    id INTEGER PRIMARY KEY,
    debut TEXT NOT NULL,
    fin TEXT,
    pid INTEGER,
    etat TEXT NOT NULL,                -- en_cours, termine, interrompu (stopped before its end)
    fichiers INTEGER NOT NULL DEFAULT 0,
    acceptes INTEGER NOT NULL DEFAULT 0,
    acceptes_partiellement INTEGER NOT NULL DEFAULT 0,
    rejetes INTEGER NOT NULL DEFAULT 0,
    en_attente INTEGER NOT NULL DEFAULT 0,
    deja_traites INTEGER NOT NULL DEFAULT 0,
    quarantaines INTEGER NOT NULL DEFAULT 0,
    repris INTEGER NOT NULL DEFAULT 0,  -- files a stopped run had applied, finished by this one
    erreurs INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX fichiers_depot ON fichiers(json_extract(details, '$.depot'));
