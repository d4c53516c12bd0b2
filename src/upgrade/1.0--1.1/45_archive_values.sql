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

-- The statements that move the values of one link table, for the
-- subjects $1 (bigint[]):
--   read:    (k, c, id, v) of every linked row, locked, per subject column
--            c pointing at one of them: the row's key as text, the values
--            of that column's personal columns;
--   erase:   the same rows (keys $2 text[]) given the erased values,
--            returning (k, c, id, e) likewise;
--   restore: per subject column, put back values ($2 keys, $3 values, $4
--            erased) where the row still holds the erased value.
-- Nothing when the link has no one-column primary key of an integer, text
-- or uuid type, or no personal column.
CREATE FUNCTION rgpd._archive_values_sql(p_link regclass, p_subject regclass)
    RETURNS TABLE (read text, erase text, columns name[], restores text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l rgpd.links;
    k name;
    ktype text;
    cols name[];
    ids text;
    vals text;
    erased text;
    sets text;
    conds text;
BEGIN
    SELECT * INTO l FROM rgpd.links AS x WHERE x.link = p_link AND x.subject = p_subject;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    k := rgpd._row_key(p_link);
    IF k IS NULL THEN
        RETURN;
    END IF;
    -- keys whose text form does not depend on the session's settings
    -- (DateStyle, TimeZone…), so that the row is found again
    SELECT format_type(a.atttypid, a.atttypmod) INTO ktype
      FROM pg_attribute AS a
     WHERE a.attrelid = p_link AND a.attname = k
       AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'text'::regtype,
                          'varchar'::regtype, 'uuid'::regtype);
    IF ktype IS NULL THEN
        RETURN;
    END IF;

    -- subject columns that carry personal columns (delete_row ones excepted:
    -- their rows go at anonymisation, their values are not erased)
    SELECT array_agg(DISTINCT lp.subject_column ORDER BY lp.subject_column)
      INTO cols
      FROM rgpd._link_personal(l) AS lp
     WHERE lp.subject_column NOT IN (SELECT rgpd._link_deleted(l));
    IF cols IS NULL THEN
        RETURN;
    END IF;

    SELECT string_agg(format('CASE WHEN %s THEN CAST(l.%I AS pg_catalog.int8) END', rgpd._in_ids('l', c), c), ', ' ORDER BY o),
           string_agg(format('pg_catalog.jsonb_build_object(%s)',
                             (SELECT string_agg(format('%L, l.%I', lp.personal_column, lp.personal_column), ', '
                                                ORDER BY lp.personal_column)
                                FROM rgpd._link_personal(l) AS lp WHERE lp.subject_column = c)), ', ' ORDER BY o),
           string_agg(rgpd._in_ids('l', c), ' OR ' ORDER BY o)
      INTO ids, vals, conds
      FROM unnest(cols) WITH ORDINALITY AS u(c, o);

    read := format(
        'SELECT r.k, u.c, u.id, u.v'
        '  FROM (SELECT CAST(l.%1$I AS pg_catalog.text) AS k, ARRAY[%2$s] AS ids, ARRAY[%3$s] AS vals'
        '          FROM %4$s AS l WHERE %5$s FOR UPDATE OF l) AS r,'
        '       ROWS FROM (pg_catalog.unnest(%6$L::pg_catalog.name[]), pg_catalog.unnest(r.ids),'
        '                  pg_catalog.unnest(r.vals)) AS u(c, id, v)'
        ' WHERE u.id IS NOT NULL'
        ' ORDER BY r.k COLLATE "C", u.c COLLATE "C"',
        k, ids, vals, p_link, conds, cols);

    -- the erased value of each personal column, where a subject column it
    -- belongs to points at one of $1, on the rows read
    SELECT string_agg(format('%1$I = CASE %2$s ELSE l.%1$I END', x.p, x.whens), ', ')
      INTO sets
      FROM (SELECT lp.personal_column AS p,
                   -- a pseudonym while archived carries a random part: one
                   -- that could be guessed could be taken first by anybody
                   -- who writes the table, and make archiving fail
                   string_agg(format('WHEN %s THEN %s', rgpd._in_ids('l', lp.subject_column),
                                     rgpd._erased_value(p_link, lp.personal_column,
                                         format('(CAST(l.%I AS pg_catalog.text) OPERATOR(pg_catalog.||) %L'
                                                ' OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5('
                                                'CAST(pg_catalog.random() AS pg_catalog.text)), 1, 12))', k, '_'))),
                              ' ' ORDER BY lp.subject_column) AS whens
              FROM rgpd._link_personal(l) AS lp
             WHERE lp.subject_column = ANY (cols)
             GROUP BY lp.personal_column) AS x;
    erase := format(
        'WITH r AS (UPDATE %1$s AS l SET %2$s'
        '            WHERE l.%3$I OPERATOR(pg_catalog.=) ANY (CAST($2 AS %4$s[]))'
        '            RETURNING CAST(l.%3$I AS pg_catalog.text) AS k, ARRAY[%5$s] AS ids, ARRAY[%6$s] AS vals)'
        'SELECT r.k, u.c, u.id, u.v'
        '  FROM r, ROWS FROM (pg_catalog.unnest(%7$L::pg_catalog.name[]), pg_catalog.unnest(r.ids),'
        '                     pg_catalog.unnest(r.vals)) AS u(c, id, v)'
        ' WHERE u.id IS NOT NULL'
        ' ORDER BY r.k COLLATE "C", u.c COLLATE "C"',
        p_link, sets, k, ktype, ids, vals, cols);

    columns := cols;
    SELECT array_agg(format(
               'UPDATE %1$s AS l SET %2$s'
               '  FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.jsonb[]),'
               '                 pg_catalog.unnest($4::pg_catalog.jsonb[])) AS v(k, v, e)'
               ' WHERE l.%3$I OPERATOR(pg_catalog.=) CAST(v.k AS %4$s)',
               p_link,
               (SELECT string_agg(format(
                           '%1$I = CASE WHEN l.%1$I IS NOT DISTINCT FROM (pg_catalog.jsonb_populate_record(CAST(NULL AS %2$s), v.e)).%1$I'
                           ' THEN (pg_catalog.jsonb_populate_record(CAST(NULL AS %2$s), v.v)).%1$I ELSE l.%1$I END',
                           lp.personal_column, p_link), ', ' ORDER BY lp.personal_column)
                  FROM rgpd._link_personal(l) AS lp WHERE lp.subject_column = c),
               k, ktype) ORDER BY o)
      INTO restores
      FROM unnest(cols) WITH ORDINALITY AS u(c, o);
    RETURN NEXT;
END
$$;
-- registration and archiving call it in the caller's context; it only builds SQL
REVOKE ALL ON FUNCTION rgpd._archive_values_sql(regclass, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._archive_values_sql(regclass, regclass) TO PUBLIC;

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
