-- 18_trust_review_1_1: the findings of the attack review of the 1.1
-- features (portfolios, forecast, batches, partitions, export), each
-- replayed by ordinary login roles: a tenant owning tables of its own, an
-- agent whom the application's row security limits to its own clients, a
-- reporting role granted SELECT on the key column only, a manager.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_tenant3 LOGIN;
CREATE ROLE regress_keys3 LOGIN;
CREATE SCHEMA r3 AUTHORIZATION regress_owner;
CREATE SCHEMA t3 AUTHORIZATION regress_tenant3;
GRANT USAGE ON SCHEMA r3 TO regress_agent, regress_keys3, regress_manager;
GRANT USAGE ON SCHEMA t3 TO regress_manager;
-- both accept to run the owner's row security in lists (else its tables
-- are left out of them, with a NOTICE: sql/12_trust.sql)
ALTER ROLE regress_keys3 SET rgpd.trusted_owners = 'regress_owner';
ALTER ROLE regress_agent SET rgpd.trusted_owners = 'regress_owner';

\c - regress_owner
SET client_min_messages = warning;
SET search_path = r3, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, agent name, created date NOT NULL);
INSERT INTO clients VALUES (1, 'Martin', 'regress_agent', '2015-01-10'),
                           (2, 'Bernard', 'marc', '2015-01-10'),
                           (3, 'Dubois', 'marc', '2015-01-10');
