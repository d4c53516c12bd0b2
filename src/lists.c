/*-------------------------------------------------------------------------
 *
 * lists.c
 *	  What falls due, and the checks on one table, computed as the table's
 *	  owner: rgpd._due() (behind rgpd.pending(), the pending views and
 *	  rgpd.dashboard()), rgpd._status_counts(), rgpd.verify() and
 *	  rgpd.is_excluded().
 *
 *	  Policy and exclusion predicates are the table owner's code: they run
 *	  through the gate (owner_code.c) as the owner, never as whoever reads
 *	  the list.  What comes back is cut down to what the reader may see
 *	  (caller_rights.c).  A table that fails — dropped from under its
 *	  registration, broken by its owner, or with a predicate that errors —
 *	  is skipped with a WARNING, and the other tables are listed.
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
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "utils/rls.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_due);
PG_FUNCTION_INFO_V1(rgpd_status_counts);
PG_FUNCTION_INFO_V1(rgpd_verify);
PG_FUNCTION_INFO_V1(rgpd_is_excluded);

/* How far from today an as_of date may be: lists must always answer. */
#define AS_OF_MAX_YEARS 200

/*
 * Refuse an as_of date that is infinite or absurdly far from today
 * (22008): the cut-off dates are computed from it with periods of up to a
 * century, and must stay dates.
 */
void
rgpd_check_as_of(DateADT as_of)
{
	DateADT		today = GetSQLCurrentDate();

	if (DATE_NOT_FINITE(as_of) ||
		as_of < today - AS_OF_MAX_YEARS * 366 ||
		as_of > today + AS_OF_MAX_YEARS * 366)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				 errmsg("as_of date %s is out of range",
						DatumGetCString(DirectFunctionCall1(date_out,
															DateADTGetDatum(as_of)))),
				 errdetail("as_of must be a finite date within %d years of today.",
						   AS_OF_MAX_YEARS),
				 errhint("Pass the day of the month to list, such as CURRENT_DATE.")));
}

/*
 * The registered negotiator column of a subject table, or NULL (under SPI).
 */
static char *
negotiator_column(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT s.negotiator_column FROM rgpd.subjects AS s"
							  " WHERE s.subject OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return NULL;
}

/*
 * May the caller read this column of the table (SELECT on the table or on
 * the column)?  A list gives no value of a column the caller may not read,
 * and takes no portfolio on it: the filter would be an oracle on its
 * values (review finding).
 */
static bool
caller_reads_column(Oid relid, const char *column)
{
	return column != NULL && rgpd_caller_reads(relid, column);
}

/* ---- rgpd._due() ---- */

typedef struct DueArgs
{
	Oid			relid;
	RgpdAction	action;
	DateADT		as_of;
	const char *negotiator;		/* one portfolio, or NULL: all */
	RgpdSubject *sub;
} DueArgs;

/*
 * Run the due query of one table as its owner (isolated by the caller).
 * A portfolio is a filter on the query's negotiator column, which the
 * planner pushes down to the table (an index on the negotiator column,
 * or on its text, serves it).
 */
static void
due_fetch(void *arg)
{
	DueArgs    *a = (DueArgs *) arg;
	Oid			argtypes[2] = {DATEOID, TEXTOID};
	Datum		values[2];
	char	   *sql;

	a->sub = rgpd_subject(a->relid, false);
	values[0] = DateADTGetDatum(a->as_of);
	sql = rgpd_statement_sql(a->sub, a->action == RGPD_ACTION_ARCHIVE
							 ? RGPD_STMT_DUE_ARCHIVE : RGPD_STMT_DUE_ANONYMISE);
	if (a->negotiator)
	{
		values[1] = CStringGetTextDatum(a->negotiator);
		sql = psprintf("SELECT q.* FROM (%s) AS q WHERE q.negotiator OPERATOR(pg_catalog.=) $2", sql);
	}
	rgpd_execute(sql, a->negotiator ? 2 : 1, argtypes, values, NULL, a->sub->owner, false, 0);
}

