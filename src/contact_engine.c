/*-------------------------------------------------------------------------
 *
 * contact_engine.c
 *	  The contact engine: given the contacts of one statement for one
 *	  subject table, sorted and merged per subject, it raises last_contact
 *	  where a date is newer and recomputes the subjects whose greatest date
 *	  may have gone away.  It returns what it found (subjects revived from
 *	  the archive, personal data arriving for anonymised subjects) and
 *	  leaves the follow-ups to its caller: the engine calls no lifecycle
 *	  action.
 *
 *	  Three raise paths: a few subjects read through the key's unique index
 *	  (raise_each_direct), written directly (direct_write.c) when that runs
 *	  no owner code, by a saved UPDATE otherwise; a few subjects without
 *	  such an index (raise_each, saved plans); many subjects, one
 *	  statement for the set (raise_set).  Every statement runs as the
 *	  table's owner through the gate (owner_code.c).
 *
 *	  Concurrency: a raise that writes nothing still takes FOR KEY SHARE on
 *	  the subject row; a lower takes FOR UPDATE before it recomputes with a
 *	  fresh snapshot.  A lower therefore waits for every transaction that
 *	  added a contact it cannot see yet, and no added date is lost.
 *	  FOR KEY SHARE does not wait for the sweep, whose archiving UPDATE
 *	  changes no key: a raise may read a subject as active and find it
 *	  archived when its write has waited for the sweep to commit.  So the
 *	  decision to un-archive is taken on the status of the row version
 *	  written, never on one read before the write waited.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "pericles_rgpd.h"
#include "contact_engine.h"
#include "direct_write.h"
#include "recompute.h"

/* Up to this many subjects, a raise runs one short statement per subject. */
#define RAISE_SMALL_LIMIT 16

static int
cmp_contact(const void *a, const void *b)
{
	const RgpdContact *x = a;
	const RgpdContact *y = b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	/* dated before undated, later dates first */
	if (x->has_date != y->has_date)
		return x->has_date ? -1 : 1;
	return (x->date < y->date) - (x->date > y->date);
}

/*
 * Sort by id and keep, for each id, its greatest date.  Sorting also fixes
 * the order in which rows are locked, so that two statements touching the
 * same subjects cannot deadlock on each other.
 */
int
rgpd_merge_contacts(RgpdContact *c, int n)
{
	int			i,
				j;

	if (n <= 1)
		return n;
	qsort(c, n, sizeof(RgpdContact), cmp_contact);
	for (i = 1, j = 1; i < n; i++)
	{
		if (c[i].id != c[j - 1].id)
			c[j++] = c[i];
		else
		{
			/* the first of an id has its greatest date; combine the rest */
			c[j - 1].arrival |= c[i].arrival;
			c[j - 1].locked &= c[i].locked;
		}
	}
	return j;
}

/*
 * A few subjects, read through the unique index of the key, without the
 * executor: the latest version a fresh snapshot sees (READ COMMITTED), or
 * the transaction's.  A subject whose row is not already locked by this
 * transaction is locked FOR KEY SHARE first (see the file header).  A newer
 * date is written directly when that is safe (see subject_cache.c), by a
 * saved UPDATE otherwise.
 */
