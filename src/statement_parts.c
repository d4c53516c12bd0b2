/*-------------------------------------------------------------------------
 *
 * statement_parts.c
 *	  The configuration a generated statement is built from, read from
 *	  rgpd.subjects, rgpd.links and rgpd.policies with the caller's rights
 *	  (they are readable by all), and the SQL fragments that several
 *	  statements share.  Every operator in a fragment is
 *	  OPERATOR(pg_catalog.x), every name quoted, every value a $n
 *	  parameter or a quoted literal of the configuration: the statements
 *	  run as a table's owner under a pinned search_path (owner_code.c).
 *
 *	  The erasure method of a column is asked of rgpd.erasure_method(),
 *	  the public function that defines it.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"
#include "statement_parts.h"

/* ---- reading the configuration ---- */

char *
rgpd_spi_text(uint64 row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * Column `col` (text[]) of row `row` of SPI's result: column names of the
 * configuration of table `rel`.  None may be NULL (the configuration
 * trigger refuses it; the names go into quote_identifier()).
 */
static int
spi_text_array(uint64 row, int col, char ***out, Oid rel)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			i;

	*out = NULL;
	if (isnull)
		return 0;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the configuration of table %s names a NULL column", rgpd_relname(rel)),
					 errhint("Register the table again with the rgpd.register_* functions.")));
		(*out)[i] = TextDatumGetCString(elems[i]);
	}
	return n;
}

/*
 * The reads of the configuration are few fixed statements: each is
 * prepared once per backend and kept (revalidated by the plan cache when
 * the tables it reads change), as ri_triggers.c keeps its plans.
 */
#define MAX_CONFIG_READS 16
static struct
{
	const char *sql;
	SPIPlanPtr	plan;
}			config_reads[MAX_CONFIG_READS];

bool
rgpd_read_config(const char *sql, Oid arg)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	SPIPlanPtr	plan = NULL;
	int			i;

	for (i = 0; i < MAX_CONFIG_READS && config_reads[i].sql != NULL && plan == NULL; i++)
		if (strcmp(config_reads[i].sql, sql) == 0)
			plan = config_reads[i].plan;
	if (plan == NULL)
	{
		if (i >= MAX_CONFIG_READS)
			elog(ERROR, "pericles_rgpd: too many configuration reads");
		plan = rgpd_prepare(sql, 1, argtypes, 0);
		config_reads[i].sql = MemoryContextStrdup(TopMemoryContext, sql);
		config_reads[i].plan = plan;
	}
	values[0] = ObjectIdGetDatum(arg);
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: reading the configuration failed: %s", sql);
	return SPI_processed > 0;
}

RgpdSubjectConf *
rgpd_subject_conf(Oid subject)
{
	RgpdSubjectConf *conf = palloc0(sizeof(RgpdSubjectConf));

	conf->subject = subject;
	if (!rgpd_read_config("SELECT CAST(s.key_column AS pg_catalog.text), s.time_zone,"
					 "       CAST(s.created_column AS pg_catalog.text),"
					 "       CAST(s.negotiator_column AS pg_catalog.text),"
					 "       CAST(s.email_column AS pg_catalog.text),"
					 "       CAST(s.personal_columns AS pg_catalog.text[]),"
					 "       CAST(s.mobile_column AS pg_catalog.text)"
					 "  FROM rgpd.subjects AS s"
					 " WHERE CAST(s.subject AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1", subject))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not registered as a subject", rgpd_relname(subject)),
				 errhint("Register it with rgpd.register_subject().")));
	conf->name = rgpd_relname(subject);
	conf->key_column = rgpd_spi_text(0, 1);
	conf->time_zone = rgpd_spi_text(0, 2);
	conf->created_column = rgpd_spi_text(0, 3);
	conf->negotiator_column = rgpd_spi_text(0, 4);
	conf->email_column = rgpd_spi_text(0, 5);
	conf->npersonal = spi_text_array(0, 6, &conf->personal_columns, subject);
	conf->mobile_column = rgpd_spi_text(0, 7);
	SPI_freetuptable(SPI_tuptable);
	return conf;
}

