/*-------------------------------------------------------------------------
 *
 * direct_write.c
 *	  Writing a newer last_contact on one subject row without the
 *	  executor: table_tuple_update() and the index entries of a non-HOT
 *	  update, following a concurrent update as the executor does in READ
 *	  COMMITTED.  Used only for subjects whose UPDATE would run nothing but
 *	  PostgreSQL's own code (subject_cache.c, direct_write_is_safe()): it
 *	  runs as the role that wrote the link row, outside the owner gate.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"

#include "pericles_rgpd.h"
#include "direct_write.h"

/*
 * Lock a row as SELECT ... FOR <mode> would, waiting for a transaction
 * that holds it: the slot then holds its latest version (READ COMMITTED),
 * or the transaction fails to serialize (REPEATABLE READ and up).  Returns
 * false when the row was deleted meanwhile.
 */
bool
rgpd_lock_latest(Relation rel, TupleTableSlot *slot, Snapshot snapshot, LockTupleMode mode)
{
	TM_FailureData tmfd;
	ItemPointerData tid = slot->tts_tid;
	int			flags = IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION;

	switch (table_tuple_lock(rel, &tid, snapshot, slot, GetCurrentCommandId(false),
							 mode, LockWaitBlock, flags, &tmfd))
	{
		case TM_Ok:
		case TM_SelfModified:	/* ours already: the slot holds it */
			return true;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		case TM_Updated:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
			break;
		default:
			elog(ERROR, "pericles_rgpd: unexpected table_tuple_lock result");
	}
	return false;
}

/*
 * A non-HOT update: add the new version's entries to every index, as the
 * executor does (partial-index predicates and expressions included).
 */
static void
insert_index_entries(Relation rel, TupleTableSlot *slot)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	rri->ri_RelationDesc = rel;
	ExecOpenIndices(rri, false);
	(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
}

/*
 * Give one subject a newer contact without the executor (direct_write
 * subjects only): the same conditions as RGPD_STMT_RAISE_ONE, checked on
 * the version written; a concurrent update is followed as the executor
 * follows it in READ COMMITTED.  Returns true if the row was written, and
 * then in *written_status the status of the version written, which may
 * not be the one read before waiting (the sweep archives under a lock
 * that FOR KEY SHARE does not wait for).
 */
bool
rgpd_write_contact(Relation rel, RgpdSubject *sub, TupleTableSlot *slot, Snapshot snapshot,
				   DateADT date, Oid *written_status)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *newslot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	CommandId	cid = GetCurrentCommandId(true);
	bool		written = false;

	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	for (;;)
	{
		bool		isnull;
		Datum		lc = slot_getattr(slot, sub->last_contact_attno, &isnull);
		Oid			status = DatumGetObjectId(slot_getattr(slot, sub->status_attno, &isnull));
		bool		floornull;
		int			cols[2] = {sub->last_contact_attno, sub->floor_attno};
		Datum		vals[2];
		bool		nulls[2] = {false, false};
		HeapTuple	oldtup;
		HeapTuple	newtup;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		update_indexes;
		ItemPointerData tid = slot->tts_tid;
		TM_Result	result;

		lc = slot_getattr(slot, sub->last_contact_attno, &isnull);
		if ((!isnull && DatumGetDateADT(lc) >= date) || status == sub->status_anonymised)
			break;
		vals[0] = DateADTGetDatum(date);
		vals[1] = slot_getattr(slot, sub->floor_attno, &floornull);
		if (floornull)
			vals[1] = DateADTGetDatum(date);
		oldtup = ExecFetchSlotHeapTuple(slot, false, NULL);
		newtup = heap_modify_tuple_by_cols(oldtup, desc, 2, cols, vals, nulls);
		ExecStoreHeapTuple(newtup, newslot, true);

		result = table_tuple_update(rel, &tid, newslot, cid, snapshot, InvalidSnapshot,
									true, &tmfd, &lockmode, &update_indexes);
		if (result == TM_Ok)
		{
			if (update_indexes)
				insert_index_entries(rel, newslot);
			*written_status = status;
			written = true;
			break;
		}
		if (result == TM_SelfModified)
			elog(ERROR, "pericles_rgpd: subject row already modified by this command");
		if (result != TM_Updated && result != TM_Deleted)
			elog(ERROR, "pericles_rgpd: unexpected table_tuple_update result");
		/* changed since we read it: take its latest version and decide again */
		if (!rgpd_lock_latest(rel, slot, snapshot, lockmode))
			break;
	}
	ExecDropSingleTupleTableSlot(newslot);
	return written;
}

/*
 * Give one subject a newer contact through the executor's entry for
 * single-row updates without a plan (RGPD_UPDATE_PATH 3): the row is
 * locked FOR NO KEY UPDATE (its latest version, as the apply worker locks
 * before ExecSimpleRelationUpdate()), the conditions of
 * RGPD_STMT_RAISE_ONE checked on it, and the new version written with its index
 * entries.  No trigger fires: the only UPDATE trigger such a table has is
 * the subject guard, which lets the extension's own writes through.
 * Returns true if written, with the status of the version written.
 */
bool
rgpd_write_contact_executor(Relation rel, RgpdSubject *sub, TupleTableSlot *slot,
							Snapshot snapshot, DateADT date, Oid *written_status)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	bool		floornull;
	Datum		lc;
	Oid			status;
	int			cols[2] = {sub->last_contact_attno, sub->floor_attno};
	Datum		vals[2];
	bool		nulls[2] = {false, false};
	HeapTuple	newtup;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	EPQState	epq;
	TupleTableSlot *newslot;

	if (!rgpd_lock_latest(rel, slot, snapshot, LockTupleNoKeyExclusive))
		return false;
	lc = slot_getattr(slot, sub->last_contact_attno, &isnull);
	status = DatumGetObjectId(slot_getattr(slot, sub->status_attno, &floornull));
	if ((!isnull && DatumGetDateADT(lc) >= date) || status == sub->status_anonymised)
		return false;
	vals[0] = DateADTGetDatum(date);
	vals[1] = slot_getattr(slot, sub->floor_attno, &floornull);
	if (floornull)
		vals[1] = DateADTGetDatum(date);
	newtup = heap_modify_tuple_by_cols(ExecFetchSlotHeapTuple(slot, false, NULL), desc,
									   2, cols, vals, nulls);

	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = snapshot;
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	rri->ri_TrigDesc = NULL;	/* see above */
	ExecOpenIndices(rri, false);
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);
	newslot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsHeapTuple);
	ExecStoreHeapTuple(newtup, newslot, false);

	ExecSimpleRelationUpdate(rri, estate, &epq, slot, newslot);

	ExecCloseIndices(rri);
	EvalPlanQualEnd(&epq);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	*written_status = status;
	return true;
}

/*
 * Is the write without a saved UPDATE used for this subject, as compiled?
 * Path 3 evaluates CHECK constraints and a partition's constraint, which
 * the owner wrote: only tables with neither.
 */
bool
rgpd_direct_write_enabled(RgpdSubject *sub, Relation rel)
{
	if (!sub->direct_write)
		return false;
	switch (RGPD_UPDATE_PATH)
	{
		case RGPD_UPDATE_HEAP:
			return true;
		case RGPD_UPDATE_EXECUTOR:
			return !rel->rd_rel->relispartition &&
				!(rel->rd_att->constr && rel->rd_att->constr->num_check > 0);
		default:
			return false;
	}
}
