/*-------------------------------------------------------------------------
 *
 * partitions.c
 *	  Partitioned subject and link tables, through any partition: the event
 *	  triggers that follow partitions into and out of a registered table's
 *	  tree, and the rows they bring or take away.
 *
 *	  PostgreSQL fires a statement trigger only for the table a statement
 *	  names, and clones only row triggers onto partitions.  Registration
 *	  therefore puts the engine's statement triggers on every table of a
 *	  registered tree (rgpd._sync_link(), rgpd._sync_subject_members());
 *	  whichever table a statement names, exactly one set fires, with
 *	  transition tables holding the rows of every partition below it.
 *	  Partitions change outside any statement trigger:
 *	    - created (CREATE TABLE ... PARTITION OF) or attached (ATTACH
 *	      PARTITION): the new tables get the triggers; the rows an attached
 *	      table brings into a link are recorded as an INSERT of them would
 *	      be, and attached subject rows are recomputed;
 *	    - detached (DETACH PARTITION, also CONCURRENTLY or FINALIZE): the
 *	      rows still exist in the detached table, and leave the link as a
 *	      DELETE of them would; the detached tables lose the triggers;
 *	    - dropped (DROP TABLE of a partition): the rows are gone by the time
 *	      sql_drop fires, so every subject table with a partitioned link
 *	      is recomputed in full (as after a TRUNCATE).
 *	  Both event triggers run as the role that issued the command, and run
 *	  no code but ours; the contacts are written as the subject table's
 *	  owner through the gate, as the triggers write them.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "utils/syscache.h"

#include "pericles_rgpd.h"
#include "transition_rows.h"
#include "link_trigger.h"
#include "recompute.h"

PG_FUNCTION_INFO_V1(rgpd_follow_partitions);
PG_FUNCTION_INFO_V1(rgpd_partitions_dropped);

/* How a table is registered. */
typedef enum Registered
{
	REG_NONE,
	REG_LINK,
	REG_SUBJECT
} Registered;

static void
check_event_protocol(FunctionCallInfo fcinfo, const char *name, const char *event)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo) ||
		strcmp(((EventTriggerData *) fcinfo->context)->event, event) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s must be fired by an event trigger on %s", name, event)));
}

/* The root of the partition tree a table belongs to (itself if none). */
static Oid
tree_root(Oid relid)
{
	if (!get_rel_relispartition(relid))
		return relid;
	return llast_oid(get_partition_ancestors(relid));
}

/* Is the table a registered link, a registered subject, or neither?  Under SPI. */
static Registered
registered_as(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	bool		isnull;
	Registered	r = REG_NONE;

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args(
							  "SELECT EXISTS (SELECT FROM rgpd.links AS l"
							  "                WHERE l.link OPERATOR(pg_catalog.=) $1::pg_catalog.regclass),"
							  "       EXISTS (SELECT FROM rgpd.subjects AS s"
							  "                WHERE s.subject OPERATOR(pg_catalog.=) $1::pg_catalog.regclass)",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "pericles_rgpd: could not read the registrations");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		r = REG_LINK;
	else if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		r = REG_SUBJECT;
	SPI_freetuptable(SPI_tuptable);
	return r;
}

/*
 * Run rgpd.<fn>(part), one of the registration functions that put the
 * engine's triggers on (or take them off) a table's tree, with the rights
 * of the role that issued the command.
 */
static void
run_sync(const char *fn, Oid part)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	char	   *sql = psprintf("SELECT rgpd.%s($1::pg_catalog.regclass)", fn);

	values[0] = ObjectIdGetDatum(part);
	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not run rgpd.%s()", fn);
	pfree(sql);
}

/*
 * Subject rows attached with a partition arrive with whatever
 * last_contact they had: recompute them from their contacts.
 */