/* Its policies, read on first use (by position). */
static void
need_policies(RgpdSubjectConf *conf)
{
	uint64		r;
	bool		have_default = false;

	if (conf->policies != NULL)
		return;
	rgpd_read_config("SELECT p.name, p.applies_when, CAST(p.archive_after AS pg_catalog.text),"
				"       CAST(p.anonymise_after AS pg_catalog.text)"
				"  FROM rgpd.policies AS p"
				" WHERE CAST(p.subject AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1"
				" ORDER BY p.position", conf->subject);
	conf->npolicies = (int) SPI_processed;
	conf->policies = palloc0(sizeof(RgpdPolicyConf) * Max(conf->npolicies, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		conf->policies[r].name = rgpd_spi_text(r, 1);
		conf->policies[r].applies_when = rgpd_spi_text(r, 2);
		conf->policies[r].archive_after = rgpd_spi_text(r, 3);
		conf->policies[r].anonymise_after = rgpd_spi_text(r, 4);
		have_default |= conf->policies[r].applies_when == NULL;
	}
	SPI_freetuptable(SPI_tuptable);
	if (!have_default)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no default policy", rgpd_relname(conf->subject)),
				 errhint("Set one with rgpd.set_policy(), without applies_when.")));
}

/* Its links, read on first use (by OID). */
static void
need_links(RgpdSubjectConf *conf)
{
	uint64		r;

	if (conf->links != NULL)
		return;
	/*
	 * The personal columns of a link as (subject column, personal column)
	 * pairs, in the order of rgpd._link_personal(), expanded here: a
	 * function with a SET clause is not inlined, and cost four times the
	 * rest of the read.
	 */
	rgpd_read_config("SELECT CAST(l.link AS pg_catalog.oid),"
				"       CAST(l.subject_columns AS pg_catalog.text[]),"
				"       CAST(l.date_columns AS pg_catalog.text[]),"
				"       l.excludes_when, l.archive_with_subject,"
				"       ARRAY(SELECT e.k FROM pg_catalog.jsonb_each(l.personal_columns) WITH ORDINALITY AS e(k, v, o),"
				"                   pg_catalog.jsonb_array_elements_text(e.v) WITH ORDINALITY AS p(p, o2)"
				"              ORDER BY e.o, p.o2),"
				"       ARRAY(SELECT p.p FROM pg_catalog.jsonb_each(l.personal_columns) WITH ORDINALITY AS e(k, v, o),"
				"                   pg_catalog.jsonb_array_elements_text(e.v) WITH ORDINALITY AS p(p, o2)"
				"              ORDER BY e.o, p.o2),"
				"       pg_catalog.rank() OVER (ORDER BY CAST(l.link AS pg_catalog.text))"
				"  FROM rgpd.links AS l"
				" WHERE CAST(l.subject AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1"
				" ORDER BY CAST(l.link AS pg_catalog.oid)", conf->subject);
	conf->nlinks = (int) SPI_processed;
	conf->links = palloc0(sizeof(RgpdLinkConf) * Max(conf->nlinks, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		RgpdLinkConf *l = &conf->links[r];
		char	   *b;
		int			n;

		l->link = DatumGetObjectId(DirectFunctionCall1(oidin, CStringGetDatum(rgpd_spi_text(r, 1))));
		l->name = rgpd_relname(l->link);
		l->nsubject_columns = spi_text_array(r, 2, &l->subject_columns, l->link);
		l->ndate_columns = spi_text_array(r, 3, &l->date_columns, l->link);
		l->excludes_when = rgpd_spi_text(r, 4);
		b = rgpd_spi_text(r, 5);
		l->archive_with_subject = b && b[0] == 't';
		l->npersonal = spi_text_array(r, 6, &l->personal_subject, l->link);
		n = spi_text_array(r, 7, &l->personal_column, l->link);
		Assert(n == l->npersonal);
		(void) n;
		l->name_rank = pg_strtoint32(rgpd_spi_text(r, 8));
	}
	SPI_freetuptable(SPI_tuptable);
}

int
rgpd_subject_conf_links(RgpdSubjectConf *conf, RgpdLinkConf **links)
{
	need_links(conf);
	*links = conf->links;
	return conf->nlinks;
}

RgpdLinkConf *
rgpd_subject_conf_link(RgpdSubjectConf *conf, Oid link)
{
	int			i;

	need_links(conf);
	for (i = 0; i < conf->nlinks; i++)
		if (conf->links[i].link == link)
			return &conf->links[i];
	return NULL;
}

/* ---- fragments ---- */

char *
rgpd_sql_in_ids(const char *alias, const char *col, const char *param)
{
	return psprintf("%s.%s OPERATOR(pg_catalog.=) ANY (%s::pg_catalog.int8[])",
					alias, quote_identifier(col), param ? param : "$1");
}

char *
rgpd_sql_differs(const char *a, const char *b)
{
	return psprintf("(%1$s IS NULL AND %2$s IS NOT NULL OR %1$s IS NOT NULL AND %2$s IS NULL"
					" OR %1$s OPERATOR(pg_catalog.<>) %2$s)", a, b);
}

/* The type of a column (InvalidOid when it has none). */
static Oid
column_type(Oid rel, const char *col)
{
	AttrNumber	attnum = get_attnum(rel, col);

	return attnum == InvalidAttrNumber ? InvalidOid : get_atttype(rel, attnum);
}

char *
rgpd_sql_day(Oid rel, const char *col, const char *alias, const char *tz)
{
	Oid			typ = column_type(rel, col);

	if (!OidIsValid(typ))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table %s does not exist", col, rgpd_relname(rel)),
				 errhint("It was renamed or dropped after it was registered: register it again.")));
	switch (typ)
	{
		case DATEOID:
			return psprintf("%s.%s", alias, quote_identifier(col));
		case TIMESTAMPOID:
			return psprintf("CAST(%s.%s AS pg_catalog.date)", alias, quote_identifier(col));
		case TIMESTAMPTZOID:
			return psprintf("CAST(pg_catalog.timezone(%s::pg_catalog.text, %s.%s) AS pg_catalog.date)",
							quote_literal_cstr(tz), alias, quote_identifier(col));
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of table %s is not of type date, timestamp or timestamptz",
							col, rgpd_relname(rel)),
					 errhint("Change the column back to one of those types, or register the table again.")));
	}
	return NULL;				/* keep compiler quiet */
}

