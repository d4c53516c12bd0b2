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
 * The due lists (RGPD_STMT_DUE_ARCHIVE and _ANONYMISE,
 * src/subject_statements.c) return the negotiator (as text) in a new last
 * column.
 */

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

-- The candidates of one table are RGPD_STMT_RECONSENT, run as its owner:
-- the list to archive joined to the e-mail address, without objections to
-- e-mail (src/subject_statements.c).

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
