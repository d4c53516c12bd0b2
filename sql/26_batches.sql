-- 26_batches: long work in committed batches.  CALL rgpd.sweep_batches()
-- leaves the same rows archived and anonymised as one rgpd.sweep() over
-- the same data, one COMMIT, NOTICE and journal line (sweep_batch) per
-- batch, and a sweep line at the end; a run stopped by statement_timeout
-- keeps its committed batches, journals that it stopped, and the next run
-- resumes; a table whose batch fails is skipped and journaled.
-- Registration after rgpd.defer_backfill() computes nothing, then CALL
-- rgpd.recompute_batches() writes each subject row at most once: the table
-- at most doubles before VACUUM (one registration computing then each
-- link re-computing writes most rows twice).
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA bat AUTHORIZATION regress_owner;
-- the sweeps below anonymise too (a superuser's setting)
ALTER ROLE regress_manager SET rgpd.auto_anonymise = on;
\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
-- two identical agencies: one swept in one transaction, one in batches
CREATE FUNCTION bat.agency(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE bat.%I (id bigint PRIMARY KEY, name text, created date NOT NULL)', s || '_clients');
    EXECUTE format('CREATE TABLE bat.%I (id bigserial PRIMARY KEY, client_id bigint REFERENCES bat.%I,'
                   ' created date, transaction text NOT NULL DEFAULT ''sale'', client_name text)',
                   s || '_offers', s || '_clients');
    EXECUTE format('INSERT INTO bat.%I SELECT g, ''name '' || g, date ''2012-01-01'' + (g * 7) %% 3650'
                   '  FROM generate_series(1, 3000) AS g', s || '_clients');
    EXECUTE format('INSERT INTO bat.%I (client_id, created, transaction, client_name)'
                   ' SELECT 1 + (g * 13) %% 3000, date ''2012-01-01'' + (g * 11) %% 3000,'
                   '        CASE WHEN g %% 41 = 0 THEN ''rental'' ELSE ''sale'' END, ''name'''
                   '  FROM generate_series(1, 4000) AS g', s || '_offers');
    PERFORM rgpd.register_subject(format('bat.%I', s || '_clients')::regclass, created_column => 'created',
                                  personal_columns => '{name}', time_zone => 'UTC');
    PERFORM rgpd.register_link(format('bat.%I', s || '_offers')::regclass, format('bat.%I', s || '_clients')::regclass,
                               '{client_id}', '{created}', '{"client_id": ["client_name"]}',
                               excludes_when => $w$transaction = 'rental'$w$);
END
$$;
SELECT bat.agency('one'), bat.agency('bat'), bat.agency('stop'), bat.agency('fail');
GRANT USAGE ON SCHEMA bat TO regress_manager, regress_agent;
GRANT SELECT ON ALL TABLES IN SCHEMA bat TO regress_manager;

\c - regress_manager
SET client_min_messages = notice;
SELECT count(*) AS due_archive, count(*) FILTER (WHERE due_on <= '2020-06-30') AS due_long_ago
  FROM rgpd.pending('archive', '2020-06-15') WHERE subject = 'bat.bat_clients'::regclass;
SELECT action, count FROM rgpd.sweep('2020-06-15', for_subject => 'bat.one_clients') ORDER BY 1;
-- the same sweep in batches of 400: one NOTICE per batch
CALL rgpd.sweep_batches('2020-06-15', 400, for_subject => 'bat.bat_clients');
-- the same rows archived and anonymised, the same values erased
SELECT (SELECT array_agg(row(id, rgpd_status, name, last_contact) ORDER BY id) FROM bat.one_clients)
     = (SELECT array_agg(row(id, rgpd_status, name, last_contact) ORDER BY id) FROM bat.bat_clients) AS same_clients,
       (SELECT array_agg(row(id, client_name) ORDER BY id) FROM bat.one_offers)
     = (SELECT array_agg(row(id, client_name) ORDER BY id) FROM bat.bat_offers) AS same_offers,
       (SELECT count(*) FROM bat.bat_clients WHERE rgpd_status <> 'active') AS bat_not_active;
-- the journal: a line per batch, then the end of the run
SELECT j.detail->>'batch' AS batch, j.detail->>'action' AS action,
       coalesce(j.detail->>'archived', j.detail->>'anonymised') AS done,
       j.detail->>'skipped_locked' AS skipped, j.detail->>'position' AS position, j.detail->>'due' AS due
  FROM rgpd.journal AS j WHERE j.action = 'sweep_batch' AND j.subject = 'bat.bat_clients'::regclass
 ORDER BY j.id;
SELECT j.detail - 'run' AS run_end FROM rgpd.journal AS j
 WHERE j.action = 'sweep' AND j.detail ? 'run' ORDER BY j.id DESC LIMIT 1;
SELECT batches, archived, anonymised, skipped_locked, state FROM rgpd.sweep_runs WHERE batches > 0;
-- the per-subject journal lines are those of the single sweep
SELECT action, count(*) FROM rgpd.journal
 WHERE subject IN ('bat.one_clients'::regclass, 'bat.bat_clients'::regclass) AND subject_id IS NOT NULL
 GROUP BY action, subject ORDER BY 1, 2;
-- a second run finds nothing left
SET client_min_messages = warning;
CALL rgpd.sweep_batches('2020-06-15', 400, for_subject => 'bat.bat_clients');
SELECT j.detail->>'batches' AS batches, j.detail->>'archived' AS archived, j.detail->>'completed' AS completed
  FROM rgpd.journal AS j WHERE j.action = 'sweep' AND j.detail ? 'run' ORDER BY j.id DESC LIMIT 1;

-- a run stopped by statement_timeout: a trigger of the owner's sleeps once,
-- when the batch that archives client 1800 runs
\c - regress_owner
CREATE TABLE bat.sleep_once (id bigint);
INSERT INTO bat.sleep_once VALUES (1800);
CREATE FUNCTION bat.slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM bat.sleep_once AS s WHERE s.id = NEW.id) THEN
        PERFORM pg_sleep(30);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER slow BEFORE UPDATE ON bat.stop_clients FOR EACH ROW EXECUTE FUNCTION bat.slow();
\c - regress_manager
SET client_min_messages = warning;
SET statement_timeout = '2s';
CALL rgpd.sweep_batches('2020-06-15', 400, for_subject => 'bat.stop_clients');
RESET statement_timeout;
-- the batches before it committed, that one rolled back, the run journaled as stopped
SELECT count(*) AS archived_before_stop FROM bat.stop_clients WHERE rgpd_status = 'archived';
SELECT j.detail->>'batches' AS batches, j.detail->>'archived' AS archived, j.detail->>'completed' AS completed,
       j.detail->'stopped'->>'sqlstate' AS sqlstate, j.detail->'stopped'->>'condition' AS condition
  FROM rgpd.journal AS j WHERE j.action = 'sweep' AND j.detail ? 'run' ORDER BY j.id DESC LIMIT 1;
SELECT state, stopped_by FROM rgpd.sweep_runs WHERE state = 'stopped';
-- the next run resumes, and ends where one sweep ends
\c - regress_owner
DELETE FROM bat.sleep_once;
\c - regress_manager
SET client_min_messages = warning;
CALL rgpd.sweep_batches('2020-06-15', 400, for_subject => 'bat.stop_clients');
SELECT (SELECT array_agg(row(id, rgpd_status, name) ORDER BY id) FROM bat.one_clients)
     = (SELECT array_agg(row(id, rgpd_status, name) ORDER BY id) FROM bat.stop_clients) AS resumed_same_as_one_sweep;

-- a table whose batch fails (a trigger of the owner's raises once) is
-- skipped and journaled; the next run takes it
\c - regress_owner
CREATE TABLE bat.fail_once (id bigint);
INSERT INTO bat.fail_once VALUES (1800);
CREATE FUNCTION bat.fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM bat.fail_once AS s WHERE s.id = NEW.id) THEN
        RAISE EXCEPTION 'client % is being migrated', NEW.id USING ERRCODE = 'object_in_use';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER fail BEFORE UPDATE ON bat.fail_clients FOR EACH ROW EXECUTE FUNCTION bat.fail();
\c - regress_manager
SET client_min_messages = warning;
CALL rgpd.sweep_batches('2020-06-15', 400, for_subject => 'bat.fail_clients');
SELECT count(*) AS archived_before_failure FROM bat.fail_clients WHERE rgpd_status = 'archived';
-- journaled with its SQLSTATE only: the trigger's text, which a table's own
-- code may fill with personal values, never reaches the journal
SELECT action, detail FROM rgpd.journal WHERE action = 'sweep_skipped' AND subject = 'bat.fail_clients'::regclass;
SELECT j.detail->>'tables_skipped' AS tables_skipped, j.detail->>'completed' AS completed
  FROM rgpd.journal AS j WHERE j.action = 'sweep' AND j.detail ? 'run' ORDER BY j.id DESC LIMIT 1;
\c - regress_owner
DELETE FROM bat.fail_once;
\c - regress_manager
SET client_min_messages = warning;
CALL rgpd.sweep_batches('2020-06-15', 400, for_subject => 'bat.fail_clients');
SELECT (SELECT array_agg(row(id, rgpd_status, name) ORDER BY id) FROM bat.one_clients)
     = (SELECT array_agg(row(id, rgpd_status, name) ORDER BY id) FROM bat.fail_clients) AS resumed_same_as_one_sweep;

-- refusals
SELECT try($$CALL rgpd.sweep_batches('2020-06-15', 0)$$);
SELECT try($$CALL rgpd.sweep_batches(NULL)$$);
BEGIN;
CALL rgpd.sweep_batches('2020-06-15', 10);
ROLLBACK;
\c - regress_agent
SELECT try($$CALL rgpd.sweep_batches('2020-06-15')$$);
SELECT try($$CALL rgpd.recompute_batches('bat.one_clients')$$);

-- registration of a large table: compute nothing under the ACCESS
-- EXCLUSIVE lock, then one batched backfill writing each row at most once
\c - regress_owner
SET client_min_messages = warning;
CREATE FUNCTION bat.plain(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE bat.%I (id integer PRIMARY KEY, name text, email text, mobile text,'
                   ' created date NOT NULL) WITH (fillfactor = 90)', s || '_clients');
    EXECUTE format('CREATE TABLE bat.%I (id bigserial PRIMARY KEY, client_id integer REFERENCES bat.%I, created date)',
                   s || '_offers', s || '_clients');
    EXECUTE format('INSERT INTO bat.%I SELECT g, ''name '' || g, ''c'' || g || ''@example.fr'','
                   '       ''06'' || lpad(g::text, 8, ''0''), date ''2012-01-01'' + (g * 7) %% 3650'
                   '  FROM generate_series(1, 4000) AS g', s || '_clients');
    EXECUTE format('INSERT INTO bat.%I (client_id, created)'
                   ' SELECT 1 + (g * 13) %% 4000, date ''2012-01-01'' + (g * 11) %% 3000'
                   '  FROM generate_series(1, 8000) AS g', s || '_offers');
END
$$;
SELECT bat.plain('eager'), bat.plain('lazy');
VACUUM ANALYZE bat.eager_clients, bat.lazy_clients;
CREATE TABLE bat.sizes AS
SELECT c.relname, pg_relation_size(c.oid) AS before FROM pg_class AS c
 WHERE c.oid IN ('bat.eager_clients'::regclass, 'bat.lazy_clients'::regclass);
-- 1.0's way: the subject's registration computes every row, the link's
-- computes again those its dates change
SELECT rgpd.register_subject('bat.eager_clients', created_column => 'created', time_zone => 'UTC');
SELECT rgpd.register_link('bat.eager_offers', 'bat.eager_clients', '{client_id}', '{created}');
-- deferred: the registrations compute nothing; the rows are never due meanwhile
BEGIN;
SELECT rgpd.defer_backfill();
SELECT rgpd.register_subject('bat.lazy_clients', created_column => 'created', time_zone => 'UTC');
SELECT rgpd.register_link('bat.lazy_offers', 'bat.lazy_clients', '{client_id}', '{created}');
COMMIT;
SELECT count(*) AS rows, count(last_contact) AS computed FROM bat.lazy_clients;
SELECT count(*) AS due_before_backfill FROM rgpd.pending('archive', '2030-01-01')
 WHERE subject = 'bat.lazy_clients'::regclass;
SET client_min_messages = notice;
CALL rgpd.recompute_batches('bat.lazy_clients', 1500);
SET client_min_messages = warning;
SELECT pg_stat_force_next_flush();
-- one write of a row is a new version of it, 8 bytes wider (the two
-- dates): about twice the table; 1.0's way wrote most rows twice
SELECT c.relname,
       pg_relation_size(c.oid)::numeric / s.before <= 2.2 AS about_doubled_at_most,
       pg_relation_size(c.oid)::numeric / s.before >= 2.5 AS more_than_doubled,
       t.n_tup_upd::numeric / 4000 <= 1 AS at_most_one_write_per_row
  FROM pg_class AS c JOIN bat.sizes AS s USING (relname)
  JOIN pg_stat_user_tables AS t ON t.relid = c.oid
 ORDER BY 1;
-- the same last_contact as the eager registration, verify() is empty
SELECT (SELECT array_agg(row(id, last_contact) ORDER BY id) FROM bat.eager_clients)
     = (SELECT array_agg(row(id, last_contact) ORDER BY id) FROM bat.lazy_clients) AS same_values;
SELECT count(*) AS unhealthy FROM rgpd.verify('bat.lazy_clients');
-- outside the transaction that deferred it, rgpd.recompute() computes again
SELECT rgpd.recompute('bat.lazy_clients') AS changed;
SELECT try($$CALL rgpd.recompute_batches('bat.lazy_clients', -1)$$);

\c - postgres
SET client_min_messages = warning;
ALTER ROLE regress_manager RESET rgpd.auto_anonymise;
DROP SCHEMA bat CASCADE;
