/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Retention by kind of record (rgpd.retention, one rule per link
 *	  table): the statutory minimum `keep` that erasure leaves alone, and
 *	  the maximum `purge_after` the sweep enforces.
 *
 *	  keep.  When subjects are anonymised or forgotten (anonymise.c), the
 *	  rows of a link younger than date_column + keep keep their personal
 *	  values: the erasure statements are restricted to the rows not kept
 *	  (RGPD_LINK_SPARE_KEPT, link_statements.c), the kept rows are recorded
 *	  in rgpd.retained_rows and journaled ("retain": table, rows, until,
 *	  basis).  If the subject was archived first, the real values of those
 *	  rows stay in the restricted archive (rgpd.archived_values, managers
 *	  only) and the rows keep the pseudonym archiving gave them.  The sweep
 *	  erases them when their keep ends ("retention_expired"), values held
 *	  apart included.
 *
 *	  purge_after.  The sweep (and CALL rgpd.sweep_batches, and
 *	  rgpd.purge) erases or deletes, in one statement per link, the rows
 *	  older than date_column + purge_after whatever their subjects' status,
 *	  except the rows of subjects under legal hold.  Deleting is not the
 *	  extension's own write: the link triggers see it as any delete and
 *	  lower last_contact where it must, so rgpd.verify() stays empty.
 *
 *	  Every statement on a link runs as its owner through the gate
 *	  (owner_code.c); the extension's tables are written as its owner.
 *	  Retention is reckoned from "the retention day": the sweep's as_of,
 *	  never later than today (kept rows must not go early), else today.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"

#include "journal.h"
#include "pericles_rgpd.h"
#include "link_statements.h"
#include "retention_statements.h"
#include "subject_rows.h"

PG_FUNCTION_INFO_V1(rgpd_set_retention);
PG_FUNCTION_INFO_V1(rgpd_unset_retention);
PG_FUNCTION_INFO_V1(rgpd_purge);
PG_FUNCTION_INFO_V1(rgpd_pending_retention);
PG_FUNCTION_INFO_V1(rgpd_retention_day);

/* ---- the retention day ---- */

static bool clock_set = false;
static DateADT clock_day;
static bool clock_callback = false;

static void
clock_xact_callback(XactEvent event pg_attribute_unused(), void *arg pg_attribute_unused())
{
	clock_set = false;
}

/*
 * Reckon retention from as_of (never after today) until rgpd_retention_
 * clock_reset() or the end of the transaction.
 */
void
rgpd_retention_clock(DateADT as_of)
{
	DateADT		today = GetSQLCurrentDate();

	if (!clock_callback)
	{
		RegisterXactCallback(clock_xact_callback, NULL);
		clock_callback = true;
	}
	clock_day = Min(as_of, today);
	clock_set = true;
}

void
rgpd_retention_clock_reset(void)
{
	clock_set = false;
}

static DateADT
retention_today(void)
{
	return clock_set ? clock_day : GetSQLCurrentDate();
}

/* rgpd._retention_day() RETURNS date */
Datum
rgpd_retention_day(PG_FUNCTION_ARGS pg_attribute_unused())
{
	PG_RETURN_DATEADT(retention_today());
}

/* ---- small helpers ---- */

