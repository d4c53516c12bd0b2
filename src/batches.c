/*-------------------------------------------------------------------------
 *
 * batches.c
 *	  Long work in committed batches, for tables of millions of rows:
 *	  CALL rgpd.sweep_batches() (the sweep) and CALL rgpd.recompute_batches()
 *	  (the backfill of last_contact after a registration, or a repair).
 *
 *	  Both are C procedures that COMMIT between batches (SPI_connect_ext with
 *	  SPI_OPT_NONATOMIC, as PL/pgSQL's COMMIT does): a timeout or a cancel
 *	  keeps the batches already committed, and the next run resumes, since
 *	  it simply finds what is still due (or still to compute).  Each batch
 *	  of the sweep locks its rows with SKIP LOCKED, so that it never waits
 *	  behind the application; the rows it skipped are counted and taken by
 *	  the next run.  Each batch is journaled (sweep_batch) and announced
 *	  (NOTICE); the run ends with the usual sweep line, which also says
 *	  when the run stopped and why.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pericles_rgpd.h"
#include "recompute.h"

PG_FUNCTION_INFO_V1(rgpd_sweep_batches);
PG_FUNCTION_INFO_V1(rgpd_recompute_batches);
PG_FUNCTION_INFO_V1(rgpd_defer_backfill);

/* Largest batch: a batch is one transaction of bounded size. */
#define MAX_BATCH_SIZE	1000000

/* ---- registration without backfill (rgpd.defer_backfill()) ---- */

static bool backfill_deferred = false;
static bool backfill_callbacks = false;

/* The deferral never outlives the (sub)transaction that set it. */
static void
backfill_xact_callback(XactEvent event pg_attribute_unused(), void *arg pg_attribute_unused())
{
	backfill_deferred = false;
}

static void
backfill_subxact_callback(SubXactEvent event, SubTransactionId mySubid pg_attribute_unused(),
						  SubTransactionId parentSubid pg_attribute_unused(),
						  void *arg pg_attribute_unused())
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		backfill_deferred = false;
}

bool
rgpd_backfill_deferred(void)
{
	return backfill_deferred;
}

/*
 * rgpd.defer_backfill(): for the rest of the transaction, rgpd.recompute()
 * of a whole table, which registration ends with, does nothing; CALL
 * rgpd.recompute_batches() computes last_contact afterwards.  Only the
 * caller's own transaction is affected.
 */
Datum
rgpd_defer_backfill(PG_FUNCTION_ARGS pg_attribute_unused())
{
	/*
	 * Owner code that the extension runs (a tenant's trigger fired by the
	 * sweep or by rgpd.archive, in a security-restricted operation) must not
	 * change what the privileged caller's own transaction computes next.
	 */
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot call rgpd.defer_backfill() within a security-restricted operation"),
				 errdetail("A table's own code run by pericles_rgpd may not defer the caller's backfill.")));
	if (!IsTransactionBlock())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("rgpd.defer_backfill() has no effect outside a transaction block"),
				 errhint("Call it after BEGIN, then register the tables in the same transaction.")));
	if (!backfill_callbacks)
	{
		RegisterXactCallback(backfill_xact_callback, NULL);
		RegisterSubXactCallback(backfill_subxact_callback, NULL);
		backfill_callbacks = true;
	}
	backfill_deferred = true;
	PG_RETURN_VOID();
}

/* ---- helpers ---- */

/* Procedures that commit must be CALLed outside a transaction block. */
static void
require_nonatomic(FunctionCallInfo fcinfo, const char *name, const char *instead)
{
	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("%s commits between its batches and must be run by CALL outside a transaction block", name),
				 errhint("%s", instead)));
}

static int
batch_size_arg(FunctionCallInfo fcinfo, int argno)
{
	int			size;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch_size must not be NULL")));
	size = PG_GETARG_INT32(argno);
	if (size < 1 || size > MAX_BATCH_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be between 1 and %d, not %d", MAX_BATCH_SIZE, size)));
	return size;
}

/*
 * Run fn(arg) isolated (rgpd_isolated: a subtransaction; an error of the
 * table becomes a WARNING and is returned).  A cancel or timeout, which
 * rgpd_isolated re-throws once its subtransaction is rolled back, is
 * returned too, with *interrupted set: the transaction of the batch is
 * still sound, so the run can journal that it stopped, commit, and then
 * raise it again.
 */
static ErrorData *
isolated_step(void (*fn) (void *arg), void *arg, Oid relid, const char *what,
			  bool *interrupted)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile err = NULL;
	int			nest = rgpd_pin_search_path();

	*interrupted = false;
	PG_TRY();
	{
		err = rgpd_isolated(fn, arg, relid, what);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		if (IsSubTransaction())
			PG_RE_THROW();		/* not re-thrown by rgpd_isolated: cannot happen */
		err = CopyErrorData();
		FlushErrorState();
		*interrupted = true;
	}
	PG_END_TRY();
	rgpd_unpin_search_path(nest);
	return err;
}

