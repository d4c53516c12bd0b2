/* ------------------------------------------------------------------ *
 * Contact dates are finite (1.1)
 *
 * A link row dated 'infinity' made last_contact infinity: the record never
 * fell due.  The link trigger refuses a new or updated row that points at
 * a subject with a date at 'infinity' or '-infinity' (22008,
 * src/last_contact.c); registering a link that already holds such rows is
 * refused with their count (rgpd._require_finite_dates, called by
 * rgpd.register_link).  Rows that got in while the triggers were disabled
 * are no contact for the recomputation and for verify(), as for the
 * engine, which never records one: their statements ignore a value
 * that is not finite.  Nor is a date from year 10000 on (5874897-12-31
 * is as good as infinity, and date + keep would overflow).  Earlier
 * future dates stay contacts.
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd._count_infinite_dates(link regclass, subject_columns name[], date_columns name[])
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_count_infinite_dates' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION rgpd._count_infinite_dates(regclass, name[], name[]) IS
    'Rows of a link that point at a subject with a date at infinity or -infinity, counted as the link''s owner';
REVOKE ALL ON FUNCTION rgpd._count_infinite_dates(regclass, name[], name[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._count_infinite_dates(regclass, name[], name[]) TO PUBLIC;

CREATE FUNCTION rgpd._require_finite_dates(link regclass, subject_columns name[], date_columns name[])
    RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint := rgpd._count_infinite_dates(link, subject_columns, date_columns);
BEGIN
    IF n > 0 THEN
        RAISE EXCEPTION 'table % holds % rows dated infinity, -infinity or after year 9999 in columns %', link, n, date_columns
            USING ERRCODE = 'datetime_field_overflow',
                  DETAIL = 'A contact at infinity, or beyond year 9999, would keep the record from ever falling due.',
                  HINT = 'Store the real dates of those contacts, or NULL where they are not known, then register the link again.';
    END IF;
END
$$;
COMMENT ON FUNCTION rgpd._require_finite_dates(regclass, name[], name[]) IS
    'Refuses a link whose rows hold a date at infinity, -infinity or after year 9999';
REVOKE ALL ON FUNCTION rgpd._require_finite_dates(regclass, name[], name[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._require_finite_dates(regclass, name[], name[]) TO PUBLIC;

-- The recomputation and verify() take the days of link rows finite and
-- before year 10000, as the link trigger takes them: rgpd_sql_greatest_day()
-- in src/statement_parts.c.
