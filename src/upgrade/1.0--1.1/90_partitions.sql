
/* ------------------------------------------------------------------ *
 * 90_partitions.sql — 1.1: partitioned subject and link tables work
 * through any partition.
 *
 * PostgreSQL fires a statement trigger only for the table a statement
 * names, and clones only row triggers onto partitions.  1.0 put the link
 * triggers (AFTER ... FOR EACH STATEMENT, with transition tables) on the
 * partitioned table alone: rows written straight into a partition did not
 * count, and the rows a partition brought (ATTACH) or took away (DETACH,
 * DROP) were never accounted for.  From 1.1:
 *
 *  * every table of a registered tree, at any depth, carries the engine's
 *    statement triggers with the registered table's arguments (link: the
 *    four link triggers; subject: rgpd_subject_insert; the subject's row
 *    triggers are PostgreSQL's clones).  Whatever table a statement names,
 *    exactly one set fires, with the rows of every partition below it.
 *    The trigger functions act for the root of the tree (src/last_contact.c,
 *    registered_table());
 *  * event trigger rgpd_follow_partitions (src/partitions.c) follows
 *    partitions created or attached later (they get the triggers; the rows
 *    an attached table brings count as if inserted; attached subject rows
 *    are recomputed) and detached (their rows leave as if deleted; they
 *    lose the triggers);
 *  * event trigger rgpd_partitions_dropped: a dropped partition of a link
 *    took its rows with it before anything can read them, so the subject
 *    tables of partitioned links are recomputed in full;
 *  * one partition of a link table cannot be registered alone, and a
 *    registered table cannot become a partition.
 * ------------------------------------------------------------------ */

-- A table and every partition below it, at any depth, parents first.
CREATE FUNCTION rgpd._tree(tbl regclass) RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.rel FROM (
        SELECT tbl AS rel, 0 AS level
        UNION
        SELECT CAST(t.relid AS regclass), t.level FROM pg_partition_tree(tbl) AS t) AS x
     ORDER BY x.level, CAST(x.rel AS oid)
$$;

-- pg_trigger.tgargs of a trigger created with these arguments.
CREATE FUNCTION rgpd._tgargs(args text[]) RETURNS bytea
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(string_agg(convert_to(u.a, CAST(current_setting('server_encoding') AS name))
                               || CAST('\x00' AS bytea), CAST('' AS bytea) ORDER BY u.o),
                    CAST('' AS bytea))
      FROM unnest(args) WITH ORDINALITY AS u(a, o)
$$;

-- Does the table carry exactly the link triggers registration installs,
-- with these arguments?  (The trigger function checks the rest when it
-- first runs.)
CREATE FUNCTION rgpd._has_link_triggers(tbl regclass, args text[]) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) = 4
      FROM pg_trigger AS t
     WHERE t.tgrelid = tbl AND NOT t.tgisinternal AND t.tgconstraint = 0
       AND t.tgfoid = CAST('rgpd.link_trigger()' AS regprocedure)
       AND (CAST(t.tgname AS text), CAST(t.tgtype AS integer))
           IN (('rgpd_link_insert', 4), ('rgpd_link_update', 16),
               ('rgpd_link_delete', 8), ('rgpd_link_truncate', 32))
       AND t.tgqual IS NULL AND t.tgargs = rgpd._tgargs(args)
$$;