static int
cmp_int64_key(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * rgpd._due(subject regclass, action text, as_of date, negotiator text
 *           DEFAULT NULL)
 *   RETURNS TABLE (subject regclass, id bigint, last_contact date,
 *                  due_on date, policy text, excluded boolean,
 *                  negotiator text)
 * The rows of one subject table due for 'archive' or 'anonymise' by the
 * end of the month of as_of (excluded ones flagged), with the negotiator
 * of each (NULL when the table registered none), as the caller may see
 * them; with a negotiator, that portfolio only.  The list to anonymise is
 * for managers only.
 */
Datum
rgpd_due(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DueArgs		a = {0};
	SPITupleTable *tuptable;
	uint64		nrows,
				i;
	int64	   *ids;
	int			nvisible;
	bool		reads_contact;
	bool		reads_negotiator;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject, action and as_of must not be NULL")));
	a.relid = PG_GETARG_OID(0);
	a.action = rgpd_action_of_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	a.as_of = PG_GETARG_DATEADT(2);
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		a.negotiator = text_to_cstring(PG_GETARG_TEXT_PP(3));
	rgpd_check_as_of(a.as_of);

	/* the list to anonymise is shown only to personal-data managers */
	if (a.action == RGPD_ACTION_ANONYMISE && !rgpd_is_manager())
		return (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	if (!rgpd_caller_reads_subject(a.relid))
	{
		SPI_finish();
		return (Datum) 0;
	}
	reads_contact = caller_reads_column(a.relid, "last_contact");
	reads_negotiator = caller_reads_column(a.relid, negotiator_column(a.relid));
	if ((a.negotiator && !reads_negotiator) ||
		rgpd_isolated(due_fetch, &a, a.relid,
					  a.action == RGPD_ACTION_ARCHIVE ?
					  "the list to archive" : "the list to anonymise") != NULL)
	{
		SPI_finish();
		return (Datum) 0;
	}

	/* the due rows, then those the caller may see */
	tuptable = SPI_tuptable;
	nrows = SPI_processed;
	ids = palloc(sizeof(int64) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull));
	}
	qsort(ids, nrows, sizeof(int64), cmp_int64_key);
	nvisible = rgpd_caller_visible(a.sub, ids, (int) nrows, 0);

	for (i = 0; i < nrows; i++)
	{
		Datum		values[7];
		bool		nulls[7];
		int			c;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull));

		if (nvisible < (int) nrows &&
			bsearch(&id, ids, nvisible, sizeof(int64), cmp_int64_key) == NULL)
			continue;
		for (c = 0; c < 7; c++)
			values[c] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, c + 1, &nulls[c]);
		/* last_contact and the due date computed from it; the negotiator */
		if (!reads_contact)
			nulls[2] = nulls[3] = true;
		if (!reads_negotiator)
			nulls[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/* ---- rgpd._status_counts() ---- */

typedef struct CountArgs
{
	Oid			relid;
	const char *negotiator;		/* one portfolio, or NULL: all */
	bool		as_caller;		/* count what the caller's row security shows */
	RgpdSubject *sub;
} CountArgs;

static void
status_fetch(void *arg)
{
	CountArgs  *a = (CountArgs *) arg;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char	   *portfolio = "";

	a->sub = rgpd_subject(a->relid, false);
	values[0] = ObjectIdGetDatum(a->relid);	/* $1: unused by the counts */
	if (a->negotiator)
	{
		char	   *column = negotiator_column(a->relid);

		/* no negotiator column: no portfolio holds anything */
		portfolio = column == NULL ? " AND false" :
			psprintf(" AND CAST(s.%s AS pg_catalog.text) OPERATOR(pg_catalog.=) $2",
					 quote_identifier(column));
		values[1] = CStringGetTextDatum(a->negotiator);
	}

	/*
	 * Managers, those who pass row security and those on whom it is not in
	 * force count every row (as the owner, RLS not forced); anybody else
	 * counts the rows its own row security shows it, as count(*) would
	 * (review finding: the count of anonymised rows went past the
	 * application's policies).
	 */
	if (a->as_caller)
	{
		rgpd_gate_execute(NULL, psprintf("SELECT NULL::pg_catalog.int8,"
										 "       pg_catalog.count(*)"
										 "  FROM %s AS s WHERE s.rgpd_status OPERATOR(pg_catalog.=) %s%s",
										 a->sub->relname, "'anonymised'::rgpd.status", portfolio),
						  a->negotiator ? 2 : 0, argtypes, values, NULL, GetUserId(), 0, 1);
		return;
	}
	rgpd_execute(psprintf("SELECT pg_catalog.count(*) FILTER (WHERE s.rgpd_status OPERATOR(pg_catalog.=) %s),"
						  "       pg_catalog.count(*) FILTER (WHERE s.rgpd_status OPERATOR(pg_catalog.=) %s)"
						  "  FROM %s AS s WHERE s.rgpd_status OPERATOR(pg_catalog.<>) %s%s",
						  "'archived'::rgpd.status", "'anonymised'::rgpd.status",
						  a->sub->relname, "'active'::rgpd.status", portfolio),
				 a->negotiator ? 2 : 0, argtypes, values, NULL, a->sub->owner, false, 1);
}

/*
 * rgpd._status_counts(subject regclass, negotiator text DEFAULT NULL,
 * OUT archived bigint, OUT anonymised bigint): how many rows of the table
 * (of one negotiator's portfolio) are archived (for managers only) and
 * anonymised, for those who may read the table (else NULLs).
 */
Datum
rgpd_status_counts(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {true, true};
	CountArgs	a = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "pericles_rgpd: _status_counts must return a record");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a.relid = PG_GETARG_OID(0);
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		a.negotiator = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	a.as_caller = !rgpd_caller_privileged() &&
		check_enable_rls(a.relid, InvalidOid, true) == RLS_ENABLED;

	/*
	 * Counted as the caller, the table's policies run with its rights: only
	 * where rgpd_caller_visible() would run them (its own table, or an owner
	 * it trusts); else the count is left out (NULL), as the due lists leave
	 * out the rows, rather than run another role's code as the caller.
	 */
	if (rgpd_caller_reads_subject(a.relid) &&
		(a.negotiator == NULL || caller_reads_column(a.relid, negotiator_column(a.relid))) &&
		(!a.as_caller || (caller_reads_column(a.relid, "rgpd_status") &&
						  (!rgpd_foreign_policies(a.relid) || rgpd_caller_trusts(a.relid)))) &&
		rgpd_isolated(status_fetch, &a, a.relid, "the dashboard") == NULL &&
		SPI_processed == 1)
	{
		/* how many are archived is for managers only */
		if (rgpd_is_manager())
			values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &nulls[0]);
		values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &nulls[1]);
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* ---- rgpd.verify() ---- */

