/*-------------------------------------------------------------------------
 *
 * archive.c
 *	  The restricted archive and the way back out of it: rgpd.archive(),
 *	  rgpd.unarchive() and rgpd.optin(), the archived marker of linked rows,
 *	  and the journal every action writes to.
 *
 *	  Every action locks the subject rows it works on, checks them all
 *	  before changing anything (unknown ids are an error, and for a caller
 *	  who is not a manager an archived row is as unknown as a missing one),
 *	  then writes set-wise as the owner of each table.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"

#include "pericles_rgpd.h"
#include "contact_engine.h"

PG_FUNCTION_INFO_V1(rgpd_archive);
PG_FUNCTION_INFO_V1(rgpd_unarchive);
PG_FUNCTION_INFO_V1(rgpd_optin);

/* ---- helpers shared by the actions ---- */

Oid
rgpd_rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("registered table with OID %u no longer exists", relid),
				 errhint("Its registration can be removed with rgpd.unregister_subject().")));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* A jsonb value from JSON text. */
Jsonb *
rgpd_jsonb(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/* {"k1": "v1", "k2": "v2", …} from npairs pairs of strings (NULL: null) */
Jsonb *
rgpd_jsonb_object(int npairs,...)
{
	StringInfoData buf;
	va_list		args;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	va_start(args, npairs);
	for (i = 0; i < npairs; i++)
	{
		const char *key = va_arg(args, const char *);
		const char *value = va_arg(args, const char *);

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, key);
		appendStringInfoString(&buf, ": ");
		if (value)
			escape_json(&buf, value);
		else
			appendStringInfoString(&buf, "null");
	}
	va_end(args);
	appendStringInfoChar(&buf, '}');
	return rgpd_jsonb(buf.data);
}

/* {"reason": "<reason>"} */
Jsonb *
rgpd_reason_detail(const char *reason)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"reason\": ");
	escape_json(&buf, reason ? reason : "");
	appendStringInfoChar(&buf, '}');
	return rgpd_jsonb(buf.data);
}

/* The ids of an id or ids argument, sorted and without duplicates. */
int64 *
rgpd_ids_arg(FunctionCallInfo fcinfo, int argno, int *n)
{
	int64	   *ids;

	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == INT8ARRAYOID)
		ids = rgpd_array_to_int64(PG_GETARG_ARRAYTYPE_P(argno), n);
	else
	{
		ids = palloc(sizeof(int64));
		ids[0] = PG_GETARG_INT64(argno);
		*n = 1;
	}
	*n = rgpd_sort_unique_int64(ids, *n);
	return ids;
}

/*
 * Write journal entries, as the extension's owner: one per id, each with
 * its own detail (details[i]) or the common one (detail); with no ids, one
 * entry about the table (or about no table when subject is InvalidOid).
 */
