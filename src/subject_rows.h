/*-------------------------------------------------------------------------
 *
 * subject_rows.h
 *	  Reading and locking the subject rows an action names, the id
 *	  arguments that name them, and the privilege checks on their table
 *	  (subject_rows.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_SUBJECT_ROWS_H
#define RGPD_SUBJECT_ROWS_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/acl.h"
#include "utils/date.h"

#include "pericles_rgpd.h"

struct RgpdSubject;

/* Subject rows locked by an action, in key order. */
typedef struct RgpdLocked
{
	int			n;
	int64	   *ids;
	RgpdStatus *status;
	char	  **negotiator;		/* value of the negotiator column, or NULL */
	DateADT    *day;			/* day of the action's timestamp, if any */
} RgpdLocked;

/* Flags of rgpd_read_subjects(). */
#define RGPD_READ_LOCK			0x01	/* lock the rows FOR UPDATE; the caller
										 * must be allowed to update them */
#define RGPD_READ_HIDE_ARCHIVED	0x02	/* archived rows count as unknown */
#define RGPD_READ_MISSING_OK	0x04	/* unknown ids are left out, no error */

extern RgpdLocked *rgpd_read_subjects(struct RgpdSubject *sub, int64 *ids, int n,
									  int flags, Datum at);
extern bool rgpd_may(Oid relid, AclMode mode);
extern int64 *rgpd_ids_arg(FunctionCallInfo fcinfo, int argno, int *n);

#endif							/* RGPD_SUBJECT_ROWS_H */
