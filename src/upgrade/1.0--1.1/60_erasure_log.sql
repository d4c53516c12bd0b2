/* ------------------------------------------------------------------ *
 * 60_erasure_log.sql — 1.1: erasures that survive a restore.
 *
 * 1.0 replayed erasures from its own journal (rgpd.replay_erasures(since)),
 * but a restored database has the journal of its backup: the erasures made
 * after the backup are in neither.  From 1.1:
 *
 *  * rgpd.erasure_log(since) returns every anonymise and forget since a
 *    time as one JSON document, "pericles_rgpd.erasure_log/1" — subject
 *    tables by qualified name (OIDs change across a restore), keys, times,
 *    actions and erasure methods, no personal value — that the DBA ships
 *    with the off-site logs;
 *  * rgpd.replay_erasures(log jsonb) applies it in a restored copy
 *    (src/erasure_log.c): it anonymises each listed subject that is not
 *    anonymised now, reports and skips tables and rows that do not exist,
 *    and refuses a malformed log before changing anything;
 *  * both replays are idempotent: a subject already anonymised is neither
 *    erased nor journaled again;
 *  * rgpd.replay_erasures(text) keeps 1.0 calls with an untyped literal
 *    (replay_erasures('2026-01-01')) working now that the name has two
 *    overloads.
 *
 * The document is described in README.md ("Backups and restores").
 * ------------------------------------------------------------------ */

-- The schema-qualified, quoted name of a table (NULL if it is gone), as
-- logs name tables: it survives a dump and restore, an OID does not.
CREATE FUNCTION rgpd._qualified_name(tbl regclass) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = tbl
$$;
REVOKE ALL ON FUNCTION rgpd._qualified_name(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._qualified_name(regclass) TO rgpd_manager;

-- The erasure methods anonymisation applies for a subject table:
-- {"table": {"column": "method", …}, …} over the subject's personal
-- columns, its links' personal columns, and the subject columns of links
-- whose rows are deleted ('delete_row').  '{}' for an unregistered table.
CREATE FUNCTION rgpd._erasure_methods(p_subject regclass) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_object_agg(t.tbl, t.cols), '{}'::jsonb)
      FROM (SELECT rgpd._qualified_name(x.tbl) AS tbl, jsonb_object_agg(x.col, x.method) AS cols
              FROM (SELECT s.subject AS tbl, c AS col, rgpd.erasure_method(s.subject, c) AS method
                      FROM rgpd.subjects AS s, unnest(s.personal_columns) AS c
                     WHERE s.subject = p_subject
                    UNION ALL
                    SELECT l.link, CAST(p AS name), rgpd.erasure_method(l.link, CAST(p AS name))
                      FROM rgpd.links AS l, jsonb_each(l.personal_columns) AS e(k, v),
                           jsonb_array_elements_text(e.v) AS p
                     WHERE l.subject = p_subject
                    UNION ALL
                    SELECT l.link, c, 'delete_row'
                      FROM rgpd.links AS l, unnest(l.subject_columns) AS c
                     WHERE l.subject = p_subject AND rgpd.erasure_method(l.link, c) = 'delete_row') AS x
             GROUP BY x.tbl) AS t
     WHERE t.tbl IS NOT NULL
