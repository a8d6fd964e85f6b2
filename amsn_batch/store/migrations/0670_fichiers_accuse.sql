-- A file found by the name of its acknowledgement (details.accuse): what an earlier correction workbook
-- answered (reports.rejects.covered) was found by reading the details of every file of the ledger, a
-- service's years of files, for each workbook looked at.
CREATE INDEX fichiers_accuse ON fichiers(json_extract(details, '$.accuse'));
