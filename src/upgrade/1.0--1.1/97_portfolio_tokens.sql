/* ------------------------------------------------------------------ *
 * 97_portfolio_tokens.sql — 1.1: opt-in tokens, re-consent candidates,
 * portfolios, forecast.
 *
 *  * rgpd.optin_token(subject, id, valid_for) signs, with a secret of the
 *    database, a token for the link of a re-consent e-mail;
 *    rgpd.optin(token, origin) records the opt-in it proves for a caller
 *    with no right on the table (src/optin_token.c).  The secret is not
 *    dumped: a restored copy makes its own, and the tokens of the
 *    original are refused there.
 *  * rgpd.reconsent_candidates(as_of): who to send that e-mail to
 *    (src/reconsent.c), built on the list to archive.
 *  * the negotiator of each due row (rgpd._due(), rgpd.pending(), the
 *    pending views: a new last column), rgpd.dashboard(as_of, negotiator)
 *    and rgpd.pending(action, as_of, portfolio) for one portfolio.
 *  * rgpd.forecast(months, negotiator): what falls due month by month.
 * ------------------------------------------------------------------ */

-- The secret that signs opt-in tokens: one row, 32 random bytes.  Readable
-- by the extension's owner only (the C code reads it as that owner); not
-- marked for pg_dump, so that no dump file can forge opt-ins: CREATE
-- EXTENSION in a restored copy makes a new one.
CREATE TABLE rgpd.optin_secret (
    key        bytea NOT NULL CHECK (pg_catalog.length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    one_row    boolean NOT NULL DEFAULT true UNIQUE CHECK (one_row)
);
COMMENT ON TABLE rgpd.optin_secret IS
    'Key of the HMAC that signs opt-in tokens (extension owner only; not dumped)';
REVOKE ALL ON rgpd.optin_secret FROM PUBLIC;

CREATE FUNCTION rgpd._random_bytes(n integer) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rgpd_random_bytes' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION rgpd._random_bytes(integer) FROM PUBLIC;

INSERT INTO rgpd.optin_secret (key) VALUES (rgpd._random_bytes(32));

-- Tokens already used, by id (the token's nonce; never the token), until
-- they expire.  Not dumped either: in a restored copy no token of the
-- original is valid.
CREATE TABLE rgpd.optin_tokens_used (
    token_id   text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    optin_id   bigint
);
CREATE INDEX optin_tokens_used_expires_idx ON rgpd.optin_tokens_used (expires_at);
COMMENT ON TABLE rgpd.optin_tokens_used IS
    'Opt-in tokens already used (their ids), kept until they expire';
REVOKE ALL ON rgpd.optin_tokens_used FROM PUBLIC;
GRANT SELECT ON rgpd.optin_tokens_used TO rgpd_manager;

CREATE FUNCTION rgpd.optin_token(subject regclass, id bigint, valid_for interval DEFAULT '60 days')
    RETURNS text
    AS 'MODULE_PATHNAME', 'rgpd_optin_token' LANGUAGE C VOLATILE;
-- issuing tokens: managers, and the role a superuser grants it to (the
-- mailing job); using one (rgpd.optin(token, origin)): anybody (the token
-- is the proof)
REVOKE ALL ON FUNCTION rgpd.optin_token(regclass, bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.optin_token(regclass, bigint, interval) TO rgpd_manager;
COMMENT ON FUNCTION rgpd.optin_token(regclass, bigint, interval) IS
    'A signed token for the link of a re-consent e-mail: whoever holds it records one opt-in of that row before it expires';

CREATE FUNCTION rgpd.optin(token text, origin text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_optin_by_token' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION rgpd.optin(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.optin(text, text) TO PUBLIC;
COMMENT ON FUNCTION rgpd.optin(text, text) IS
    'Record the opt-in an rgpd.optin_token() token proves (no right on the table needed): once, before it expires';

-- Superusers: replace the secret (a leak, a copy of the database made into
-- another one): every token issued before is refused from then on.
CREATE FUNCTION rgpd.rotate_optin_secret() RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM rgpd.optin_secret;
    INSERT INTO rgpd.optin_secret (key) VALUES (rgpd._random_bytes(32));
$$;
COMMENT ON FUNCTION rgpd.rotate_optin_secret() IS
    'Replace the secret that signs opt-in tokens: every token issued before is refused';

REVOKE ALL ON FUNCTION rgpd.rotate_optin_secret() FROM PUBLIC;

/* ---- the negotiator of each due row ----
 *
 * rgpd._sql is replaced for the statements 'due_archive' and
 * 'due_anonymise' alone, which return the negotiator (as text) in a new
 * last column; every other statement is as in 50_contacts.sql, but for
 * the contact engine's, which are built in C (src/subject_statements.c).
 */
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

    -- 'raise', 'raise_locked', 'raise_one', 'lock_one', 'status_one' and
    -- 'lock_lower', the contact engine's statements, are built in C since
    -- 1.1 (src/subject_statements.c, beside what each $n means)

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
        -- $1 date: as of; what falls due by the end of its month, with the
        -- negotiator of each row (1.1: the portfolios of rgpd.dashboard())
        due := CASE what WHEN 'due_archive' THEN 'archive' ELSE 'anonymise' END;
        RETURN format(
            'SELECT q.subject, q.id, q.last_contact,'
            '       CAST(q.last_contact OPERATOR(pg_catalog.+) q.iv AS pg_catalog.date) AS due_on,'
            '       q.policy, q.excluded, q.negotiator'
            '  FROM (SELECT %1$s AS subject, CAST(s.%2$s AS pg_catalog.int8) AS id, s.last_contact,'
            '               %3$s AS iv, %4$s AS policy, %5$s AS cutoff, %6$s AS excluded,'
            '               %11$s AS negotiator'
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
                ELSE '' END,
            CASE WHEN s.negotiator_column IS NULL THEN 'CAST(NULL AS pg_catalog.text)'
                 ELSE format('CAST(s.%I AS pg_catalog.text)', s.negotiator_column) END);

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

-- rgpd._due() and the lists built on it get that column; the views and
-- rgpd.pending() change their result type, so they are made again (with
-- the grants they had), as rgpd.dashboard() is with its new argument.
DROP VIEW rgpd.pending_archive;
DROP VIEW rgpd.pending_anonymise;
DROP FUNCTION rgpd.pending(text, date);
DROP FUNCTION rgpd.dashboard(date);
DROP FUNCTION rgpd._due(regclass, text, date);
DROP FUNCTION rgpd._status_counts(regclass);

CREATE FUNCTION rgpd._due(subject regclass, action text, as_of date, negotiator text DEFAULT NULL)
    RETURNS TABLE (subject regclass, id bigint, last_contact date, due_on date,
                   policy text, excluded boolean, negotiator text)
    AS 'MODULE_PATHNAME', 'rgpd_due' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION rgpd._due(regclass, text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._due(regclass, text, date, text) TO PUBLIC;
COMMENT ON FUNCTION rgpd._due(regclass, text, date, text) IS
    'Rows of one subject table due for archive or anonymise by the end of the month of as_of (of one negotiator''s portfolio), as the caller may see them';

CREATE FUNCTION rgpd._status_counts(subject regclass, negotiator text DEFAULT NULL,
                                    OUT archived bigint, OUT anonymised bigint)
    AS 'MODULE_PATHNAME', 'rgpd_status_counts' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION rgpd._status_counts(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._status_counts(regclass, text) TO PUBLIC;

-- held (legal holds, 98_retention_holds.sql) and retention_pending are
-- read at run time: the tables they read are created by a later file.
CREATE FUNCTION rgpd.pending(action text, as_of date DEFAULT CURRENT_DATE, portfolio text DEFAULT NULL)
    RETURNS TABLE (subject regclass, id bigint, last_contact date, due_on date, policy text,
                   negotiator text, held boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s regclass;
    held bigint[];
BEGIN
    IF pending.action IS NULL OR pending.action NOT IN ('archive', 'anonymise') THEN
        RAISE EXCEPTION 'unknown action "%"', pending.action
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''archive'' or ''anonymise''.';
    END IF;
    IF pending.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::text LOOP
        held := ARRAY(SELECT rgpd._held_ids(s));
        RETURN QUERY
            SELECT d.subject, d.id, d.last_contact, d.due_on, d.policy, d.negotiator,
                   d.id = ANY (held)
              FROM rgpd._due(s, pending.action, pending.as_of, pending.portfolio) AS d
             WHERE NOT d.excluded
             ORDER BY d.due_on, d.id;
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.pending(text, date, text) IS
    'Subjects due for archive or anonymise by the end of the month of as_of, overdue included (one negotiator''s portfolio when given); held: under a legal hold, which the sweep leaves';
REVOKE ALL ON FUNCTION rgpd.pending(text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.pending(text, date, text) TO PUBLIC;

CREATE VIEW rgpd.pending_archive AS
    SELECT p.subject, p.id, p.last_contact, p.due_on, p.policy, p.negotiator, p.held
      FROM rgpd.pending('archive') AS p;
COMMENT ON VIEW rgpd.pending_archive IS 'To archive before the end of this month';
GRANT SELECT ON rgpd.pending_archive TO PUBLIC;
CREATE VIEW rgpd.pending_anonymise AS
    SELECT p.subject, p.id, p.last_contact, p.due_on, p.policy, p.negotiator, p.held
      FROM rgpd.pending('anonymise') AS p;
COMMENT ON VIEW rgpd.pending_anonymise IS 'To anonymise before the end of this month (rows only for managers)';
GRANT SELECT ON rgpd.pending_anonymise TO PUBLIC;

CREATE FUNCTION rgpd.dashboard(as_of date DEFAULT CURRENT_DATE, negotiator text DEFAULT NULL)
    RETURNS TABLE (subject regclass, to_archive bigint, to_anonymise bigint,
                   archived bigint, anonymised bigint, excluded bigint, held bigint,
                   retention_pending bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s regclass;
    manager boolean := rgpd.is_manager();
    per_link jsonb;
BEGIN
    IF dashboard.as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- rows of each link to purge, or kept and due to go: counted once
    -- (each count reads the link), only if there are rules
    IF EXISTS (SELECT 1 FROM rgpd.retention) THEN
        SELECT jsonb_object_agg(p.link::oid::text, coalesce(p.to_purge, 0) + coalesce(p.retained_due, 0))
          INTO per_link FROM rgpd.pending_retention(dashboard.as_of) AS p;
    END IF;
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::text LOOP
        CONTINUE WHEN NOT rgpd._readable(s);
        subject := s;
        SELECT count(*) FILTER (WHERE q.action = 1 AND NOT q.excluded),
               count(*) FILTER (WHERE q.action = 2 AND NOT q.excluded),
               count(DISTINCT q.id) FILTER (WHERE q.excluded)
          INTO to_archive, to_anonymise, excluded
          FROM (SELECT 1 AS action, a.id, a.excluded
                  FROM rgpd._due(s, 'archive', dashboard.as_of, dashboard.negotiator) AS a
                UNION ALL
                SELECT 2, n.id, n.excluded
                  FROM rgpd._due(s, 'anonymise', dashboard.as_of, dashboard.negotiator) AS n) AS q;
        SELECT c.archived, c.anonymised INTO archived, anonymised
          FROM rgpd._status_counts(s, dashboard.negotiator) AS c;
        -- holds in force (of the whole table: holds are not per portfolio),
        -- those the caller may know of (rgpd._held_ids)
        SELECT count(*) INTO held FROM rgpd._held_ids(s);
        -- rows of this table's links to purge, or kept and due to go (of
        -- the whole agency: rows of a link are not in a portfolio)
        SELECT coalesce(sum((per_link ->> l.link::oid::text)::bigint), 0) INTO retention_pending
          FROM rgpd.links AS l WHERE l.subject = s;
        IF NOT manager THEN
            -- the archive and the list to anonymise are for managers only
            to_anonymise := NULL;
            archived := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.dashboard(date, text) IS
    'Home-page counts per subject table, of one negotiator''s portfolio when given (to_anonymise and archived are NULL for non-managers); held: legal holds in force; retention_pending: linked rows to purge or whose keep ends by as_of';
REVOKE ALL ON FUNCTION rgpd.dashboard(date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.dashboard(date, text) TO PUBLIC;

/* ---- re-consent candidates ---- */

-- The candidates of one table, as its owner runs it: the list to archive
-- joined to the e-mail address, without objections to e-mail.  $1: as_of.
CREATE FUNCTION rgpd._reconsent_sql(p_subject regclass) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
BEGIN
    SELECT * INTO STRICT s FROM rgpd.subjects AS x WHERE x.subject = p_subject;
    IF s.email_column IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN format(
        'SELECT d.subject, d.id, CAST(s.%1$I AS pg_catalog.text) AS email, d.due_on'
        '  FROM (%2$s) AS d JOIN %3$s AS s ON s.%4$I OPERATOR(pg_catalog.=) d.id'
        ' WHERE NOT d.excluded'
        '   AND s.%1$I IS NOT NULL AND CAST(s.%1$I AS pg_catalog.text) OPERATOR(pg_catalog.<>) %5$L'
        '   AND NOT EXISTS (SELECT 1 FROM rgpd.objections AS o'
        '                    WHERE o.subject OPERATOR(pg_catalog.=) d.subject'
        '                      AND o.subject_id OPERATOR(pg_catalog.=) d.id AND o.do_not_email)'
        ' ORDER BY d.id',
        s.email_column, rgpd._sql(p_subject, 'due_archive'), p_subject, s.key_column, '');
END
$$;
REVOKE ALL ON FUNCTION rgpd._reconsent_sql(regclass) FROM PUBLIC;

CREATE FUNCTION rgpd.reconsent_candidates(as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (subject regclass, id bigint, email text, due_on date)
    AS 'MODULE_PATHNAME', 'rgpd_reconsent_candidates' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION rgpd.reconsent_candidates(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.reconsent_candidates(date) TO PUBLIC;
COMMENT ON FUNCTION rgpd.reconsent_candidates(date) IS
    'Whom to send the re-consent e-mail: due to be archived by the end of the month of as_of, with an e-mail address, no objection to e-mail';

/* ---- forecast ---- */

CREATE FUNCTION rgpd.forecast(months integer DEFAULT 12, negotiator text DEFAULT NULL)
    RETURNS TABLE (month date, subject regclass, to_archive bigint, to_anonymise bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s regclass;
    manager boolean := rgpd.is_manager();
    first date := date_trunc('month', CURRENT_DATE)::date;
    horizon date;
BEGIN
    IF forecast.months IS NULL THEN
        RAISE EXCEPTION 'months must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF forecast.months NOT BETWEEN 1 AND 120 THEN
        RAISE EXCEPTION 'months must be between 1 and 120, not %', forecast.months
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The forecast starts with the current month: 12 covers a year.';
    END IF;
    -- the last day of the last month: _due lists what is due by then
    horizon := (first + make_interval(months => forecast.months) - interval '1 day')::date;
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::text LOOP
        CONTINUE WHEN NOT rgpd._readable(s);
        -- months of due dates tell last contacts: for those who may read them
        CONTINUE WHEN NOT has_column_privilege(s, 'last_contact', 'SELECT');
        RETURN QUERY
            WITH calendar AS (
                SELECT (first + make_interval(months => g))::date AS month
                  FROM generate_series(0, forecast.months - 1) AS g),
            arch AS (
                SELECT date_trunc('month', a.due_on)::date AS month, count(*) AS n
                  FROM rgpd._due(s, 'archive', horizon, forecast.negotiator) AS a
                 WHERE NOT a.excluded AND a.due_on >= first
                 GROUP BY 1),
            anon AS (
                SELECT date_trunc('month', n.due_on)::date AS month, count(*) AS n
                  FROM rgpd._due(s, 'anonymise', horizon, forecast.negotiator) AS n
                 WHERE manager AND NOT n.excluded AND n.due_on >= first
                 GROUP BY 1)
            SELECT c.month, s, coalesce(arch.n, 0),
                   CASE WHEN manager THEN coalesce(anon.n, 0) END
              FROM calendar AS c
              LEFT JOIN arch ON arch.month = c.month
              LEFT JOIN anon ON anon.month = c.month
             ORDER BY c.month;
    END LOOP;
END
$$;
COMMENT ON FUNCTION rgpd.forecast(integer, text) IS
    'Records falling due each month from the current one (overdue ones not counted), per subject table; to_anonymise for managers only';

-- lists: checks inside (SELECT on the table; the list to anonymise and the
-- archive for managers; the e-mail column for the re-consent candidates)
REVOKE ALL ON FUNCTION rgpd.forecast(integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.forecast(integer, text) TO PUBLIC;
