-- 12_trust: the attacks of the 1.0 trust review, replayed by ordinary
-- login roles.  The table owners of one database are mutually untrusted
-- tenants: regress_tenant owns tables of its own and plants code in them
-- (policy and exclusion predicates, CHECK constraints, triggers, row-level
-- security policies).  Privileged callers (a superuser, a manager) then
-- use the extension as usual; the tenant's code must run as the tenant
-- only, in a security-restricted operation whose setting changes do not
-- survive it.  trust_log records who ran the tenant's code.
--
-- Then the CRM's owner, agents and a reporting role check that what the
-- extension returns or acts on follows their own rights on the tables.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_tenant LOGIN;
CREATE ROLE regress_agent2 LOGIN;
CREATE TABLE public.trust_log (who name, what text);
GRANT SELECT, INSERT ON public.trust_log TO PUBLIC;
CREATE SCHEMA trust AUTHORIZATION regress_owner;
CREATE SCHEMA tenant AUTHORIZATION regress_tenant;
GRANT USAGE ON SCHEMA trust TO regress_agent, regress_agent2, regress_manager, regress_tenant;
GRANT USAGE ON SCHEMA tenant TO PUBLIC;

-- the CRM: leads are shown by the application's own policy to their
-- negotiator only
\c - regress_owner
SET client_min_messages = warning;
SET search_path = trust, public;
SET datestyle = 'ISO, YMD';
CREATE TABLE clients (id bigint PRIMARY KEY, name text, phone text, negotiator name, created date NOT NULL);
CREATE TABLE offers (id bigint PRIMARY KEY, client_id bigint REFERENCES clients, client_name text, created date);
INSERT INTO clients VALUES
    (1, 'Martin', '0611111111', 'regress_agent', '2015-01-10'),
    (2, 'Bernard', '0622222222', 'regress_agent2', '2015-01-10'),
    (3, 'Dubois', '0633333333', 'regress_tenant', '2015-01-10');
INSERT INTO offers VALUES (10, 1, 'Martin', '2016-02-01'), (11, 2, 'Bernard', '2016-02-01');
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_leads ON clients USING (negotiator = current_user OR current_user = 'regress_owner');
SELECT rgpd.register_subject('trust.clients', created_column => 'created',
                             personal_columns => '{name,phone}', negotiator_column => 'negotiator');
SELECT rgpd.register_link('trust.offers', 'trust.clients', '{client_id}', '{created}',
                          '{"client_id": ["client_name"]}');
GRANT SELECT, UPDATE ON clients TO regress_agent, regress_agent2, regress_manager;
GRANT SELECT ON offers TO regress_agent, regress_manager;
-- the tenant may read client ids only, and update them (it is the
-- negotiator of client 3)
GRANT SELECT (id), UPDATE ON clients TO regress_tenant;

