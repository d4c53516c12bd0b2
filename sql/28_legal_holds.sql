-- 28_legal_holds: a legal hold (GDPR art. 17(3)(e)) freezes the erasure of
-- one person until a manager releases it, or until its last day passes.
-- Only managers hold and release, each journaled with its reason; a held
-- subject is left by the sweep (neither archived nor anonymised) and shows
-- as held in the lists and the dashboard; rgpd.anonymise, rgpd.forget and
-- rgpd.purge refuse it with 55000 naming the hold; agents see who is held
-- on the tables they read, never why.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA lh AUTHORIZATION regress_owner;
-- the sweeps below anonymise too (a superuser's setting)
ALTER ROLE regress_manager SET rgpd.auto_anonymise = on;
GRANT USAGE ON SCHEMA lh TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = lh, public;
SET datestyle = 'ISO, YMD';
CREATE TABLE clients (id integer PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE appointments (id integer PRIMARY KEY, client_id integer REFERENCES clients,
                           client_name text, at date);
-- five clients, last seen long ago: all due to be archived and anonymised
INSERT INTO clients SELECT g, 'client ' || g, date '2012-01-01' FROM generate_series(1, 5) AS g;
INSERT INTO appointments SELECT g, g, 'client ' || g, date '2013-01-01' FROM generate_series(1, 5) AS g;
SELECT rgpd.register_subject('lh.clients', created_column => 'created', personal_columns => '{name}');
SELECT rgpd.register_link('lh.appointments', 'lh.clients', '{client_id}', '{at}',
                          '{"client_id": ["client_name"]}');
GRANT SELECT, INSERT, UPDATE ON clients, appointments TO regress_agent, regress_manager;

-- neither the owner nor an agent may hold or release
SELECT try($$SELECT rgpd.hold('lh.clients', 1, 'claim')$$);
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.hold('lh.clients', 1, 'claim')$$);
SELECT try($$SELECT rgpd.release('lh.clients', 1, 'done')$$);
-- nor write the holds directly
SELECT try($$INSERT INTO rgpd.holds (subject, subject_id, reason, held_by) VALUES ('lh.clients', 1, 'x', 'x')$$);
SELECT try($$DELETE FROM rgpd.holds$$);

\c - regress_manager
SET client_min_messages = warning;
SET search_path = lh, public;
-- bad input changes nothing
SELECT try($$SELECT rgpd.hold('lh.clients', 1, NULL)$$);
SELECT try($$SELECT rgpd.hold('lh.clients', 1, '')$$);
SELECT try($$SELECT rgpd.hold('lh.clients', 1, 'claim', CURRENT_DATE - 1)$$);
SELECT try($$SELECT rgpd.hold('lh.clients', 99, 'claim')$$);
SELECT try($$SELECT rgpd.hold(NULL, 1, 'claim')$$);
SELECT try($$SELECT rgpd.hold('lh.appointments', 1, 'claim')$$);
SELECT count(*) AS holds FROM rgpd.holds;

-- client 1 held until released, client 2 through today, client 3 for a
-- year; client 4 is forgotten: one cannot hold what is gone
SELECT rgpd.hold('lh.clients', 1, 'claim 2026/114, Paris commercial court');
SELECT rgpd.hold('lh.clients', 2, 'tax audit', CURRENT_DATE);
SELECT rgpd.hold('lh.clients', 3, 'dispute over the 2013 sale', CURRENT_DATE + 365);
SELECT rgpd.forget('lh.clients', 4, 'letter of 2026-11-02');
SELECT try($$SELECT rgpd.hold('lh.clients', 4, 'too late')$$);
SELECT subject, subject_id, reason, until IS NULL AS open_ended, held_by FROM rgpd.holds ORDER BY 2;

-- the lists mark the held; the dashboard counts them
SELECT id, held FROM rgpd.pending('archive', '2024-06-15') WHERE subject = 'lh.clients'::regclass ORDER BY id;
SELECT to_archive, held FROM rgpd.dashboard('2024-06-15') WHERE subject = 'lh.clients'::regclass;

-- anonymise and forget refuse a held subject and change nothing, naming
-- the hold (its reason and end are in the detail)
\set VERBOSITY default
SELECT rgpd.forget('lh.clients', 1, 'e-mail of 2026-11-20');
\set VERBOSITY terse
SELECT try($$SELECT rgpd.anonymise('lh.clients', ARRAY[3, 5]::bigint[])$$);
SELECT id, name, rgpd_status FROM clients ORDER BY id;

-- the sweep (archive, then anonymise) leaves the held ones, and a dry
-- run says so
SELECT action, count FROM rgpd.sweep('2024-06-15', true, 'lh.clients') ORDER BY 1;
SELECT action, count FROM rgpd.sweep('2024-06-15', false, 'lh.clients') ORDER BY 1;
SELECT id, name, rgpd_status FROM clients ORDER BY id;

-- a purge rule: rgpd.purge refuses while a row to purge is held; the
-- sweep purges the others and leaves the held rows
SELECT rgpd.set_retention('lh.appointments', 'at', purge_after => '5 years', purge => 'delete');
\set VERBOSITY default
SELECT rgpd.purge('lh.appointments');
\set VERBOSITY terse
SELECT link, to_purge, held FROM rgpd.pending_retention() WHERE link = 'lh.appointments'::regclass;
SELECT action, count FROM rgpd.sweep(CURRENT_DATE, false, 'lh.clients') WHERE action = 'purge';
SELECT id, client_id FROM appointments ORDER BY id;

-- CALL rgpd.sweep_batches leaves the held too, and purges the rest: two
-- more clients due, one of them held
\c - regress_owner
SET client_min_messages = warning;
INSERT INTO lh.clients VALUES (6, 'client 6', '2012-01-01'), (7, 'client 7', '2012-01-01');
INSERT INTO lh.appointments VALUES (6, 6, 'client 6', '2013-01-01'), (7, 7, 'client 7', '2013-01-01');
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.hold('lh.clients', 6, 'second claim');
CALL rgpd.sweep_batches('2024-06-15', 10, 'lh.clients');
SELECT id, name, rgpd_status FROM lh.clients WHERE id IN (6, 7) ORDER BY id;
SELECT id, client_id FROM lh.appointments WHERE id IN (6, 7) ORDER BY id;
SELECT rgpd.release('lh.clients', 6, 'second claim dropped');

-- agents see which of the rows they may see are held (the lists'
-- held column, rgpd._held_ids), not the holds themselves: a hold on an
-- archived person would tell them the id exists (review finding)
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT subject_id FROM rgpd.holds$$);
SELECT try($$SELECT reason FROM rgpd.holds$$);
SELECT rgpd._held_ids('lh.clients') AS held_ids_the_agent_knows;
SELECT id, held FROM rgpd.pending('archive', '2024-06-15') WHERE subject = 'lh.clients'::regclass ORDER BY id;