/* The non-NULL text values of one column of SPI's result. */
static ArrayType *
text_column(int col, int *n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	uint64		r;
	int			k = 0;

	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col, &isnull);

		if (!isnull)
			elems[k++] = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
	}
	*n = k;
	return construct_array(elems, k, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Values held apart for these rows of a link go: the rows are erased. */
static void
discard_held_values(Oid link, ArrayType *keys, int nkeys)
{
	Oid			argtypes[2] = {REGCLASSOID, TEXTARRAYOID};
	Datum		values[2];

	if (nkeys == 0)
		return;
	values[0] = ObjectIdGetDatum(link);
	values[1] = PointerGetDatum(keys);
	rgpd_execute("DELETE FROM rgpd.archived_values AS a WHERE a.link OPERATOR(pg_catalog.=) $1"
				 " AND a.row_key OPERATOR(pg_catalog.=) ANY ($2)",
				 2, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
}

/* ---- keep: what anonymise and forget leave ---- */

/*
 * Record in rgpd.retained_rows the rows of `link` kept for these subjects
 * (as they are now: the entry of a subject with nothing kept goes), and
 * journal them ("retain") when `journal`.  Returns the rows kept.
 */
static int64
record_retained(RgpdSubject *sub, Oid link, int64 *ids, int n, bool journal)
{
	char	   *sql = rgpd_retention_statement_sql(sub->relid, link, RGPD_RETAIN);
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	Datum		args[6];
	Oid			types[6] = {REGCLASSOID, REGCLASSOID, INT8ARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, DATEARRAYOID};
	int64		kept;
	uint64		r;
	int			nout;
	int64	   *outids;
	Jsonb	  **details;
	int			dims[1];
	int			lbs[1] = {1};
	Datum	   *kid,
			   *kkey,
			   *kuntil;
	bool	   *nkey;

	if (sql == NULL || n == 0)
		return 0;
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_gate_execute(NULL, sql, 1, argtypes, values, NULL, rgpd_rel_owner(link),
					  RGPD_GATE_NOFORCE_RLS, 0);
	kept = (int64) SPI_processed;
	kid = palloc(sizeof(Datum) * Max(kept, 1));
	kkey = palloc(sizeof(Datum) * Max(kept, 1));
	kuntil = palloc(sizeof(Datum) * Max(kept, 1));
	nkey = palloc(sizeof(bool) * Max(kept, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		kid[r] = SPI_getbinval(tup, desc, 1, &isnull);
		kkey[r] = SPI_getbinval(tup, desc, 2, &nkey[r]);
		if (!nkey[r])
			kkey[r] = PointerGetDatum(PG_DETOAST_DATUM_COPY(kkey[r]));
		kuntil[r] = SPI_getbinval(tup, desc, 3, &isnull);
	}
	dims[0] = (int) kept;
	args[0] = ObjectIdGetDatum(link);
	args[1] = ObjectIdGetDatum(sub->relid);
	args[2] = values[0];
	args[3] = PointerGetDatum(construct_array(kid, (int) kept, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_md_array(kkey, nkey, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(kuntil, (int) kept, DATEOID, 4, true, TYPALIGN_INT));
	SPI_freetuptable(SPI_tuptable);

	rgpd_execute("WITH k(id, key, until) AS ("
				 "   SELECT * FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6))),"
				 " g AS (SELECT k.id, pg_catalog.count(*) AS n, pg_catalog.max(k.until) AS u,"
				 "              pg_catalog.array_agg(DISTINCT k.key) FILTER (WHERE k.key IS NOT NULL) AS keys"
				 "         FROM k GROUP BY k.id),"
				 " gone AS (DELETE FROM rgpd.retained_rows AS r"
				 "           WHERE r.link OPERATOR(pg_catalog.=) $1 AND r.subject OPERATOR(pg_catalog.=) $2"
				 "             AND r.subject_id OPERATOR(pg_catalog.=) ANY ($3)"
				 "             AND NOT r.subject_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT g.id FROM g)))"
				 " INSERT INTO rgpd.retained_rows AS r (link, subject, subject_id, rows, until, basis, row_keys)"
				 " SELECT $1, $2, g.id, g.n, g.u,"
				 "        (SELECT x.basis FROM rgpd.retention AS x WHERE x.link OPERATOR(pg_catalog.=) $1), g.keys"
				 "   FROM g ORDER BY g.id"
				 " ON CONFLICT ON CONSTRAINT retained_rows_pkey DO UPDATE"
				 "    SET rows = EXCLUDED.rows, until = EXCLUDED.until, row_keys = EXCLUDED.row_keys,"
				 "        basis = EXCLUDED.basis"
				 " RETURNING r.subject_id, pg_catalog.jsonb_build_object('table', CAST(r.link AS pg_catalog.text),"
				 "   'rows', r.rows, 'until', r.until, 'basis', r.basis,"
				 "   'keep', (SELECT CAST(x.keep AS pg_catalog.text) FROM rgpd.retention AS x"
				 "             WHERE x.link OPERATOR(pg_catalog.=) $1))",
				 6, types, args, NULL, rgpd_extension_owner(), true, 0);
	if (!journal || SPI_processed == 0)
		return kept;
	nout = (int) SPI_processed;
	outids = palloc(sizeof(int64) * nout);
	details = palloc(sizeof(Jsonb *) * nout);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		outids[r] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		details[r] = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	rgpd_journal_rows("retain", sub->relid, outids, nout, details, NULL);
	return kept;
}

/*
 * Before these subjects are erased (anonymise.c): record what each link
 * with a keep leaves them (every link, or only_link on arrival).
 */
void
rgpd_retain_rows(RgpdSubject *sub, Oid only_link, int64 *ids, int n)
{
	int			i;

	for (i = 0; i < sub->nlinks; i++)
		if (!OidIsValid(only_link) || sub->links[i] == only_link)
			(void) record_retained(sub, sub->links[i], ids, n, true);
}

/* ---- the sweep's part: kept rows whose keep ended, purges ---- */

/* The rule of a link, as read from rgpd.retention. */
typedef struct Rule
{
	Oid			link;
	bool		has_keep;
	bool		has_purge;
	char	   *purge;
} Rule;

static Rule *
read_rules(Oid only_subject, Oid only_link, int *n)
{
	Oid			argtypes[2] = {REGCLASSOID, REGCLASSOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Rule	   *rules;
	uint64		r;

	values[0] = ObjectIdGetDatum(only_subject);
	values[1] = ObjectIdGetDatum(only_link);
	if (!OidIsValid(only_subject))
		nulls[0] = 'n';
	if (!OidIsValid(only_link))
		nulls[1] = 'n';
	/* rules of registered links only (a link unregistered keeps its rule, idle) */
	rgpd_execute("SELECT r.link, r.keep IS NOT NULL, r.purge_after IS NOT NULL, r.purge"
				 "  FROM rgpd.retention AS r"
				 " WHERE EXISTS (SELECT 1 FROM rgpd.links AS l WHERE l.link OPERATOR(pg_catalog.=) r.link"
				 "                  AND ($1 IS NULL OR l.subject OPERATOR(pg_catalog.=) $1))"
				 "   AND ($2 IS NULL OR r.link OPERATOR(pg_catalog.=) $2)"
				 " ORDER BY CAST(r.link AS pg_catalog.text)",
				 2, argtypes, values, nulls, rgpd_extension_owner(), false, 0);
	*n = (int) SPI_processed;
	rules = palloc0(sizeof(Rule) * Max(*n, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		rules[r].link = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		rules[r].has_keep = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		rules[r].has_purge = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		rules[r].purge = SPI_getvalue(tup, desc, 4);
	}
	SPI_freetuptable(SPI_tuptable);
	return rules;
}

/* {"<subject oid>.<column>": [held ids]} for the subjects of a link. */
static Datum
held_of_link(Oid link)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	values[0] = ObjectIdGetDatum(link);
	rgpd_execute("SELECT COALESCE(pg_catalog.jsonb_object_agg(x.k, x.ids), '{}')"
				 "  FROM (SELECT CAST(CAST(l.subject AS pg_catalog.oid) AS pg_catalog.text)"
				 "               OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c AS k,"
				 "               pg_catalog.jsonb_agg(h.subject_id ORDER BY h.subject_id) AS ids"
				 "          FROM rgpd.links AS l, pg_catalog.unnest(l.subject_columns) AS c,"
				 "               rgpd.holds AS h"
				 "         WHERE l.link OPERATOR(pg_catalog.=) $1 AND h.subject OPERATOR(pg_catalog.=) l.subject"
				 "           AND rgpd._hold_in_force(h.until, CURRENT_DATE)"
				 "         GROUP BY 1) AS x",
				 1, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return PointerGetDatum(DatumGetJsonbPCopy(d));
}

/* Subjects (of one subject table) with rows kept on a link. */
static int64 *
retained_subjects(Oid link, Oid subject, int *n)
{
	Oid			argtypes[2] = {REGCLASSOID, REGCLASSOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(link);
	values[1] = ObjectIdGetDatum(subject);
	rgpd_execute("SELECT r.subject_id FROM rgpd.retained_rows AS r"
				 " WHERE r.link OPERATOR(pg_catalog.=) $1 AND r.subject OPERATOR(pg_catalog.=) $2"
				 " ORDER BY 1",
				 2, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	return rgpd_spi_int64_column(n);
}

/* Subject tables a link belongs to. */
static Oid *
link_subjects(Oid link, int *n)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1];
	Oid		   *subjects;
	uint64		r;

	values[0] = ObjectIdGetDatum(link);
	rgpd_execute("SELECT l.subject FROM rgpd.links AS l WHERE l.link OPERATOR(pg_catalog.=) $1"
				 " ORDER BY CAST(l.subject AS pg_catalog.text)",
				 1, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	*n = (int) SPI_processed;
	subjects = palloc(sizeof(Oid) * Max(*n, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		subjects[r] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return subjects;
}

/* Kept rows whose keep has ended are erased; the record follows. */
static int64
expire_link(Rule *rule)
{
	int			nsubjects,
				s;
	Oid		   *subjects = link_subjects(rule->link, &nsubjects);
	int64		expired = 0;

	for (s = 0; s < nsubjects; s++)
	{
		RgpdSubject *sub = rgpd_subject(subjects[s], false);
		int			n;
		int64	   *ids = retained_subjects(rule->link, subjects[s], &n);
		char	   *sql;
		Oid			argtypes[1] = {INT8ARRAYOID};
		Datum		values[1];
		Oid			types[3] = {REGCLASSOID, REGCLASSOID, INT8ARRAYOID};
		Datum		args[3];

		if (n == 0)
			continue;
		values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
		sql = rgpd_link_statement_sql(subjects[s], rule->link, RGPD_LINK_ERASE_ARRIVAL,
									  RGPD_LINK_SPARE_KEPT | RGPD_LINK_ONLY_KEPT);
		if (sql != NULL)
		{
			rgpd_gate_execute(NULL, sql, 1, argtypes, values, NULL, rgpd_rel_owner(rule->link),
							  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_INTERNAL, 0);
			expired += (int64) SPI_processed;
		}
		(void) record_retained(sub, rule->link, ids, n, false);

		/*
		 * These subjects are anonymised: the values held apart for their
		 * rows that are no longer kept go (the rows themselves carry the
		 * erased value since they were archived).
		 */
		args[0] = ObjectIdGetDatum(rule->link);
		args[1] = ObjectIdGetDatum(subjects[s]);
		args[2] = values[0];
		rgpd_execute("DELETE FROM rgpd.archived_values AS a"
					 " WHERE a.link OPERATOR(pg_catalog.=) $1 AND a.subject OPERATOR(pg_catalog.=) $2"
					 "   AND a.subject_id OPERATOR(pg_catalog.=) ANY ($3)"
					 "   AND NOT EXISTS (SELECT 1 FROM rgpd.retained_rows AS r"
					 "         WHERE r.link OPERATOR(pg_catalog.=) a.link AND r.subject OPERATOR(pg_catalog.=) a.subject"
					 "           AND r.subject_id OPERATOR(pg_catalog.=) a.subject_id"
					 "           AND a.row_key OPERATOR(pg_catalog.=) ANY (r.row_keys))",
					 3, types, args, NULL, rgpd_extension_owner(), true, 0);
		expired += (int64) SPI_processed;
	}
	return expired;
}

/*
 * The purge of a link: one statement; returns the rows purged.  Values
 * held apart for the rows purged go too: those of archived subjects,
 * whose rows already carry the erased value (so an erase leaves them
 * alone), included, or un-archiving would put purged values back.
 */
static int64
purge_link(Rule *rule, DateADT day)
{
	Oid			argtypes[2] = {DATEOID, JSONBOID};
	Datum		values[2];
	Oid			types[1] = {REGCLASSOID};
	Datum		args[1];
	char	   *sql;
	int64		purged;
	bool		delete = strcmp(rule->purge, "delete") == 0;
	Oid			owner = rgpd_rel_owner(rule->link);
	ArrayType  *keys = NULL;
	int			nkeys = 0;

	sql = rgpd_retention_statement_sql(InvalidOid, rule->link, RGPD_PURGE_QUIET);
	if (sql == NULL)
		return 0;
	values[0] = DateADTGetDatum(day);
	values[1] = held_of_link(rule->link);

	/* the keys of the rows, if values of the link are held apart */
	args[0] = ObjectIdGetDatum(rule->link);
	rgpd_execute("SELECT 1 FROM rgpd.archived_values AS a WHERE a.link OPERATOR(pg_catalog.=) $1 LIMIT 1",
				 1, types, args, NULL, rgpd_extension_owner(), false, 1);
	if (SPI_processed > 0)
	{
		char	   *keys_sql = rgpd_retention_statement_sql(InvalidOid, rule->link, RGPD_PURGE_KEYS);

		SPI_freetuptable(SPI_tuptable);
		if (keys_sql != NULL)
		{
			rgpd_gate_execute(NULL, keys_sql, 2, argtypes, values, NULL, owner,
							  RGPD_GATE_NOFORCE_RLS, 0);
			keys = text_column(1, &nkeys);
			SPI_freetuptable(SPI_tuptable);
		}
	}

	/* a delete is seen by the link triggers (last_contact goes down) */
	rgpd_gate_execute(NULL, sql, 2, argtypes, values, NULL, owner,
					  RGPD_GATE_NOFORCE_RLS | (delete ? 0 : RGPD_GATE_INTERNAL), 0);
	purged = (int64) SPI_processed;
	if (keys != NULL)
		discard_held_values(rule->link, keys, nkeys);
	return purged;
}

/* Rows to purge and rows a hold keeps back, as of day. */
static void
count_purge(Oid link, DateADT day, int64 *to_purge, int64 *held)
{
	char	   *sql = rgpd_retention_statement_sql(InvalidOid, link, RGPD_PURGE_COUNT);
	Oid			argtypes[2] = {DATEOID, JSONBOID};
	Datum		values[2];
	bool		isnull;

	*to_purge = *held = 0;
	if (sql == NULL)
		return;
	values[0] = DateADTGetDatum(day);
	values[1] = held_of_link(link);
	rgpd_gate_execute(NULL, sql, 2, argtypes, values, NULL, rgpd_rel_owner(link),
					  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_READ_ONLY, 0);
	*to_purge = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*held = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

/* Rows kept on a link, and those whose record ends by day. */
static void
count_retained(Oid link, DateADT day, int64 *retained, int64 *due)
{
	Oid			argtypes[2] = {REGCLASSOID, DATEOID};
	Datum		values[2];
	bool		isnull;

	values[0] = ObjectIdGetDatum(link);
	values[1] = DateADTGetDatum(day);
	rgpd_execute("SELECT COALESCE(pg_catalog.sum(r.rows), 0)::pg_catalog.int8,"
				 "       COALESCE(pg_catalog.sum(r.rows) FILTER (WHERE r.until OPERATOR(pg_catalog.<=) $2), 0)::pg_catalog.int8"
				 "  FROM rgpd.retained_rows AS r WHERE r.link OPERATOR(pg_catalog.=) $1",
				 2, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	*retained = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*due = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

typedef struct LinkRun
{
	Rule	   *rule;
	DateADT		day;
	bool		dry_run;
	int64		expired;
	int64		purged;
} LinkRun;

static void
run_link(void *arg)
{
	LinkRun    *run = (LinkRun *) arg;
	char		day[16];

	if (run->dry_run)
	{
		int64		held,
					retained;

		if (run->rule->has_keep)
			count_retained(run->rule->link, run->day, &retained, &run->expired);
		if (run->rule->has_purge)
			count_purge(run->rule->link, run->day, &run->purged, &held);
		return;
	}
	if (run->rule->has_keep)
		run->expired = expire_link(run->rule);
	if (run->rule->has_purge)
		run->purged = purge_link(run->rule, run->day);
	snprintf(day, sizeof(day), "%s", rgpd_iso_date(run->day));
	if (run->expired > 0)
	{
		RgpdJson	js;

		rgpd_json_begin(&js);
		rgpd_json_text(&js, "as_of", day);
		rgpd_json_int(&js, "rows", run->expired);
		rgpd_journal_table("retention_expired", run->rule->link, rgpd_json_end(&js));
	}
	if (run->purged > 0)
	{
		RgpdJson	js;

		rgpd_json_begin(&js);
		rgpd_json_text(&js, "as_of", day);
		rgpd_json_int(&js, "rows", run->purged);
		rgpd_json_text(&js, "purge", run->rule->purge);
		rgpd_journal_table("purge", run->rule->link, rgpd_json_end(&js));
	}
}

static void
emit(ReturnSetInfo *rsinfo, const char *action, Oid link, int64 count)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (rsinfo == NULL)
		return;
	values[0] = CStringGetTextDatum(action);
	values[1] = ObjectIdGetDatum(link);
	values[2] = Int64GetDatum(count);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The sweep's part (sweep.c, batches.c): per link with a rule (of the
 * subject table `only`, if valid), kept rows whose keep has ended, then
 * the purge; each link isolated from the others.  Rows ("purge" and
 * "retention_expired", the link as subject) go to rsinfo if not NULL.
 * Returns the rows purged.
 */
int64
rgpd_retention_sweep(DateADT as_of, bool dry_run, Oid only, ReturnSetInfo *rsinfo)
{
	int			nrules,
				i;
	Rule	   *rules = read_rules(only, InvalidOid, &nrules);
	int64		total = 0;

	for (i = 0; i < nrules; i++)
	{
		LinkRun		run = {0};
		ErrorData  *err;

		run.rule = &rules[i];
		rgpd_retention_clock(as_of);
		run.day = retention_today();
		run.dry_run = dry_run;
		err = rgpd_isolated(run_link, &run, run.rule->link, "the retention sweep");
		rgpd_retention_clock_reset();
		if (err != NULL)
		{
			rgpd_journal_table("sweep_skipped", run.rule->link, rgpd_error_journal_detail(err));
			continue;
		}
		if (run.rule->has_keep)
			emit(rsinfo, "retention_expired", run.rule->link, run.expired);
		if (run.rule->has_purge)
			emit(rsinfo, "purge", run.rule->link, run.purged);
		total += run.purged;
	}
	return total;
}

/* ---- SQL-callable ---- */

/*
 * rgpd.set_retention(link, date_column, keep, purge_after, purge, basis):
 * managers only (a retention rule is a legal decision, as erasure is);
 * checked and stored by rgpd._set_retention() as the extension's owner.
 */
Datum
rgpd_set_retention(PG_FUNCTION_ARGS)
{
	Oid			argtypes[7] = {NAMEOID, REGCLASSOID, NAMEOID, INTERVALOID, INTERVALOID,
	TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7];
	int			i;

	rgpd_require_manager("set a retention rule");
	for (i = 0; i < 6; i++)
	{
		nulls[i + 1] = PG_ARGISNULL(i) ? 'n' : ' ';
		values[i + 1] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	nulls[0] = ' ';
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_execute("SELECT rgpd._set_retention($1, $2, $3, $4, $5, $6, $7)", 7, argtypes, values,
				 nulls, rgpd_extension_owner(), false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/* rgpd.unset_retention(link): managers only; false when there was none. */
Datum
rgpd_unset_retention(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {NAMEOID, REGCLASSOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	bool		done;

	rgpd_require_manager("remove a retention rule");
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	values[1] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	if (PG_ARGISNULL(0))
		nulls[1] = 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_execute("SELECT rgpd._unset_retention($1, $2)", 2, argtypes, values, nulls,
				 rgpd_extension_owner(), false, 0);
	done = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_BOOL(done);
}

/*
 * rgpd.purge(link, as_of DEFAULT CURRENT_DATE): the link's purge now (and
 * its kept rows whose keep has ended).  Managers only.  Refused, changing
 * nothing, when a row to purge belongs to a subject under legal hold.
 */
Datum
rgpd_purge(PG_FUNCTION_ARGS)
{
	Oid			link;
	DateADT		as_of;
	int			nrules;
	Rule	   *rules;
	LinkRun		run = {0};
	char	   *sql;
	Oid			argtypes[2] = {DATEOID, JSONBOID};
	Datum		values[2];
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("link and as_of must not be NULL")));
	link = PG_GETARG_OID(0);
	as_of = PG_GETARG_DATEADT(1);
	rgpd_require_manager("purge");
	rgpd_check_as_of(as_of);
	if (as_of > GetSQLCurrentDate())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot purge as of a day after today"),
				 errdetail("A purge as of a later day would erase rows before their time.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	/* as rgpd.anonymise: the caller reads what it erases */
	rgpd_caller_reads_all(link, "purge");
	nest = rgpd_pin_search_path();
	rules = read_rules(InvalidOid, link, &nrules);
	if (nrules == 0 || !rules[0].has_purge)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s has no purge rule", rgpd_relname(link)),
				 errhint("Give it one with rgpd.set_retention(link, date_column, purge_after => '5 years').")));

	/*
	 * A row of a held subject: refused, naming the hold.  No statement: the
	 * rule erases and the link has no personal column, nothing to purge.
	 */
	sql = rgpd_retention_statement_sql(InvalidOid, link, RGPD_PURGE_HELD);
	values[0] = DateADTGetDatum(as_of);
	values[1] = held_of_link(link);
	if (sql != NULL)
		rgpd_gate_execute(NULL, sql, 2, argtypes, values, NULL, rgpd_rel_owner(link),
						  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_READ_ONLY, 1);
	if (sql != NULL && SPI_processed > 0)
	{
		char	   *k = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		Oid			subject = (Oid) strtoul(k, NULL, 10);
		Oid			types[2] = {REGCLASSOID, INT8OID};
		Datum		args[2];

		args[0] = ObjectIdGetDatum(subject);
		args[1] = DirectFunctionCall1(int8in, CStringGetDatum(id));
		rgpd_execute("SELECT h.reason, COALESCE(pg_catalog.to_char(h.until, 'YYYY-MM-DD'), 'released'),"
					 "       CAST(h.held_by AS pg_catalog.text)"
					 "  FROM rgpd.holds AS h WHERE h.subject OPERATOR(pg_catalog.=) $1"
					 "   AND h.subject_id OPERATOR(pg_catalog.=) $2",
					 2, types, args, NULL, rgpd_extension_owner(), false, 1);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rows of table %s to purge belong to row %s of table %s, under legal hold",
						rgpd_relname(link), id, rgpd_relname(subject)),
				 errdetail("Held by %s until %s: %s",
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("The sweep purges the other rows and leaves these; rgpd.release() lifts the hold.")));
	}
	if (sql != NULL)
		SPI_freetuptable(SPI_tuptable);

	run.rule = &rules[0];
	rgpd_retention_clock(as_of);
	run.day = retention_today();
	run_link(&run);
	rgpd_retention_clock_reset();
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(run.purged);
}

/* The counts of one link for rgpd.pending_retention(), run isolated. */
typedef struct PendingCounts
{
	Rule	   *rule;
	DateADT		day;
	int64		to_purge;
	int64		held;
	int64		retained;
	int64		due;
} PendingCounts;

static void
pending_counts(void *arg)
{
	PendingCounts *pc = (PendingCounts *) arg;

	if (pc->rule->has_purge)
		count_purge(pc->rule->link, pc->day, &pc->to_purge, &pc->held);
	if (pc->rule->has_keep)
		count_retained(pc->rule->link, pc->day, &pc->retained, &pc->due);
}

/*
 * rgpd.pending_retention(as_of): per link with a rule that the caller may
 * read (SELECT on it, or a manager): rows to purge by as_of, rows kept
 * and kept rows due to go by as_of (managers only: NULL for others),
 * rows a hold keeps back.
 */
Datum
rgpd_pending_retention(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DateADT		as_of;
	int			nrules,
				i;
	Rule	   *rules;
	bool		manager = rgpd_is_manager();
	int			nest;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL")));
	as_of = PG_GETARG_DATEADT(0);
	rgpd_check_as_of(as_of);
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	rules = read_rules(InvalidOid, InvalidOid, &nrules);
	for (i = 0; i < nrules; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		PendingCounts pc = {0};

		if (!manager && !rgpd_may(rules[i].link, ACL_SELECT))
			continue;

		/*
		 * One link that fails (its owner renamed the rule's date column,
		 * say) is left out with a WARNING, as the due lists leave out a
		 * broken table: it breaks nobody else's list or dashboard.
		 */
		pc.rule = &rules[i];
		pc.day = Min(as_of, GetSQLCurrentDate());
		if (rgpd_isolated(pending_counts, &pc, rules[i].link, "the retention list") != NULL)
			continue;
		values[0] = ObjectIdGetDatum(rules[i].link);
		values[1] = CStringGetTextDatum(rules[i].purge);
		values[2] = Int64GetDatum(pc.to_purge);
		values[3] = Int64GetDatum(pc.retained);
		values[4] = Int64GetDatum(pc.due);
		values[5] = Int64GetDatum(pc.held);
		nulls[2] = nulls[5] = !rules[i].has_purge;
		nulls[3] = nulls[4] = !rules[i].has_keep || !manager;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	rgpd_unpin_search_path(nest);
	SPI_finish();
	return (Datum) 0;
}

/*
 * What rgpd.export adds (export.c): the retention rules of the subject's
 * links (what is kept, why, for how long) and, for managers, the rows
 * kept under them and a legal hold in force.
 */
Datum
rgpd_retention_export(Oid subject, int64 id, Datum extras)
{
	Oid			argtypes[4] = {REGCLASSOID, INT8OID, JSONBOID, BOOLOID};
	Datum		values[4];
	bool		isnull;

	values[0] = ObjectIdGetDatum(subject);
	values[1] = Int64GetDatum(id);
	values[2] = extras;
	values[3] = BoolGetDatum(rgpd_is_manager());
	rgpd_execute("SELECT $3 OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
				 "  'retention', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
				 "       'table', CAST(r.link AS pg_catalog.text), 'date_column', r.date_column,"
				 "       'keep', CAST(r.keep AS pg_catalog.text), 'purge_after', CAST(r.purge_after AS pg_catalog.text),"
				 "       'purge', r.purge, 'basis', r.basis) ORDER BY CAST(r.link AS pg_catalog.text))"
				 "     FROM rgpd.retention AS r"
				 "    WHERE r.link OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT l.link FROM rgpd.links AS l"
				 "                                      WHERE l.subject OPERATOR(pg_catalog.=) $1))),"
				 "  'retained_rows', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
				 "       'table', CAST(k.link AS pg_catalog.text), 'rows', k.rows, 'until', k.until, 'basis', k.basis)"
				 "       ORDER BY CAST(k.link AS pg_catalog.text))"
				 "     FROM rgpd.retained_rows AS k WHERE $4 AND k.subject OPERATOR(pg_catalog.=) $1"
				 "      AND k.subject_id OPERATOR(pg_catalog.=) $2),"
				 "  'legal_hold', (SELECT pg_catalog.jsonb_build_object('reason', h.reason, 'until', h.until,"
				 "       'held_by', h.held_by, 'held_at', h.held_at)"
				 "     FROM rgpd.holds AS h WHERE $4 AND h.subject OPERATOR(pg_catalog.=) $1"
				 "      AND h.subject_id OPERATOR(pg_catalog.=) $2 AND rgpd._hold_in_force(h.until, CURRENT_DATE))))",
				 4, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	return PointerGetDatum(DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 1, &isnull)));
}