/* Commit the batch, and start the next transaction with a snapshot. */
static void
commit_batch(void)
{
	SPI_commit();
	EnsurePortalSnapshotExists();
}

static char *
date_text(DateADT d)
{
	return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(d)));
}

/* ---- CALL rgpd.sweep_batches() ---- */

/* One subject table, one action, as the run goes through it. */
typedef struct SweepBatch
{
	Oid			relid;
	RgpdAction	action;
	DateADT		as_of;
	const char *run;
	MemoryContext runcxt;		/* survives the commits of the run */
	char	   *lock_sql;		/* RGPD_STMT_SWEEP_LOCK_<action> */
	int64	   *due;			/* listed once, sorted */
	int			ndue;
	int			from;			/* this batch: due[from .. from + n) */
	int			n;
	int			batch;			/* number of this batch in the run */
	int64		done;			/* archived or anonymised by this batch */
	int64		skipped;		/* locked by another transaction */
} SweepBatch;

/* List what is due, once per table and action (the sweep's own query). */
static void
list_due(void *arg)
{
	SweepBatch *b = (SweepBatch *) arg;
	RgpdSubject *sub = rgpd_sweep_lock_tables(b->relid);
	MemoryContext old;
	int64	   *ids;
	int			n;
	char	   *sql;

	ids = rgpd_due_ids(sub, b->action, b->as_of, &n);
	sql = rgpd_statement_sql(sub, b->action == RGPD_ACTION_ARCHIVE
							 ? RGPD_STMT_SWEEP_LOCK_ARCHIVE : RGPD_STMT_SWEEP_LOCK_ANONYMISE);
	old = MemoryContextSwitchTo(b->runcxt);
	b->due = palloc(sizeof(int64) * Max(n, 1));
	memcpy(b->due, ids, sizeof(int64) * n);
	b->ndue = n;
	b->lock_sql = pstrdup(sql);
	MemoryContextSwitchTo(old);
}

/*
 * One batch: lock its rows without waiting (SKIP LOCKED), keep those still
 * due and not excluded (on the row locked, which may have changed since
 * the list was made), act on them, and journal the batch.
 */
static void
sweep_batch(void *arg)
{
	SweepBatch *b = (SweepBatch *) arg;
	RgpdSubject *sub = rgpd_sweep_lock_tables(b->relid);
	Oid			argtypes[2] = {INT8ARRAYOID, DATEOID};
	Datum		values[2];
	int64	   *ids;
	int			nlocked = 0,
				ndue = 0;
	uint64		i;
	RgpdJson	js;

	values[0] = PointerGetDatum(rgpd_int8_array(b->due + b->from, b->n));
	values[1] = DateADTGetDatum(b->as_of);
	rgpd_execute(b->lock_sql, 2, argtypes, values, NULL, sub->owner, false, 0);
	ids = palloc(sizeof(int64) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		due = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

		nlocked++;
		if (!isnull && DatumGetBool(due))
			ids[ndue++] = DatumGetInt64(id);
	}
	b->skipped = b->n - nlocked;

	if (b->action == RGPD_ACTION_ARCHIVE)
		b->done = rgpd_archive_due(sub, ids, ndue, b->as_of);
	else
	{
		rgpd_retention_clock(b->as_of); /* keep reckoned from as_of */
		b->done = ndue == 0 ? 0 :
			rgpd_anonymise_ids(b->relid, ids, ndue, "anonymise", "sweep",
							   RGPD_ANONYMISE_SWEEP);
		rgpd_retention_clock_reset();
	}

	rgpd_json_begin(&js);
	rgpd_json_text(&js, "run", b->run);
	rgpd_json_int(&js, "batch", b->batch);
	rgpd_json_text(&js, "action", rgpd_action_name(b->action));
	rgpd_json_text(&js, "as_of", date_text(b->as_of));
	rgpd_json_int(&js, b->action == RGPD_ACTION_ARCHIVE ? "archived" : "anonymised",
				  b->done);
	rgpd_json_int(&js, "skipped_locked", b->skipped);
	rgpd_json_int(&js, "position", b->from + b->n);
	rgpd_json_int(&js, "due", b->ndue);
	rgpd_journal_table("sweep_batch", b->relid, rgpd_json_end(&js));
}

static void
refresh_table(void *arg)
{
	SweepBatch *b = (SweepBatch *) arg;

	rgpd_refresh_floors(rgpd_subject(b->relid, false), b->as_of);
}

