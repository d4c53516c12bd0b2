-- 07_schedule: the sweep is a pg_cron job (first of the month at 03:00 by
-- default) that runs as a non-superuser member of rgpd_manager: named
-- rgpd-monthly-sweep in cron.database_name (this database), and
-- rgpd-monthly-sweep-<database> when scheduled from any other database.
-- Without pg_cron the error says what to put in postgresql.conf; a job
-- pg_cron could not run (no background workers and no connection it can
-- make) is refused with what to set.  test/run.sh waits for a real run.
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
SELECT try($$SELECT rgpd._cron_job('x', '* * * * *', 'rgpd_sweeper')$$);
\c - postgres
SET client_min_messages = warning;

-- What pg_cron needs.  This cluster runs jobs in background workers
-- (cron.use_background_workers = on): nothing to check.  Without them
-- pg_cron connects with libpq to cron.host (localhost by default): the
-- server must listen there and pg_hba.conf let the role in unprompted.
SELECT current_setting('cron.use_background_workers') AS background_workers;
SELECT count(*) AS problems
  FROM rgpd._cron_connection_check('rgpd_sweeper', current_database(), true, 'localhost');
SELECT fails, message,
       replace(hint, current_setting('unix_socket_directories'), '<socket dir>') AS hint
  FROM rgpd._cron_connection_check('rgpd_sweeper', current_database(), false, 'localhost');
-- through the Unix socket: the cluster's 'local all all trust' lets it in
SELECT count(*) AS problems
  FROM rgpd._cron_connection_check('rgpd_sweeper', current_database(), false,
                                   current_setting('unix_socket_directories'));
-- test/cluster.sh put a reject rule and a password rule for two roles
CREATE ROLE regress_cron_reject LOGIN;
CREATE ROLE regress_cron_password LOGIN;
SELECT fails, regexp_replace(message, 'line \d+', 'line N') AS message,
       regexp_replace(hint, 'cron.use_background_workers = on.*without connecting\)', '…') AS hint
  FROM rgpd._cron_connection_check('regress_cron_reject', current_database(), false,
                                   current_setting('unix_socket_directories'));
SELECT fails, regexp_replace(message, 'line \d+', 'line N') AS message,
       regexp_replace(hint, 'cron.use_background_workers = on.*without connecting\)', '…') AS hint
  FROM rgpd._cron_connection_check('regress_cron_password', current_database(), false,
                                   current_setting('unix_socket_directories'));
-- with a password, it depends on a .pgpass file SQL cannot see: a warning
ALTER ROLE regress_cron_password PASSWORD 'regress-not-a-secret';
SELECT fails, regexp_replace(message, 'line \d+', 'line N') AS message
  FROM rgpd._cron_connection_check('regress_cron_password', current_database(), false,
                                   current_setting('unix_socket_directories'));
-- a role that may not connect to the database is refused
REVOKE CONNECT ON DATABASE rgpd_regress FROM PUBLIC;
GRANT rgpd_manager TO regress_cron_reject;
SELECT try($$SELECT rgpd.schedule_sweep(username => 'regress_cron_reject')$$);
GRANT CONNECT ON DATABASE rgpd_regress TO PUBLIC;
DROP ROLE regress_cron_reject, regress_cron_password;

-- Another database schedules its own job, which pg_cron keeps here (the
-- function reaches this database through a background worker); each
-- database's job has its own name and unscheduling removes only its own.
CREATE DATABASE rgpd_sched2;
\c rgpd_sched2
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE EXTENSION pericles_rgpd;
SELECT rgpd._sweep_job_name();
SELECT rgpd.schedule_sweep('0 4 1 * *') > 0 AS scheduled;
SELECT rgpd.schedule_sweep('0 5 1 * *') > 0 AS rescheduled;
\c rgpd_regress
SET client_min_messages = warning;
SELECT jobname, schedule, command, database, username FROM cron.job ORDER BY jobname;
\c rgpd_sched2
SET client_min_messages = warning;
SELECT rgpd.unschedule_sweep() AS removed;
SELECT rgpd.unschedule_sweep() AS removed_again;
\c rgpd_regress
SET client_min_messages = warning;
SELECT jobname FROM cron.job ORDER BY jobname;
SELECT rgpd.unschedule_sweep() AS removed;
SELECT rgpd.unschedule_sweep() AS removed_again;
SELECT count(*) AS jobs FROM cron.job;
DROP EXTENSION pg_cron;
-- without pg_cron in the cron database, the other database is told where
\c rgpd_sched2
SET client_min_messages = warning;
\set VERBOSITY default
SELECT rgpd.schedule_sweep();
\c rgpd_regress
SET client_min_messages = warning;
\set VERBOSITY terse
DROP DATABASE rgpd_sched2;
DROP ROLE rgpd_sweeper;
