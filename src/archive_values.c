/*-------------------------------------------------------------------------
 *
 * archive_values.c
 *	  The restricted archive on linked rows: when people are archived,
 *	  the personal values that belong to them on linked rows (the client 1
 *	  name and phone of an offer…) move into rgpd.archived_values, which
 *	  only managers read, and the erasure method's value takes their place;
 *	  when they come back, the values are put back where the row still
 *	  holds the erased value; when they are anonymised, the values are
 *	  discarded.  So "restricted access" covers every place an archived
 *	  person's personal data sits, as CNIL's archives intermédiaires mean.
 *
 *	  The statements come from rgpd._archive_values_sql(); the link rows
 *	  are read, locked and written as the link table's owner through the
 *	  gate, and rgpd.archived_values is written as the extension's owner.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_release_archived_values);
PG_FUNCTION_INFO_V1(rgpd_hold_archived_values);

/* The generated statements of one link, or false if it has none. */
typedef struct LinkStatements
{
	char	   *read;
	char	   *erase;
	int			ncolumns;
	char	  **columns;
	char	  **restores;
} LinkStatements;

static bool
link_statements(Oid link, Oid subject, LinkStatements *st)
{
	Oid			argtypes[2] = {REGCLASSOID, REGCLASSOID};
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	values[0] = ObjectIdGetDatum(link);
	values[1] = ObjectIdGetDatum(subject);
	if (SPI_execute_with_args("SELECT * FROM rgpd._archive_values_sql($1, $2)",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pericles_rgpd: rgpd._archive_values_sql() failed")));
	if (SPI_processed != 1)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	st->read = SPI_getvalue(tup, desc, 1);
	st->erase = SPI_getvalue(tup, desc, 2);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull)),
					  NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &nulls, &n);
	st->ncolumns = n;
	st->columns = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
		st->columns[i] = pstrdup(NameStr(*DatumGetName(elems[i])));
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	st->restores = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
		st->restores[i] = TextDatumGetCString(elems[i]);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* One column of SPI's result as an array of its type. */
static Datum
column_array(int col, Oid elemtype)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(SPI_processed, 1));
	int			dims[1];
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		elems[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col, &nulls[i]);
	dims[0] = (int) SPI_processed;
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
											  typlen, typbyval, typalign));
}

/*
 * Hold apart the values these (archived) subjects have on the rows of one
 * link: read and lock the rows, erase their personal values, keep them.
 */
static void
hold_link(RgpdSubject *sub, Oid link, int64 *ids, int n)
{
	Oid			argtypes[2] = {INT8ARRAYOID, TEXTARRAYOID};
	Datum		values[2];
	Oid			owner;
	LinkStatements st;
	Datum		keys,
				cols,
				rowids,
				vals,
				erased;
	uint64		nread;

	if (!link_statements(link, sub->relid, &st))
		return;
	owner = rgpd_rel_owner(link);
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));

	/* the rows and their values, locked */
	rgpd_gate_execute(NULL, st.read, 1, argtypes, values, NULL, owner,
					  RGPD_GATE_NOFORCE_RLS, 0);
	nread = SPI_processed;
	if (nread == 0)
		return;
	keys = column_array(1, TEXTOID);
	cols = column_array(2, NAMEOID);
	rowids = column_array(3, INT8OID);
	vals = column_array(4, JSONBOID);
	SPI_freetuptable(SPI_tuptable);

	/* the same rows, erased: the extension's own write */
	values[1] = keys;
	rgpd_gate_execute(NULL, st.erase, 2, argtypes, values, NULL, owner,
					  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_INTERNAL, 0);
	if (SPI_processed != nread)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("linked rows of table %s changed while they were archived",
						rgpd_relname(link)),
				 errhint("Run the action again.")));
	erased = column_array(4, JSONBOID);
	SPI_freetuptable(SPI_tuptable);

	/* kept apart, as the extension's owner */
	{
		Oid			types[7] = {REGCLASSOID, REGCLASSOID, INT8ARRAYOID, NAMEARRAYOID,
		TEXTARRAYOID, JSONBARRAYOID, JSONBARRAYOID};
		Datum		args[7];

		args[0] = ObjectIdGetDatum(link);
		args[1] = ObjectIdGetDatum(sub->relid);
		args[2] = rowids;
		args[3] = cols;
		args[4] = keys;
		args[5] = vals;
		args[6] = erased;
		rgpd_execute("INSERT INTO rgpd.archived_values AS a"
					 " (link, subject, subject_id, subject_column, row_key, vals, erased)"
					 " SELECT $1, $2, u.id, u.c, u.k, u.v, u.e"
					 "   FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
					 "                   pg_catalog.unnest($6), pg_catalog.unnest($7)) AS u(id, c, k, v, e)"
					 " ON CONFLICT ON CONSTRAINT archived_values_pkey DO NOTHING",
					 7, types, args, NULL, rgpd_extension_owner(), true, 0);
	}
}

