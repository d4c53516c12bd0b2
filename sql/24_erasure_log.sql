-- 24_erasure_log: erasures survive a restore.  A database is dumped
-- (pg_dump -Fc); then 30 people are anonymised or forgotten; the manager
-- takes rgpd.erasure_log(); the old dump is restored into a NEW database
-- (pg_restore), where the 30 are back with their names and the restored
-- journal knows nothing of their erasure.  rgpd.replay_erasures(log) erases
-- exactly them: the restored tables then equal the original ones row for
-- row; a second replay erases 0 and journals nothing; rgpd.verify() is
-- empty.  The log holds identifiers and methods, no personal value; a
-- malformed log is refused whole (22023 / 22P02) and changes nothing;
-- tables and rows the copy lacks are reported and skipped; only managers
-- read or replay a log.  Runs in databases of its own; pg_dump and
-- pg_restore run from psql (\!) against this cluster (PGHOST, PGPORT).
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
CREATE DATABASE rgpd_erasure;
\c rgpd_erasure
SET client_min_messages = warning;
CREATE EXTENSION pericles_rgpd;
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
CREATE SCHEMA crm AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA crm TO regress_manager, regress_agent;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = crm, public;
CREATE TABLE clients (
    id         bigint PRIMARY KEY,
    name       text NOT NULL,
    first_name text,
    email      text UNIQUE,
    phone      text,
    created    date NOT NULL
);
CREATE TABLE offers (
    id          serial PRIMARY KEY,
    client1_id  bigint REFERENCES clients, client1_name text,
    client2_id  bigint REFERENCES clients, client2_name text,
    created     date NOT NULL
);
CREATE TABLE attachments (id serial PRIMARY KEY, client_id bigint REFERENCES clients, filename text);
SELECT rgpd.register_subject('crm.clients', created_column => 'created',
                             personal_columns => '{name,first_name,email,phone}', time_zone => 'UTC');
SELECT rgpd.register_link('crm.offers', 'crm.clients', '{client1_id,client2_id}', '{created}',
                          '{"client1_id": ["client1_name"], "client2_id": ["client2_name"]}');
SELECT rgpd.register_link('crm.attachments', 'crm.clients', '{client_id}', '{}');
SELECT rgpd.set_erasure('crm.attachments', 'client_id', 'delete_row');
INSERT INTO clients
SELECT g, 'Nom' || g, 'Prénom' || g, 'p' || g || '@example.fr', '06 00 00 00 ' || g, '2018-01-01'
  FROM generate_series(1, 40) AS g;
INSERT INTO offers (client1_id, client1_name, client2_id, client2_name, created)
SELECT g, 'Nom' || g, g % 40 + 1, 'Nom' || (g % 40 + 1), '2019-01-01'
  FROM generate_series(1, 40) AS g;
INSERT INTO attachments (client_id, filename) SELECT g, 'id-card-' || g || '.pdf' FROM generate_series(1, 40) AS g;
-- a manager acts on the tables it may read
GRANT SELECT ON clients, offers, attachments TO regress_manager;
\c - postgres
-- a fingerprint of the application's tables, whole rows, for comparing
-- the original database with the restored copy
CREATE FUNCTION public.fingerprint(OUT clients text, OUT offers text, OUT attachments text)
LANGUAGE sql AS $$
    SELECT (SELECT md5(string_agg(c::text, '|' ORDER BY c.id)) FROM crm.clients AS c WHERE c.id <= 40),
           (SELECT md5(string_agg(o::text, '|' ORDER BY o.id)) FROM crm.offers AS o),
           (SELECT md5(string_agg(a::text, '|' ORDER BY a.id)) FROM crm.attachments AS a)
$$;

-- before the dump: one person forgotten (already erased in the backup)
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.forget('crm.clients', 40, 'letter from Nom40') AS forgotten_before_dump;