static void
subject_rows_joined(Oid subject, Oid part)
{
	RgpdSubject *sub = rgpd_subject(subject, false);
	List	   *members = find_all_inheritors(part, AccessShareLock, NULL);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	int			size = 64,
				n = 0;
	int64	   *keys = palloc(sizeof(int64) * size);
	ListCell   *lc;

	foreach(lc, members)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		AttrNumber	key;
		Oid			keytype;
		TableScanDesc scan;
		TupleTableSlot *slot;

		if (rel->rd_rel->relkind != RELKIND_RELATION)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		key = get_attnum(RelationGetRelid(rel), sub->key_column);
		if (key == InvalidAttrNumber)
			elog(ERROR, "pericles_rgpd: partition %s has no key column", rgpd_relname(RelationGetRelid(rel)));
		keytype = TupleDescAttr(RelationGetDescr(rel), key - 1)->atttypid;
		scan = table_beginscan(rel, snapshot, 0, NULL);
		slot = table_slot_create(rel, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, key, &isnull);

			if (isnull)
				continue;
			if (n == size)
			{
				size *= 2;
				keys = repalloc_huge(keys, sizeof(int64) * size);
			}
			keys[n++] = rgpd_key_value(d, keytype);
			CHECK_FOR_INTERRUPTS();
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
	}
	UnregisterSnapshot(snapshot);
	n = rgpd_sort_unique_int64(keys, n);
	if (n > 0)
		rgpd_recompute_ids(sub, keys, n);
}

/*
 * A table joined a tree (created as, or attached as, a partition).  A
 * registered table cannot become a partition: statements on its new
 * parent would not fire its triggers.  Under a registered link, the new
 * tables get the link's triggers and their rows count; under a registered
 * subject, the statement trigger, and their rows are recomputed.
 */
static void
partition_joined(Oid part, bool attached)
{
	Oid			root = tree_root(part);
	Registered	r;

	if (attached)
	{
		ListCell   *lc;

		foreach(lc, find_all_inheritors(part, NoLock, NULL))
			if (registered_as(lfirst_oid(lc)) != REG_NONE)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("table %s is registered with pericles_rgpd and cannot become a partition of %s",
								rgpd_relname(lfirst_oid(lc)), rgpd_relname(root)),
						 errdetail("Statements on the partitioned table would not fire its triggers."),
						 errhint("Unregister it first; register the partitioned table instead.")));
	}
	r = registered_as(root);
	if (r == REG_LINK)
	{
		run_sync("_sync_link", part);
		if (attached)
			rgpd_partition_link_rows(root, part, true);
	}
	else if (r == REG_SUBJECT)
	{
		run_sync("_sync_subject_members", part);
		if (attached)
			subject_rows_joined(root, part);
	}
}

/*
 * A table left the tree of `parent`: its rows leave a registered link
 * (they are still there to read), and it loses the engine's triggers.
 */
static void
partition_left(Oid parent, Oid part)
{
	Oid			root = tree_root(parent);
	Registered	r = registered_as(root);

	if (r == REG_LINK)
	{
		rgpd_partition_link_rows(root, part, false);
		run_sync("_sync_link", part);
	}
	else if (r == REG_SUBJECT)
		run_sync("_sync_subject_members", part);
}

/* A partition a subcommand of ALTER TABLE attached or detached. */
typedef struct Moved
{
	Oid			parent;
	Oid			part;
	bool		attached;
} Moved;

/*
 * rgpd._follow_partitions(): event trigger on ddl_command_end for CREATE
 * TABLE and ALTER TABLE.  Reads the commands just run: tables created as
 * partitions, and the ATTACH / DETACH PARTITION subcommands of ALTER
 * TABLE, whose PartitionCmd names the partition.
 */
