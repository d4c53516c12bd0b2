-- bench/schema.sql — the generated agency of the benchmarks: :clients
-- subjects, 4 linked offers each (client 1, sometimes client 2), dates
-- over ten years.  Clients have fillfactor 90, as a table that is updated
-- all day would reach: recording a contact can then be a HOT update.
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.clients (
    id       bigint PRIMARY KEY,
    name     text NOT NULL,
    email    text,
    mobile   text,
    kind     text NOT NULL,
    created  date NOT NULL
) WITH (fillfactor = 90);
CREATE TABLE bench.offers (
    id           bigserial PRIMARY KEY,
    client1_id   bigint NOT NULL REFERENCES bench.clients,
    client2_id   bigint REFERENCES bench.clients,
    client1_name text,
    transaction  text NOT NULL DEFAULT 'sale',
    created      date NOT NULL,
    mandate_end  date
);
SELECT setseed(0.5) AS seeded \gset
INSERT INTO bench.clients
SELECT g, 'name ' || g, 'c' || g || '@example.fr', '06' || lpad(g::text, 8, '0'),
       CASE WHEN g % 10 = 0 THEN 'prospect' ELSE 'client' END,
       date '2016-01-01' + (random() * 3650)::int
  FROM generate_series(1, :clients) AS g;
INSERT INTO bench.offers (client1_id, client2_id, client1_name, transaction, created, mandate_end)
SELECT 1 + (random() * (:clients - 1))::bigint,
       CASE WHEN random() < 0.3 THEN 1 + (random() * (:clients - 1))::bigint END,
       'name', CASE WHEN random() < 0.05 THEN 'rental' ELSE 'sale' END,
       d, CASE WHEN random() < 0.5 THEN d + 180 END
  FROM (SELECT date '2016-01-01' + (random() * 3650)::int AS d
          FROM generate_series(1, 4 * :clients)) AS x;
CREATE INDEX ON bench.offers (client1_id);
CREATE INDEX ON bench.offers (client2_id);
VACUUM ANALYZE bench.clients;
VACUUM ANALYZE bench.offers;