/* Archive: the values of these (just archived) subjects, on every link. */
void
rgpd_archive_link_values(RgpdSubject *sub, int64 *ids, int n)
{
	int			i;

	if (n == 0)
		return;
	for (i = 0; i < sub->nlinks; i++)
		hold_link(sub, sub->links[i], ids, n);
}

/*
 * Put back the values held for these subjects on the rows of one link,
 * where the row still holds the value that erased them.
 */
static void
restore_link(RgpdSubject *sub, Oid link, int64 *ids, int n)
{
	Oid			owner;
	LinkStatements st;
	Oid			types[3] = {REGCLASSOID, REGCLASSOID, INT8ARRAYOID};
	Datum		args[3];
	SPITupleTable *taken;
	uint64		ntaken,
				r;
	int			c;

	if (!link_statements(link, sub->relid, &st))
		return;
	owner = rgpd_rel_owner(link);

	args[0] = ObjectIdGetDatum(link);
	args[1] = ObjectIdGetDatum(sub->relid);
	args[2] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute("WITH d AS (DELETE FROM rgpd.archived_values AS a"
				 "            WHERE a.link OPERATOR(pg_catalog.=) $1 AND a.subject OPERATOR(pg_catalog.=) $2"
				 "              AND a.subject_id OPERATOR(pg_catalog.=) ANY ($3)"
				 "            RETURNING a.subject_column, a.row_key, a.vals, a.erased)"
				 " SELECT d.subject_column, pg_catalog.array_agg(d.row_key),"
				 "        pg_catalog.array_agg(d.vals), pg_catalog.array_agg(d.erased)"
				 "   FROM d GROUP BY 1",
				 3, types, args, NULL, rgpd_extension_owner(), true, 0);
	taken = SPI_tuptable;
	ntaken = SPI_processed;
	for (r = 0; r < ntaken; r++)
	{
		char	   *col = SPI_getvalue(taken->vals[r], taken->tupdesc, 1);
		Oid			argtypes[4] = {INT8ARRAYOID, TEXTARRAYOID, JSONBARRAYOID, JSONBARRAYOID};
		Datum		values[4];
		bool		isnull;

		for (c = 0; c < st.ncolumns; c++)
			if (strcmp(st.columns[c], col) == 0)
				break;
		if (c == st.ncolumns)
			continue;			/* no longer a personal subject column */
		values[0] = args[2];
		values[1] = SPI_getbinval(taken->vals[r], taken->tupdesc, 2, &isnull);
		values[2] = SPI_getbinval(taken->vals[r], taken->tupdesc, 3, &isnull);
		values[3] = SPI_getbinval(taken->vals[r], taken->tupdesc, 4, &isnull);
		rgpd_gate_execute(NULL, st.restores[c], 4, argtypes, values, NULL, owner,
						  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_INTERNAL, 0);
	}
	SPI_freetuptable(taken);
}