void
rgpd_journal(const char *action, Oid subject, int64 *ids, int n,
			 Jsonb **details, Jsonb *detail)
{
	Oid			argtypes[6] = {NAMEOID, TEXTOID, REGCLASSOID, INT8ARRAYOID,
	JSONBARRAYOID, JSONBOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Datum	   *elems;
	int			i;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	values[1] = CStringGetTextDatum(action);
	if (OidIsValid(subject))
		values[2] = ObjectIdGetDatum(subject);
	else
		nulls[2] = 'n';
	if (detail)
		values[5] = JsonbPGetDatum(detail);
	else
		values[5] = JsonbPGetDatum(rgpd_jsonb("{}"));

	if (ids == NULL)
	{
		nulls[3] = nulls[4] = 'n';
		rgpd_execute("INSERT INTO rgpd.journal (actor, action, subject, subject_id, detail)"
					 " VALUES ($1, $2, $3, NULL, $6)",
					 6, argtypes, values, nulls, rgpd_extension_owner(), true, 0);
		return;
	}
	if (n == 0)
		return;
	values[3] = PointerGetDatum(rgpd_int8_array(ids, n));
	if (details)
	{
		elems = palloc(sizeof(Datum) * n);
		for (i = 0; i < n; i++)
			elems[i] = JsonbPGetDatum(details[i]);
		values[4] = PointerGetDatum(construct_array(elems, n, JSONBOID, -1, false,
													TYPALIGN_INT));
	}
	else
		nulls[4] = 'n';
	rgpd_execute("INSERT INTO rgpd.journal (actor, action, subject, subject_id, detail)"
				 " SELECT $1, $2, $3, u.id, coalesce(u.detail, $6)"
				 "   FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.int8[]),"
				 "                   pg_catalog.unnest($5::pg_catalog.jsonb[])) AS u(id, detail)"
				 "  WHERE u.id IS NOT NULL",
				 6, argtypes, values, nulls, rgpd_extension_owner(), true, 0);
}

/*
 * Lock subject rows FOR UPDATE (in key order), as the owner of the table,
 * and report their state.  Unknown ids are an error (P0002), unless
 * missing_ok; when hide_archived, archived rows count as unknown, so that
 * a caller who may not see the archive cannot learn what it holds.
 */
RgpdLocked *
rgpd_lock_subjects(RgpdSubject *sub, int64 *ids, int n, bool hide_archived,
				   bool missing_ok, Datum at)
{
	return rgpd_read_subjects(sub, ids, n, hide_archived, missing_ok, at, true);
}

/* The same, locking the rows only when for_update. */
RgpdLocked *
rgpd_read_subjects(RgpdSubject *sub, int64 *ids, int n, bool hide_archived,
				   bool missing_ok, Datum at, bool for_update)
{
	Oid			argtypes[2] = {INT8ARRAYOID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	RgpdLocked *locked = palloc0(sizeof(RgpdLocked));
	int64	   *missing = palloc(sizeof(int64) * Max(n, 1));
	int			nmissing = 0;
	uint64		i;
	int			k = 0;
	char	   *sql;

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	if (at)
		values[1] = at;
	else
		nulls[1] = 'n';
	sql = rgpd_generated_sql(sub->relid, for_update ? "lock_status" : "peek_status",
							 InvalidOid, NULL);
	rgpd_execute(sql, 2, argtypes, values, nulls, sub->owner, true, 0);

	locked->ids = palloc(sizeof(int64) * Max(SPI_processed, 1));
	locked->status = palloc(sizeof(char *) * Max(SPI_processed, 1));
	locked->negotiator = palloc(sizeof(char *) * Max(SPI_processed, 1));
	locked->day = palloc(sizeof(DateADT) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *status = SPI_getvalue(tup, desc, 2);
		Datum		day = SPI_getbinval(tup, desc, 4, &isnull);

		if (hide_archived && strcmp(status, RGPD_ARCHIVED) == 0)
			continue;
		locked->ids[locked->n] = id;
		locked->status[locked->n] = status;
		locked->negotiator[locked->n] = SPI_getvalue(tup, desc, 3);
		locked->day[locked->n] = isnull ? 0 : DatumGetDateADT(day);
		locked->n++;
	}
	SPI_freetuptable(SPI_tuptable);

	/*
	 * Rows the caller may not see in the table itself (its row-level
	 * security, the restricted archive; for a write, the rows it may not
	 * update) are unknown to the caller.  An opt-in, which is what brings
	 * archived rows back, may name an archived row the caller cannot see
	 * only if the caller holds the privileges of the table's owner (the
	 * application's own role); an agent cannot un-archive that way.
	 */
	if (locked->n > 0 && !rgpd_caller_privileged())
	{
		int64	   *visible = palloc(sizeof(int64) * locked->n);
		int			nvisible;
		int			j = 0,
					v = 0;
		bool		owner = !hide_archived && has_privs_of_role(GetUserId(), sub->owner);

		memcpy(visible, locked->ids, sizeof(int64) * locked->n);
		nvisible = rgpd_caller_visible(sub, visible, locked->n,
									   RGPD_SEE_NAMED | (for_update ? RGPD_SEE_WRITE : 0));
		for (i = 0; (int) i < locked->n; i++)
		{
			while (v < nvisible && visible[v] < locked->ids[i])
				v++;
			if (!(v < nvisible && visible[v] == locked->ids[i]) &&
				!(owner && strcmp(locked->status[i], RGPD_ARCHIVED) == 0))
				continue;
			locked->ids[j] = locked->ids[i];
			locked->status[j] = locked->status[i];
			locked->negotiator[j] = locked->negotiator[i];
			locked->day[j] = locked->day[i];
			j++;
		}
		locked->n = j;
	}

	/* both lists are sorted */
	for (i = 0; (int) i < n; i++)
	{
		while (k < locked->n && locked->ids[k] < ids[i])
			k++;
		if (k >= locked->n || locked->ids[k] != ids[i])
			missing[nmissing++] = ids[i];
	}
	if (nmissing > 0 && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("table %s has no row with %s = %s",
						sub->relname, quote_identifier(sub->key_column),
						rgpd_format_ids(missing, nmissing)),
				 errdetail("Nothing was changed.")));
	return locked;
}

/* Has the caller this privilege on the table (or on any of its columns)? */
bool
rgpd_may(Oid relid, AclMode mode)
{
	return pg_class_aclcheck(relid, GetUserId(), mode) == ACLCHECK_OK ||
		pg_attribute_aclcheck_all(relid, GetUserId(), mode, ACLMASK_ANY) == ACLCHECK_OK;
}

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
		char	   *sql = rgpd_generated_sql(sub->relid,
											 archived ? "mark_archived" : "mark_active",
											 sub->links[i], NULL);

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
change_status(RgpdSubject *sub, const char *what, int64 *ids, int n, int *nchanged)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *changed;
	char	   *sql = rgpd_generated_sql(sub->relid, what, InvalidOid, NULL);

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
	int64	   *changed = change_status(sub, "unarchive", ids, n, &nchanged);

	rgpd_mark_links(sub, changed, nchanged, false);
	rgpd_restore_link_values(sub, changed, nchanged);
	rgpd_journal("unarchive", sub->relid, changed, nchanged, NULL,
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

			rgpd_journal("contact_on_archived", sub->relid, archived, narchived,
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
		rgpd_journal("unarchive", sub->relid, changed, nchanged, NULL,
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
	locked = rgpd_lock_subjects(sub, ids, n, !manager, false, (Datum) 0);
	for (i = 0; i < locked->n; i++)
	{
		if (strcmp(locked->status[i], RGPD_ANONYMISED) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("row " INT64_FORMAT " of table %s is anonymised and cannot be archived",
							locked->ids[i], sub->relname),
					 errdetail("Nothing was changed.")));
		if (strcmp(locked->status[i], RGPD_ARCHIVED) == 0)
			ereport(NOTICE,
					(errmsg("row " INT64_FORMAT " of table %s is already archived",
							locked->ids[i], sub->relname)));
		else
			targets[ntargets++] = locked->ids[i];
	}
	/* nothing to archive (no ids, or all archived already): nothing journaled */
	if (ntargets > 0)
		changed = change_status(sub, "archive", targets, ntargets, &nchanged);
	if (nchanged > 0)
	{
		rgpd_mark_links(sub, changed, nchanged, true);
		rgpd_archive_link_values(sub, changed, nchanged);
		rgpd_journal("archive", relid, changed, nchanged, NULL, rgpd_reason_detail("manual"));
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
	locked = rgpd_lock_subjects(sub, ids, n, false, false, (Datum) 0);
	for (i = 0; i < locked->n; i++)
	{
		if (strcmp(locked->status[i], RGPD_ANONYMISED) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("row " INT64_FORMAT " of table %s is anonymised", locked->ids[i],
							sub->relname),
					 errdetail("Anonymisation is irreversible; nothing was changed.")));
		if (strcmp(locked->status[i], RGPD_ARCHIVED) != 0)
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

/* ---- rgpd.optin() ---- */

/*
 * Record an opt-in of one subject row (SPI connected, search_path pinned),
 * with the current user's rights: the event kept as proof, the contact,
 * out of the archive whatever the dates, the recontact task for the
 * record's negotiator, the journal line.  token_id and caller are set for
 * an opt-in by token (src/optin_token.c), which runs this as the table's
 * owner: the journal then names the role that presented the token.
 * Returns the opt-in event's id.
 */
int64
rgpd_record_optin(RgpdSubject *sub, int64 id, const char *origin, Datum at,
				  const char *token_id, const char *caller)
{
	Oid			relid = sub->relid;
	RgpdLocked *locked;
	Oid			argtypes[5] = {REGCLASSOID, INT8OID, TIMESTAMPTZOID, TEXTOID, NAMEOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		event;
	bool		isnull;
	RgpdContact contact;
	RgpdRaised	raised;
	StringInfoData detail;

	locked = rgpd_lock_subjects(sub, &id, 1, false, false, at);
	if (strcmp(locked->status[0], RGPD_ANONYMISED) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row " INT64_FORMAT " of table %s is anonymised", id, sub->relname),
				 errdetail("An anonymised person cannot opt in again; nothing was changed.")));

	/* the proof */
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	values[2] = at;
	values[3] = CStringGetTextDatum(origin);
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	rgpd_execute("INSERT INTO rgpd.optin_events (subject, subject_id, at, origin, recorded_by)"
				 " VALUES ($1, $2, $3, $4, $5) RETURNING id",
				 5, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	event = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);

	/* the contact, then out of the archive whatever the dates */
	contact.id = id;
	contact.date = locked->day[0];
	contact.has_date = true;
	contact.arrival = false;
	contact.locked = true;		/* locked FOR UPDATE above */
	rgpd_raise_contacts(sub, &contact, 1, &raised);
	if (raised.nrevived > 0)
		rgpd_unarchive_fresh(sub, raised.revived, raised.nrevived, "optin");
	if (strcmp(locked->status[0], RGPD_ARCHIVED) == 0)
		rgpd_unarchive_ids(sub, &id, 1, "optin");

	/* the recontact task */
	values[2] = Int64GetDatum(event);
	argtypes[2] = INT8OID;
	if (locked->negotiator[0])
		values[3] = CStringGetTextDatum(locked->negotiator[0]);
	else
		nulls[3] = 'n';
	rgpd_execute("INSERT INTO rgpd.recontact_tasks (subject, subject_id, optin_id, negotiator, reason)"
				 " VALUES ($1, $2, $3, $4, 'optin')",
				 4, argtypes, values, nulls, rgpd_extension_owner(), true, 0);

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"optin_id\": " INT64_FORMAT ", \"origin\": ", event);
	escape_json(&detail, origin);
	if (token_id)
	{
		appendStringInfoString(&detail, ", \"token\": ");
		escape_json(&detail, token_id);
	}
	if (caller)
	{
		appendStringInfoString(&detail, ", \"caller\": ");
		escape_json(&detail, caller);
	}
	appendStringInfoString(&detail, "}");
	rgpd_journal("optin", relid, &id, 1, NULL, rgpd_jsonb(detail.data));
	return event;
}

/*
 * rgpd.optin(subject, id, origin, at): the person answered "yes, let's stay
 * in touch".  The event is kept as proof, counts as a contact, brings the
 * record (and its linked rows) out of the archive, and creates a recontact
 * task for the record's negotiator.  Works for a caller who cannot see the
 * archived row: the application's role needs UPDATE on the table.  (A
 * reply that does not come through the application's role — a link in a
 * re-consent e-mail — is recorded with rgpd.optin(token, origin).)
 */
Datum
rgpd_optin(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *origin;
	Datum		at;
	RgpdSubject *sub;
	int64		event;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject, id, origin and time of an opt-in must not be NULL")));
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	origin = text_to_cstring(PG_GETARG_TEXT_PP(2));
	at = PG_GETARG_DATUM(3);
	rgpd_check_text_length(origin, "origin of an opt-in");
	rgpd_check_event_time(at, "an opt-in");
	if (origin[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("origin of an opt-in must not be empty"),
				 errhint("Say where the answer came from, e.g. 'reconsent-email-2026-11'.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	if (!rgpd_is_manager() && !rgpd_may(relid, ACL_UPDATE))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to record an opt-in for table %s", sub->relname),
				 errhint("Recording an opt-in needs UPDATE on the table, or membership in %s.",
						 RGPD_MANAGER)));
	nest = rgpd_pin_search_path();
	event = rgpd_record_optin(sub, id, origin, at, NULL, NULL);
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(event);
}
