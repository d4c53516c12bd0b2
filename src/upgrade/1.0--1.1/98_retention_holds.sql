/* ------------------------------------------------------------------ *
 * 98_retention_holds.sql — 1.1: retention by kind of record (issue 12
 * item 1) and legal holds (item 2).
 *
 *  * rgpd.retention: one rule per link table.  keep is a statutory
 *    minimum (invoices, 10 years): when the subject is anonymised or
 *    forgotten, rows of the link younger than date_column + keep keep
 *    their personal values (rgpd.retained_rows says whose, why and until
 *    when); the sweep erases them when they reach it.  purge_after is a
 *    maximum: the sweep erases (purge 'erase') or deletes ('delete') rows
 *    older than date_column + purge_after, whatever their subject's
 *    status.  Statements on the link run as its owner through the gate
 *    (src/retention.c).
 *  * rgpd.holds: a legal hold on one subject row (GDPR art. 17(3)(e)).  A
 *    held subject is neither archived nor anonymised by the sweep;
 *    rgpd.anonymise, rgpd.forget and rgpd.purge refuse it (55000).  A
 *    hold with an end date lapses by itself after that day.
 *
 * Written only by the C entry points (managers only), which run the
 * functions below as the extension's owner with the caller as actor;
 * every change is journaled.  The three tables are dumped.
 * ------------------------------------------------------------------ */

CREATE TABLE rgpd.retention (
    link        regclass PRIMARY KEY,
    date_column name NOT NULL,
    keep        interval,
    purge_after interval,
    purge       text NOT NULL DEFAULT 'erase' CHECK (purge IN ('erase', 'delete')),
    basis       text,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    set_by      name NOT NULL,
    CHECK (keep IS NOT NULL OR purge_after IS NOT NULL)
);
COMMENT ON TABLE rgpd.retention IS
    'Retention of one kind of record (a link table): keep (statutory minimum after anonymisation), purge_after (maximum); rgpd.set_retention()';
ALTER TABLE rgpd.retention ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON rgpd.retention FOR SELECT USING (true);
REVOKE ALL ON rgpd.retention FROM PUBLIC;
GRANT SELECT ON rgpd.retention TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('rgpd.retention', '');

-- Rows of anonymised subjects that keep their personal values for a
-- statutory period: per link and subject, how many, until when (the last
-- of their end dates), the legal basis, and the keys of the rows when the
-- link has a one-column key (their archived values, if the subject was
-- archived first, stay in rgpd.archived_values until then).
CREATE TABLE rgpd.retained_rows (
    link        regclass NOT NULL,
    subject     regclass NOT NULL,
    subject_id  bigint NOT NULL,
    rows        bigint NOT NULL,
    until       date NOT NULL,
    basis       text,
    row_keys    text[],
    retained_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (link, subject, subject_id)
);
CREATE INDEX retained_rows_until_idx ON rgpd.retained_rows (link, until);
COMMENT ON TABLE rgpd.retained_rows IS
    'Linked rows of anonymised subjects kept for a statutory period (managers only; dumped)';
ALTER TABLE rgpd.retained_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY managers ON rgpd.retained_rows FOR SELECT USING (rgpd.is_manager());
REVOKE ALL ON rgpd.retained_rows FROM PUBLIC;
GRANT SELECT ON rgpd.retained_rows TO rgpd_manager;
SELECT pg_catalog.pg_extension_config_dump('rgpd.retained_rows', '');

CREATE TABLE rgpd.holds (
    subject    regclass NOT NULL,
    subject_id bigint NOT NULL,
    reason     text NOT NULL,
    until      date,
    held_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    held_by    name NOT NULL,
    PRIMARY KEY (subject, subject_id)
);
COMMENT ON TABLE rgpd.holds IS
    'Legal holds: subjects no sweep, anonymise, forget or purge erases (until lapses after that day); rgpd.hold()';
-- the holds are for managers; the lists tell others which of the rows
-- they may see are held (rgpd._held_ids): a hold on an archived person
-- would tell an agent the id exists
REVOKE ALL ON rgpd.holds FROM PUBLIC;
GRANT SELECT ON rgpd.holds TO rgpd_manager;
SELECT pg_catalog.pg_extension_config_dump('rgpd.holds', '');

CREATE FUNCTION rgpd._held_ids(subject regclass) RETURNS SETOF bigint
    AS 'MODULE_PATHNAME', 'rgpd_held_ids' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION rgpd._held_ids(regclass) IS
    'Subjects of a table under a hold in force, as the caller may know of them (managers: all; others: active rows they see)';
