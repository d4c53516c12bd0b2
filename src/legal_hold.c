/*-------------------------------------------------------------------------
 *
 * legal_hold.c
 *	  Legal holds (GDPR art. 17(3)(e)): rgpd.hold() and rgpd.release(),
 *	  managers only, journaled, and the checks that keep a held subject
 *	  from the sweep (left out of its due lists), from rgpd.anonymise and
 *	  rgpd.forget (refused, 55000) and from per-link purges (retention.c).
 *
 *	  A hold with an end date is in force through that day and lapses by
 *	  itself after it (rgpd._hold_in_force): no job has to remove it.
 *
 *	  Concurrency.  rgpd.hold() locks the subject row FOR UPDATE before it
 *	  writes, as an erasure does: a hold committed while a forget runs
 *	  either took the row first (the forget waits, then reads the hold
 *	  under its next statement's snapshot and refuses) or comes second
 *	  (it waits for the forget, finds the subject anonymised and refuses:
 *	  there is nothing left to hold).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "miscadmin.h"
#include "utils/datetime.h"

#include "journal.h"
#include "pericles_rgpd.h"
#include "subject_rows.h"

PG_FUNCTION_INFO_V1(rgpd_hold);
PG_FUNCTION_INFO_V1(rgpd_release);
PG_FUNCTION_INFO_V1(rgpd_held_ids);

/* Holds in force today among ids (sorted): (id, reason, until, by). */
static uint64
holds_in_force(RgpdSubject *sub, int64 *ids, int n)
{
	Oid			argtypes[2] = {REGCLASSOID, INT8ARRAYOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(sub->relid);
	values[1] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute("SELECT h.subject_id, h.reason,"
				 "       COALESCE(pg_catalog.to_char(h.until, 'YYYY-MM-DD'), 'released'),"
				 "       CAST(h.held_by AS pg_catalog.text), pg_catalog.to_char(h.held_at, 'YYYY-MM-DD')"
				 "  FROM rgpd.holds AS h"
				 " WHERE h.subject OPERATOR(pg_catalog.=) $1"
				 "   AND h.subject_id OPERATOR(pg_catalog.=) ANY ($2)"
				 "   AND rgpd._hold_in_force(h.until, CURRENT_DATE)"
				 " ORDER BY 1",
				 2, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	return SPI_processed;
}

/*
 * The subjects among ids (sorted, unique) that no hold in force keeps: a
 * refusal naming the first hold when `refuse`, else the held ones are
 * taken out of ids.  Returns the new count.
 */
int
rgpd_check_holds(RgpdSubject *sub, int64 *ids, int n, const char *action, bool refuse)
{
	uint64		nheld,
				r;
	int			i,
				j = 0;
	int64	   *held;

	if (n == 0)
		return 0;
	nheld = holds_in_force(sub, ids, n);
	if (nheld == 0)
		return n;
	if (refuse)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row %s of table %s is under legal hold; cannot %s it",
						SPI_getvalue(tup, desc, 1), sub->relname, action),
				 errdetail("Held by %s since %s, until %s: %s",
						   SPI_getvalue(tup, desc, 4), SPI_getvalue(tup, desc, 5),
						   SPI_getvalue(tup, desc, 3), SPI_getvalue(tup, desc, 2)),
				 errhint("A manager can lift it with rgpd.release(%s, %s, reason).",
						 quote_literal_cstr(sub->relname), SPI_getvalue(tup, desc, 1))));
	}
	held = palloc(sizeof(int64) * nheld);
	for (r = 0; r < nheld; r++)
	{
		bool		isnull;

		held[r] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	r = 0;
	for (i = 0; i < n; i++)
	{
		while (r < nheld && held[r] < ids[i])
			r++;
		if (r < nheld && held[r] == ids[i])
			continue;
		ids[j++] = ids[i];
	}
	return j;
}

/* A date as YYYY-MM-DD, whatever the session's DateStyle (for the journal). */
char *
rgpd_iso_date(DateADT d)
{
	struct pg_tm tm;
	char		buf[MAXDATELEN + 1];

	j2date(d + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	EncodeDateOnly(&tm, USE_ISO_DATES, buf);
	return pstrdup(buf);
}

/* The reason argument: present, not empty, bounded. */
static char *
reason_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	char	   *reason;

	if (PG_ARGISNULL(argno) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(argno)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s needs a reason", what),
				 errhint("Name the matter, e.g. 'claim 2026/114, Paris commercial court'.")));
	reason = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	rgpd_check_text_length(reason, psprintf("reason of a %s", what));
	return reason;
}

/*
 * rgpd.hold(subject, id, reason, until DEFAULT NULL): put a subject under
 * legal hold (again: the reason and the end are replaced).  Managers only;
 * the subject must exist and not be anonymised.
 */
