/*-------------------------------------------------------------------------
 *
 * scan.c
 *	  The reads behind rgpd.scan(): where do a person's values appear, in
 *	  every readable text column of the database?
 *
 *	  rgpd.scan() reads tables the caller did not name, owned by any
 *	  tenant of the database.  It must not run their row-level security
 *	  policies with a manager's rights, so each count runs through the gate
 *	  (owner_code.c):
 *	    - where row security does not restrict the caller, as the table's
 *	      owner (the caller holds SELECT on the column: the count is what
 *	      the caller could compute itself);
 *	    - where the only policies are pericles_rgpd's restricted archive,
 *	      as the owner, leaving archived rows out unless the caller is a
 *	      manager — what those policies would let the caller see;
 *	    - where the table's owner has policies of its own: as the caller
 *	      for an ordinary role (its own rights, as when it reads the
 *	      table); a privileged caller does not run them, and the table is
 *	      reported as not searched (a NOTICE names it).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_count_matches);
PG_FUNCTION_INFO_V1(rgpd_personal_values);

/* Policies on the table: how many, and whether some are not pericles_rgpd's. */
static void
count_policies(Oid relid, int64 *all, bool *foreign)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	bool		isnull;

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy AS p"
							  " WHERE p.polrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read pg_policy");
	*all = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*foreign = rgpd_foreign_policies(relid);
}

typedef struct CountArgs
{
	char	   *sql;
	Datum		needles;
	Oid			role;
	int			flags;
} CountArgs;

static void
count_fetch(void *arg)
{
	CountArgs  *a = (CountArgs *) arg;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1];

	values[0] = a->needles;
	rgpd_gate_execute(NULL, a->sql, 1, argtypes, values, NULL, a->role, a->flags, 1);
}

/*
 * rgpd._count_matches(tbl regclass, col name, needles text[]) RETURNS
 * bigint: rows of tbl whose column col contains one of the needles
 * (lower-case substrings), as the caller may see them; NULL when the table
 * was not searched.  The caller must hold SELECT on the column.
 */
Datum
rgpd_count_matches(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *col = NameStr(*PG_GETARG_NAME(1));
	Datum		needles = PG_GETARG_DATUM(2);
	AttrNumber	attnum = get_attnum(relid, col);
	CountArgs	a;
	Oid			role = InvalidOid;
	int			flags = 0;
	const char *filter = "";
	bool		isnull;
	int64		count;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table %s does not exist", col, rgpd_relname(relid))));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_COLUMN, col);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	if (check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED)
	{
		role = rgpd_rel_owner(relid);
		flags = RGPD_GATE_NOFORCE_RLS;
	}
	else
	{
		int64		all;
		bool		foreign;

		count_policies(relid, &all, &foreign);
		if (all == 0)
		{
			/* row security with no policy: the caller sees no row */
			SPI_finish();
			PG_RETURN_INT64(0);
		}
		if (!foreign && get_attnum(relid, "rgpd_status") != InvalidAttrNumber)
		{
			/* pericles_rgpd's restricted archive alone: what it lets the caller see */
			role = rgpd_rel_owner(relid);
			flags = RGPD_GATE_NOFORCE_RLS;
			if (!rgpd_is_manager())
				filter = " AND t.rgpd_status OPERATOR(pg_catalog.<>) 'archived'::rgpd.status";
		}
		else if (rgpd_caller_privileged() || !rgpd_caller_trusts(relid))
		{
			/*
			 * The owner's own policies: a privileged caller never runs them,
			 * an ordinary one only for owners it trusts.
			 */
			ereport(NOTICE,
					(errmsg("table %s was not searched: its row-level security policies are code of role \"%s\"",
							rgpd_relname(relid), GetUserNameFromId(rgpd_rel_owner(relid), false)),
					 errhint("Its owner can run rgpd.scan() on it%s.",
							 rgpd_caller_privileged() ? "" : ", or a superuser can make you trust it (rgpd.trusted_owners)")));
			SPI_finish();
			PG_RETURN_NULL();
		}
	}

	a.sql = psprintf("SELECT pg_catalog.count(*) FROM %s AS t"
					 " WHERE EXISTS (SELECT 1 FROM pg_catalog.unnest($1) AS v(v)"
					 "  WHERE pg_catalog.strpos(pg_catalog.lower(CAST(t.%s AS pg_catalog.text)), v.v)"
					 "        OPERATOR(pg_catalog.>) 0)%s",
					 rgpd_relname(relid), quote_identifier(col), filter);
	a.needles = needles;
	a.role = role;
	a.flags = flags;
	/* one table that fails does not stop the scan of the others */
	if (rgpd_isolated(count_fetch, &a, relid, "rgpd.scan()") != NULL)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(count);
}

/*
 * rgpd._personal_values(subject regclass, id bigint) RETURNS text[]: the
 * values a subject's personal columns hold now, for a caller who may read
 * those columns and that row; read as the owner.
 */
Datum
rgpd_personal_values(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		id = PG_GETARG_INT64(1);
	RgpdSubject *sub;
	Oid			argtypes[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[1];
	bool		isnull = true;
	Datum		result = (Datum) 0;
	int64		visible = id;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	if (!rgpd_caller_reads(relid, sub->key_column) ||
		rgpd_caller_visible(sub, &visible, 1, RGPD_SEE_NAMED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("table %s has no row with %s = " INT64_FORMAT,
						sub->relname, quote_identifier(sub->key_column), id)));

	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT pg_catalog.string_agg(pg_catalog.format('CAST(x.%I AS pg_catalog.text)', p), ', '),"
							  "       pg_catalog.bool_and(pg_catalog.has_column_privilege(s.subject, p, 'SELECT'))"
							  "  FROM rgpd.subjects AS s, pg_catalog.unnest(s.personal_columns) AS p"
							  " WHERE s.subject OPERATOR(pg_catalog.=) $1",
							  1, (Oid[]) {OIDOID}, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read rgpd.subjects");
	{
		char	   *cols = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *readable = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (cols == NULL)
		{
			SPI_finish();
			PG_RETURN_NULL();
		}
		if (strcmp(readable, "t") != 0)
			rgpd_caller_reads_all(relid, "read the personal columns");
		values[0] = Int64GetDatum(id);
		rgpd_execute(psprintf("SELECT ARRAY[%s] FROM %s AS x WHERE x.%s OPERATOR(pg_catalog.=) $1",
							  cols, sub->relname, quote_identifier(sub->key_column)),
					 1, argtypes, values, NULL, sub->owner, false, 1);
	}
	if (SPI_processed == 1)
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
