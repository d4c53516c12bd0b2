/*-------------------------------------------------------------------------
 *
 * reconsent.c
 *	  rgpd.reconsent_candidates(): who to send the re-consent e-mail to —
 *	  the people due to be archived by the end of a month who have an
 *	  e-mail address and have not objected to e-mail.
 *
 *	  Built on the list to archive (rgpd._due(), src/lists.c): computed
 *	  as each table's owner (its predicates are the owner's code), then cut
 *	  down to the tables whose keys and e-mail column the caller may read
 *	  and to the rows it may see there.
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
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_reconsent_candidates);

typedef struct ReconsentArgs
{
	Oid			relid;
	DateADT		as_of;
	RgpdSubject *sub;
	bool		fetched;
} ReconsentArgs;

/*
 * The e-mail column of a registered table if the caller may read it and
 * the table's keys, else NULL.
 */
static char *
readable_email(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	char	   *key;
	char	   *email;
	AttrNumber	attno;

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT s.key_column, s.email_column FROM rgpd.subjects AS s"
							  " WHERE s.subject OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return NULL;
	key = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	email = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (email == NULL || !rgpd_caller_reads(relid, key))
		return NULL;
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return email;
	attno = get_attnum(relid, email);
	if (attno != InvalidAttrNumber &&
		pg_attribute_aclcheck(relid, attno, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return email;
	return NULL;
}

/* The candidates of one table, as its owner, in key order (isolated). */
static void
reconsent_fetch(void *arg)
{
	ReconsentArgs *a = (ReconsentArgs *) arg;
	Oid			argtypes[1] = {DATEOID};
	Datum		values[1];
	char	   *sql;

	a->sub = rgpd_subject(a->relid, false);
	sql = rgpd_statement_sql(a->sub, RGPD_STMT_RECONSENT);
	if (sql == NULL)
		return;					/* no e-mail column */
	values[0] = DateADTGetDatum(a->as_of);
	rgpd_execute(sql, 1, argtypes, values, NULL, a->sub->owner, false, 0);
	a->fetched = true;
}

/*
 * rgpd.reconsent_candidates(as_of date DEFAULT current_date)
 *   RETURNS TABLE (subject regclass, id bigint, email text, due_on date)
 * Active subjects due to be archived by the end of the month of as_of
 * (overdue included, excluded ones left out) with a non-empty e-mail
 * address and no do-not-e-mail objection, by table and key.
 */
Datum
rgpd_reconsent_candidates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DateADT		as_of;
	Oid		   *subjects;
	int			nsubjects;
	int			s;
	int			nest;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL"),
				 errhint("Pass the day of the month to list, such as CURRENT_DATE.")));
	as_of = PG_GETARG_DATEADT(0);
	rgpd_check_as_of(as_of);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	subjects = rgpd_registered_subjects(&nsubjects);
	for (s = 0; s < nsubjects; s++)
	{
		ReconsentArgs a = {0};
		SPITupleTable *tuptable;
		uint64		nrows,
					i;
		int64	   *ids;
		int			nvisible,
					k = 0;

		/* only the tables whose keys and addresses the caller may read */
		if (readable_email(subjects[s]) == NULL)
			continue;
		a.relid = subjects[s];
		a.as_of = as_of;
		/* a table that fails does not stop the list of the others */
		if (rgpd_isolated(reconsent_fetch, &a, a.relid, "the re-consent candidates") != NULL ||
			!a.fetched)
			continue;

		/* the rows come in key order: keep those the caller may see */
		tuptable = SPI_tuptable;
		nrows = SPI_processed;
		ids = palloc(sizeof(int64) * Max(nrows, 1));
		for (i = 0; i < nrows; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &isnull));
		}
		nvisible = rgpd_caller_visible(a.sub, ids, (int) nrows, 0);
		for (i = 0; i < nrows && k < nvisible; i++)
		{
			Datum		out[4];
			bool		nulls[4];
			int			c;

			for (c = 0; c < 4; c++)
				out[c] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, c + 1, &nulls[c]);
			if (DatumGetInt64(out[1]) != ids[k])
				continue;
			k++;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
		}
		SPI_freetuptable(tuptable);
	}
	rgpd_unpin_search_path(nest);
	SPI_finish();
	return (Datum) 0;
}
