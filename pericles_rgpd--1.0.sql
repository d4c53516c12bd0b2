/* pericles_rgpd--1.0.sql — GDPR (RGPD) retention rules inside PostgreSQL.
 *
 * Layout of this script:
 *   1. roles and types
 *   2. configuration tables (dumped by pg_dump) and state tables
 *   3. C functions
 *   4. SQL generators: every statement the C code runs is written here,
 *      by rgpd._sql(), so that it can be read and tested from SQL
 *   5. registration
 *   6. policies, erasure methods, lists, dashboard, sweep scheduling
 *   7. consent and the right to object
 *   8. privileges
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pericles_rgpd" to load this file. \quit

/* ------------------------------------------------------------------ *
 * 1. Schema, roles and types
 * ------------------------------------------------------------------ */

-- The schema is created here (the control file names pg_catalog, as
-- pg_cron's does) so that it belongs to the extension and goes with it.
CREATE SCHEMA rgpd;
COMMENT ON SCHEMA rgpd IS 'pericles_rgpd: GDPR retention rules';

-- The personal-data manager right.  Roles are cluster-wide: the role is
-- created once and kept when the extension is dropped.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rgpd_manager') THEN
        CREATE ROLE rgpd_manager NOLOGIN;
    END IF;
END
$$;

CREATE TYPE rgpd.status AS ENUM ('active', 'archived', 'anonymised');
COMMENT ON TYPE rgpd.status IS
    'Retention state of a subject row: active, archived (restricted access), anonymised (irreversible)';

/* ------------------------------------------------------------------ *
 * 2. Tables
 * ------------------------------------------------------------------ */

-- A table owns a configuration row when the current user owns the table.
CREATE FUNCTION rgpd._owns(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.pg_has_role(CURRENT_USER, c.relowner, 'USAGE')
      FROM pg_catalog.pg_class AS c
     WHERE c.oid OPERATOR(pg_catalog.=) tbl
$$;

-- Does the current user hold the personal-data manager right?  Used by the
-- row-level security policy of every subject table, for each archived row
-- a query meets: written in C, with the answer cached per backend until a
-- role or a membership changes.
CREATE FUNCTION rgpd.is_manager() RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_is_manager_sql' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rgpd.is_manager() IS
    'True when the current user holds the rgpd_manager right (sees archived rows, may anonymise)';

CREATE TABLE rgpd.subjects (
    subject           regclass PRIMARY KEY,
    key_column        name NOT NULL,
    created_column    name,
    personal_columns  name[] NOT NULL DEFAULT '{}',
    negotiator_column name,
    email_column      name,
    mobile_column     name,
    time_zone         text NOT NULL,
    force_rls         boolean NOT NULL DEFAULT true,
    -- what registration changed, so that unregistration can undo exactly that
    had_rls           boolean NOT NULL DEFAULT false,
    had_force_rls     boolean NOT NULL DEFAULT false,
    added_permissive  boolean NOT NULL DEFAULT false,
    added_indexes     name[] NOT NULL DEFAULT '{}',
    registered_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by     name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE rgpd.subjects IS
    'Subject tables (clients, prospects…): one row per rgpd.register_subject()';

CREATE TABLE rgpd.links (
    link                  regclass NOT NULL,
    subject               regclass NOT NULL,
    subject_columns       name[] NOT NULL CHECK (pg_catalog.cardinality(subject_columns) > 0),
    date_columns          name[] NOT NULL DEFAULT '{}',
    personal_columns      jsonb NOT NULL DEFAULT '{}'
                          CHECK (pg_catalog.jsonb_typeof(personal_columns) = 'object'),
    excludes_when         text,
    archive_with_subject  boolean NOT NULL DEFAULT false,
    added_indexes         name[] NOT NULL DEFAULT '{}',
    added_archived_column boolean NOT NULL DEFAULT false,
    registered_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by         name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (link, subject)
);
COMMENT ON TABLE rgpd.links IS
    'Tables linked to a subject (offers, signatures, requests…): one row per rgpd.register_link()';

CREATE TABLE rgpd.policies (
    subject         regclass NOT NULL,
    name            text NOT NULL,
    archive_after   interval NOT NULL,
    anonymise_after interval NOT NULL,
    applies_when    text,
    position        integer NOT NULL,
    PRIMARY KEY (subject, name),
    CHECK (archive_after > interval '0'),
    CHECK (anonymise_after > archive_after),
    CHECK ((name = 'default') = (applies_when IS NULL))
);
COMMENT ON TABLE rgpd.policies IS
    'Retention periods per subject table: named policies (first matching wins), then default';

CREATE TABLE rgpd.erasures (
    tbl    regclass NOT NULL,
    col    name NOT NULL,
    method text NOT NULL
           CHECK (method IN ('mask', 'null', 'empty', 'pseudonym', 'delete_row')),
    PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE rgpd.erasures IS
    'Erasure method chosen for a personal column (default: see rgpd.erasure_method())';

-- Configuration is readable by everyone and writable, row by row, by the
-- owner of the tables it is about (the registration functions run with the
-- caller's rights).
ALTER TABLE rgpd.subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE rgpd.links ENABLE ROW LEVEL SECURITY;
ALTER TABLE rgpd.policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE rgpd.erasures ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON rgpd.subjects FOR SELECT USING (true);
CREATE POLICY readable ON rgpd.links FOR SELECT USING (true);
CREATE POLICY readable ON rgpd.policies FOR SELECT USING (true);
CREATE POLICY readable ON rgpd.erasures FOR SELECT USING (true);
CREATE POLICY owner_writes ON rgpd.subjects
    USING (rgpd._owns(subject)) WITH CHECK (rgpd._owns(subject));
CREATE POLICY owner_writes ON rgpd.links
    USING (rgpd._owns(link) AND rgpd._owns(subject))
    WITH CHECK (rgpd._owns(link) AND rgpd._owns(subject));
CREATE POLICY owner_writes ON rgpd.policies
    USING (rgpd._owns(subject)) WITH CHECK (rgpd._owns(subject));
CREATE POLICY owner_writes ON rgpd.erasures
    USING (rgpd._owns(tbl)) WITH CHECK (rgpd._owns(tbl));

-- The journal: every action, with identifiers and counts, never personal
-- values.  Append-only.
CREATE TABLE rgpd.journal (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    actor      name NOT NULL DEFAULT CURRENT_USER,
    action     text NOT NULL,
    subject    regclass,
    subject_id bigint,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX journal_subject_idx ON rgpd.journal (subject, subject_id);
-- append-only, in time order: a BRIN index serves rgpd.replay_erasures()
CREATE INDEX journal_at_idx ON rgpd.journal USING brin (at);
COMMENT ON TABLE rgpd.journal IS
    'Append-only record of every archive, anonymisation, export, opt-in… (identifiers only)';

-- Opt-in replies: the proof of consent, and a contact.
CREATE TABLE rgpd.optin_events (
    id          bigserial PRIMARY KEY,
    subject     regclass NOT NULL,
    subject_id  bigint NOT NULL,
    at          timestamptz NOT NULL,
    origin      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    recorded_by name NOT NULL DEFAULT CURRENT_USER
);
CREATE INDEX optin_events_subject_idx ON rgpd.optin_events (subject, subject_id, at);
COMMENT ON TABLE rgpd.optin_events IS
    'Opt-in replies to re-consent e-mails: proof of consent, counted as contacts';

-- Tasks for the negotiator of a subject who opted in.
CREATE TABLE rgpd.recontact_tasks (
    id         bigserial PRIMARY KEY,
    subject    regclass NOT NULL,
    subject_id bigint NOT NULL,
    negotiator text,
    reason     text NOT NULL,
    optin_id   bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    done_at    timestamptz
);
CREATE INDEX recontact_tasks_open_idx ON rgpd.recontact_tasks (negotiator) WHERE done_at IS NULL;
CREATE INDEX recontact_tasks_subject_idx ON rgpd.recontact_tasks (subject, subject_id);
COMMENT ON TABLE rgpd.recontact_tasks IS
    'Recontact tasks created by opt-ins, for the subject''s negotiator';

-- Stored exports (right of access / portability), purged after
-- rgpd.export_ttl.  They hold personal data: not dumped, managers only.
CREATE TABLE rgpd.exports (
    id         bigserial PRIMARY KEY,
    subject    regclass NOT NULL,
    subject_id bigint NOT NULL,
    at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    actor      name NOT NULL,
    document   jsonb NOT NULL
);
CREATE INDEX exports_subject_idx ON rgpd.exports (subject, subject_id, at);
COMMENT ON TABLE rgpd.exports IS
    'Exports made by rgpd.export(), kept for rgpd.export_ttl (they hold personal data)';

-- Rows that are proof are never changed or removed.
CREATE FUNCTION rgpd._append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'table %.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Its rows are the proof of what was done.';
END
$$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON rgpd.journal
    FOR EACH ROW EXECUTE FUNCTION rgpd._append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON rgpd.journal
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd._append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON rgpd.optin_events
    FOR EACH ROW EXECUTE FUNCTION rgpd._append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON rgpd.optin_events
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd._append_only();

-- Opt-in events are read by the owners of the subject tables (the contact
-- engine runs as them) and by managers; nobody else sees them.
ALTER TABLE rgpd.optin_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_manager ON rgpd.optin_events FOR SELECT
    USING (rgpd.is_manager() OR rgpd._owns(subject));
ALTER TABLE rgpd.recontact_tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON rgpd.recontact_tasks FOR SELECT USING (true);
CREATE POLICY close_task ON rgpd.recontact_tasks FOR UPDATE USING (true) WITH CHECK (true);

SELECT pg_catalog.pg_extension_config_dump('rgpd.subjects', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.links', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.policies', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.erasures', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.journal', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.journal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.optin_events', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.optin_events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.recontact_tasks', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.recontact_tasks_id_seq', '');

/* ------------------------------------------------------------------ *
 * 3. C functions
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd.link_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rgpd_link_trigger' LANGUAGE C;
COMMENT ON FUNCTION rgpd.link_trigger() IS
    'Keeps last_contact exact from a linked table (installed by rgpd.register_link)';

CREATE FUNCTION rgpd.subject_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rgpd_subject_trigger' LANGUAGE C;
COMMENT ON FUNCTION rgpd.subject_trigger() IS
    'Guards the derived columns of a subject table (installed by rgpd.register_subject)';

CREATE FUNCTION rgpd._invalidate(tbl regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_invalidate' LANGUAGE C STRICT;

CREATE FUNCTION rgpd._normalize_predicate(tbl regclass, predicate text) RETURNS text
    AS 'MODULE_PATHNAME', 'rgpd_normalize_predicate' LANGUAGE C STRICT STABLE;

CREATE FUNCTION rgpd.recompute(subject regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_recompute' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.recompute(regclass) IS
    'Repairs last_contact of every row that differs from a full recomputation; returns the count';

CREATE FUNCTION rgpd.archive(subject regclass, id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_archive' LANGUAGE C STRICT;
CREATE FUNCTION rgpd.archive(subject regclass, ids bigint[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_archive' LANGUAGE C STRICT;
CREATE FUNCTION rgpd.unarchive(subject regclass, id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_unarchive' LANGUAGE C STRICT;
CREATE FUNCTION rgpd.unarchive(subject regclass, ids bigint[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_unarchive' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.archive(regclass, bigint) IS
    'Archives a subject row (restricted access); returns 1, or 0 if it already was';
COMMENT ON FUNCTION rgpd.unarchive(regclass, bigint) IS
    'Brings an archived subject row back (managers); returns 1, or 0 if it was not archived';

CREATE FUNCTION rgpd.optin(subject regclass, id bigint, origin text,
                           at timestamptz DEFAULT pg_catalog.now()) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_optin' LANGUAGE C;
COMMENT ON FUNCTION rgpd.optin(regclass, bigint, text, timestamptz) IS
    'Records an opt-in reply: a contact, un-archives, creates a recontact task; returns the event id';

CREATE FUNCTION rgpd.anonymise(subject regclass, id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_anonymise' LANGUAGE C STRICT;
CREATE FUNCTION rgpd.anonymise(subject regclass, ids bigint[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_anonymise' LANGUAGE C STRICT;
CREATE FUNCTION rgpd.forget(subject regclass, id bigint, reason text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_forget' LANGUAGE C;
CREATE FUNCTION rgpd.replay_erasures(since timestamptz) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_replay_erasures' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.anonymise(regclass, bigint) IS
    'Erases the personal fields of a subject and of every linked row (irreversible; managers)';
COMMENT ON FUNCTION rgpd.forget(regclass, bigint, text) IS
    'Right to be forgotten: anonymises one subject now, journaling the reason (managers)';
COMMENT ON FUNCTION rgpd.replay_erasures(timestamptz) IS
    'Re-applies every anonymisation and forget journaled since a time (after a restore)';

CREATE FUNCTION rgpd.export(subject regclass, id bigint) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'rgpd_export' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.export(regclass, bigint) IS
    'Everything held on one subject as one JSON document (right of access and portability)';

CREATE FUNCTION rgpd.sweep(as_of date DEFAULT CURRENT_DATE, dry_run boolean DEFAULT false,
                           for_subject regclass DEFAULT NULL)
    RETURNS TABLE (action text, subject regclass, count bigint)
    AS 'MODULE_PATHNAME', 'rgpd_sweep' LANGUAGE C;
COMMENT ON FUNCTION rgpd.sweep(date, boolean, regclass) IS
    'Archives (and with rgpd.auto_anonymise, anonymises) what is due by the end of the month of as_of; every subject table, or only one';

/* ------------------------------------------------------------------ *
 * 4. SQL generators
 *
 * Every statement run by the C code (and by the lists) is generated here
 * from the configuration.  All of them are fully qualified — operators
 * written OPERATOR(pg_catalog.x), functions schema-qualified — because
 * saved plans are re-parsed under whatever search_path the session has.
 * User predicates (applies_when, excludes_when) are stored normalized and
 * only run under a pinned search_path.
 * ------------------------------------------------------------------ */

-- Last day of the month of d.
CREATE FUNCTION rgpd._month_end(d date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CAST((pg_catalog.date_trunc('month', CAST(d AS pg_catalog.timestamp))
                 OPERATOR(pg_catalog.+) interval '1 month')
                OPERATOR(pg_catalog.-) interval '1 day' AS pg_catalog.date)
$$;

-- The latest last_contact that is due by `due_by`: lc + period <= due_by
-- exactly when lc <= rgpd._cutoff(due_by, period).  Adding a period is
-- monotonic, so the set of such lc is a prefix; the loops correct the end
-- of month clamping (29 February + 1 year is 28 February).
CREATE FUNCTION rgpd._cutoff(due_by date, period interval) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c date := CAST(due_by - period AS date);
BEGIN
    WHILE CAST(c + 1 + period AS date) <= due_by LOOP
        c := c + 1;
    END LOOP;
    WHILE CAST(c + period AS date) > due_by LOOP
        c := c - 1;
    END LOOP;
    RETURN c;
END
$$;

-- Type of a column (NULL when it does not exist).
CREATE FUNCTION rgpd._column_type(tbl regclass, col name) RETURNS regtype
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.atttypid::regtype
      FROM pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- The day (a date) of a date, timestamp or timestamptz column, as SQL.
-- A timestamptz is read in the subject's time zone, fixed at registration,
-- so that last_contact does not depend on the session's TimeZone.
CREATE FUNCTION rgpd._day(tbl regclass, col name, alias text, tz text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE rgpd._column_type(tbl, col)
        WHEN 'date'::regtype THEN
            format('%s.%I', alias, col)
        WHEN 'timestamp without time zone'::regtype THEN
            format('CAST(%s.%I AS pg_catalog.date)', alias, col)
        WHEN 'timestamp with time zone'::regtype THEN
            format('CAST(pg_catalog.timezone(%L::pg_catalog.text, %s.%I) AS pg_catalog.date)',
                   tz, alias, col)
    END;
END
$$;

-- GREATEST of the days of several columns (NULL when there are none).
CREATE FUNCTION rgpd._greatest_day(tbl regclass, cols name[], alias text, tz text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE pg_catalog.count(*)
               WHEN 0 THEN NULL
               WHEN 1 THEN pg_catalog.min(rgpd._day(tbl, c, alias, tz))
               ELSE 'GREATEST(' || pg_catalog.string_agg(rgpd._day(tbl, c, alias, tz), ', ' ORDER BY o) || ')'
           END
      FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(c, o)
$$;

-- "a differs from b", NULLs included, without IS DISTINCT FROM (whose
-- operator would be looked up through search_path).
CREATE FUNCTION rgpd._differs(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT pg_catalog.format('(%1$s IS NULL AND %2$s IS NOT NULL OR %1$s IS NOT NULL AND %2$s IS NULL'
                             ' OR %1$s OPERATOR(pg_catalog.<>) %2$s)', a, b)
$$;

-- "col = ANY ($1)" for a subject-key column.
CREATE FUNCTION rgpd._in_ids(alias text, col name, param text DEFAULT '$1') RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT pg_catalog.format('%s.%I OPERATOR(pg_catalog.=) ANY (%s::pg_catalog.int8[])', alias, col, param)
$$;

-- Single-column primary key of a table (the key of pseudonyms), or NULL.
CREATE FUNCTION rgpd._row_key(tbl regclass) RETURNS name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.attname
      FROM pg_index AS i
      JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = tbl AND i.indisprimary AND i.indnkeyatts = 1
$$;

-- The erasure method of a personal column: the one set with
-- rgpd.set_erasure(), or the default that fits the column:
--   in a unique index (text)     -> pseudonym, so the index keeps working
--   named by a CHECK constraint  -> null (when nullable), which passes it
--   text                         -> mask
--   other nullable types         -> null
-- NULL when nothing fits (a NOT NULL non-text column).
CREATE FUNCTION rgpd.erasure_method(tbl regclass, col name) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m text;
    a record;
BEGIN
    SELECT e.method INTO m FROM rgpd.erasures AS e WHERE e.tbl = erasure_method.tbl AND e.col = erasure_method.col;
    IF m IS NOT NULL THEN
        RETURN m;
    END IF;
    SELECT at.attnum, at.attnotnull, t.typcategory
      INTO a
      FROM pg_attribute AS at JOIN pg_type AS t ON t.oid = at.atttypid
     WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF a.typcategory = 'S' AND EXISTS (
            SELECT 1 FROM pg_index AS i
             WHERE i.indrelid = tbl AND i.indisunique AND a.attnum = ANY (i.indkey)) THEN
        RETURN 'pseudonym';
    END IF;
    IF NOT a.attnotnull AND EXISTS (
            SELECT 1 FROM pg_constraint AS c
             WHERE c.conrelid = tbl AND c.contype = 'c' AND a.attnum = ANY (c.conkey)) THEN
        RETURN 'null';
    END IF;
    IF a.typcategory = 'S' THEN
        RETURN 'mask';
    END IF;
    IF NOT a.attnotnull THEN
        RETURN 'null';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION rgpd.erasure_method(regclass, name) IS
    'Erasure method that anonymisation applies to a personal column';

-- The SQL value that erases a column.  key_expr names the key a pseudonym
-- is built from.
CREATE FUNCTION rgpd._erased_value(tbl regclass, col name, key_expr text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m text := rgpd.erasure_method(tbl, col);
    typ text;
    cat "char";
BEGIN
    SELECT format_type(at.atttypid, at.atttypmod), t.typcategory
      INTO typ, cat
      FROM pg_attribute AS at JOIN pg_type AS t ON t.oid = at.atttypid
     WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped;
    RETURN CASE
        WHEN m = 'mask' AND cat = 'S' THEN
            format('CAST(pg_catalog.current_setting(%L) AS %s)', 'rgpd.mask_text', typ)
        WHEN m = 'pseudonym' THEN
            format('CAST(pg_catalog.current_setting(%L) OPERATOR(pg_catalog.||) %L'
                   ' OPERATOR(pg_catalog.||) CAST(%s AS pg_catalog.text) AS %s)',
                   'rgpd.mask_text', '_', key_expr, typ)
        WHEN m = 'empty' AND cat = 'A' THEN format('CAST(%L AS %s)', '{}', typ)
        WHEN m = 'empty' AND typ IN ('json', 'jsonb') THEN format('CAST(%L AS %s)', '{}', typ)
        WHEN m = 'empty' THEN format('CAST(%L AS %s)', '', typ)
        ELSE format('CAST(NULL AS %s)', typ)
    END;
END
$$;

-- Personal columns of a link, as (subject column, personal column) pairs.
CREATE FUNCTION rgpd._link_personal(l rgpd.links)
    RETURNS TABLE (subject_column name, personal_column name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CAST(k AS name), CAST(p AS name)
      FROM jsonb_each(l.personal_columns) AS e(k, v),
           jsonb_array_elements_text(e.v) AS p
$$;

-- Subject columns of a link whose rows are deleted on anonymise.
CREATE FUNCTION rgpd._link_deleted(l rgpd.links) RETURNS SETOF name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c FROM unnest(l.subject_columns) AS c
     WHERE rgpd.erasure_method(l.link, c) = 'delete_row'
$$;

-- CASE expression choosing, per subject row, the value of its policy: the
-- first named policy whose predicate holds, else the default.  kind is
-- 'interval', 'name' or 'cutoff' (the latest last_contact due by the end of
-- the month of as_of).
CREATE FUNCTION rgpd._policy_case(p_subject regclass, action text, kind text, as_of text)
    RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p rgpd.policies;
    whens text := '';
    dflt text;
    iv interval;
    v text;
BEGIN
    FOR p IN SELECT * FROM rgpd.policies AS x WHERE x.subject = p_subject
             ORDER BY x.applies_when IS NULL, x.position LOOP
        iv := CASE action WHEN 'archive' THEN p.archive_after ELSE p.anonymise_after END;
        v := CASE kind
            WHEN 'interval' THEN format('%L::pg_catalog.interval', iv)
            WHEN 'name' THEN format('%L::pg_catalog.text', p.name)
            ELSE format('rgpd._cutoff(rgpd._month_end(%s), %L::pg_catalog.interval)', as_of, iv)
        END;
        IF p.applies_when IS NULL THEN
            dflt := v;
        ELSE
            whens := whens || format(' WHEN (%s) THEN %s', p.applies_when, v);
        END IF;
    END LOOP;
    IF whens = '' THEN
        RETURN dflt;
    END IF;
    RETURN format('CASE%s ELSE %s END', whens, dflt);
END
$$;

-- The greatest cutoff over all policies: the bound of the index scan.
CREATE FUNCTION rgpd._max_cutoff(p_subject regclass, action text, as_of text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'GREATEST(' || string_agg(
               format('rgpd._cutoff(rgpd._month_end(%s), %L::pg_catalog.interval)', as_of,
                      CASE action WHEN 'archive' THEN p.archive_after ELSE p.anonymise_after END),
               ', ' ORDER BY p.position) || ')'
      FROM rgpd.policies AS p
     WHERE p.subject = p_subject
$$;

-- SQL that is true when a subject (its key given as key_expr) is out of the
-- engine: some link row satisfying that link's excludes_when references it.
CREATE FUNCTION rgpd._excluded(p_subject regclass, key_expr text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(string_agg(
               format('EXISTS (SELECT 1 FROM %s AS x WHERE x.%I OPERATOR(pg_catalog.=) %s AND (%s))',
                      l.link, c, key_expr, l.excludes_when),
               ' OR ' ORDER BY l.link::oid, o), 'false')
      FROM rgpd.links AS l, unnest(l.subject_columns) WITH ORDINALITY AS u(c, o)
     WHERE l.subject = p_subject AND l.excludes_when IS NOT NULL
$$;

-- Every contact date of the subjects of a table, as (id, d) rows: linked
-- rows (the greatest of their date columns, through each subject column)
-- and opt-in events.  Filtered by $1 (bigint[]) when `filtered`.
CREATE FUNCTION rgpd._contacts(p_subject regclass, filtered boolean) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
    l rgpd.links;
    c name;
    parts text[] := '{}';
BEGIN
    SELECT * INTO STRICT s FROM rgpd.subjects AS x WHERE x.subject = p_subject;
    FOR l IN SELECT * FROM rgpd.links AS x WHERE x.subject = p_subject ORDER BY x.link::oid LOOP
        CONTINUE WHEN cardinality(l.date_columns) = 0;
        FOREACH c IN ARRAY l.subject_columns LOOP
            parts := parts || format(
                'SELECT CAST(l.%I AS pg_catalog.int8) AS id, %s AS d FROM %s AS l WHERE %s',
                c, rgpd._greatest_day(l.link, l.date_columns, 'l', s.time_zone), l.link,
                CASE WHEN filtered THEN rgpd._in_ids('l', c) ELSE format('l.%I IS NOT NULL', c) END);
        END LOOP;
    END LOOP;
    parts := parts || format(
        'SELECT o.subject_id AS id, CAST(pg_catalog.timezone(%L::pg_catalog.text, o.at) AS pg_catalog.date) AS d'
        ' FROM rgpd.optin_events AS o WHERE o.subject OPERATOR(pg_catalog.=) CAST(%s AS pg_catalog.oid)%s',
        s.time_zone, p_subject::oid,
        CASE WHEN filtered THEN ' AND ' || rgpd._in_ids('o', 'subject_id') ELSE '' END);
    RETURN array_to_string(parts, E'\n UNION ALL ');
END
$$;

-- The statements of the engine and of the actions, by name.
CREATE FUNCTION rgpd._sql(p_subject regclass, what text,
                          p_link regclass DEFAULT NULL, p_col name DEFAULT NULL)
    RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
    l rgpd.links;
    rel text := p_subject::text;     -- qualified: search_path is pinned
    k text;                          -- quoted key column
    sid text;                        -- the subject table as a constant
    created text;
    recompute text;
    sets text;
    conds text;
    rets text;
    due text;
BEGIN
    SELECT * INTO s FROM rgpd.subjects AS x WHERE x.subject = p_subject;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not registered with pericles_rgpd', p_subject
            USING ERRCODE = 'undefined_object', HINT = 'Register it with rgpd.register_subject().';
    END IF;
    k := quote_ident(s.key_column);
    sid := format('CAST(CAST(%s AS pg_catalog.oid) AS pg_catalog.regclass)', p_subject::oid);
    IF p_link IS NOT NULL THEN
        SELECT * INTO l FROM rgpd.links AS x WHERE x.link = p_link AND x.subject = p_subject;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;

    IF what IN ('recompute_ids', 'recompute_all', 'verify') THEN
        created := coalesce(rgpd._day(p_subject, s.created_column, 's2', s.time_zone),
                            'CAST(NULL AS pg_catalog.date)');
        recompute := format(
            'WITH c AS (%s),'
            ' m AS (SELECT c.id, pg_catalog.max(c.d) AS d FROM c GROUP BY c.id),'
            ' v AS (SELECT CAST(s2.%s AS pg_catalog.int8) AS id, s2.last_contact AS stored,'
            '              s2.rgpd_status AS st, GREATEST(%s, m.d) AS lc'
            '         FROM %s AS s2 LEFT JOIN m ON m.id OPERATOR(pg_catalog.=) s2.%s%s) ',
            rgpd._contacts(p_subject, what = 'recompute_ids'), k, created, rel, k,
            CASE WHEN what = 'recompute_ids' THEN ' WHERE ' || rgpd._in_ids('s2', s.key_column) ELSE '' END);
        IF what = 'verify' THEN
            RETURN recompute || format(
                'SELECT v.id, v.stored, v.lc AS expected FROM v'
                ' WHERE v.st OPERATOR(pg_catalog.<>) %L::rgpd.status AND %s ORDER BY v.id',
                'anonymised', rgpd._differs('v.stored', 'v.lc'));
        END IF;
        RETURN recompute || format(
            'UPDATE %1$s AS s SET last_contact = v.lc,'
            ' rgpd_contact_floor = CASE WHEN v.lc IS NULL THEN NULL'
            '   WHEN s.rgpd_contact_floor IS NULL OR s.rgpd_contact_floor OPERATOR(pg_catalog.>) v.lc THEN v.lc'
            '   ELSE s.rgpd_contact_floor END'
            ' FROM v WHERE s.%2$s OPERATOR(pg_catalog.=) v.id'
            '   AND s.rgpd_status OPERATOR(pg_catalog.<>) %3$L::rgpd.status'
            '   AND (%4$s OR (v.lc IS NULL) OPERATOR(pg_catalog.<>) (s.rgpd_contact_floor IS NULL)'
            '        OR s.rgpd_contact_floor OPERATOR(pg_catalog.>) v.lc)',
            rel, k, 'anonymised', rgpd._differs('s.last_contact', 'v.lc'));

    ELSIF what = 'raise' THEN
        -- $1 bigint[] sorted ids, $2 date[] their dates (NULL: status check only).
        -- l locks each subject FOR KEY SHARE and reads its latest version
        -- (after waiting for a transaction that lowered it); the UPDATE
        -- decides on those values, not on its own snapshot's, and takes
        -- GREATEST with the row it finally writes (re-read by EvalPlanQual
        -- if another contact raised it meanwhile).
        RETURN format(
            'WITH l AS MATERIALIZED ('
            '  SELECT CAST(s.%1$s AS pg_catalog.int8) AS id, s.rgpd_status AS st,'
            '         s.last_contact AS lc, v.d'
            '    FROM %2$s AS s'
            '    JOIN ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),'
            '                    pg_catalog.unnest($2::pg_catalog.date[])) AS v(id, d)'
            '      ON s.%1$s OPERATOR(pg_catalog.=) v.id'
            '     FOR KEY SHARE OF s),'
            ' u AS ('
            '  UPDATE %2$s AS s SET last_contact = GREATEST(s.last_contact, l.d),'
            '         rgpd_contact_floor = COALESCE(s.rgpd_contact_floor, l.d)'
            '    FROM l'
            '   WHERE s.%1$s OPERATOR(pg_catalog.=) l.id AND l.d IS NOT NULL'
            '     AND (l.lc IS NULL OR l.lc OPERATOR(pg_catalog.<) l.d)'
            '     AND l.st OPERATOR(pg_catalog.<>) %3$L::rgpd.status'
            '     AND s.rgpd_status OPERATOR(pg_catalog.<>) %3$L::rgpd.status'
            '  RETURNING CAST(s.%1$s AS pg_catalog.int8) AS id)'
            ' SELECT l.id, CAST(l.st AS pg_catalog.text), u.id IS NOT NULL'
            '   FROM l LEFT JOIN u ON u.id OPERATOR(pg_catalog.=) l.id'
            '  WHERE l.st OPERATOR(pg_catalog.<>) %4$L::rgpd.status',
            k, rel, 'anonymised', 'active');

    ELSIF what = 'raise_locked' THEN
        -- the same as 'raise', for rows this transaction already holds (their
        -- foreign key's check locked them): a plain conditional UPDATE,
        -- re-checked on the latest version of a row another contact raised
        RETURN format(
            'WITH u AS ('
            '  UPDATE %2$s AS s SET last_contact = v.d,'
            '         rgpd_contact_floor = COALESCE(s.rgpd_contact_floor, v.d)'
            '    FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),'
            '                    pg_catalog.unnest($2::pg_catalog.date[])) AS v(id, d)'
            '   WHERE s.%1$s OPERATOR(pg_catalog.=) v.id AND v.d IS NOT NULL'
            '     AND (s.last_contact IS NULL OR s.last_contact OPERATOR(pg_catalog.<) v.d)'
            '     AND s.rgpd_status OPERATOR(pg_catalog.<>) %3$L::rgpd.status'
            '  RETURNING CAST(s.%1$s AS pg_catalog.int8) AS id, s.rgpd_status AS st)'
            ' SELECT u.id, CAST(u.st AS pg_catalog.text), true FROM u'
            '  WHERE u.st OPERATOR(pg_catalog.<>) %4$L::rgpd.status',
            k, rel, 'anonymised', 'active');

    ELSIF what = 'raise_one' THEN
        -- $1 bigint id, $2 date: one subject; returns its status if written
        RETURN format(
            'UPDATE %2$s AS s SET last_contact = $2,'
            '       rgpd_contact_floor = COALESCE(s.rgpd_contact_floor, $2)'
            ' WHERE s.%1$s OPERATOR(pg_catalog.=) $1'
            '   AND (s.last_contact IS NULL OR s.last_contact OPERATOR(pg_catalog.<) $2)'
            '   AND s.rgpd_status OPERATOR(pg_catalog.<>) %3$L::rgpd.status'
            ' RETURNING CAST(s.rgpd_status AS pg_catalog.text)',
            k, rel, 'anonymised');

    ELSIF what = 'lock_one' THEN
        -- $1 bigint id: lock one subject against lowerings, read it
        RETURN format(
            'SELECT s.last_contact, CAST(s.rgpd_status AS pg_catalog.text) FROM %2$s AS s'
            ' WHERE s.%1$s OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF s',
            k, rel);

    ELSIF what = 'status_one' THEN
        RETURN format(
            'SELECT CAST(s.rgpd_status AS pg_catalog.text) FROM %2$s AS s'
            ' WHERE s.%1$s OPERATOR(pg_catalog.=) $1',
            k, rel);

    ELSIF what = 'lock_lower' THEN
        RETURN format(
            'SELECT CAST(s.%1$s AS pg_catalog.int8) AS id, s.last_contact FROM %2$s AS s'
            ' WHERE %3$s AND s.rgpd_status OPERATOR(pg_catalog.<>) %4$L::rgpd.status'
            ' ORDER BY 1 FOR UPDATE OF s',
            k, rel, rgpd._in_ids('s', s.key_column), 'anonymised');

    ELSIF what IN ('lock_status', 'peek_status') THEN
        -- $1 ids; $2 timestamptz (the day of it, in the subject's zone)
        RETURN format(
            'SELECT CAST(s.%1$s AS pg_catalog.int8) AS id, CAST(s.rgpd_status AS pg_catalog.text) AS status,'
            '       %3$s AS negotiator,'
            '       CAST(pg_catalog.timezone(%4$L::pg_catalog.text, $2::pg_catalog.timestamptz) AS pg_catalog.date) AS day'
            '  FROM %2$s AS s WHERE %5$s ORDER BY 1%6$s',
            k, rel,
            CASE WHEN s.negotiator_column IS NULL THEN 'CAST(NULL AS pg_catalog.text)'
                 ELSE format('CAST(s.%I AS pg_catalog.text)', s.negotiator_column) END,
            s.time_zone, rgpd._in_ids('s', s.key_column),
            CASE what WHEN 'lock_status' THEN ' FOR UPDATE OF s' ELSE '' END);

    ELSIF what IN ('archive', 'unarchive') THEN
        RETURN format(
            'UPDATE %1$s AS s SET rgpd_status = %2$L::rgpd.status'
            ' WHERE %3$s AND s.rgpd_status OPERATOR(pg_catalog.=) %4$L::rgpd.status'
            ' RETURNING CAST(s.%5$s AS pg_catalog.int8)',
            rel, CASE what WHEN 'archive' THEN 'archived' ELSE 'active' END,
            rgpd._in_ids('s', s.key_column),
            CASE what WHEN 'archive' THEN 'active' ELSE 'archived' END, k);

    ELSIF what = 'unarchive_fresh' THEN
        -- archived subjects given a contact that makes them not due this month
        RETURN format(
            'UPDATE %1$s AS s SET rgpd_status = %2$L::rgpd.status'
            ' WHERE %3$s AND s.rgpd_status OPERATOR(pg_catalog.=) %4$L::rgpd.status'
            '   AND NOT (s.last_contact OPERATOR(pg_catalog.<=) %5$s)'
            ' RETURNING CAST(s.%6$s AS pg_catalog.int8)',
            rel, 'active', rgpd._in_ids('s', s.key_column), 'archived',
            rgpd._policy_case(p_subject, 'archive', 'cutoff', 'CURRENT_DATE'), k);

    ELSIF what IN ('due_archive', 'due_anonymise') THEN
        -- $1 date: as of; what falls due by the end of its month
        due := CASE what WHEN 'due_archive' THEN 'archive' ELSE 'anonymise' END;
        RETURN format(
            'SELECT q.subject, q.id, q.last_contact,'
            '       CAST(q.last_contact OPERATOR(pg_catalog.+) q.iv AS pg_catalog.date) AS due_on,'
            '       q.policy, q.excluded'
            '  FROM (SELECT %1$s AS subject, CAST(s.%2$s AS pg_catalog.int8) AS id, s.last_contact,'
            '               %3$s AS iv, %4$s AS policy, %5$s AS cutoff, %6$s AS excluded'
            '          FROM %7$s AS s'
            '         WHERE s.rgpd_contact_floor OPERATOR(pg_catalog.<=) %8$s'
            '           AND s.rgpd_status OPERATOR(pg_catalog.<>) %9$L::rgpd.status%10$s) AS q'
            ' WHERE q.last_contact OPERATOR(pg_catalog.<=) q.cutoff',
            sid, k,
            rgpd._policy_case(p_subject, due, 'interval', '$1::pg_catalog.date'),
            rgpd._policy_case(p_subject, due, 'name', '$1::pg_catalog.date'),
            rgpd._policy_case(p_subject, due, 'cutoff', '$1::pg_catalog.date'),
            rgpd._excluded(p_subject, 's.' || k),
            rel,
            rgpd._max_cutoff(p_subject, due, '$1::pg_catalog.date'),
            'anonymised',
            CASE due WHEN 'archive'
                THEN format(' AND s.rgpd_status OPERATOR(pg_catalog.=) %L::rgpd.status', 'active')
                ELSE '' END);

    ELSIF what = 'sweep_archive' THEN
        -- $1 ids, $2 as_of: archive them if still active and still due
        RETURN format(
            'UPDATE %1$s AS s SET rgpd_status = %2$L::rgpd.status'
            ' WHERE %3$s AND s.rgpd_status OPERATOR(pg_catalog.=) %4$L::rgpd.status'
            '   AND s.last_contact OPERATOR(pg_catalog.<=) %5$s'
            ' RETURNING CAST(s.%6$s AS pg_catalog.int8)',
            rel, 'archived', rgpd._in_ids('s', s.key_column), 'active',
            rgpd._policy_case(p_subject, 'archive', 'cutoff', '$2::pg_catalog.date'), k);

    ELSIF what = 'sweep_refresh' THEN
        -- $1 as_of: tighten stale floors below next month's bound
        RETURN format(
            'UPDATE %1$s AS s SET rgpd_contact_floor = s.last_contact'
            ' WHERE s.rgpd_contact_floor OPERATOR(pg_catalog.<=) %2$s'
            '   AND s.rgpd_contact_floor OPERATOR(pg_catalog.<) s.last_contact'
            '   AND s.rgpd_status OPERATOR(pg_catalog.<>) %3$L::rgpd.status',
            rel,
            rgpd._max_cutoff(p_subject, 'archive',
                             'CAST($1::pg_catalog.date OPERATOR(pg_catalog.+) interval ''1 month'' AS pg_catalog.date)'),
            'anonymised');

    ELSIF what = 'is_excluded' THEN
        RETURN 'SELECT ' || rgpd._excluded(p_subject, '$1::pg_catalog.int8');

    ELSIF what IN ('mark_archived', 'mark_active') THEN
        -- link markers: archived when every subject a row points at is no longer active
        IF l.link IS NULL OR NOT l.archive_with_subject THEN
            RETURN NULL;
        END IF;
        SELECT string_agg(rgpd._in_ids('l', c), ' OR '),
               string_agg(format('s.%s OPERATOR(pg_catalog.=) l.%I', k, c), ' OR ')
          INTO conds, rets
          FROM unnest(l.subject_columns) AS c;
        IF what = 'mark_active' THEN
            RETURN format('UPDATE %s AS l SET rgpd_archived = false WHERE (%s) AND l.rgpd_archived',
                          l.link, conds);
        END IF;
        RETURN format(
            'UPDATE %1$s AS l SET rgpd_archived = true WHERE (%2$s) AND NOT l.rgpd_archived'
            ' AND NOT EXISTS (SELECT 1 FROM %3$s AS s WHERE (%4$s)'
            '                  AND s.rgpd_status OPERATOR(pg_catalog.=) %5$L::rgpd.status)',
            l.link, conds, rel, rets, 'active');

    ELSIF what = 'erase_subject' THEN
        SELECT string_agg(format('%I = %s', p,
                                 rgpd._erased_value(p_subject, p, 's.' || k)), ', ')
          INTO sets
          FROM unnest(s.personal_columns) AS p;
        RETURN format(
            'UPDATE %1$s AS s SET %2$srgpd_status = %3$L::rgpd.status WHERE %4$s'
            ' RETURNING CAST(s.%5$s AS pg_catalog.int8)',
            rel, coalesce(sets || ', ', ''), 'anonymised', rgpd._in_ids('s', s.key_column), k);

    ELSIF what = 'erase_link' THEN
        -- one UPDATE for the whole batch: each personal column is erased
        -- where the subject column it belongs to points at a subject in $1
        IF l.link IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT string_agg(format('%1$I = CASE %2$s ELSE l.%1$I END', x.p, x.whens), ', ')
          INTO sets
          FROM (SELECT lp.personal_column AS p,
                       string_agg(format('WHEN %s THEN %s', rgpd._in_ids('l', lp.subject_column),
                                         rgpd._erased_value(l.link, lp.personal_column,
                                             coalesce('l.' || quote_ident(rgpd._row_key(l.link)),
                                                      'l.' || quote_ident(lp.subject_column)))),
                                  ' ' ORDER BY lp.subject_column) AS whens
                  FROM rgpd._link_personal(l) AS lp
                 WHERE lp.subject_column NOT IN (SELECT rgpd._link_deleted(l))
                 GROUP BY lp.personal_column) AS x;
        IF sets IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT string_agg(rgpd._in_ids('l', c), ' OR '),
               string_agg(format('CASE WHEN %s THEN CAST(l.%I AS pg_catalog.int8) END',
                                 rgpd._in_ids('l', c), c), ', ')
          INTO conds, rets
          FROM unnest(l.subject_columns) AS c;
        RETURN format('UPDATE %s AS l SET %s WHERE %s RETURNING %s', l.link, sets, conds, rets);

    ELSIF what = 'delete_link' THEN
        IF l.link IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT string_agg(rgpd._in_ids('l', c), ' OR '),
               string_agg(format('CASE WHEN %s THEN CAST(l.%I AS pg_catalog.int8) END',
                                 rgpd._in_ids('l', c), c), ', ')
          INTO conds, rets
          FROM rgpd._link_deleted(l) AS c;
        IF conds IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN format('DELETE FROM %s AS l WHERE %s RETURNING %s', l.link, conds, rets);

    ELSIF what = 'export_record' THEN
        -- the record as the person would read it: without the extension's
        -- internal lower bound of last_contact
        RETURN format('SELECT pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.-) %L::pg_catalog.text,'
                      '       CAST(s.rgpd_status AS pg_catalog.text)'
                      '  FROM %s AS s WHERE s.%s OPERATOR(pg_catalog.=) $1::pg_catalog.int8',
                      'rgpd_contact_floor', rel, k);

    ELSIF what = 'export_links' THEN
        -- {"table": {"column": [rows…]}} of every linked row that references $1
        SELECT coalesce(string_agg(format('%L, pg_catalog.jsonb_build_object(%s)', x.link::text, x.cols),
                                   ', ' ORDER BY x.link::text), '')
          INTO sets
          FROM (SELECT y.link, string_agg(format(
                    '%L, (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) ORDER BY %s), %L::pg_catalog.jsonb)'
                    ' FROM %s AS r WHERE r.%I OPERATOR(pg_catalog.=) $1::pg_catalog.int8)',
                    c, coalesce('r.' || quote_ident(rgpd._row_key(y.link)), 'CAST(r AS pg_catalog.text)'),
                    '[]', y.link, c), ', ' ORDER BY o) AS cols
                  FROM rgpd.links AS y, unnest(y.subject_columns) WITH ORDINALITY AS u(c, o)
                 WHERE y.subject = p_subject
                 GROUP BY y.link) AS x;
        RETURN format('SELECT pg_catalog.jsonb_build_object(%s)', sets);
    END IF;

    RAISE EXCEPTION 'rgpd._sql: unknown statement "%"', what;
END
$$;
COMMENT ON FUNCTION rgpd._sql(regclass, text, regclass, name) IS
    'The statements pericles_rgpd runs for a subject table, generated from its configuration';

/* ------------------------------------------------------------------ *
 * 5. Registration
 * ------------------------------------------------------------------ */

-- Registration is done by the owner of the tables (or a superuser): the
-- functions run with the caller's rights, so PostgreSQL itself checks the
-- ALTER TABLE / CREATE TRIGGER / CREATE POLICY they issue.
CREATE FUNCTION rgpd._require_owner(tbl regclass) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be registered.';
    END IF;
    IF NOT rgpd._owns(tbl) THEN
        RAISE EXCEPTION 'must be owner of table %', tbl
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Tables are registered by their owner, or by a superuser.';
    END IF;
END
$$;

-- The registration of a subject table, or an error naming the table (with
-- the hint given, if any).
CREATE FUNCTION rgpd._subject(tbl regclass, hint text DEFAULT 'Register it with rgpd.register_subject().')
RETURNS rgpd.subjects
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
BEGIN
    SELECT * INTO s FROM rgpd.subjects AS x WHERE x.subject = tbl;
    IF NOT FOUND AND hint IS NULL THEN
        RAISE EXCEPTION 'table % is not registered as a subject', tbl USING ERRCODE = 'undefined_object';
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not registered as a subject', tbl
            USING ERRCODE = 'undefined_object', HINT = hint;
    END IF;
    RETURN s;
END
$$;

-- A column that must exist, optionally of one of some types.
CREATE FUNCTION rgpd._require_column(tbl regclass, col name, role text,
                                     types regtype[] DEFAULT NULL) RETURNS regtype
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regtype;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION '% column of table % must not be NULL', role, tbl
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    t := rgpd._column_type(tbl, col);
    IF t IS NULL THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('It was given as %s column.', role);
    END IF;
    IF types IS NOT NULL AND t <> ALL (types) THEN
        RAISE EXCEPTION '% column "%" of table % has type %', role, col, tbl, t
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = format('A %s column must be of type %s.', role,
                                  array_to_string(types::text[], ', ', '')),
                  HINT = 'Register another column, or change the type of this one.';
    END IF;
    RETURN t;
END
$$;

-- Can this erasure method produce a valid value for this column?  Raises
-- the reason when it cannot (NOT NULL, type, unique index, CHECK constraint).
CREATE FUNCTION rgpd._check_erasure(tbl regclass, col name, method text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    sample text;
    uniq boolean;
    con record;
    cols text;
    ok boolean;
BEGIN
    SELECT at.attnum, at.attnotnull, at.atttypid, format_type(at.atttypid, at.atttypmod) AS typ,
           t.typcategory AS cat
      INTO a
      FROM pg_attribute AS at JOIN pg_type AS t ON t.oid = at.atttypid
     WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF method IS NULL THEN
        RAISE EXCEPTION 'no erasure method fits personal column "%" of table %', col, tbl
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = format('The column is NOT NULL and of type %s: it can be neither masked nor set to NULL.', a.typ),
                  HINT = 'Drop its NOT NULL constraint, choose a method with rgpd.set_erasure(), or leave it out of the personal columns.';
    END IF;
    IF method = 'delete_row' THEN
        RETURN;
    END IF;
    uniq := EXISTS (SELECT 1 FROM pg_index AS i
                     WHERE i.indrelid = tbl AND i.indisunique AND a.attnum = ANY (i.indkey));

    IF method IN ('null', 'mask') AND a.attnotnull AND (method = 'null' OR a.cat <> 'S') THEN
        RAISE EXCEPTION 'erasure method % cannot be used on NOT NULL column "%" of table %', method, col, tbl
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = CASE WHEN method = 'mask'
                                THEN format('A column of type %s is masked with NULL.', a.typ)
                                ELSE 'The method writes NULL.' END,
                  HINT = CASE WHEN a.cat = 'S'
                              THEN format('Use rgpd.set_erasure(%L, %L, ''mask'') or ''pseudonym''.', tbl::text, col)
                              ELSE 'Drop the NOT NULL constraint, or leave the column out of the personal columns.' END;
    END IF;
    IF method = 'pseudonym' AND a.cat <> 'S' THEN
        RAISE EXCEPTION 'erasure method pseudonym needs a text column; column "%" of table % has type %', col, tbl, a.typ
            USING ERRCODE = 'datatype_mismatch', HINT = 'Use ''null'' or ''mask''.';
    END IF;
    IF method = 'empty' AND a.cat NOT IN ('S', 'A') AND a.atttypid NOT IN ('json'::regtype, 'jsonb'::regtype) THEN
        RAISE EXCEPTION 'erasure method empty needs a text, array or json column; column "%" of table % has type %', col, tbl, a.typ
            USING ERRCODE = 'datatype_mismatch', HINT = 'Use ''null'' or ''mask''.';
    END IF;
    IF uniq AND method IN ('mask', 'empty') AND NOT (method = 'mask' AND a.cat <> 'S') THEN
        RAISE EXCEPTION 'erasure method % would give every anonymised row the same value in unique column "%" of table %', method, col, tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Use rgpd.set_erasure(%L, %L, ''pseudonym'') (or ''null'').', tbl::text, col);
    END IF;

    -- CHECK constraints on the column must accept the erased value
    sample := CASE method
        WHEN 'null' THEN NULL
        WHEN 'mask' THEN CASE WHEN a.cat = 'S' THEN coalesce(current_setting('rgpd.mask_text', true), 'XXXXX') END
        WHEN 'pseudonym' THEN coalesce(current_setting('rgpd.mask_text', true), 'XXXXX') || '_1'
        WHEN 'empty' THEN CASE WHEN a.cat = 'A' OR a.atttypid IN ('json'::regtype, 'jsonb'::regtype) THEN '{}' ELSE '' END
    END;
    FOR con IN SELECT c.conname, pg_get_expr(c.conbin, c.conrelid) AS expr
                 FROM pg_constraint AS c
                WHERE c.conrelid = tbl AND c.contype = 'c' AND a.attnum = ANY (c.conkey) LOOP
        SELECT string_agg(CASE WHEN at.attnum = a.attnum
                               THEN format('CAST(%L AS %s) AS %I', sample, format_type(at.atttypid, at.atttypmod), at.attname)
                               ELSE format('CAST(NULL AS %s) AS %I', format_type(at.atttypid, at.atttypmod), at.attname) END,
                          ', ' ORDER BY at.attnum)
          INTO cols
          FROM pg_attribute AS at
         WHERE at.attrelid = tbl AND at.attnum > 0 AND NOT at.attisdropped;
        EXECUTE format('SELECT (%s) IS NOT FALSE FROM (SELECT %s) AS t', con.expr, cols) INTO ok;
        IF NOT ok THEN
            RAISE EXCEPTION 'erasure method % of column "%" would violate check constraint "%" of table %',
                            method, col, con.conname, tbl
                USING ERRCODE = 'check_violation',
                      HINT = CASE WHEN a.attnotnull
                                  THEN 'Choose another method with rgpd.set_erasure().'
                                  ELSE format('Use rgpd.set_erasure(%L, %L, ''null'').', tbl::text, col) END;
        END IF;
    END LOOP;
END
$$;

-- Validate the personal columns of a table (subject or link).
CREATE FUNCTION rgpd._check_personal(tbl regclass, cols name[], forbidden name[], what text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c name;
BEGIN
    IF cols IS NULL THEN
        RAISE EXCEPTION 'personal columns of table % must not be NULL', tbl
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an empty array for none.';
    END IF;
    IF (SELECT count(*) <> count(DISTINCT x) FROM unnest(cols) AS x) THEN
        RAISE EXCEPTION 'personal columns of table % name a column twice', tbl
            USING ERRCODE = 'duplicate_column';
    END IF;
    FOREACH c IN ARRAY cols LOOP
        PERFORM rgpd._require_column(tbl, c, 'personal');
        IF c = ANY (forbidden) THEN
            RAISE EXCEPTION 'column "%" of table % cannot be a personal column', c, tbl
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('It is %s.', what);
        END IF;
        PERFORM rgpd._check_erasure(tbl, c, rgpd.erasure_method(tbl, c));
    END LOOP;
END
$$;

-- A name for an index pericles_rgpd adds, free in the table's schema.
CREATE FUNCTION rgpd._index_name(tbl regclass, suffix text) RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel name;
    nsp oid;
    candidate text;
    n int := 0;
BEGIN
    SELECT c.relname, c.relnamespace INTO rel, nsp FROM pg_class AS c WHERE c.oid = tbl;
    LOOP
        candidate := left(rel, 63 - length(suffix) - 6) || '_' || suffix
                     || CASE WHEN n > 0 THEN n::text ELSE '' END;
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_class AS c
                               WHERE c.relnamespace = nsp AND c.relname = candidate);
        n := n + 1;
    END LOOP;
    RETURN candidate;
END
$$;

-- Drop one of the triggers, policies or indexes registration put on a
-- table, if it is there (quietly: DROP ... IF EXISTS would tell the user
-- about every one that is not).
CREATE FUNCTION rgpd._drop_own(tbl regclass, kind text, object_name name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx regclass;
BEGIN
    IF kind = 'trigger' AND EXISTS (SELECT 1 FROM pg_trigger AS t
                                     WHERE t.tgrelid = tbl AND t.tgname = object_name) THEN
        EXECUTE format('DROP TRIGGER %I ON %s', object_name, tbl);
    ELSIF kind = 'policy' AND EXISTS (SELECT 1 FROM pg_policy AS p
                                       WHERE p.polrelid = tbl AND p.polname = object_name) THEN
        EXECUTE format('DROP POLICY %I ON %s', object_name, tbl);
    ELSIF kind = 'index' THEN
        SELECT i.indexrelid::regclass INTO idx
          FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
         WHERE i.indrelid = tbl AND c.relname = object_name;
        IF FOUND THEN
            EXECUTE format('DROP INDEX %s', idx);
        END IF;
    END IF;
END
$$;

-- (Re)create the triggers of a link table from every registration of it.
CREATE FUNCTION rgpd._sync_link(p_link regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l rgpd.links;
    tz text;
    k name;
    c name;
    p record;
    a text[] := '{}';
    args text;
BEGIN
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_insert');
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_update');
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_delete');
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_truncate');

    -- arguments: subject <name> key <k> tz <zone> column <c>… date <d>…
    --            personal <c> <p>… delete <c>…, for each subject of the link
    FOR l IN SELECT * FROM rgpd.links AS x WHERE x.link = p_link ORDER BY x.subject::oid LOOP
        SELECT s.time_zone, s.key_column INTO tz, k FROM rgpd.subjects AS s WHERE s.subject = l.subject;
        a := a || ARRAY['subject', l.subject::text, 'key', k, 'tz', tz];
        FOREACH c IN ARRAY l.subject_columns LOOP
            a := a || ARRAY['column', c::text];
        END LOOP;
        FOREACH c IN ARRAY l.date_columns LOOP
            a := a || ARRAY['date', c::text];
        END LOOP;
        FOR p IN SELECT * FROM rgpd._link_personal(l) AS x ORDER BY 1, 2 LOOP
            a := a || ARRAY['personal', p.subject_column::text, p.personal_column::text];
        END LOOP;
        FOR c IN SELECT * FROM rgpd._link_deleted(l) LOOP
            a := a || ARRAY['delete', c::text];
        END LOOP;
    END LOOP;
    IF cardinality(a) = 0 THEN
        RETURN;
    END IF;
    SELECT string_agg(quote_literal(x), ', ' ORDER BY o) INTO args
      FROM unnest(a) WITH ORDINALITY AS u(x, o);

    EXECUTE format('CREATE TRIGGER rgpd_link_insert AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS rgpd_new'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
    EXECUTE format('CREATE TRIGGER rgpd_link_update AFTER UPDATE ON %s'
                   ' REFERENCING OLD TABLE AS rgpd_old NEW TABLE AS rgpd_new'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
    EXECUTE format('CREATE TRIGGER rgpd_link_delete AFTER DELETE ON %s'
                   ' REFERENCING OLD TABLE AS rgpd_old'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
    EXECUTE format('CREATE TRIGGER rgpd_link_truncate AFTER TRUNCATE ON %s'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
END
$$;

-- (Re)create the triggers of a subject table and of all its links.
CREATE FUNCTION rgpd._sync(p_subject regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
    args text;
    l regclass;
BEGIN
    PERFORM rgpd._drop_own(p_subject, 'trigger', 'rgpd_subject_guard');
    PERFORM rgpd._drop_own(p_subject, 'trigger', 'rgpd_subject_insert');
    PERFORM rgpd._drop_own(p_subject, 'trigger', 'rgpd_subject_update');

    SELECT * INTO s FROM rgpd.subjects AS x WHERE x.subject = p_subject;
    IF FOUND THEN
        SELECT string_agg(quote_literal(a), ', ' ORDER BY o)
          INTO args
          FROM unnest(ARRAY['key', s.key_column, 'tz', s.time_zone]
                      || CASE WHEN s.created_column IS NULL THEN '{}'::text[]
                              ELSE ARRAY['created', s.created_column] END
                      || coalesce((SELECT array_agg(x ORDER BY p.o, x.o2)
                                     FROM unnest(s.personal_columns) WITH ORDINALITY AS p(c, o),
                                          unnest(ARRAY['personal', p.c]) WITH ORDINALITY AS x(x, o2)),
                                  '{}'::text[])) WITH ORDINALITY AS u(a, o);
        EXECUTE format('CREATE TRIGGER rgpd_subject_guard BEFORE INSERT OR UPDATE ON %s'
                       ' FOR EACH ROW EXECUTE FUNCTION rgpd.subject_trigger(%s)', p_subject, args);
        EXECUTE format('CREATE TRIGGER rgpd_subject_insert AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS rgpd_new'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.subject_trigger(%s)', p_subject, args);
        EXECUTE format('CREATE TRIGGER rgpd_subject_update AFTER UPDATE OF %s ON %s FOR EACH ROW'
                       ' WHEN (%s) EXECUTE FUNCTION rgpd.subject_trigger(%s)',
                       concat_ws(', ', quote_ident(s.key_column), quote_ident(s.created_column)),
                       p_subject,
                       concat_ws(' OR ',
                                 format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', s.key_column),
                                 CASE WHEN s.created_column IS NOT NULL
                                      THEN format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', s.created_column) END),
                       args);
    END IF;

    FOR l IN SELECT DISTINCT x.link FROM rgpd.links AS x WHERE x.subject = p_subject LOOP
        PERFORM rgpd._sync_link(l);
    END LOOP;
    PERFORM rgpd._invalidate(p_subject);
END
$$;

CREATE FUNCTION rgpd.register_subject(
    subject           regclass,
    key_column        name    DEFAULT 'id',
    created_column    name    DEFAULT NULL,
    personal_columns  name[]  DEFAULT '{}',
    negotiator_column name    DEFAULT NULL,
    email_column      name    DEFAULT NULL,
    mobile_column     name    DEFAULT NULL,
    time_zone         text    DEFAULT NULL,
    force_rls         boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    tbl regclass := register_subject.subject;
    tz text := coalesce(register_subject.time_zone, current_setting('TimeZone'));
    registered boolean;
    keyattnum int2;
    rls record;
    reserved name;
    due_idx name;
    status_idx name;
    added_permissive boolean := false;
BEGIN
    PERFORM rgpd._require_owner(tbl);
    IF EXISTS (SELECT 1 FROM rgpd.links AS l WHERE l.link = tbl) THEN
        RAISE EXCEPTION 'table % is registered as a link', tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A table is either a subject or a link; unregister the link first.';
    END IF;
    IF force_rls IS NULL THEN
        RAISE EXCEPTION 'force_rls must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names AS z WHERE z.name = tz) THEN
        RAISE EXCEPTION 'time zone "%" not recognized', tz
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a name from pg_timezone_names, such as ''Europe/Paris'', as time_zone.';
    END IF;
    registered := EXISTS (SELECT 1 FROM rgpd.subjects AS x WHERE x.subject = tbl);

    -- the key: an integer column with a unique index of its own
    PERFORM rgpd._require_column(tbl, key_column, 'key',
                                 ARRAY['smallint', 'integer', 'bigint']::regtype[]);
    SELECT a.attnum INTO keyattnum FROM pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attname = key_column;
    IF NOT EXISTS (SELECT 1 FROM pg_index AS i
                    WHERE i.indrelid = tbl AND i.indisunique AND i.indnkeyatts = 1
                      AND i.indkey[0] = keyattnum AND i.indpred IS NULL) THEN
        RAISE EXCEPTION 'key column "%" of table % is not unique', key_column, tbl
            USING ERRCODE = 'invalid_foreign_key',
                  HINT = 'Add a PRIMARY KEY or UNIQUE constraint on it.';
    END IF;
    IF created_column IS NOT NULL THEN
        PERFORM rgpd._require_column(tbl, created_column, 'creation date',
            ARRAY['date', 'timestamp without time zone', 'timestamp with time zone']::regtype[]);
    END IF;
    PERFORM rgpd._check_personal(tbl, personal_columns,
        ARRAY[key_column, created_column, 'last_contact', 'rgpd_status', 'rgpd_contact_floor']::name[],
        'the key, the creation date or a column of pericles_rgpd');
    IF negotiator_column IS NOT NULL THEN
        PERFORM rgpd._require_column(tbl, negotiator_column, 'negotiator');
    END IF;
    IF email_column IS NOT NULL THEN
        PERFORM rgpd._require_column(tbl, email_column, 'e-mail',
            ARRAY['text', 'character varying', 'character']::regtype[]);
    END IF;
    IF mobile_column IS NOT NULL THEN
        PERFORM rgpd._require_column(tbl, mobile_column, 'mobile phone',
            ARRAY['text', 'character varying', 'character']::regtype[]);
    END IF;

    IF NOT registered THEN
        FOREACH reserved IN ARRAY ARRAY['last_contact', 'rgpd_status', 'rgpd_contact_floor']::name[] LOOP
            IF rgpd._column_type(tbl, reserved) IS NOT NULL THEN
                RAISE EXCEPTION 'table % already has a column named "%"', tbl, reserved
                    USING ERRCODE = 'duplicate_column',
                          HINT = 'pericles_rgpd adds last_contact, rgpd_status and rgpd_contact_floor; rename the existing column.';
            END IF;
        END LOOP;

        -- leftovers of an earlier registration undone by DROP EXTENSION ... CASCADE
        PERFORM rgpd._drop_own(tbl, 'policy', 'rgpd_visible');
        PERFORM rgpd._drop_own(tbl, 'policy', 'rgpd_restricted_archive');

        SELECT c.relrowsecurity AS had, c.relforcerowsecurity AS had_force
          INTO rls FROM pg_class AS c WHERE c.oid = tbl;

        EXECUTE format('ALTER TABLE %s ADD COLUMN last_contact date,'
                       ' ADD COLUMN rgpd_status rgpd.status NOT NULL DEFAULT %L,'
                       ' ADD COLUMN rgpd_contact_floor date', tbl, 'active');
        EXECUTE format('COMMENT ON COLUMN %s.last_contact IS %L', tbl,
                       'pericles_rgpd: most recent contact, kept exact by triggers');
        EXECUTE format('COMMENT ON COLUMN %s.rgpd_status IS %L', tbl,
                       'pericles_rgpd: active, archived (restricted access) or anonymised');
        EXECUTE format('COMMENT ON COLUMN %s.rgpd_contact_floor IS %L', tbl,
                       'pericles_rgpd: a lower bound of last_contact, indexed for the due lists');

        -- The due lists scan an index on a lower bound of last_contact
        -- rather than on last_contact itself: recording a contact then
        -- changes no indexed column, and the update can be HOT.
        due_idx := rgpd._index_name(tbl, 'rgpd_due_idx');
        EXECUTE format('CREATE INDEX %I ON %s (rgpd_contact_floor) WHERE rgpd_status <> %L',
                       due_idx, tbl, 'anonymised');
        status_idx := rgpd._index_name(tbl, 'rgpd_status_idx');
        EXECUTE format('CREATE INDEX %I ON %s (rgpd_status) WHERE rgpd_status <> %L',
                       status_idx, tbl, 'active');

        -- The restricted archive.  A permissive policy is added only where
        -- the table had no row-level security, so that enabling it does
        -- not hide every row; the restrictive one composes with the
        -- application's own policies.
        IF NOT rls.had THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
            EXECUTE format('CREATE POLICY rgpd_visible ON %s AS PERMISSIVE FOR ALL TO PUBLIC'
                           ' USING (true) WITH CHECK (true)', tbl);
            added_permissive := true;
        END IF;
        EXECUTE format('CREATE POLICY rgpd_restricted_archive ON %s AS RESTRICTIVE FOR ALL TO PUBLIC'
                       ' USING (rgpd_status OPERATOR(pg_catalog.<>) %L::rgpd.status OR rgpd.is_manager())',
                       tbl, 'archived');

        INSERT INTO rgpd.subjects AS x (subject, key_column, created_column, personal_columns,
                                        negotiator_column, email_column, mobile_column, time_zone,
                                        force_rls, had_rls, had_force_rls, added_permissive, added_indexes)
        VALUES (tbl, key_column, created_column, personal_columns, negotiator_column,
                email_column, mobile_column, tz, force_rls, rls.had, rls.had_force,
                added_permissive, ARRAY[due_idx, status_idx]);
        INSERT INTO rgpd.policies AS p (subject, name, archive_after, anonymise_after, applies_when, position)
        VALUES (tbl, 'default', interval '3 years', interval '5 years', NULL, 0);
    ELSE
        UPDATE rgpd.subjects AS x
           SET key_column = register_subject.key_column,
               created_column = register_subject.created_column,
               personal_columns = register_subject.personal_columns,
               negotiator_column = register_subject.negotiator_column,
               email_column = register_subject.email_column,
               mobile_column = register_subject.mobile_column,
               time_zone = tz,
               force_rls = register_subject.force_rls
         WHERE x.subject = tbl
        RETURNING x.had_force_rls INTO rls;
    END IF;

    -- FORCE ROW LEVEL SECURITY: the owner (often the role the application
    -- connects as) and views it owns see archived rows only as a manager.
    IF force_rls THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    ELSIF NOT (SELECT x.had_force_rls FROM rgpd.subjects AS x WHERE x.subject = tbl) THEN
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
    END IF;

    PERFORM rgpd._sync(tbl);
    PERFORM rgpd.recompute(tbl);
END
$$;
COMMENT ON FUNCTION rgpd.register_subject(regclass, name, name, name[], name, name, name, text, boolean) IS
    'Registers a subject table: adds last_contact and rgpd_status, the restricted-archive policy and the triggers';

CREATE FUNCTION rgpd.register_link(
    link                 regclass,
    subject              regclass,
    subject_columns      name[],
    date_columns         name[],
    personal_columns     jsonb   DEFAULT '{}',
    excludes_when        text    DEFAULT NULL,
    archive_with_subject boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    p_link regclass := register_link.link;
    p_subject regclass := register_link.subject;
    s rgpd.subjects;
    c name;
    k text;
    v jsonb;
    personal name[] := '{}';
    predicate text;
    subject_owner oid;
    link_owner oid;
    link_rls boolean;
    idx name;
    indexes name[] := '{}';
    added_column boolean := false;
BEGIN
    PERFORM rgpd._require_owner(p_link);
    PERFORM rgpd._require_owner(p_subject);
    s := rgpd._subject(p_subject, 'Register the subject first, with rgpd.register_subject().');
    IF p_link = p_subject OR EXISTS (SELECT 1 FROM rgpd.subjects AS x WHERE x.subject = p_link) THEN
        RAISE EXCEPTION 'table % is a subject table; it cannot also be a link', p_link
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    date_columns := coalesce(date_columns, '{}');
    personal_columns := coalesce(personal_columns, '{}');
    IF archive_with_subject IS NULL THEN
        RAISE EXCEPTION 'archive_with_subject must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;

    IF subject_columns IS NULL OR cardinality(subject_columns) = 0 THEN
        RAISE EXCEPTION 'link % needs at least one subject column', p_link
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the columns of the link that hold keys of the subject.';
    END IF;
    IF (SELECT count(*) <> count(DISTINCT x) FROM unnest(subject_columns) AS x) THEN
        RAISE EXCEPTION 'subject columns of link % name a column twice', p_link USING ERRCODE = 'duplicate_column';
    END IF;
    FOREACH c IN ARRAY subject_columns LOOP
        PERFORM rgpd._require_column(p_link, c, 'subject',
                                     ARRAY['smallint', 'integer', 'bigint']::regtype[]);
    END LOOP;
    IF (SELECT count(*) <> count(DISTINCT x) FROM unnest(date_columns) AS x) THEN
        RAISE EXCEPTION 'date columns of link % name a column twice', p_link USING ERRCODE = 'duplicate_column';
    END IF;
    FOREACH c IN ARRAY date_columns LOOP
        PERFORM rgpd._require_column(p_link, c, 'date',
            ARRAY['date', 'timestamp without time zone', 'timestamp with time zone']::regtype[]);
        IF c = ANY (subject_columns) THEN
            RAISE EXCEPTION 'column "%" of link % cannot be both a subject and a date column', c, p_link
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    -- personal columns: {"subject column": ["column", …], …}
    IF jsonb_typeof(personal_columns) <> 'object' THEN
        RAISE EXCEPTION 'personal_columns of link % must be a JSON object', p_link
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"client1_id": ["client1_name", "client1_phone"]}.';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(personal_columns) AS e LOOP
        IF NOT (k = ANY (subject_columns)) THEN
            RAISE EXCEPTION 'key "%" of personal_columns is not a subject column of link %', k, p_link
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Keys must be among %s.', subject_columns);
        END IF;
        IF jsonb_typeof(v) <> 'array' OR EXISTS (
                SELECT 1 FROM jsonb_array_elements(v) AS x WHERE jsonb_typeof(x) <> 'string') THEN
            RAISE EXCEPTION 'personal_columns."%" of link % must be an array of column names', k, p_link
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        personal := personal || ARRAY(SELECT CAST(x AS name) FROM jsonb_array_elements_text(v) AS x);
    END LOOP;
    PERFORM rgpd._check_personal(p_link, ARRAY(SELECT DISTINCT x FROM unnest(personal) AS x),
                                 subject_columns || date_columns,
                                 'a subject or date column of the link');

    IF excludes_when IS NOT NULL THEN
        predicate := rgpd._normalize_predicate(p_link, excludes_when);
    END IF;

    -- the engine reads the link as the owner of the subject table
    SELECT c2.relowner, c2.relrowsecurity INTO link_owner, link_rls FROM pg_class AS c2 WHERE c2.oid = p_link;
    SELECT c2.relowner INTO subject_owner FROM pg_class AS c2 WHERE c2.oid = p_subject;
    IF NOT has_table_privilege(subject_owner, p_link, 'SELECT') THEN
        RAISE EXCEPTION 'owner of % cannot read link %', p_subject, p_link
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'last_contact is computed as the owner of the subject table.',
                  HINT = format('GRANT SELECT ON %s TO %I;', p_link, pg_get_userbyid(subject_owner));
    END IF;
    IF link_rls AND link_owner <> subject_owner THEN
        RAISE EXCEPTION 'link % has row-level security and is not owned by the owner of %', p_link, p_subject
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Its policies would hide rows from the contact engine.',
                  HINT = 'Give both tables the same owner.';
    END IF;
    IF archive_with_subject AND NOT has_table_privilege(link_owner, p_subject, 'SELECT') THEN
        RAISE EXCEPTION 'owner of % cannot read subject %', p_link, p_subject
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT SELECT ON %s TO %I;', p_subject, pg_get_userbyid(link_owner));
    END IF;

    -- registering again replaces the earlier registration (its exclusion
    -- indexes go: the predicate may have changed)
    IF EXISTS (SELECT 1 FROM rgpd.links AS x WHERE x.link = p_link AND x.subject = p_subject) THEN
        SELECT x.added_indexes, x.added_archived_column INTO indexes, added_column
          FROM rgpd.links AS x WHERE x.link = p_link AND x.subject = p_subject;
        FOR idx IN SELECT i.indexrelid::regclass::text FROM pg_index AS i
                    WHERE i.indrelid = p_link AND i.indpred IS NOT NULL
                      AND (SELECT c2.relname FROM pg_class AS c2 WHERE c2.oid = i.indexrelid) = ANY (indexes) LOOP
            EXECUTE format('DROP INDEX %s', idx);
        END LOOP;
        indexes := ARRAY(SELECT x FROM unnest(indexes) AS x WHERE to_regclass(
                            quote_ident((SELECT n.nspname FROM pg_class AS c2 JOIN pg_namespace AS n
                                           ON n.oid = c2.relnamespace WHERE c2.oid = p_link))
                            || '.' || quote_ident(x)) IS NOT NULL);
        DELETE FROM rgpd.links AS x WHERE x.link = p_link AND x.subject = p_subject;
    END IF;

    IF archive_with_subject AND rgpd._column_type(p_link, 'rgpd_archived') IS NULL THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN rgpd_archived boolean NOT NULL DEFAULT false', p_link);
        EXECUTE format('COMMENT ON COLUMN %s.rgpd_archived IS %L', p_link,
                       'pericles_rgpd: every subject this row points at is archived');
        added_column := true;
    END IF;

    -- every subject column needs an index for recomputations and lookups
    FOREACH c IN ARRAY subject_columns LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_index AS i JOIN pg_attribute AS a
                                  ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                        WHERE i.indrelid = p_link AND a.attname = c AND i.indpred IS NULL) THEN
            idx := rgpd._index_name(p_link, c || '_rgpd_idx');
            EXECUTE format('CREATE INDEX %I ON %s (%I)', idx, p_link, c);
            indexes := indexes || idx;
        END IF;
    END LOOP;

    -- the exclusion test probes, per candidate subject, the link rows that
    -- satisfy excludes_when: a partial index with that very predicate keeps
    -- it off the heap (an index predicate must be immutable; otherwise the
    -- plain index above serves)
    IF predicate IS NOT NULL THEN
        FOREACH c IN ARRAY subject_columns LOOP
            idx := rgpd._index_name(p_link, c || '_rgpd_excl_idx');
            BEGIN
                EXECUTE format('CREATE INDEX %I ON %s (%I) WHERE %s', idx, p_link, c, predicate);
                indexes := indexes || idx;
            EXCEPTION WHEN invalid_object_definition OR feature_not_supported THEN
                NULL;
            END;
        END LOOP;
    END IF;

    INSERT INTO rgpd.links AS x (link, subject, subject_columns, date_columns, personal_columns,
                                 excludes_when, archive_with_subject, added_indexes, added_archived_column)
    VALUES (p_link, p_subject, subject_columns, date_columns, personal_columns,
            predicate, archive_with_subject, indexes, added_column);

    PERFORM rgpd._sync(p_subject);
    IF archive_with_subject THEN
        EXECUTE format(
            'UPDATE %s AS l SET rgpd_archived = true WHERE NOT l.rgpd_archived AND (%s)'
            ' AND NOT EXISTS (SELECT 1 FROM %s AS s WHERE (%s) AND s.rgpd_status = %L)',
            p_link,
            (SELECT string_agg(format('l.%I IS NOT NULL', x), ' OR ') FROM unnest(subject_columns) AS x),
            p_subject,
            (SELECT string_agg(format('s.%I = l.%I', s.key_column, x), ' OR ') FROM unnest(subject_columns) AS x),
            'active');
    END IF;
    PERFORM rgpd.recompute(p_subject);
END
$$;
COMMENT ON FUNCTION rgpd.register_link(regclass, regclass, name[], name[], jsonb, text, boolean) IS
    'Registers a table linked to a subject: its dates count as contacts, its personal columns are erased with the subject';

CREATE FUNCTION rgpd.unregister_link(link regclass, subject regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    l rgpd.links;
    idx name;
BEGIN
    PERFORM rgpd._require_owner(link);
    PERFORM rgpd._require_owner(subject);
    SELECT * INTO l FROM rgpd.links AS x WHERE x.link = unregister_link.link AND x.subject = unregister_link.subject;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not registered as a link of %', link, subject
            USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM rgpd.links AS x WHERE x.link = l.link AND x.subject = l.subject;
    DELETE FROM rgpd.erasures AS e WHERE e.tbl = l.link
       AND NOT EXISTS (SELECT 1 FROM rgpd.links AS x WHERE x.link = l.link);
    PERFORM rgpd._sync_link(l.link);
    PERFORM rgpd._sync(l.subject);

    FOREACH idx IN ARRAY l.added_indexes LOOP
        PERFORM rgpd._drop_own(l.link, 'index', idx);
    END LOOP;
    IF l.added_archived_column AND NOT EXISTS (
            SELECT 1 FROM rgpd.links AS x WHERE x.link = l.link AND x.archive_with_subject)
       AND EXISTS (SELECT 1 FROM pg_attribute AS a
                    WHERE a.attrelid = l.link AND a.attname = 'rgpd_archived' AND NOT a.attisdropped) THEN
        EXECUTE format('ALTER TABLE %s DROP COLUMN rgpd_archived', l.link);
    END IF;
    PERFORM rgpd.recompute(l.subject);
END
$$;
COMMENT ON FUNCTION rgpd.unregister_link(regclass, regclass) IS
    'Removes a link registration, its triggers and what registration added to the table';

CREATE FUNCTION rgpd.unregister_subject(subject regclass, cascade boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    s rgpd.subjects;
    l regclass;
    idx name;
BEGIN
    PERFORM rgpd._require_owner(subject);
    s := rgpd._subject(subject, NULL);
    IF EXISTS (SELECT 1 FROM rgpd.links AS x WHERE x.subject = s.subject) THEN
        IF NOT coalesce(cascade, false) THEN
            RAISE EXCEPTION 'table % still has registered links', subject
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = (SELECT 'Links: ' || string_agg(x.link::text, ', ' ORDER BY x.link::text)
                                  FROM rgpd.links AS x WHERE x.subject = s.subject),
                      HINT = 'Unregister them with rgpd.unregister_link(), or pass cascade => true.';
        END IF;
        FOR l IN SELECT x.link FROM rgpd.links AS x WHERE x.subject = s.subject LOOP
            PERFORM rgpd.unregister_link(l, s.subject);
        END LOOP;
    END IF;

    PERFORM rgpd._drop_own(s.subject, 'trigger', 'rgpd_subject_guard');
    PERFORM rgpd._drop_own(s.subject, 'trigger', 'rgpd_subject_insert');
    PERFORM rgpd._drop_own(s.subject, 'trigger', 'rgpd_subject_update');
    PERFORM rgpd._drop_own(s.subject, 'policy', 'rgpd_restricted_archive');
    IF s.added_permissive THEN
        PERFORM rgpd._drop_own(s.subject, 'policy', 'rgpd_visible');
    END IF;
    IF NOT s.had_rls THEN
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', s.subject);
    END IF;
    IF NOT s.had_force_rls THEN
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', s.subject);
    END IF;
    FOREACH idx IN ARRAY s.added_indexes LOOP
        PERFORM rgpd._drop_own(s.subject, 'index', idx);
    END LOOP;
    EXECUTE format('ALTER TABLE %s DROP COLUMN last_contact, DROP COLUMN rgpd_status,'
                   ' DROP COLUMN rgpd_contact_floor', s.subject);
    DELETE FROM rgpd.policies AS p WHERE p.subject = s.subject;
    DELETE FROM rgpd.erasures AS e WHERE e.tbl = s.subject;
    DELETE FROM rgpd.subjects AS x WHERE x.subject = s.subject;
    PERFORM rgpd._invalidate(s.subject);
END
$$;
COMMENT ON FUNCTION rgpd.unregister_subject(regclass, boolean) IS
    'Removes a subject registration: columns, triggers, policies and indexes added to the table';

-- A registered table that is dropped takes its configuration with it
-- (links of a dropped subject go too, and the triggers of link tables that
-- remain are re-created without it).  A registered column cannot be
-- dropped while it is registered.  SECURITY DEFINER: the configuration
-- rows of a table that no longer exists are nobody's to delete otherwise;
-- it only deletes rows about the objects being dropped.
CREATE FUNCTION rgpd._forget_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped oid[];
    col record;
    l regclass;
BEGIN
    SELECT array_agg(d.objid) INTO dropped
      FROM pg_event_trigger_dropped_objects() AS d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0;

    -- a registered column dropped from a table that stays
    FOR col IN
        SELECT d.objid::regclass AS tbl, a.attname
          FROM pg_event_trigger_dropped_objects() AS d
          JOIN pg_attribute AS a ON a.attrelid = d.objid AND a.attnum = d.objsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0
           AND NOT d.objid = ANY (coalesce(dropped, '{}'))
    LOOP
        IF EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject = col.tbl
                      AND col.attname IN (s.key_column, s.created_column, s.negotiator_column,
                                          s.email_column, s.mobile_column))
           OR EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject = col.tbl
                         AND col.attname = ANY (s.personal_columns))
           OR EXISTS (SELECT 1 FROM rgpd.links AS x WHERE x.link = col.tbl
                         AND (col.attname = ANY (x.subject_columns || x.date_columns)
                              OR x.personal_columns::text LIKE '%"' || col.attname || '"%'))
        THEN
            RAISE EXCEPTION 'column "%" of table % is registered with pericles_rgpd', col.attname, col.tbl
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Register the table again without it (or unregister the table) first.';
        END IF;
    END LOOP;

    IF dropped IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM rgpd.links AS x WHERE x.subject::oid = ANY (dropped) OR x.link::oid = ANY (dropped);
    DELETE FROM rgpd.policies AS p WHERE p.subject::oid = ANY (dropped);
    DELETE FROM rgpd.erasures AS e WHERE e.tbl::oid = ANY (dropped);
    DELETE FROM rgpd.subjects AS x WHERE x.subject::oid = ANY (dropped);
    -- stored exports hold personal data of rows that no longer exist
    DELETE FROM rgpd.exports AS e WHERE e.subject::oid = ANY (dropped);
    -- the current state about people who no longer exist goes too, so that
    -- a table that later reuses the OID inherits nothing; the append-only
    -- proof (journal, opt-in and consent events) stays, as proof does
    DELETE FROM rgpd.consents AS c WHERE c.subject::oid = ANY (dropped);
    DELETE FROM rgpd.objections AS o WHERE o.subject::oid = ANY (dropped);
    DELETE FROM rgpd.provenance AS p WHERE p.subject::oid = ANY (dropped);
    DELETE FROM rgpd.recontact_tasks AS t WHERE t.subject::oid = ANY (dropped);
    -- link tables that remain lose the triggers of the dropped subjects
    FOR l IN SELECT c.oid::regclass FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
              WHERE t.tgname = 'rgpd_link_insert' AND NOT c.oid = ANY (dropped) LOOP
        PERFORM rgpd._sync_link(l);
    END LOOP;
END
$$;
CREATE EVENT TRIGGER rgpd_forget_dropped ON sql_drop EXECUTE FUNCTION rgpd._forget_dropped();

/* ------------------------------------------------------------------ *
 * 6. Policies, erasure methods, lists, dashboard, scheduling
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd.set_policy(subject regclass,
                                archive_after interval DEFAULT '3 years',
                                anonymise_after interval DEFAULT '5 years',
                                applies_when text DEFAULT NULL,
                                name text DEFAULT 'default')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    predicate text;
BEGIN
    PERFORM rgpd._require_owner(subject);
    PERFORM rgpd._subject(subject);
    IF name IS NULL OR archive_after IS NULL OR anonymise_after IS NULL THEN
        RAISE EXCEPTION 'policy name and periods must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF archive_after <= interval '0' THEN
        RAISE EXCEPTION 'archive_after of policy "%" must be positive, not %', name, archive_after
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF archive_after >= anonymise_after THEN
        RAISE EXCEPTION 'archive_after (%) of policy "%" must be shorter than anonymise_after (%)',
                        archive_after, name, anonymise_after
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Records are archived first, anonymised later.';
    END IF;
    IF name = 'default' AND applies_when IS NOT NULL THEN
        RAISE EXCEPTION 'the default policy applies to every row and takes no predicate'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the policy a name to make it apply only where the predicate holds.';
    END IF;
    IF name <> 'default' AND applies_when IS NULL THEN
        RAISE EXCEPTION 'policy "%" needs a predicate (applies_when)', name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Only the policy named ''default'' applies to every row.';
    END IF;
    IF applies_when IS NOT NULL THEN
        predicate := rgpd._normalize_predicate(subject, applies_when);
    END IF;

    INSERT INTO rgpd.policies AS p (subject, name, archive_after, anonymise_after, applies_when, position)
    VALUES (subject, name, archive_after, anonymise_after, predicate,
            (SELECT coalesce(max(x.position), 0) + 1 FROM rgpd.policies AS x WHERE x.subject = set_policy.subject))
    ON CONFLICT ON CONSTRAINT policies_pkey DO UPDATE
       SET archive_after = EXCLUDED.archive_after,
           anonymise_after = EXCLUDED.anonymise_after,
           applies_when = EXCLUDED.applies_when;
    PERFORM rgpd._invalidate(subject);
END
$$;
COMMENT ON FUNCTION rgpd.set_policy(regclass, interval, interval, text, text) IS
    'Sets the retention periods of a subject table (named policies with a predicate are tried first)';

CREATE FUNCTION rgpd.drop_policy(subject regclass, name text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    PERFORM rgpd._require_owner(subject);
    IF name = 'default' THEN
        RAISE EXCEPTION 'the default policy cannot be dropped'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Change it with rgpd.set_policy().';
    END IF;
    DELETE FROM rgpd.policies AS p WHERE p.subject = drop_policy.subject AND p.name = drop_policy.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" of table % does not exist', name, subject USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM rgpd._invalidate(subject);
END
$$;

CREATE FUNCTION rgpd.set_erasure(tbl regclass, col name, method text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    s regclass;
BEGIN
    PERFORM rgpd._require_owner(tbl);
    IF method IS NULL THEN
        RAISE EXCEPTION 'erasure method must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF method NOT IN ('mask', 'null', 'empty', 'pseudonym', 'delete_row') THEN
        RAISE EXCEPTION 'unknown erasure method "%"', method
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use one of mask, null, empty, pseudonym, delete_row.';
    END IF;
    PERFORM rgpd._require_column(tbl, col, 'erased');
    IF method = 'delete_row' AND NOT EXISTS (
            SELECT 1 FROM rgpd.links AS l WHERE l.link = tbl AND col = ANY (l.subject_columns)) THEN
        RAISE EXCEPTION 'erasure method delete_row applies to a subject column of a registered link'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Column "%s" of table %s is not one.', col, tbl),
                  HINT = 'Register the link first; rows pointing at an anonymised subject through that column are then deleted.';
    END IF;
    PERFORM rgpd._check_erasure(tbl, col, method);
    INSERT INTO rgpd.erasures AS e (tbl, col, method) VALUES (tbl, col, method)
    ON CONFLICT ON CONSTRAINT erasures_pkey DO UPDATE SET method = EXCLUDED.method;

    -- triggers carry the delete_row columns: re-create them
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x WHERE x.subject = tbl
             UNION SELECT l.subject FROM rgpd.links AS l WHERE l.link = tbl LOOP
        PERFORM rgpd._sync(s);
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.set_erasure(regclass, name, text) IS
    'Chooses how a personal column is erased: mask, null, empty, pseudonym, or delete_row for a link';

CREATE FUNCTION rgpd.verify(subject regclass)
    RETURNS TABLE (id bigint, stored date, expected date)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE rgpd._sql(subject, 'verify');
END
$$;
COMMENT ON FUNCTION rgpd.verify(regclass) IS
    'Rows whose stored last_contact differs from a full recomputation (empty when healthy)';

CREATE FUNCTION rgpd.is_excluded(subject regclass, id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r boolean;
BEGIN
    EXECUTE rgpd._sql(subject, 'is_excluded') INTO r USING id;
    RETURN r;
END
$$;
COMMENT ON FUNCTION rgpd.is_excluded(regclass, bigint) IS
    'True when a linked row matching its link''s excludes_when (e.g. a rental) keeps the subject out of the engine';

CREATE FUNCTION rgpd.pending(action text, as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (subject regclass, id bigint, last_contact date, due_on date, policy text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s regclass;
BEGIN
    IF pending.action IS NULL OR pending.action NOT IN ('archive', 'anonymise') THEN
        RAISE EXCEPTION 'unknown action "%"', pending.action
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''archive'' or ''anonymise''.';
    END IF;
    IF pending.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the list to anonymise is shown only to personal-data managers
    IF pending.action = 'anonymise' AND NOT rgpd.is_manager() THEN
        RETURN;
    END IF;
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::text LOOP
        RETURN QUERY EXECUTE format(
            'SELECT q.subject, q.id, q.last_contact, q.due_on, q.policy FROM (%s) AS q'
            ' WHERE NOT q.excluded ORDER BY q.due_on, q.id',
            rgpd._sql(s, 'due_' || pending.action)) USING pending.as_of;
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.pending(text, date) IS
    'Subjects due for archive or anonymise by the end of the month of as_of, overdue included';

CREATE VIEW rgpd.pending_archive AS
    SELECT p.subject, p.id, p.last_contact, p.due_on, p.policy FROM rgpd.pending('archive') AS p;
COMMENT ON VIEW rgpd.pending_archive IS 'To archive before the end of this month';
CREATE VIEW rgpd.pending_anonymise AS
    SELECT p.subject, p.id, p.last_contact, p.due_on, p.policy FROM rgpd.pending('anonymise') AS p;
COMMENT ON VIEW rgpd.pending_anonymise IS 'To anonymise before the end of this month (rows only for managers)';

CREATE FUNCTION rgpd.dashboard(as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (subject regclass, to_archive bigint, to_anonymise bigint,
                   archived bigint, anonymised bigint, excluded bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s regclass;
    manager boolean := rgpd.is_manager();
BEGIN
    IF dashboard.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::text LOOP
        subject := s;
        EXECUTE format(
            'SELECT count(*) FILTER (WHERE q.action = 1 AND NOT q.excluded),'
            '       count(*) FILTER (WHERE q.action = 2 AND NOT q.excluded),'
            '       count(DISTINCT q.id) FILTER (WHERE q.excluded)'
            '  FROM (SELECT 1 AS action, a.id, a.excluded FROM (%s) AS a'
            '        UNION ALL'
            '        SELECT 2, n.id, n.excluded FROM (%s) AS n WHERE $2) AS q',
            rgpd._sql(s, 'due_archive'), rgpd._sql(s, 'due_anonymise'))
          INTO to_archive, to_anonymise, excluded
          USING dashboard.as_of, manager;
        EXECUTE format(
            'SELECT count(*) FILTER (WHERE s.rgpd_status = %L), count(*) FILTER (WHERE s.rgpd_status = %L)'
            '  FROM %s AS s WHERE s.rgpd_status <> %L',
            'archived', 'anonymised', s, 'active')
          INTO archived, anonymised;
        IF NOT manager THEN
            -- the archive and the list to anonymise are for managers only
            to_anonymise := NULL;
            archived := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.dashboard(date) IS
    'Home-page counts per subject table (to_anonymise and archived are NULL for non-managers)';

-- Where else do these values appear?  Every text column of every table the
-- caller can read, outside PostgreSQL's and the extension's schemas, is
-- searched (case-insensitive, as a substring: free-text notes count), and
-- reported with whether anonymisation erases it.
CREATE FUNCTION rgpd.scan(vals text[])
    RETURNS TABLE (tbl regclass, col name, matches bigint, erased_by_anonymise boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    n bigint;
    needles text[];
BEGIN
    -- values too short to mean anything (initials, empty strings) are skipped
    SELECT array_agg(DISTINCT lower(v)) INTO needles
      FROM unnest(vals) AS v WHERE length(btrim(v)) >= 3;
    IF needles IS NULL THEN
        RETURN;
    END IF;
    FOR c IN
        SELECT a.attrelid::regclass AS t, a.attname AS a
          FROM pg_attribute AS a
          JOIN pg_class AS k ON k.oid = a.attrelid
          JOIN pg_namespace AS ns ON ns.oid = k.relnamespace
          JOIN pg_type AS ty ON ty.oid = a.atttypid
         WHERE k.relkind IN ('r', 'p') AND NOT k.relispartition
           AND ns.nspname NOT IN ('pg_catalog', 'information_schema', 'rgpd')
           AND ns.nspname NOT LIKE 'pg\_%'
           AND a.attnum > 0 AND NOT a.attisdropped
           AND ty.typcategory = 'S'
           AND has_schema_privilege(ns.oid, 'USAGE')
           AND has_column_privilege(a.attrelid, a.attnum, 'SELECT')
         ORDER BY k.oid::regclass::text, a.attnum
    LOOP
        EXECUTE format('SELECT count(*) FROM %s AS t WHERE EXISTS (SELECT 1 FROM unnest($1) AS v'
                       ' WHERE strpos(lower(CAST(t.%I AS text)), v) > 0)', c.t, c.a)
           INTO n USING needles;
        IF n > 0 THEN
            tbl := c.t;
            col := c.a;
            matches := n;
            erased_by_anonymise :=
                EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject = c.t AND c.a = ANY (s.personal_columns))
                OR EXISTS (SELECT 1 FROM rgpd.links AS l, rgpd._link_personal(l) AS lp
                            WHERE l.link = c.t AND lp.personal_column = c.a);
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.scan(text[]) IS
    'Every readable text column holding one of these values, and whether anonymisation erases it';

-- The same, for the personal values a subject holds now.
CREATE FUNCTION rgpd.scan(subject regclass, id bigint)
    RETURNS TABLE (tbl regclass, col name, matches bigint, erased_by_anonymise boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    s rgpd.subjects;
    vals text[];
BEGIN
    s := rgpd._subject(subject);
    IF cardinality(s.personal_columns) = 0 THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT ARRAY[%s] FROM %s AS x WHERE x.%I = $1',
                   (SELECT string_agg(format('CAST(x.%I AS text)', p), ', ') FROM unnest(s.personal_columns) AS p),
                   s.subject, s.key_column)
       INTO vals USING id;
    IF vals IS NULL THEN
        RAISE EXCEPTION 'table % has no row with % = %', subject, s.key_column, id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN QUERY SELECT * FROM rgpd.scan(vals);
END
$$;
COMMENT ON FUNCTION rgpd.scan(regclass, bigint) IS
    'Where the personal values a subject holds now also appear: what registration may have missed';

CREATE FUNCTION rgpd.schedule_sweep(schedule text DEFAULT '0 3 1 * *',
                                    username name DEFAULT 'rgpd_sweeper')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    r record;
    jobid bigint;
BEGIN
    IF schedule IS NULL OR username IS NULL THEN
        RAISE EXCEPTION 'schedule and username must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries in postgresql.conf, set cron.database_name = %L, restart the server, then run CREATE EXTENSION pg_cron;',
                                current_database());
    END IF;
    SELECT rolname, rolsuper, rolcanlogin,
           pg_has_role(oid, 'rgpd_manager', 'USAGE') AS manager
      INTO r FROM pg_roles WHERE rolname = username;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', username
            USING ERRCODE = 'undefined_object',
                  HINT = format('Create the role the sweep runs as: CREATE ROLE %I LOGIN; GRANT rgpd_manager TO %I;',
                                username, username);
    END IF;
    IF r.rolsuper THEN
        RAISE EXCEPTION 'the sweep must not run as superuser "%"', username
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a role that is a member of rgpd_manager and owns no application data.';
    END IF;
    IF NOT r.rolcanlogin OR NOT r.manager THEN
        RAISE EXCEPTION 'role "%" cannot run the sweep', username
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'pg_cron connects as the role, which must be able to log in and be a member of rgpd_manager.',
                  HINT = format('ALTER ROLE %I LOGIN; GRANT rgpd_manager TO %I;', username, username);
    END IF;
    EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, $5, true)'
       INTO jobid
      USING 'rgpd-monthly-sweep', schedule, 'SELECT * FROM rgpd.sweep()', current_database(), username::text;
    RETURN jobid;
END
$$;
COMMENT ON FUNCTION rgpd.schedule_sweep(text, name) IS
    'Schedules the monthly sweep with pg_cron (job rgpd-monthly-sweep), run as a non-superuser manager role';

CREATE FUNCTION rgpd.unschedule_sweep() RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add pg_cron to shared_preload_libraries and CREATE EXTENSION pg_cron.';
    END IF;
    -- by id: unschedule-by-name only finds the caller's own jobs, and the
    -- job runs as another role
    EXECUTE 'SELECT bool_and(cron.unschedule(j.jobid)) FROM cron.job AS j WHERE j.jobname = $1'
       INTO done USING 'rgpd-monthly-sweep';
    RETURN coalesce(done, false);
END
$$;
COMMENT ON FUNCTION rgpd.unschedule_sweep() IS 'Removes the pg_cron job rgpd-monthly-sweep';

/* ------------------------------------------------------------------ *
 * 7. Consent and the right to object
 *
 * Campaigns are agency-wide; consent events are proof and append-only;
 * rgpd.consents keeps the current value per subject and campaign (the
 * latest event by the time the person gave it), so that the list of
 * recipients does not have to read the whole history.  All of it holds
 * identifiers, never personal values, and survives anonymisation.
 * ------------------------------------------------------------------ */

CREATE TABLE rgpd.campaigns (
    id            integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    label         text NOT NULL UNIQUE CHECK (label <> ''),
    channel       text NOT NULL CHECK (channel IN ('mail', 'sms')),
    mandatory     boolean NOT NULL DEFAULT false,
    state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'inactive', 'deleted')),
    display_order integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE rgpd.campaigns IS
    'Mailing and SMS campaigns; a mandatory one (invoices, contract messages) cannot be refused';

CREATE TABLE rgpd.consent_events (
    id          bigserial PRIMARY KEY,
    subject     regclass NOT NULL,
    subject_id  bigint NOT NULL,
    campaign_id integer NOT NULL,
    value       boolean NOT NULL,
    origin      text NOT NULL,
    at          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    recorded_by name NOT NULL DEFAULT CURRENT_USER
);
CREATE INDEX consent_events_subject_idx ON rgpd.consent_events (subject, subject_id, at);
COMMENT ON TABLE rgpd.consent_events IS
    'Every consent given or withdrawn (date, time, origin, value): the proof, append-only';

CREATE TABLE rgpd.consents (
    campaign_id integer NOT NULL,
    subject     regclass NOT NULL,
    subject_id  bigint NOT NULL,
    value       boolean NOT NULL,
    at          timestamptz NOT NULL,
    event_id    bigint NOT NULL,
    PRIMARY KEY (campaign_id, subject, subject_id)
);
CREATE INDEX consents_subject_idx ON rgpd.consents (subject, subject_id);
COMMENT ON TABLE rgpd.consents IS
    'Current consent per subject and campaign (the latest event), kept by rgpd.set_consent()';

CREATE TABLE rgpd.objections (
    subject      regclass NOT NULL,
    subject_id   bigint NOT NULL,
    do_not_email boolean NOT NULL DEFAULT false,
    do_not_call  boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (subject, subject_id)
);
COMMENT ON TABLE rgpd.objections IS
    'Right to object: do-not-e-mail and do-not-call flags (their history is in the journal)';

CREATE TABLE rgpd.provenance (
    subject     regclass NOT NULL,
    subject_id  bigint NOT NULL,
    source      text NOT NULL CHECK (source <> ''),
    legal_basis text NOT NULL
                CHECK (legal_basis IN ('consent', 'contract', 'legitimate interest', 'legal obligation')),
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    recorded_by name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (subject, subject_id)
);
COMMENT ON TABLE rgpd.provenance IS
    'Where a person''s data came from, and the legal basis of its processing';

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON rgpd.consent_events
    FOR EACH ROW EXECUTE FUNCTION rgpd._append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON rgpd.consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd._append_only();

-- Readable by managers and by the owners of the subject tables (the
-- recipients list and the export run as them); written only through the
-- functions below.
ALTER TABLE rgpd.consent_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE rgpd.consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE rgpd.objections ENABLE ROW LEVEL SECURITY;
ALTER TABLE rgpd.provenance ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_manager ON rgpd.consent_events FOR SELECT
    USING (rgpd.is_manager() OR rgpd._owns(subject));
CREATE POLICY owner_or_manager ON rgpd.consents FOR SELECT
    USING (rgpd.is_manager() OR rgpd._owns(subject));
CREATE POLICY owner_or_manager ON rgpd.objections FOR SELECT
    USING (rgpd.is_manager() OR rgpd._owns(subject));
CREATE POLICY owner_or_manager ON rgpd.provenance FOR SELECT
    USING (rgpd.is_manager() OR rgpd._owns(subject));

SELECT pg_catalog.pg_extension_config_dump('rgpd.campaigns', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.consent_events', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.consent_events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.consents', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.objections', '');
SELECT pg_catalog.pg_extension_config_dump('rgpd.provenance', '');

CREATE VIEW rgpd.current_consents WITH (security_invoker = true) AS
    SELECT c.subject, c.subject_id, k.label AS campaign, k.channel, k.mandatory,
           c.value, c.at
      FROM rgpd.consents AS c
      JOIN rgpd.campaigns AS k ON k.id = c.campaign_id;
COMMENT ON VIEW rgpd.current_consents IS
    'Current consent per subject and campaign (mandatory campaigns are consented without an event)';

-- Campaigns: managed by personal-data managers, who may write
-- rgpd.campaigns (its constraints keep it valid); changes are journaled
-- with the manager as actor.
CREATE FUNCTION rgpd._journal_campaign(action text, detail jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_journal_campaign' LANGUAGE C STRICT;

CREATE FUNCTION rgpd._campaign(p_label text) RETURNS rgpd.campaigns
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c rgpd.campaigns;
BEGIN
    SELECT * INTO c FROM rgpd.campaigns AS x WHERE x.label = p_label;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign "%" does not exist', p_label
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with rgpd.create_campaign().';
    END IF;
    RETURN c;
END
$$;

CREATE FUNCTION rgpd.create_campaign(label text, channel text, mandatory boolean DEFAULT false,
                                     display_order integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    new_id integer;
BEGIN
    IF label IS NULL OR btrim(label) = '' THEN
        RAISE EXCEPTION 'a campaign needs a label' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF channel IS NULL OR channel NOT IN ('mail', 'sms') THEN
        RAISE EXCEPTION 'unknown channel "%" for campaign "%"', channel, label
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A campaign goes by ''mail'' or ''sms''.';
    END IF;
    IF mandatory IS NULL THEN
        RAISE EXCEPTION 'mandatory must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM rgpd.campaigns AS x WHERE x.label = create_campaign.label) THEN
        RAISE EXCEPTION 'campaign "%" already exists', label
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Change it with rgpd.alter_campaign().';
    END IF;
    INSERT INTO rgpd.campaigns AS x (label, channel, mandatory, display_order)
    VALUES (label, channel, mandatory,
            coalesce(display_order, (SELECT coalesce(max(y.display_order), 0) + 1 FROM rgpd.campaigns AS y)))
    RETURNING x.id INTO new_id;
    PERFORM rgpd._journal_campaign('create_campaign',
        jsonb_build_object('campaign', label, 'channel', channel, 'mandatory', mandatory));
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION rgpd.create_campaign(text, text, boolean, integer) IS
    'Creates a campaign (channel mail or sms); a mandatory one is consented by default and cannot be refused';

CREATE FUNCTION rgpd.alter_campaign(label text, new_label text DEFAULT NULL, channel text DEFAULT NULL,
                                    mandatory boolean DEFAULT NULL, state text DEFAULT NULL,
                                    display_order integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    c rgpd.campaigns := rgpd._campaign(label);
BEGIN
    IF c.state = 'deleted' THEN
        RAISE EXCEPTION 'campaign "%" is deleted', label
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF channel IS NOT NULL AND channel NOT IN ('mail', 'sms') THEN
        RAISE EXCEPTION 'unknown channel "%" for campaign "%"', channel, label
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A campaign goes by ''mail'' or ''sms''.';
    END IF;
    IF state IS NOT NULL AND state NOT IN ('active', 'inactive') THEN
        RAISE EXCEPTION 'unknown campaign state "%"', state
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''active'' or ''inactive''; rgpd.delete_campaign() deletes.';
    END IF;
    IF new_label IS NOT NULL AND (btrim(new_label) = '' OR EXISTS (
            SELECT 1 FROM rgpd.campaigns AS x WHERE x.label = new_label AND x.id <> c.id)) THEN
        RAISE EXCEPTION 'campaign label "%" is empty or already used', new_label
            USING ERRCODE = 'duplicate_object';
    END IF;
    UPDATE rgpd.campaigns AS x
       SET label = coalesce(new_label, x.label),
           channel = coalesce(alter_campaign.channel, x.channel),
           mandatory = coalesce(alter_campaign.mandatory, x.mandatory),
           state = coalesce(alter_campaign.state, x.state),
           display_order = coalesce(alter_campaign.display_order, x.display_order)
     WHERE x.id = c.id;
    PERFORM rgpd._journal_campaign('alter_campaign', jsonb_strip_nulls(jsonb_build_object(
        'campaign', label, 'new_label', new_label, 'channel', channel, 'mandatory', mandatory,
        'state', state, 'display_order', display_order)));
END
$$;
COMMENT ON FUNCTION rgpd.alter_campaign(text, text, text, boolean, text, integer) IS
    'Changes a campaign (label, channel, mandatory, state active/inactive, display order)';

CREATE FUNCTION rgpd.delete_campaign(label text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    c rgpd.campaigns := rgpd._campaign(label);
BEGIN
    -- the row stays, as its consent history refers to it
    UPDATE rgpd.campaigns AS x SET state = 'deleted' WHERE x.id = c.id;
    PERFORM rgpd._journal_campaign('delete_campaign', jsonb_build_object('campaign', label));
END
$$;
COMMENT ON FUNCTION rgpd.delete_campaign(text) IS
    'Deletes a campaign; its consent history is kept (the campaign stays, in state deleted)';

CREATE FUNCTION rgpd.set_consent(subject regclass, id bigint, campaign text, value boolean,
                                 origin text, at timestamptz DEFAULT pg_catalog.now())
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_set_consent' LANGUAGE C;
COMMENT ON FUNCTION rgpd.set_consent(regclass, bigint, text, boolean, text, timestamptz) IS
    'Records a consent given (true) or withdrawn (false) to a campaign, with its origin; returns the event id';

CREATE FUNCTION rgpd.consent_history(subject regclass, id bigint)
    RETURNS TABLE (campaign text, channel text, value boolean, origin text, at timestamptz,
                   recorded_at timestamptz, recorded_by name)
    AS 'MODULE_PATHNAME', 'rgpd_consent_history' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.consent_history(regclass, bigint) IS
    'Every consent event of one subject, oldest first: the proof of consent';

CREATE FUNCTION rgpd.object(subject regclass, id bigint, channel text, origin text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_object' LANGUAGE C;
CREATE FUNCTION rgpd.withdraw_objection(subject regclass, id bigint, channel text, origin text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_withdraw_objection' LANGUAGE C;
COMMENT ON FUNCTION rgpd.object(regclass, bigint, text, text) IS
    'Right to object: sets do_not_email (channel email) or do_not_call (channel call); true if it changed';
COMMENT ON FUNCTION rgpd.withdraw_objection(regclass, bigint, text, text) IS
    'Lifts an objection set by rgpd.object(); true if it changed';

CREATE FUNCTION rgpd.set_provenance(subject regclass, id bigint, source text, legal_basis text) RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_set_provenance' LANGUAGE C;
COMMENT ON FUNCTION rgpd.set_provenance(regclass, bigint, text, text) IS
    'Records where a person''s data came from and the legal basis (consent, contract, legitimate interest, legal obligation)';

CREATE FUNCTION rgpd.recipients(campaign text)
    RETURNS TABLE (subject regclass, id bigint, contact text)
    AS 'MODULE_PATHNAME', 'rgpd_recipients' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd.recipients(text) IS
    'Whom a campaign may reach: consented (or mandatory), not objected, active, with an address for its channel';

-- The list of recipients of a campaign for one subject table, as SQL ($1:
-- campaign id).  Active subjects with a contact value for the channel, not
-- objected on it, and consented unless the campaign is mandatory.
CREATE FUNCTION rgpd._recipients_sql(p_subject regclass, p_campaign integer) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
    c rgpd.campaigns;
    contact name;
    sid text := format('CAST(%s AS pg_catalog.oid)', p_subject::oid);
BEGIN
    SELECT * INTO STRICT s FROM rgpd.subjects AS x WHERE x.subject = p_subject;
    SELECT * INTO STRICT c FROM rgpd.campaigns AS x WHERE x.id = p_campaign;
    contact := CASE c.channel WHEN 'mail' THEN s.email_column ELSE s.mobile_column END;
    IF contact IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN format(
        'SELECT CAST(%1$s AS pg_catalog.regclass), CAST(s.%2$I AS pg_catalog.int8), CAST(s.%3$I AS pg_catalog.text)'
        '  FROM %4$s AS s'
        ' %5$s'
        ' WHERE s.rgpd_status OPERATOR(pg_catalog.=) %6$L::rgpd.status'
        '   AND s.%3$I IS NOT NULL AND CAST(s.%3$I AS pg_catalog.text) OPERATOR(pg_catalog.<>) %7$L'
        '   AND NOT EXISTS (SELECT 1 FROM rgpd.objections AS o'
        '                    WHERE o.subject OPERATOR(pg_catalog.=) %1$s'
        '                      AND o.subject_id OPERATOR(pg_catalog.=) s.%2$I AND o.%8$I)'
        ' ORDER BY 2',
        sid, s.key_column, contact, p_subject,
        CASE WHEN c.mandatory THEN ''
             ELSE format('JOIN rgpd.consents AS k ON k.campaign_id OPERATOR(pg_catalog.=) $1'
                         ' AND k.subject OPERATOR(pg_catalog.=) %s'
                         ' AND k.subject_id OPERATOR(pg_catalog.=) s.%I AND k.value', sid, s.key_column) END,
        'active', '',
        CASE c.channel WHEN 'mail' THEN 'do_not_email' ELSE 'do_not_call' END);
END
$$;

-- What pericles_rgpd itself holds on a subject, for rgpd.export().
CREATE FUNCTION rgpd._export_extras(p_subject regclass, p_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the session
    RETURN jsonb_build_object(
        'optins', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'at', o.at, 'origin', o.origin,
                              'recorded_at', o.recorded_at, 'recorded_by', o.recorded_by)
                          ORDER BY o.at, o.id), '[]')
                     FROM rgpd.optin_events AS o
                    WHERE o.subject = p_subject AND o.subject_id = p_id),
        'consents', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'campaign', k.label, 'channel', k.channel, 'value', e.value,
                                'origin', e.origin, 'at', e.at,
                                'recorded_at', e.recorded_at, 'recorded_by', e.recorded_by)
                            ORDER BY e.at, e.id), '[]')
                       FROM rgpd.consent_events AS e JOIN rgpd.campaigns AS k ON k.id = e.campaign_id
                      WHERE e.subject = p_subject AND e.subject_id = p_id),
        'objections', (SELECT jsonb_build_object('do_not_email', o.do_not_email,
                                                 'do_not_call', o.do_not_call,
                                                 'updated_at', o.updated_at)
                         FROM rgpd.objections AS o
                        WHERE o.subject = p_subject AND o.subject_id = p_id),
        'provenance', (SELECT jsonb_build_object('source', p.source, 'legal_basis', p.legal_basis,
                                                 'recorded_at', p.recorded_at)
                         FROM rgpd.provenance AS p
                        WHERE p.subject = p_subject AND p.subject_id = p_id),
        'recontact_tasks', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                       'reason', t.reason, 'created_at', t.created_at,
                                       'done_at', t.done_at)
                                   ORDER BY t.id), '[]')
                              FROM rgpd.recontact_tasks AS t
                             WHERE t.subject = p_subject AND t.subject_id = p_id),
        'journal', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                               'at', j.at, 'actor', j.actor, 'action', j.action, 'detail', j.detail)
                           ORDER BY j.id), '[]')
                      FROM rgpd.journal AS j
                     WHERE j.subject = p_subject AND j.subject_id = p_id));
END
$$;

/* ------------------------------------------------------------------ *
 * 8. Privileges
 *
 * Nothing is granted to PUBLIC by default; what follows is deliberate.
 * ------------------------------------------------------------------ */

REVOKE ALL ON ALL TABLES IN SCHEMA rgpd FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA rgpd FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA rgpd FROM PUBLIC;
GRANT USAGE ON SCHEMA rgpd TO PUBLIC;

-- configuration: readable by all, written by table owners (RLS above)
GRANT SELECT, INSERT, UPDATE, DELETE ON rgpd.subjects, rgpd.links, rgpd.policies, rgpd.erasures TO PUBLIC;
-- state readable by those it concerns (RLS above), written by the functions
GRANT SELECT ON rgpd.optin_events, rgpd.consent_events, rgpd.consents, rgpd.objections,
                rgpd.provenance TO PUBLIC;
GRANT SELECT ON rgpd.recontact_tasks, rgpd.campaigns TO PUBLIC;
GRANT UPDATE (done_at) ON rgpd.recontact_tasks TO PUBLIC;
GRANT SELECT ON rgpd.journal, rgpd.exports TO rgpd_manager;
GRANT SELECT ON rgpd.pending_archive, rgpd.pending_anonymise, rgpd.current_consents TO PUBLIC;

-- used inside row-level security policies and generated statements,
-- which run as the querying user or as table owners
GRANT EXECUTE ON FUNCTION rgpd.is_manager(), rgpd._owns(regclass),
    rgpd._month_end(date), rgpd._cutoff(date, interval),
    rgpd._sql(regclass, text, regclass, name) TO PUBLIC;
-- trigger functions (checked when the triggers are created)
GRANT EXECUTE ON FUNCTION rgpd.link_trigger(), rgpd.subject_trigger() TO PUBLIC;

-- registration: the owner of the tables (checked inside)
GRANT EXECUTE ON FUNCTION
    rgpd.register_subject(regclass, name, name, name[], name, name, name, text, boolean),
    rgpd.register_link(regclass, regclass, name[], name[], jsonb, text, boolean),
    rgpd.unregister_link(regclass, regclass),
    rgpd.unregister_subject(regclass, boolean),
    rgpd.set_policy(regclass, interval, interval, text, text),
    rgpd.drop_policy(regclass, text),
    rgpd.set_erasure(regclass, name, text),
    rgpd.erasure_method(regclass, name),
    rgpd.recompute(regclass),
    rgpd.verify(regclass)
    TO PUBLIC;
GRANT EXECUTE ON FUNCTION
    rgpd._require_owner(regclass), rgpd._subject(regclass, text), rgpd._require_column(regclass, name, text, regtype[]),
    rgpd._check_erasure(regclass, name, text), rgpd._check_personal(regclass, name[], name[], text),
    rgpd._index_name(regclass, text), rgpd._sync(regclass), rgpd._sync_link(regclass),
    rgpd._drop_own(regclass, text, name),
    rgpd._invalidate(regclass), rgpd._normalize_predicate(regclass, text),
    rgpd._column_type(regclass, name), rgpd._day(regclass, name, text, text),
    rgpd._greatest_day(regclass, name[], text, text), rgpd._differs(text, text),
    rgpd._in_ids(text, name, text), rgpd._row_key(regclass), rgpd._erased_value(regclass, name, text),
    rgpd._link_personal(rgpd.links), rgpd._link_deleted(rgpd.links),
    rgpd._policy_case(regclass, text, text, text), rgpd._max_cutoff(regclass, text, text),
    rgpd._excluded(regclass, text), rgpd._contacts(regclass, boolean)
    TO PUBLIC;

-- lists and everyday actions: checks inside (UPDATE or SELECT on the
-- table, or the manager right; archived rows exist only for managers)
GRANT EXECUTE ON FUNCTION
    rgpd.pending(text, date), rgpd.dashboard(date), rgpd.is_excluded(regclass, bigint),
    rgpd.scan(text[]), rgpd.scan(regclass, bigint),
    rgpd.archive(regclass, bigint), rgpd.archive(regclass, bigint[]),
    rgpd.optin(regclass, bigint, text, timestamptz),
    rgpd.export(regclass, bigint),
    rgpd.set_consent(regclass, bigint, text, boolean, text, timestamptz),
    rgpd.consent_history(regclass, bigint),
    rgpd.object(regclass, bigint, text, text),
    rgpd.withdraw_objection(regclass, bigint, text, text),
    rgpd.set_provenance(regclass, bigint, text, text),
    rgpd.recipients(text)
    TO PUBLIC;

-- the personal-data manager right
GRANT EXECUTE ON FUNCTION
    rgpd.unarchive(regclass, bigint), rgpd.unarchive(regclass, bigint[]),
    rgpd.anonymise(regclass, bigint), rgpd.anonymise(regclass, bigint[]),
    rgpd.forget(regclass, bigint, text),
    rgpd.replay_erasures(timestamptz),
    rgpd.sweep(date, boolean, regclass),
    rgpd.create_campaign(text, text, boolean, integer),
    rgpd.alter_campaign(text, text, text, boolean, text, integer),
    rgpd.delete_campaign(text),
    rgpd._campaign(text),
    rgpd._journal_campaign(text, jsonb)
    TO rgpd_manager;
GRANT INSERT, UPDATE ON rgpd.campaigns TO rgpd_manager;

-- rgpd.schedule_sweep() and rgpd.unschedule_sweep(): superusers only
-- (pg_cron schedules a job for another role only for a superuser).
