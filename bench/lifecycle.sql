-- bench/lifecycle.sql — an agency whose last contacts are placed so that,
-- as of :'t' (a date), one subject in :now is due for archiving this
-- month, and one in :later more by three months later; :per offers per
-- subject, 2% of them rentals.  Schema :schema.
DROP SCHEMA IF EXISTS :schema CASCADE;
CREATE SCHEMA :schema;
SET search_path = :schema;
CREATE TABLE clients (
    id       bigint PRIMARY KEY,
    name     text NOT NULL,
    email    text,
    kind     text NOT NULL,
    created  date NOT NULL
) WITH (fillfactor = 90);
CREATE TABLE offers (
    id          bigserial PRIMARY KEY,
    client_id   bigint NOT NULL REFERENCES clients,
    transaction text NOT NULL,
    created     date NOT NULL
);
SELECT setseed(0.7) AS seeded \gset
-- the subject's last contact is its creation; its offers are older
INSERT INTO clients
SELECT g, 'name ' || g, 'c' || g || '@example.fr', 'client',
       CASE WHEN g % :now = 0 THEN date :'t' - interval '3 years' - (10 + g % 10) * interval '1 day'
            WHEN g % :later = 0 THEN date :'t' - interval '3 years' + (40 + g % 30) * interval '1 day'
            ELSE date :'t' - (g % 700) * interval '1 day' END
  FROM generate_series(1, :clients) AS g;
INSERT INTO offers (client_id, transaction, created)
SELECT c.id, CASE WHEN random() < 0.02 THEN 'rental' ELSE 'sale' END,
       c.created - (1 + (random() * 300)::int)
  FROM clients c, generate_series(1, :per);
CREATE INDEX ON offers (client_id);
VACUUM ANALYZE clients;
VACUUM ANALYZE offers;