-- the backup
\c - postgres
SET client_min_messages = warning;
SELECT clock_timestamp() AS dumped_at \gset
\! pg_dump -Fc -d rgpd_erasure -f "$PGHOST/rgpd_erasure.dump" && echo dumped

-- after the dump: 20 anonymised in one batch, 10 forgotten one by one, and
-- one person who came (after the backup) and went
\c - regress_owner
INSERT INTO crm.clients VALUES (41, 'Nom41', 'Prénom41', 'p41@example.fr', NULL, '2024-01-01');
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.anonymise('crm.clients', ARRAY(SELECT generate_series(1, 20))::bigint[]) AS anonymised;
SELECT sum(rgpd.forget('crm.clients', g, 'request #' || g || ' by e-mail')) AS forgotten
  FROM generate_series(21, 30) AS g;
SELECT rgpd.forget('crm.clients', 41, 'letter from Nom41') AS forgotten_after_dump;

-- the erasure log, taken by the manager and shipped with the off-site logs
SELECT rgpd.erasure_log() AS log \gset
SELECT :'log'::jsonb ->> 'format' AS format,
       :'log'::jsonb ->> 'database' AS database,
       :'log'::jsonb ->> 'since' AS since,
       jsonb_array_length(:'log'::jsonb -> 'erasures') AS erasures;
SELECT jsonb_pretty(:'log'::jsonb -> 'subjects') AS subjects;
SELECT e ->> 'action' AS action, e ->> 'reason' AS reason, count(*) AS erasures,
       min((e ->> 'id')::bigint) AS min_id, max((e ->> 'id')::bigint) AS max_id,
       bool_and(e ->> 'subject' = 'crm.clients') AS named,
       bool_and((e ->> 'at')::timestamptz <= now()) AS timed,
       string_agg(DISTINCT (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(e) AS k), ' ') AS keys
  FROM jsonb_array_elements(:'log'::jsonb -> 'erasures') AS e
 GROUP BY 1, 2 ORDER BY 1, 2;
-- identifiers and methods only: no name, address, phone, nor the reasons
-- people gave when they asked to be forgotten
SELECT :'log' ~ '(Nom|Prénom|example\.fr|06 00|letter|request)' AS holds_personal_data;
-- since a time: what happened after the backup
SELECT jsonb_array_length(rgpd.erasure_log(:'dumped_at') -> 'erasures') AS erasures_since_dump;
-- here, replaying the journal erases nobody again (1.0 erased all 31 again)
SELECT rgpd.replay_erasures(:'dumped_at'::timestamptz) AS replayed_in_place;
SELECT count(*) AS erasures_journaled FROM rgpd.journal WHERE action IN ('anonymise', 'forget', 'replay');
\c - postgres
SELECT fingerprint::text AS original FROM public.fingerprint() \gset

-- only managers read the log
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.erasure_log()$$);

-- the old dump, restored into a new database
\c - postgres
SET client_min_messages = warning;
CREATE DATABASE rgpd_erasure_restored;
\! pg_restore --exit-on-error -d rgpd_erasure_restored "$PGHOST/rgpd_erasure.dump" && echo restored
\! rm -f "$PGHOST/rgpd_erasure.dump"
-- the copy requires exports before any anonymisation: a replay needs none
ALTER DATABASE rgpd_erasure_restored SET rgpd.require_export = on;
\c rgpd_erasure_restored
SET client_min_messages = warning;
-- the 30 are back, with their names on their record and on linked rows
SELECT count(*) FILTER (WHERE c.name = 'Nom' || c.id AND c.rgpd_status = 'active') AS back_with_names,
       count(*) FILTER (WHERE c.rgpd_status = 'anonymised') AS anonymised,
       count(*) FILTER (WHERE c.id = 41) AS came_after_dump
  FROM crm.clients AS c WHERE c.id BETWEEN 1 AND 30 OR c.id >= 40;
