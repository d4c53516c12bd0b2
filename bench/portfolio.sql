-- bench/portfolio.sql — an agency of :clients subjects spread over 200
-- negotiators ('neg 0' … 'neg 199'), placed as bench/lifecycle.sql
-- places them: as of :'t', one subject in :now is due for archiving this
-- month; one in 10 was due three months earlier (archived by a sweep
-- before the measures).  One offer per subject, 2% rentals.
DROP SCHEMA IF EXISTS port CASCADE;
CREATE SCHEMA port;
SET search_path = port;
CREATE TABLE clients (
    id         bigint PRIMARY KEY,
    name       text NOT NULL,
    email      text,
    negotiator text,
    created    date NOT NULL
) WITH (fillfactor = 90);
CREATE TABLE offers (
    id          bigserial PRIMARY KEY,
    client_id   bigint NOT NULL REFERENCES clients,
    transaction text NOT NULL,
    created     date NOT NULL
);
SELECT setseed(0.3) AS seeded \gset
INSERT INTO clients
SELECT g, 'name ' || g, 'c' || g || '@example.fr', 'neg ' || (random() * 199)::int,
       CASE WHEN g % :now = 0 THEN date :'t' - interval '3 years' - (10 + g % 10) * interval '1 day'
            WHEN g % 10 = 1 THEN date :'t' - interval '3 years' - (100 + g % 300) * interval '1 day'
            ELSE date :'t' - (g % 700) * interval '1 day' END
  FROM generate_series(1, :clients) AS g;
INSERT INTO offers (client_id, transaction, created)
SELECT c.id, CASE WHEN random() < 0.02 THEN 'rental' ELSE 'sale' END,
       c.created - (1 + (random() * 300)::int)
  FROM clients c;
CREATE INDEX ON offers (client_id);
VACUUM ANALYZE clients;
VACUUM ANALYZE offers;
