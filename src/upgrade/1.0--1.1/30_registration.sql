
/* ------------------------------------------------------------------ *
 * 30_registration.sql — 1.1: what may be registered, the restricted
 * archive on every partition, bounded retention periods.
 *
 *  * temporary tables and the extension's own tables cannot be registered,
 *    and a subject table is registered whole, not one of its partitions;
 *  * a partitioned subject table carries the restricted archive (row-level
 *    security enabled, forced as on the table, the restrictive policy and,
 *    where the partition had no row-level security, the permissive one) on
 *    every partition, at any depth: those present at registration, and
 *    those created or attached later (event trigger rgpd_protect_partitions);
 *    PostgreSQL applies only the policies of the table a query names, so a
 *    partition queried directly would otherwise show the archive;
 *  * retention periods lie between 1 day and 100 years, so that the due
 *    dates the lists and the sweep compute always exist.
 * ------------------------------------------------------------------ */

-- What registration changed on each partition of a subject table, so that
-- unregistration undoes exactly that.  Written by the owner of the tables,
-- as rgpd.subjects is.
CREATE TABLE rgpd.partitions (
    partition        regclass PRIMARY KEY,
    subject          regclass NOT NULL,
    had_rls          boolean NOT NULL,
    had_force_rls    boolean NOT NULL,
    added_permissive boolean NOT NULL
);
COMMENT ON TABLE rgpd.partitions IS
    'Partitions of subject tables carrying the restricted archive, and what registration changed on them';
ALTER TABLE rgpd.partitions ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON rgpd.partitions FOR SELECT USING (true);
CREATE POLICY owner_writes ON rgpd.partitions
    USING (rgpd._owns(partition) AND rgpd._owns(subject))
    WITH CHECK (rgpd._owns(partition) AND rgpd._owns(subject));
SELECT pg_catalog.pg_extension_config_dump('rgpd.partitions', '');
REVOKE ALL ON rgpd.partitions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON rgpd.partitions TO PUBLIC;