/*
 * CALL rgpd.sweep_batches(as_of date, batch_size integer, for_subject
 * regclass): the sweep, committed batch by batch.  Per subject table, the
 * archive then (with rgpd.auto_anonymise) the anonymisation: what is due
 * is listed once, then handled batch_size rows per transaction.  A table
 * whose batch fails is journaled (sweep_skipped) and left for the next
 * run, as rgpd.sweep() does; a cancel or timeout stops the run, journaled.
 * Managers only.
 */
Datum
rgpd_sweep_batches(PG_FUNCTION_ARGS)
{
	DateADT		as_of;
	int			batch_size;
	Oid			only;
	Oid		   *subjects;
	int			nsubjects;
	int			i;
	int			batches = 0;
	int64		archived = 0,
				anonymised = 0,
				skipped_locked = 0,
				tables_skipped = 0,
				purged = 0;
	bool		anonymise = rgpd_auto_anonymise;
	ErrorData  *stopped = NULL;
	MemoryContext runcxt;
	char	   *run;
	RgpdJson	detail;

	rgpd_require_manager("run the sweep");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL")));
	as_of = PG_GETARG_DATEADT(0);
	batch_size = batch_size_arg(fcinfo, 1);
	only = PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2);
	rgpd_check_as_of(as_of);
	require_nonatomic(fcinfo, "rgpd.sweep_batches()",
					  "Inside a transaction, use SELECT * FROM rgpd.sweep(), which runs in the caller's transaction.");

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	/* SPI's procedure context lives until SPI_finish, across the commits */
	runcxt = CurrentMemoryContext;
	run = psprintf("%s/%d", timestamptz_to_str(GetCurrentTimestamp()), MyProcPid);

	if (OidIsValid(only))
		(void) rgpd_subject(only, false);	/* registered, or an error */
	subjects = rgpd_registered_subjects(&nsubjects);

	for (i = 0; i < nsubjects && stopped == NULL; i++)
	{
		const RgpdAction actions[2] = {RGPD_ACTION_ARCHIVE, RGPD_ACTION_ANONYMISE};
		int			a;
		bool		failed = false;
		bool		interrupted = false;
		ErrorData  *err;
		SweepBatch	b = {0};

		if (OidIsValid(only) && subjects[i] != only)
			continue;
		b.relid = subjects[i];
		b.as_of = as_of;
		b.run = run;
		b.runcxt = runcxt;

		for (a = 0; a < (anonymise ? 2 : 1) && !failed; a++)
		{
			b.action = actions[a];
			err = isolated_step(list_due, &b, b.relid, "the sweep", &interrupted);
			for (b.from = 0; err == NULL && b.from < b.ndue; b.from += b.n)
			{
				b.n = Min(batch_size, b.ndue - b.from);
				b.batch = batches + 1;
				err = isolated_step(sweep_batch, &b, b.relid, "the sweep", &interrupted);
				if (err != NULL)
					break;
				batches++;
				if (a == 0)
					archived += b.done;
				else
					anonymised += b.done;
				skipped_locked += b.skipped;
				ereport(NOTICE,
						(errmsg("rgpd.sweep_batches: batch %d, %s: %s " INT64_FORMAT
								", skipped " INT64_FORMAT " locked (%d of %d due)",
								b.batch, rgpd_relname(b.relid), rgpd_action_name(b.action), b.done,
								b.skipped, b.from + b.n, b.ndue)));
				commit_batch();
			}
			if (err != NULL)
			{
				if (interrupted)
					stopped = err;
				else
				{
					/* a table that fails stops nobody else's sweep */
					tables_skipped++;
					rgpd_journal_table("sweep_skipped", b.relid,
								 rgpd_error_journal_detail(err));
					commit_batch();
				}
				failed = true;
			}
			if (b.due)
				pfree(b.due);
			b.due = NULL;
			b.ndue = 0;
		}
		if (!failed)
		{
			err = isolated_step(refresh_table, &b, b.relid, "the sweep", &interrupted);
			if (err != NULL && interrupted)
				stopped = err;
			else if (err != NULL)
			{
				tables_skipped++;
				rgpd_journal_table("sweep_skipped", b.relid,
							 rgpd_error_journal_detail(err));
			}
			commit_batch();
		}
	}

	if (stopped == NULL)
	{
		/* per-link retention: one statement per link (retention.c) */
		(void) rgpd_retention_sweep(as_of, false, only, NULL);
		commit_batch();
		purged = rgpd_purge_exports();
	}
	rgpd_json_begin(&detail);
	rgpd_json_text(&detail, "as_of", date_text(as_of));
	rgpd_json_int(&detail, "archived", archived);
	rgpd_json_int(&detail, "anonymised", anonymised);
	rgpd_json_int(&detail, "exports_purged", purged);
	rgpd_json_int(&detail, "tables_skipped", tables_skipped);
	rgpd_json_bool(&detail, "auto_anonymise", anonymise);
	rgpd_json_text(&detail, "run", run);
	rgpd_json_int(&detail, "batches", batches);
	rgpd_json_int(&detail, "batch_size", batch_size);
	rgpd_json_int(&detail, "skipped_locked", skipped_locked);
	rgpd_json_bool(&detail, "completed", stopped == NULL);
	if (stopped != NULL)
		rgpd_json_jsonb(&detail, "stopped", rgpd_error_journal_detail(stopped));
	rgpd_journal_table("sweep", InvalidOid, rgpd_json_end(&detail));
	commit_batch();
	/* the error again, now that the run is journaled (stopped lives in SPI's context) */
	if (stopped != NULL)
		ReThrowError(stopped);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- CALL rgpd.recompute_batches() ---- */