-- (Re)create the triggers of a link table from every registration of it.
-- 1.1 (partitions): from 20_triggers.sql; every partition of the table, at
-- any depth, gets them too, with the arguments of the registered table at
-- the root of its tree.  Called with a partition (one created, attached
-- or detached), it does that partition's own tree: a table no longer
-- under a registered link loses them.  A partition that already carries
-- exactly those triggers keeps them (rgpd_forget_dropped calls this for
-- every table that carries them, on every DROP).
CREATE OR REPLACE FUNCTION rgpd._sync_link(p_link regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root regclass := p_link;
    a text[];
    args text;
    m record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rgpd.links AS x WHERE x.link = p_link) THEN
        root := coalesce(pg_partition_root(p_link), p_link);
    END IF;
    a := rgpd._link_trigger_args(root);
    SELECT string_agg(quote_literal(x), ', ' ORDER BY o) INTO args
      FROM unnest(a) WITH ORDINALITY AS u(x, o);

    FOR m IN SELECT t.rel, c.relkind FROM rgpd._tree(p_link) AS t(rel) JOIN pg_class AS c ON c.oid = t.rel LOOP
        CONTINUE WHEN m.rel <> root AND a IS NOT NULL AND rgpd._has_link_triggers(m.rel, a);
        IF a IS NOT NULL AND m.relkind = 'f' THEN
            RAISE EXCEPTION 'partition % of link % is a foreign table', m.rel, root
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'The contact engine''s statement triggers cannot be put on a foreign table: rows written through it would not count.',
                      HINT = 'Keep the rows of a registered link table in ordinary partitions.';
        END IF;
        PERFORM rgpd._drop_own(m.rel, 'trigger', 'rgpd_link_insert');
        PERFORM rgpd._drop_own(m.rel, 'trigger', 'rgpd_link_update');
        PERFORM rgpd._drop_own(m.rel, 'trigger', 'rgpd_link_delete');
        PERFORM rgpd._drop_own(m.rel, 'trigger', 'rgpd_link_truncate');
        CONTINUE WHEN a IS NULL;

        -- rgpd.link_trigger() checks that it runs as exactly these triggers
        EXECUTE format('CREATE TRIGGER rgpd_link_insert AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS rgpd_new'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', m.rel, args);
        EXECUTE format('CREATE TRIGGER rgpd_link_update AFTER UPDATE ON %s'
                       ' REFERENCING OLD TABLE AS rgpd_old NEW TABLE AS rgpd_new'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', m.rel, args);
        EXECUTE format('CREATE TRIGGER rgpd_link_delete AFTER DELETE ON %s'
                       ' REFERENCING OLD TABLE AS rgpd_old'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', m.rel, args);
        EXECUTE format('CREATE TRIGGER rgpd_link_truncate AFTER TRUNCATE ON %s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', m.rel, args);
    END LOOP;
END
$$;

-- The statement trigger rgpd_subject_insert on every partition of a
-- registered subject table (its row triggers are PostgreSQL's clones), with
-- the arguments of the registered table at the root of the tree.  Called
-- with a partition, does that partition's own tree: a table no longer
-- under a registered subject (detached, or unregistered) loses it.
CREATE FUNCTION rgpd._sync_subject_members(p_tbl regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root regclass := coalesce(pg_partition_root(p_tbl), p_tbl);
    registered boolean;
    args text;
    m regclass;
BEGIN
    registered := EXISTS (SELECT 1 FROM rgpd.subjects AS x WHERE x.subject = root);
    IF registered THEN
        SELECT string_agg(quote_literal(x), ', ' ORDER BY o) INTO args
          FROM unnest(rgpd._subject_trigger_args(root)) WITH ORDINALITY AS u(x, o);
    END IF;
    FOR m IN SELECT t.rel FROM rgpd._tree(p_tbl) AS t(rel) WHERE t.rel <> root OR NOT registered LOOP
        PERFORM rgpd._drop_own(m, 'trigger', 'rgpd_subject_insert');
        CONTINUE WHEN NOT registered;
        -- rgpd.subject_trigger() checks that it runs as exactly this trigger
        EXECUTE format('CREATE TRIGGER rgpd_subject_insert AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS rgpd_new'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.subject_trigger(%s)', m, args);
    END LOOP;
END
$$;

-- (Re)create the triggers of a subject table, of its partitions and of all
-- its links.  1.1 (partitions): from 20_triggers.sql, with the partitions.
CREATE OR REPLACE FUNCTION rgpd._sync(p_subject regclass) RETURNS void
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
        SELECT string_agg(quote_literal(a), ', ' ORDER BY o) INTO args
          FROM unnest(rgpd._subject_trigger_args(p_subject)) WITH ORDINALITY AS u(a, o);
        -- rgpd.subject_trigger() checks that it runs as exactly these triggers
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

    -- 1.1 (partitions): the statement trigger on every partition too
    PERFORM rgpd._sync_subject_members(p_subject);

    FOR l IN SELECT DISTINCT x.link FROM rgpd.links AS x WHERE x.subject = p_subject LOOP
        PERFORM rgpd._sync_link(l);
    END LOOP;
    PERFORM rgpd._invalidate(p_subject);
END
$$;

-- 1.1 (partitions): from 30_registration.sql; one partition of a link
-- table cannot be registered alone either.
CREATE OR REPLACE FUNCTION rgpd._require_registrable(tbl regclass, what text) RETURNS void
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
    -- 1.1 (partitions): nor one partition of a link table alone: a statement
    -- on the partitioned table fires no trigger of the partition
    IF what = 'link' AND c.relispartition THEN
        RAISE EXCEPTION 'table % is a partition of %', tbl, pg_partition_root(tbl)
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Rows written through the partitioned table would not count as contacts.',
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

-- 1.1 (partitions): from 30_registration.sql; the statement trigger on
-- each partition goes too.
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
    DELETE FROM rgpd.policies AS p WHERE p.subject = s.subject;
    DELETE FROM rgpd.erasures AS e WHERE e.tbl = s.subject;
    DELETE FROM rgpd.subjects AS x WHERE x.subject = s.subject;
    PERFORM rgpd._unprotect_partitions(s.subject);
    -- 1.1 (partitions): the statement trigger on each partition goes too
    PERFORM rgpd._sync_subject_members(s.subject);

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

-- Partitions created, attached or detached under a registered table
-- (src/partitions.c).  Runs as the role that issued the command.
CREATE FUNCTION rgpd._follow_partitions() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'rgpd_follow_partitions' LANGUAGE C;
COMMENT ON FUNCTION rgpd._follow_partitions() IS
    'Puts the engine''s triggers on partitions created or attached under a registered table and records the rows they bring; records the rows a detached partition takes away';
CREATE EVENT TRIGGER rgpd_follow_partitions ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE FOREIGN TABLE', 'ALTER TABLE', 'CREATE SCHEMA')
    EXECUTE FUNCTION rgpd._follow_partitions();

-- A dropped partition of a link table took its rows with it: the subject
-- tables of partitioned links are recomputed (src/partitions.c).  Fires
-- after rgpd_forget_dropped (event triggers fire in name order).
CREATE FUNCTION rgpd._partitions_dropped() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'rgpd_partitions_dropped' LANGUAGE C;
COMMENT ON FUNCTION rgpd._partitions_dropped() IS
    'Recomputes the subject tables of partitioned links after a partition of one is dropped';
CREATE EVENT TRIGGER rgpd_partitions_dropped ON sql_drop
    EXECUTE FUNCTION rgpd._partitions_dropped();

-- registration helpers run with the caller's rights
REVOKE ALL ON FUNCTION rgpd._tree(regclass), rgpd._tgargs(text[]),
    rgpd._has_link_triggers(regclass, text[]), rgpd._sync_subject_members(regclass),
    rgpd._follow_partitions(), rgpd._partitions_dropped() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._tree(regclass), rgpd._tgargs(text[]),
    rgpd._has_link_triggers(regclass, text[]), rgpd._sync_subject_members(regclass) TO PUBLIC;

-- A 1.0 install: registered partitioned tables, and subjects with a
-- partitioned link, get the triggers on every partition, and are
-- recomputed (1.0 missed the rows written straight into partitions).
DO $$
DECLARE
    s regclass;
BEGIN
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x
              WHERE EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = x.subject AND c.relkind = 'p')
                 OR EXISTS (SELECT 1 FROM rgpd.links AS l JOIN pg_class AS c ON c.oid = l.link
                             WHERE l.subject = x.subject AND c.relkind = 'p')
              ORDER BY x.subject::oid LOOP
        PERFORM rgpd._sync(s);
        PERFORM rgpd.recompute(s);
    END LOOP;
END
$$;
