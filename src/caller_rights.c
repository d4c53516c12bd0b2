/*-------------------------------------------------------------------------
 *
 * caller_rights.c
 *	  What the calling user may read: the extension computes as the
 *	  table's owner (see owner_code.c), and gives back or acts on only what
 *	  the caller could read in the table itself.
 *
 *	  Privileged callers — superusers, roles with BYPASSRLS and members of
 *	  rgpd_manager — see every row of the tables they hold SELECT on: they
 *	  never run another role's row-level security policies.  For anybody
 *	  else on whom row security is in force, PostgreSQL itself answers
 *	  which rows the caller may see, by reading the keys back through the
 *	  gate as the caller — but only where the caller would run that code
 *	  anyway: a table it named in an action, or one whose owner it trusts
 *	  (rgpd_caller_visible()).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_readable_sql);

/* Superuser, BYPASSRLS or manager: sees every row of what it may read. */
bool
rgpd_caller_privileged(void)
{
	return superuser() || has_bypassrls_privilege(GetUserId()) || rgpd_is_manager();
}

/*
 * May the caller read the keys of this table: SELECT on the table or on
 * its key column?  A table that no longer exists is not readable.
 */
bool
rgpd_caller_reads(Oid relid, const char *key_column)
{
	AttrNumber	key;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return false;
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return true;
	key = key_column ? get_attnum(relid, key_column) : InvalidAttrNumber;
	return key != InvalidAttrNumber &&
		pg_attribute_aclcheck(relid, key, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
}

/*
 * Refuse an action on rows of a table the caller may not read at all: a
 * manager's right is over the archive, not over tables it was not granted.
 */
void
rgpd_require_reads(RgpdSubject *sub, const char *action)
{
	if (!rgpd_caller_reads(sub->relid, sub->key_column))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s rows of table %s", action, sub->relname),
				 errdetail("The caller may not read the table."),
				 errhint("Ask its owner for SELECT on the table (or on its column %s).",
						 quote_identifier(sub->key_column))));
}

/*
 * Refuse, with the table named, unless the caller may read every column of
 * it: what the extension returns from a table (an export) is whole rows.
 */
void
rgpd_caller_reads_all(Oid relid, const char *action)
{
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT,
								  ACLMASK_ALL) == ACLCHECK_OK)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s: no SELECT on table %s",
					action, rgpd_relname(relid)),
			 errdetail("The extension returns only what the caller may read itself."),
			 errhint("Ask the owner of the table for SELECT on all its columns, or ask a personal-data manager who has it.")));
}

/*
 * Row-level security policies on the table other than pericles_rgpd's own
 * restricted archive (whose code is the extension's, not the owner's)?  A
 * policy is the extension's only if it is exactly what registration
 * creates — name, kind, roles, command and expressions — since its owner
 * may ALTER it: a name proves nothing.  Expressions are compared deparsed
 * under the pinned search_path, so that they read the same whatever the
 * caller's.
 */
bool
rgpd_foreign_policies(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			nest;
	bool		foreign;

	values[0] = ObjectIdGetDatum(relid);
	nest = rgpd_pin_search_path();
	if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_policy AS p"
							  " WHERE p.polrelid OPERATOR(pg_catalog.=) $1"
							  "   AND NOT (p.polroles OPERATOR(pg_catalog.=) '{0}'::pg_catalog.oid[]"
							  "        AND p.polcmd OPERATOR(pg_catalog.=) '*'"
							  "        AND ((p.polname OPERATOR(pg_catalog.=) 'rgpd_visible' AND p.polpermissive"
							  "              AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) OPERATOR(pg_catalog.=) 'true'"
							  "              AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) OPERATOR(pg_catalog.=) 'true')"
							  "          OR (p.polname OPERATOR(pg_catalog.=) 'rgpd_restricted_archive' AND NOT p.polpermissive"
							  "              AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) OPERATOR(pg_catalog.=)"
							  "                  '((rgpd_status <> ''archived''::rgpd.status) OR rgpd.is_manager())'"
							  "              AND p.polwithcheck IS NULL)))",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read pg_policy");
	foreign = SPI_processed > 0;
	rgpd_unpin_search_path(nest);
	return foreign;
}

/*
 * Does the caller accept to run the code of this table's owner, with its
 * own rights, in a table it did not name?  Its own tables (it holds the
 * owner's privileges), and the owners it lists in rgpd.trusted_owners.
 */
