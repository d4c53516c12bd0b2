/* ------------------------------------------------------------------ *
 * The restricted archive on linked rows
 *
 * An archived person's record is hidden by row-level security; in 1.0 the
 * same person's name and phone stayed readable by every agent on the rows
 * that name them (offers.client1_name, signatures.buyer_name…).  From 1.1,
 * archiving moves the personal values that belong to the archived person
 * on linked rows into rgpd.archived_values, readable by managers only, and
 * writes the erasure method's value in their place; un-archiving (by hand,
 * by an opt-in or by a new contact) puts them back where nobody changed
 * the erased value meanwhile; anonymisation discards them.  Linked rows
 * are found by their primary key: a link without a one-column primary key
 * keeps its values in place (rgpd.register_link() says so).
 * ------------------------------------------------------------------ */

CREATE TABLE rgpd.archived_values (
    link           regclass NOT NULL,
    subject        regclass NOT NULL,
    subject_id     bigint NOT NULL,
    subject_column name NOT NULL,
    row_key        text NOT NULL,
    vals           jsonb NOT NULL,
    erased         jsonb NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (link, subject_column, row_key)
);
CREATE INDEX archived_values_subject_idx ON rgpd.archived_values (subject, subject_id);
COMMENT ON TABLE rgpd.archived_values IS
    'Personal values of archived people on linked rows, held apart until un-archive (managers only; dumped)';
ALTER TABLE rgpd.archived_values ENABLE ROW LEVEL SECURITY;
CREATE POLICY managers ON rgpd.archived_values FOR SELECT USING (rgpd.is_manager());
REVOKE ALL ON rgpd.archived_values FROM PUBLIC;
GRANT SELECT ON rgpd.archived_values TO rgpd_manager;
-- part of the restricted archive: a restore without it would bring the
-- archived people back masked on their linked rows
SELECT pg_catalog.pg_extension_config_dump('rgpd.archived_values', '');

-- The statements that move the values of one link table are built in C
-- (held_value_statements(), src/archive_values.c).

CREATE FUNCTION rgpd._release_archived_values(link regclass, subject regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_release_archived_values' LANGUAGE C STRICT;
-- registration (run as the caller) calls it; it checks ownership of both tables itself
REVOKE ALL ON FUNCTION rgpd._release_archived_values(regclass, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._release_archived_values(regclass, regclass) TO PUBLIC;
CREATE FUNCTION rgpd._hold_archived_values(link regclass, subject regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_hold_archived_values' LANGUAGE C STRICT;
-- registration (run as the caller) calls it; it checks ownership of both tables itself
REVOKE ALL ON FUNCTION rgpd._hold_archived_values(regclass, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._hold_archived_values(regclass, regclass) TO PUBLIC;

-- 1.1: unregistering a link first puts back what it held apart.
CREATE OR REPLACE FUNCTION rgpd.unregister_link(link regclass, subject regclass) RETURNS void
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
    -- 1.1: values held apart for archived people go back on the rows
    PERFORM rgpd._release_archived_values(l.link, l.subject);
    PERFORM rgpd._delete_config('link', l.link, l.subject);
    PERFORM rgpd._delete_config('unused_erasures', l.link);
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

-- Values held for a table that is dropped go with it.  The event trigger
-- runs as whoever drops the table, who has no right on archived_values:
-- the function runs as the extension's owner and deletes only rows about
-- the objects being dropped.
CREATE FUNCTION rgpd._forget_dropped_values() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM rgpd.archived_values AS a
     USING pg_event_trigger_dropped_objects() AS d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND (a.link::oid = d.objid OR a.subject::oid = d.objid);
END
$$;
REVOKE ALL ON FUNCTION rgpd._forget_dropped_values() FROM PUBLIC;
CREATE EVENT TRIGGER rgpd_forget_dropped_values ON sql_drop
    EXECUTE FUNCTION rgpd._forget_dropped_values();
