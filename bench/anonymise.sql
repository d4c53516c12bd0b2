-- bench/anonymise.sql — the agency of the anonymisation benchmark: :clients
-- subjects with personal columns, about 4 offers each that name their
-- first client and sometimes a second one, and twenty subjects (ids -1 to
-- -20) with 50 offers each for the export latency.  Schema anon.
DROP SCHEMA IF EXISTS anon CASCADE;
CREATE SCHEMA anon;
SET search_path = anon;
CREATE TABLE clients (
    id         bigint PRIMARY KEY,
    name       text,
    first_name text,
    email      text UNIQUE,
    phone      text,
    notes      text,
    created    date NOT NULL
) WITH (fillfactor = 90);
CREATE TABLE offers (
    id            bigserial PRIMARY KEY,
    client1_id    bigint NOT NULL REFERENCES clients,
    client2_id    bigint REFERENCES clients,
    client1_name  text,
    client1_phone text,
    client2_name  text,
    price         numeric NOT NULL,
    created       date NOT NULL
);
SELECT setseed(0.3) AS seeded \gset
INSERT INTO clients
SELECT g, 'name ' || g, 'first ' || g, 'c' || g || '@example.fr', '06' || lpad(g::text, 8, '0'),
       'met at the agency on ' || (date '2016-01-01' + g % 3000), date '2016-01-01' + g % 3000
  FROM generate_series(-20, :clients) AS g WHERE g <> 0;
INSERT INTO offers (client1_id, client2_id, client1_name, client1_phone, client2_name, price, created)
SELECT c1, c2, 'name ' || c1, '06' || lpad(c1::text, 8, '0'), CASE WHEN c2 IS NOT NULL THEN 'name ' || c2 END,
       100000 + (random() * 400000)::int, date '2016-01-01' + (random() * 3000)::int
  FROM (SELECT 1 + (random() * (:clients - 1))::bigint AS c1,
               CASE WHEN random() < 0.3 THEN 1 + (random() * (:clients - 1))::bigint END AS c2
          FROM generate_series(1, 4 * :clients)) AS x;
-- subjects -1 to -20: fifty offers each
INSERT INTO offers (client1_id, client1_name, client1_phone, price, created)
SELECT -c, 'name -' || c, '06000000' || lpad(c::text, 2, '0'), 200000 + g, date '2016-01-01' + g * 30
  FROM generate_series(1, 20) AS c, generate_series(1, 50) AS g;
CREATE INDEX ON offers (client1_id);
CREATE INDEX ON offers (client2_id);
VACUUM ANALYZE clients;
VACUUM ANALYZE offers;
