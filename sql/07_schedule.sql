-- 07_schedule: the monthly sweep is a pg_cron job, 'rgpd-monthly-sweep'
-- (first of the month at 03:00 by default), that runs as a non-superuser
-- member of rgpd_manager.  Without pg_cron the error says what to put in
-- postgresql.conf.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.schedule_sweep()$$);
CREATE EXTENSION pg_cron;
SELECT try($$SELECT rgpd.schedule_sweep()$$);
CREATE ROLE rgpd_sweeper;
SELECT try($$SELECT rgpd.schedule_sweep()$$);
ALTER ROLE rgpd_sweeper LOGIN;
GRANT rgpd_manager TO rgpd_sweeper;
SELECT try($$SELECT rgpd.schedule_sweep(username => 'postgres')$$);
SELECT rgpd.schedule_sweep() > 0 AS scheduled;
SELECT jobname, schedule, command, database = current_database() AS this_database, username
  FROM cron.job ORDER BY jobid;
-- rescheduling replaces the job
SELECT rgpd.schedule_sweep('30 2 1 * *') > 0 AS scheduled;
SELECT jobname, schedule FROM cron.job ORDER BY jobid;
-- only superusers schedule
\c - regress_manager
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.schedule_sweep()$$);
\c - postgres
SET client_min_messages = warning;
SELECT rgpd.unschedule_sweep() AS removed;
SELECT rgpd.unschedule_sweep() AS removed_again;
SELECT count(*) AS jobs FROM cron.job;
DROP EXTENSION pg_cron;
DROP ROLE rgpd_sweeper;
