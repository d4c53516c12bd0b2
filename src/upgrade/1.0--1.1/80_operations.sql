
/* ------------------------------------------------------------------ *
 * Operations (1.1): a scheduled sweep that runs, from any database;
 * migrations of registered tables
 *
 * 1.0's rgpd.schedule_sweep() scheduled a job that could not run where
 * pg_cron had to connect over libpq (TCP to localhost by default) as a
 * role without a password, and refused in any database but
 * cron.database_name.  It now checks what pg_cron needs and says what to
 * set, and schedules the job of any database (one per database: named
 * rgpd-monthly-sweep in cron.database_name, rgpd-monthly-sweep-<database>
 * elsewhere).
 *
 * 1.0's event trigger read the name of a dropped column after the drop,
 * when it is already "........pg.dropped.N........": dropping a registered
 * column went through and broke every insert.  It now reads the name from
 * pg_event_trigger_dropped_objects(), and renaming a registered column is
 * refused; renaming (or moving) a registered table is followed.
 * ------------------------------------------------------------------ */

-- C: (re)schedule or remove the sweep job of the current database in the
-- cron database (src/cron_job.c).  Superusers only.
CREATE FUNCTION rgpd._cron_job(jobname text, schedule text, username name) RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'rgpd_cron_job';
REVOKE ALL ON FUNCTION rgpd._cron_job(text, text, name) FROM PUBLIC;

-- The name of the sweep job of the current database: pg_cron keeps the
-- jobs of every database in one table, so names carry the database.
CREATE FUNCTION rgpd._sweep_job_name() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN current_database() = current_setting('cron.database_name', true)
                THEN 'rgpd-monthly-sweep'
                ELSE 'rgpd-monthly-sweep-' || current_database() END
$$;
COMMENT ON FUNCTION rgpd._sweep_job_name() IS
    'Name of the pg_cron job of this database: rgpd-monthly-sweep in cron.database_name, rgpd-monthly-sweep-<database> elsewhere';
-- the scheduling functions call it; it only names the job of this database
REVOKE ALL ON FUNCTION rgpd._sweep_job_name() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._sweep_job_name() TO PUBLIC;

-- Can pg_cron run a job as username in database dbname?  With
-- cron.use_background_workers it starts a background worker (nothing to
-- check); without, it connects with libpq to cron.host, which needs a
-- server listening there and a pg_hba.conf rule that lets the role in
-- without a prompt.  One row per problem: fails (the job cannot run),
-- or not (it depends on what SQL cannot see, e.g. a .pgpass file).
CREATE FUNCTION rgpd._cron_connection_check(username name, dbname name,
                                            background boolean, host text)
