-- The present employees by NIR: the persons employed by several adhérents (the staff dashboard) are found on
-- this index alone, and only theirs are joined to their versions, instead of every employee of the store.
CREATE INDEX salaries_presents_nir ON salaries(nir, adherent) WHERE present = 1;
