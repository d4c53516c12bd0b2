-- 23_trigger_upgrade: ALTER EXTENSION pericles_rgpd UPDATE from 1.0
-- re-creates the triggers of every registered table in the 1.1 argument
-- format, and they then work and act only as registered.  Until the
-- update, a 1.0 database running this library refuses to fire the 1.0
-- triggers (their format is no longer read) with a hint to update, rather
-- than trusting them.  Runs in a database of its own.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
CREATE DATABASE rgpd_upgrade;
\c rgpd_upgrade
SET client_min_messages = warning;
CREATE EXTENSION pericles_rgpd VERSION '1.0';
CREATE SCHEMA up AUTHORIZATION regress_owner;
CREATE FUNCTION public.try(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    hint text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END;
END
$$;

-- registered under 1.0 (tables still empty: registration fires nothing)
\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = up, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE offers (id serial PRIMARY KEY, subject bigint, client_name text, signed date);
SELECT rgpd.register_subject('up.clients', created_column => 'created', personal_columns => '{name}',
                             time_zone => 'UTC');
SELECT rgpd.register_link('up.offers', 'up.clients', '{subject}', '{signed}', '{"subject": ["client_name"]}');
SELECT tgname, substring(pg_get_triggerdef(oid) FROM 'EXECUTE FUNCTION (.*)$') AS function_10
  FROM pg_trigger WHERE tgrelid IN ('up.clients'::regclass, 'up.offers'::regclass)
   AND tgname IN ('rgpd_subject_guard', 'rgpd_link_insert') ORDER BY 1;
SELECT try($$INSERT INTO clients VALUES (1, 'Martin', '2015-01-10')$$);

\c - postgres
SET client_min_messages = warning;
ALTER EXTENSION pericles_rgpd UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'pericles_rgpd';

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = up, public;
SELECT tgname, substring(pg_get_triggerdef(oid) FROM 'EXECUTE FUNCTION (.*)$') AS function_11
  FROM pg_trigger WHERE tgrelid IN ('up.clients'::regclass, 'up.offers'::regclass)
   AND tgname IN ('rgpd_subject_guard', 'rgpd_link_insert') ORDER BY 1;
INSERT INTO clients VALUES (1, 'Martin', '2015-01-10'), (2, 'Bernard', '2015-01-10');
INSERT INTO offers (subject, client_name, signed) VALUES (1, 'Martin', '2020-05-01'), (2, 'Bernard', '2019-01-01');
UPDATE offers SET signed = '2018-01-01' WHERE subject = 2;
SELECT id, last_contact FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('up.clients');
-- the trigger functions of the updated database check their triggers
CREATE TEMP TABLE mine (subject bigint, client_name text, signed date);
CREATE TRIGGER rgpd_link_insert AFTER INSERT ON mine REFERENCING NEW TABLE AS n FOR EACH STATEMENT
    EXECUTE FUNCTION rgpd.link_trigger('subject:up.clients', 'key:id', 'tz:UTC', 'date:signed',
                                       'column:subject', 'personal:client_name');
SELECT try($$INSERT INTO mine VALUES (1, NULL, '9999-12-31')$$);
SELECT id, last_contact FROM clients ORDER BY id;

\c :regress_db postgres
SET client_min_messages = warning;
DROP DATABASE rgpd_upgrade WITH (FORCE);