-- a partitioned link: dropping one of its partitions recomputes its subject
CREATE TABLE visits (id bigint, client_id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE visits_old PARTITION OF visits FOR VALUES FROM ('2000-01-01') TO ('2020-01-01');
CREATE TABLE visits_new PARTITION OF visits FOR VALUES FROM ('2020-01-01') TO ('2100-01-01');
SELECT rgpd.register_subject('r3.clients', created_column => 'created', personal_columns => '{name}',
                             negotiator_column => 'agent') IS NOT NULL AS registered;
SELECT rgpd.register_link('r3.visits', 'r3.clients', '{client_id}', '{at}') IS NOT NULL AS registered;
-- the application's own row security: the agent sees its own clients only
CREATE POLICY agent_own ON clients AS RESTRICTIVE FOR SELECT TO regress_agent USING (agent = current_user);
GRANT SELECT, UPDATE ON clients TO regress_agent, regress_manager;
GRANT SELECT (id) ON clients TO regress_keys3;
GRANT SELECT ON visits TO regress_manager;
\c - regress_manager
SET client_min_messages = warning;
-- client 3 is anonymised: the agent may not see it (it is Marc's)
SELECT rgpd.anonymise('r3.clients', 3) AS anonymised;

-- R1: a tenant drops a table of its own carrying a trigger named like the
-- engine's link trigger, in a transaction it keeps open.  Nothing of
-- another owner's is recomputed or locked: the owner's insert into its
-- partitioned link goes through at once (lock_timeout would stop it).
\c - regress_tenant3
SET client_min_messages = warning;
CREATE TABLE t3.junk (id int);
CREATE FUNCTION t3.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON t3.junk FOR EACH ROW EXECUTE FUNCTION t3.noop();
BEGIN;
DROP TABLE t3.junk;
SELECT count(*) AS locks_on_others_tables FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
 WHERE l.pid = pg_backend_pid() AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'r3');
COMMIT;
-- the owner dropping a partition of its own link still recomputes its subject
\c - regress_owner
SET client_min_messages = warning;
INSERT INTO r3.visits VALUES (1, 1, '2019-06-01');
SELECT last_contact FROM r3.clients WHERE id = 1;
DROP TABLE r3.visits_old;
SELECT last_contact AS after_drop FROM r3.clients WHERE id = 1;
SELECT count(*) AS differences FROM rgpd.verify('r3.clients');

-- R2: rgpd._check_accepts() with NULL names is an error, not a crash of
-- the server (it is not STRICT: the sample may be NULL)
\c - regress_tenant3
SET client_min_messages = warning;
CREATE TEMP TABLE mine (x int);
SELECT try($$SELECT rgpd._check_accepts('mine', NULL, NULL, NULL)$$);
SELECT 1 AS still_connected;
-- and no internal function of the extension is left with the default
-- (undecided) EXECUTE for PUBLIC: each was revoked or granted on purpose
SELECT p.oid::regprocedure AS undecided
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.proacl IS NULL;

-- R3: a role granted SELECT (id) only gets the due rows' keys, not the
-- values of columns it may not read (last_contact, the due date computed
-- from it, the negotiator), and no portfolio filter on the negotiator
\c - regress_keys3
SET client_min_messages = warning;
SELECT try($$SELECT agent FROM r3.clients$$);
SELECT id, last_contact, due_on, negotiator FROM rgpd.pending('archive', '2020-06-15') ORDER BY id;
SELECT count(*) AS marc_portfolio FROM rgpd.pending('archive', '2020-06-15', 'marc');
SELECT subject, to_archive, anonymised FROM rgpd.dashboard('2020-06-15', 'marc');
SELECT count(*) AS forecast_rows FROM rgpd.forecast(3);

-- R4: the dashboard's anonymised count is cut to the caller's row
-- security: the agent sees none of Marc's clients, so none anonymised;
-- the manager counts the table
\c - regress_agent
SET client_min_messages = warning;
SELECT count(*) AS anonymised_rows_visible FROM r3.clients WHERE rgpd_status = 'anonymised';
SELECT subject, anonymised FROM rgpd.dashboard('2020-06-15');
SELECT subject, anonymised FROM rgpd.dashboard('2020-06-15', 'marc');
\c - regress_manager
SET client_min_messages = warning;
SELECT subject, anonymised FROM rgpd.dashboard('2020-06-15', 'marc');

-- R5: on the primary an export is always recorded: a read-only
-- transaction is refused (25006) instead of answering unjournaled
\c - regress_agent
SET client_min_messages = warning;
BEGIN READ ONLY;
SELECT try($$SELECT rgpd.export('r3.clients', 1)$$);
ROLLBACK;

-- R6: a tenant's trigger that the extension fires (as the tenant, in a
-- security-restricted operation, here while a manager archives the
-- tenant's row) cannot defer the backfill of the manager's transaction:
-- the call is refused, and the manager's recompute in the same
-- transaction still computes
\c - regress_tenant3
SET client_min_messages = warning;
CREATE TABLE t3.people (id bigint PRIMARY KEY, created date NOT NULL);
INSERT INTO t3.people VALUES (1, '2015-01-10');
SELECT rgpd.register_subject('t3.people', created_column => 'created') IS NOT NULL AS registered;
CREATE FUNCTION t3.plant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM rgpd.defer_backfill();
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'tenant: %', SQLERRM;
    END;
    RETURN NEW;
END $$;
CREATE TRIGGER plant BEFORE UPDATE ON t3.people FOR EACH ROW EXECUTE FUNCTION t3.plant();
GRANT SELECT, UPDATE ON t3.people TO regress_manager;
\c - regress_manager
SET client_min_messages = warning;
BEGIN;
SELECT rgpd.archive('t3.people', 1) AS archived;
SELECT rgpd.recompute('r3.clients') IS NOT NULL AS recompute_computed;
COMMIT;

-- R7: a partition of a registered subject table created by CREATE SCHEMA
-- … CREATE TABLE … PARTITION OF (one command, whose tag is CREATE SCHEMA)
-- gets the restricted archive and the engine's trigger like any other
\c - postgres
SET client_min_messages = warning;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_owner', current_database()); END $$;
\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE r3.folk (id int PRIMARY KEY, created date NOT NULL, name text) PARTITION BY RANGE (id);
CREATE TABLE r3.folk_1 PARTITION OF r3.folk FOR VALUES FROM (0) TO (100);
SELECT rgpd.register_subject('r3.folk', created_column => 'created', personal_columns => '{name}') IS NOT NULL AS registered;
CREATE SCHEMA r3north CREATE TABLE folk_2 PARTITION OF r3.folk FOR VALUES FROM (100) TO (200);
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls,
       (SELECT count(*) FROM pg_policy AS p WHERE p.polrelid = c.oid) AS policies,
       (SELECT count(*) FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND t.tgname LIKE 'rgpd%') AS engine_triggers
  FROM pg_class AS c WHERE c.relname IN ('folk_1', 'folk_2') ORDER BY 1;
INSERT INTO r3.folk VALUES (5, '2010-01-01', 'Old One'), (150, '2010-01-01', 'Old Two');
GRANT USAGE ON SCHEMA r3north TO regress_agent;
GRANT SELECT ON r3.folk, r3.folk_1, r3north.folk_2 TO regress_agent, regress_manager;
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.archive('r3.folk', ARRAY[5, 150]::bigint[]) AS archived;
\c - regress_agent
SET client_min_messages = warning;
SELECT count(*) AS archived_rows_seen FROM r3north.folk_2;
\c - regress_owner
SET client_min_messages = warning;
DROP SCHEMA r3north CASCADE;
\c - postgres
SET client_min_messages = warning;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM regress_owner', current_database()); END $$;

-- R8: no role but the extension's owner may lock the configuration tables
-- against the others: PUBLIC holds no table-wide UPDATE, DELETE or
-- TRUNCATE on any table of the extension (what LOCK TABLE beyond ROW
-- EXCLUSIVE needs), only INSERT and UPDATE of columns for registration;
-- a registration, a policy dropped and an unregistration still work
\c - regress_tenant3
SET client_min_messages = warning;
SELECT c.relname AS lockable_by_public FROM pg_class AS c
 WHERE c.relnamespace = 'rgpd'::regnamespace AND c.relkind IN ('r', 'p')
   AND (has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE')
        OR has_table_privilege('public', c.oid, 'TRUNCATE'));
BEGIN;
SELECT try($$LOCK TABLE rgpd.subjects IN ACCESS EXCLUSIVE MODE$$);
SELECT try($$LOCK TABLE rgpd.links IN SHARE MODE$$);
ROLLBACK;
CREATE TABLE t3.leads (id bigint PRIMARY KEY, created date NOT NULL);
CREATE TABLE t3.calls (id bigint, lead_id bigint, at date);
SELECT rgpd.register_subject('t3.leads', created_column => 'created') IS NOT NULL AS registered;
SELECT rgpd.register_link('t3.calls', 't3.leads', '{lead_id}', '{at}') IS NOT NULL AS registered;
SELECT rgpd.set_policy('t3.leads', '1 year', '2 years', name => 'short', applies_when => 'id > 100') IS NOT NULL AS policy_set;
SELECT rgpd.drop_policy('t3.leads', 'short');
SELECT try($$SELECT rgpd.drop_policy('t3.leads', 'short')$$);
-- nor can it delete another owner's configuration through the function
SELECT try($$SELECT rgpd._delete_config('subject', (SELECT c.oid FROM pg_class AS c WHERE c.relname = 'folk')::regclass)$$);
SELECT rgpd.unregister_link('t3.calls', 't3.leads');
SELECT rgpd.unregister_subject('t3.leads');
SELECT count(*) AS registrations_left FROM rgpd.subjects WHERE subject::text = 't3.leads';
SELECT count(*) AS policies_left FROM rgpd.policies WHERE subject::text = 't3.leads';

-- R9: a tenant renames the date column of the retention rule a manager
-- set on its link: that link is left out of rgpd.pending_retention() with
-- a WARNING, and the manager's dashboard still answers for every table
\c - regress_tenant3
SET client_min_messages = warning;
CREATE TABLE t3.notes (id bigint PRIMARY KEY, person_id bigint, filed date, closed date);
SELECT rgpd.register_link('t3.notes', 't3.people', '{person_id}', '{filed}') IS NOT NULL AS registered;
GRANT SELECT ON t3.notes TO regress_manager;
\c - regress_manager
SET client_min_messages = warning;
-- the rule's date column need not be a contact date of the link
SELECT rgpd.set_retention('t3.notes', 'closed', purge_after => '1 year', purge => 'delete') IS NOT NULL AS rule_set;
\c - regress_tenant3
SET client_min_messages = warning;
ALTER TABLE t3.notes RENAME COLUMN closed TO closed_on;
\c - regress_manager
SET client_min_messages = warning;
SELECT count(*) > 0 AS dashboard_answers FROM rgpd.dashboard();
SELECT count(*) AS notes_listed FROM rgpd.pending_retention() WHERE link = 't3.notes'::regclass;

-- R10: a hold on an archived person tells an agent nothing: the holds are
-- for managers, and the agent learns only which rows it sees are held
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.hold('r3.folk', 5, 'claim 2026/7') IS NOT NULL AS held;
SELECT rgpd._held_ids('r3.folk') AS held_ids_for_the_manager;
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT subject_id FROM rgpd.holds$$);
SELECT count(*) AS held_ids_for_the_agent FROM rgpd._held_ids('r3.folk');
SELECT held FROM rgpd.dashboard() WHERE subject = 'r3.folk'::regclass;

