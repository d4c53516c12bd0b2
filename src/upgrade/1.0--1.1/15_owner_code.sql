/* ------------------------------------------------------------------ *
 * The gate for owner code, from SQL
 *
 * Registration evaluates a table's CHECK constraints, and rgpd.scan()
 * reads every table of the database: both through the gate (src/owner_code.c,
 * src/scan.c), as the table's owner, never as a superuser or manager who
 * calls them.  Configuration written directly, not through the validating
 * functions, is validated all the same by a trigger.
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd._check_accepts(tbl regclass, col name, conname name, sample text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_check_accepts' LANGUAGE C;
COMMENT ON FUNCTION rgpd._check_accepts(regclass, name, name, text) IS
    'Whether a CHECK constraint accepts the value an erasure method writes, evaluated as the table''s owner';
-- registration (run as the caller) calls it; it checks ownership and refuses NULLs itself
REVOKE ALL ON FUNCTION rgpd._check_accepts(regclass, name, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._check_accepts(regclass, name, name, text) TO PUBLIC;
CREATE FUNCTION rgpd._mark_link_rows(link regclass, subject regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_mark_link_rows' LANGUAGE C STRICT;
-- registration (run as the caller) calls it; it checks ownership itself
REVOKE ALL ON FUNCTION rgpd._mark_link_rows(regclass, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._mark_link_rows(regclass, regclass) TO PUBLIC;

CREATE FUNCTION rgpd._count_matches(tbl regclass, col name, needles text[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rgpd_count_matches' LANGUAGE C STABLE STRICT;
-- rgpd.scan() calls it as each table's owner; it checks the owner's rights itself
REVOKE ALL ON FUNCTION rgpd._count_matches(regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._count_matches(regclass, name, text[]) TO PUBLIC;
CREATE FUNCTION rgpd._personal_values(subject regclass, id bigint) RETURNS text[]
    AS 'MODULE_PATHNAME', 'rgpd_personal_values' LANGUAGE C STABLE STRICT;
-- rgpd.scan() calls it as the subject table's owner; it checks the owner's rights itself
REVOKE ALL ON FUNCTION rgpd._personal_values(regclass, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._personal_values(regclass, bigint) TO PUBLIC;

CREATE OR REPLACE FUNCTION rgpd._check_erasure(tbl regclass, col name, method text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    sample text;
    uniq boolean;
    con record;
    ok boolean;
BEGIN
    SELECT at.attnum, at.attnotnull, at.atttypid, format_type(at.atttypid, at.atttypmod) AS typ,
           t.typcategory AS cat
      INTO a
      FROM pg_attribute AS at JOIN pg_type AS t ON t.oid = at.atttypid
     WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF method IS NULL THEN
        RAISE EXCEPTION 'no erasure method fits personal column "%" of table %', col, tbl
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = format('The column is NOT NULL and of type %s: it can be neither masked nor set to NULL.', a.typ),
                  HINT = 'Drop its NOT NULL constraint, choose a method with rgpd.set_erasure(), or leave it out of the personal columns.';
    END IF;
    IF method = 'delete_row' THEN
        RETURN;
    END IF;
    uniq := EXISTS (SELECT 1 FROM pg_index AS i
                     WHERE i.indrelid = tbl AND i.indisunique AND a.attnum = ANY (i.indkey));

    IF method IN ('null', 'mask') AND a.attnotnull AND (method = 'null' OR a.cat <> 'S') THEN
        RAISE EXCEPTION 'erasure method % cannot be used on NOT NULL column "%" of table %', method, col, tbl
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = CASE WHEN method = 'mask'
                                THEN format('A column of type %s is masked with NULL.', a.typ)
                                ELSE 'The method writes NULL.' END,
                  HINT = CASE WHEN a.cat = 'S'
                              THEN format('Use rgpd.set_erasure(%L, %L, ''mask'') or ''pseudonym''.', tbl::text, col)
                              ELSE 'Drop the NOT NULL constraint, or leave the column out of the personal columns.' END;
    END IF;
    IF method = 'pseudonym' AND a.cat <> 'S' THEN
        RAISE EXCEPTION 'erasure method pseudonym needs a text column; column "%" of table % has type %', col, tbl, a.typ
            USING ERRCODE = 'datatype_mismatch', HINT = 'Use ''null'' or ''mask''.';
    END IF;
    IF method = 'empty' AND a.cat NOT IN ('S', 'A') AND a.atttypid NOT IN ('json'::regtype, 'jsonb'::regtype) THEN
        RAISE EXCEPTION 'erasure method empty needs a text, array or json column; column "%" of table % has type %', col, tbl, a.typ
            USING ERRCODE = 'datatype_mismatch', HINT = 'Use ''null'' or ''mask''.';
    END IF;
    IF uniq AND method IN ('mask', 'empty') AND NOT (method = 'mask' AND a.cat <> 'S') THEN
        RAISE EXCEPTION 'erasure method % would give every anonymised row the same value in unique column "%" of table %', method, col, tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Use rgpd.set_erasure(%L, %L, ''pseudonym'') (or ''null'').', tbl::text, col);
    END IF;

    -- CHECK constraints on the column must accept the erased value
    sample := CASE method
        WHEN 'null' THEN NULL
        WHEN 'mask' THEN CASE WHEN a.cat = 'S' THEN coalesce(current_setting('rgpd.mask_text', true), 'XXXXX') END
        WHEN 'pseudonym' THEN coalesce(current_setting('rgpd.mask_text', true), 'XXXXX') || '_1'
        WHEN 'empty' THEN CASE WHEN a.cat = 'A' OR a.atttypid IN ('json'::regtype, 'jsonb'::regtype) THEN '{}' ELSE '' END
    END;
    FOR con IN SELECT c.conname
                 FROM pg_constraint AS c
                WHERE c.conrelid = tbl AND c.contype = 'c' AND a.attnum = ANY (c.conkey) LOOP
        -- the constraint is the table owner's code: evaluated as the owner
        ok := rgpd._check_accepts(tbl, col, con.conname, sample);
        IF NOT ok THEN
            RAISE EXCEPTION 'erasure method % of column "%" would violate check constraint "%" of table %',
                            method, col, con.conname, tbl
                USING ERRCODE = 'check_violation',
                      HINT = CASE WHEN a.attnotnull
                                  THEN 'Choose another method with rgpd.set_erasure().'
                                  ELSE format('Use rgpd.set_erasure(%L, %L, ''null'').', tbl::text, col) END;
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION rgpd.scan(vals text[])
    RETURNS TABLE (tbl regclass, col name, matches bigint, erased_by_anonymise boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    n bigint;
    needles text[];
BEGIN
    -- values too short to mean anything (initials, empty strings) are skipped
    SELECT array_agg(DISTINCT lower(v)) INTO needles
      FROM unnest(vals) AS v WHERE length(btrim(v)) >= 3;
    IF needles IS NULL THEN
        RETURN;
    END IF;
    FOR c IN
        SELECT a.attrelid::regclass AS t, a.attname AS a
          FROM pg_attribute AS a
          JOIN pg_class AS k ON k.oid = a.attrelid
          JOIN pg_namespace AS ns ON ns.oid = k.relnamespace
          JOIN pg_type AS ty ON ty.oid = a.atttypid
         WHERE k.relkind IN ('r', 'p') AND NOT k.relispartition
           AND ns.nspname NOT IN ('pg_catalog', 'information_schema', 'rgpd')
           AND ns.nspname NOT LIKE 'pg\_%'
           AND a.attnum > 0 AND NOT a.attisdropped
           AND ty.typcategory = 'S'
           AND has_schema_privilege(ns.oid, 'USAGE')
           AND has_column_privilege(a.attrelid, a.attnum, 'SELECT')
         ORDER BY k.oid::regclass::text, a.attnum
    LOOP
        -- counted through the gate: never another role's code as the caller
        n := rgpd._count_matches(c.t, c.a, needles);
        IF n > 0 THEN
            tbl := c.t;
            col := c.a;
            matches := n;
            erased_by_anonymise :=
                EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject = c.t AND c.a = ANY (s.personal_columns))
                OR EXISTS (SELECT 1 FROM rgpd.links AS l, rgpd._link_personal(l) AS lp
                            WHERE l.link = c.t AND lp.personal_column = c.a);
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION rgpd.scan(subject regclass, id bigint)
    RETURNS TABLE (tbl regclass, col name, matches bigint, erased_by_anonymise boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    s rgpd.subjects;
    vals text[];
BEGIN
    s := rgpd._subject(subject);
    IF cardinality(s.personal_columns) = 0 THEN
        RETURN;
    END IF;
    -- read as the owner, for a caller who may read that row and its columns
    vals := rgpd._personal_values(subject, id);
    RETURN QUERY SELECT * FROM rgpd.scan(vals);
END
$$;

-- Configuration is validated on every write, whoever writes it and
-- however: a table's owner may write its own rows of rgpd.subjects,
-- rgpd.links, rgpd.policies and rgpd.erasures, and such a write must not
-- bring in what the registration functions would refuse (predicates are
-- normalized; tables and columns checked).
CREATE FUNCTION rgpd._validate_config() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c name;
BEGIN
    IF TG_TABLE_NAME = 'subjects' THEN
        -- what rgpd.register_subject() would refuse: a temporary table (its
        -- row would be left behind for everyone), the extension's tables,
        -- columns that do not exist
        PERFORM rgpd._require_registrable(NEW.subject, 'subject');
        PERFORM rgpd._require_column(NEW.subject, NEW.key_column, 'key',
                                     ARRAY['smallint', 'integer', 'bigint']::regtype[]);
        IF NEW.created_column IS NOT NULL THEN
            PERFORM rgpd._require_column(NEW.subject, NEW.created_column, 'creation date',
                ARRAY['date', 'timestamp without time zone', 'timestamp with time zone']::regtype[]);
        END IF;
        IF NEW.time_zone IS NULL
           OR NOT EXISTS (SELECT 1 FROM pg_timezone_names AS z WHERE z.name = NEW.time_zone) THEN
            RAISE EXCEPTION 'time zone "%" not recognized', NEW.time_zone
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give a name from pg_timezone_names, such as ''Europe/Paris'', as time_zone.';
        END IF;
        FOREACH c IN ARRAY ARRAY[NEW.negotiator_column, NEW.email_column, NEW.mobile_column] LOOP
            IF c IS NOT NULL THEN
                PERFORM rgpd._require_column(NEW.subject, c, 'registered');
            END IF;
        END LOOP;
        -- personal columns as rgpd.register_subject() checks them
        -- (30_registration.sql): a NULL one reached the C statement builders
        PERFORM rgpd._check_subject_personal(NEW.subject, NEW.personal_columns,
                                             NEW.key_column, NEW.created_column);
        PERFORM rgpd._invalidate(NEW.subject);
        RETURN NEW;
    ELSIF TG_TABLE_NAME = 'erasures' THEN
        PERFORM rgpd._require_registrable(NEW.tbl, 'link');
        PERFORM rgpd._require_column(NEW.tbl, NEW.col, 'erased');
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'policies' THEN
        -- the bounds rgpd.set_policy() keeps, so that every due date exists
        PERFORM rgpd._check_period(NEW.name, 'archive_after', NEW.archive_after);
        PERFORM rgpd._check_period(NEW.name, 'anonymise_after', NEW.anonymise_after);
        IF NEW.archive_after >= NEW.anonymise_after THEN
            RAISE EXCEPTION 'archive_after (%) of policy "%" must be shorter than anonymise_after (%)',
                            NEW.archive_after, NEW.name, NEW.anonymise_after
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Records are archived first, anonymised later.';
        END IF;
        IF NEW.applies_when IS NOT NULL THEN
            NEW.applies_when := rgpd._normalize_predicate(NEW.subject, NEW.applies_when);
        END IF;
        PERFORM rgpd._invalidate(NEW.subject);
    ELSE
        -- the columns as rgpd.register_link() checks them: subject keys,
        -- dates, personal columns (30_registration.sql)
        PERFORM rgpd._check_link_columns(NEW.link, NEW.subject_columns, NEW.date_columns,
                                         NEW.personal_columns);
        IF NEW.excludes_when IS NOT NULL THEN
            NEW.excludes_when := rgpd._normalize_predicate(NEW.link, NEW.excludes_when);
        END IF;
        PERFORM rgpd._invalidate(NEW.subject);
        PERFORM rgpd._invalidate(NEW.link);
    END IF;
    RETURN NEW;
END
$$;
-- a trigger function: nobody calls it
REVOKE ALL ON FUNCTION rgpd._validate_config() FROM PUBLIC;
CREATE TRIGGER validate BEFORE INSERT OR UPDATE ON rgpd.policies
    FOR EACH ROW EXECUTE FUNCTION rgpd._validate_config();
CREATE TRIGGER validate BEFORE INSERT OR UPDATE ON rgpd.links
    FOR EACH ROW EXECUTE FUNCTION rgpd._validate_config();
CREATE TRIGGER validate BEFORE INSERT OR UPDATE ON rgpd.subjects
    FOR EACH ROW EXECUTE FUNCTION rgpd._validate_config();
CREATE TRIGGER validate BEFORE INSERT OR UPDATE ON rgpd.erasures
    FOR EACH ROW EXECUTE FUNCTION rgpd._validate_config();

-- DROP EXTENSION pericles_rgpd while tables are registered would leave
-- their archived rows readable by everyone: refused (src/drop_guard.c).
CREATE FUNCTION rgpd._guard_drop_extension() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'rgpd_guard_drop_extension' LANGUAGE C;
REVOKE ALL ON FUNCTION rgpd._guard_drop_extension() FROM PUBLIC;
CREATE EVENT TRIGGER rgpd_guard_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION') EXECUTE FUNCTION rgpd._guard_drop_extension();
