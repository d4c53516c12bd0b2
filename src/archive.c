/*-------------------------------------------------------------------------
 *
 * archive.c
 *	  The restricted archive and the way back out of it: rgpd.archive(),
 *	  rgpd.unarchive(), bringing back an archived row given a fresh
 *	  contact, and the archived marker of linked rows.
 *
 *	  Every action locks the subject rows it works on, checks them all
 *	  before changing anything (src/subject_rows.c), then writes set-wise
 *	  as the owner of each table.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"
#include "link_statements.h"
#include "contact_engine.h"

PG_FUNCTION_INFO_V1(rgpd_archive);
PG_FUNCTION_INFO_V1(rgpd_unarchive);

/*
 * Set or clear the archived marker of the rows of links registered with
 * archive_with_subject, for these subjects.  A row is marked when no
 * subject it points at is still active.  Returns the rows changed.
 */
int64
rgpd_mark_links(RgpdSubject *sub, int64 *ids, int n, bool archived)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64		changed = 0;
	int			i;

	if (n == 0)
		return 0;
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	for (i = 0; i < sub->nlinks; i++)
	{
		char	   *sql = rgpd_link_statement_sql(sub->relid, sub->links[i],
												  archived ? RGPD_LINK_MARK_ARCHIVED : RGPD_LINK_MARK_ACTIVE,
												  0);

		if (sql == NULL)
			continue;
		rgpd_execute(sql, 1, argtypes, values, NULL,
					 rgpd_rel_owner(sub->links[i]), true, 0);
		changed += SPI_processed;
	}
	return changed;
}

/* Run a generated status change on ids; returns the ids changed. */
static int64 *
change_status(RgpdSubject *sub, RgpdStatementKind kind, int64 *ids, int n, int *nchanged)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *changed;
	char	   *sql = rgpd_statement_sql(sub, kind);

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute(sql, 1, argtypes, values, NULL, sub->owner, true, 0);
	changed = rgpd_spi_int64_column(nchanged);
	*nchanged = rgpd_sort_unique_int64(changed, *nchanged);
	return changed;
}

/*
 * Un-archive subjects (already locked, known to be archived): status,
 * markers of linked rows, journal.
 */
void
rgpd_unarchive_ids(RgpdSubject *sub, int64 *ids, int n, const char *reason)
{
	int			nchanged;
	int64	   *changed = change_status(sub, RGPD_STMT_UNARCHIVE, ids, n, &nchanged);

	rgpd_mark_links(sub, changed, nchanged, false);
	rgpd_restore_link_values(sub, changed, nchanged);
	rgpd_journal_rows("unarchive", sub->relid, changed, nchanged, NULL,
				 rgpd_reason_detail(reason));
}

/*
 * May the current user bring archived rows of this table back by recording
 * a contact?  Those who may read the archive anyway: superusers, roles with
 * BYPASSRLS, managers, and the table's owner (the application itself,
 * which FORCE ROW LEVEL SECURITY only keeps from reading it by mistake).
 */
static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static bool
may_revive_archived(RgpdSubject *sub)
{
	Oid			user = GetUserId();

	return superuser() || has_bypassrls_privilege(user) || rgpd_is_manager() ||
		has_privs_of_role(user, sub->owner);
}

/*
 * Of these ids, those archived in the snapshot of the statement that
 * recorded the contact: rows the writer could not see when it acted.
 * Read as the owner, row security lifted, with the statement's own
 * snapshot (not a new one, which would see an archive committed since).
 */
static int64 *
archived_before(RgpdSubject *sub, int64 *ids, int n, int *narchived)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	char	   *sql;
	int64	   *found;

	sql = psprintf("SELECT CAST(s.%1$s AS pg_catalog.int8) FROM %2$s AS s"
				   " WHERE s.%1$s OPERATOR(pg_catalog.=) ANY ($1)"
				   "   AND s.rgpd_status OPERATOR(pg_catalog.=) 'archived'::rgpd.status",
				   quote_identifier(sub->key_column), sub->relname);
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_gate_execute(NULL, sql, 1, argtypes, values, NULL, sub->owner,
					  RGPD_GATE_NOFORCE_RLS | RGPD_GATE_READ_ONLY, 0);
	found = rgpd_spi_int64_column(narchived);
	*narchived = rgpd_sort_unique_int64(found, *narchived);
	pfree(sql);
	return found;
}

/*
 * An archived subject was given a contact: bring it back if that contact
 * makes it no longer due for archiving this month.  Runs its policies'
 * predicates, hence under a pinned search_path.
 *
 * A writer who may not read the archive brings back only the rows it saw
 * active when its statement began (the sweep archived them while it was
 * writing: 1.0 left them archived with a fresh contact).  A row it could
 * not see keeps its archived status: last_contact stays exact, the
 * contact is journaled (contact_on_archived, identifiers only) for the
 * managers to decide, and nobody lifts the restricted archive by inserting
 * rows that name archived people.
 */
