/*-------------------------------------------------------------------------
 *
 * catalog_lookup.c
 *	  Names and owners looked up in the catalogs: the extension's owner,
 *	  a table's qualified name for messages, the labels of rgpd.status.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "pericles_rgpd.h"

/*
 * The extension's owner: the extension's own tables (journal, opt-in
 * events, exports) are written as this role.
 */
Oid
rgpd_extension_owner(void)
{
	Oid			extoid = get_extension_oid(RGPD_EXTENSION, false);
	Oid			owner = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		elog(ERROR, "pericles_rgpd: extension owner not found");
	return owner;
}

/* The pg_enum OID of a label of rgpd.status (InvalidOid if it has none). */
Oid
rgpd_status_label(Oid statustype, const char *label)
{
	return GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
						   ObjectIdGetDatum(statustype), CStringGetDatum(label));
}

/* The label of rgpd.status that stands for a status. */
const char *
rgpd_status_name(RgpdStatus status)
{
	switch (status)
	{
		case RGPD_STATUS_ACTIVE:
			return RGPD_ACTIVE;
		case RGPD_STATUS_ARCHIVED:
			return RGPD_ARCHIVED;
		case RGPD_STATUS_ANONYMISED:
			return RGPD_ANONYMISED;
	}
	elog(ERROR, "pericles_rgpd: unknown status %d", (int) status);
	return NULL;				/* keep compiler quiet */
}

const char *
rgpd_action_name(RgpdAction action)
{
	return action == RGPD_ACTION_ARCHIVE ? "archive" : "anonymise";
}

/* An action named by a caller: 'archive' or 'anonymise' (22023 otherwise). */
RgpdAction
rgpd_action_of_name(const char *name)
{
	if (strcmp(name, "archive") == 0)
		return RGPD_ACTION_ARCHIVE;
	if (strcmp(name, "anonymise") == 0)
		return RGPD_ACTION_ANONYMISE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown action \"%s\"", name),
			 errhint("Use 'archive' or 'anonymise'.")));
	return RGPD_ACTION_ARCHIVE;	/* keep compiler quiet */
}

/* The status a label of rgpd.status stands for. */
RgpdStatus
rgpd_status_of_label(const char *label)
{
	if (strcmp(label, RGPD_ACTIVE) == 0)
		return RGPD_STATUS_ACTIVE;
	if (strcmp(label, RGPD_ARCHIVED) == 0)
		return RGPD_STATUS_ARCHIVED;
	if (strcmp(label, RGPD_ANONYMISED) == 0)
		return RGPD_STATUS_ANONYMISED;
	elog(ERROR, "pericles_rgpd: unknown label \"%s\" of rgpd.status", label);
	return RGPD_STATUS_ACTIVE;	/* keep compiler quiet */
}

/* The status a pg_enum OID of rgpd.status stands for. */
RgpdStatus
rgpd_status_of_oid(Oid enumoid)
{
	HeapTuple	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enumoid));
	RgpdStatus	status;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "pericles_rgpd: cache lookup failed for enum value %u", enumoid);
	status = rgpd_status_of_label(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);
	return status;
}

/*
 * Qualified, quoted name of a table, for messages.  A temporary table is
 * named in pg_temp, as it is written, not in the pg_temp_N of a backend.
 */
char *
rgpd_relname(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	Oid			nsp;

	if (rel == NULL)
		return psprintf("%u", relid);
	nsp = get_rel_namespace(relid);
	return quote_qualified_identifier(isAnyTempNamespace(nsp) ? "pg_temp" : get_namespace_name(nsp), rel);
}

/* The owner of a registered table. */
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
