/*-------------------------------------------------------------------------
 *
 * link_statements.c
 *	  The statements on linked rows, by kind (RgpdLinkStatementKind),
 *	  each built here from the link's configuration (statement_parts.c):
 *	  the archive markers, and the erasure of what a subject left in a
 *	  link when it is anonymised or forgotten, restricted on request to
 *	  the rows the link's retention rule does not keep.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"
#include "link_statements.h"
#include "retention_statements.h"
#include "statement_parts.h"

/* The key a pseudonym of a linked row is built from: its own, else the subject's. */
static char *
pseudonym_key(const char *row_key, const char *subject_column)
{
	return psprintf("l.%s", quote_identifier(row_key ? row_key : subject_column));
}

/* Is `col` among the n `cols`? */
static bool
among(const char *col, int n, char **cols)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(cols[i], col) == 0)
			return true;
	return false;
}

/* Does pair a of a link's (subject column, personal column) sort after pair b? */
static bool
pair_after(RgpdLinkConf *l, int a, int b)
{
	int			c = strcmp(l->personal_subject[a], l->personal_subject[b]);

	return c > 0 || (c == 0 && strcmp(l->personal_column[a], l->personal_column[b]) > 0);
}

/* Archive markers: rows none of whose subjects is still active. */
static char *
mark(RgpdSubjectConf *conf, RgpdLinkConf *l, bool archived)
{
	StringInfoData refs;
	int			c;

	if (!l->archive_with_subject)
		return NULL;
	if (!archived)
		return psprintf("UPDATE %s AS l SET rgpd_archived = false WHERE (%s) AND l.rgpd_archived",
						l->name, rgpd_sql_any_subject(l->nsubject_columns, l->subject_columns));
	initStringInfo(&refs);
	for (c = 0; c < l->nsubject_columns; c++)
		appendStringInfo(&refs, "%ss.%s OPERATOR(pg_catalog.=) l.%s", c > 0 ? " OR " : "",
						 quote_identifier(conf->key_column), quote_identifier(l->subject_columns[c]));
	return psprintf("UPDATE %s AS l SET rgpd_archived = true WHERE (%s) AND NOT l.rgpd_archived"
					" AND NOT EXISTS (SELECT 1 FROM %s AS s WHERE (%s)"
					"                  AND s.rgpd_status OPERATOR(pg_catalog.=) 'active'::rgpd.status)",
					l->name, rgpd_sql_any_subject(l->nsubject_columns, l->subject_columns),
					conf->name, refs.data);
}

/* " WHERE <cond>", or " WHERE (<cond>) AND NOT <kept>" to spare kept rows. */
static char *
where(const char *cond, const char *kept)
{
	return kept ? psprintf(" WHERE (%s) AND NOT %s", cond, kept) : psprintf(" WHERE %s", cond);
}

/* Delete the rows of subject columns whose erasure method is delete_row. */
static char *
delete_rows(RgpdLinkConf *l, const char *kept)
{
	char	  **deleted;
	int			ndeleted = rgpd_link_deleted_columns(l, &deleted);

	if (ndeleted == 0)
		return NULL;
	return psprintf("DELETE FROM %s AS l%s RETURNING %s", l->name,
					where(rgpd_sql_any_subject(ndeleted, deleted), kept),
					rgpd_sql_subject_ids(ndeleted, deleted));
}

/*
 * Erase each personal column where the subject column it belongs to
 * points at a subject of $1 (on rows not deleted): one UPDATE for the
 * batch.  On arrival, only rows where a value still differs from its
 * erased value, so that old rows are neither rewritten nor waited for.
 */
