-- E-mail notices (amsn_batch/mail.py): one row per message, queued once the work it tells of is committed,
-- then sent (or written as a .eml file when there is no [smtp] table). `cle` makes queueing idempotent: the
-- same acknowledgement, campaign opening or invoice is never queued twice.
CREATE TABLE envois (
    id INTEGER PRIMARY KEY,
    cle TEXT NOT NULL UNIQUE,        -- accuse:<expéditeur>/<accusé>:<statut>, campagne:<année>:<adhérent>…, piece:<facture id>
    nature TEXT NOT NULL,            -- accuse | campagne | facture | avoir | rendez_vous
    adherent TEXT NOT NULL,          -- the adhérent or mandataire it is about
    destinataires TEXT NOT NULL,     -- addresses, comma-separated ('' : none known)
    sujet TEXT NOT NULL,
    message_id TEXT NOT NULL,        -- the Message-ID header, the same on every attempt
    message BLOB,                    -- the whole message (RFC 5322) until it is sent or written, then NULL
    statut TEXT NOT NULL,            -- a_envoyer | envoye | ecrit | echec | refuse | sans_destinataire
    tentatives INTEGER NOT NULL DEFAULT 0,
    erreur TEXT,                     -- the last failure, as the server or the system gave it
    cree_le TEXT NOT NULL,
    tente_le TEXT,                   -- last attempt
    envoye_le TEXT,                  -- sent to the server, or written as a .eml file
    fichier TEXT                     -- the .eml file, without [smtp]
);
CREATE INDEX envois_statut ON envois (statut);
CREATE INDEX envois_cree ON envois (cree_le);
