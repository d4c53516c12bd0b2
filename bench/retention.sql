-- bench/retention.sql: an agency whose appointments are purged after 5
-- years; :rows appointment rows older than that, a quarter as many recent
-- ones, one subject per four rows, 10 subjects under legal hold (their
-- rows are left by the purge, and by the bare DELETE baseline too).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS ret CASCADE;
CREATE SCHEMA ret;
CREATE TABLE ret.clients (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE ret.appointments (id bigint PRIMARY KEY, client_id bigint REFERENCES ret.clients,
                               client_name text, at date NOT NULL);
INSERT INTO ret.clients SELECT g, 'client ' || g, date '2012-01-01' + g % 3000
  FROM generate_series(1, :rows / 4) AS g;
INSERT INTO ret.appointments
SELECT g, 1 + g % (:rows / 4), 'client ' || (1 + g % (:rows / 4)),
       CASE WHEN g <= :rows THEN date '2013-01-01' + g % 2500 ELSE CURRENT_DATE - g % 1000 END
  FROM generate_series(1, :rows + :rows / 4) AS g;
CREATE INDEX ON ret.appointments (client_id);
SELECT rgpd.register_subject('ret.clients', created_column => 'created', personal_columns => '{name}', time_zone => 'UTC');
SELECT rgpd.register_link('ret.appointments', 'ret.clients', '{client_id}', '{at}', '{"client_id": ["client_name"]}');
SELECT rgpd.set_retention('ret.appointments', 'at', purge_after => '5 years', purge => 'delete');
SELECT rgpd.hold('ret.clients', g, 'bench') FROM generate_series(1, 10) AS g;
-- the baseline leaves the held subjects' rows too
DELETE FROM ret.appointments WHERE client_id <= 10;
VACUUM ANALYZE ret.clients, ret.appointments;