void
rgpd_unarchive_fresh(RgpdSubject *sub, int64 *ids, int n, const char *reason)
{
	Datum		values[1];
	int64	   *changed;
	int			nchanged;
	int			nest;

	if (n > 0 && !may_revive_archived(sub))
	{
		int			narchived;
		int64	   *archived = archived_before(sub, ids, n, &narchived);

		if (narchived > 0)
		{
			int			i,
						j = 0;

			rgpd_journal_rows("contact_on_archived", sub->relid, archived, narchived,
						 NULL, rgpd_reason_detail(reason));
			/* keep the ids that are not in the (sorted) archived list */
			for (i = 0; i < n; i++)
				if (bsearch(&ids[i], archived, narchived, sizeof(int64),
							cmp_int64) == NULL)
					ids[j++] = ids[i];
			n = j;
		}
		if (n == 0)
			return;
	}

	nest = rgpd_pin_search_path();
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute_plan(rgpd_subject_plan(sub, RGPD_STMT_UNARCHIVE_FRESH),
					  values, NULL, sub->owner, true, 0);
	changed = rgpd_spi_int64_column(&nchanged);
	if (nchanged > 0)
	{
		nchanged = rgpd_sort_unique_int64(changed, nchanged);
		rgpd_mark_links(sub, changed, nchanged, false);
		rgpd_restore_link_values(sub, changed, nchanged);
		rgpd_journal_rows("unarchive", sub->relid, changed, nchanged, NULL,
					 rgpd_reason_detail(reason));
	}
	rgpd_unpin_search_path(nest);
}

/* ---- rgpd.archive() and rgpd.unarchive() ---- */

/*
 * rgpd.archive(subject, id | ids): archive active rows; already archived
 * ones are left as they are (with a notice).  Managers, and roles that may
 * UPDATE the table.  Returns the number of rows archived.
 */
Datum
rgpd_archive(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int			n;
	int64	   *ids = rgpd_ids_arg(fcinfo, 1, &n);
	bool		manager = rgpd_is_manager();
	RgpdSubject *sub;
	RgpdLocked *locked;
	int64	   *targets = palloc(sizeof(int64) * Max(n, 1));
	int			ntargets = 0;
	int64	   *changed = NULL;
	int			nchanged = 0;
	int			i;
	int			nest;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	rgpd_require_reads(sub, "archive");
	/* archiving writes rgpd_status: UPDATE on it, not on any column */
	if (!manager &&
		pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, sub->status_attno, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to archive rows of table %s", sub->relname),
				 errhint("Archiving needs UPDATE on the table (or on its column rgpd_status), or membership in %s.",
						 RGPD_MANAGER)));
	nest = rgpd_pin_search_path();
	locked = rgpd_read_subjects(sub, ids, n,
								RGPD_READ_LOCK | (manager ? 0 : RGPD_READ_HIDE_ARCHIVED),
								(Datum) 0);
	for (i = 0; i < locked->n; i++)
	{
		if (locked->status[i] == RGPD_STATUS_ANONYMISED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("row " INT64_FORMAT " of table %s is anonymised and cannot be archived",
							locked->ids[i], sub->relname),
					 errdetail("Nothing was changed.")));
		if (locked->status[i] == RGPD_STATUS_ARCHIVED)
			ereport(NOTICE,
					(errmsg("row " INT64_FORMAT " of table %s is already archived",
							locked->ids[i], sub->relname)));
		else
			targets[ntargets++] = locked->ids[i];
	}
	/* nothing to archive (no ids, or all archived already): nothing journaled */
	if (ntargets > 0)
		changed = change_status(sub, RGPD_STMT_ARCHIVE, targets, ntargets, &nchanged);
	if (nchanged > 0)
	{
		rgpd_mark_links(sub, changed, nchanged, true);
		rgpd_archive_link_values(sub, changed, nchanged);
		rgpd_journal_rows("archive", relid, changed, nchanged, NULL, rgpd_reason_detail("manual"));
	}
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(nchanged);
}

/*
 * rgpd.unarchive(subject, id | ids): managers only.  Returns the number of
 * rows brought back.
 */
Datum
rgpd_unarchive(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int			n;
	int64	   *ids = rgpd_ids_arg(fcinfo, 1, &n);
	RgpdSubject *sub;
	RgpdLocked *locked;
	int64	   *targets = palloc(sizeof(int64) * Max(n, 1));
	int			ntargets = 0;
	int			i;
	int			nest;

	rgpd_require_manager("unarchive");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	rgpd_require_reads(sub, "unarchive");
	nest = rgpd_pin_search_path();
	locked = rgpd_read_subjects(sub, ids, n, RGPD_READ_LOCK, (Datum) 0);
	for (i = 0; i < locked->n; i++)
	{
		if (locked->status[i] == RGPD_STATUS_ANONYMISED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("row " INT64_FORMAT " of table %s is anonymised", locked->ids[i],
							sub->relname),
					 errdetail("Anonymisation is irreversible; nothing was changed.")));
		if (locked->status[i] != RGPD_STATUS_ARCHIVED)
			ereport(NOTICE,
					(errmsg("row " INT64_FORMAT " of table %s is not archived",
							locked->ids[i], sub->relname)));
		else
			targets[ntargets++] = locked->ids[i];
	}
	if (ntargets > 0)
		rgpd_unarchive_ids(sub, targets, ntargets, "manual");
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(ntargets);
}
