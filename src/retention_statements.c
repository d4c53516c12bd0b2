/*-------------------------------------------------------------------------
 *
 * retention_statements.c
 *	  The statements of a link's retention rule, by kind
 *	  (RgpdRetentionStatementKind), each built here from rgpd.retention
 *	  and the link's configuration: the rows the keep keeps (and the
 *	  condition link_statements.c spares them with), and the purge of rows
 *	  past purge_after that point at no held subject.  Held subjects come
 *	  as a jsonb parameter, so that one plan serves every run.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"
#include "retention_statements.h"
#include "statement_parts.h"

/* One row of rgpd.retention. */
typedef struct RetentionRule
{
	char	   *date_column;
	char	   *keep;			/* interval as text, or NULL */
	char	   *purge_after;
	bool		delete_rows;	/* purge 'delete', else 'erase' */
} RetentionRule;

/* The rule of a link, or NULL. */
static RetentionRule *
retention_rule(Oid link)
{
	RetentionRule *r;

	if (!rgpd_read_config("SELECT CAST(r.date_column AS pg_catalog.text), CAST(r.keep AS pg_catalog.text),"
						  "       CAST(r.purge_after AS pg_catalog.text), r.purge"
						  "  FROM rgpd.retention AS r"
						  " WHERE CAST(r.link AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1", link))
		return NULL;
	r = palloc(sizeof(RetentionRule));
	r->date_column = rgpd_spi_text(0, 1);
	r->keep = rgpd_spi_text(0, 2);
	r->purge_after = rgpd_spi_text(0, 3);
	r->delete_rows = strcmp(rgpd_spi_text(0, 4), "delete") == 0;
	SPI_freetuptable(SPI_tuptable);
	return r;
}

/* "CAST(<day of the row> + interval AS date)" */
static char *
day_plus(Oid link, RetentionRule *r, const char *tz, const char *interval)
{
	char	   *day = rgpd_sql_day(link, r->date_column, "l", tz);

	return psprintf("CAST(%s OPERATOR(pg_catalog.+) %s::pg_catalog.interval AS pg_catalog.date)",
					day ? day : "", quote_literal_cstr(interval));
}

/* The keep keeps the row: its day plus keep is after the retention day. */
static char *
kept(Oid link, RetentionRule *r, const char *tz)
{
	return psprintf("COALESCE(%s OPERATOR(pg_catalog.>) rgpd._retention_day(), false)",
					day_plus(link, r, tz, r->keep));
}

char *
rgpd_sql_kept(RgpdSubjectConf *conf, RgpdLinkConf *link)
{
	RetentionRule *r = retention_rule(link->link);

	if (r == NULL || r->keep == NULL)
		return NULL;
	return kept(link->link, r, conf->time_zone);
}

/* $1 int8[] ids: (subject id, row key, until) of the rows kept. */
static char *
retain(Oid subject, Oid link)
{
	RgpdSubjectConf *conf = rgpd_subject_conf(subject);
	RgpdLinkConf *l = rgpd_subject_conf_link(conf, link);
	RetentionRule *r = retention_rule(link);
	char	   *key;

	if (l == NULL || r == NULL || r->keep == NULL)
		return NULL;
	key = rgpd_row_key(link);
	return psprintf("SELECT u.id, %s, %s"
					"  FROM %s AS l, pg_catalog.unnest(ARRAY[%s]) AS u(id)"
					" WHERE (%s) AND %s AND u.id IS NOT NULL",
					key ? psprintf("CAST(l.%s AS pg_catalog.text)", quote_identifier(key))
					: "CAST(NULL AS pg_catalog.text)",
					day_plus(link, r, conf->time_zone, r->keep), l->name,
					rgpd_sql_subject_ids(l->nsubject_columns, l->subject_columns),
					rgpd_sql_any_subject(l->nsubject_columns, l->subject_columns),
					kept(link, r, conf->time_zone));
}

/*
 * The purge statements of a link, which may be the link of several
 * subject tables: rows past date_column + purge_after on $1 (date, in the
 * time zone of the first subject table by name) that point at no held
 * subject of $2.
 */
