-- 17_trust_review: the findings of the attack review of 1.1, each replayed
-- by ordinary login roles: an agent, a clerk who may update one column,
-- a tenant owning tables of its own, a manager not granted a table.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_tenant2 LOGIN;
CREATE ROLE regress_clerk LOGIN;
CREATE SCHEMA rev AUTHORIZATION regress_owner;
CREATE SCHEMA bait AUTHORIZATION regress_tenant2;
GRANT USAGE ON SCHEMA rev TO regress_agent, regress_clerk, regress_manager, regress_tenant2;
GRANT USAGE ON SCHEMA bait TO PUBLIC;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = rev, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, agent name, created date NOT NULL);
INSERT INTO clients VALUES (1, 'Martin', 'regress_agent', '2015-01-10'), (2, 'Bernard', 'someone_else', '2015-01-10'),
                           (3, 'Dubois', 'regress_agent', '2015-01-10');
SELECT rgpd.register_subject('rev.clients', created_column => 'created', personal_columns => '{name}',
                             negotiator_column => 'agent');
-- the application's own policies: an agent sees and updates its clients
CREATE POLICY see_own ON clients FOR SELECT USING (agent = current_user OR current_user <> 'regress_agent');
CREATE POLICY update_own ON clients AS RESTRICTIVE FOR UPDATE TO regress_agent USING (agent = current_user AND id <> 3);
CREATE POLICY all_rows ON clients FOR ALL USING (current_user <> 'regress_agent');
CREATE POLICY agent_updates ON clients FOR UPDATE TO regress_agent USING (true);
GRANT SELECT, UPDATE ON clients TO regress_agent, regress_manager;
GRANT SELECT (id, agent), UPDATE (name) ON clients TO regress_clerk;

-- F1: no entry point takes statement text to run as a table's owner
\c - regress_agent
SET client_min_messages = warning;
CREATE TEMP TABLE mine (x int);
SELECT try($$SELECT rgpd._exec_as_owner('pg_temp.mine', 'UPDATE rev.clients SET rgpd_status = ''anonymised''')$$);
SELECT try($$SELECT rgpd._query_as_owner('pg_temp.mine', 'SELECT true')$$);
SELECT try($$UPDATE rev.clients SET rgpd_status = 'anonymised' WHERE id = 1$$);

-- F3: an opt-in for a row the application's policy hides from the agent
-- is refused, and leaves no event and no task behind
SELECT try($$SELECT rgpd.optin('rev.clients', 2, 'phone')$$);
SELECT count(*) AS tasks_for_2 FROM rgpd.recontact_tasks WHERE subject = 'rev.clients'::regclass AND subject_id = 2;

-- F4: archiving is an update: the agent may not archive the client its
-- UPDATE policy excludes; a clerk who may update one other column may not
SELECT try($$SELECT rgpd.archive('rev.clients', 3)$$);
SELECT rgpd.archive('rev.clients', 1) AS archived_own_client;
\c - regress_clerk
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.archive('rev.clients', 2)$$);

-- F2, F5: a tenant's table whose trigger raises a fake cancel, and whose
-- row security policy tries to use the reader's rights
\c - regress_tenant2
SET client_min_messages = warning;
CREATE TABLE bait.people (id bigint PRIMARY KEY, name text, created date NOT NULL);
INSERT INTO bait.people VALUES (1, 'hello Martin', '2015-01-10');
SELECT rgpd.register_subject('bait.people', created_column => 'created', personal_columns => '{name}');
CREATE FUNCTION bait.cancel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE SQLSTATE '57014' USING MESSAGE = 'canceling statement due to user request';
END
$$;
CREATE TRIGGER a_cancel BEFORE UPDATE ON bait.people FOR EACH ROW EXECUTE FUNCTION bait.cancel();
CREATE TABLE bait.log (who name);
GRANT INSERT ON bait.log TO PUBLIC;
CREATE FUNCTION bait.pol() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bait.log VALUES (current_user);  -- with the reader's rights
    RETURN true;
END
$$;
ALTER TABLE bait.people ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON bait.people USING (bait.pol());
GRANT SELECT ON bait.people TO PUBLIC;
GRANT EXECUTE ON FUNCTION bait.pol() TO PUBLIC;

-- the manager's sweep goes on past the fake cancel
\c - regress_manager
SET client_min_messages = warning;
SELECT action, subject, count FROM rgpd.sweep('2024-06-15')
 WHERE subject IN ('rev.clients'::regclass, 'bait.people'::regclass) ORDER BY 2;
SELECT action, subject, detail ->> 'sqlstate' AS sqlstate FROM rgpd.journal
 WHERE action = 'sweep_skipped' AND subject = 'bait.people'::regclass;

-- an agent's lists and scan do not run the tenant's policy as the agent
\c - regress_agent
SET client_min_messages = warning;
SELECT count(*) >= 0 AS listed FROM rgpd.pending('archive', '2030-01-01');
SELECT count(*) >= 0 AS scanned FROM rgpd.scan(ARRAY['Martin']);
\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS run_as_agent FROM bait.log WHERE who = 'regress_agent';