SELECT count(*) AS linked_names_back FROM crm.offers AS o
 WHERE (o.client1_id <= 30 AND o.client1_name = 'Nom' || o.client1_id)
    OR (o.client2_id <= 30 AND o.client2_name = 'Nom' || o.client2_id);
SELECT count(*) AS attachments_back FROM crm.attachments WHERE client_id <= 30;
SELECT count(*) AS journal_lines FROM rgpd.journal \gset
SELECT :journal_lines AS journal_lines_restored;

\c - regress_manager
SET client_min_messages = warning;
-- the restored journal does not know of the 30: replaying it erases
-- nobody (and not the person forgotten before the dump, again)
SELECT rgpd.replay_erasures('-infinity') AS replayed_from_restored_journal;
-- the log does: exactly the 30, each journaled once; the row that came
-- after the dump is reported and skipped
SET client_min_messages = notice;
SELECT rgpd.replay_erasures(:'log') AS replayed;
SET client_min_messages = warning;
SELECT action, detail ->> 'reason' AS reason, count(*) AS lines, min(subject_id) AS min_id, max(subject_id) AS max_id,
       count(DISTINCT subject_id) AS subjects, bool_and(actor = 'regress_manager') AS by_manager
  FROM rgpd.journal AS j WHERE j.action = 'replay'
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) - :journal_lines AS journal_lines_added FROM rgpd.journal;
SELECT count(*) AS journal_lines FROM rgpd.journal \gset
-- idempotent: the same log again erases 0 and journals nothing, nor does
-- the journal, which now holds the replays
SELECT rgpd.replay_erasures(:'log'::jsonb) AS replayed_again;
SELECT rgpd.replay_erasures('-infinity'::timestamptz) AS replayed_from_journal;
SELECT count(*) - :journal_lines AS journal_lines_added FROM rgpd.journal;
-- the copy's own erasure log lists the replays as what they replayed
SELECT e ->> 'action' AS action, e ->> 'reason' AS reason, count(*) AS erasures,
       min((e ->> 'id')::bigint) AS min_id, max((e ->> 'id')::bigint) AS max_id
  FROM jsonb_array_elements(rgpd.erasure_log() -> 'erasures') AS e
 GROUP BY 1, 2 ORDER BY 1, 2;

\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS stale_rows FROM rgpd.verify('crm.clients');
-- the names are gone from the records and the linked rows; the others stay
SELECT count(*) FILTER (WHERE c.id <= 30 AND c.rgpd_status = 'anonymised'
                          AND c.name = 'XXXXX' AND c.first_name = 'XXXXX'
                          AND c.email = 'XXXXX_' || c.id AND c.phone = 'XXXXX') AS erased,
       count(*) FILTER (WHERE c.id BETWEEN 31 AND 39 AND c.name = 'Nom' || c.id
                          AND c.rgpd_status = 'active') AS untouched
  FROM crm.clients AS c;
SELECT count(*) AS linked_names_left FROM crm.offers AS o
 WHERE (o.client1_id <= 30 AND o.client1_name <> 'XXXXX') OR (o.client2_id <= 30 AND o.client2_name <> 'XXXXX');
SELECT count(*) AS attachments_left FROM crm.attachments WHERE client_id <= 30;
SELECT count(*) AS residues FROM crm.clients AS c, crm.offers AS o
 WHERE c.id <= 30 AND (c::text ~ ('Nom' || c.id || '\M') OR o::text ~ ('Nom' || c.id || '\M'));
-- and the copy now holds exactly what the original holds
SELECT fingerprint::text = :'original' AS same_as_original FROM public.fingerprint();