/* Un-archive: the values of these subjects go back on every link. */
void
rgpd_restore_link_values(RgpdSubject *sub, int64 *ids, int n)
{
	int			i;

	if (n == 0)
		return;
	for (i = 0; i < sub->nlinks; i++)
		restore_link(sub, sub->links[i], ids, n);
}

/*
 * rgpd._release_archived_values(link regclass, subject regclass) RETURNS
 * void: before a link's registration goes, every value held for its rows
 * goes back on them (the registration that could put them back later is
 * going).  The caller must hold the privileges of the link's owner.
 */
Datum
rgpd_release_archived_values(PG_FUNCTION_ARGS)
{
	Oid			link = PG_GETARG_OID(0);
	Oid			subject = PG_GETARG_OID(1);
	Oid			types[2] = {REGCLASSOID, REGCLASSOID};
	Datum		args[2];
	RgpdSubject *sub;
	int64	   *ids;
	int			n;

	/* as rgpd.unregister_link(): the owner of both tables */
	(void) rgpd_require_owner_rights(link);
	(void) rgpd_require_owner_rights(subject);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(subject, false);
	args[0] = ObjectIdGetDatum(link);
	args[1] = ObjectIdGetDatum(subject);
	rgpd_execute("SELECT DISTINCT a.subject_id FROM rgpd.archived_values AS a"
				 " WHERE a.link OPERATOR(pg_catalog.=) $1 AND a.subject OPERATOR(pg_catalog.=) $2"
				 " ORDER BY 1",
				 2, types, args, NULL, rgpd_extension_owner(), false, 0);
	ids = rgpd_spi_int64_column(&n);
	if (n > 0)
		restore_link(sub, link, ids, n);
	SPI_finish();
	PG_RETURN_VOID();
}

/* Anonymise: the values kept apart for these subjects are discarded. */
void
rgpd_discard_link_values(RgpdSubject *sub, int64 *ids, int n)
{
	Oid			types[2] = {REGCLASSOID, INT8ARRAYOID};
	Datum		args[2];

	if (n == 0)
		return;
	args[0] = ObjectIdGetDatum(sub->relid);
	args[1] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute("DELETE FROM rgpd.archived_values AS a"
				 " WHERE a.subject OPERATOR(pg_catalog.=) $1"
				 "   AND a.subject_id OPERATOR(pg_catalog.=) ANY ($2)"
	/* rows kept for a statutory period keep them until then (retention.c) */
				 "   AND NOT EXISTS (SELECT 1 FROM rgpd.retained_rows AS r"
				 "         WHERE r.link OPERATOR(pg_catalog.=) a.link AND r.subject OPERATOR(pg_catalog.=) a.subject"
				 "           AND r.subject_id OPERATOR(pg_catalog.=) a.subject_id"
				 "           AND a.row_key OPERATOR(pg_catalog.=) ANY (r.row_keys))",
				 2, types, args, NULL, rgpd_extension_owner(), true, 0);
}

/*
 * rgpd._hold_archived_values(link regclass, subject regclass) RETURNS void:
 * a link registered (again) holds apart the values of the subjects that are
 * archived now, as archiving them would have.  The owner of both tables.
 */
Datum
rgpd_hold_archived_values(PG_FUNCTION_ARGS)
{
	Oid			link = PG_GETARG_OID(0);
	Oid			subject = PG_GETARG_OID(1);
	RgpdSubject *sub;
	int64	   *ids;
	int			n;

	(void) rgpd_require_owner_rights(link);
	(void) rgpd_require_owner_rights(subject);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(subject, false);
	rgpd_execute(psprintf("SELECT CAST(s.%s AS pg_catalog.int8) FROM %s AS s"
						  " WHERE s.rgpd_status OPERATOR(pg_catalog.=) 'archived'::rgpd.status ORDER BY 1",
						  quote_identifier(sub->key_column), sub->relname),
				 0, NULL, NULL, NULL, sub->owner, false, 0);
	ids = rgpd_spi_int64_column(&n);
	if (n > 0)
		hold_link(sub, link, ids, n);
	SPI_finish();
	PG_RETURN_VOID();
}