-- R11 (review of the statements built in C): what a table's owner may
-- write directly into the configuration is held to what registration
-- accepts.  A NULL personal column, of the subject or in a link's JSON,
-- reached the statement builders and crashed the server (every session
-- with it, the sweep in every run); now the write is refused (22004, or
-- 22023 for a column registration refuses) and nothing changes
\c - regress_tenant3
SET client_min_messages = warning;
CREATE TABLE t3.writers (id bigint PRIMARY KEY, name text, created date NOT NULL DEFAULT '2015-01-01');
CREATE TABLE t3.mail (id serial PRIMARY KEY, writer_id bigint REFERENCES t3.writers, sent date, signer text);
INSERT INTO t3.writers (id, name) VALUES (1, 'Anne'), (2, 'Paul');
INSERT INTO t3.mail (writer_id, sent, signer) VALUES (1, '2016-01-01', 'Anne'), (2, '2016-01-01', 'Paul');
SELECT rgpd.register_subject('t3.writers', created_column => 'created', personal_columns => '{name}',
                             time_zone => 'UTC') IS NOT NULL AS registered;
SELECT rgpd.register_link('t3.mail', 't3.writers', '{writer_id}', '{sent}',
                          '{"writer_id": ["signer"]}') IS NOT NULL AS registered;
