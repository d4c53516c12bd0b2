-- bench/batches.sql — the agency of bench/schema.sql in schema :schema:
-- :clients subjects, 4 offers each (random dates over ten years, so that
-- most offers are newer than their client's creation).
DROP SCHEMA IF EXISTS :schema CASCADE;
CREATE SCHEMA :schema;
SET search_path = :schema;
CREATE TABLE clients (
    id       bigint PRIMARY KEY,
    name     text NOT NULL,
    email    text,
    mobile   text,
    kind     text NOT NULL,
    created  date NOT NULL
) WITH (fillfactor = 90);
CREATE TABLE offers (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES clients,
    transaction  text NOT NULL DEFAULT 'sale',
    created      date NOT NULL
);
SELECT setseed(0.5) AS seeded \gset
INSERT INTO clients
SELECT g, 'name ' || g, 'c' || g || '@example.fr', '06' || lpad(g::text, 8, '0'),
       CASE WHEN g % 10 = 0 THEN 'prospect' ELSE 'client' END,
       date '2016-01-01' + (random() * 3650)::int
  FROM generate_series(1, :clients) AS g;
INSERT INTO offers (client_id, created)
SELECT 1 + (random() * (:clients - 1))::bigint, date '2016-01-01' + (random() * 3650)::int
  FROM generate_series(1, 4 * :clients);
CREATE INDEX ON offers (client_id);
VACUUM ANALYZE clients;
VACUUM ANALYZE offers;