-- a malformed log is refused whole, naming what is wrong, and changes nothing
\c - regress_manager
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.replay_erasures('[]'::jsonb)$$);
SELECT try($$SELECT rgpd.replay_erasures('{"erasures": []}'::jsonb)$$);
SELECT try($$SELECT rgpd.replay_erasures('{"format": "pericles_rgpd.erasure_log/2", "erasures": []}'::jsonb)$$);
SELECT try($$SELECT rgpd.replay_erasures('{"format": "pericles_rgpd.erasure_log/1"}'::jsonb)$$);
SELECT try($$SELECT rgpd.replay_erasures('{"format": "pericles_rgpd.erasure_log/1", "erasures": {}}'::jsonb)$$);
\set good '{"subject": "crm.clients", "id": 35, "at": "2024-01-01T00:00:00+00:00", "action": "forget"}'
SELECT try(format($$SELECT rgpd.replay_erasures('{"format": "pericles_rgpd.erasure_log/1", "erasures": [%s, %s]}'::jsonb)$$,
                  :'good', bad))
  FROM unnest(ARRAY[
    '42',
    '{"id": 35, "at": "2024-01-01T00:00:00+00:00", "action": "forget"}',
    '{"subject": "clients", "id": 35, "at": "2024-01-01T00:00:00+00:00", "action": "forget"}',
    '{"subject": "crm.", "id": 35, "at": "2024-01-01T00:00:00+00:00", "action": "forget"}',
    '{"subject": "crm.clients", "id": "35", "at": "2024-01-01T00:00:00+00:00", "action": "forget"}',
    '{"subject": "crm.clients", "id": 35.5, "at": "2024-01-01T00:00:00+00:00", "action": "forget"}',
    '{"subject": "crm.clients", "id": 99999999999999999999, "at": "2024-01-01T00:00:00+00:00", "action": "forget"}',
    '{"subject": "crm.clients", "id": 35, "at": "2024-01-01T00:00:00+00:00", "action": "delete"}',
    '{"subject": "crm.clients", "id": 35, "action": "forget"}',
    '{"subject": "crm.clients", "id": 35, "at": "soon", "action": "forget"}'
  ]) WITH ORDINALITY AS b(bad, n) ORDER BY n;
SELECT count(*) - :journal_lines AS journal_lines_added FROM rgpd.journal;
-- the good entry alone, by contrast, is applied
SELECT rgpd.replay_erasures(format('{"format": "pericles_rgpd.erasure_log/1", "erasures": [%s]}', :'good')::jsonb)
       AS replayed_good_entry;
SELECT count(*) - :journal_lines AS journal_lines_added FROM rgpd.journal;
SELECT count(*) AS journal_lines FROM rgpd.journal \gset

-- a table the copy lacks, or does not register, is reported and skipped;
-- a log that records other erasure methods than the copy's says so
\c - postgres
SET client_min_messages = warning;
CREATE TABLE crm.prospects (id bigint PRIMARY KEY);
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.replay_erasures('{"format": "pericles_rgpd.erasure_log/1", "erasures": [
    {"subject": "crm.gone", "id": 1, "at": "2024-01-01T00:00:00+00:00", "action": "forget"},
    {"subject": "crm.prospects", "id": 1, "at": "2024-01-01T00:00:00+00:00", "action": "anonymise"},
    {"subject": "crm.prospects", "id": 2, "at": "2024-01-01T00:00:00+00:00", "action": "anonymise"}]}'::jsonb)
    AS replayed_elsewhere;
\set VERBOSITY default
SELECT rgpd.replay_erasures(jsonb_set(jsonb_set(:'log'::jsonb, '{erasures}', '[]'),
                                      '{subjects,crm.clients,methods,crm.clients,phone}', '"pseudonym"'))
    AS replayed_other_methods;
\set VERBOSITY terse
SELECT count(*) - :journal_lines AS journal_lines_added FROM rgpd.journal;

-- only managers replay a log, and the refusal changes nothing
\c - regress_agent
SET client_min_messages = warning;
SELECT try(format('SELECT rgpd.replay_erasures(%L::jsonb)', :'log'));

\c :regress_db postgres
SET client_min_messages = warning;
DROP DATABASE rgpd_erasure WITH (FORCE);
DROP DATABASE rgpd_erasure_restored WITH (FORCE);