RETURNS TABLE(fails boolean, message text, hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    fix constant text := 'set cron.use_background_workers = on in postgresql.conf and restart the server'
                         ' (pg_cron then runs jobs in background workers, without connecting)';
    socket constant boolean := left(host, 1) = '/';
    addrs inet[];
    a inet;
    r record;
    pw text;
BEGIN
    IF background THEN
        RETURN;
    END IF;
    IF NOT socket AND current_setting('listen_addresses') = '' THEN
        RETURN QUERY SELECT true,
            format('pg_cron connects to host %s over TCP, but the server does not listen on TCP (listen_addresses is empty)', host),
            format('Either %s, or set cron.host = %L (the Unix socket directory).', fix,
                   btrim(split_part(current_setting('unix_socket_directories'), ',', 1)));
        RETURN;
    END IF;
    IF socket THEN
        addrs := ARRAY[NULL::inet];
    ELSIF host = 'localhost' THEN
        addrs := ARRAY['127.0.0.1'::inet, '::1'::inet];
    ELSIF host ~ '^[0-9.]+$' OR host ~ '^[0-9a-fA-F:]+$' THEN
        addrs := ARRAY[host::inet];
    ELSE
        RETURN QUERY SELECT false,
            format('cannot check whether pg_cron can connect to host %s as role "%s"', host, username),
            format('Make sure pg_hba.conf lets it in without a prompt, or %s.', fix);
        RETURN;
    END IF;

    FOREACH a IN ARRAY addrs LOOP
        SELECT h.line_number, h.auth_method, h.options INTO r
          FROM pg_hba_file_rules AS h
         WHERE h.error IS NULL
           AND CASE WHEN socket THEN h.type = 'local'
                    ELSE h.type IN ('host', 'hostssl', 'hostnossl', 'hostnogssenc') END
           AND (h.database && ARRAY['all', dbname::text]
                OR ('sameuser' = ANY (h.database) AND dbname = username)
                OR ('samerole' = ANY (h.database)
                    AND EXISTS (SELECT 1 FROM pg_roles AS g WHERE g.rolname = dbname
                                   AND pg_has_role(username, g.oid, 'MEMBER'))))
           AND (h.user_name && ARRAY['all', username::text]
                OR EXISTS (SELECT 1 FROM unnest(h.user_name) AS u
                             JOIN pg_roles AS g ON '+' || g.rolname = u
                            WHERE pg_has_role(username, g.oid, 'MEMBER')))
           AND (socket
                OR h.address IN ('all', 'samehost', 'samenet')
                OR (h.address ~ '^[0-9a-fA-F.:]+$' AND h.netmask IS NOT NULL
                    AND family(h.address::inet) = family(a)
                    AND (a & h.netmask::inet) = (h.address::inet & h.netmask::inet)))
         ORDER BY h.line_number
         LIMIT 1;
        IF NOT FOUND THEN
            RETURN QUERY SELECT true,
                format('no pg_hba.conf rule lets pg_cron connect to database %s as role "%s" (%s)',
                       dbname, username, coalesce(host(a), 'Unix socket ' || host)),
                format('Either %s, or add a rule, e.g. "%s %s %s %s trust" (or scram-sha-256 and the password in the .pgpass file of the server''s OS user), and reload.',
                       fix, CASE WHEN socket THEN 'local' ELSE 'host' END, dbname, username,
                       CASE WHEN socket THEN '' ELSE host(a) || '/' || CASE WHEN family(a) = 4 THEN 32 ELSE 128 END END);
        ELSIF r.auth_method = 'trust' THEN
            NULL;
        ELSIF r.auth_method = 'reject' THEN
            RETURN QUERY SELECT true,
                format('pg_hba.conf line %s rejects pg_cron''s connection to database %s as role "%s"',
                       r.line_number, dbname, username),
                format('Either %s, or put a rule that lets it in before that line, and reload.', fix);
        ELSIF r.auth_method IN ('password', 'md5', 'scram-sha-256') THEN
            SELECT rolpassword INTO pw FROM pg_authid WHERE rolname = username;
            IF pw IS NULL THEN
                RETURN QUERY SELECT true,
                    format('pg_hba.conf line %s asks for a password (%s), and role "%s" has none',
                           r.line_number, r.auth_method, username),
                    format('Either %s, or give role %s a password and put it in the .pgpass file of the server''s OS user.',
                           fix, quote_ident(username));
            ELSE
                RETURN QUERY SELECT false,
                    format('pg_hba.conf line %s asks for a password (%s) for role "%s"',
                           r.line_number, r.auth_method, username),
                    format('pg_cron finds it only in the .pgpass file of the server''s OS user (host %s, database %s); or %s.',
                           host, dbname, fix);
            END IF;
        ELSE
            RETURN QUERY SELECT false,
                format('pg_hba.conf line %s authenticates pg_cron''s connection as role "%s" by %s%s',
                       r.line_number, username, r.auth_method,
                       CASE WHEN r.options IS NOT NULL THEN ' (' || array_to_string(r.options, ', ') || ')' ELSE '' END),
                CASE WHEN r.auth_method = 'peer'
                     THEN format('It succeeds only if the server''s OS user may log in as %s (a map in pg_ident.conf); or %s.',
                                 quote_ident(username), fix)
                     ELSE format('Make sure the server process can authenticate that way, or %s.', fix) END;
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION rgpd._cron_connection_check(name, name, boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION rgpd._cron_connection_check(name, name, boolean, text) IS
    'What would stop pg_cron from running a job as a role in a database (no rows: nothing)';

-- 1.1: any database; checks that pg_cron can run the job; the job of each
-- database has its own name.  Superusers only (as in 1.0).
CREATE OR REPLACE FUNCTION rgpd.schedule_sweep(schedule text DEFAULT '0 3 1 * *',
                                               username name DEFAULT 'rgpd_sweeper')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    r record;
    c record;
    cron_db text := current_setting('cron.database_name', true);
BEGIN
    IF schedule IS NULL OR username IS NULL THEN
        RAISE EXCEPTION 'schedule and username must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cron_db IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not loaded in this server'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries in postgresql.conf, set cron.database_name (e.g. %L) and cron.use_background_workers = on, restart the server, then run CREATE EXTENSION pg_cron; in that database.',
                                current_database());
    END IF;
    -- elsewhere, rgpd._cron_job() checks it in the cron database
    IF current_database() = cron_db
       AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron; in this database (it is cron.database_name) as a superuser.';
    END IF;
    SELECT rolname, rolsuper, rolcanlogin,
           pg_has_role(oid, 'rgpd_manager', 'USAGE') AS manager
      INTO r FROM pg_roles WHERE rolname = username;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', username
            USING ERRCODE = 'undefined_object',
                  HINT = format('Create the role the sweep runs as: CREATE ROLE %I LOGIN; GRANT rgpd_manager TO %I;',
                                username, username);
    END IF;
    IF r.rolsuper THEN
        RAISE EXCEPTION 'the sweep must not run as superuser "%"', username
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a role that is a member of rgpd_manager and owns no application data.';
    END IF;
    IF NOT r.rolcanlogin OR NOT r.manager THEN
        RAISE EXCEPTION 'role "%" cannot run the sweep', username
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'pg_cron connects as the role, which must be able to log in and be a member of rgpd_manager.',
                  HINT = format('ALTER ROLE %I LOGIN; GRANT rgpd_manager TO %I;', username, username);
    END IF;
    IF NOT has_database_privilege(username, current_database(), 'CONNECT') THEN
        RAISE EXCEPTION 'role "%" may not connect to database %', username, current_database()
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT CONNECT ON DATABASE %I TO %I;', current_database(), username);
    END IF;
    FOR c IN SELECT * FROM rgpd._cron_connection_check(
                 username, current_database(),
                 coalesce(current_setting('cron.use_background_workers', true), 'off')::boolean,
                 coalesce(current_setting('cron.host', true), 'localhost'))
             ORDER BY fails DESC LOOP
        IF c.fails THEN
            RAISE EXCEPTION 'the sweep job could not run: %', c.message
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = c.hint;
        END IF;
        RAISE WARNING 'the sweep job may not run: %', c.message USING HINT = c.hint;
    END LOOP;
    RETURN rgpd._cron_job(rgpd._sweep_job_name(), schedule, username);
END
$$;
COMMENT ON FUNCTION rgpd.schedule_sweep(text, name) IS
    'Schedules the sweep of this database with pg_cron (job rgpd-monthly-sweep in cron.database_name, rgpd-monthly-sweep-<database> elsewhere), run as a non-superuser manager role';

-- 1.1: any database; removes this database's job only.
CREATE OR REPLACE FUNCTION rgpd.unschedule_sweep() RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('cron.database_name', true) IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not loaded in this server'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add pg_cron to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;
    RETURN rgpd._cron_job(rgpd._sweep_job_name(), NULL, CURRENT_USER) > 0;
END
$$;
COMMENT ON FUNCTION rgpd.unschedule_sweep() IS
    'Removes the pg_cron job of the sweep of this database';

-- The columns registration names on a table, or added to it: none of them
-- may be dropped or renamed while the table is registered.
CREATE FUNCTION rgpd._registered_columns(tbl regclass)
RETURNS TABLE(col name, what text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.col, x.what
      FROM rgpd.subjects AS s,
           LATERAL (VALUES (s.key_column, 'key column'),
                           (s.created_column, 'creation date column'),
                           (s.negotiator_column, 'negotiator column'),
                           (s.email_column, 'e-mail column'),
                           (s.mobile_column, 'mobile column'),
                           ('last_contact', 'column added by registration'),
                           ('rgpd_status', 'column added by registration'),
                           ('rgpd_contact_floor', 'column added by registration')) AS x(col, what)
     WHERE s.subject = $1 AND x.col IS NOT NULL
    UNION ALL
    SELECT p.col, 'personal column'
      FROM rgpd.subjects AS s, unnest(s.personal_columns) AS p(col)
     WHERE s.subject = $1
    UNION ALL
    SELECT c.col, format('subject column of the link to %s', l.subject)
      FROM rgpd.links AS l, unnest(l.subject_columns) AS c(col)
     WHERE l.link = $1
    UNION ALL
    SELECT d.col, format('date column of the link to %s', l.subject)
      FROM rgpd.links AS l, unnest(l.date_columns) AS d(col)
     WHERE l.link = $1
    UNION ALL
    SELECT p.personal_column, format('personal column of the link to %s', l.subject)
      FROM rgpd.links AS l, rgpd._link_personal(l) AS p
     WHERE l.link = $1
    UNION ALL
    SELECT 'rgpd_archived', 'column added by registration'
      FROM rgpd.links AS l
     WHERE l.link = $1 AND l.archive_with_subject
    UNION ALL
    SELECT e.col, 'column with an erasure method'
      FROM rgpd.erasures AS e
     WHERE e.tbl = $1
$$;
-- the event triggers call it as whoever alters or drops a table; it reads
-- only configuration, which everyone may read
REVOKE ALL ON FUNCTION rgpd._registered_columns(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._registered_columns(regclass) TO PUBLIC;

-- 1.1: the name of a dropped column comes from
-- pg_event_trigger_dropped_objects() (pg_attribute already holds
-- "........pg.dropped.N........" when sql_drop fires), so that dropping a
-- registered column is refused, as 1.0 documented.
CREATE OR REPLACE FUNCTION rgpd._forget_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped oid[];
    col record;
    l regclass;
    resync regclass[];
BEGIN
    SELECT array_agg(d.objid) INTO dropped
      FROM pg_event_trigger_dropped_objects() AS d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0;

    -- a registered column dropped from a table that stays
    FOR col IN
        SELECT d.objid::regclass AS tbl, d.address_names[3]::name AS attname, r.what
          FROM pg_event_trigger_dropped_objects() AS d,
               LATERAL rgpd._registered_columns(d.objid::regclass) AS r
         WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0
           AND d.object_type = 'table column'
           AND NOT d.objid = ANY (coalesce(dropped, '{}'))
           AND r.col = d.address_names[3]
         ORDER BY 1, 2
    LOOP
        RAISE EXCEPTION 'column "%" of table % is registered with pericles_rgpd (%)', col.attname, col.tbl, col.what
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Register the table again without it (or unregister the table) first.';
    END LOOP;

    IF dropped IS NULL THEN
        RETURN;
    END IF;
    -- the registered links that stay but lose a dropped subject: only their
    -- triggers are re-created (this runs as the extension's owner, and
    -- must not lock every table that has a trigger of that name)
    SELECT array_agg(DISTINCT x.link) INTO resync
      FROM rgpd.links AS x
     WHERE x.subject::oid = ANY (dropped) AND NOT x.link::oid = ANY (dropped);
    DELETE FROM rgpd.links AS x WHERE x.subject::oid = ANY (dropped) OR x.link::oid = ANY (dropped);
    DELETE FROM rgpd.policies AS p WHERE p.subject::oid = ANY (dropped);
    DELETE FROM rgpd.erasures AS e WHERE e.tbl::oid = ANY (dropped);
    DELETE FROM rgpd.subjects AS x WHERE x.subject::oid = ANY (dropped);
    -- stored exports hold personal data of rows that no longer exist
    DELETE FROM rgpd.exports AS e WHERE e.subject::oid = ANY (dropped);
    -- the current state about people who no longer exist goes too, so that
    -- a table that later reuses the OID inherits nothing; the append-only
    -- proof (journal, opt-in and consent events) stays, as proof does
    DELETE FROM rgpd.consents AS c WHERE c.subject::oid = ANY (dropped);
    DELETE FROM rgpd.objections AS o WHERE o.subject::oid = ANY (dropped);
    DELETE FROM rgpd.provenance AS p WHERE p.subject::oid = ANY (dropped);
    DELETE FROM rgpd.recontact_tasks AS t WHERE t.subject::oid = ANY (dropped);
    -- link tables that remain lose the triggers of the dropped subjects
    FOREACH l IN ARRAY coalesce(resync, '{}') LOOP
        PERFORM rgpd._sync_link(l);
    END LOOP;
END
$$;

-- Renames.  A registered column renamed is refused: the registration and
-- the triggers' arguments name it, and what a DBA means by the new name
-- (the same data?) is theirs to say by registering again.  A registered
-- subject table renamed, or moved to another schema (or its schema
-- renamed), is followed: the configuration holds its OID, and the
-- triggers of its links, whose arguments carry its name, are re-created
-- at the end of the command, by the role that issued it.
CREATE FUNCTION rgpd._follow_renames() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    l regclass;
BEGIN
    FOR c IN
        SELECT DISTINCT d.objid::regclass AS tbl, r.col, r.what
          FROM pg_event_trigger_ddl_commands() AS d,
               LATERAL rgpd._registered_columns(d.objid::regclass) AS r
         WHERE d.classid = 'pg_class'::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_attribute AS a
                            WHERE a.attrelid = d.objid AND a.attname = r.col AND NOT a.attisdropped)
         ORDER BY 1, 2
    LOOP
        RAISE EXCEPTION 'column "%" of table % is registered with pericles_rgpd (%) and cannot be renamed', c.col, c.tbl, c.what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'The registration and the triggers of the table name the column.',
                  HINT = 'Register the table again without the column (rgpd.register_subject() or rgpd.register_link() with the other columns), rename it, then register it under its new name; a key or subject column needs rgpd.unregister_link() / rgpd.unregister_subject() first.';
    END LOOP;

    -- the triggers of a link carry the names of its subject tables: re-create
    -- them for the links of the tables (or schemas) this command renamed or
    -- moved, and only where the engine's own trigger is there to re-create
    -- (a trigger of that name another role put there is not ours to follow,
    -- and one tenant's tables never make another role's command fail)
    FOR l IN
        SELECT DISTINCT x.link
          FROM rgpd.links AS x
          JOIN pg_trigger AS t ON t.tgrelid = x.link AND t.tgname = 'rgpd_link_insert'
                              AND t.tgfoid = 'rgpd.link_trigger()'::regprocedure
          JOIN pg_class AS sc ON sc.oid = x.subject
          JOIN pg_class AS lc ON lc.oid = x.link
         WHERE position(convert_to('subject:' || x.subject::text, 'UTF8') || '\x00'::bytea IN t.tgargs) = 0
           AND EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() AS d
                        WHERE (d.classid = 'pg_class'::regclass AND d.objid IN (x.subject, x.link))
                           OR (d.classid = 'pg_namespace'::regclass
                               AND d.objid IN (sc.relnamespace, lc.relnamespace)))
    LOOP
        PERFORM rgpd._sync_link(l);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION rgpd._follow_renames() FROM PUBLIC;
CREATE EVENT TRIGGER rgpd_follow_renames ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA', 'ALTER FOREIGN TABLE')
    EXECUTE FUNCTION rgpd._follow_renames();