-- the tenant registers tables of its own and plants code in them
\c - regress_tenant
SET client_min_messages = warning;
SET search_path = tenant, public;
SET datestyle = 'ISO, YMD';
-- runs as whoever calls it: logs that, and tries to take over
CREATE FUNCTION evil(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trust_log VALUES (current_user, what);
    BEGIN
        EXECUTE 'ALTER ROLE regress_tenant SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN true;
END
$$;
-- an IMMUTABLE wrapper, so that validation takes it for a pure predicate
CREATE FUNCTION looks_pure(id bigint, what text) RETURNS boolean IMMUTABLE LANGUAGE sql
    AS $$ SELECT tenant.evil(what) OR id IS NULL $$;
CREATE TABLE people (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE deals (id bigint PRIMARY KEY, person_id bigint REFERENCES people, kind text, signed date);
INSERT INTO people VALUES (1, 'Tenant One', '2015-01-10'), (2, 'Tenant Two', '2015-01-10');
INSERT INTO deals VALUES (1, 1, 'sale', '2015-03-01');
SELECT rgpd.register_subject('tenant.people', created_column => 'created', personal_columns => '{name}');
SELECT rgpd.register_link('tenant.deals', 'tenant.people', '{person_id}', '{signed}',
                          excludes_when => 'tenant.looks_pure(id, ''exclusion predicate'') AND kind = ''rental''');
SELECT rgpd.set_policy('tenant.people', '1 year', '2 years',
                       applies_when => 'tenant.looks_pure(id, ''policy predicate'')', name => 'trap');
-- configuration written directly, not through rgpd.set_policy(), is
-- validated all the same
SELECT try($$UPDATE rgpd.policies SET applies_when = '(SELECT count(*) FROM pg_authid) > 0'
             WHERE subject = 'tenant.people'::regclass AND name = 'trap'$$);
SELECT name, applies_when FROM rgpd.policies WHERE subject = 'tenant.people'::regclass ORDER BY position;
GRANT SELECT ON people, deals TO PUBLIC;

-- 1. a superuser and a manager read the lists: the tenant's predicates
-- run as the tenant, never as them
\c - postgres
SET client_min_messages = warning;
SELECT count(*) > 0 AS listed FROM rgpd.pending('archive', '2024-06-15');
SELECT subject, to_archive FROM rgpd.dashboard('2024-06-15') WHERE subject = 'tenant.people'::regclass;
SELECT rgpd.is_excluded('tenant.people', 1) AS excluded;
\c - regress_manager
SET client_min_messages = warning;
SELECT count(*) > 0 AS listed FROM rgpd.pending('archive', '2024-06-15');
SELECT count(*) >= 0 AS listed FROM rgpd.pending('anonymise', '2024-06-15');
\c - postgres
SET client_min_messages = warning;
SELECT DISTINCT who, what FROM public.trust_log ORDER BY 1, 2;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_tenant';
TRUNCATE public.trust_log;

-- a CHECK constraint is the owner's code too: a superuser who registers
-- the tenant's table does not run it as superuser
\c - regress_tenant
SET client_min_messages = warning;
CREATE TABLE tenant.checked (id bigint PRIMARY KEY,
                             name text CHECK (tenant.evil('check constraint') AND name IS DISTINCT FROM 'forbidden'),
                             created date NOT NULL);
\c - postgres
SET client_min_messages = warning;
SELECT rgpd.register_subject('tenant.checked', created_column => 'created', personal_columns => '{name}');
SELECT DISTINCT who, what FROM public.trust_log ORDER BY 1, 2;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_tenant';
TRUNCATE public.trust_log;

-- rgpd.scan() reads every table a manager may read: a table whose row
-- security policy is the tenant's code is not searched by a manager
\c - regress_tenant
SET client_min_messages = warning;
CREATE TABLE tenant.notes (id bigint, note text);
INSERT INTO tenant.notes VALUES (1, 'call Martin');
ALTER TABLE tenant.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON tenant.notes USING (tenant.evil('row security policy'));
GRANT SELECT ON tenant.notes TO PUBLIC;
\c - regress_manager
SET client_min_messages = warning;
SELECT tbl, col, matches FROM rgpd.scan(ARRAY['Martin']) ORDER BY 1, 2;
\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS tenant_code_run_as_manager FROM public.trust_log WHERE who = 'regress_manager';

-- 2. settings do not leak out of the tenant's code: a trigger that moves
-- search_path while the sweep archives its rows changes nothing outside
\c - regress_tenant
SET client_min_messages = warning;
CREATE FUNCTION tenant.move_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('search_path', 'tenant, pg_catalog', false);
    PERFORM set_config('datestyle', 'SQL, DMY', false);
    RETURN NEW;
END
$$;
CREATE TRIGGER move_path BEFORE UPDATE ON tenant.people FOR EACH ROW EXECUTE FUNCTION tenant.move_path();
\c - regress_manager
SET client_min_messages = warning;
SET search_path = public;
SELECT action, subject, count FROM rgpd.sweep('2024-06-15', for_subject => 'tenant.people');
SELECT current_setting('search_path') AS search_path, current_setting('datestyle') AS datestyle;

-- 4. the extension's own write is its own statement only: the tenant's
-- trigger, fired by rgpd.archive() of its own table, cannot use it to
-- rewrite the status of a real client
\c - regress_tenant
SET client_min_messages = warning;
CREATE FUNCTION tenant.forge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE trust.clients SET rgpd_status = 'anonymised', last_contact = '9999-12-31' WHERE id = 3;
    RETURN NEW;
END
$$;
CREATE TABLE tenant.temp_people (id bigint PRIMARY KEY, created date NOT NULL);
INSERT INTO tenant.temp_people VALUES (1, '2015-01-10');
SELECT rgpd.register_subject('tenant.temp_people', created_column => 'created');
CREATE TRIGGER forge BEFORE UPDATE ON tenant.temp_people FOR EACH ROW EXECUTE FUNCTION tenant.forge();
SELECT try($$SELECT rgpd.archive('tenant.temp_people', 1)$$);
\c - regress_manager
SET client_min_messages = warning;
\c - regress_owner
SET client_min_messages = warning;
SELECT id, last_contact, rgpd_status FROM trust.clients WHERE id = 3;

-- 5. actions follow the caller's rights on the tables
-- a role that may read the ids only gets no names through an export
\c - regress_tenant
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.export('trust.clients', 1)$$);
-- another agent's lead is unknown to an agent (the application's policy).
-- The lists read tables the agent did not name: they run the row-level
-- security policies of an owner only if the agent trusts it, and otherwise
-- leave the table out (a NOTICE says so)
\c - regress_agent2
SET client_min_messages = notice;
SELECT subject, id FROM rgpd.pending('archive', '2024-06-15') WHERE subject = 'trust.clients'::regclass ORDER BY id;
SET client_min_messages = warning;
-- trust is the DBA's decision, not something code the agent runs can set
SELECT try($$SET rgpd.trusted_owners = 'regress_tenant'$$);
\c - postgres
ALTER ROLE regress_agent2 SET rgpd.trusted_owners = 'regress_owner';
ALTER ROLE regress_agent SET rgpd.trusted_owners = 'regress_owner';
\c - regress_agent2
SET client_min_messages = warning;
SELECT subject, id FROM rgpd.pending('archive', '2024-06-15') WHERE subject = 'trust.clients'::regclass ORDER BY id;
SELECT try($$SELECT rgpd.archive('trust.clients', 1)$$);
SELECT try($$SELECT * FROM rgpd.consent_history('trust.clients', 1)$$);
-- its own lead: an export holds linked rows, and it may not read offers
SELECT try($$SELECT rgpd.export('trust.clients', 2)$$);
SELECT rgpd.is_excluded('trust.clients', 1) AS another_agents_lead;
SELECT count(*) AS differences_it_sees FROM rgpd.verify('trust.clients');
\c - regress_agent
SET client_min_messages = warning;
SELECT subject, id FROM rgpd.pending('archive', '2024-06-15') WHERE subject = 'trust.clients'::regclass ORDER BY id;
SELECT rgpd.export('trust.clients', 1) #> '{linked,trust.offers,client_id}' AS offers;
SELECT try($$SELECT rgpd.export('trust.clients', 2)$$);
\c - postgres
ALTER ROLE regress_agent RESET rgpd.trusted_owners;
\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.archive('trust.clients', 1) AS archived;
-- the owner's own view hides the archive (FORCE ROW LEVEL SECURITY), but
-- verify() sees every row for the owner
SELECT count(*) AS visible_to_owner FROM trust.clients;
SELECT count(*) AS differences FROM rgpd.verify('trust.clients');