Datum
rgpd_follow_partitions(PG_FUNCTION_ARGS)
{
	Moved	   *moved;
	int			nmoved = 0;
	int			size;
	uint64		i;
	int			k;

	check_event_protocol(fcinfo, "rgpd._follow_partitions()", "ddl_command_end");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	if (SPI_execute("SELECT c.objid, c.command_tag, c.command"
					"  FROM pg_catalog.pg_event_trigger_ddl_commands() AS c"
					" WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
					"   AND c.objsubid OPERATOR(pg_catalog.=) 0",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read the commands of the event");

	/* note what moved first: following it runs SPI again */
	size = Max((int) SPI_processed * 2, 4);
	moved = palloc(sizeof(Moved) * size);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			objid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *tag = SPI_getvalue(tup, desc, 2);
		CollectedCommand *cmd = (CollectedCommand *) DatumGetPointer(SPI_getbinval(tup, desc, 3, &isnull));
		ListCell   *lc;

		if (strcmp(tag, "CREATE TABLE") == 0 || strcmp(tag, "CREATE FOREIGN TABLE") == 0)
		{
			if (get_rel_relispartition(objid))
			{
				moved[nmoved].parent = InvalidOid;
				moved[nmoved].part = objid;
				moved[nmoved++].attached = false;
			}
			continue;
		}
		if (strcmp(tag, "ALTER TABLE") != 0 || isnull || cmd->type != SCT_AlterTable)
			continue;
		foreach(lc, cmd->d.alterTable.subcmds)
		{
			CollectedATSubcmd *sub = lfirst(lc);
			AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;
			Oid			part;

			if (!IsA(at, AlterTableCmd) ||
				(at->subtype != AT_AttachPartition && at->subtype != AT_DetachPartition &&
				 at->subtype != AT_DetachPartitionFinalize) ||
				at->def == NULL || !IsA(at->def, PartitionCmd))
				continue;
			/* the subcommand's address is not set: the partition is named */
			part = RangeVarGetRelid(((PartitionCmd *) at->def)->name, NoLock, true);
			if (!OidIsValid(part))
				continue;
			if (nmoved == size)
			{
				size *= 2;
				moved = repalloc(moved, sizeof(Moved) * size);
			}
			moved[nmoved].parent = objid;
			moved[nmoved].part = part;
			moved[nmoved++].attached = at->subtype == AT_AttachPartition;
		}
	}
	SPI_freetuptable(SPI_tuptable);

	for (k = 0; k < nmoved; k++)
	{
		char		kind = get_rel_relkind(moved[k].part);

		/* indexes attach too (ALTER INDEX); only tables hold rows */
		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE &&
			kind != RELKIND_FOREIGN_TABLE)
			continue;
		if (!OidIsValid(moved[k].parent))
			partition_joined(moved[k].part, false);
		else if (moved[k].attached)
			partition_joined(moved[k].part, true);
		else
			partition_left(moved[k].parent, moved[k].part);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * rgpd._partitions_dropped(): event trigger on sql_drop.  A table that
 * carried a link's triggers was dropped with its rows: the subjects they
 * referenced cannot be read any more, so every subject table that has a
 * partitioned link is recomputed in full.  (A DETACH before the DROP, as
 * partition managers do, is recorded exactly and leaves nothing here.)
 * Only the links whose owner's rights the dropping role holds: a role can
 * drop only what it owns, the partition of a link is its owner's, and so a
 * tenant dropping a table of its own (with a trigger of the engine's name,
 * or a partition of its own registered link) recomputes and locks nobody
 * else's tables (review finding).
 * The registrations of dropped tables are gone by now
 * (rgpd_forget_dropped fires first, in name order).
 */
Datum
rgpd_partitions_dropped(PG_FUNCTION_ARGS)
{
	Oid		   *subjects;
	int			n;
	int			k;

	check_event_protocol(fcinfo, "rgpd._partitions_dropped()", "sql_drop");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	if (SPI_execute("SELECT DISTINCT CAST(l.subject AS pg_catalog.oid)"
					"  FROM rgpd.links AS l"
					"  JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) CAST(l.link AS pg_catalog.oid)"
					" WHERE c.relkind OPERATOR(pg_catalog.=) 'p'"
					"   AND pg_catalog.pg_has_role(c.relowner, 'USAGE')"
					"   AND EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() AS t"
					"                 JOIN pg_catalog.pg_event_trigger_dropped_objects() AS r"
					"                   ON r.address_names OPERATOR(pg_catalog.=) t.address_names[1:2]"
					"                WHERE t.object_type OPERATOR(pg_catalog.=) 'trigger'"
					"                  AND t.address_names[3] OPERATOR(pg_catalog.=) 'rgpd_link_insert'"
					"                  AND r.object_type OPERATOR(pg_catalog.=) 'table')"
					" ORDER BY 1",
					false, 0) != SPI_OK_SELECT)	/* a new snapshot: after the drop */
		elog(ERROR, "pericles_rgpd: could not read the dropped objects");
	n = (int) SPI_processed;
	subjects = palloc(sizeof(Oid) * Max(n, 1));
	for (k = 0; k < n; k++)
	{
		bool		isnull;

		subjects[k] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[k],
													 SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	for (k = 0; k < n; k++)
	{
		RgpdSubject *sub;

		/* the subject table went in the same command (DROP SCHEMA … CASCADE) */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(subjects[k])))
			continue;
		sub = rgpd_subject(subjects[k], true);

		if (sub != NULL)
			rgpd_recompute_subject(sub);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