-- F6: configuration written directly is validated: a temporary table, a
-- column that does not exist
\c - regress_tenant2
SET client_min_messages = warning;
CREATE TEMP TABLE tt (id int PRIMARY KEY, email text);
SELECT try($$INSERT INTO rgpd.subjects (subject, key_column, time_zone, email_column)
             VALUES ('pg_temp.tt', 'id', 'UTC', 'email')$$);
SELECT try($$UPDATE rgpd.subjects SET email_column = 'nope' WHERE subject = 'bait.people'::regclass$$);
-- and what registration and rgpd.set_policy() refuse, written directly:
-- periods no due date can be computed with, a key that is not an integer,
-- a time zone that does not exist, a link column that does not exist
CREATE TABLE bait.visits (id bigint PRIMARY KEY, person_id bigint, at date);
SELECT rgpd.register_link('bait.visits', 'bait.people', '{person_id}', '{at}');
SELECT try($$UPDATE rgpd.policies SET archive_after = '100000000 years', anonymise_after = '170000000 years'
             WHERE subject = 'bait.people'::regclass$$);
SELECT try($$UPDATE rgpd.policies SET archive_after = '6 years' WHERE subject = 'bait.people'::regclass$$);
SELECT try($$UPDATE rgpd.subjects SET key_column = 'name' WHERE subject = 'bait.people'::regclass$$);
SELECT try($$UPDATE rgpd.subjects SET time_zone = 'Mars/Olympus' WHERE subject = 'bait.people'::regclass$$);
SELECT try($$UPDATE rgpd.links SET date_columns = '{nosuch}' WHERE link = 'bait.visits'::regclass$$);
SELECT try($$UPDATE rgpd.links SET subject_columns = '{at}' WHERE link = 'bait.visits'::regclass$$);
SELECT p.archive_after, p.anonymise_after, s.key_column, s.time_zone, l.subject_columns, l.date_columns
  FROM rgpd.policies AS p JOIN rgpd.subjects AS s USING (subject) JOIN rgpd.links AS l USING (subject)
 WHERE subject = 'bait.people'::regclass;
SELECT rgpd.unregister_link('bait.visits', 'bait.people');
DROP TABLE bait.visits;

-- F8: an agent's export leaves out, and names, what it may not read
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.unarchive('rev.clients', 1) AS unarchived;
\c - regress_agent
SET client_min_messages = warning;
SELECT rgpd.export('rev.clients', 1) -> 'omitted_sections' AS omitted,
       rgpd.export('rev.clients', 1) ? 'journal' AS has_journal;

-- F9: a manager acts only on tables it may read
\c - regress_tenant2
REVOKE SELECT ON bait.people FROM PUBLIC;
\c - regress_manager
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.anonymise('bait.people', 1)$$);
SELECT try($$SELECT rgpd.unarchive('bait.people', 1)$$);
-- nor through a replayed erasure log
SELECT rgpd.replay_erasures('{"format": "pericles_rgpd.erasure_log/1", "erasures":
  [{"subject": "bait.people", "id": 1, "action": "forget", "at": "2026-01-01T00:00:00Z"}]}'::jsonb) AS replayed;
\c - regress_tenant2
SET client_min_messages = warning;
-- values held apart are released by the owner of both tables only
SELECT try($$SELECT rgpd._release_archived_values('bait.people', 'rev.clients')$$);
SELECT name FROM bait.people;

-- a tenant that alters the restricted-archive policy of its own table
-- (keeping its name) does not pass for pericles_rgpd's: an agent's lists
-- do not run it
\c - regress_tenant2
SET client_min_messages = warning;
CREATE TABLE bait.named (id bigint PRIMARY KEY, created date NOT NULL);
INSERT INTO bait.named VALUES (1, '2015-01-10');
SELECT rgpd.register_subject('bait.named', created_column => 'created');
ALTER POLICY rgpd_visible ON bait.named USING (bait.pol());
GRANT SELECT ON bait.named TO PUBLIC;
\c - regress_agent
SET client_min_messages = warning;
SELECT count(*) >= 0 AS listed FROM rgpd.pending('archive', '2030-01-01');
\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS run_as_agent FROM bait.log WHERE who = 'regress_agent';

-- F7: dropping a registered table re-creates the triggers of its
-- registered links only, not of every table with a trigger of that name
\c - regress_tenant2
SET client_min_messages = warning;
CREATE TABLE bait.notes (id int);
CREATE FUNCTION bait.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON bait.notes FOR EACH ROW EXECUTE FUNCTION bait.noop();
\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE rev.gone (id bigint PRIMARY KEY, created date NOT NULL);
SELECT rgpd.register_subject('rev.gone', created_column => 'created');
DROP TABLE rev.gone;
SELECT count(*) AS tenant_trigger_left FROM pg_trigger
 WHERE tgrelid = 'bait.notes'::regclass AND tgname = 'rgpd_link_insert';

-- DROP EXTENSION would leave the archive of registered tables open:
-- refused while tables are registered
\c - postgres
SET client_min_messages = warning;
SELECT try($$DROP EXTENSION pericles_rgpd CASCADE$$);
DROP SCHEMA bait CASCADE;
DROP SCHEMA rev CASCADE;
DROP ROLE regress_tenant2;
DROP ROLE regress_clerk;