$$;
REVOKE ALL ON FUNCTION rgpd._erasure_methods(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._erasure_methods(regclass) TO rgpd_manager;

-- rgpd.erasure_log(since): the erasures journaled since a time, for
-- managers.  Journal lines: 'anonymise' (reason 'manual' or 'sweep'),
-- 'forget' (its reason is a person's words and may name them: left out),
-- 'replay' (its reason is the action it replayed; 1.0 wrote 'replay').
CREATE FUNCTION rgpd.erasure_log(since timestamptz DEFAULT '-infinity') RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    entries jsonb;
    subjects jsonb;
    gone bigint;
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION 'since must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Use ''-infinity'' for every erasure journaled.';
    END IF;
    IF NOT rgpd.is_manager() THEN
        RAISE EXCEPTION 'permission denied to read the erasure log'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only members of role "rgpd_manager" may read the erasure log.',
                  HINT = format('A superuser can run: GRANT rgpd_manager TO %I;', current_user);
    END IF;

    WITH lines AS (
        SELECT j.id, j.at, j.subject_id, rgpd._qualified_name(j.subject) AS tbl,
               CASE WHEN j.action = 'replay' AND j.detail ->> 'reason' = 'forget' THEN 'forget'
                    WHEN j.action = 'replay' THEN 'anonymise'
                    ELSE j.action END AS action,
               CASE WHEN j.action = 'replay' THEN 'replay'
                    WHEN j.action = 'anonymise' THEN j.detail ->> 'reason' END AS reason
          FROM rgpd.journal AS j
         WHERE j.action IN ('anonymise', 'forget', 'replay')
           AND j.at >= since AND j.subject_id IS NOT NULL)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'subject', l.tbl, 'id', l.subject_id, 'at', l.at,
                        'action', l.action, 'reason', l.reason)) ORDER BY l.id)
                    FILTER (WHERE l.tbl IS NOT NULL), '[]'::jsonb),
           count(*) FILTER (WHERE l.tbl IS NULL),
           (SELECT coalesce(jsonb_object_agg(t.tbl, jsonb_build_object(
                        'key_column', s.key_column,
                        'methods', rgpd._erasure_methods(t.subject))), '{}'::jsonb)
              FROM (SELECT DISTINCT j.subject, rgpd._qualified_name(j.subject) AS tbl
                      FROM rgpd.journal AS j
                     WHERE j.action IN ('anonymise', 'forget', 'replay')
                       AND j.at >= since AND j.subject_id IS NOT NULL) AS t
              LEFT JOIN rgpd.subjects AS s ON s.subject = t.subject
             WHERE t.tbl IS NOT NULL)
      INTO entries, gone, subjects
      FROM lines AS l;

    IF gone > 0 THEN
        RAISE WARNING '% erasure(s) of tables that no longer exist are not in the erasure log', gone
            USING DETAIL = 'The journal names those tables by an OID that no longer names a table.';
    END IF;
    RETURN jsonb_build_object(
        'format', 'pericles_rgpd.erasure_log/1',
        'database', current_database(),
        'generated_at', clock_timestamp(),
        'since', since,
        'subjects', subjects,
        'erasures', entries);
