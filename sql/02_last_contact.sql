-- 02_last_contact: last_contact is the greatest of the creation date and
-- of every linked date, kept exact by the C triggers under every change:
-- insert, date corrected up and down, a row re-pointed to another subject,
-- delete, TRUNCATE, COPY, bulk INSERT ... SELECT, multi-row UPDATE; dates,
-- timestamps and timestamptz; several subject columns per link; a link
-- shared by two subject tables.  A change that brings no newer date writes
-- nothing to the subject row.  rgpd.verify() stays empty throughout.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET intervalstyle = postgres;
SET timezone = 'UTC';
CREATE SCHEMA contact;
SET search_path = contact, public;

CREATE TABLE clients (id integer PRIMARY KEY, name text, created date);
CREATE TABLE agents (id bigint PRIMARY KEY, name text);
CREATE TABLE offers (
    id          serial PRIMARY KEY,
    client1_id  integer,
    client2_id  integer,
    agent_id    bigint,
    created     date,
    mandate_end timestamp
);
CREATE TABLE appointments (id serial PRIMARY KEY, client_id integer, starts_at timestamptz);
INSERT INTO clients SELECT g, 'client ' || g, date '2015-01-01' + g FROM generate_series(1, 6) AS g;
INSERT INTO agents VALUES (100, 'agent 100'), (101, 'agent 101');

SELECT rgpd.register_subject('contact.clients', created_column => 'created');
SELECT rgpd.register_subject('contact.agents');
SELECT rgpd.register_link('contact.offers', 'contact.clients', '{client1_id,client2_id}', '{created,mandate_end}');
SELECT rgpd.register_link('contact.offers', 'contact.agents', '{agent_id}', '{created}');
SELECT rgpd.register_link('contact.appointments', 'contact.clients', '{client_id}', '{starts_at}');

CREATE VIEW state AS
    SELECT 'client' AS kind, id::bigint, last_contact FROM clients
    UNION ALL SELECT 'agent', id, last_contact FROM agents;
CREATE FUNCTION healthy() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (SELECT FROM rgpd.verify('contact.clients'))
       AND NOT EXISTS (SELECT FROM rgpd.verify('contact.agents'))
$$;

-- at registration: the creation date, or nothing (agents have none)
SELECT * FROM state ORDER BY 1, 2;

-- an offer: both clients and the agent get its greatest date
INSERT INTO offers (client1_id, client2_id, agent_id, created, mandate_end)
VALUES (1, 2, 100, '2020-05-01', '2021-02-03 18:00');
SELECT * FROM state WHERE id IN (1, 2, 100) ORDER BY 1, 2;

-- an older date writes nothing: the subject row keeps its version
SELECT xmin AS before FROM clients WHERE id = 1 \gset
INSERT INTO offers (client1_id, created) VALUES (1, '2019-01-01');
SELECT xmin = :'before' AS untouched, last_contact FROM clients WHERE id = 1;

-- a date corrected downwards: recomputed from the other links
UPDATE offers SET mandate_end = NULL WHERE id = 1;
SELECT * FROM state WHERE id IN (1, 2, 100) ORDER BY 1, 2;
-- and upwards
UPDATE offers SET created = '2022-07-14' WHERE id = 2;
SELECT * FROM state WHERE id = 1;

-- an update that changes no date and no subject writes nothing
SELECT xmin AS before FROM clients WHERE id = 1 \gset
UPDATE offers SET agent_id = agent_id WHERE id = 2;
SELECT xmin = :'before' AS untouched FROM clients WHERE id = 1;

-- re-pointed: the client it left is recomputed, the new one gains the date
UPDATE offers SET client2_id = 3 WHERE id = 1;
SELECT * FROM state WHERE id IN (2, 3) ORDER BY 1, 2;

-- timestamptz: the day is taken in the subject's time zone (UTC here)
INSERT INTO appointments (client_id, starts_at) VALUES (4, '2023-03-31 23:30+00'), (4, '2023-01-01 10:00+00');
SELECT * FROM state WHERE id = 4;

-- delete: back to what remains
DELETE FROM appointments WHERE starts_at > '2023-02-01';
SELECT * FROM state WHERE id = 4;
DELETE FROM appointments;
SELECT * FROM state WHERE id = 4;

-- NULL dates and NULL subject columns are ignored
INSERT INTO offers (client1_id, client2_id, created) VALUES (NULL, 5, NULL), (5, NULL, '2016-06-06');
SELECT * FROM state WHERE id = 5;

