/* ------------------------------------------------------------------ *
 * A contact and the sweep, whoever commits first (1.1)
 *
 * The sweep archives with an UPDATE that changes no key: its row lock does
 * not conflict with the FOR KEY SHARE a contact holds (the foreign key's
 * check, or the engine's own).  A contact could read a subject as active,
 * wait for the sweep only when it wrote, and then write last_contact on
 * the archived row while deciding with the status it had read: the person
 * stayed archived with a fresh contact.  From 1.1 the engine decides on
 * the status of the row it actually wrote (src/last_contact.c), and the
 * set-wise statement 'raise' returns that status: rgpd._sql is replaced
 * for that statement alone; every other statement is as in 1.0.
 *
 * The engine's saved plans are also prepared as the owner of the table
 * with its row security not forced, as they run (src/owner_code.c,
 * rgpd_gate_prepare()): prepared in the owner's own session, under FORCE
 * ROW LEVEL SECURITY, 'unarchive_fresh' kept the restricted archive and
 * could not see the archived row it was to bring back.  No SQL change.
 * ------------------------------------------------------------------ */

CREATE OR REPLACE FUNCTION rgpd._sql(p_subject regclass, what text,
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
        RAISE EXCEPTION 'table % is not registered as a subject', p_subject
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
        -- if another contact raised it meanwhile).  The status returned
        -- for a subject written is that of the row written (1.1): the
        -- sweep archives under a lock FOR KEY SHARE does not wait for, so
        -- l may have read active a row the UPDATE then finds archived.
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
            '  RETURNING CAST(s.%1$s AS pg_catalog.int8) AS id, s.rgpd_status AS st)'
            ' SELECT l.id, CAST(COALESCE(u.st, l.st) AS pg_catalog.text), u.id IS NOT NULL'
            '   FROM l LEFT JOIN u ON u.id OPERATOR(pg_catalog.=) l.id'
            '  WHERE COALESCE(u.st, l.st) OPERATOR(pg_catalog.<>) %4$L::rgpd.status',
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
        -- (that of the row written, which the caller decides on)
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
