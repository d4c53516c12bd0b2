-- 25_migrations: what a table owner's migrations may do to registered
-- tables.  Dropping a registered column (key, creation date, personal,
-- subject, link date or personal column, or one registration added) is
-- refused, and the table keeps working: inserts fire the engine, verify()
-- is healthy.  Renaming a registered column is refused with a hint (the
-- registration names it); renaming a registered table is followed (the
-- configuration holds its OID, the triggers of its links are re-created
-- with its new name).  Unregistered columns are dropped and renamed freely.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA mig AUTHORIZATION regress_owner;
\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = mig, public;
CREATE TABLE clients (id bigint PRIMARY KEY, created date NOT NULL, name text, agent text,
                      note text, extra text);
CREATE TABLE offers (id serial PRIMARY KEY, client_id bigint REFERENCES clients, created date,
                     mandate_end date, client_name text, other text, spare text);
SELECT rgpd.register_subject('mig.clients', created_column => 'created', personal_columns => '{name}',
                             negotiator_column => 'agent', time_zone => 'UTC');
SELECT rgpd.register_link('mig.offers', 'mig.clients', '{client_id}', '{created,mandate_end}',
                          '{"client_id": ["client_name"]}');
INSERT INTO clients VALUES (1, '2020-01-10', 'Martin', 'a1'), (2, '2020-01-10', 'Bernard', 'a2');
INSERT INTO offers (client_id, created, mandate_end, client_name) VALUES (1, '2021-03-01', '2022-03-01', 'Martin');

-- dropping any registered column is refused, naming what it is
SELECT try(format('ALTER TABLE mig.%s DROP COLUMN %s CASCADE', t, c))
  FROM (VALUES ('clients', 'id'), ('clients', 'created'), ('clients', 'name'), ('clients', 'agent'),
               ('clients', 'last_contact'), ('clients', 'rgpd_status'),
               ('offers', 'client_id'), ('offers', 'created'), ('offers', 'mandate_end'),
               ('offers', 'client_name')) AS x(t, c);
-- with another column in the same statement too
SELECT try($$ALTER TABLE mig.offers DROP COLUMN other, DROP COLUMN mandate_end$$);
-- and the tables still work: contacts land, nothing is stale
INSERT INTO clients VALUES (3, '2020-02-01', 'Petit', 'a1');
INSERT INTO offers (client_id, created, mandate_end, client_name) VALUES (2, '2021-05-01', '2023-06-30', 'Bernard');
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('mig.clients');

-- renaming a registered column is refused, with the way to do it
SELECT try($$ALTER TABLE mig.clients RENAME COLUMN created TO created_on$$);
SELECT try($$ALTER TABLE mig.offers RENAME COLUMN mandate_end TO mandate_until$$);
SELECT try($$ALTER TABLE mig.clients RENAME COLUMN last_contact TO lc$$);
-- the way the hint gives: register without it, rename, register with it
SELECT rgpd.register_subject('mig.clients', created_column => 'created', personal_columns => '{}',
                             negotiator_column => 'agent', time_zone => 'UTC');
ALTER TABLE clients RENAME COLUMN name TO full_name;
SELECT rgpd.register_subject('mig.clients', created_column => 'created', personal_columns => '{full_name}',
                             negotiator_column => 'agent', time_zone => 'UTC');
SELECT personal_columns FROM rgpd.subjects WHERE subject = 'mig.clients'::regclass;

-- unregistered columns are the application's
ALTER TABLE clients DROP COLUMN note;
ALTER TABLE clients RENAME COLUMN extra TO extra_info;
ALTER TABLE offers DROP COLUMN other;
ALTER TABLE offers RENAME COLUMN spare TO spare_text;
INSERT INTO offers (client_id, created, client_name) VALUES (3, '2022-07-01', 'Petit');
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('mig.clients');

-- renaming the subject table, or the link table, is followed
ALTER TABLE clients RENAME TO customers;
ALTER TABLE offers RENAME TO mandates;
SELECT subject FROM rgpd.subjects WHERE subject = 'mig.customers'::regclass;
SELECT link, subject FROM rgpd.links WHERE link = 'mig.mandates'::regclass;
SELECT tgname, substring(pg_get_triggerdef(oid) FROM 'link_trigger\(''([^'']*)''') AS first_argument
  FROM pg_trigger WHERE tgrelid = 'mig.mandates'::regclass AND tgname LIKE 'rgpd%' ORDER BY 1;
INSERT INTO mandates (client_id, created, client_name) VALUES (1, '2024-02-02', 'Martin');
DELETE FROM mandates WHERE client_id = 3;
SELECT id, last_contact FROM customers ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('mig.customers');

-- renaming the schema of a registered table is followed as well
\c - postgres
SET client_min_messages = warning;
ALTER SCHEMA mig RENAME TO mig_renamed;
SELECT substring(pg_get_triggerdef(oid) FROM 'subject:([^'']*)''') AS subject_argument
  FROM pg_trigger WHERE tgrelid = 'mig_renamed.mandates'::regclass AND tgname = 'rgpd_link_insert';
ALTER SCHEMA mig_renamed RENAME TO mig;

-- one tenant's tables never make another role's migration fail: a tenant
-- that put a trigger of its own, under the engine's trigger name, on its own
-- registered link changes nothing for the owner's ALTER TABLE (before this
-- was mended, every such link's triggers were re-created as the caller: 42501)
CREATE SCHEMA mig_tenant AUTHORIZATION regress_agent;
\c - regress_agent
SET client_min_messages = warning;
CREATE TABLE mig_tenant.s1 (id int PRIMARY KEY, created date NOT NULL);
CREATE TABLE mig_tenant.l1 (id int PRIMARY KEY, s1_id int, at date);
SELECT rgpd.register_subject('mig_tenant.s1', created_column => 'created', time_zone => 'UTC');
SELECT rgpd.register_link('mig_tenant.l1', 'mig_tenant.s1', '{s1_id}', '{at}');
CREATE FUNCTION mig_tenant.noop() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$;
DROP TRIGGER rgpd_link_insert ON mig_tenant.l1;
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON mig_tenant.l1
    FOR EACH STATEMENT EXECUTE FUNCTION mig_tenant.noop();
\c - regress_owner
SET client_min_messages = warning;
SET search_path = mig, public;
ALTER TABLE customers ADD COLUMN note2 text;
ALTER TABLE mandates RENAME TO offers;
ALTER TABLE offers RENAME TO mandates;
SELECT count(*) AS stale_rows FROM rgpd.verify('mig.customers');
\c - regress_agent
SET client_min_messages = warning;
SELECT rgpd.unregister_link('mig_tenant.l1', 'mig_tenant.s1');
SELECT rgpd.unregister_subject('mig_tenant.s1');
\c - postgres
SET client_min_messages = warning;
DROP SCHEMA mig_tenant CASCADE;
\c - regress_owner
SET client_min_messages = warning;
SET search_path = mig, public;

-- dropping a whole registered table still takes its registration with it
DROP TABLE mandates;
SELECT count(*) AS links_left FROM rgpd.links WHERE subject = 'mig.customers'::regclass;
SELECT rgpd.unregister_subject('mig.customers');
DROP TABLE customers;
\c - postgres
SET client_min_messages = warning;
DROP SCHEMA mig CASCADE;