char *
rgpd_sql_greatest_day(Oid rel, int n, char **cols, const char *alias, const char *tz)
{
	StringInfoData buf;
	int			i;

	if (n == 0)
		return NULL;
	initStringInfo(&buf);
	if (n > 1)
		appendStringInfoString(&buf, "GREATEST(");
	for (i = 0; i < n; i++)
	{
		const char *c = quote_identifier(cols[i]);
		Oid			typ = column_type(rel, cols[i]);
		char	   *day = rgpd_sql_day(rel, cols[i], alias, tz);

		/* finite and before year 10000, as the link trigger takes them */
		appendStringInfo(&buf, "%sCASE WHEN pg_catalog.isfinite(%s.%s)"
						 " AND %s.%s OPERATOR(pg_catalog.<) CAST(%s AS %s) THEN %s END",
						 i > 0 ? ", " : "", alias, c, alias, c,
						 quote_literal_cstr("10000-01-01 00:00:00+00"),
						 OidIsValid(typ) ? format_type_be(typ) : "", day ? day : "");
	}
	if (n > 1)
		appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* The value of a policy for an action. */
static char *
policy_value(RgpdPolicyConf *p, RgpdAction action, RgpdPolicyValue value, const char *as_of)
{
	const char *iv = action == RGPD_ACTION_ARCHIVE ? p->archive_after : p->anonymise_after;

	switch (value)
	{
		case RGPD_POLICY_INTERVAL:
			return psprintf("%s::pg_catalog.interval", quote_literal_cstr(iv));
		case RGPD_POLICY_NAME:
			return psprintf("%s::pg_catalog.text", quote_literal_cstr(p->name));
		case RGPD_POLICY_CUTOFF:
			return psprintf("rgpd._cutoff(rgpd._month_end(%s), %s::pg_catalog.interval)",
							as_of, quote_literal_cstr(iv));
	}
	elog(ERROR, "pericles_rgpd: unknown policy value %d", (int) value);
	return NULL;				/* keep compiler quiet */
}

/*
 * The first named policy whose predicate holds, else the default: named
 * policies are tried in their order, the default last.
 */
char *
rgpd_sql_policy_case(RgpdSubjectConf *conf, RgpdAction action, RgpdPolicyValue value,
					 const char *as_of)
{
	StringInfoData whens;
	char	   *dflt = NULL;
	int			i;

	need_policies(conf);
	initStringInfo(&whens);
	for (i = 0; i < conf->npolicies; i++)
	{
		RgpdPolicyConf *p = &conf->policies[i];

		if (p->applies_when != NULL)
			appendStringInfo(&whens, " WHEN (%s) THEN %s", p->applies_when,
							 policy_value(p, action, value, as_of));
	}
	for (i = 0; i < conf->npolicies; i++)
		if (conf->policies[i].applies_when == NULL)
			dflt = policy_value(&conf->policies[i], action, value, as_of);
	if (whens.len == 0)
		return dflt ? dflt : "";
	return psprintf("CASE%s ELSE %s END", whens.data, dflt ? dflt : "");
}

char *
rgpd_sql_max_cutoff(RgpdSubjectConf *conf, RgpdAction action, const char *as_of)
{
	StringInfoData buf;
	int			i;

	need_policies(conf);
	if (conf->npolicies == 0)
		return "";
	initStringInfo(&buf);
	appendStringInfoString(&buf, "GREATEST(");
	for (i = 0; i < conf->npolicies; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 policy_value(&conf->policies[i], action, RGPD_POLICY_CUTOFF, as_of));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

char *
rgpd_sql_excluded(RgpdSubjectConf *conf, const char *key_expr)
{
	StringInfoData buf;
	int			i;
	int			c;

	need_links(conf);
	initStringInfo(&buf);
	for (i = 0; i < conf->nlinks; i++)
	{
		RgpdLinkConf *l = &conf->links[i];

		if (l->excludes_when == NULL)
			continue;
		for (c = 0; c < l->nsubject_columns; c++)
			appendStringInfo(&buf, "%sEXISTS (SELECT 1 FROM %s AS x WHERE x.%s OPERATOR(pg_catalog.=) %s AND (%s))",
							 buf.len > 0 ? " OR " : "", l->name,
							 quote_identifier(l->subject_columns[c]), key_expr, l->excludes_when);
	}
	return buf.len > 0 ? buf.data : "false";
}

/*
 * Every contact date of the subjects: linked rows (the greatest of their
 * date columns, through each subject column) and opt-in events.
 */
char *
rgpd_sql_contacts(RgpdSubjectConf *conf, bool filtered)
{
	StringInfoData buf;
	int			i;
	int			c;

	need_links(conf);
	initStringInfo(&buf);
	for (i = 0; i < conf->nlinks; i++)
	{
		RgpdLinkConf *l = &conf->links[i];
		char	   *day;

		if (l->ndate_columns == 0)
			continue;
		day = rgpd_sql_greatest_day(l->link, l->ndate_columns, l->date_columns, "l", conf->time_zone);
		for (c = 0; c < l->nsubject_columns; c++)
		{
			const char *col = l->subject_columns[c];

			appendStringInfo(&buf, "SELECT CAST(l.%s AS pg_catalog.int8) AS id, %s AS d FROM %s AS l WHERE %s\n UNION ALL ",
							 quote_identifier(col), day ? day : "", l->name,
							 filtered ? rgpd_sql_in_ids("l", col, NULL)
							 : psprintf("l.%s IS NOT NULL", quote_identifier(col)));
		}
	}
	appendStringInfo(&buf, "SELECT o.subject_id AS id,"
					 " CAST(pg_catalog.timezone(%s::pg_catalog.text, o.at) AS pg_catalog.date) AS d"
					 " FROM rgpd.optin_events AS o WHERE o.subject OPERATOR(pg_catalog.=) CAST(%u AS pg_catalog.oid)%s",
					 quote_literal_cstr(conf->time_zone), conf->subject,
					 filtered ? psprintf(" AND %s", rgpd_sql_in_ids("o", "subject_id", NULL)) : "");
	return buf.data;
}

char *
rgpd_sql_negotiator(RgpdSubjectConf *conf)
{
	if (conf->negotiator_column == NULL)
		return "CAST(NULL AS pg_catalog.text)";
	return psprintf("CAST(s.%s AS pg_catalog.text)", quote_identifier(conf->negotiator_column));
}

char *
rgpd_sql_subject_ids(int n, char **cols)
{
	StringInfoData buf;
	int			c;

	initStringInfo(&buf);
	for (c = 0; c < n; c++)
		appendStringInfo(&buf, "%sCASE WHEN %s THEN CAST(l.%s AS pg_catalog.int8) END",
						 c > 0 ? ", " : "", rgpd_sql_in_ids("l", cols[c], NULL),
						 quote_identifier(cols[c]));
	return buf.data;
}

char *
rgpd_sql_any_subject(int n, char **cols)
{
	StringInfoData buf;
	int			c;

	initStringInfo(&buf);
	for (c = 0; c < n; c++)
		appendStringInfo(&buf, "%s%s", c > 0 ? " OR " : "", rgpd_sql_in_ids("l", cols[c], NULL));
	return buf.data;
}

/* ---- catalog facts ---- */

char *
rgpd_erasure_method(Oid rel, const char *col)
{
	Oid			argtypes[2] = {REGCLASSOID, NAMEOID};
	Datum		values[2];
	char	   *method;

	static SPIPlanPtr plan = NULL;

	if (plan == NULL)
		plan = rgpd_prepare("SELECT rgpd.erasure_method($1, $2)", 2, argtypes, 0);
	values[0] = ObjectIdGetDatum(rel);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(col));
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pericles_rgpd: rgpd.erasure_method(%u, %s) failed", rel, col);
	method = rgpd_spi_text(0, 1);
	SPI_freetuptable(SPI_tuptable);
	return method;
}

/*
 * The SQL value that erases a column by its erasure method
 * (rgpd.erasure_method(): the one set, or the default that fits):
 *   mask       rgpd.mask_text (text types);
 *   pseudonym  rgpd.mask_text, '_' and the key named by key_expr;
 *   empty      '{}' for arrays and json, '' otherwise;
 *   otherwise  NULL.
 */
char *
rgpd_sql_erased_value(Oid rel, const char *col, const char *key_expr)
{
	char	   *m = rgpd_erasure_method(rel, col);
	AttrNumber	attnum = get_attnum(rel, col);
	Oid			typid = InvalidOid;
	int32		typmod = -1;
	Oid			collid;
	char		cat = '\0';
	bool		preferred;
	const char *typ = "";

	if (attnum != InvalidAttrNumber)
	{
		get_atttypetypmodcoll(rel, attnum, &typid, &typmod, &collid);
		get_type_category_preferred(typid, &cat, &preferred);
		typ = format_type_with_typemod(typid, typmod);
	}
	if (m != NULL && strcmp(m, "mask") == 0 && cat == TYPCATEGORY_STRING)
		return psprintf("CAST(pg_catalog.current_setting('rgpd.mask_text') AS %s)", typ);
	if (m != NULL && strcmp(m, "pseudonym") == 0)
		return psprintf("CAST(pg_catalog.current_setting('rgpd.mask_text') OPERATOR(pg_catalog.||) '_'"
						" OPERATOR(pg_catalog.||) CAST(%s AS pg_catalog.text) AS %s)", key_expr, typ);
	if (m != NULL && strcmp(m, "empty") == 0)
		return psprintf("CAST(%s AS %s)",
						cat == TYPCATEGORY_ARRAY || strcmp(typ, "json") == 0 || strcmp(typ, "jsonb") == 0
						? "'{}'" : "''", typ);
	return psprintf("CAST(NULL AS %s)", typ);
}

/* The key of a table's rows: its primary key, when it has one column. */
char *
rgpd_row_key(Oid rel)
{
	char	   *key = NULL;

	if (rgpd_read_config("SELECT CAST(a.attname AS pg_catalog.text)"
						 "  FROM pg_catalog.pg_index AS i"
						 "  JOIN pg_catalog.pg_attribute AS a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid"
						 "   AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0]"
						 " WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary"
						 "   AND i.indnkeyatts OPERATOR(pg_catalog.=) 1", rel) &&
		SPI_processed == 1)
		key = rgpd_spi_text(0, 1);
	SPI_freetuptable(SPI_tuptable);
	return key;
}

int
rgpd_link_deleted_columns(RgpdLinkConf *link, char ***cols)
{
	int			n = 0;
	int			c;

	*cols = palloc(sizeof(char *) * Max(link->nsubject_columns, 1));
	for (c = 0; c < link->nsubject_columns; c++)
	{
		char	   *m = rgpd_erasure_method(link->link, link->subject_columns[c]);

		if (m != NULL && strcmp(m, "delete_row") == 0)
			(*cols)[n++] = link->subject_columns[c];
	}
	return n;
}
