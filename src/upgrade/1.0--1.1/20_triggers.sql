
/* ------------------------------------------------------------------ *
 * Triggers act only as registered (1.1)
 *
 * The arguments of the contact engine's triggers are generated in one
 * place, rgpd._link_trigger_args() and rgpd._subject_trigger_args(), used
 * both by registration (rgpd._sync_link, rgpd._sync) to create the
 * triggers and by the trigger functions themselves, when they first read
 * their configuration, to check that they are exactly the trigger
 * registration installed on a registered table (as ri_triggers.c checks
 * its constraint).  A trigger anyone else attaches to rgpd.link_trigger()
 * or rgpd.subject_trigger() fails with SQLSTATE 39P01 and changes nothing.
 *
 * Every argument is "keyword:value", split at the first colon: keywords
 * never contain one, so any column or table name is a value, whatever it
 * is called ("subject", "key", "a:b", "Client Id").
 *   link:    subject:<table> key:<k> tz:<zone> date:<d>...
 *            column:<c> personal:<p>... [delete:] ...     (per subject)
 *            personal: and delete: belong to the column: before them
 *   subject: key:<k> tz:<zone> [created:<c>] personal:<p>...
 * 1.0 wrote a flat list of keywords and values, which a value named like
 * a keyword derailed; the triggers of every registered table are
 * re-created below, and the library reads only the new format.
 * ------------------------------------------------------------------ */

-- The arguments registration gives the triggers of a link table: one
-- section per subject table it is linked to (in name order, which a
-- dump and restore keep); NULL when the table is not a registered link.
CREATE FUNCTION rgpd._link_trigger_args(link regclass) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    l rgpd.links;
    s rgpd.subjects;
    c name;
    p name;
    deleted name[];
    a text[] := '{}';
BEGIN
    FOR l IN SELECT * FROM rgpd.links AS x WHERE x.link = link
              ORDER BY x.subject::text COLLATE "C" LOOP
        SELECT * INTO s FROM rgpd.subjects AS x WHERE x.subject = l.subject;
        a := a || ARRAY['subject:' || l.subject::text,
                        'key:' || s.key_column::text,
                        'tz:' || s.time_zone];
        FOREACH c IN ARRAY l.date_columns LOOP
            a := a || ('date:' || c::text);
        END LOOP;
        deleted := ARRAY(SELECT rgpd._link_deleted(l));
        FOREACH c IN ARRAY l.subject_columns LOOP
            a := a || ('column:' || c::text);
            FOR p IN SELECT x.personal_column FROM rgpd._link_personal(l) AS x
                      WHERE x.subject_column = c ORDER BY 1 LOOP
                a := a || ('personal:' || p::text);
            END LOOP;
            IF c = ANY (deleted) THEN
                a := a || 'delete:'::text;
            END IF;
        END LOOP;
    END LOOP;
    RETURN CASE WHEN cardinality(a) > 0 THEN a END;
