
/* ------------------------------------------------------------------ *
 * Erasure without table locks (1.1)
 *
 * 1.0 held off writers of the link tables with a SHARE lock for the whole
 * of an anonymisation, then wrote those tables (ROW EXCLUSIVE): a lock
 * upgrade, which deadlocked two anonymisations against each other and an
 * anonymisation against any transaction that wrote two link tables, and
 * queued every writer of a link behind it.  1.1 takes no table lock: the
 * subject rows, locked FOR UPDATE in key order, are what keeps new
 * personal data out while they are erased (every writer of a linked row
 * holds its subject FOR KEY SHARE: the foreign key's check or the link
 * trigger), see src/anonymise.c.
 *
 * Erasure on arrival used to rewrite every linked row of an anonymised
 * subject, old ones included, and so waited for (and deadlocked with)
 * any transaction holding one of them.  It now rewrites only the rows
 * that still carry something to erase: the rows that just arrived.
 * ------------------------------------------------------------------ */

-- The erasure of personal data that arrived through p_link for subjects
-- in $1 (bigint[]): the statement rgpd._sql(p_subject, 'erase_link',
-- p_link) runs on anonymise, restricted to rows where a personal column
-- that belongs to a subject column pointing at one of them still differs
-- from its erased value.  Returns one column per subject column, as
-- 'erase_link' does; NULL when the link has no personal column to erase.
CREATE FUNCTION rgpd._erase_arrival_sql(p_subject regclass, p_link regclass) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l rgpd.links;
    sets text;
    pending text;
    rets text;
BEGIN
    SELECT * INTO l FROM rgpd.links AS x WHERE x.link = p_link AND x.subject = p_subject;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- (personal column, subject column it belongs to, erased value), for
    -- the subject columns whose rows are kept
    WITH e AS (
        SELECT lp.personal_column AS p, lp.subject_column AS c,
               rgpd._erased_value(l.link, lp.personal_column,
                                  coalesce('l.' || quote_ident(rgpd._row_key(l.link)),
                                           'l.' || quote_ident(lp.subject_column))) AS v
          FROM rgpd._link_personal(l) AS lp
         WHERE lp.subject_column NOT IN (SELECT rgpd._link_deleted(l)))
    SELECT (SELECT string_agg(format('%1$I = CASE %2$s ELSE l.%1$I END', x.p, x.whens), ', ')
              FROM (SELECT e.p, string_agg(format('WHEN %s THEN %s', rgpd._in_ids('l', e.c), e.v),
                                           ' ' ORDER BY e.c) AS whens
                      FROM e GROUP BY e.p) AS x),
           (SELECT string_agg(format('(%s AND l.%I IS DISTINCT FROM %s)', rgpd._in_ids('l', e.c), e.p, e.v),
                              ' OR ' ORDER BY e.c, e.p)
              FROM e)
      INTO sets, pending;
    IF sets IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT string_agg(format('CASE WHEN %s THEN CAST(l.%I AS pg_catalog.int8) END',
                             rgpd._in_ids('l', c), c), ', ')
      INTO rets
      FROM unnest(l.subject_columns) AS c;
    RETURN format('UPDATE %s AS l SET %s WHERE %s RETURNING %s', l.link, sets, pending, rets);
END
$$;

-- run by the link trigger, with the rights of whoever wrote the link
REVOKE ALL ON FUNCTION rgpd._erase_arrival_sql(regclass, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._erase_arrival_sql(regclass, regclass) TO PUBLIC;
