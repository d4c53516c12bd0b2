/*-------------------------------------------------------------------------
 *
 * anonymise.c
 *	  Irreversible erasure: rgpd.anonymise() (one id or a batch),
 *	  rgpd.forget() (the right to be forgotten, now), rgpd.replay_erasures()
 *	  (after a restore, nobody who was forgotten comes back), and the
 *	  erasure "on arrival" of personal data linked to an already anonymised
 *	  subject.
 *
 *	  A batch is erased set-wise: one UPDATE of the subject table, then per
 *	  linked table one UPDATE (the personal columns belonging to the
 *	  subject column that points at an erased subject) and, for links whose
 *	  rows go with the subject, one DELETE.
 *
 *	  Locks.  Erasure takes no table lock beyond what its statements take
 *	  (ROW EXCLUSIVE).  It first locks the subject rows FOR UPDATE, in key
 *	  order, then writes.  That row lock is what keeps new personal data
 *	  out: every writer of a linked row that points at a subject holds the
 *	  subject row FOR KEY SHARE until it commits (the foreign key's check
 *	  takes it; without a foreign key the link trigger does, see
 *	  last_contact.c), and FOR UPDATE conflicts with it.  So a linked row
 *	  written concurrently was either committed before the subject was
 *	  locked, and is erased here (each statement reads under a fresh
 *	  snapshot in READ COMMITTED), or its writer waits for this erasure,
 *	  finds the subject anonymised and erases it on arrival.  1.0 held a
 *	  SHARE lock on every link table instead and then wrote them: a lock
 *	  upgrade, which deadlocked two erasures against each other and an
 *	  erasure against any transaction writing two link tables, and queued
 *	  every writer of the links behind an erasure waiting for a subject.
 *
 *	  Erasure on arrival rewrites only the linked rows that still carry
 *	  something to erase (those that just arrived), never the old, erased
 *	  rows of the subject that other transactions may hold.
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
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pericles_rgpd.h"
#include "link_statements.h"

PG_FUNCTION_INFO_V1(rgpd_anonymise);
PG_FUNCTION_INFO_V1(rgpd_forget);
PG_FUNCTION_INFO_V1(rgpd_replay_erasures);

/* Rows erased per table, per subject of the batch. */
typedef struct EraseCounts
{
	int			ntables;
	char	  **tables;
	int64	  **counts;			/* counts[t][i]: subject ids[i] in table t */
} EraseCounts;

static int
find_id(int64 *ids, int n, int64 id)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (ids[mid] == id)
			return mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Run one generated erasure statement on a table, as its owner; count the
 * rows per subject from what it returns (one column per subject column,
 * non-NULL where that column points at an erased subject).
 */
static int64
erase_table(const char *sql, Oid owner, const char *table, int64 *ids, int n,
			EraseCounts *counts)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *row = NULL;
	uint64		r;
	int64		total;

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute(sql, 1, argtypes, values, NULL, owner, true, 0);
	total = (int64) SPI_processed;
	if (counts)
	{
		int			t = counts->ntables++;

		counts->tables[t] = pstrdup(table);
		counts->counts[t] = row = palloc0(sizeof(int64) * Max(n, 1));
	}
	for (r = 0; row && r < SPI_processed; r++)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int			c;

		for (c = 1; c <= desc->natts; c++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[r], desc, c, &isnull);
			int			i;

			if (isnull)
				continue;
			i = find_id(ids, n, DatumGetInt64(d));
			if (i >= 0)
				row[i]++;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return total;
}

/*
 * Erase the linked rows of these subjects in every link of `sub`, or, on
 * arrival (only_link valid), what arrived through that one link.
 */
