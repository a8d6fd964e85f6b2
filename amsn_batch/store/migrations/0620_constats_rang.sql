-- Each finding's place among its file's findings (0, 1, …), written with it: the order an answer lists them in.
-- SQLite kept it in its rowid; PostgreSQL's physical order (ctid) is not the order rows were written in once
-- freed space is reused (findings of a released or replaced file are deleted). NULL for findings recorded
-- before: they keep the rowid / ctid order, first (NULLS FIRST on both engines) before any appended later.
ALTER TABLE constats ADD COLUMN rang INTEGER;