/*
 * rgpd.verify(subject regclass) RETURNS TABLE (id bigint, stored date,
 * expected date): rows whose stored last_contact differs from a full
 * recomputation.  Computed as the owner over every row, archived ones
 * included; the owner of the table and managers get every difference,
 * other readers those of the rows they may see.
 */
Datum
rgpd_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	RgpdSubject *sub;
	SPITupleTable *tuptable;
	uint64		nrows,
				i;
	int64	   *ids;
	int			nvisible;
	bool		all;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	all = pg_class_ownercheck(relid, GetUserId()) ||
		(rgpd_caller_privileged() && rgpd_caller_reads(relid, sub->key_column));
	if (!all && !rgpd_caller_reads(relid, sub->key_column))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to verify table %s", sub->relname),
				 errhint("Verifying needs SELECT on the table; its owner and personal-data managers see every row.")));

	rgpd_execute(rgpd_statement_sql(sub, RGPD_STMT_VERIFY),
				 0, NULL, NULL, NULL, sub->owner, false, 0);
	tuptable = SPI_tuptable;
	nrows = SPI_processed;
	ids = palloc(sizeof(int64) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
	}
	qsort(ids, nrows, sizeof(int64), cmp_int64_key);
	nvisible = all ? (int) nrows : rgpd_caller_visible(sub, ids, (int) nrows, RGPD_SEE_NAMED);

	for (i = 0; i < nrows; i++)
	{
		Datum		values[3];
		bool		nulls[3];
		int			c;

		for (c = 0; c < 3; c++)
			values[c] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, c + 1, &nulls[c]);
		if (nvisible < (int) nrows &&
			bsearch(&values[0], ids, nvisible, sizeof(int64), cmp_int64_key) == NULL)
			continue;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/* ---- rgpd.is_excluded() ---- */

/*
 * rgpd.is_excluded(subject regclass, id bigint) RETURNS boolean: is the
 * subject out of the engine (a linked row matching its link's
 * excludes_when references it)?  The predicates run as the owner; a row
 * the caller may not see is unknown (NULL).
 */
Datum
rgpd_is_excluded(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		id = PG_GETARG_INT64(1);
	RgpdSubject *sub;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull = true;
	Datum		result = (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	if (rgpd_caller_reads(relid, sub->key_column) &&
		rgpd_caller_visible(sub, &id, 1, RGPD_SEE_NAMED) == 1)
	{
		values[0] = Int64GetDatum(id);
		rgpd_execute(rgpd_statement_sql(sub, RGPD_STMT_IS_EXCLUDED),
					 1, argtypes, values, NULL, sub->owner, false, 1);
		if (SPI_processed == 1)
			result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	}
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