static void
erase_links(RgpdSubject *sub, Oid only_link, int64 *ids, int n, EraseCounts *counts)
{
	int			i;

	for (i = 0; i < sub->nlinks; i++)
	{
		Oid			link = sub->links[i];
		Oid			owner;
		char	   *name;
		char	   *sql;

		if (OidIsValid(only_link) && link != only_link)
			continue;
		owner = rgpd_rel_owner(link);
		name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(link)),
										  get_rel_name(link));
		/* rows that go with the subject, then personal columns of the rest */
		sql = rgpd_link_statement_sql(sub->relid, link, RGPD_LINK_DELETE, RGPD_LINK_SPARE_KEPT);
		if (sql)
			erase_table(sql, owner, psprintf("%s (deleted)", name), ids, n, counts);
		sql = rgpd_link_statement_sql(sub->relid, link,
									  OidIsValid(only_link) ? RGPD_LINK_ERASE_ARRIVAL : RGPD_LINK_ERASE,
									  RGPD_LINK_SPARE_KEPT);
		if (sql)
			erase_table(sql, owner, name, ids, n, counts);
	}
}

/*
 * Personal data arrived through `link` for subjects that are anonymised
 * (an insert that raced the anonymisation, or a later one): erase it.
 */
int64
rgpd_erase_on_arrival(RgpdSubject *sub, Oid link, int64 *ids, int n)
{
	n = rgpd_sort_unique_int64(ids, n);
	rgpd_retain_rows(sub, link, ids, n);	/* rows a keep protects stay */
	erase_links(sub, link, ids, n, NULL);
	return n;
}