/* One batch of the backfill: the next keys, locked, then recomputed. */
typedef struct RecomputeBatch
{
	Oid			relid;
	char	   *keys_sql;		/* RGPD_STMT_SWEEP_NEXT_KEYS */
	int64		after;			/* keys above this one */
	int			size;
	int			n;				/* rows in this batch */
	int64		changed;
} RecomputeBatch;

/*
 * The next `size` subjects in key order, locked FOR UPDATE as a lowering
 * of last_contact locks them (a contact being recorded for one of them
 * waits, then raises what this batch computed), then recomputed from all
 * their contacts under a snapshot taken after the lock.
 */
static void
recompute_batch(void *arg)
{
	RecomputeBatch *r = (RecomputeBatch *) arg;
	RgpdSubject *sub = rgpd_subject(r->relid, false);
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int64	   *ids;

	values[0] = Int64GetDatum(r->after);
	values[1] = Int32GetDatum(r->size);
	rgpd_execute(r->keys_sql, 2, argtypes, values, NULL, sub->owner, false, 0);
	ids = rgpd_spi_int64_column(&r->n);
	if (r->n == 0)
		return;
	r->after = ids[r->n - 1];
	r->changed = rgpd_recompute_ids(sub, ids, r->n);
}

/*
 * CALL rgpd.recompute_batches(subject regclass, batch_size integer): what
 * rgpd.recompute() does, batch_size subjects (in key order) per
 * transaction, each subject row written at most once: the backfill of a
 * registrations made after rgpd.defer_backfill(), or a repair that must not
 * hold the table.  The owner of the table and managers.
 */
Datum
rgpd_recompute_batches(PG_FUNCTION_ARGS)
{
	RecomputeBatch r = {0};
	int			batches = 0;
	int64		rows = 0,
				changed = 0;
	bool		interrupted;
	ErrorData  *err;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject must not be NULL")));
	r.relid = PG_GETARG_OID(0);
	r.size = batch_size_arg(fcinfo, 1);
	if (!pg_class_ownercheck(r.relid, GetUserId()) && !rgpd_is_manager())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to recompute table %s", rgpd_relname(r.relid)),
				 errhint("Recomputing is for the owner of the table and members of %s.",
						 RGPD_MANAGER)));
	require_nonatomic(fcinfo, "rgpd.recompute_batches()",
					  "Inside a transaction, use rgpd.recompute(), which runs in the caller's transaction.");

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	/* registered, or an error */
	r.keys_sql = rgpd_statement_sql(rgpd_subject(r.relid, false), RGPD_STMT_SWEEP_NEXT_KEYS);
	r.after = PG_INT64_MIN;

	for (;;)
	{
		r.n = 0;
		r.changed = 0;
		err = isolated_step(recompute_batch, &r, r.relid, "the backfill", &interrupted);
		if (err != NULL)
			ReThrowError(err);	/* the batches before it stay committed */
		if (r.n == 0)
			break;
		batches++;
		rows += r.n;
		changed += r.changed;
		ereport(NOTICE,
				(errmsg("rgpd.recompute_batches: batch %d, %s: " INT64_FORMAT " rows read, "
						INT64_FORMAT " changed, up to key " INT64_FORMAT,
						batches, rgpd_relname(r.relid), rows, r.changed, r.after)));
		commit_batch();
	}
	ereport(NOTICE,
			(errmsg("rgpd.recompute_batches: %s done, " INT64_FORMAT " rows in %d batches, "
					INT64_FORMAT " changed", rgpd_relname(r.relid), rows, batches, changed)));
	SPI_finish();
	PG_RETURN_VOID();
}
