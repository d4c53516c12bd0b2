/*-------------------------------------------------------------------------
 *
 * registration.c
 *	  The parts of registration that touch the application's tables, run
 *	  through the gate (owner_code.c) as their owner: evaluating a CHECK
 *	  constraint against the value an erasure method would write, and
 *	  marking the rows of a link registered with archive_with_subject.
 *
 *	  Registration itself is PL/pgSQL run with the caller's rights (so that
 *	  PostgreSQL checks the DDL it issues); a superuser who registers a
 *	  tenant's table must not run the tenant's constraints or triggers as
 *	  superuser.  Each function here builds its own statement from the
 *	  catalogs and the configuration: no statement text is taken from the
 *	  caller.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_check_accepts);
PG_FUNCTION_INFO_V1(rgpd_mark_link_rows);
PG_FUNCTION_INFO_V1(rgpd_count_infinite_dates);

/*
 * rgpd._check_accepts(tbl regclass, col name, conname name, sample text)
 * RETURNS boolean: does CHECK constraint conname of tbl accept a row whose
 * column col holds sample (cast to the column's type) and every other
 * column NULL?  Evaluated as the owner of tbl.
 */
Datum
rgpd_check_accepts(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *col;
	char	   *conname;
	Oid			owner;
	Oid			argtypes[2] = {OIDOID, NAMEOID};
	Datum		values[2];
	char	   *expr;
	char	   *cols;
	bool		isnull = true;
	Datum		result = (Datum) 0;

	/* not STRICT (the sample may be NULL), so the other arguments are checked */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rgpd._check_accepts needs a table, a column and a constraint name"),
				 errdetail("Only the sample value may be NULL.")));
	relid = PG_GETARG_OID(0);
	col = NameStr(*PG_GETARG_NAME(1));
	conname = NameStr(*PG_GETARG_NAME(2));
	owner = rgpd_require_owner_rights(relid);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	values[0] = ObjectIdGetDatum(relid);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(conname));
	if (SPI_execute_with_args("SELECT pg_catalog.pg_get_expr(c.conbin, c.conrelid)"
							  "  FROM pg_catalog.pg_constraint AS c"
							  " WHERE c.conrelid OPERATOR(pg_catalog.=) $1"
							  "   AND c.conname OPERATOR(pg_catalog.=) $2"
							  "   AND c.contype OPERATOR(pg_catalog.=) 'c'",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("check constraint \"%s\" of table %s does not exist",
						conname, rgpd_relname(relid))));
	expr = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	/* every column as NULL of its type, but col as $1 */
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(col));
	if (SPI_execute_with_args("SELECT pg_catalog.string_agg(CASE WHEN a.attname OPERATOR(pg_catalog.=) $2"
							  "   THEN pg_catalog.format('CAST($1 AS %s) AS %I',"
							  "        pg_catalog.format_type(a.atttypid, a.atttypmod), a.attname)"
							  "   ELSE pg_catalog.format('CAST(NULL AS %s) AS %I',"
							  "        pg_catalog.format_type(a.atttypid, a.atttypmod), a.attname) END,"
							  "   ', ' ORDER BY a.attnum)"
							  "  FROM pg_catalog.pg_attribute AS a"
							  " WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0"
							  "   AND NOT a.attisdropped",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "pericles_rgpd: could not read the columns of %s", rgpd_relname(relid));
	cols = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	argtypes[0] = TEXTOID;
	values[0] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	rgpd_execute(psprintf("SELECT (%s) IS NOT FALSE FROM (SELECT %s) AS t", expr, cols),
				 1, argtypes, values, PG_ARGISNULL(3) ? "n" : NULL, owner, false, 1);
	if (SPI_processed == 1)
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * rgpd._mark_link_rows(link regclass, subject regclass) RETURNS bigint: a
 * link just registered with archive_with_subject marks its rows whose
 * subjects are all archived or anonymised; returns how many.
 */
Datum
rgpd_mark_link_rows(PG_FUNCTION_ARGS)
{
	Oid			link = PG_GETARG_OID(0);
	Oid			subject = PG_GETARG_OID(1);
	RgpdSubject *sub;
	int64	   *ids;
	int			n;
	int64		marked;

	(void) rgpd_require_owner_rights(link);
	(void) rgpd_require_owner_rights(subject);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(subject, false);
	rgpd_execute(psprintf("SELECT CAST(s.%s AS pg_catalog.int8) FROM %s AS s"
						  " WHERE s.rgpd_status OPERATOR(pg_catalog.<>) 'active'::rgpd.status ORDER BY 1",
						  quote_identifier(sub->key_column), sub->relname),
				 0, NULL, NULL, NULL, sub->owner, false, 0);
	ids = rgpd_spi_int64_column(&n);
	marked = rgpd_mark_links(sub, ids, n, true);
	SPI_finish();
	PG_RETURN_INT64(marked);
}

/*
 * rgpd._count_infinite_dates(link regclass, subject_columns name[],
 * date_columns name[]) RETURNS bigint: rows of link that point at a
 * subject and hold 'infinity' or '-infinity' in a date column, counted as
 * the owner of link.  The link trigger refuses such rows (22008);
 * registration refuses a link that already holds some.
 */
Datum
rgpd_count_infinite_dates(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ArrayType  *subjects = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *dates = PG_GETARG_ARRAYTYPE_P(2);
	Oid			owner = rgpd_require_owner_rights(relid);
	Datum	   *names;
	bool	   *nulls;
	int			n;
	int			i;
	StringInfoData sql;
	bool		isnull;
	int64		count;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pg_catalog.count(*) FROM %s AS l WHERE (",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	deconstruct_array(subjects, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &names, &nulls, &n);
	for (i = 0; i < n; i++)
		appendStringInfo(&sql, "%sl.%s IS NOT NULL", i > 0 ? " OR " : "",
						 quote_identifier(NameStr(*DatumGetName(names[i]))));
	if (n == 0)
		appendStringInfoString(&sql, "false");
	appendStringInfoString(&sql, ") AND (");
	deconstruct_array(dates, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &names, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		const char *col = quote_identifier(NameStr(*DatumGetName(names[i])));

		/* the bound in UTC, as the link trigger compares (transition_rows.c) */
		appendStringInfo(&sql, "%sNOT (pg_catalog.isfinite(l.%s) AND l.%s OPERATOR(pg_catalog.<)"
						 " CAST('10000-01-01 00:00:00+00' AS %s))",
						 i > 0 ? " OR " : "", col, col,
						 format_type_be(get_atttype(relid, get_attnum(relid, NameStr(*DatumGetName(names[i]))))));
	}
	if (n == 0)
		appendStringInfoString(&sql, "false");
	appendStringInfoChar(&sql, ')');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_gate_execute(NULL, sql.data, 0, NULL, NULL, NULL, owner,
					  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_READ_ONLY, 1);
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(count);
}
