/* ------------------------------------------------------------------ *
 * Lists, dashboard, verify and is_excluded, computed as the owner
 *
 * Policy and exclusion predicates are the table owner's code: 1.0 ran
 * them with the rights of whoever read a list (a superuser reading
 * rgpd.pending_archive ran a tenant's function as superuser).  From 1.1
 * they run in C, through the gate, as the owner of the table, and the
 * reader gets back what it may read in the table itself (src/lists.c,
 * src/caller_rights.c).  A table that fails is skipped with a WARNING.
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd._due(subject regclass, action text, as_of date)
    RETURNS TABLE (subject regclass, id bigint, last_contact date, due_on date,
                   policy text, excluded boolean)
    AS 'MODULE_PATHNAME', 'rgpd_due' LANGUAGE C STABLE;
COMMENT ON FUNCTION rgpd._due(regclass, text, date) IS
    'Rows of one subject table due for archive or anonymise by the end of the month of as_of, as the caller may see them';

CREATE FUNCTION rgpd._status_counts(subject regclass, OUT archived bigint, OUT anonymised bigint)
    AS 'MODULE_PATHNAME', 'rgpd_status_counts' LANGUAGE C STABLE STRICT;

CREATE FUNCTION rgpd._readable(subject regclass) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_readable_sql' LANGUAGE C STABLE STRICT;
-- the lists call it in the caller's context; it answers only for the caller
REVOKE ALL ON FUNCTION rgpd._readable(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._readable(regclass) TO PUBLIC;

CREATE OR REPLACE FUNCTION rgpd.verify(subject regclass)
    RETURNS TABLE (id bigint, stored date, expected date)
    AS 'MODULE_PATHNAME', 'rgpd_verify' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION rgpd.verify(regclass) IS
    'Rows whose stored last_contact differs from a full recomputation (empty when healthy)';

CREATE OR REPLACE FUNCTION rgpd.is_excluded(subject regclass, id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_is_excluded' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION rgpd.is_excluded(regclass, bigint) IS
    'True when a linked row matching its link''s excludes_when (e.g. a rental) keeps the subject out of the engine';

CREATE OR REPLACE FUNCTION rgpd.pending(action text, as_of date DEFAULT CURRENT_DATE)
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
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::text LOOP
        RETURN QUERY
            SELECT d.subject, d.id, d.last_contact, d.due_on, d.policy
              FROM rgpd._due(s, pending.action, pending.as_of) AS d
             WHERE NOT d.excluded
             ORDER BY d.due_on, d.id;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION rgpd.dashboard(as_of date DEFAULT CURRENT_DATE)
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
        CONTINUE WHEN NOT rgpd._readable(s);
        subject := s;
        SELECT count(*) FILTER (WHERE q.action = 1 AND NOT q.excluded),
               count(*) FILTER (WHERE q.action = 2 AND NOT q.excluded),
               count(DISTINCT q.id) FILTER (WHERE q.excluded)
          INTO to_archive, to_anonymise, excluded
          FROM (SELECT 1 AS action, a.id, a.excluded FROM rgpd._due(s, 'archive', dashboard.as_of) AS a
                UNION ALL
                SELECT 2, n.id, n.excluded FROM rgpd._due(s, 'anonymise', dashboard.as_of) AS n) AS q;
        SELECT c.archived, c.anonymised INTO archived, anonymised FROM rgpd._status_counts(s) AS c;
        IF NOT manager THEN
            -- the archive and the list to anonymise are for managers only
            to_anonymise := NULL;
            archived := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
