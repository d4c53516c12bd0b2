/*-------------------------------------------------------------------------
 *
 * subject_statements.h
 *	  The statements the engine and the actions run on one subject table,
 *	  by kind (subject_statements.c); their saved plans are cached per
 *	  (subject, kind) by rgpd_subject_plan() in subject_cache.c, as
 *	  ri_triggers.c keys its plans by RI_QueryKey.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_SUBJECT_STATEMENTS_H
#define RGPD_SUBJECT_STATEMENTS_H

#include "postgres_ext.h"

struct RgpdSubject;

/*
 * The kinds of statement, with what their parameters mean.  Each runs as
 * the subject table's owner through the gate; "status" is rgpd_status as
 * text.
 */
typedef enum RgpdStatementKind
{
	RGPD_STMT_RAISE_ONE,		/* $1 int8 id, $2 date: write the date if newer
								 * and the subject not anonymised; RETURNS the
								 * status of the row written */
	RGPD_STMT_LOCK_ONE,			/* $1 int8 id: FOR KEY SHARE; RETURNS
								 * last_contact, status */
	RGPD_STMT_STATUS_ONE,		/* $1 int8 id: RETURNS status */
	RGPD_STMT_RAISE,			/* $1 int8[] sorted ids, $2 date[] their dates
								 * (NULL: status only): lock all FOR KEY SHARE,
								 * write the newer; RETURNS id, status, written
								 * for the subjects not active */
	RGPD_STMT_RAISE_LOCKED,		/* the same for rows this transaction holds */
	RGPD_STMT_LOCK_LOWER,		/* $1 int8[] ids: FOR UPDATE in key order;
								 * RETURNS id, last_contact */
	RGPD_STMT_RECOMPUTE_IDS,	/* $1 int8[] ids: recompute from all contacts */
	RGPD_STMT_UNARCHIVE_FRESH,	/* $1 int8[] ids: un-archive those no longer
								 * due; RETURNS id */
	RGPD_STMT_EXPORT_RECORD,	/* $1 int8 id: RETURNS the record as jsonb,
								 * status */
	RGPD_STMT_EXPORT_LINKS,		/* $1 int8 id: RETURNS its linked rows as jsonb */
	RGPD_STMT_COUNT
} RgpdStatementKind;

/* How a kind is prepared. */
typedef struct RgpdStatement
{
	const char *name;			/* for messages, and the rgpd._sql key */
	int			nargs;
	Oid			argtypes[2];
	int			cursor_options;
	char	   *(*build) (struct RgpdSubject *sub);	/* built in C; NULL: taken
												 * from rgpd._sql(name) */
} RgpdStatement;

extern const RgpdStatement *rgpd_statement(RgpdStatementKind kind);
/* The text of a statement for one subject (palloc'd). */
extern char *rgpd_statement_sql(struct RgpdSubject *sub, RgpdStatementKind kind);

#endif							/* RGPD_SUBJECT_STATEMENTS_H */
