/*-------------------------------------------------------------------------
 *
 * statement_parts.h
 *	  What the generated statements are built from (statement_parts.c):
 *	  the configuration of one subject table as rgpd.subjects, rgpd.links
 *	  and rgpd.policies hold it, and the SQL fragments several statements
 *	  share (a day of a date column, "key = ANY ($1)", a policy's cutoff,
 *	  the exclusion test, every contact date, the erased value of a
 *	  column).  The statements themselves are in subject_statements.c,
 *	  link_statements.c and retention_statements.c.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_STATEMENT_PARTS_H
#define RGPD_STATEMENT_PARTS_H

#include "postgres_ext.h"

/* One row of rgpd.policies. */
typedef struct RgpdPolicyConf
{
	char	   *name;
	char	   *applies_when;	/* NULL: the default policy */
	char	   *archive_after;	/* interval, as text */
	char	   *anonymise_after;
} RgpdPolicyConf;

/* One row of rgpd.links, for one subject table. */
typedef struct RgpdLinkConf
{
	Oid			link;
	char	   *name;			/* qualified, quoted */
	int			nsubject_columns;
	char	  **subject_columns;
	int			ndate_columns;
	char	  **date_columns;
	char	   *excludes_when;
	bool		archive_with_subject;
	/* personal columns as (subject column, personal column) pairs */
	int			npersonal;
	char	  **personal_subject;
	char	  **personal_column;
	int			name_rank;		/* rank of `name` in the database's collation */
} RgpdLinkConf;

/* One row of rgpd.subjects, with its policies and links. */
typedef struct RgpdSubjectConf
{
	Oid			subject;
	char	   *name;			/* qualified, quoted */
	char	   *key_column;		/* unquoted */
	char	   *time_zone;
	char	   *created_column; /* NULL when none */
	char	   *negotiator_column;
	char	   *email_column;
	char	   *mobile_column;
	int			npersonal;
	char	  **personal_columns;
	/* read on first use (statement_parts.c) */
	int			npolicies;
	RgpdPolicyConf *policies;	/* by position */
	int			nlinks;
	RgpdLinkConf *links;		/* by OID */
} RgpdSubjectConf;

/* The values a policy gives an action (RgpdAction, pericles_rgpd.h). */
typedef enum RgpdPolicyValue
{
	RGPD_POLICY_INTERVAL,		/* its archive_after or anonymise_after */
	RGPD_POLICY_NAME,
	RGPD_POLICY_CUTOFF			/* latest last_contact due by the end of the
								 * month of as_of */
} RgpdPolicyValue;

/* Run a read of the configuration ($1 an oid, a saved plan per text); false when it has no row. */
extern bool rgpd_read_config(const char *sql, Oid arg);
/* Column `col` of row `row` of SPI's result as a palloc'd string, or NULL. */
extern char *rgpd_spi_text(uint64 row, int col);

/* The configuration (ERROR 42704 when the table is not registered). */
extern RgpdSubjectConf *rgpd_subject_conf(Oid subject);
/* One of its links, or NULL; all of them (policies and links are read on first use). */
extern RgpdLinkConf *rgpd_subject_conf_link(RgpdSubjectConf *conf, Oid link);
extern int	rgpd_subject_conf_links(RgpdSubjectConf *conf, RgpdLinkConf **links);

/* "alias.col OPERATOR(pg_catalog.=) ANY (param::pg_catalog.int8[])" */
extern char *rgpd_sql_in_ids(const char *alias, const char *col, const char *param);
/* a differs from b, NULLs included (no IS DISTINCT FROM: no operator lookup) */
extern char *rgpd_sql_differs(const char *a, const char *b);
/* The day of a date, timestamp or timestamptz column (42804 for another type). */
extern char *rgpd_sql_day(Oid rel, const char *col, const char *alias, const char *tz);
/* GREATEST of the finite days before year 10000 of columns (NULL: none). */
extern char *rgpd_sql_greatest_day(Oid rel, int n, char **cols, const char *alias,
								   const char *tz);
/* CASE choosing per row the value of its policy ("" without policies). */
extern char *rgpd_sql_policy_case(RgpdSubjectConf *conf, RgpdAction action,
								  RgpdPolicyValue value, const char *as_of);
/* The greatest cutoff over all policies: the bound of an index scan. */
extern char *rgpd_sql_max_cutoff(RgpdSubjectConf *conf, RgpdAction action,
								 const char *as_of);
/* True when a linked row matching its link's excludes_when references key_expr. */
extern char *rgpd_sql_excluded(RgpdSubjectConf *conf, const char *key_expr);
/* Every contact date, as (id, d) rows; filtered by $1 (int8[]) when asked. */
extern char *rgpd_sql_contacts(RgpdSubjectConf *conf, bool filtered);
/* "CAST(s.negotiator AS text)", or a NULL text. */
extern char *rgpd_sql_negotiator(RgpdSubjectConf *conf);
/* "CASE WHEN <col = ANY ($1)> THEN CAST(l.col AS int8) END, …" per subject column */
extern char *rgpd_sql_subject_ids(int n, char **cols);
/* "<col = ANY ($1)> OR …" per subject column */
extern char *rgpd_sql_any_subject(int n, char **cols);

/* rgpd.erasure_method(rel, col), or NULL. */
extern char *rgpd_erasure_method(Oid rel, const char *col);
/* The SQL value that erases a column; key_expr names a pseudonym's key. */
extern char *rgpd_sql_erased_value(Oid rel, const char *col, const char *key_expr);
/* The one-column primary key of a table (unquoted), or NULL. */
extern char *rgpd_row_key(Oid rel);
/* The subject columns of a link whose rows are deleted, not erased. */
extern int	rgpd_link_deleted_columns(RgpdLinkConf *link, char ***cols);

#endif							/* RGPD_STATEMENT_PARTS_H */
