
/* ------------------------------------------------------------------ *
 * Long work in committed batches (1.1)
 *
 * 1.0 swept a database in one transaction: a backlog of 700 000 rows ran
 * 16 s without a word, a statement_timeout rolled all of it back and
 * journaled nothing, and the sweep queued behind (and held) the
 * application's row locks.  Registration computed last_contact of every
 * existing row under the ACCESS EXCLUSIVE lock of its ALTER TABLE, once
 * for the subject and again for each link registered after it.
 *
 *   CALL rgpd.sweep_batches(as_of, batch_size, for_subject)
 *       the sweep, one COMMIT per batch; rows locked by the application
 *       are skipped (SKIP LOCKED) and left to the next run; a NOTICE and a
 *       journal line (sweep_batch) per batch, the usual sweep line at the
 *       end, with "completed": false and the error when it was stopped;
 *   CALL rgpd.recompute_batches(subject, batch_size)
 *       rgpd.recompute() in batches: the backfill after registrations made
 *       with rgpd.defer_backfill();
 *   SELECT rgpd.defer_backfill() before registrations, in one transaction:
 *       the columns, indexes, policies and triggers, without computing
 *       last_contact of the existing rows (a short ACCESS EXCLUSIVE lock),
 *       then CALL rgpd.recompute_batches() writes each row once;
 *   rgpd.sweep_runs: one row per run of the sweep (managers).
 *
 * The procedures are C (src/batches.c): a procedure that commits cannot
 * pin search_path with a SET clause, and C pins it itself.  pg_cron runs
 * CALL, with its COMMITs, in its background workers (the scheduled job is
 * now CALL rgpd.sweep_batches(), src/cron_job.c).
 * ------------------------------------------------------------------ */

-- The statements a batch locks its rows with (SKIP LOCKED) are
-- RGPD_STMT_SWEEP_LOCK_ARCHIVE, _ANONYMISE and RGPD_STMT_SWEEP_NEXT_KEYS
-- (src/subject_statements.c).

CREATE PROCEDURE rgpd.sweep_batches(as_of date DEFAULT CURRENT_DATE,
                                    batch_size integer DEFAULT 10000,
                                    for_subject regclass DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'rgpd_sweep_batches' LANGUAGE C;
COMMENT ON PROCEDURE rgpd.sweep_batches(date, integer, regclass) IS
    'The sweep in committed batches: skips rows locked by others (the next run takes them), journals each batch and the end of the run (managers)';
REVOKE ALL ON PROCEDURE rgpd.sweep_batches(date, integer, regclass) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE rgpd.sweep_batches(date, integer, regclass) TO rgpd_manager;

CREATE PROCEDURE rgpd.recompute_batches(subject regclass, batch_size integer DEFAULT 10000)
    AS 'MODULE_PATHNAME', 'rgpd_recompute_batches' LANGUAGE C;
COMMENT ON PROCEDURE rgpd.recompute_batches(regclass, integer) IS
    'rgpd.recompute() in committed batches, in key order: the backfill after registrations made with rgpd.defer_backfill() (owner of the table, managers)';
-- checks inside: the owner of the table, or a manager
GRANT EXECUTE ON PROCEDURE rgpd.recompute_batches(regclass, integer) TO PUBLIC;

-- For the rest of the transaction, registrations (and rgpd.recompute() of
-- a whole table) leave last_contact of the existing rows as it is: NULL
-- on a newly registered table, which is never due (the lists and the
-- sweep leave such rows alone) until CALL rgpd.recompute_batches()
-- computes it, writing each row once.  The bodies of registration stay
-- as they are (30_registration.sql): their rgpd.recompute() returns NULL.
CREATE FUNCTION rgpd.defer_backfill() RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_defer_backfill' LANGUAGE C;
COMMENT ON FUNCTION rgpd.defer_backfill() IS
    'For the rest of the transaction, registrations do not compute last_contact of existing rows: CALL rgpd.recompute_batches() does, in batches';
-- it changes only what the caller's own transaction does
GRANT EXECUTE ON FUNCTION rgpd.defer_backfill() TO PUBLIC;

-- One row per run of the sweep, from the journal: the runs of
-- rgpd.sweep_batches() (run), and those of rgpd.sweep() (one line each).
-- state: completed; stopped (an error, journaled); running or
-- interrupted (no end line yet: still running, or its session ended).
CREATE VIEW rgpd.sweep_runs AS
SELECT coalesce(j.detail->>'run', 'sweep ' || j.id::text) AS run,
       min(j.at) AS started,
       max(j.at) AS last_at,
       count(*) FILTER (WHERE j.action = 'sweep_batch') AS batches,
       coalesce(sum((j.detail->>'archived')::bigint) FILTER (WHERE j.action = 'sweep_batch'),
                max((j.detail->>'archived')::bigint) FILTER (WHERE j.action = 'sweep')) AS archived,
       coalesce(sum((j.detail->>'anonymised')::bigint) FILTER (WHERE j.action = 'sweep_batch'),
                max((j.detail->>'anonymised')::bigint) FILTER (WHERE j.action = 'sweep')) AS anonymised,
       sum((j.detail->>'skipped_locked')::bigint) FILTER (WHERE j.action = 'sweep_batch') AS skipped_locked,
       CASE WHEN NOT bool_or(j.action = 'sweep') THEN 'running or interrupted'
            WHEN bool_or(j.action = 'sweep' AND j.detail->>'completed' = 'false') THEN 'stopped'
            ELSE 'completed' END AS state,
       -- the SQLSTATE and PostgreSQL's condition, never an error's text
       max(concat_ws(': ', j.detail->'stopped'->>'sqlstate', j.detail->'stopped'->>'condition'))
           FILTER (WHERE j.action = 'sweep' AND j.detail ? 'stopped') AS stopped_by
  FROM rgpd.journal AS j
 WHERE j.action IN ('sweep', 'sweep_batch')
 GROUP BY 1;
COMMENT ON VIEW rgpd.sweep_runs IS
    'Runs of the sweep and their progress, from the journal (managers)';
REVOKE ALL ON rgpd.sweep_runs FROM PUBLIC;
GRANT SELECT ON rgpd.sweep_runs TO rgpd_manager;
