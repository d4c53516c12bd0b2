/*-------------------------------------------------------------------------
 *
 * sweep.c
 *	  rgpd.sweep(as_of, dry_run): the monthly pass that archives every
 *	  subject due by the end of the month of as_of (and, with
 *	  rgpd.auto_anonymise, anonymises those due for it), purges old stored
 *	  exports, and tightens the lower bound the due lists are indexed on.
 *
 *	  Candidates come from the same generated query as the pending lists,
 *	  through the index on rgpd_contact_floor, so the work grows with what
 *	  is due and not with the table.  The archiving UPDATE checks again,
 *	  on the row it writes, that the subject is still active and still due:
 *	  an opt-in or a new contact written before it reaches the row wins.
 *	  Its lock does not conflict with a contact's FOR KEY SHARE: a contact
 *	  that writes the row after it waits for the sweep to commit, finds the
 *	  row archived and brings it back (last_contact.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"

#include "storage/lmgr.h"

#include "storage/proc.h"

#include "utils/timestamp.h"

#include "miscadmin.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_sweep);

/* Ids due for an action as of a date, sorted. */
int64 *
rgpd_due_ids(RgpdSubject *sub, RgpdAction action, DateADT as_of, int *n)
{
	Oid			argtypes[1] = {DATEOID};
	Datum		values[1];
	char	   *due = rgpd_statement_sql(sub, action == RGPD_ACTION_ARCHIVE
										 ? RGPD_STMT_DUE_ARCHIVE : RGPD_STMT_DUE_ANONYMISE);
	int64	   *ids;

	values[0] = DateADTGetDatum(as_of);
	rgpd_execute(psprintf("SELECT q.id FROM (%s) AS q WHERE NOT q.excluded ORDER BY q.id", due),
				 1, argtypes, values, NULL, sub->owner, false, 0);
	ids = rgpd_spi_int64_column(n);
	*n = rgpd_check_holds(sub, ids, *n, rgpd_action_name(action), false); /* holds stay */
	return ids;
}

/* Archive due subjects that are still active and still due. */
int64
rgpd_archive_due(RgpdSubject *sub, int64 *ids, int n, DateADT as_of)
{
	Oid			argtypes[2] = {INT8ARRAYOID, DATEOID};
	Datum		values[2];
	int64	   *done;
	int			ndone;

	if (n == 0)
		return 0;
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	values[1] = DateADTGetDatum(as_of);
	rgpd_execute(rgpd_statement_sql(sub, RGPD_STMT_SWEEP_ARCHIVE),
				 2, argtypes, values, NULL, sub->owner, true, 0);
	done = rgpd_spi_int64_column(&ndone);
	ndone = rgpd_sort_unique_int64(done, ndone);

	rgpd_mark_links(sub, done, ndone, true);
	rgpd_archive_link_values(sub, done, ndone);
	rgpd_journal_rows("archive", sub->relid, done, ndone, NULL,
					  rgpd_jsonb_object(2, "reason", "sweep", "as_of",
										DatumGetCString(DirectFunctionCall1(date_out,
																			DateADTGetDatum(as_of)))));
	return ndone;
}

/* Tighten floors below next month's bound (RGPD_STMT_SWEEP_REFRESH). */
void
rgpd_refresh_floors(RgpdSubject *sub, DateADT as_of)
{
	Oid			argtypes[1] = {DATEOID};
	Datum		values[1];

	values[0] = DateADTGetDatum(as_of);
	rgpd_execute(rgpd_statement_sql(sub, RGPD_STMT_SWEEP_REFRESH),
				 1, argtypes, values, NULL, sub->owner, true, 0);
}

/* Delete stored exports older than rgpd.export_ttl; returns how many. */
int64
rgpd_purge_exports(void)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(rgpd_export_ttl);
	rgpd_execute("DELETE FROM rgpd.exports AS e"
				 " WHERE e.at OPERATOR(pg_catalog.<) (pg_catalog.now()"
				 "       OPERATOR(pg_catalog.-) $1::pg_catalog.interval)",
				 1, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	return (int64) SPI_processed;
}

/* One subject table's part of the sweep, run isolated from the others. */
typedef struct SweepTable
{
	Oid			relid;
	DateADT		as_of;
	bool		dry_run;
	int64		archived;
	int64		anonymised;
} SweepTable;

/*
 * The sweep locks a subject table and its links before it works on them,
 * and does not wait for ever: a tenant holding a lock on its own table (an
 * open transaction after LOCK TABLE, a long migration) gets that table
 * skipped and taken by the next run, while the other tables are swept
 * (review finding).  With lock_timeout set, that is the wait; without it,
 * RGPD_SWEEP_LOCK_WAIT_MS.  Each attempt takes the lock only if it is free
 * (ConditionalLockRelationOid), so no lock is queued for in between.
 */
#define RGPD_SWEEP_LOCK_WAIT_MS 10000

