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
 *	  The statements are built here (held_value_statements()); the link rows
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
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"
#include "statement_parts.h"

PG_FUNCTION_INFO_V1(rgpd_release_archived_values);
PG_FUNCTION_INFO_V1(rgpd_hold_archived_values);

/* The statements that hold apart and put back the values of one link. */
typedef struct HeldValueStatements
{
	char	   *read;
	char	   *erase;
	int			ncolumns;
	char	  **columns;
	char	  **restores;
} HeldValueStatements;

/* The subject columns of a link as a name[] literal. */
static char *
names_literal(int n, char **names)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	Oid			out;
	bool		isvarlena;
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = DirectFunctionCall1(namein, CStringGetDatum(names[i]));
	getTypeOutputInfo(NAMEARRAYOID, &out, &isvarlena);
	return quote_literal_cstr(OidOutputFunctionCall(out, PointerGetDatum(
		construct_array(elems, n, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR))));
}

/*
 * The statements that move the values of one link table, for the subjects
 * $1 (int8[]):
 *   read:    (k, c, id, v) of every linked row, locked, per subject column
 *            c pointing at one of them: the row's key as text, the values
 *            of that column's personal columns;
 *   erase:   the same rows (keys $2 text[]) given the erased values,
 *            returning (k, c, id, e) likewise;
 *   restore: per subject column, put back values ($2 keys, $3 values, $4
 *            erased) where the row still holds the erased value.
 * False when the link has no one-column primary key of an integer, text or
 * uuid type (keys whose text form does not depend on the session's
 * DateStyle or TimeZone, so that the row is found again), or no personal
 * column outside the subject columns whose rows are deleted.
 */
