-- The versions a file wrote, found by the file: whether the rows of a correction workbook have been recorded
-- since (reports.rejects.covered, for every accepted file of a sender with workbooks in its outbox) looks at
-- the versions written after the workbook's file, not at every version of the store (3 s in a store of a million).
CREATE INDEX salaries_versions_fichier ON salaries_versions(fichier_id);
