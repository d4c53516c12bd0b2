-- 00_install: the extension installs into its own schema rgpd, creates the
-- rgpd_manager role if missing, needs no pg_cron, registers its
-- configuration tables with pg_dump, and grants nothing to PUBLIC that is
-- not listed here.  Also creates the roles the other tests log in as.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE EXTENSION pericles_rgpd;

SELECT extname, extversion, extrelocatable,
       pg_describe_object(classid, objid, objsubid) AS schema_member
  FROM pg_extension e JOIN pg_depend d ON d.refobjid = e.oid AND d.classid = 'pg_namespace'::regclass
 WHERE extname = 'pericles_rgpd';

-- the manager right is a role that cannot log in
SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'rgpd_manager';

-- pg_cron is not required by CREATE EXTENSION: no version of the
-- extension requires another extension (rgpd.schedule_sweep() looks for
-- pg_cron when it is called, see 07_schedule), and this database, where it
-- just installed, has no pg_cron while the server has it available
SELECT version, requires FROM pg_available_extension_versions
 WHERE name = 'pericles_rgpd' ORDER BY version;
SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron') AS pg_cron_here,
       (SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_cron') AS pg_cron_available;

-- configuration and proof are dumped by pg_dump
SELECT c.relname
  FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'pericles_rgpd'
 ORDER BY 1;

-- settings and their defaults
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'rgpd.%' ORDER BY 1;
SET rgpd.no_such_setting = 1;
SET rgpd.export_ttl = 'ten days';
SET rgpd.mask_text = '';

-- every SECURITY DEFINER function pins search_path; there is one, the
-- event trigger that forgets dropped tables (the C functions switch to
-- table owners themselves, as ri_triggers.c does)
SELECT p.oid::regprocedure AS security_definer, p.proconfig
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.prosecdef
 ORDER BY p.oid::regprocedure::text;
-- and every function of the extension pins it, except the SQL ones that
-- must stay inlinable (their bodies are schema-qualified)
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND p.proconfig IS NULL
 ORDER BY p.oid::regprocedure::text;

-- the statements run on application tables are built in C, by kind
-- (src/subject_statements.c, link_statements.c, retention_statements.c):
-- no SQL or PL/pgSQL function of the extension generates them any more
SELECT p.oid::regprocedure AS generates_statements
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND p.prosrc ~* 'format\(\s*''\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\M'
 ORDER BY p.oid::regprocedure::text;

-- functions of schema rgpd executable by anyone, and by managers only
SELECT p.oid::regprocedure AS public_function
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.proname NOT LIKE '\_%'
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure AS manager_function
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.proname NOT LIKE '\_%'
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
   AND has_function_privilege('rgpd_manager', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure AS superuser_function
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'rgpd' AND p.proname NOT LIKE '\_%'
   AND NOT has_function_privilege('rgpd_manager', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;

-- tables: who may read and write them
SELECT c.relname,
       has_table_privilege('public', c.oid, 'SELECT') AS public_select,
       has_table_privilege('public', c.oid, 'INSERT') AS public_insert,
       has_table_privilege('rgpd_manager', c.oid, 'SELECT') AS manager_select,
       c.relrowsecurity AS rls
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'rgpd' AND c.relkind IN ('r', 'v')
 ORDER BY 1;

-- roles the tests log in as
CREATE ROLE regress_owner LOGIN;
CREATE ROLE regress_agent LOGIN;
CREATE ROLE regress_manager LOGIN IN ROLE rgpd_manager;
GRANT CREATE ON SCHEMA public TO regress_owner;

-- try(sql): run a statement and show how it failed (SQLSTATE, message,
-- hint), or 'ok'.  The refusal tests use it; a failed statement is rolled
-- back (it runs in a subtransaction), which is what "changes nothing"
-- means for a single call.
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
