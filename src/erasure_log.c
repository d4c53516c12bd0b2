/*-------------------------------------------------------------------------
 *
 * erasure_log.c
 *	  Erasures that survive a restore: rgpd.replay_erasures(log jsonb)
 *	  applies an erasure log (rgpd.erasure_log(), kept off-site) in a
 *	  restored copy, and rgpd.replay_erasures(since) the database's own
 *	  journal.
 *
 *	  Both are idempotent: a subject that reads anonymised now is left
 *	  alone (neither erased nor journaled again), so that a log can be
 *	  replayed as often as restores happen.  A subject table, or a row,
 *	  that does not exist here is reported and skipped.  What remains is
 *	  erased by rgpd_anonymise_ids() as any anonymisation is — locks, the
 *	  gate, the journal (action 'replay', reason: the action replayed) —
 *	  which checks the status again under its lock, so a subject
 *	  anonymised meanwhile is not erased twice.  A replay needs no recent
 *	  export (rgpd.require_export): the erasure was decided before.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "miscadmin.h"
#include "utils/acl.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_replay_erasure_log);

/* One erasure to replay: a subject row, and whether it was forgotten. */
typedef struct ReplayEntry
{
	Oid			relid;			/* InvalidOid: no such table here */
	const char *name;			/* the table as the log names it */
	int64		id;
	bool		forget;
} ReplayEntry;

