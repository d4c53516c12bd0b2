-- bench/consent.sql — the clients of the consent benchmark: :clients
-- subjects, 90% with an e-mail address and 70% with a mobile number.
-- Schema cons.
DROP SCHEMA IF EXISTS cons CASCADE;
CREATE SCHEMA cons;
SET search_path = cons;
CREATE TABLE clients (
    id      bigint PRIMARY KEY,
    name    text NOT NULL,
    email   text,
    mobile  text,
    created date NOT NULL
) WITH (fillfactor = 90);
SELECT setseed(0.9) AS seeded \gset
INSERT INTO clients
SELECT g, 'name ' || g,
       CASE WHEN random() < 0.9 THEN 'c' || g || '@example.fr' END,
       CASE WHEN random() < 0.7 THEN '06' || lpad(g::text, 8, '0') END,
       date '2019-01-01' + (random() * 2500)::int
  FROM generate_series(1, :clients) AS g;
VACUUM ANALYZE clients;
