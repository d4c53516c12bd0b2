-- 99_cleanup: DROP EXTENSION leaves application tables usable once their
-- subjects are unregistered; the roles of the tests go.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS app CASCADE;
DROP EXTENSION IF EXISTS pg_cron;
DROP EXTENSION pericles_rgpd;
SELECT count(*) AS rgpd_objects_left FROM pg_namespace WHERE nspname = 'rgpd';
DROP FUNCTION public.try(text);
DROP OWNED BY regress_owner, regress_agent, regress_manager;
DROP ROLE regress_owner, regress_agent, regress_manager;
