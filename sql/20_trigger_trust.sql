-- 20_trigger_trust: rgpd.link_trigger() and rgpd.subject_trigger() act only
-- as the triggers registration installed on a registered table.  A role
-- with nothing but USAGE on the CRM schema attaches them to a table of its
-- own with arguments naming the CRM's clients (the 1.0 format, then the
-- very arguments of the real trigger), for INSERT and for TRUNCATE; a
-- tenant rewrites the trigger of its own registered link to name another
-- tenant's clients; an owner adds a trigger of another name, or without
-- its transition table.  Every one fails with SQLSTATE 39P01 naming the
-- trigger and its table, and changes nothing: no client moves, no lock is
-- left behind.  The registered triggers keep working.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_intruder LOGIN;
CREATE SCHEMA trust AUTHORIZATION regress_owner;
CREATE SCHEMA lair AUTHORIZATION regress_intruder;
GRANT USAGE ON SCHEMA trust TO regress_intruder;
-- why(sql): like try(), with the detail that says which check refused
CREATE FUNCTION trust.why(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    detail text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || CASE WHEN detail <> '' THEN E'\nDETAIL: ' || detail ELSE '' END;
END
$$;

-- the CRM
\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = trust, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE offers (id serial PRIMARY KEY, client_id bigint REFERENCES clients,
                     signed date, client_name text);
INSERT INTO clients VALUES (1, 'Martin', '2015-01-10'), (2, 'Bernard', '2016-02-20');
SELECT rgpd.register_subject('trust.clients', created_column => 'created', personal_columns => '{name}',
                             time_zone => 'UTC');
SELECT rgpd.register_link('trust.offers', 'trust.clients', '{client_id}', '{signed}',
                          '{"client_id": ["client_name"]}');
INSERT INTO offers (client_id, signed, client_name) VALUES (1, '2020-05-01', 'Martin');
SELECT id, last_contact FROM clients ORDER BY id;

-- an intruder: USAGE on the schema, no right on any table of it
\c - regress_intruder
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = lair, public;
SELECT has_table_privilege('trust.clients', 'UPDATE') AS may_update_clients,
       has_table_privilege('trust.offers', 'INSERT') AS may_insert_offers;

-- the 1.0 exploit: a temporary table, a trigger whose arguments name the
-- clients, a row dated 9999-12-31
CREATE TEMP TABLE mine (client_id bigint, signed date, client_name text);
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON mine REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(
        'subject', 'trust.clients', 'key', 'id', 'tz', 'UTC', 'column', 'client_id', 'date', 'signed');
SELECT try($$INSERT INTO mine VALUES (1, '9999-12-31'), (2, '9999-12-31')$$);
DROP TRIGGER rgpd_link_insert ON mine;

-- the arguments of the real trigger, read from the catalog, do no better:
-- the table they are on is not a registered link
SELECT substring(pg_get_triggerdef(t.oid) FROM 'rgpd\.link_trigger\((.*)\)$') AS real_args
  FROM pg_trigger AS t WHERE t.tgrelid = 'trust.offers'::regclass AND t.tgname = 'rgpd_link_insert' \gset
SELECT :'real_args' AS real_args;
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON mine REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
SELECT trust.why($$INSERT INTO mine VALUES (1, '9999-12-31', 'X')$$);
-- nor for an update, a delete, or under another name
CREATE TRIGGER rgpd_link_update AFTER UPDATE ON mine REFERENCING OLD TABLE AS o NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
CREATE TRIGGER rgpd_link_delete AFTER DELETE ON mine REFERENCING OLD TABLE AS o
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
ALTER TABLE mine DISABLE TRIGGER rgpd_link_insert;
INSERT INTO mine VALUES (1, '2021-01-01', 'X');
SELECT trust.why($$UPDATE mine SET signed = '9999-12-31'$$);
SELECT trust.why($$DELETE FROM mine$$);
DROP TRIGGER rgpd_link_update ON mine;
DROP TRIGGER rgpd_link_delete ON mine;
CREATE TRIGGER sneaky AFTER INSERT ON mine REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
SELECT trust.why($$INSERT INTO mine VALUES (2, '9999-12-31', 'X')$$);
DROP TRIGGER sneaky ON mine;

-- AFTER TRUNCATE recomputed every client under SHARE locks on the CRM's
-- tables, held to the end of the intruder's transaction: now it fails
-- before it locks anything
CREATE TRIGGER rgpd_link_truncate AFTER TRUNCATE ON mine
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
BEGIN;
SELECT trust.why($$TRUNCATE mine$$);
SELECT count(*) AS locks_on_crm FROM pg_locks
 WHERE pid = pg_backend_pid() AND relation IN ('trust.clients'::regclass, 'trust.offers'::regclass);
COMMIT;
DROP TABLE mine;

-- the subject trigger cannot be borrowed either
CREATE TEMP TABLE people (id bigint, created date, name text, last_contact date,
                          rgpd_contact_floor date, rgpd_status rgpd.status);
CREATE TRIGGER rgpd_subject_guard BEFORE INSERT OR UPDATE ON people
    FOR EACH ROW EXECUTE FUNCTION rgpd.subject_trigger('key:id', 'tz:UTC', 'created:created', 'personal:name');
SELECT trust.why($$INSERT INTO people (id, created) VALUES (1, '2020-01-01')$$);
DROP TABLE people;

-- a tenant with a registered link of its own rewrites its trigger to name
-- the CRM's clients: the table is registered, the arguments are not its
CREATE TABLE lair.clients (id bigint PRIMARY KEY, created date);
CREATE TABLE lair.offers (id serial PRIMARY KEY, client_id bigint, signed date, client_name text);
SELECT rgpd.register_subject('lair.clients', created_column => 'created', time_zone => 'UTC');
SELECT rgpd.register_link('lair.offers', 'lair.clients', '{client_id}', '{signed}');
DROP TRIGGER rgpd_link_insert ON lair.offers;
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON lair.offers REFERENCING NEW TABLE AS rgpd_new
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
SELECT trust.why($$INSERT INTO lair.offers (client_id, signed) VALUES (1, '9999-12-31')$$);
DROP SCHEMA lair CASCADE;

-- nothing moved
\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = trust, public;
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('trust.clients');

-- the owner's own triggers are refused too: under another name, or under
-- the registered name without its transition table (an XX000 in 1.0)
CREATE TRIGGER audit_contacts AFTER INSERT ON offers REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
SELECT trust.why($$INSERT INTO offers (client_id, signed) VALUES (2, '2021-01-01')$$);
DROP TRIGGER audit_contacts ON offers;
DROP TRIGGER rgpd_link_insert ON offers;
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON offers
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
SELECT trust.why($$INSERT INTO offers (client_id, signed) VALUES (2, '2021-01-01')$$);
-- registration puts its triggers back
SELECT rgpd._sync('trust.clients');
CREATE TRIGGER audit_clients AFTER UPDATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.subject_trigger('key:id', 'tz:UTC', 'created:created', 'personal:name');
SELECT trust.why($$UPDATE clients SET name = name WHERE id = 2$$);
DROP TRIGGER audit_clients ON clients;

-- the registered triggers work as before
INSERT INTO offers (client_id, signed) VALUES (2, '2021-01-01');
UPDATE offers SET signed = '2022-02-02' WHERE client_id = 1;
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('trust.clients');

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA trust CASCADE;
DROP OWNED BY regress_intruder;
DROP ROLE regress_intruder;
