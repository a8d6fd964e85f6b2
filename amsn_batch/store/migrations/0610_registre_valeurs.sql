-- What the last registry import said of the fields a member may also change by its fiche (VAT number, billing
-- e-mail): a later import that still says the same leaves the member's newer value in place, one that says
-- something new (the staff changed it) applies it.
CREATE TABLE registre_valeurs (
    adherent TEXT NOT NULL REFERENCES adherents(numero),
    champ TEXT NOT NULL,
    valeur TEXT,
    PRIMARY KEY (adherent, champ)
);