END
$$;
REVOKE ALL ON FUNCTION rgpd.erasure_log(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.erasure_log(timestamptz) TO rgpd_manager;
COMMENT ON FUNCTION rgpd.erasure_log(timestamptz) IS
    'Every anonymise and forget since a time, identifiers and methods only: the document kept off-site, replayed after a restore (managers)';

-- The entries of an erasure log, validated as a whole before anything is
-- replayed: a malformed log is refused (22023 for its structure, 22P02
-- for a value that is not what it should be), naming what is wrong.
-- Tables are resolved by name (NULL: no such table).  Differences between
-- the erasure methods the log records and those configured here are
-- reported: the replay applies the configuration of this database.
CREATE FUNCTION rgpd._erasure_log_entries(log jsonb)
    RETURNS TABLE (subject_name text, subject regclass, id bigint, forget boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    fmt constant text := 'pericles_rgpd.erasure_log/1';
    e jsonb;
    n bigint;
    parts text[];
    key bigint;
    sub record;
    differ text;
BEGIN
    IF jsonb_typeof(log) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'an erasure log is a JSON object, not %', coalesce(jsonb_typeof(log), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the document rgpd.erasure_log() returned.';
    END IF;
    IF jsonb_typeof(log -> 'format') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'the erasure log has no "format"'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('An erasure log starts with {"format": "%s", …}.', fmt);
    END IF;
    IF log ->> 'format' <> fmt THEN
        RAISE EXCEPTION 'unsupported erasure log format "%"', left(log ->> 'format', 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('This version of pericles_rgpd reads "%s".', fmt);
    END IF;
    IF jsonb_typeof(log -> 'erasures') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION '"erasures" of the erasure log must be an array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF log ? 'subjects' AND jsonb_typeof(log -> 'subjects') <> 'object' THEN
        RAISE EXCEPTION '"subjects" of the erasure log must be an object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR e, n IN SELECT x.value, x.ordinality FROM jsonb_array_elements(log -> 'erasures') WITH ORDINALITY AS x LOOP
        IF jsonb_typeof(e) <> 'object' THEN
            RAISE EXCEPTION 'erasure % of the erasure log is not a JSON object', n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(e -> 'subject') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'erasure % of the erasure log has no "subject" table name', n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            parts := parse_ident(e ->> 'subject');
        EXCEPTION WHEN invalid_parameter_value THEN
            RAISE EXCEPTION 'erasure % of the erasure log: "subject" % is not a table name', n, left(CAST(e -> 'subject' AS text), 200)
                USING ERRCODE = 'invalid_text_representation';
        END;
        IF cardinality(parts) <> 2 THEN
            RAISE EXCEPTION 'erasure % of the erasure log: "subject" % is not a schema-qualified table name', n, left(CAST(e -> 'subject' AS text), 200)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Tables are named schema.table, as rgpd.erasure_log() names them.';
        END IF;
        IF jsonb_typeof(e -> 'id') IS DISTINCT FROM 'number' OR (e ->> 'id') !~ '^-?[0-9]+$' THEN
            RAISE EXCEPTION 'erasure % of the erasure log: "id" % is not an integer key', n, coalesce(left(CAST(e -> 'id' AS text), 100), 'missing')
                USING ERRCODE = 'invalid_text_representation';
        END IF;
        BEGIN
            key := CAST(e ->> 'id' AS bigint);
        EXCEPTION WHEN numeric_value_out_of_range THEN
            RAISE EXCEPTION 'erasure % of the erasure log: "id" % is out of range for a bigint key', n, left(e ->> 'id', 100)
                USING ERRCODE = 'invalid_text_representation';
        END;
        IF jsonb_typeof(e -> 'action') IS DISTINCT FROM 'string' OR e ->> 'action' NOT IN ('anonymise', 'forget') THEN
            RAISE EXCEPTION 'erasure % of the erasure log: unknown action %', n, coalesce(left(CAST(e -> 'action' AS text), 100), 'missing')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The actions of an erasure log are "anonymise" and "forget".';
        END IF;
        IF jsonb_typeof(e -> 'at') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'erasure % of the erasure log has no "at" time', n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            PERFORM CAST(e ->> 'at' AS timestamptz);
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'erasure % of the erasure log: "at" % is not a time', n, left(CAST(e -> 'at' AS text), 100)
                USING ERRCODE = 'invalid_text_representation';
        END;
        subject_name := format('%I.%I', parts[1], parts[2]);
        subject := to_regclass(subject_name);
        id := key;
        forget := e ->> 'action' = 'forget';
        RETURN NEXT;
    END LOOP;

    -- methods recorded by the log that this database does not apply
    FOR sub IN SELECT x.key AS name, x.value AS logged, to_regclass(x.key) AS tbl
                 FROM jsonb_each(coalesce(log -> 'subjects', '{}')) AS x
                WHERE jsonb_typeof(x.value -> 'methods') = 'object' LOOP
        CONTINUE WHEN sub.tbl IS NULL OR NOT EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject = sub.tbl);
        SELECT string_agg(format('%s.%I: %s in the log, %s here', m.tbl, c.col, c.method,
                                 coalesce(rgpd._erasure_methods(sub.tbl) -> m.tbl ->> c.col, 'not erased')),
                          '; ' ORDER BY m.tbl, c.col)
          INTO differ
          FROM jsonb_each(sub.logged -> 'methods') AS m(tbl, cols),
               jsonb_each_text(CASE jsonb_typeof(m.cols) WHEN 'object' THEN m.cols ELSE '{}' END) AS c(col, method)
         WHERE (rgpd._erasure_methods(sub.tbl) -> m.tbl ->> c.col) IS DISTINCT FROM c.method;
        IF differ IS NOT NULL THEN
            RAISE WARNING 'erasure methods for subject table % differ from those of the erasure log', sub.name
                USING DETAIL = left(differ, 2000),
                      HINT = 'The replay applies the methods configured in this database; check that its registration is the current one.';
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION rgpd._erasure_log_entries(jsonb) FROM PUBLIC;

-- rgpd.replay_erasures(log): managers, in a restored copy.
CREATE FUNCTION rgpd.replay_erasures(log jsonb) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_replay_erasure_log' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.replay_erasures(jsonb) IS
    'Applies an erasure log (rgpd.erasure_log()) after a restore: anonymises the listed subjects not anonymised now; returns how many (managers)';

COMMENT ON FUNCTION rgpd.replay_erasures(timestamptz) IS
    'Re-applies the anonymisations and forgets journaled since a time to subjects not anonymised now; returns how many (managers)';

-- An untyped literal fits both overloads: '{…' is a log, anything else a time.
CREATE FUNCTION rgpd.replay_erasures(since_or_log text) RETURNS bigint
LANGUAGE plpgsql STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ltrim(since_or_log) LIKE '{%' THEN
        RETURN rgpd.replay_erasures(CAST(since_or_log AS jsonb));
    END IF;
    RETURN rgpd.replay_erasures(CAST(since_or_log AS timestamptz));
END
$$;
COMMENT ON FUNCTION rgpd.replay_erasures(text) IS
    'rgpd.replay_erasures() called with an untyped literal: an erasure log if it is a JSON object, else a time';

REVOKE ALL ON FUNCTION rgpd.replay_erasures(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION rgpd.replay_erasures(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.replay_erasures(jsonb) TO rgpd_manager;
GRANT EXECUTE ON FUNCTION rgpd.replay_erasures(text) TO rgpd_manager;
