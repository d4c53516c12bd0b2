-- 05_restricted_archive: archived rows are hidden, for reading and for
-- writing, from every role outside rgpd_manager — tested as ordinary login
-- roles.  Nothing leaks through a leaky low-cost function in a WHERE
-- clause, a view owned by the table owner, COPY, the key of a unique
-- violation, the lists, the dashboard or the export.  What PostgreSQL
-- cannot hide is shown too: the existence of a key through a unique
-- violation, and row counts in EXPLAIN ANALYZE.
\set VERBOSITY terse
\setenv PGDATESTYLE 'ISO, YMD'
\setenv PGTZ UTC
\c
SET client_min_messages = warning;
CREATE SCHEMA vault AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA vault TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE vault.clients (
    id      integer PRIMARY KEY,
    name    text NOT NULL,
    email   text UNIQUE,
    created date NOT NULL
);
CREATE TABLE vault.requests (id serial PRIMARY KEY, client_id integer REFERENCES vault.clients, created date NOT NULL);
INSERT INTO vault.clients VALUES
    (1, 'Active Alice',   'alice@example.fr', '2024-01-01'),
    (2, 'Archived Bob',   'bob@example.fr',   '2015-01-01'),
    (3, 'Archived Carol', 'carol@example.fr', '2015-01-01');
INSERT INTO vault.requests (client_id, created) VALUES (2, '2016-01-01'), (1, '2024-02-02');
SELECT rgpd.register_subject('vault.clients', created_column => 'created', personal_columns => '{name,email}');
SELECT rgpd.register_link('vault.requests', 'vault.clients', '{client_id}', '{created}', archive_with_subject => true);
SELECT rgpd.archive('vault.clients', ARRAY[2, 3]::bigint[]) AS archived;
GRANT SELECT, INSERT, UPDATE, DELETE ON vault.clients TO regress_agent, regress_manager;
GRANT SELECT ON vault.requests TO regress_agent, regress_manager;
-- a view owned by the owner of the table
CREATE VIEW vault.client_names AS SELECT id, name FROM vault.clients;
GRANT SELECT ON vault.client_names TO regress_agent, regress_manager;
ANALYZE vault.clients;
-- linked rows are marked, and stay visible
SELECT id, client_id, rgpd_archived FROM vault.requests ORDER BY id;

\c - regress_agent
SET client_min_messages = warning;
-- reading: only the active client
SELECT id, name FROM vault.clients ORDER BY id;
SELECT count(*) AS seen FROM vault.clients;
SELECT id, name FROM vault.client_names ORDER BY id;
-- a leaky low-cost function cannot see the hidden rows' values
CREATE FUNCTION pg_temp.leak(text) RETURNS boolean
    LANGUAGE plpgsql COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'leaked: %', $1; RETURN true; END $$;
SET client_min_messages = notice;
SELECT id FROM vault.clients WHERE pg_temp.leak(name) ORDER BY id;
SET client_min_messages = warning;
COPY vault.clients (id, name) TO STDOUT;
-- writing: archived rows cannot be changed, deleted or created
UPDATE vault.clients SET name = 'hijacked' WHERE id = 2;
DELETE FROM vault.clients WHERE id = 3;
SELECT try($$INSERT INTO vault.clients (id, name, created, rgpd_status) VALUES (9, 'x', '2024-01-01', 'archived')$$);
-- a unique violation: the error says a row exists, not its values
SELECT try($$INSERT INTO vault.clients (id, name, email, created) VALUES (10, 'Robert', 'bob@example.fr', '2024-01-01')$$);
\set VERBOSITY default
INSERT INTO vault.clients (id, name, email, created) VALUES (10, 'Robert', 'bob@example.fr', '2024-01-01');
\set VERBOSITY terse
-- statistics (most common values…) are hidden from a role under row-level security
SELECT count(*) AS pg_stats_rows FROM pg_stats WHERE schemaname = 'vault' AND tablename = 'clients';
-- what PostgreSQL does show: how many rows the policy removed
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM vault.clients;
-- the functions: an archived client is as unknown as a missing one
SELECT try($$SELECT rgpd.export('vault.clients', 2)$$);
SELECT try($$SELECT rgpd.export('vault.clients', 99)$$);
SELECT try($$SELECT rgpd.archive('vault.clients', 2)$$);
SELECT try($$SELECT rgpd.unarchive('vault.clients', 2)$$);
SELECT try($$SELECT rgpd.anonymise('vault.clients', 2)$$);
SELECT id FROM rgpd.pending('archive', '2030-12-31') ORDER BY id;
SELECT count(*) AS to_anonymise_rows FROM rgpd.pending_anonymise;
SELECT subject, to_archive, to_anonymise, archived, anonymised FROM rgpd.dashboard('2030-12-31');
SELECT try($$SELECT * FROM rgpd.journal$$);

\c - regress_manager
SET client_min_messages = warning;
-- a manager sees the archive, through the table and through the view
SELECT id, name, rgpd_status FROM vault.clients ORDER BY id;
SELECT id, name FROM vault.client_names ORDER BY id;
SELECT subject, to_archive, to_anonymise, archived, anonymised FROM rgpd.dashboard('2030-12-31');
SELECT (rgpd.export('vault.clients', 2) -> 'record' ->> 'name') AS exported_name;

\c - regress_owner
SET client_min_messages = warning;
-- the owner is under the policy too (FORCE ROW LEVEL SECURITY), unless a manager
SELECT id, name FROM vault.clients ORDER BY id;
-- without FORCE, an owner sees everything, as PostgreSQL does by default
SELECT rgpd.register_subject('vault.clients', created_column => 'created', personal_columns => '{name,email}',
                             force_rls => false);
SELECT count(*) AS owner_sees FROM vault.clients;
SELECT rgpd.register_subject('vault.clients', created_column => 'created', personal_columns => '{name,email}');
SELECT count(*) AS owner_sees FROM vault.clients;

\c - postgres
SET client_min_messages = warning;
SELECT count(*) > 0 AS superuser_sees_stats FROM pg_stats WHERE schemaname = 'vault' AND tablename = 'clients';
DROP SCHEMA vault CASCADE;