bool
rgpd_caller_trusts(Oid relid)
{
	Oid			owner = rgpd_rel_owner(relid);
	char	   *list;
	List	   *names;
	ListCell   *lc;

	if (has_privs_of_role(GetUserId(), owner))
		return true;
	if (rgpd_trusted_owners == NULL || rgpd_trusted_owners[0] == '\0')
		return false;
	list = pstrdup(rgpd_trusted_owners);
	if (!SplitIdentifierString(list, ',', &names))
		return false;
	foreach(lc, names)
	{
		if (get_role_oid((char *) lfirst(lc), true) == owner)
			return true;
	}
	return false;
}

/*
 * Keep, of the sorted keys ids[0..n), those the caller may see in the
 * subject table (RGPD_SEE_WRITE: may also update, as SELECT … FOR UPDATE
 * would let it); returns how many (the array is filtered in place).
 *
 * Everybody needs SELECT on the table or its key column.  Privileged
 * callers then see every row.  For anybody else on whom row security is
 * in force, the keys are read back through the gate as the caller.  That
 * runs the table's policies with the caller's rights, as PostgreSQL does
 * when the caller reads the table: it is done for a table the caller named
 * (RGPD_SEE_NAMED: an action on it) or whose owner it trusts; in a list
 * over tables it did not name, a table with policies of another owner is
 * left out, with a NOTICE, rather than run that owner's code as the caller.
 */
int
rgpd_caller_visible(RgpdSubject *sub, int64 *ids, int n, int flags)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *seen;
	int			nseen,
				i,
				j,
				k;

	if (n == 0)
		return 0;
	if (!rgpd_caller_reads(sub->relid, sub->key_column))
		return 0;
	if (rgpd_caller_privileged())
		return n;
	if (check_enable_rls(sub->relid, InvalidOid, true) != RLS_ENABLED)
		return n;
	if (!(flags & RGPD_SEE_NAMED) && rgpd_foreign_policies(sub->relid) &&
		!rgpd_caller_trusts(sub->relid))
	{
		ereport(NOTICE,
				(errmsg("rows of table %s are left out: its row-level security policies are code of role \"%s\"",
						sub->relname, GetUserNameFromId(sub->owner, false)),
				 errhint("Name the table in an action, or have a superuser trust its owner: ALTER ROLE %s SET rgpd.trusted_owners = '%s'.",
						 quote_identifier(rgpd_current_user_name()),
						 quote_identifier(GetUserNameFromId(sub->owner, false)))));
		return 0;
	}

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_gate_execute(NULL,
					  psprintf("SELECT CAST(s.%1$s AS pg_catalog.int8) FROM %2$s AS s"
							   " WHERE s.%1$s OPERATOR(pg_catalog.=) ANY ($1)%3$s",
							   quote_identifier(sub->key_column), sub->relname,
							   (flags & RGPD_SEE_WRITE) ? " FOR UPDATE OF s" : ""),
					  1, argtypes, values, NULL, InvalidOid, 0, 0);
	seen = rgpd_spi_int64_column(&nseen);
	nseen = rgpd_sort_unique_int64(seen, nseen);

	/* both sorted: keep ids that were seen */
	for (i = 0, j = 0, k = 0; i < n; i++)
	{
		while (j < nseen && seen[j] < ids[i])
			j++;
		if (j < nseen && seen[j] == ids[i])
			ids[k++] = ids[i];
	}
	return k;
}

/*
 * May the caller read the keys of this registered table (under SPI)?  The
 * lists skip the tables for which it is false, before touching them, so
 * that a table the caller cannot read tells it nothing, not even that it
 * is broken.  rgpd._readable(tbl regclass) RETURNS boolean from SQL.
 */
bool
rgpd_caller_reads_subject(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	char	   *key = NULL;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return false;
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT s.key_column FROM rgpd.subjects AS s"
							  " WHERE s.subject OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		key = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return key != NULL && rgpd_caller_reads(relid, key);
}

Datum
rgpd_readable_sql(PG_FUNCTION_ARGS)
{
	bool		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	result = rgpd_caller_reads_subject(PG_GETARG_OID(0));
	SPI_finish();
	PG_RETURN_BOOL(result);
}

/*
 * The owner of a table, provided the caller holds that owner's privileges
 * (else "must be owner of table …", 42501): what the functions that act on
 * a table for its owner check first.
 */
Oid
rgpd_require_owner_rights(Oid relid)
{
	Oid			owner = rgpd_rel_owner(relid);

	if (!has_privs_of_role(GetUserId(), owner))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	return owner;
}