static void
lock_or_give_up(Oid relid, LOCKMODE mode, long wait_ms)
{
	TimestampTz start = GetCurrentTimestamp();

	while (!ConditionalLockRelationOid(relid, mode))
	{
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), (int) wait_ms))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock table %s for the sweep within %ld ms", rgpd_relname(relid), wait_ms),
					 errdetail("Another transaction holds a lock on it; it is taken by the next run."),
					 errhint("pg_locks names the transaction that holds it.")));
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

RgpdSubject *
rgpd_sweep_lock_tables(Oid relid)
{
	long		wait_ms = LockTimeout > 0 ? LockTimeout : RGPD_SWEEP_LOCK_WAIT_MS;
	RgpdSubject *sub;
	int			i;

	/* before the cache opens the table, which would wait unbounded */
	lock_or_give_up(relid, RowExclusiveLock, wait_ms);
	sub = rgpd_subject(relid, false);
	for (i = 0; i < sub->nlinks; i++)
		lock_or_give_up(sub->links[i], RowExclusiveLock, wait_ms);
	return sub;
}

static void
sweep_table(void *arg)
{
	SweepTable *t = (SweepTable *) arg;
	RgpdSubject *sub = rgpd_sweep_lock_tables(t->relid);
	int			n;
	int64	   *ids;


	ids = rgpd_due_ids(sub, RGPD_ACTION_ARCHIVE, t->as_of, &n);
	t->archived = t->dry_run ? n : rgpd_archive_due(sub, ids, n, t->as_of);
	if (rgpd_auto_anonymise)
	{
		ids = rgpd_due_ids(sub, RGPD_ACTION_ANONYMISE, t->as_of, &n);
		if (t->dry_run)
			t->anonymised = n - (rgpd_require_export ? rgpd_count_without_export(sub, ids, n) : 0);
		else
		{
			rgpd_retention_clock(t->as_of); /* keep reckoned from as_of */
			t->anonymised = rgpd_anonymise_ids(sub->relid, ids, n, "anonymise", "sweep",
											   RGPD_ANONYMISE_SWEEP);
			rgpd_retention_clock_reset();
		}
	}
	if (!t->dry_run)
		rgpd_refresh_floors(sub, t->as_of);
}

static void
emit(ReturnSetInfo *rsinfo, const char *action, Oid subject, int64 count)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = CStringGetTextDatum(action);
	values[1] = ObjectIdGetDatum(subject);
	values[2] = Int64GetDatum(count);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * rgpd.sweep(as_of date, dry_run boolean) RETURNS TABLE(action, subject,
 * count): one row per action and subject table.  A dry run changes nothing
 * and returns the counts a real run would.  Managers only (the scheduled
 * job runs as a member of rgpd_manager).
 */
Datum
rgpd_sweep(PG_FUNCTION_ARGS)
{
	DateADT		as_of;
	bool		dry_run;
	Oid			only;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid		   *subjects;
	int			nsubjects;
	uint64		i;
	int64		archived = 0,
				anonymised = 0,
				purged = 0,
				skipped = 0;
	int			nest;
	RgpdJson	detail;

	rgpd_require_manager("run the sweep");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of and dry_run must not be NULL")));
	as_of = PG_GETARG_DATEADT(0);
	dry_run = PG_GETARG_BOOL(1);
	only = PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2);
	rgpd_check_as_of(as_of);
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();

	if (OidIsValid(only))
		(void) rgpd_subject(only, false);	/* registered, or an error */
	subjects = rgpd_registered_subjects(&nsubjects);

	for (i = 0; i < (uint64) nsubjects; i++)
	{
		SweepTable	t = {0};
		ErrorData  *err;

		if (OidIsValid(only) && subjects[i] != only)
			continue;
		t.relid = subjects[i];
		t.as_of = as_of;
		t.dry_run = dry_run;
		err = rgpd_isolated(sweep_table, &t, t.relid, "the sweep");
		if (err != NULL)
		{
			/* a table that fails stops nobody else's sweep; it is journaled */
			skipped++;
			rgpd_journal_table("sweep_skipped", t.relid,
						 rgpd_error_journal_detail(err));
			continue;
		}
		archived += t.archived;
		emit(rsinfo, "archive", t.relid, t.archived);
		if (rgpd_auto_anonymise)
		{
			anonymised += t.anonymised;
			emit(rsinfo, "anonymise", t.relid, t.anonymised);
		}
	}

	/* per-link retention: kept rows whose keep ended, purges */
	(void) rgpd_retention_sweep(as_of, dry_run, only, rsinfo);

	if (!dry_run)
	{
		purged = rgpd_purge_exports();
		rgpd_json_begin(&detail);
		rgpd_json_text(&detail, "as_of",
					   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(as_of))));
		rgpd_json_int(&detail, "archived", archived);
		rgpd_json_int(&detail, "anonymised", anonymised);
		rgpd_json_int(&detail, "exports_purged", purged);
		rgpd_json_int(&detail, "tables_skipped", skipped);
		rgpd_json_bool(&detail, "auto_anonymise", rgpd_auto_anonymise);
		rgpd_journal_table("sweep", InvalidOid, rgpd_json_end(&detail));
	}

	rgpd_unpin_search_path(nest);
	SPI_finish();
	return (Datum) 0;
}
