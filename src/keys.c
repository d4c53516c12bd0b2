/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  Arrays of bigint keys: the ids an action is about, sorted, without
 *	  duplicates, passed to statements as int8[] and shown in messages.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "pericles_rgpd.h"

/* ---- arrays of bigint keys ---- */

ArrayType *
rgpd_int8_array(int64 *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(values[i]);
	return construct_array(elems, n, INT8OID, sizeof(int64),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * The first column (bigint) of the rows SPI returned, as an array; the
 * tuple table is freed.
 */
int64 *
rgpd_spi_int64_column(int *n)
{
	int64	   *values = palloc(sizeof(int64) * Max(SPI_processed, 1));
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		values[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												SPI_tuptable->tupdesc, 1, &isnull));
	}
	*n = (int) SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	return values;
}

int64 *
rgpd_array_to_int64(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int64	   *result;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("ids must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, n);
	result = palloc(sizeof(int64) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("ids must not contain NULL")));
		result[i] = DatumGetInt64(elems[i]);
	}
	return result;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Sort and remove duplicates in place; returns the new length. */
int
rgpd_sort_unique_int64(int64 *values, int n)
{
	int			i,
				j;

	if (n <= 1)
		return n;
	qsort(values, n, sizeof(int64), cmp_int64);
	for (i = 1, j = 1; i < n; i++)
		if (values[i] != values[j - 1])
			values[j++] = values[i];
	return j;
}

/* "1, 2, 3" (at most ten, then "…"), for messages. */
const char *
rgpd_format_ids(int64 *ids, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n && i < 10; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i ? ", " : "", ids[i]);
	if (n > 10)
		appendStringInfo(&buf, ", … (%d in all)", n);
	return buf.data;
}