-- the lists call it in the caller's context; it answers only for the caller
REVOKE ALL ON FUNCTION rgpd._held_ids(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._held_ids(regclass) TO PUBLIC;

-- Is a hold in force on a day?  Held through its until day, lapsed after.
CREATE FUNCTION rgpd._hold_in_force(until date, on_day date) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$ SELECT until IS NULL OR on_day OPERATOR(pg_catalog.<=) until $$;

-- Registrations of tables that are dropped go with them (as the extension
-- owner: whoever drops the table has no right on these tables).
CREATE FUNCTION rgpd._forget_dropped_retention() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM rgpd.retention AS r USING pg_event_trigger_dropped_objects() AS d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND r.link::oid = d.objid;
    DELETE FROM rgpd.retained_rows AS r USING pg_event_trigger_dropped_objects() AS d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND (r.link::oid = d.objid OR r.subject::oid = d.objid);
    DELETE FROM rgpd.holds AS h USING pg_event_trigger_dropped_objects() AS d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND h.subject::oid = d.objid;
END
$$;
REVOKE ALL ON FUNCTION rgpd._forget_dropped_retention() FROM PUBLIC;
CREATE EVENT TRIGGER rgpd_forget_dropped_retention ON sql_drop
    EXECUTE FUNCTION rgpd._forget_dropped_retention();

/* ---- retention rules ---- */

-- Check and store a rule (run by rgpd.set_retention() as the extension's
-- owner, after it checked that the caller is a manager).
CREATE FUNCTION rgpd._set_retention(actor name, p_link regclass, p_date_column name, p_keep interval,
                                    p_purge_after interval, p_purge text, p_basis text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regtype;
BEGIN
    IF p_link IS NULL THEN
        RAISE EXCEPTION 'link must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM rgpd.links AS l WHERE l.link = p_link) THEN
        RAISE EXCEPTION 'table % is not registered as a link', p_link
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it first with rgpd.register_link(); retention applies to linked rows.';
    END IF;
    t := rgpd._require_column(p_link, p_date_column, 'retention date',
                              ARRAY['date', 'timestamp without time zone', 'timestamp with time zone']::regtype[]);
    IF p_keep IS NULL AND p_purge_after IS NULL THEN
        RAISE EXCEPTION 'a retention rule of table % needs keep or purge_after', p_link
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'keep is the minimum kept after anonymisation (e.g. ''10 years''), purge_after the maximum.';
    END IF;
    -- as policy periods: between 1 day and 100 years, no negative part
    IF p_keep IS NOT NULL AND (p_keep < interval '1 day' OR p_keep > interval '100 years'
       OR extract(month FROM p_keep) < 0 OR extract(year FROM p_keep) < 0 OR extract(day FROM p_keep) < 0
       OR extract(epoch FROM p_keep - date_trunc('day', p_keep)) < 0) THEN
        RAISE EXCEPTION 'keep of the retention rule of table % must lie between 1 day and 100 years, not %',
                        p_link, p_keep
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a period such as ''10 years'' (invoices, L123-22).';
    END IF;
    IF p_purge_after IS NOT NULL AND (p_purge_after < interval '1 day' OR p_purge_after > interval '100 years'
       OR extract(month FROM p_purge_after) < 0 OR extract(year FROM p_purge_after) < 0
       OR extract(day FROM p_purge_after) < 0
       OR extract(epoch FROM p_purge_after - date_trunc('day', p_purge_after)) < 0) THEN
        RAISE EXCEPTION 'purge_after of the retention rule of table % must lie between 1 day and 100 years, not %',
                        p_link, p_purge_after
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a period such as ''5 years'' or ''18 months''.';
    END IF;
    -- a maximum shorter than the minimum would purge what must be kept
    IF p_keep IS NOT NULL AND p_purge_after IS NOT NULL
       AND (DATE '2000-01-01' + p_purge_after) < (DATE '2000-01-01' + p_keep) THEN
        RAISE EXCEPTION 'purge_after (%) of table % is shorter than keep (%)', p_purge_after, p_link, p_keep
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Rows must be kept for keep; purge_after can only end that later.',
                  HINT = 'Give a purge_after at least as long as keep, or no purge_after.';
    END IF;
    IF p_purge IS NULL OR p_purge NOT IN ('erase', 'delete') THEN
        RAISE EXCEPTION 'unknown purge "%" for table %', p_purge, p_link
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''erase'' (the personal columns of the row) or ''delete'' (the row).';
    END IF;
    PERFORM rgpd._check_length(p_basis, 'basis of a retention rule');

    INSERT INTO rgpd.retention AS r (link, date_column, keep, purge_after, purge, basis, set_by)
    VALUES (p_link, p_date_column, p_keep, p_purge_after, p_purge, p_basis, actor)
    ON CONFLICT ON CONSTRAINT retention_pkey DO UPDATE
       SET date_column = EXCLUDED.date_column, keep = EXCLUDED.keep,
           purge_after = EXCLUDED.purge_after, purge = EXCLUDED.purge,
           basis = EXCLUDED.basis, set_at = pg_catalog.now(), set_by = EXCLUDED.set_by;
    INSERT INTO rgpd.journal (actor, action, subject, detail)
    VALUES (actor, 'set_retention', p_link,
            jsonb_build_object('date_column', p_date_column, 'keep', p_keep::text,
                               'purge_after', p_purge_after::text, 'purge', p_purge, 'basis', p_basis));
END
$$;

CREATE FUNCTION rgpd._unset_retention(actor name, p_link regclass) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_link IS NULL THEN
        RAISE EXCEPTION 'link must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM rgpd.retained_rows AS r WHERE r.link = p_link) THEN
        RAISE EXCEPTION 'rows of table % are kept under its retention rule', p_link
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'rgpd.retained_rows lists them; without the rule nothing would erase them.',
                  HINT = 'Wait until they are erased, or change the rule with rgpd.set_retention().';
    END IF;
    DELETE FROM rgpd.retention AS r WHERE r.link = p_link;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO rgpd.journal (actor, action, subject, detail)
    VALUES (actor, 'unset_retention', p_link, '{}');
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION rgpd._set_retention(name, regclass, name, interval, interval, text, text),
    rgpd._unset_retention(name, regclass) FROM PUBLIC;

CREATE FUNCTION rgpd.set_retention(link regclass, date_column name, keep interval DEFAULT NULL,
                                   purge_after interval DEFAULT NULL, purge text DEFAULT 'erase',
                                   basis text DEFAULT NULL)
    RETURNS void AS 'MODULE_PATHNAME', 'rgpd_set_retention' LANGUAGE C;
COMMENT ON FUNCTION rgpd.set_retention(regclass, name, interval, interval, text, text) IS
    'Retention of a link''s rows: keep them after anonymisation until date_column + keep, purge them at date_column + purge_after (managers)';
CREATE FUNCTION rgpd.unset_retention(link regclass)
    RETURNS boolean AS 'MODULE_PATHNAME', 'rgpd_unset_retention' LANGUAGE C;
COMMENT ON FUNCTION rgpd.unset_retention(regclass) IS
    'Remove the retention rule of a link (managers); refused while rows are kept under it';
CREATE FUNCTION rgpd.purge(link regclass, as_of date DEFAULT CURRENT_DATE)
    RETURNS bigint AS 'MODULE_PATHNAME', 'rgpd_purge' LANGUAGE C;
COMMENT ON FUNCTION rgpd.purge(regclass, date) IS
    'Run a link''s purge now (managers): rows past date_column + purge_after; refused if one belongs to a held subject';
CREATE FUNCTION rgpd.pending_retention(as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (link regclass, purge text, to_purge bigint, retained bigint, retained_due bigint,
                   held bigint)
    AS 'MODULE_PATHNAME', 'rgpd_pending_retention' LANGUAGE C STABLE;
COMMENT ON FUNCTION rgpd.pending_retention(date) IS
    'Per link with a retention rule the caller may read: rows to purge by as_of, rows kept, kept rows due to go by as_of, rows skipped for a hold';
REVOKE ALL ON FUNCTION rgpd.set_retention(regclass, name, interval, interval, text, text),
    rgpd.unset_retention(regclass), rgpd.purge(regclass, date), rgpd.pending_retention(date) FROM PUBLIC;
-- the checks are inside (managers; pending_retention: links the caller reads)
GRANT EXECUTE ON FUNCTION rgpd.set_retention(regclass, name, interval, interval, text, text),
    rgpd.unset_retention(regclass), rgpd.purge(regclass, date), rgpd.pending_retention(date) TO PUBLIC;

-- The statements of a link's retention rule (which rows its keep keeps,
-- the purge) are built in C, by kind: src/retention_statements.c; the
-- erasures that spare kept rows are src/link_statements.c.

CREATE FUNCTION rgpd._retention_day() RETURNS date
    AS 'MODULE_PATHNAME', 'rgpd_retention_day' LANGUAGE C STABLE;
COMMENT ON FUNCTION rgpd._retention_day() IS
    'The day retention is reckoned from in the running statement: the sweep''s as_of (never after today), else today';
REVOKE ALL ON FUNCTION rgpd._retention_day() FROM PUBLIC;
-- read by the statements run as a link's owner
GRANT EXECUTE ON FUNCTION rgpd._retention_day() TO PUBLIC;

/* ---- legal holds ---- */

CREATE FUNCTION rgpd.hold(subject regclass, id bigint, reason text, until date DEFAULT NULL)
    RETURNS void AS 'MODULE_PATHNAME', 'rgpd_hold' LANGUAGE C;
COMMENT ON FUNCTION rgpd.hold(regclass, bigint, text, date) IS
    'Put a subject under legal hold (managers): no sweep, anonymise, forget or purge erases it until released (or after until)';
CREATE FUNCTION rgpd.release(subject regclass, id bigint, reason text)
    RETURNS boolean AS 'MODULE_PATHNAME', 'rgpd_release' LANGUAGE C;
COMMENT ON FUNCTION rgpd.release(regclass, bigint, text) IS
    'Release a legal hold (managers), journaled with the reason';
REVOKE ALL ON FUNCTION rgpd.hold(regclass, bigint, text, date), rgpd.release(regclass, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd.hold(regclass, bigint, text, date), rgpd.release(regclass, bigint, text) TO PUBLIC;

/* ---- the lists: held subjects, pending retention ---- */

-- rgpd.pending() has a held column and rgpd.dashboard() counts holds and
-- what is pending under retention rules: both are defined with the
-- portfolios (97_portfolio_tokens.sql), and read these tables at run time.
REVOKE ALL ON FUNCTION rgpd._hold_in_force(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._hold_in_force(date, date) TO PUBLIC;