/* Subjects among ids without an export within rgpd.export_ttl. */
static int64 *
without_export(RgpdSubject *sub, int64 *ids, int n, int *nmissing)
{
	Oid			argtypes[3] = {REGCLASSOID, INT8ARRAYOID, TEXTOID};
	Datum		values[3];

	values[0] = ObjectIdGetDatum(sub->relid);
	values[1] = PointerGetDatum(rgpd_int8_array(ids, n));
	values[2] = CStringGetTextDatum(rgpd_export_ttl);
	rgpd_execute("SELECT u.id FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS u(id)"
				 " WHERE NOT EXISTS (SELECT 1 FROM rgpd.exports AS e"
				 "   WHERE e.subject OPERATOR(pg_catalog.=) $1"
				 "     AND e.subject_id OPERATOR(pg_catalog.=) u.id"
				 "     AND e.at OPERATOR(pg_catalog.>=) (pg_catalog.now()"
				 "         OPERATOR(pg_catalog.-) $3::pg_catalog.interval))"
				 " ORDER BY 1",
				 3, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	return rgpd_spi_int64_column(nmissing);
}

int
rgpd_count_without_export(RgpdSubject *sub, int64 *ids, int n)
{
	int			nmissing;

	if (n == 0)
		return 0;
	(void) without_export(sub, ids, n, &nmissing);
	return nmissing;
}

/* {"reason": …, "rows": {"table": n, …}} for subject i of the batch. */
static Jsonb *
erase_detail(EraseCounts *counts, int i, const char *reason)
{
	RgpdJson	js;
	int			t;

	rgpd_json_begin(&js);
	rgpd_json_text(&js, "reason", reason);
	rgpd_json_begin_object(&js, "rows");
	for (t = 0; t < counts->ntables; t++)
		if (counts->counts[t][i] != 0)
			rgpd_json_int(&js, counts->tables[t], counts->counts[t][i]);
	rgpd_json_end_object(&js);
	return rgpd_json_end(&js);
}

/*
 * One attempt at anonymising a batch (ids sorted and unique): lock the
 * subjects, erase, journal.  See rgpd_anonymise_ids().
 */
static int64
anonymise_attempt(Oid relid, int64 *ids, int n, const char *action,
				  const char *reason, bool force, bool sweep)
{
	RgpdSubject *sub = rgpd_subject(relid, false);
	RgpdLocked *locked;
	int64	   *targets = palloc(sizeof(int64) * Max(n, 1));
	int			ntargets = 0;
	EraseCounts counts;
	Jsonb	  **details;
	int			i;
	int			nest = rgpd_pin_search_path();

	/*
	 * An erasure writes: on a hot standby (or in a read-only transaction)
	 * say so with PostgreSQL's own 25006, before any lock.
	 */
	PreventCommandIfReadOnly(psprintf("rgpd.%s()", strcmp(action, "replay") == 0
									  ? "replay_erasures" : action));

	/*
	 * Lock the subjects, in key order, and no table: writers of their
	 * linked rows hold them FOR KEY SHARE (see the file header).
	 */
	locked = rgpd_read_subjects(sub, ids, n,
								RGPD_READ_LOCK | (force ? RGPD_READ_MISSING_OK : 0),
								(Datum) 0);

	for (i = 0; i < locked->n; i++)
	{
		if (!force && locked->status[i] == RGPD_STATUS_ANONYMISED)
			ereport(NOTICE,
					(errmsg("row " INT64_FORMAT " of table %s is already anonymised; nothing to do",
							locked->ids[i], sub->relname)));
		else
			targets[ntargets++] = locked->ids[i];
	}

	/* legal holds: the sweep leaves them, anonymise and forget refuse */
	if (!force)
		ntargets = rgpd_check_holds(sub, targets, ntargets, action, !sweep);

	if (rgpd_require_export && !force && ntargets > 0)
	{
		int			nmissing;
		int64	   *missing = without_export(sub, targets, ntargets, &nmissing);

		if (nmissing > 0 && !sweep)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("row %s of table %s has not been exported within %s",
							rgpd_format_ids(missing, nmissing), sub->relname, rgpd_export_ttl),
					 errdetail("rgpd.require_export is on; nothing was changed."),
					 errhint("Export it first with rgpd.export(%s, id).",
							 quote_literal_cstr(sub->relname))));
		if (nmissing > 0)
		{
			int			j = 0,
						k = 0;

			ereport(NOTICE,
					(errmsg("%d row(s) of table %s skipped: no export within %s (%s)",
							nmissing, sub->relname, rgpd_export_ttl,
							rgpd_format_ids(missing, nmissing))));
			for (i = 0; i < ntargets; i++)
			{
				while (k < nmissing && missing[k] < targets[i])
					k++;
				if (k < nmissing && missing[k] == targets[i])
					continue;
				targets[j++] = targets[i];
			}
			ntargets = j;
		}
	}
	if (ntargets == 0)
	{
		rgpd_unpin_search_path(nest);
		return 0;
	}

	counts.ntables = 0;
	counts.tables = palloc(sizeof(char *) * (2 * sub->nlinks + 1));
	counts.counts = palloc(sizeof(int64 *) * (2 * sub->nlinks + 1));

	/*
	 * The subject first: once it reads anonymised, a row deleted below that
	 * also pointed at another subject recomputes that other subject only.
	 */
	erase_table(rgpd_statement_sql(sub, RGPD_STMT_ERASE_SUBJECT),
				sub->owner, sub->relname, targets, ntargets, &counts);
	rgpd_retain_rows(sub, InvalidOid, targets, ntargets);	/* statutory keeps */
	erase_links(sub, InvalidOid, targets, ntargets, &counts);
	rgpd_mark_links(sub, targets, ntargets, true);
	rgpd_discard_link_values(sub, targets, ntargets);

	/* stored exports hold personal data: they go too */
	{
		Oid			argtypes[2] = {REGCLASSOID, INT8ARRAYOID};
		Datum		values[2];

		values[0] = ObjectIdGetDatum(relid);
		values[1] = PointerGetDatum(rgpd_int8_array(targets, ntargets));
		rgpd_execute("DELETE FROM rgpd.exports AS e WHERE e.subject OPERATOR(pg_catalog.=) $1"
					 " AND e.subject_id OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.int8[])",
					 2, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	}

	details = palloc(sizeof(Jsonb *) * ntargets);
	for (i = 0; i < ntargets; i++)
		details[i] = erase_detail(&counts, i, reason);
	rgpd_journal_rows(action, relid, targets, ntargets, details, NULL);

	rgpd_unpin_search_path(nest);
	return ntargets;
}

