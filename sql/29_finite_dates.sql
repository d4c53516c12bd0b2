-- 29_finite_dates: a contact has a real date (issue 8, "Bounds").  A link
-- row dated 'infinity' made last_contact infinity, and the record never
-- fell due.  Now:
--  * the link trigger refuses a new or updated row that points at a
--    subject with a date, timestamp or timestamptz at 'infinity' or
--    '-infinity', or from year 10000 on (22008, naming the table, the
--    column and the subject);
--    the statement changes nothing;
--  * a row that points at no subject is no contact and is not refused;
--  * future finite dates stay contacts (README "Future dates are contacts");
--  * registering a link that already holds such rows is refused with
--    their count (22008);
--  * rows that got in with the triggers off are no contact for
--    rgpd.recompute() and rgpd.verify(), as for the engine.
-- Run as an ordinary login role (a superuser only to switch triggers off).
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA finite AUTHORIZATION regress_owner;

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = finite, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE visits (id serial PRIMARY KEY, client_id bigint REFERENCES clients, at date);
CREATE TABLE calls (id serial PRIMARY KEY, client_id bigint, at timestamptz, logged timestamp);
INSERT INTO clients VALUES (1, 'Anne', '2015-01-01'), (2, 'Bruno', '2015-01-01'), (3, 'Chloé', '2015-01-01');
SELECT rgpd.register_subject('finite.clients', created_column => 'created', time_zone => 'UTC');
SELECT rgpd.register_link('finite.visits', 'finite.clients', '{client_id}', '{at}');
INSERT INTO visits (client_id, at) VALUES (1, '2020-01-01'), (2, '2020-01-01');

-- the link trigger refuses dates at infinity, in one row or among many
SELECT try($$INSERT INTO finite.visits (client_id, at) VALUES (1, 'infinity')$$);
SELECT try($$INSERT INTO finite.visits (client_id, at) VALUES (2, '-infinity')$$);
SELECT try($$INSERT INTO finite.visits (client_id, at) VALUES (1, '2021-01-01'), (2, 'infinity')$$);
SELECT try($$UPDATE finite.visits SET at = 'infinity' WHERE client_id = 2$$);
-- and dates from year 10000 on, as good as infinity (5874897-12-31 is the
-- last date; date + keep of a retention rule would overflow on it)
SELECT try($$INSERT INTO finite.visits (client_id, at) VALUES (1, '5874897-12-31')$$);
SELECT try($$INSERT INTO finite.visits (client_id, at) VALUES (2, '10000-01-01')$$);
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS visits FROM visits;
-- a row that points at nobody is no contact: accepted
INSERT INTO visits (client_id, at) VALUES (NULL, 'infinity');
-- a future date before year 10000 is a contact
INSERT INTO visits (client_id, at) VALUES (3, '9999-12-31');
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS verify_differences FROM rgpd.verify('finite.clients');

-- registration refuses a link holding rows at infinity, with their count
INSERT INTO calls (client_id, at, logged) VALUES
    (1, 'infinity', NULL), (2, '2021-03-01 10:00+00', '-infinity'), (3, '2021-03-01 10:00+00', NULL),
    (NULL, 'infinity', NULL);
SELECT try($$SELECT rgpd.register_link('finite.calls', 'finite.clients', '{client_id}', '{at,logged}')$$);
SELECT count(*) AS links_of_calls FROM rgpd.links WHERE link = 'finite.calls'::regclass;
UPDATE calls SET at = NULL WHERE at = 'infinity' AND client_id IS NOT NULL;
UPDATE calls SET logged = NULL WHERE logged = '-infinity';
SELECT rgpd.register_link('finite.calls', 'finite.clients', '{client_id}', '{at,logged}');
-- timestamps, with and without a time zone, are refused alike
SELECT try($$INSERT INTO finite.calls (client_id, at) VALUES (1, 'infinity')$$);
SELECT try($$INSERT INTO finite.calls (client_id, logged) VALUES (1, '-infinity')$$);
SELECT try($$INSERT INTO finite.calls (client_id, at) VALUES (1, '10000-01-01 00:00+00')$$);
SELECT id, last_contact FROM clients ORDER BY id;

-- rows written with the triggers off are no contact for the recomputation
\c - postgres
SET client_min_messages = warning;
SET session_replication_role = replica;
INSERT INTO finite.visits (client_id, at) VALUES (1, 'infinity');
INSERT INTO finite.calls (client_id, at, logged) VALUES (2, '2022-05-05 12:00+00', 'infinity');
RESET session_replication_role;
\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = finite, public;
-- verify() names client 2, whose finite call got in unseen; client 1's
-- visit at infinity is no contact, for verify() as for the engine
SELECT * FROM rgpd.verify('finite.clients');
SELECT rgpd.recompute('finite.clients') AS recomputed;
-- client 2's call on 2022-05-05 counts; the infinite values do not
SELECT id, last_contact FROM clients ORDER BY id;

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA finite CASCADE;
