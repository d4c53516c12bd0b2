-- 06_optin: an opt-in reply is kept as proof, counts as a contact (verify
-- includes it), brings the record and its linked rows out of the archive,
-- and creates a recontact task for the record's negotiator — recorded by
-- the application's own role (the tables' owner), which cannot see the
-- archived row (FORCE ROW LEVEL SECURITY); an agent may not.
\set VERBOSITY terse
\setenv PGDATESTYLE 'ISO, YMD'
\setenv PGTZ UTC
\c
SET client_min_messages = warning;
CREATE SCHEMA optin AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA optin TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE optin.clients (id integer PRIMARY KEY, name text, negotiator text, created date NOT NULL);
CREATE TABLE optin.requests (id serial PRIMARY KEY, client_id integer REFERENCES optin.clients, created date NOT NULL);
INSERT INTO optin.clients VALUES (1, 'Dupont', 'Léa', '2015-03-01'), (2, 'Durand', NULL, '2015-03-01');
INSERT INTO optin.requests (client_id, created) VALUES (1, '2016-05-05');
SELECT rgpd.register_subject('optin.clients', created_column => 'created', negotiator_column => 'negotiator',
                             time_zone => 'Europe/Paris');
SELECT rgpd.register_link('optin.requests', 'optin.clients', '{client_id}', '{created}', archive_with_subject => true);
SELECT rgpd.archive('optin.clients', ARRAY[1, 2]::bigint[]) AS archived;
GRANT SELECT, UPDATE ON optin.clients TO regress_agent, regress_manager;

-- an agent cannot see the archived rows, and so cannot bring one back
-- with an opt-in (rgpd.optin(token, …) is the way for replies that do not
-- come through the application's own role)
\c - regress_agent
SET client_min_messages = warning;
SELECT count(*) AS visible FROM optin.clients;
SELECT try($$SELECT rgpd.optin('optin.clients', 1, 'reconsent-email-2024-06')$$);
\c - regress_owner
SET client_min_messages = warning;
SELECT count(*) AS visible FROM optin.clients;
-- the person clicked "yes, let's stay in touch" at 23:30 UTC: already
-- 1 July in Paris, the time zone the subject was registered with
SELECT rgpd.optin('optin.clients', 1, 'reconsent-email-2024-06', '2024-06-30 23:30+00') > 0 AS recorded;
SELECT id, name, last_contact, rgpd_status FROM optin.clients ORDER BY id;
-- refusals
SELECT try($$SELECT rgpd.optin('optin.clients', 42, 'reconsent-email')$$);
SELECT try($$SELECT rgpd.optin('optin.clients', 1, '')$$);
SELECT try($$SELECT rgpd.optin('optin.clients', 1, NULL)$$);

\c - regress_owner
SET client_min_messages = warning;
SELECT id, client_id, rgpd_archived FROM optin.requests ORDER BY id;
SELECT subject, subject_id, negotiator, reason FROM rgpd.recontact_tasks ORDER BY id;
SELECT subject, subject_id, at, origin, recorded_by FROM rgpd.optin_events ORDER BY id;
-- the opt-in is a contact like any other: verify and recompute agree
SELECT count(*) AS differences FROM rgpd.verify('optin.clients');
SELECT rgpd.recompute('optin.clients') AS repaired;

\c - regress_manager
SET client_min_messages = warning;
-- an opt-in dated before the last contact changes no date, but still
-- brings the record back; a client without negotiator gets a task that
-- nobody owns yet
SELECT rgpd.optin('optin.clients', 2, 'phone call', '2015-01-01') > 0 AS recorded;
SELECT id, last_contact, rgpd_status FROM optin.clients ORDER BY id;
SELECT subject_id, negotiator, reason FROM rgpd.recontact_tasks ORDER BY id;
SELECT actor, action, subject_id, detail - 'optin_id' AS detail FROM rgpd.journal
 WHERE subject = 'optin.clients'::regclass ORDER BY id;
-- opt-in events are proof: nobody may change them
SELECT try($$DELETE FROM rgpd.optin_events$$);

\c - postgres
SET client_min_messages = warning;
SELECT try($$UPDATE rgpd.optin_events SET origin = 'x'$$);
DROP SCHEMA optin CASCADE;