static void
raise_each_direct(RgpdSubject *sub, RgpdContact *c, int n, RgpdRaised *out)
{
	Relation	rel;
	Relation	idx;
	TupleTableSlot *slot;
	int			k;

	/* what this trigger wrote before (a recomputation) must be seen */
	CommandCounterIncrement();
	rel = table_open(sub->relid, RowExclusiveLock);
	idx = index_open(sub->key_index, AccessShareLock);
	slot = table_slot_create(rel, NULL);

	for (k = 0; k < n; k++)
	{
		Snapshot	snapshot;
		IndexScanDesc scan;
		ScanKeyData key;
		bool		found;
		bool		isnull;
		Datum		d;
		Oid			status;
		int64		id = c[k].id;

		/* a key out of the column's range cannot be in the table */
		if ((sub->key_type == INT4OID && (id < PG_INT32_MIN || id > PG_INT32_MAX)) ||
			(sub->key_type == INT2OID && (id < PG_INT16_MIN || id > PG_INT16_MAX)))
			continue;
		if (sub->key_type == INT2OID)
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum((int16) id));
		else if (sub->key_type == INT4OID)
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum((int32) id));
		else
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));

		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		scan = index_beginscan(rel, idx, snapshot, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, slot);
		index_endscan(scan);
		if (found && !c[k].locked)
			found = rgpd_lock_latest(rel, slot, snapshot, LockTupleKeyShare);
		if (!found)
		{
			UnregisterSnapshot(snapshot);
			continue;			/* no such subject (no foreign key) */
		}

		status = DatumGetObjectId(slot_getattr(slot, sub->status_attno, &isnull));
		d = slot_getattr(slot, sub->last_contact_attno, &isnull);
		if (status == sub->status_anonymised)
		{
			if (c[k].arrival)
				out->anonymised[out->nanonymised++] = id;
		}
		else if (c[k].has_date && (isnull || DatumGetDateADT(d) < c[k].date))
		{
			bool		written;
			bool		archived = false;

			/*
			 * Decide on the status of the row written, not of the one read:
			 * a sweep that archived it meanwhile was waited for by the write
			 * only, and its archive must be undone.
			 */
			if (rgpd_direct_write_enabled(sub, rel))
			{
				Oid			written_status;

				if (RGPD_UPDATE_PATH == RGPD_UPDATE_EXECUTOR)
					written = rgpd_write_contact_executor(rel, sub, slot, snapshot,
														  c[k].date, &written_status);
				else
					written = rgpd_write_contact(rel, sub, slot, snapshot, c[k].date,
												 &written_status);
				archived = written && written_status == sub->status_archived;
			}
			else
			{
				Datum		values[2];

				values[0] = Int64GetDatum(id);
				values[1] = DateADTGetDatum(c[k].date);
				rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_RAISE_ONE),
								  values, NULL, sub->owner, true, 1);
				written = SPI_processed == 1;
				archived = written &&
					strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						   RGPD_ARCHIVED) == 0;
				SPI_freetuptable(SPI_tuptable);
			}
			if (archived)
				out->revived[out->nrevived++] = id;
		}
		ExecClearTuple(slot);
		UnregisterSnapshot(snapshot);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, NoLock);	/* locks are kept until the end of the transaction */
}

/*
 * A few subjects: one short statement each, with saved plans.  When the
 * row is already locked (foreign key), the conditional UPDATE is all there
 * is; otherwise the row is first locked FOR KEY SHARE and read, and
 * written only if the date is newer.
 */
static void
raise_each(RgpdSubject *sub, RgpdContact *c, int n, RgpdRaised *out)
{
	Datum		values[2];
	int			k;

	for (k = 0; k < n; k++)
	{
		bool		isnull;
		bool		write = c[k].has_date;
		char	   *status = NULL;

		values[0] = Int64GetDatum(c[k].id);
		values[1] = DateADTGetDatum(c[k].date);

		if (!c[k].locked)
		{
			rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_LOCK_ONE),
							  values, NULL, sub->owner, true, 1);
			if (SPI_processed == 0)
				continue;		/* no such subject (no foreign key) */
			status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			if (write)
			{
				Datum		lc = SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull);

				write = isnull || DatumGetDateADT(lc) < c[k].date;
			}
			SPI_freetuptable(SPI_tuptable);
			if (rgpd_status_of_label(status) == RGPD_STATUS_ANONYMISED)
			{
				if (c[k].arrival)
					out->anonymised[out->nanonymised++] = c[k].id;
				continue;
			}
		}
		if (write)
		{
			rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_RAISE_ONE),
							  values, NULL, sub->owner, true, 1);
			if (SPI_processed == 1)
			{
				/* the status of the row written, not of the one locked */
				if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						   RGPD_ARCHIVED) == 0)
					out->revived[out->nrevived++] = c[k].id;
				SPI_freetuptable(SPI_tuptable);
				continue;
			}
			SPI_freetuptable(SPI_tuptable);
		}
		/* nothing written: is personal data arriving for an anonymised subject? */
		if (c[k].arrival && status == NULL)
		{
			rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_STATUS_ONE),
							  values, NULL, sub->owner, true, 1);
			if (SPI_processed == 1 &&
				strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
					   RGPD_ANONYMISED) == 0)
				out->anonymised[out->nanonymised++] = c[k].id;
			SPI_freetuptable(SPI_tuptable);
		}
	}
}

