/*-------------------------------------------------------------------------
 *
 * recompute.c
 *	  Recomputing last_contact from all the contacts of a subject: some
 *	  subjects (after a lower, a new subject, a batch) or every subject of
 *	  a table (a TRUNCATE of a link, rgpd.recompute()).  The statements
 *	  are RGPD_STMT_RECOMPUTE_IDS and _ALL (subject_statements.c), run
 *	  as the owner through the gate; verify() runs the same
 *	  recomputation without writing.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgtime.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"
#include "recompute.h"

PG_FUNCTION_INFO_V1(rgpd_recompute);

/* Recompute some subjects from all their contacts; returns rows changed. */
int64
rgpd_recompute_ids(RgpdSubject *sub, int64 *ids, int n)
{
	Datum		values[1];

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_RECOMPUTE_IDS),
					  values, NULL, sub->owner, true, 0);
	return (int64) SPI_processed;
}

/*
 * Recompute every subject of a table.  Writers of its link tables and of
 * opt-in events are held off (SHARE lock) so that nothing they add can be
 * missed; the subject table is locked against concurrent changes of keys
 * and creation dates.  Under SPI.
 */
int64
rgpd_recompute_subject(RgpdSubject *sub)
{
	int			i;
	Oid			optin = get_relname_relid("optin_events",
										  get_namespace_oid(RGPD_SCHEMA, false));
	char	   *sql;
	int64		changed;

	/* a standby refuses these locks: say first that this writes (25006) */
	PreventCommandIfReadOnly("rgpd.recompute()");
	for (i = 0; i < sub->nlinks; i++)
		LockRelationOid(sub->links[i], ShareLock);
	if (OidIsValid(optin))
		LockRelationOid(optin, ShareLock);
	LockRelationOid(sub->relid, ShareRowExclusiveLock);

	sql = rgpd_statement_sql(sub, RGPD_STMT_RECOMPUTE_ALL);
	rgpd_execute(sql, 0, NULL, NULL, NULL, sub->owner, true, 0);
	changed = (int64) SPI_processed;
	pfree(sql);
	return changed;
}

/*
 * rgpd.recompute(subject regclass) RETURNS bigint: repair every row whose
 * last_contact differs from a full recomputation; returns how many were
 * changed.  The owner of the table and managers; every row, archived
 * ones included (it runs as the owner, row security not forced).  NULL,
 * doing nothing, in a transaction that called rgpd.defer_backfill().
 */
Datum
rgpd_recompute(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	RgpdSubject *sub;
	int64		changed;

	if (!pg_class_ownercheck(relid, GetUserId()) && !rgpd_is_manager())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to recompute table %s", rgpd_relname(relid)),
				 errhint("Recomputing is for the owner of the table and members of %s.",
						 RGPD_MANAGER)));
	/* after rgpd.defer_backfill(), left to CALL rgpd.recompute_batches() */
	if (rgpd_backfill_deferred())
		PG_RETURN_NULL();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	changed = rgpd_recompute_subject(sub);
	SPI_finish();
	PG_RETURN_INT64(changed);
}
