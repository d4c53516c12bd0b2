/*-------------------------------------------------------------------------
 *
 * retention_statements.h
 *	  The statements of a link's retention rule (rgpd.retention), by kind
 *	  (retention_statements.c): which rows its keep keeps, and the purge
 *	  of rows past purge_after.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_RETENTION_STATEMENTS_H
#define RGPD_RETENTION_STATEMENTS_H

#include "postgres_ext.h"

struct RgpdSubjectConf;
struct RgpdLinkConf;

/*
 * The kinds, with what their parameters mean.  Each runs as the link's
 * owner through the gate.  Retention is reckoned from
 * rgpd._retention_day() (the sweep's as_of, never after today, else
 * today).  Held subjects are $2, a jsonb {"<subject oid>.<subject
 * column>": [held ids]}.
 */
typedef enum RgpdRetentionStatementKind
{
	RGPD_RETAIN,				/* $1 int8[] subject ids: RETURNS subject id,
								 * row key (text, NULL without a one-column
								 * key), until (date) of the rows the keep
								 * keeps */
	RGPD_PURGE,					/* $1 date, $2 held: erase (rows still
								 * carrying a personal value) or delete the
								 * rows past purge_after that point at no held
								 * subject; RETURNS the row key */
	RGPD_PURGE_QUIET,			/* the same without RETURNING */
	RGPD_PURGE_COUNT,			/* $1, $2: RETURNS rows to purge, rows held back */
	RGPD_PURGE_HELD,			/* $1, $2: RETURNS the (subject column key, id)
								 * pairs that hold rows back */
	RGPD_PURGE_KEYS,			/* $1, $2: RETURNS the keys of every row past
								 * purge_after, erased already or not */
	RGPD_RETENTION_STATEMENT_COUNT
} RgpdRetentionStatementKind;

/*
 * The statement for the link's rule, or NULL when it has no rule of that
 * kind (no keep; no purge_after; no key for RGPD_PURGE_KEYS); `subject`
 * is the subject table for RGPD_RETAIN, else InvalidOid.
 */
extern char *rgpd_retention_statement_sql(Oid subject, Oid link,
										  RgpdRetentionStatementKind kind);

/*
 * For link_statements.c: the condition "the link's keep keeps this row
 * (l)", or NULL when the link has no keep.  Called with the search_path
 * pinned.
 */
extern char *rgpd_sql_kept(struct RgpdSubjectConf *conf, struct RgpdLinkConf *link);

#endif							/* RGPD_RETENTION_STATEMENTS_H */
