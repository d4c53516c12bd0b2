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
 * text, "ids" an int8[] of subject keys.
 */
typedef enum RgpdStatementKind
{
	/* the contact engine (contact_engine.c, direct_write.c) */
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
	RGPD_STMT_LOCK_LOWER,		/* $1 ids: FOR UPDATE in key order; RETURNS id,
								 * last_contact */
	/* recomputation and checks (recompute.c, lists.c) */
	RGPD_STMT_RECOMPUTE_IDS,	/* $1 ids: recompute from all contacts */
	RGPD_STMT_RECOMPUTE_ALL,	/* no parameter: every subject */
	RGPD_STMT_VERIFY,			/* no parameter: RETURNS id, stored, expected
								 * where last_contact is wrong */
	RGPD_STMT_IS_EXCLUDED,		/* $1 int8 id: RETURNS boolean */
	/* status (subject_rows.c, archive.c) */
	RGPD_STMT_LOCK_STATUS,		/* $1 ids, $2 timestamptz: FOR UPDATE in key
								 * order; RETURNS id, status, negotiator, the
								 * day of $2 in the subject's time zone */
	RGPD_STMT_PEEK_STATUS,		/* the same without a lock */
	RGPD_STMT_ARCHIVE,			/* $1 ids: active -> archived; RETURNS id */
	RGPD_STMT_UNARCHIVE,		/* $1 ids: archived -> active; RETURNS id */
	RGPD_STMT_UNARCHIVE_FRESH,	/* $1 ids: un-archive those no longer due this
								 * month; RETURNS id */
	/* what falls due, and the sweep (lists.c, sweep.c, batches.c) */
	RGPD_STMT_DUE_ARCHIVE,		/* $1 date as_of: RETURNS subject, id,
								 * last_contact, due_on, policy, excluded,
								 * negotiator of what falls due to archive by
								 * the end of its month */
	RGPD_STMT_DUE_ANONYMISE,	/* the same, to anonymise */
	RGPD_STMT_SWEEP_ARCHIVE,	/* $1 ids, $2 date as_of: archive those still
								 * active and due; RETURNS id */
	RGPD_STMT_SWEEP_REFRESH,	/* $1 date as_of: tighten stale contact floors
								 * below next month's bound */
	RGPD_STMT_SWEEP_LOCK_ARCHIVE,	/* $1 ids, $2 date as_of: lock FOR NO KEY
									 * UPDATE SKIP LOCKED; RETURNS id, due */
	RGPD_STMT_SWEEP_LOCK_ANONYMISE, /* the same FOR UPDATE, to anonymise */
	RGPD_STMT_SWEEP_NEXT_KEYS,	/* $1 int8 key, $2 int8 count: the next keys,
								 * locked FOR UPDATE; RETURNS id */
	RGPD_STMT_RECONSENT,		/* $1 date as_of: RETURNS subject, id, email,
								 * due_on of those due to archive who may be
								 * e-mailed */
	/* erasure and export (anonymise.c, export.c) */
	RGPD_STMT_ERASE_SUBJECT,	/* $1 ids: erase the personal columns, status
								 * anonymised; RETURNS id */
	RGPD_STMT_EXPORT_RECORD,	/* $1 int8 id: RETURNS the record as jsonb,
								 * status */
	RGPD_STMT_EXPORT_LINKS,		/* $1 int8 id: RETURNS its linked rows as jsonb */
	RGPD_STMT_COUNT
} RgpdStatementKind;

struct RgpdSubjectConf;

/* How a kind is built and prepared. */
typedef struct RgpdStatement
{
	const char *name;			/* for messages */
	int			nargs;
	Oid			argtypes[2];
	int			cursor_options;
	bool		configured;		/* built from the configuration (rgpd.links,
								 * rgpd.policies), not from the table alone */
	char	   *(*build) (struct RgpdSubject *sub, struct RgpdSubjectConf *conf,
						  int variant);
	int			variant;		/* tells apart the kinds one builder serves */
} RgpdStatement;

extern const RgpdStatement *rgpd_statement(RgpdStatementKind kind);
/* The text of a statement for one subject (palloc'd). */
extern char *rgpd_statement_sql(struct RgpdSubject *sub, RgpdStatementKind kind);

#endif							/* RGPD_SUBJECT_STATEMENTS_H */