-- 8. one tenant breaks nobody else: a registered table that lost a
-- column the engine needs is skipped, with a WARNING and a
-- journal line; the others are swept; lists answer for everybody
\c - regress_tenant
SET client_min_messages = warning;
-- (1.1: the owner may no longer drop it, see 25_migrations; a superuser
-- with event triggers off still can)
SELECT try($$ALTER TABLE tenant.people DROP COLUMN rgpd_contact_floor CASCADE$$);
\c - postgres
SET session_replication_role = replica;
ALTER TABLE tenant.people DROP COLUMN rgpd_contact_floor CASCADE;
RESET session_replication_role;
\c - regress_manager
SET client_min_messages = warning;
SELECT action, subject, count FROM rgpd.sweep('2024-06-15')
 WHERE subject IN ('trust.clients'::regclass, 'tenant.people'::regclass) ORDER BY 2;
SELECT action, subject, detail ->> 'sqlstate' AS sqlstate FROM rgpd.journal
 WHERE action = 'sweep_skipped' ORDER BY id DESC LIMIT 1;
SELECT subject, to_archive FROM rgpd.dashboard('2024-06-15')
 WHERE subject IN ('trust.clients'::regclass, 'tenant.people'::regclass) ORDER BY 1;
\c - regress_tenant
REVOKE SELECT ON tenant.people, tenant.deals FROM PUBLIC;
\c - regress_agent2
SET client_min_messages = warning;
-- tables it cannot read are left out, not an error
SELECT count(*) >= 0 AS answers FROM rgpd.pending_archive;
SELECT try($$SELECT count(*) FROM rgpd.pending('archive', 'infinity')$$);
SELECT try($$SELECT count(*) FROM rgpd.dashboard('294276-01-01')$$);

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA tenant CASCADE;
DROP SCHEMA trust CASCADE;
DROP TABLE public.trust_log;
DROP ROLE regress_tenant;
DROP ROLE regress_agent2;