END
$$;
-- the trigger functions call these as whoever writes the table, and
-- registration as the owner registering it
REVOKE ALL ON FUNCTION rgpd._link_trigger_args(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._link_trigger_args(regclass) TO PUBLIC;
COMMENT ON FUNCTION rgpd._link_trigger_args(regclass) IS
    'Arguments of the triggers registration installs on a link table (NULL: not a registered link)';

-- The arguments registration gives the triggers of a subject table; NULL
-- when the table is not a registered subject.
CREATE FUNCTION rgpd._subject_trigger_args(subject regclass) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['key:' || s.key_column::text, 'tz:' || s.time_zone]
           || CASE WHEN s.created_column IS NULL THEN '{}'::text[]
                   ELSE ARRAY['created:' || s.created_column::text] END
           || ARRAY(SELECT 'personal:' || p.c::text
                      FROM unnest(s.personal_columns) WITH ORDINALITY AS p(c, o)
                     ORDER BY p.o)
      FROM rgpd.subjects AS s
     WHERE s.subject = $1
$$;
REVOKE ALL ON FUNCTION rgpd._subject_trigger_args(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._subject_trigger_args(regclass) TO PUBLIC;
COMMENT ON FUNCTION rgpd._subject_trigger_args(regclass) IS
    'Arguments of the triggers registration installs on a subject table (NULL: not a registered subject)';

-- (Re)create the triggers of a link table from every registration of it.
CREATE OR REPLACE FUNCTION rgpd._sync_link(p_link regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    args text;
BEGIN
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_insert');
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_update');
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_delete');
    PERFORM rgpd._drop_own(p_link, 'trigger', 'rgpd_link_truncate');

    SELECT string_agg(quote_literal(x), ', ' ORDER BY o) INTO args
      FROM unnest(rgpd._link_trigger_args(p_link)) WITH ORDINALITY AS u(x, o);
    IF args IS NULL THEN
        RETURN;
    END IF;

    -- rgpd.link_trigger() checks that it runs as exactly these triggers
    EXECUTE format('CREATE TRIGGER rgpd_link_insert AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS rgpd_new'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
    EXECUTE format('CREATE TRIGGER rgpd_link_update AFTER UPDATE ON %s'
                   ' REFERENCING OLD TABLE AS rgpd_old NEW TABLE AS rgpd_new'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
    EXECUTE format('CREATE TRIGGER rgpd_link_delete AFTER DELETE ON %s'
                   ' REFERENCING OLD TABLE AS rgpd_old'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
    EXECUTE format('CREATE TRIGGER rgpd_link_truncate AFTER TRUNCATE ON %s'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(%s)', p_link, args);
END
$$;

-- (Re)create the triggers of a subject table and of all its links.
CREATE OR REPLACE FUNCTION rgpd._sync(p_subject regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s rgpd.subjects;
    args text;
    l regclass;
BEGIN
    PERFORM rgpd._drop_own(p_subject, 'trigger', 'rgpd_subject_guard');
    PERFORM rgpd._drop_own(p_subject, 'trigger', 'rgpd_subject_insert');
    PERFORM rgpd._drop_own(p_subject, 'trigger', 'rgpd_subject_update');

    SELECT * INTO s FROM rgpd.subjects AS x WHERE x.subject = p_subject;
    IF FOUND THEN
        SELECT string_agg(quote_literal(a), ', ' ORDER BY o) INTO args
          FROM unnest(rgpd._subject_trigger_args(p_subject)) WITH ORDINALITY AS u(a, o);
        -- rgpd.subject_trigger() checks that it runs as exactly these triggers
        EXECUTE format('CREATE TRIGGER rgpd_subject_guard BEFORE INSERT OR UPDATE ON %s'
                       ' FOR EACH ROW EXECUTE FUNCTION rgpd.subject_trigger(%s)', p_subject, args);
        EXECUTE format('CREATE TRIGGER rgpd_subject_insert AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS rgpd_new'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION rgpd.subject_trigger(%s)', p_subject, args);
        EXECUTE format('CREATE TRIGGER rgpd_subject_update AFTER UPDATE OF %s ON %s FOR EACH ROW'
                       ' WHEN (%s) EXECUTE FUNCTION rgpd.subject_trigger(%s)',
                       concat_ws(', ', quote_ident(s.key_column), quote_ident(s.created_column)),
                       p_subject,
                       concat_ws(' OR ',
                                 format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', s.key_column),
                                 CASE WHEN s.created_column IS NOT NULL
                                      THEN format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', s.created_column) END),
                       args);
    END IF;

    FOR l IN SELECT DISTINCT x.link FROM rgpd.links AS x WHERE x.subject = p_subject LOOP
        PERFORM rgpd._sync_link(l);
    END LOOP;
    PERFORM rgpd._invalidate(p_subject);
END
$$;

-- Triggers created by 1.0 carry the old argument format: re-create the
-- triggers of every registered subject table and of its links.
DO $$
DECLARE
    s regclass;
BEGIN
    FOR s IN SELECT x.subject FROM rgpd.subjects AS x ORDER BY x.subject::oid LOOP
        PERFORM rgpd._sync(s);
    END LOOP;
END
$$;