SELECT try($$UPDATE rgpd.subjects SET personal_columns = ARRAY['name', NULL]::name[]
              WHERE subject = 't3.writers'::regclass$$);
SELECT try($$UPDATE rgpd.links SET personal_columns = '{"writer_id": ["signer", null]}'
              WHERE link = 't3.mail'::regclass$$);
SELECT try($$UPDATE rgpd.links SET personal_columns = '{"writer_id": ["writer_id"]}'
              WHERE link = 't3.mail'::regclass$$);
SELECT try($$UPDATE rgpd.subjects SET personal_columns = '{name,id}' WHERE subject = 't3.writers'::regclass$$);
SELECT s.personal_columns AS subject_personal, l.personal_columns AS link_personal
  FROM rgpd.subjects AS s, rgpd.links AS l
 WHERE s.subject = 't3.writers'::regclass AND l.link = 't3.mail'::regclass;
-- and the statements build and run
SELECT rgpd.archive('t3.writers', 1) AS archived;
GRANT SELECT ON t3.writers TO regress_manager;
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.anonymise('t3.writers', 2) AS anonymised;

-- the statement builders refuse a NULL name themselves (a superuser can
-- write around the trigger): an error, not a crash
\c - postgres
SET client_min_messages = warning;
SET session_replication_role = replica;
UPDATE rgpd.subjects SET personal_columns = ARRAY['name', NULL]::name[] WHERE subject = 't3.writers'::regclass;
RESET session_replication_role;
\c - regress_manager
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.anonymise('t3.writers', 1)$$);
\c - postgres
SET client_min_messages = warning;
SET session_replication_role = replica;
UPDATE rgpd.subjects SET personal_columns = '{name}' WHERE subject = 't3.writers'::regclass;
RESET session_replication_role;

-- R12: a registered date column changed to another type (here a domain
-- over date, which ALTER TABLE allows) makes the recomputation fail with
-- 42804 naming the column, not with a syntax error in generated SQL
\c - regress_tenant3
SET client_min_messages = warning;
CREATE DOMAIN t3.day AS date;
ALTER TABLE t3.mail ALTER COLUMN sent TYPE t3.day;
SELECT try($$SELECT * FROM rgpd.verify('t3.writers')$$);
SELECT try($$SELECT rgpd.recompute('t3.writers')$$);

\c - postgres
SET client_min_messages = warning;
-- dropping the schemas drops the registered tables, their registration
-- with them (a partitioned link and its subject in one command included)
DROP SCHEMA t3 CASCADE;
DROP SCHEMA r3 CASCADE;
SELECT count(*) AS registrations_left FROM rgpd.subjects
 WHERE subject::oid NOT IN (SELECT oid FROM pg_class);
ALTER ROLE regress_agent RESET rgpd.trusted_owners;
DROP ROLE regress_tenant3;
DROP ROLE regress_keys3;
