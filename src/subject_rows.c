/*-------------------------------------------------------------------------
 *
 * subject_rows.c
 *	  The subject rows an action names: its id arguments, reading and
 *	  locking the rows (in key order, as the table's owner) with what the
 *	  caller may see of them, and the privilege checks on their table.
 *
 *	  Unknown ids are an error, and for a caller who may not see the
 *	  archive an archived row is as unknown as a missing one.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"

/* The ids of an id or ids argument, sorted and without duplicates. */
int64 *
rgpd_ids_arg(FunctionCallInfo fcinfo, int argno, int *n)
{
	int64	   *ids;

	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == INT8ARRAYOID)
		ids = rgpd_array_to_int64(PG_GETARG_ARRAYTYPE_P(argno), n);
	else
	{
		ids = palloc(sizeof(int64));
		ids[0] = PG_GETARG_INT64(argno);
		*n = 1;
	}
	*n = rgpd_sort_unique_int64(ids, *n);
	return ids;
}

/*
 * Read subject rows (in key order), as the owner of the table, and report
 * their state; with RGPD_READ_LOCK, lock them FOR UPDATE.  Unknown ids are
 * an error (P0002), unless RGPD_READ_MISSING_OK; with
 * RGPD_READ_HIDE_ARCHIVED, archived rows count as unknown, so that a
 * caller who may not see the archive cannot learn what it holds.
 */
RgpdLocked *
rgpd_read_subjects(RgpdSubject *sub, int64 *ids, int n, int flags, Datum at)
{
	Oid			argtypes[2] = {INT8ARRAYOID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	RgpdLocked *locked = palloc0(sizeof(RgpdLocked));
	int64	   *missing = palloc(sizeof(int64) * Max(n, 1));
	int			nmissing = 0;
	uint64		i;
	int			k = 0;
	char	   *sql;
	bool		for_update = (flags & RGPD_READ_LOCK) != 0;
	bool		hide_archived = (flags & RGPD_READ_HIDE_ARCHIVED) != 0;
	bool		missing_ok = (flags & RGPD_READ_MISSING_OK) != 0;

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	if (at)
		values[1] = at;
	else
		nulls[1] = 'n';
	sql = rgpd_statement_sql(sub, for_update ? RGPD_STMT_LOCK_STATUS : RGPD_STMT_PEEK_STATUS);
	rgpd_execute(sql, 2, argtypes, values, nulls, sub->owner, true, 0);

	locked->ids = palloc(sizeof(int64) * Max(SPI_processed, 1));
	locked->status = palloc(sizeof(RgpdStatus) * Max(SPI_processed, 1));
	locked->negotiator = palloc(sizeof(char *) * Max(SPI_processed, 1));
	locked->day = palloc(sizeof(DateADT) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		RgpdStatus	status = rgpd_status_of_label(SPI_getvalue(tup, desc, 2));
		Datum		day = SPI_getbinval(tup, desc, 4, &isnull);

		if (hide_archived && status == RGPD_STATUS_ARCHIVED)
			continue;
		locked->ids[locked->n] = id;
		locked->status[locked->n] = status;
		locked->negotiator[locked->n] = SPI_getvalue(tup, desc, 3);
		locked->day[locked->n] = isnull ? 0 : DatumGetDateADT(day);
		locked->n++;
	}
	SPI_freetuptable(SPI_tuptable);

	/*
	 * Rows the caller may not see in the table itself (its row-level
	 * security, the restricted archive; for a write, the rows it may not
	 * update) are unknown to the caller.  An opt-in, which is what brings
	 * archived rows back, may name an archived row the caller cannot see
	 * only if the caller holds the privileges of the table's owner (the
	 * application's own role); an agent cannot un-archive that way.
	 */
	if (locked->n > 0 && !rgpd_caller_privileged())
	{
		int64	   *visible = palloc(sizeof(int64) * locked->n);
		int			nvisible;
		int			j = 0,
					v = 0;
		bool		owner = !hide_archived && has_privs_of_role(GetUserId(), sub->owner);

		memcpy(visible, locked->ids, sizeof(int64) * locked->n);
		nvisible = rgpd_caller_visible(sub, visible, locked->n,
									   RGPD_SEE_NAMED | (for_update ? RGPD_SEE_WRITE : 0));
		for (i = 0; (int) i < locked->n; i++)
		{
			while (v < nvisible && visible[v] < locked->ids[i])
				v++;
			if (!(v < nvisible && visible[v] == locked->ids[i]) &&
				!(owner && locked->status[i] == RGPD_STATUS_ARCHIVED))
				continue;
			locked->ids[j] = locked->ids[i];
			locked->status[j] = locked->status[i];
			locked->negotiator[j] = locked->negotiator[i];
			locked->day[j] = locked->day[i];
			j++;
		}
		locked->n = j;
	}

	/* both lists are sorted */
	for (i = 0; (int) i < n; i++)
	{
		while (k < locked->n && locked->ids[k] < ids[i])
			k++;
		if (k >= locked->n || locked->ids[k] != ids[i])
			missing[nmissing++] = ids[i];
	}
	if (nmissing > 0 && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("table %s has no row with %s = %s",
						sub->relname, quote_identifier(sub->key_column),
						rgpd_format_ids(missing, nmissing)),
				 errdetail("Nothing was changed.")));
	return locked;
}

/* Has the caller this privilege on the table (or on any of its columns)? */
bool
rgpd_may(Oid relid, AclMode mode)
{
	return pg_class_aclcheck(relid, GetUserId(), mode) == ACLCHECK_OK ||
		pg_attribute_aclcheck_all(relid, GetUserId(), mode, ACLMASK_ANY) == ACLCHECK_OK;
}