static char *
erase(RgpdLinkConf *l, bool arrival, const char *kept)
{
	char	  **deleted;
	int			ndeleted = rgpd_link_deleted_columns(l, &deleted);
	char	   *row_key = rgpd_row_key(l->link);
	char	  **values = palloc(sizeof(char *) * Max(l->npersonal, 1));
	bool	   *done = palloc0(sizeof(bool) * Max(l->npersonal, 1));
	StringInfoData sets;
	StringInfoData pending;
	int		   *order;
	int			norder = 0;
	int			i;
	int			j;

	for (i = 0; i < l->npersonal; i++)
		values[i] = among(l->personal_subject[i], ndeleted, deleted) ? NULL
			: rgpd_sql_erased_value(l->link, l->personal_column[i],
									pseudonym_key(row_key, l->personal_subject[i]));

	/* per personal column: CASE over the subject columns it belongs to */
	initStringInfo(&sets);
	for (i = 0; i < l->npersonal; i++)
	{
		const char *p = l->personal_column[i];
		const char *q = quote_identifier(l->personal_column[i]);
		char	  **whens_of;
		char	  **cols_of;
		int			nwhens = 0;
		int			a;
		int			b;

		if (done[i] || values[i] == NULL)
			continue;
		whens_of = palloc(sizeof(char *) * l->npersonal);
		cols_of = palloc(sizeof(char *) * l->npersonal);
		for (j = i; j < l->npersonal; j++)
		{
			if (values[j] == NULL || strcmp(l->personal_column[j], p) != 0)
				continue;
			done[j] = true;
			cols_of[nwhens] = l->personal_subject[j];
			whens_of[nwhens++] = psprintf("WHEN %s THEN %s",
										  rgpd_sql_in_ids("l", l->personal_subject[j], NULL),
										  values[j]);
		}
		/* by subject column */
		for (a = 1; a < nwhens; a++)
			for (b = a; b > 0 && strcmp(cols_of[b - 1], cols_of[b]) > 0; b--)
			{
				char	   *t = cols_of[b];

				cols_of[b] = cols_of[b - 1];
				cols_of[b - 1] = t;
				t = whens_of[b];
				whens_of[b] = whens_of[b - 1];
				whens_of[b - 1] = t;
			}
		appendStringInfo(&sets, "%s%s = CASE", sets.len > 0 ? ", " : "", q);
		for (a = 0; a < nwhens; a++)
			appendStringInfo(&sets, " %s", whens_of[a]);
		appendStringInfo(&sets, " ELSE l.%s END", q);
	}
	if (sets.len == 0)
		return NULL;
	if (!arrival)
		return psprintf("UPDATE %s AS l SET %s%s RETURNING %s", l->name, sets.data,
						where(rgpd_sql_any_subject(l->nsubject_columns, l->subject_columns), kept),
						rgpd_sql_subject_ids(l->nsubject_columns, l->subject_columns));

	/* a value still to erase, by subject column, then personal column */
	order = palloc(sizeof(int) * l->npersonal);
	for (i = 0; i < l->npersonal; i++)
		if (values[i] != NULL)
		{
			for (j = norder; j > 0 && pair_after(l, order[j - 1], i); j--)
				order[j] = order[j - 1];
			order[j] = i;
			norder++;
		}
	initStringInfo(&pending);
	for (j = 0; j < norder; j++)
		appendStringInfo(&pending, "%s(%s AND l.%s IS DISTINCT FROM %s)", j > 0 ? " OR " : "",
						 rgpd_sql_in_ids("l", l->personal_subject[order[j]], NULL),
						 quote_identifier(l->personal_column[order[j]]), values[order[j]]);
	return psprintf("UPDATE %s AS l SET %s%s RETURNING %s", l->name, sets.data,
					where(pending.data, kept),
					rgpd_sql_subject_ids(l->nsubject_columns, l->subject_columns));
}

char *
rgpd_link_statement_sql(Oid subject, Oid link, RgpdLinkStatementKind kind, int flags)
{
	int			nest_level = rgpd_pin_search_path();
	RgpdSubjectConf *conf = rgpd_subject_conf(subject);
	RgpdLinkConf *l = rgpd_subject_conf_link(conf, link);
	char	   *kept = NULL;
	char	   *sql = NULL;

	if (l != NULL && (flags & RGPD_LINK_SPARE_KEPT))
		kept = rgpd_sql_kept(conf, l);
	if (kept == NULL && (flags & RGPD_LINK_ONLY_KEPT))
		l = NULL;
	if (l != NULL)
		switch (kind)
		{
			case RGPD_LINK_MARK_ARCHIVED:
				sql = mark(conf, l, true);
				break;
			case RGPD_LINK_MARK_ACTIVE:
				sql = mark(conf, l, false);
				break;
			case RGPD_LINK_DELETE:
				sql = delete_rows(l, kept);
				break;
			case RGPD_LINK_ERASE:
				sql = erase(l, false, kept);
				break;
			case RGPD_LINK_ERASE_ARRIVAL:
				sql = erase(l, true, kept);
				break;
			default:
				elog(ERROR, "pericles_rgpd: unknown link statement kind %d", (int) kind);
		}
	rgpd_unpin_search_path(nest_level);
	return sql;
}