/* By table name, then key. */
static int
entry_cmp(const void *a, const void *b)
{
	const ReplayEntry *x = a;
	const ReplayEntry *y = b;
	int			c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/*
 * Replay the entries [first, last) of one subject table (same relid, in key
 * order, a key possibly repeated).  Returns the subjects erased.
 */
static int64
replay_table(ReplayEntry *entries, int first, int last)
{
	Oid			relid = entries[first].relid;
	const char *name = entries[first].name;
	RgpdSubject *sub;
	RgpdLocked *now;
	int64	   *ids = palloc(sizeof(int64) * (last - first));
	bool	   *forget = palloc(sizeof(bool) * (last - first));
	int64	   *missing = palloc(sizeof(int64) * (last - first));
	int64	   *forgotten = palloc(sizeof(int64) * (last - first));
	int64	   *anonymised = palloc(sizeof(int64) * (last - first));
	int			n = 0,
				nmissing = 0,
				nforgotten = 0,
				nanonymised = 0,
				i,
				k = 0;
	int64		done = 0;

	sub = OidIsValid(relid) ? rgpd_subject(relid, true) : NULL;
	/*
	 * A table the manager may not read is treated as absent, with the
	 * message of a table that does not exist: a replay acts only on what
	 * its caller may read (and tells nothing of the others).
	 */
	if ((sub != NULL && !rgpd_caller_reads(relid, sub->key_column)) ||
		(sub == NULL && OidIsValid(relid) &&
		 pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK))
	{
		sub = NULL;
		relid = InvalidOid;
	}
	if (sub == NULL)
	{
		ereport(WARNING,
				(errcode(OidIsValid(relid) ? ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
						 : ERRCODE_UNDEFINED_TABLE),
				 errmsg(OidIsValid(relid)
						? "table %s is not registered as a subject: %d erasure(s) skipped"
						: "table %s does not exist, or may not be read: %d erasure(s) skipped",
						name, last - first),
				 errhint(OidIsValid(relid)
						 ? "Register it with rgpd.register_subject() and replay the log again."
						 : "If the table was renamed, correct its name in the log; if it is not granted to you, ask its owner for SELECT; then replay the log again.")));
		return 0;
	}

	/* one key per subject; forgotten if any entry forgot it */
	for (i = first; i < last; i++)
	{
		if (n > 0 && ids[n - 1] == entries[i].id)
			forget[n - 1] |= entries[i].forget;
		else
		{
			ids[n] = entries[i].id;
			forget[n++] = entries[i].forget;
		}
	}

	/* the rows as they are now (anonymise checks again under its lock) */
	now = rgpd_read_subjects(sub, ids, n, RGPD_READ_MISSING_OK, (Datum) 0);
	for (i = 0; i < n; i++)
	{
		while (k < now->n && now->ids[k] < ids[i])
			k++;
		if (k >= now->n || now->ids[k] != ids[i])
			missing[nmissing++] = ids[i];
		else if (now->status[k] == RGPD_STATUS_ANONYMISED)
			continue;
		else if (forget[i])
			forgotten[nforgotten++] = ids[i];
		else
			anonymised[nanonymised++] = ids[i];
	}
	if (nmissing > 0)
		ereport(NOTICE,
				(errmsg("%d row(s) of table %s in the erasure log do not exist here: skipped (%s = %s)",
						nmissing, sub->relname, quote_identifier(sub->key_column),
						rgpd_format_ids(missing, nmissing))));

	if (nforgotten > 0)
		done += rgpd_anonymise_ids(relid, forgotten, nforgotten, "replay", "forget", 0);
	if (nanonymised > 0)
		done += rgpd_anonymise_ids(relid, anonymised, nanonymised, "replay", "anonymise", 0);
	return done;
}

/*
 * Replay a set of erasures (under SPI).  Returns the number of subjects
 * erased.
 */
static int64
replay_entries(ReplayEntry *entries, int n)
{
	int64		total = 0;
	int			first = 0;
	int			nest = rgpd_pin_search_path();

	/* a replayed erasure needs no recent export: it was decided before */
	(void) set_config_option("rgpd.require_export", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	if (n > 1)
		qsort(entries, n, sizeof(ReplayEntry), entry_cmp);
	while (first < n)
	{
		int			last = first + 1;

		while (last < n && strcmp(entries[last].name, entries[first].name) == 0)
			last++;
		total += replay_table(entries, first, last);
		first = last;
	}
	rgpd_unpin_search_path(nest);
	return total;
}

/*
 * rgpd.replay_erasures(since timestamptz): the anonymisations, forgets and
 * earlier replays journaled here since a time, replayed on the subjects
 * not anonymised now (called by rgpd_replay_erasures(), anonymise.c).
 */
int64
rgpd_replay_journal(Datum since)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	ReplayEntry *entries;
	int			n;
	int			i;
	int64		total;

	rgpd_require_manager("replay erasures");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");

	values[0] = since;
	rgpd_execute("SELECT j.subject::pg_catalog.oid, j.subject_id,"
				 "       pg_catalog.bool_or(j.action OPERATOR(pg_catalog.=) 'forget'"
				 "           OR (j.action OPERATOR(pg_catalog.=) 'replay'"
				 "               AND (j.detail OPERATOR(pg_catalog.->>) 'reason') OPERATOR(pg_catalog.=) 'forget'))"
				 "  FROM rgpd.journal AS j"
				 " WHERE j.action OPERATOR(pg_catalog.=) ANY (ARRAY['anonymise', 'forget', 'replay'])"
				 "   AND j.at OPERATOR(pg_catalog.>=) $1 AND j.subject_id IS NOT NULL"
				 "   AND EXISTS (SELECT 1 FROM rgpd.subjects AS s WHERE s.subject OPERATOR(pg_catalog.=) j.subject)"
				 " GROUP BY 1, 2",
				 1, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	n = (int) SPI_processed;
	entries = palloc(sizeof(ReplayEntry) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		entries[i].relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		/* grouped by OID: any name that sorts them by table will do */
		entries[i].name = psprintf("%u", entries[i].relid);
		entries[i].id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		entries[i].forget = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);

	total = replay_entries(entries, n);
	SPI_finish();
	return total;
}

/*
 * rgpd.replay_erasures(log jsonb): managers.  The whole log is validated
 * first (rgpd._erasure_log_entries()), so that a malformed one changes
 * nothing; then each subject table it names is replayed.  Returns the
 * number of subjects erased.
 */
Datum
rgpd_replay_erasure_log(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		values[1];
	ReplayEntry *entries;
	int			n;
	int			i;
	int64		total;

	rgpd_require_manager("replay erasures");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");

	/*
	 * As the extension's owner: resolving the names of the log must not
	 * depend on the manager's rights on schemas (the erasure itself runs
	 * as each table's owner).
	 */
	values[0] = PG_GETARG_DATUM(0);
	rgpd_execute("SELECT e.subject_name, e.subject::pg_catalog.oid, e.id, e.forget"
				 "  FROM rgpd._erasure_log_entries($1) AS e",
				 1, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	n = (int) SPI_processed;
	entries = palloc(sizeof(ReplayEntry) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		relid;

		entries[i].name = SPI_getvalue(tup, desc, 1);
		relid = SPI_getbinval(tup, desc, 2, &isnull);
		entries[i].relid = isnull ? InvalidOid : DatumGetObjectId(relid);
		entries[i].id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		entries[i].forget = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);

	total = replay_entries(entries, n);
	SPI_finish();
	PG_RETURN_INT64(total);
}