-- bulk: INSERT ... SELECT, multi-row UPDATE, COPY, multi-row DELETE
INSERT INTO offers (client1_id, client2_id, created)
SELECT 1 + g % 6, 1 + (g + 1) % 6, date '2018-01-01' + g FROM generate_series(1, 500) AS g;
SELECT healthy(), (SELECT max(last_contact) FROM clients) AS latest;
UPDATE offers SET created = created - 400 WHERE id % 3 = 0;
SELECT healthy();
UPDATE offers SET client1_id = client2_id, client2_id = client1_id WHERE id % 2 = 0;
SELECT healthy();
COPY offers (client1_id, client2_id, agent_id, created) FROM STDIN;
6	1	101	2024-12-31
2	\N	101	2024-11-30
\.
SELECT * FROM state WHERE id IN (1, 2, 6, 101) ORDER BY 1, 2;
DELETE FROM offers WHERE created > '2019-01-01';
SELECT healthy(), (SELECT max(last_contact) FROM clients) AS latest;

-- TRUNCATE of a link: every subject is recomputed
TRUNCATE offers;
SELECT * FROM state ORDER BY 1, 2;
SELECT healthy();

-- a subject inserted after rows that already point at it (no foreign key)
INSERT INTO appointments (client_id, starts_at) VALUES (7, '2021-09-09 09:00+00');
INSERT INTO clients (id, name, created) VALUES (7, 'client 7', '2020-01-01');
SELECT * FROM state WHERE id = 7;

-- the creation date of a subject is a contact too, up and down
UPDATE clients SET created = '2022-02-02' WHERE id = 7;
SELECT * FROM state WHERE id = 7;
UPDATE clients SET created = '2010-01-01' WHERE id = 7;
SELECT * FROM state WHERE id = 7;

-- a key change moves the subject to the links of its new key
INSERT INTO appointments (client_id, starts_at) VALUES (8, '2024-04-04 12:00+00');
UPDATE clients SET id = 8 WHERE id = 7;
SELECT * FROM state WHERE id IN (7, 8) ORDER BY 2;

-- the derived columns belong to the extension
UPDATE clients SET last_contact = '1999-01-01', name = 'renamed' WHERE id = 8;
SELECT name, last_contact FROM clients WHERE id = 8;
SELECT try($$UPDATE contact.clients SET rgpd_status = 'archived' WHERE id = 8$$);
SELECT try($$INSERT INTO contact.clients (id, created, rgpd_status) VALUES (9, '2020-01-01', 'archived')$$);
INSERT INTO clients (id, created, last_contact) VALUES (9, '2020-01-01', '2030-01-01');
SELECT id, last_contact FROM clients WHERE id = 9;

-- rgpd.recompute() repairs what was changed behind the triggers' back
ALTER TABLE appointments DISABLE TRIGGER rgpd_link_insert;
INSERT INTO appointments (client_id, starts_at) VALUES (9, '2025-05-05 05:00+00');
ALTER TABLE appointments ENABLE TRIGGER rgpd_link_insert;
SELECT * FROM rgpd.verify('contact.clients');
SELECT rgpd.recompute('contact.clients') AS repaired;
SELECT * FROM rgpd.verify('contact.clients');
SELECT healthy();

-- an application trigger on the subject table still fires when a
-- contact is recorded (the engine then writes through SQL)
CREATE TABLE audited (id integer PRIMARY KEY, created date, updated_at timestamptz);
CREATE TABLE audited_visits (id serial PRIMARY KEY, audited_id integer, on_day date);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.updated_at := '2000-01-01 00:00+00'; RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO audited VALUES (1, '2020-01-01', NULL);
SELECT rgpd.register_subject('contact.audited', created_column => 'created');
SELECT rgpd.register_link('contact.audited_visits', 'contact.audited', '{audited_id}', '{on_day}');
ALTER TABLE audited DISABLE TRIGGER touch;
UPDATE audited SET updated_at = NULL;
ALTER TABLE audited ENABLE TRIGGER touch;
INSERT INTO audited_visits (audited_id, on_day) VALUES (1, '2024-02-29');
SELECT id, last_contact, updated_at FROM audited;

-- the floor the due lists are indexed on never exceeds last_contact
SELECT count(*) AS floor_above_last_contact FROM clients WHERE rgpd_contact_floor > last_contact;

DROP SCHEMA contact CASCADE;