/*
 * Many subjects: one statement for the whole set, planned for its actual
 * size.  RGPD_STMT_RAISE locks every subject FOR KEY SHARE, writes those
 * that get a newer date, and returns the ones not active (the status of
 * the row written, for those written); when foreign keys already hold
 * every subject, 'raise_locked' only writes.
 */
static void
raise_set(RgpdSubject *sub, RgpdContact *c, int n, RgpdRaised *out)
{
	Datum		values[2];
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *dates = palloc(sizeof(Datum) * n);
	bool	   *datenulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	bool		locked = true;
	SPIPlanPtr	plan;
	uint64		i;
	int			k;

	for (k = 0; k < n; k++)
	{
		ids[k] = Int64GetDatum(c[k].id);
		dates[k] = DateADTGetDatum(c[k].date);
		datenulls[k] = !c[k].has_date;
		/* every subject already held, no status to check for arrivals */
		locked &= c[k].locked && !c[k].arrival && c[k].has_date;
	}
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_md_array(dates, datenulls, 1, dims, lbs,
												   DATEOID, sizeof(DateADT), true,
												   TYPALIGN_INT));
	if (locked)
		plan = rgpd_subject_plan(sub, RGPD_STMT_RAISE_LOCKED);
	else
		plan = rgpd_subject_plan(sub, RGPD_STMT_RAISE);
	rgpd_execute_plan(plan, values, NULL, sub->owner, true, 0);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *status = SPI_getvalue(tup, desc, 2);
		bool		raised = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

		if (rgpd_status_of_label(status) == RGPD_STATUS_ANONYMISED)
			out->anonymised[out->nanonymised++] = id;
		else if (rgpd_status_of_label(status) == RGPD_STATUS_ARCHIVED && raised)
			out->revived[out->nrevived++] = id;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Record contacts.  Nothing is written for a subject that gets no newer
 * date.  *raised says which subjects were found anonymised while personal
 * data arrived for them, and which archived ones were given a fresh
 * contact: the caller decides what follows (erase on arrival, un-archive).
 */
void
rgpd_raise_contacts(RgpdSubject *sub, RgpdContact *c, int n, RgpdRaised *raised)
{
	n = rgpd_merge_contacts(c, n);
	raised->anonymised = palloc(sizeof(int64) * Max(n, 1));
	raised->revived = palloc(sizeof(int64) * Max(n, 1));
	raised->nanonymised = raised->nrevived = 0;
	if (n == 0)
		return;

	if (n <= RAISE_SMALL_LIMIT && OidIsValid(sub->key_index))
		raise_each_direct(sub, c, n, raised);
	else if (n <= RAISE_SMALL_LIMIT)
		raise_each(sub, c, n, raised);
	else
		raise_set(sub, c, n, raised);
}

/*
 * Dates went away.  Lock the subjects (FOR UPDATE), and recompute those
 * whose last_contact may have been one of the dates removed.
 */
void
rgpd_lower_contacts(RgpdSubject *sub, RgpdContact *c, int n)
{
	Datum		values[1];
	int64	   *ids;
	int64	   *targets;
	int			ntargets = 0;
	int			k;
	uint64		i;

	n = rgpd_merge_contacts(c, n);
	if (n == 0)
		return;
	ids = palloc(sizeof(int64) * n);
	for (k = 0; k < n; k++)
		ids[k] = c[k].id;
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_LOCK_LOWER),
					  values, NULL, sub->owner, true, 0);

	targets = palloc(sizeof(int64) * Max(SPI_processed, 1));
	k = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		idnull,
					lcnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &idnull));
		Datum		lc = SPI_getbinval(tup, desc, 2, &lcnull);

		/* both lists are sorted by id */
		while (k < n && c[k].id < id)
			k++;
		if (k < n && c[k].id == id &&
			(lcnull || DatumGetDateADT(lc) <= c[k].date))
			targets[ntargets++] = id;
	}
	SPI_freetuptable(SPI_tuptable);
	if (ntargets > 0)
		rgpd_recompute_ids(sub, targets, ntargets);
}
