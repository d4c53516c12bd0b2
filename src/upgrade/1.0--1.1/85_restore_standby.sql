
/* ------------------------------------------------------------------ *
 * 85_restore_standby.sql — 1.1: a dump restores, a standby reads.
 *
 *  * pg_restore of a registered database: the event trigger that puts
 *    the restricted archive on new partitions reacts only to commands
 *    that create, attach or detach a partition, change FORCE ROW LEVEL
 *    SECURITY or disable row-level security (rgpd._changes_partitions,
 *    src/partition_commands.c).  It
 *    reacted to every ALTER TABLE under a subject table, so the restore's
 *    first post-data ALTER TABLE (row-level security, a constraint) made
 *    it create the partitions' policies, and pg_restore's own CREATE
 *    POLICY of them then failed.  A restore creates and attaches
 *    partitions before the configuration is loaded: nothing to do then.
 *  * the numbers of stored exports are dumped (the exports are not).
 *  * hot standby: rgpd.export() returns the document without storing or
 *    journaling it when the transaction cannot write (src/export.c).
 * ------------------------------------------------------------------ */

CREATE FUNCTION rgpd._changes_partitions(command pg_ddl_command) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rgpd_changes_partitions' LANGUAGE C STRICT;
COMMENT ON FUNCTION rgpd._changes_partitions(pg_ddl_command) IS
    'Whether a DDL command creates, attaches or detaches a partition, changes FORCE ROW LEVEL SECURITY or disables row-level security';
-- the event trigger calls it as whoever runs the DDL
REVOKE ALL ON FUNCTION rgpd._changes_partitions(pg_ddl_command) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rgpd._changes_partitions(pg_ddl_command) TO PUBLIC;

CREATE OR REPLACE FUNCTION rgpd._protect_new_partitions() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root regclass;
BEGIN
    FOR root IN
        SELECT DISTINCT s.subject
          FROM pg_event_trigger_ddl_commands() AS c
          JOIN rgpd.subjects AS s ON s.subject = pg_partition_root(c.objid)
         WHERE c.classid = 'pg_class'::regclass
           AND rgpd._changes_partitions(c.command)
    LOOP
        PERFORM rgpd._protect_partitions(root);
    END LOOP;
END
$$;

-- Stored exports hold whole personal records and are transient (purged
-- after rgpd.export_ttl): a dump leaves them out.  Their numbers are
-- dumped, so that an export made in a restored copy is not given the
-- number a restored journal line gives an export of the original.
SELECT pg_catalog.pg_extension_config_dump('rgpd.exports_id_seq', '');