-- May this table be registered (as 'subject' or 'link')?  Checked after
-- rgpd._require_owner().
CREATE FUNCTION rgpd._require_registrable(tbl regclass, what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT k.relpersistence, k.relispartition, n.nspname INTO c
      FROM pg_class AS k JOIN pg_namespace AS n ON n.oid = k.relnamespace
     WHERE k.oid = tbl;
    IF c.relpersistence = 't' THEN
        RAISE EXCEPTION 'temporary table % cannot be registered', tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'A temporary table goes with its session without pericles_rgpd being told; its registration would be left behind and break the lists and the sweep.',
                  HINT = 'Register a permanent table.';
    END IF;
    IF c.nspname = 'rgpd' THEN
        RAISE EXCEPTION 'table % belongs to pericles_rgpd and cannot be registered', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Register the application''s own tables.';
    END IF;
    IF what = 'subject' AND c.relispartition THEN
        RAISE EXCEPTION 'table % is a partition of %', tbl, pg_partition_root(tbl)
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A query on the partitioned table would show the archive of a partition registered alone.',
                  HINT = format('Register the partitioned table %s; its partitions follow.', pg_partition_root(tbl));
    END IF;
    -- every partition gets the restricted archive, as the table's owner
    SELECT CAST(t.relid AS regclass) AS rel, pg_get_userbyid(k.relowner) AS owner INTO c
      FROM pg_partition_tree(tbl) AS t JOIN pg_class AS k ON k.oid = t.relid
     WHERE what = 'subject' AND t.relid <> tbl AND NOT rgpd._owns(t.relid)
     ORDER BY t.level, t.relid LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'partition % of table % is owned by another role', c.rel, tbl
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The restricted archive is put on every partition, as the owner of the table.',
                  HINT = format('ALTER TABLE %s OWNER TO %I;', c.rel,
                                (SELECT pg_get_userbyid(k.relowner) FROM pg_class AS k WHERE k.oid = tbl));
    END IF;
END
$$;
-- registration helpers run with the caller's rights
REVOKE ALL ON FUNCTION rgpd._require_registrable(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._require_registrable(regclass, text) TO PUBLIC;
-- 1.1: a NULL among the personal columns is reported as such.
CREATE OR REPLACE FUNCTION rgpd._check_personal(tbl regclass, cols name[], forbidden name[], what text) RETURNS void
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
    -- 1.1: a NULL element is said to be NULL (count(DISTINCT) skips it)
    IF array_position(cols, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'personal columns of table % include NULL', tbl
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Name each personal column.';
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

-- Put the restricted archive on every partition of a partitioned subject
-- table, at any depth, and keep FORCE ROW LEVEL SECURITY as on the table.
-- Idempotent, and each step is checked just before it is taken: the event
-- trigger below runs this again, nested, from the ALTER TABLE it issues.
-- A partition is first recorded with what it had, then given its policies,
-- and only then row-level security, so that no moment shows its archive.
-- Partitions no longer in the tree (detached, dropped) lose their row here;
-- a detached table keeps its policies: its archived rows stay restricted
-- until its owner decides otherwise.
CREATE FUNCTION rgpd._protect_partitions(p_subject regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent_force boolean;
    p record;
    r rgpd.partitions;
    rls boolean;
    force boolean;
    want_force boolean;
BEGIN
    SELECT c.relforcerowsecurity INTO parent_force
      FROM pg_class AS c WHERE c.oid = p_subject AND c.relkind = 'p';
    IF NOT FOUND OR NOT EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject = p_subject)
       OR rgpd._column_type(p_subject, 'rgpd_status') IS NULL THEN
        RETURN;
    END IF;
    PERFORM rgpd._delete_config('left_partitions', p_subject);

    FOR p IN SELECT CAST(t.relid AS regclass) AS rel, c.relkind, c.relrowsecurity, c.relforcerowsecurity
               FROM pg_partition_tree(p_subject) AS t JOIN pg_class AS c ON c.oid = t.relid
              WHERE t.relid <> p_subject
              ORDER BY t.level, t.relid LOOP
        IF p.relkind NOT IN ('r', 'p') THEN
            RAISE EXCEPTION 'partition % of table % is a foreign table', p.rel, p_subject
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Row-level security cannot keep the archive restricted on a foreign table queried directly.',
                      HINT = 'Keep the rows of a registered subject table in ordinary partitions.';
        END IF;
        SELECT * INTO r FROM rgpd.partitions AS x WHERE x.partition = p.rel AND x.subject = p_subject;
        IF NOT FOUND THEN
            IF NOT rgpd._owns(p.rel) THEN
                RAISE EXCEPTION 'partition % of table % is owned by another role', p.rel, p_subject
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = 'The restricted archive is put on every partition, as the owner of the table.',
                          HINT = format('ALTER TABLE %s OWNER TO %I;', p.rel,
                                        (SELECT pg_get_userbyid(c.relowner) FROM pg_class AS c WHERE c.oid = p_subject));
            END IF;
            INSERT INTO rgpd.partitions AS x (partition, subject, had_rls, had_force_rls, added_permissive)
            VALUES (p.rel, p_subject, p.relrowsecurity, p.relforcerowsecurity, NOT p.relrowsecurity)
            ON CONFLICT (partition) DO UPDATE SET subject = EXCLUDED.subject
            RETURNING x.* INTO r;
        END IF;
        IF r.added_permissive AND NOT EXISTS (SELECT 1 FROM pg_policy AS y
                                               WHERE y.polrelid = p.rel AND y.polname = 'rgpd_visible') THEN
            EXECUTE format('CREATE POLICY rgpd_visible ON %s AS PERMISSIVE FOR ALL TO PUBLIC'
                           ' USING (true) WITH CHECK (true)', p.rel);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_policy AS y
                        WHERE y.polrelid = p.rel AND y.polname = 'rgpd_restricted_archive') THEN
            EXECUTE format('CREATE POLICY rgpd_restricted_archive ON %s AS RESTRICTIVE FOR ALL TO PUBLIC'
                           ' USING (rgpd_status OPERATOR(pg_catalog.<>) %L::rgpd.status OR rgpd.is_manager())',
                           p.rel, 'archived');
        END IF;
        want_force := parent_force OR r.had_force_rls;
        SELECT c.relrowsecurity, c.relforcerowsecurity INTO rls, force FROM pg_class AS c WHERE c.oid = p.rel;
        IF NOT rls THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p.rel);
        END IF;
        SELECT c.relforcerowsecurity INTO force FROM pg_class AS c WHERE c.oid = p.rel;
        IF force <> want_force THEN
            EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY', p.rel,
                           CASE WHEN want_force THEN 'FORCE' ELSE 'NO FORCE' END);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION rgpd._protect_partitions(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._protect_partitions(regclass) TO PUBLIC;
COMMENT ON FUNCTION rgpd._protect_partitions(regclass) IS
    'Puts the restricted archive on every partition of a partitioned subject table';

-- Undo what rgpd._protect_partitions() did, on the partitions still in the
-- tree.  Called by rgpd.unregister_subject() once the subject's row is gone
-- (so that its ALTER TABLE does not bring the protection back).
CREATE FUNCTION rgpd._unprotect_partitions(p_subject regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r rgpd.partitions;
BEGIN
    FOR r IN SELECT x.* FROM rgpd.partitions AS x
              WHERE x.subject = p_subject
                AND x.partition IN (SELECT t.relid FROM pg_partition_tree(p_subject) AS t
                                     WHERE t.relid <> p_subject)
              ORDER BY x.partition LOOP
        PERFORM rgpd._drop_own(r.partition, 'policy', 'rgpd_restricted_archive');
        IF r.added_permissive THEN
            PERFORM rgpd._drop_own(r.partition, 'policy', 'rgpd_visible');
        END IF;
        IF NOT r.had_rls THEN
            EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', r.partition);
        END IF;
        IF NOT r.had_force_rls THEN
            EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', r.partition);
        END IF;
    END LOOP;
    PERFORM rgpd._delete_config('partitions', p_subject);
END
$$;
REVOKE ALL ON FUNCTION rgpd._unprotect_partitions(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._unprotect_partitions(regclass) TO PUBLIC;

-- The columns of a link, as rgpd.register_link() takes them and as every
-- write of rgpd.links must keep them (rgpd._validate_config): subject
-- columns (integers, at least one), date columns, and personal columns
-- {"subject column": ["column", …], …}, each named once, none NULL.
CREATE FUNCTION rgpd._check_link_columns(p_link regclass, subject_columns name[], date_columns name[],
                                         personal_columns jsonb) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c name;
    k text;
    v jsonb;
    personal name[] := '{}';
BEGIN
    IF date_columns IS NULL OR personal_columns IS NULL THEN
        RAISE EXCEPTION 'date and personal columns of link % must not be NULL', p_link
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an empty array or object for none.';
    END IF;
    IF subject_columns IS NULL OR cardinality(subject_columns) = 0 THEN
        RAISE EXCEPTION 'link % needs at least one subject column', p_link
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the columns of the link that hold keys of the subject.';
    END IF;
    -- 1.1: a NULL element is said to be NULL (count(DISTINCT) skips it)
    IF array_position(subject_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'subject columns of link % include NULL', p_link
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Name each subject column.';
    END IF;
    IF array_position(date_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'date columns of link % include NULL', p_link
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Name each date column.';
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
END
$$;
REVOKE ALL ON FUNCTION rgpd._check_link_columns(regclass, name[], name[], jsonb) FROM PUBLIC;
-- registration and the configuration trigger run it as the caller; it only reads
GRANT EXECUTE ON FUNCTION rgpd._check_link_columns(regclass, name[], name[], jsonb) TO PUBLIC;

-- The personal columns of a subject table, as rgpd.register_subject() takes
-- them and as every write of rgpd.subjects must keep them: none NULL, none
-- twice, none the key, the creation date or a column of pericles_rgpd.
CREATE FUNCTION rgpd._check_subject_personal(tbl regclass, cols name[], key_column name,
                                             created_column name) RETURNS void
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT rgpd._check_personal(tbl, cols,
        ARRAY[key_column, created_column, 'last_contact', 'rgpd_status', 'rgpd_contact_floor']::name[],
        'the key, the creation date or a column of pericles_rgpd')
$$;
REVOKE ALL ON FUNCTION rgpd._check_subject_personal(regclass, name[], name, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._check_subject_personal(regclass, name[], name, name) TO PUBLIC;

-- Partitions created (CREATE TABLE … PARTITION OF) or attached (ALTER TABLE
-- … ATTACH PARTITION) under a registered subject table get the restricted
-- archive at the end of the command that made them.  Runs with the rights
-- of the role that issued the command (who owns the tables it changes) and
-- runs no code but ours.
CREATE FUNCTION rgpd._protect_new_partitions() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root regclass;
BEGIN
    FOR root IN
        SELECT DISTINCT s.subject
          FROM pg_event_trigger_ddl_commands() AS c
          JOIN rgpd.subjects AS s ON s.subject = pg_partition_root(c.objid)
         WHERE c.classid = 'pg_class'::regclass
    LOOP
        PERFORM rgpd._protect_partitions(root);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION rgpd._protect_new_partitions() FROM PUBLIC;
CREATE EVENT TRIGGER rgpd_protect_partitions ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE FOREIGN TABLE', 'CREATE SCHEMA')
    EXECUTE FUNCTION rgpd._protect_new_partitions();
-- 1.1: refuses temporary tables, the extension's tables and lone partitions;
-- puts the restricted archive on every partition.
CREATE OR REPLACE FUNCTION rgpd.register_subject(
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
    PERFORM rgpd._require_registrable(tbl, 'subject');  -- 1.1
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
    PERFORM rgpd._check_subject_personal(tbl, personal_columns, key_column, created_column);
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

    -- 1.1: the restricted archive on every partition too
    PERFORM rgpd._protect_partitions(tbl);

    PERFORM rgpd._sync(tbl);
    PERFORM rgpd.recompute(tbl);
END
$$;

-- 1.1: refuses temporary tables and the extension's tables; a NULL among
-- the columns is reported as such.
CREATE OR REPLACE FUNCTION rgpd.register_link(
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
    PERFORM rgpd._require_registrable(p_link, 'link');  -- 1.1
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

    PERFORM rgpd._check_link_columns(p_link, subject_columns, date_columns, personal_columns);

    IF excludes_when IS NOT NULL THEN
        predicate := rgpd._normalize_predicate(p_link, excludes_when);
    END IF;
    PERFORM rgpd._require_finite_dates(p_link, subject_columns, date_columns);  -- 1.1

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
        -- values held apart under the earlier registration go back first;
        -- the new one holds them again below, column by column as it says
        PERFORM rgpd._release_archived_values(p_link, p_subject);
        PERFORM rgpd._delete_config('link', p_link, p_subject);
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
        -- a write on the link table fires its owner's triggers: through the
        -- gate, as that owner, never as the (super)user registering it
        PERFORM rgpd._mark_link_rows(p_link, p_subject);
    END IF;
    -- the people archived now have their values on this link held apart
    PERFORM rgpd._hold_archived_values(p_link, p_subject);
    PERFORM rgpd.recompute(p_subject);
END
$$;

-- 1.1: also removes the restricted archive from the partitions.
CREATE OR REPLACE FUNCTION rgpd.unregister_subject(subject regclass, cascade boolean DEFAULT false) RETURNS void
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

    -- 1.1: the configuration goes before the DDL below, so that the event
    -- trigger rgpd_protect_partitions leaves the partitions alone; then the
    -- partitions lose what registration put on them
    PERFORM rgpd._delete_config('subject', s.subject);
    PERFORM rgpd._unprotect_partitions(s.subject);

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
    PERFORM rgpd._invalidate(s.subject);
END
$$;

-- A retention period of a policy: between 1 day and 100 years, with no
-- negative part (months, days, time), so that last_contact + period and
-- the cutoffs of the lists stay far inside the range of dates.
CREATE FUNCTION rgpd._check_period(policy text, what text, period interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF period < interval '1 day' OR period > interval '100 years'
       OR extract(month FROM period) < 0 OR extract(year FROM period) < 0
       OR extract(day FROM period) < 0 OR extract(epoch FROM period - date_trunc('day', period)) < 0 THEN
        RAISE EXCEPTION '% of policy "%" must lie between 1 day and 100 years, not %', what, policy, period
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a period such as ''3 years'' or ''18 months''.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION rgpd._check_period(text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._check_period(text, text, interval) TO PUBLIC;

-- 1.1: bounded periods.
CREATE OR REPLACE FUNCTION rgpd.set_policy(subject regclass,
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
    -- 1.1: periods between 1 day and 100 years, with no negative part, so
    -- that every due date the lists and the sweep compute exists
    PERFORM rgpd._check_period(name, 'archive_after', archive_after);
    PERFORM rgpd._check_period(name, 'anonymise_after', anonymise_after);
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

-- A 1.0 install: registrations of tables that no longer exist (temporary
-- tables, which go with their session without any event trigger firing)
-- go, as rgpd._forget_dropped() would have removed them; partitioned
-- subject tables get the restricted archive on their partitions.
DELETE FROM rgpd.links AS x
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) x.subject)
    OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) x.link);
DELETE FROM rgpd.policies AS x
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) x.subject);
DELETE FROM rgpd.erasures AS x
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) x.tbl);
DELETE FROM rgpd.subjects AS x
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid OPERATOR(pg_catalog.=) x.subject);
SELECT rgpd._protect_partitions(s.subject)
  FROM rgpd.subjects AS s JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) s.subject
 WHERE c.relkind OPERATOR(pg_catalog.=) 'p';