static bool
held_value_statements(Oid link, Oid subject, HeldValueStatements *st)
{
	int			nest = rgpd_pin_search_path();
	RgpdSubjectConf *conf = rgpd_subject_conf(subject);
	RgpdLinkConf *l = rgpd_subject_conf_link(conf, link);
	char	   *key = l ? rgpd_row_key(link) : NULL;
	AttrNumber	keyno = key ? get_attnum(link, key) : InvalidAttrNumber;
	Oid			keytype = InvalidOid;
	int32		keytypmod = -1;
	Oid			keycoll;
	char	   *ktype;
	const char *k;
	char	  **deleted;
	int			ndeleted;
	char	   *cols;
	StringInfoData vals;
	StringInfoData sets;
	int			i;
	int			j;

	if (keyno != InvalidAttrNumber)
		get_atttypetypmodcoll(link, keyno, &keytype, &keytypmod, &keycoll);
	if (keytype != INT2OID && keytype != INT4OID && keytype != INT8OID &&
		keytype != TEXTOID && keytype != VARCHAROID && keytype != UUIDOID)
	{
		rgpd_unpin_search_path(nest);
		return false;
	}
	ktype = format_type_with_typemod(keytype, keytypmod);
	k = quote_identifier(key);

	/* subject columns that carry personal columns, delete_row ones excepted */
	ndeleted = rgpd_link_deleted_columns(l, &deleted);
	st->columns = palloc(sizeof(char *) * Max(l->npersonal, 1));
	st->ncolumns = 0;
	for (i = 0; i < l->npersonal; i++)
	{
		const char *c = l->personal_subject[i];
		bool		skip = false;

		for (j = 0; j < ndeleted && !skip; j++)
			skip = strcmp(deleted[j], c) == 0;
		for (j = 0; j < st->ncolumns && !skip; j++)
			skip = strcmp(st->columns[j], c) == 0;
		if (skip)
			continue;
		for (j = st->ncolumns; j > 0 && strcmp(st->columns[j - 1], c) > 0; j--)
			st->columns[j] = st->columns[j - 1];
		st->columns[j] = pstrdup(c);
		st->ncolumns++;
	}
	if (st->ncolumns == 0)
	{
		rgpd_unpin_search_path(nest);
		return false;
	}
	cols = names_literal(st->ncolumns, st->columns);

	/* per subject column: its personal values, by personal column */
	initStringInfo(&vals);
	st->restores = palloc(sizeof(char *) * st->ncolumns);
	for (j = 0; j < st->ncolumns; j++)
	{
		char	  **mine = palloc(sizeof(char *) * l->npersonal);
		int			nmine = 0;
		int			a;
		StringInfoData obj;
		StringInfoData put;

		for (i = 0; i < l->npersonal; i++)
			if (strcmp(l->personal_subject[i], st->columns[j]) == 0)
			{
				for (a = nmine; a > 0 && strcmp(mine[a - 1], l->personal_column[i]) > 0; a--)
					mine[a] = mine[a - 1];
				mine[a] = l->personal_column[i];
				nmine++;
			}
		initStringInfo(&obj);
		initStringInfo(&put);
		for (a = 0; a < nmine; a++)
		{
			const char *p = quote_identifier(mine[a]);

			appendStringInfo(&obj, "%s%s, l.%s", a > 0 ? ", " : "", quote_literal_cstr(mine[a]), p);
			appendStringInfo(&put, "%1$s%2$s = CASE WHEN l.%2$s IS NOT DISTINCT FROM"
							 " (pg_catalog.jsonb_populate_record(CAST(NULL AS %3$s), v.e)).%2$s"
							 " THEN (pg_catalog.jsonb_populate_record(CAST(NULL AS %3$s), v.v)).%2$s ELSE l.%2$s END",
							 a > 0 ? ", " : "", p, l->name);
		}
		appendStringInfo(&vals, "%spg_catalog.jsonb_build_object(%s)", j > 0 ? ", " : "", obj.data);
		st->restores[j] = psprintf("UPDATE %s AS l SET %s"
								   "  FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.jsonb[]),"
								   "                 pg_catalog.unnest($4::pg_catalog.jsonb[])) AS v(k, v, e)"
								   " WHERE l.%s OPERATOR(pg_catalog.=) CAST(v.k AS %s)",
								   l->name, put.data, k, ktype);
	}

	st->read = psprintf("SELECT r.k, u.c, u.id, u.v"
						"  FROM (SELECT CAST(l.%1$s AS pg_catalog.text) AS k, ARRAY[%2$s] AS ids, ARRAY[%3$s] AS vals"
						"          FROM %4$s AS l WHERE %5$s FOR UPDATE OF l) AS r,"
						"       ROWS FROM (pg_catalog.unnest(%6$s::pg_catalog.name[]), pg_catalog.unnest(r.ids),"
						"                  pg_catalog.unnest(r.vals)) AS u(c, id, v)"
						" WHERE u.id IS NOT NULL"
						" ORDER BY r.k COLLATE \"C\", u.c COLLATE \"C\"",
						k, rgpd_sql_subject_ids(st->ncolumns, st->columns), vals.data, l->name,
						rgpd_sql_any_subject(st->ncolumns, st->columns), cols);

	/*
	 * The erased value of each personal column, where a subject column it
	 * belongs to points at one of $1, on the rows read.  A pseudonym while
	 * archived carries a random part: one that could be guessed could be
	 * taken first by anybody who writes the table, and make archiving fail.
	 */
	initStringInfo(&sets);
	{
		char	   *pseudonym_key = psprintf("(CAST(l.%s AS pg_catalog.text) OPERATOR(pg_catalog.||) '_'"
											 " OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5("
											 "CAST(pg_catalog.random() AS pg_catalog.text)), 1, 12))", k);
		bool	   *done = palloc0(sizeof(bool) * l->npersonal);

		for (i = 0; i < l->npersonal; i++)
		{
			const char *p = l->personal_column[i];
			char	  **whens = palloc(sizeof(char *) * l->npersonal);
			char	  **by = palloc(sizeof(char *) * l->npersonal);
			int			nwhens = 0;
			int			a;

			if (done[i])
				continue;
			for (a = i; a < l->npersonal; a++)
			{
				bool		held = false;
				int			b;

				if (strcmp(l->personal_column[a], p) != 0)
					continue;
				for (j = 0; j < st->ncolumns && !held; j++)
					held = strcmp(st->columns[j], l->personal_subject[a]) == 0;
				if (!held)
					continue;
				done[a] = true;
				for (b = nwhens; b > 0 && strcmp(by[b - 1], l->personal_subject[a]) > 0; b--)
				{
					by[b] = by[b - 1];
					whens[b] = whens[b - 1];
				}
				by[b] = l->personal_subject[a];
				whens[b] = psprintf("WHEN %s THEN %s", rgpd_sql_in_ids("l", l->personal_subject[a], NULL),
									rgpd_sql_erased_value(link, p, pseudonym_key));
				nwhens++;
			}
			if (nwhens == 0)
				continue;
			appendStringInfo(&sets, "%s%s = CASE", sets.len > 0 ? ", " : "", quote_identifier(p));
			for (a = 0; a < nwhens; a++)
				appendStringInfo(&sets, " %s", whens[a]);
			appendStringInfo(&sets, " ELSE l.%s END", quote_identifier(p));
		}
	}
	st->erase = psprintf("WITH r AS (UPDATE %1$s AS l SET %2$s"
						 "            WHERE l.%3$s OPERATOR(pg_catalog.=) ANY (CAST($2 AS %4$s[]))"
						 "            RETURNING CAST(l.%3$s AS pg_catalog.text) AS k, ARRAY[%5$s] AS ids, ARRAY[%6$s] AS vals)"
						 "SELECT r.k, u.c, u.id, u.v"
						 "  FROM r, ROWS FROM (pg_catalog.unnest(%7$s::pg_catalog.name[]), pg_catalog.unnest(r.ids),"
						 "                     pg_catalog.unnest(r.vals)) AS u(c, id, v)"
						 " WHERE u.id IS NOT NULL"
						 " ORDER BY r.k COLLATE \"C\", u.c COLLATE \"C\"",
						 l->name, sets.data, k, ktype,
						 rgpd_sql_subject_ids(st->ncolumns, st->columns), vals.data, cols);
	rgpd_unpin_search_path(nest);
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
	HeldValueStatements st;
	Datum		keys,
				cols,
				rowids,
				vals,
				erased;
	uint64		nread;

	if (!held_value_statements(link, sub->relid, &st))
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
	HeldValueStatements st;
	Oid			types[3] = {REGCLASSOID, REGCLASSOID, INT8ARRAYOID};
	Datum		args[3];
	SPITupleTable *taken;
	uint64		ntaken,
				r;
	int			c;

	if (!held_value_statements(link, sub->relid, &st))
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
