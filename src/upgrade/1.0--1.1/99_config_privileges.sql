/* ------------------------------------------------------------------ *
 * Configuration tables: no table-wide UPDATE or DELETE for PUBLIC
 *
 * Registration runs with the caller's rights and writes rgpd.subjects,
 * rgpd.links, rgpd.policies, rgpd.erasures and rgpd.partitions itself,
 * row-level security (owner_writes) keeping each role to the rows of its
 * own tables.  1.0 granted INSERT, UPDATE and DELETE on them to PUBLIC;
 * but UPDATE and DELETE of a whole table are what LOCK TABLE checks, and
 * any role of the database could then hold ACCESS EXCLUSIVE on the
 * configuration and stall every session's first contact, the sweep and
 * the lists (review finding).  Now PUBLIC keeps SELECT and INSERT (enough
 * for ROW EXCLUSIVE only, which blocks nobody's reads and writes) and
 * UPDATE of each column (column privileges do not count for LOCK TABLE);
 * deletes go through rgpd._delete_config() (src/config_deletes.c), which
 * checks that the caller holds the owner's privileges of the tables the
 * rows name and runs one of a fixed set of statements as the extension's
 * owner.  This file comes last of the upgrade, so that the column grants
 * cover every column the files before it added; a later version adding
 * a column grants its UPDATE beside it.
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd._delete_config(what text, tbl regclass, other regclass DEFAULT NULL,
                                    name text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_delete_config' LANGUAGE C;
COMMENT ON FUNCTION rgpd._delete_config(text, regclass, regclass, text) IS
    'Deletes the configuration rows of tables whose owner''s privileges the caller holds (registration)';
-- registration (run as the caller) calls it; it checks ownership itself
REVOKE ALL ON FUNCTION rgpd._delete_config(text, regclass, regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._delete_config(text, regclass, regclass, text) TO PUBLIC;

-- 1.0's drop_policy deleted the row itself
CREATE OR REPLACE FUNCTION rgpd.drop_policy(subject regclass, name text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    PERFORM rgpd._require_owner(subject);
    IF name = 'default' THEN
        RAISE EXCEPTION 'the default policy cannot be dropped'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Change it with rgpd.set_policy().';
    END IF;
    IF rgpd._delete_config('policy', subject, NULL, name) = 0 THEN
        RAISE EXCEPTION 'policy "%" of table % does not exist', name, subject USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM rgpd._invalidate(subject);
END
$$;

REVOKE UPDATE, DELETE ON rgpd.subjects, rgpd.links, rgpd.policies, rgpd.erasures, rgpd.partitions FROM PUBLIC;
DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['rgpd.subjects', 'rgpd.links', 'rgpd.policies', 'rgpd.erasures',
                             'rgpd.partitions']::regclass[] LOOP
        EXECUTE format('GRANT UPDATE (%s) ON %s TO PUBLIC',
                       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute AS a
                         WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped), t);
    END LOOP;
END
$$;
