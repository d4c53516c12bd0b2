-- 28_index_code_trust: the contact engine never runs code of the subject
-- table's owner as the role that wrote a link row.  A tenant owns its
-- clients and puts on them an index over a function of its own (an
-- expression index, then a partial index) that records who runs it.  A
-- manager and a superuser insert link rows, one at a time (the engine's
-- few-subjects path, which may write the heap directly) and in bulk.  The
-- index code runs, as it must for the index to stay right, but only as the
-- tenant inside the owner gate: never as the manager or the superuser
-- (before the fix the direct heap write evaluated it as the link's
-- writer).  last_contact is right, and verify() finds nothing.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_tenant LOGIN;
CREATE SCHEMA tenant AUTHORIZATION regress_tenant;
GRANT USAGE ON SCHEMA tenant TO regress_manager;

\c - regress_tenant
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = tenant, public;
-- who ran the tenant's index code: a log anyone may append to, so that
-- a run as another role would be recorded too
CREATE TABLE seen (run_as name, session_role name);
GRANT INSERT ON seen TO PUBLIC;
CREATE FUNCTION note_caller() RETURNS void LANGUAGE sql VOLATILE
    AS $$ INSERT INTO tenant.seen VALUES (current_user, session_user) $$;
-- an "immutable" function for the index, which calls the logger
CREATE FUNCTION spy(d date) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM tenant.note_caller();
    RETURN d;
END
$$;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE visits (id serial PRIMARY KEY, client_id bigint, at date);
INSERT INTO clients SELECT g, 'client ' || g, '2015-01-01' FROM generate_series(1, 20) AS g;
SELECT rgpd.register_subject('tenant.clients', created_column => 'created', time_zone => 'UTC');
SELECT rgpd.register_link('tenant.visits', 'tenant.clients', '{client_id}', '{at}');
GRANT INSERT, UPDATE, DELETE ON visits TO regress_manager;
GRANT USAGE ON SEQUENCE visits_id_seq TO regress_manager;
-- the index reads last_contact, so writing a contact is never a HOT update
-- and always adds an index entry, evaluating spy()
CREATE INDEX clients_spy ON clients (spy(last_contact));
TRUNCATE seen;

-- a manager writes link rows: one subject, then all twenty
\c - regress_manager
SET client_min_messages = warning;
INSERT INTO tenant.visits (client_id, at) VALUES (1, '2024-03-01');
INSERT INTO tenant.visits (client_id, at) SELECT g, '2024-04-01' FROM generate_series(2, 20) AS g;
-- a superuser too
\c - postgres
SET client_min_messages = warning;
INSERT INTO tenant.visits (client_id, at) VALUES (2, '2024-05-01');

-- a partial index whose predicate calls the tenant's function
\c - regress_tenant
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = tenant, public;
DROP INDEX clients_spy;
CREATE INDEX clients_spy_partial ON clients (id) WHERE spy(last_contact) IS NOT NULL;
SELECT count(*) AS spied_as_others_so_far FROM seen WHERE run_as <> 'regress_tenant';
\c - regress_manager
SET client_min_messages = warning;
INSERT INTO tenant.visits (client_id, at) VALUES (3, '2024-06-01');
\c - postgres
SET client_min_messages = warning;
INSERT INTO tenant.visits (client_id, at) VALUES (4, '2024-07-01');

-- an index over a cast to a domain whose CHECK calls the tenant's
-- function: no function of the tenant's in the index expression itself,
-- the domain's CHECK runs it (review finding: it ran as the link writer)
\c - regress_tenant
SET client_min_messages = warning;
SET search_path = tenant, public;
DROP INDEX clients_spy_partial;
CREATE FUNCTION spy_ok(d date) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM tenant.note_caller();
    RETURN true;
END
$$;
CREATE DOMAIN day AS date CHECK (tenant.spy_ok(VALUE));
CREATE INDEX clients_spy_domain ON clients ((CAST(last_contact AS tenant.day)));
SELECT count(*) AS spied_as_others_so_far FROM seen WHERE run_as <> 'regress_tenant';
\c - regress_manager
SET client_min_messages = warning;
INSERT INTO tenant.visits (client_id, at) VALUES (5, '2024-08-01');
\c - postgres
SET client_min_messages = warning;
INSERT INTO tenant.visits (client_id, at) VALUES (6, '2024-09-01');

-- the index code ran, always as the tenant, whoever wrote the link rows
\c - regress_tenant
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = tenant, public;
SELECT run_as, session_role, count(*) > 0 AS ran FROM seen GROUP BY 1, 2 ORDER BY 1, 2;
-- and the contacts were recorded
SELECT id, last_contact FROM clients WHERE id <= 6 ORDER BY id;
SELECT count(*) AS subjects_dated FROM clients WHERE last_contact >= '2024-04-01';
SELECT count(*) AS verify_differences FROM rgpd.verify('tenant.clients');

\c - postgres
SET client_min_messages = warning;

DROP SCHEMA tenant CASCADE;
DROP OWNED BY regress_tenant;
DROP ROLE regress_tenant;