/*
 * Anonymise a batch of subjects of one table.
 *   action:  journal action ("anonymise", "forget", "replay")
 *   flags:   RGPD_ANONYMISE_FORCE: erase again even if already anonymised,
 *            skip unknown ids and the export requirement;
 *            RGPD_ANONYMISE_SWEEP: skip (rather than refuse) subjects
 *            without a recent export
 * Returns the number of subjects anonymised.
 *
 * Erasure steps back rather than deadlock.  Its lock order (subjects in
 * key order, then their linked rows) is not the application's: a
 * statement that writes a linked row locks that row first and its subject
 * after (its trigger, its foreign key's check), and a transaction may
 * write a linked row, then its subject, in two statements.  Erasure
 * holding the subject and waiting for such a row would close a cycle.  So
 * each attempt runs in a subtransaction and waits for no lock longer than
 * half of deadlock_timeout: before anybody's deadlock check runs, it gives
 * back everything it holds and starts again, and the application's
 * transaction goes on.  After RGPD_ERASE_YIELDS attempts it waits as any
 * statement does (a transaction holding a subject that long is no cycle
 * but a slow transaction, and erasure must not starve).
 */
#define RGPD_ERASE_YIELDS 10

int64
rgpd_anonymise_ids(Oid relid, int64 *ids, int n, const char *action,
				   const char *reason, int flags)
{
	bool		force = (flags & RGPD_ANONYMISE_FORCE) != 0;
	bool		sweep = (flags & RGPD_ANONYMISE_SWEEP) != 0;
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	int			yield_ms = Max(DeadlockTimeout / 2, 1);
	int			attempt;
	volatile int nids = rgpd_sort_unique_int64(ids, n);

	for (attempt = 1;; attempt++)
	{
		/* a caller's own shorter lock_timeout stays the caller's */
		bool		yield = attempt <= RGPD_ERASE_YIELDS &&
			(LockTimeout == 0 || LockTimeout > yield_ms);
		volatile int64 done = 0;
		bool		retry = false;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcontext);
		PG_TRY();
		{
			int			nest = NewGUCNestLevel();

			if (yield)
			{
				char		ms[32];

				snprintf(ms, sizeof(ms), "%d", yield_ms);
				(void) set_config_option("lock_timeout", ms, PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_SAVE, true, 0, false);
			}
			done = anonymise_attempt(relid, ids, nids, action, reason, force, sweep);
			AtEOXact_GUC(true, nest);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcontext);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcontext);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcontext);
			CurrentResourceOwner = oldowner;
			/* only a wait our own timeout cut short is tried again */
			if (!yield || edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
				ReThrowError(edata);
			FreeErrorData(edata);
			retry = true;
		}
		PG_END_TRY();
		if (!retry)
			return done;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * rgpd.anonymise(subject, id | ids): managers only.  Returns the number of
 * subjects anonymised (already anonymised ones are left, with a notice).
 */
Datum
rgpd_anonymise(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int			n;
	int64	   *ids = rgpd_ids_arg(fcinfo, 1, &n);
	int64		done;

	rgpd_require_manager("anonymise");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_require_reads(rgpd_subject(relid, false), "anonymise");
	done = rgpd_anonymise_ids(relid, ids, n, "anonymise", "manual", 0);
	SPI_finish();
	PG_RETURN_INT64(done);
}

/*
 * rgpd.forget(subject, id, reason): the right to be forgotten, now,
 * whatever the dates.  Managers only; the reason is journaled.
 */
Datum
rgpd_forget(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *reason;
	int64		done;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject and id must not be NULL")));
	if (PG_ARGISNULL(2) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a request to be forgotten needs a reason"),
				 errhint("Say where the request came from, e.g. 'letter of 2026-11-02'.")));
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	reason = text_to_cstring(PG_GETARG_TEXT_PP(2));
	rgpd_check_text_length(reason, "reason of a request to be forgotten");

	rgpd_require_manager("forget");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_require_reads(rgpd_subject(relid, false), "forget");
	done = rgpd_anonymise_ids(relid, &id, 1, "forget", reason, 0);
	SPI_finish();
	PG_RETURN_INT64(done);
}

/*
 * rgpd.replay_erasures(since): re-apply every anonymisation and forget
 * journaled since a time to the subjects that are not anonymised now
 * (erasure_log.c, beside the replay of an erasure log).  Returns the
 * number of subjects erased again.
 */
Datum
rgpd_replay_erasures(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(rgpd_replay_journal(PG_GETARG_DATUM(0)));
}