Datum
rgpd_hold(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *reason;
	RgpdSubject *sub;
	RgpdLocked *locked;
	Oid			argtypes[5] = {REGCLASSOID, INT8OID, TEXTOID, DATEOID, NAMEOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject and id must not be NULL")));
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	reason = reason_arg(fcinfo, 2, "legal hold");
	if (!PG_ARGISNULL(3) &&
		(DATE_NOT_FINITE(PG_GETARG_DATEADT(3)) || PG_GETARG_DATEADT(3) < GetSQLCurrentDate()))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a legal hold cannot end before today"),
				 errdetail("until is the last day the hold is in force: today or later."),
				 errhint("Leave until NULL for a hold that lasts until rgpd.release().")));
	rgpd_require_manager("place a legal hold");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	rgpd_require_reads(sub, "hold");
	nest = rgpd_pin_search_path();

	/* the subject row, locked as an erasure locks it (see the header) */
	locked = rgpd_read_subjects(sub, &id, 1, RGPD_READ_LOCK, (Datum) 0);
	if (locked->n == 1 && locked->status[0] == RGPD_STATUS_ANONYMISED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row " INT64_FORMAT " of table %s is already anonymised; there is nothing to hold",
						id, sub->relname),
				 errdetail("Rows kept for a statutory period are listed in rgpd.retained_rows.")));

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	values[2] = CStringGetTextDatum(reason);
	if (PG_ARGISNULL(3))
		nulls[3] = 'n';
	else
		values[3] = PG_GETARG_DATUM(3);
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	rgpd_execute("INSERT INTO rgpd.holds AS h (subject, subject_id, reason, until, held_by)"
				 " VALUES ($1, $2, $3, $4, $5)"
				 " ON CONFLICT ON CONSTRAINT holds_pkey DO UPDATE"
				 "   SET reason = EXCLUDED.reason, until = EXCLUDED.until,"
				 "       held_at = pg_catalog.now(), held_by = EXCLUDED.held_by",
				 5, argtypes, values, nulls, rgpd_extension_owner(), true, 0);
	rgpd_journal_rows("hold", relid, &id, 1, NULL,
				 PG_ARGISNULL(3) ? rgpd_jsonb_object(1, "reason", reason)
				 : rgpd_jsonb_object(2, "reason", reason,
									 "until", rgpd_iso_date(PG_GETARG_DATEADT(3))));
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * rgpd.release(subject, id, reason): lift a hold (in force or lapsed).
 * Managers only.  False, with a notice, when there was none.
 */
Datum
rgpd_release(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *reason;
	Oid			argtypes[2] = {REGCLASSOID, INT8OID};
	Datum		values[2];
	bool		found;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject and id must not be NULL")));
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	reason = reason_arg(fcinfo, 2, "release of a legal hold");
	rgpd_require_manager("release a legal hold");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	(void) rgpd_subject(relid, false);
	nest = rgpd_pin_search_path();
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	rgpd_execute("DELETE FROM rgpd.holds AS h WHERE h.subject OPERATOR(pg_catalog.=) $1"
				 " AND h.subject_id OPERATOR(pg_catalog.=) $2 RETURNING h.reason",
				 2, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	found = SPI_processed == 1;
	if (found)
		rgpd_journal_rows("release", relid, &id, 1, NULL,
					 rgpd_jsonb_object(2, "reason", reason, "held_for",
									   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)));
	else
		ereport(NOTICE,
				(errmsg("row " INT64_FORMAT " of table %s is not under legal hold", id,
						rgpd_relname(relid))));
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/*
 * rgpd._held_ids(subject regclass) RETURNS SETOF bigint: the subjects of a
 * table under a hold in force today, as the caller may know of them.  The
 * holds themselves are for managers only (rgpd.holds): a hold on an
 * archived person would tell an agent that the id exists, which every
 * other function answers as for a missing one (review finding).  So
 * managers get every held id; anybody else who may read the table, the
 * held ids of active rows it may see (status read as the owner, then cut
 * to what the caller sees, as the due lists are).
 */
Datum
rgpd_held_ids(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1];
	RgpdSubject *sub;
	int64	   *ids;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	if (!rgpd_caller_reads_subject(relid))
	{
		SPI_finish();
		return (Datum) 0;
	}
	sub = rgpd_subject(relid, false);
	values[0] = ObjectIdGetDatum(relid);
	rgpd_execute("SELECT h.subject_id FROM rgpd.holds AS h"
				 " WHERE h.subject OPERATOR(pg_catalog.=) $1"
				 "   AND rgpd._hold_in_force(h.until, CURRENT_DATE) ORDER BY 1",
				 1, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	ids = rgpd_spi_int64_column(&n);
	if (!rgpd_is_manager() && n > 0)
	{
		Datum		v[1];
		Oid			t[1] = {INT8ARRAYOID};

		v[0] = PointerGetDatum(rgpd_int8_array(ids, n));
		rgpd_execute(psprintf("SELECT CAST(s.%1$s AS pg_catalog.int8) FROM %2$s AS s"
							  " WHERE s.%1$s OPERATOR(pg_catalog.=) ANY ($1)"
							  "   AND s.rgpd_status OPERATOR(pg_catalog.=) 'active'::rgpd.status ORDER BY 1",
							  quote_identifier(sub->key_column), sub->relname),
					 1, t, v, NULL, sub->owner, false, 0);
		ids = rgpd_spi_int64_column(&n);
		n = rgpd_caller_visible(sub, ids, n, 0);
	}
	for (i = 0; i < n; i++)
	{
		Datum		d = Int64GetDatum(ids[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &d, &isnull);
	}
	SPI_finish();
	return (Datum) 0;
}