-- a hold lapses by itself after its last day (here moved to yesterday by
-- a superuser, as time would): client 2 is no longer held
\c - postgres
SET client_min_messages = warning;
UPDATE rgpd.holds SET until = CURRENT_DATE - 1 WHERE subject = 'lh.clients'::regclass AND subject_id = 2;
\c - regress_manager
SET client_min_messages = warning;
SELECT held FROM rgpd.dashboard('2024-06-15') WHERE subject = 'lh.clients'::regclass;
SELECT rgpd.forget('lh.clients', 2, 'letter of 2026-11-03') AS forgotten;

-- released, client 1 can be forgotten
SELECT rgpd.release('lh.clients', 1, 'claim settled');
SELECT rgpd.release('lh.clients', 1, 'again') AS released_again;
SELECT rgpd.forget('lh.clients', 1, 'e-mail of 2026-11-20') AS forgotten;
SELECT id, name, rgpd_status FROM lh.clients ORDER BY id;

-- every hold and release is journaled with its reason
SELECT action, subject_id, detail ->> 'reason' AS reason, detail ? 'until' AS has_until FROM rgpd.journal
 WHERE action IN ('hold', 'release') AND subject = 'lh.clients'::regclass AND detail ? 'reason'
 ORDER BY id;

\c - regress_owner
SET client_min_messages = warning;
SELECT count(*) AS differences FROM rgpd.verify('lh.clients');
DROP SCHEMA lh CASCADE;
\c - postgres
SELECT count(*) AS holds_left FROM rgpd.holds;
ALTER ROLE regress_manager RESET rgpd.auto_anonymise;