static char *
purge(Oid link, RgpdRetentionStatementKind kind)
{
	RetentionRule *r = retention_rule(link);
	char	   *name;
	char	   *tz;
	char	   *old;
	char	   *key;
	StringInfoData free_rows;
	StringInfoData pairs;
	StringInfoData sets;
	StringInfoData pending;
	uint64		i;

	if (r == NULL || r->purge_after == NULL)
		return NULL;
	if (!rgpd_read_config("SELECT s.time_zone FROM rgpd.links AS l"
						  "  JOIN rgpd.subjects AS s ON s.subject OPERATOR(pg_catalog.=) l.subject"
						  " WHERE CAST(l.link AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1"
						  " ORDER BY CAST(l.subject AS pg_catalog.text) LIMIT 1", link))
		return NULL;
	tz = rgpd_spi_text(0, 1);
	SPI_freetuptable(SPI_tuptable);
	name = rgpd_relname(link);
	old = psprintf("%s OPERATOR(pg_catalog.<=) $1::pg_catalog.date",
				   day_plus(link, r, tz, r->purge_after));

	/*
	 * Per subject column: it points at no held subject of its table (the
	 * held ids are an uncorrelated sub-select: computed once).
	 */
	rgpd_read_config("SELECT CAST(CAST(l.subject AS pg_catalog.oid) AS pg_catalog.text),"
					 "       CAST(c AS pg_catalog.text)"
					 "  FROM rgpd.links AS l, pg_catalog.unnest(l.subject_columns) AS c"
					 " WHERE CAST(l.link AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1"
					 " ORDER BY CAST(l.subject AS pg_catalog.text), c", link);
	initStringInfo(&free_rows);
	initStringInfo(&pairs);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *c = rgpd_spi_text(i, 2);
		char	   *held_key = quote_literal_cstr(psprintf("%s.%s", rgpd_spi_text(i, 1), c));

		appendStringInfo(&free_rows, "%sNOT COALESCE(CAST(l.%s AS pg_catalog.int8) OPERATOR(pg_catalog.=) ANY (ARRAY("
						 "SELECT CAST(pg_catalog.jsonb_array_elements_text(COALESCE("
						 "$2::pg_catalog.jsonb OPERATOR(pg_catalog.->) %s, '[]'::pg_catalog.jsonb)) AS pg_catalog.int8))), false)",
						 i > 0 ? " AND " : "", quote_identifier(c), held_key);
		appendStringInfo(&pairs, "%s(%s, CAST(l.%s AS pg_catalog.int8))", i > 0 ? ", " : "",
						 held_key, quote_identifier(c));
	}
	SPI_freetuptable(SPI_tuptable);
	if (free_rows.len == 0)
		appendStringInfoString(&free_rows, "true");
	key = rgpd_row_key(link);

	if (kind == RGPD_PURGE_KEYS)
	{
		/* every row past purge_after, erased already or not */
		if (key == NULL)
			return NULL;
		return psprintf("SELECT CAST(l.%s AS pg_catalog.text) FROM %s AS l WHERE %s AND %s",
						quote_identifier(key), name, old, free_rows.data);
	}

	/*
	 * Erase: every personal column of the row, whoever it belongs to, where
	 * one still holds something else than its erased value.
	 */
	rgpd_read_config("SELECT DISTINCT ON (lp.personal_column) CAST(lp.personal_column AS pg_catalog.text),"
					 "       CAST(lp.subject_column AS pg_catalog.text)"
					 "  FROM rgpd.links AS l, rgpd._link_personal(l) AS lp"
					 " WHERE CAST(l.link AS pg_catalog.oid) OPERATOR(pg_catalog.=) $1"
					 " ORDER BY lp.personal_column, lp.subject_column", link);
	{
		uint64		n = SPI_processed;
		char	  **p = palloc(sizeof(char *) * Max(n, 1));
		char	  **c = palloc(sizeof(char *) * Max(n, 1));

		for (i = 0; i < n; i++)
		{
			p[i] = rgpd_spi_text(i, 1);
			c[i] = rgpd_spi_text(i, 2);
		}
		SPI_freetuptable(SPI_tuptable);
		initStringInfo(&sets);
		initStringInfo(&pending);
		for (i = 0; i < n; i++)
		{
			char	   *v = rgpd_sql_erased_value(link, p[i],
												  psprintf("l.%s", quote_identifier(key ? key : c[i])));

			appendStringInfo(&sets, "%s%s = %s", i > 0 ? ", " : "", quote_identifier(p[i]), v);
			appendStringInfo(&pending, "%sl.%s IS DISTINCT FROM %s", i > 0 ? " OR " : "",
							 quote_identifier(p[i]), v);
		}
	}
	if (!r->delete_rows)
	{
		if (sets.len == 0)
			return NULL;
		old = psprintf("%s AND (%s)", old, pending.data);
	}

	switch (kind)
	{
		case RGPD_PURGE_COUNT:
			return psprintf("SELECT pg_catalog.count(*) FILTER (WHERE %3$s), pg_catalog.count(*) FILTER (WHERE NOT (%3$s))"
							"  FROM %1$s AS l WHERE %2$s", name, old, free_rows.data);
		case RGPD_PURGE_HELD:
			return psprintf("SELECT DISTINCT x.k, x.id FROM %1$s AS l CROSS JOIN LATERAL (VALUES %3$s) AS x(k, id)"
							" WHERE %2$s AND x.id OPERATOR(pg_catalog.=) ANY (ARRAY("
							"   SELECT CAST(pg_catalog.jsonb_array_elements_text(COALESCE("
							"     $2::pg_catalog.jsonb OPERATOR(pg_catalog.->) x.k, '[]'::pg_catalog.jsonb)) AS pg_catalog.int8)))"
							" ORDER BY 1, 2", name, old, pairs.data);
		case RGPD_PURGE:
		case RGPD_PURGE_QUIET:
			{
				char	   *ret = "";

				if (kind == RGPD_PURGE)
					ret = key ? psprintf(" RETURNING CAST(l.%s AS pg_catalog.text)", quote_identifier(key))
						: " RETURNING CAST(NULL AS pg_catalog.text)";
				if (r->delete_rows)
					return psprintf("DELETE FROM %s AS l WHERE %s AND %s%s", name, old, free_rows.data, ret);
				return psprintf("UPDATE %s AS l SET %s WHERE %s AND %s%s", name, sets.data, old,
								free_rows.data, ret);
			}
		default:
			elog(ERROR, "pericles_rgpd: unknown retention statement kind %d", (int) kind);
	}
	return NULL;				/* keep compiler quiet */
}

char *
rgpd_retention_statement_sql(Oid subject, Oid link, RgpdRetentionStatementKind kind)
{
	int			nest_level = rgpd_pin_search_path();
	char	   *sql;

	sql = kind == RGPD_RETAIN ? retain(subject, link) : purge(link, kind);
	rgpd_unpin_search_path(nest_level);
	return sql;
}
