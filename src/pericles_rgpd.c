/*-------------------------------------------------------------------------
 *
 * pericles_rgpd.c
 *	  Module entry point: settings (GUCs), and the few helpers every other
 *	  file uses to run internal SQL the way PostgreSQL's referential-
 *	  integrity triggers do — as the owner of the table touched, with
 *	  row-level security not forced, and marked as the extension's own write.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
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

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(rgpd_is_manager_sql);

void		_PG_init(void);

/* ---- settings ---- */
bool		rgpd_auto_anonymise = false;
bool		rgpd_require_export = false;
char	   *rgpd_mask_text = NULL;
char	   *rgpd_export_ttl = NULL;
char	   *rgpd_trusted_owners = NULL;

static bool check_export_ttl(char **newval, void **extra pg_attribute_unused(),
							 GucSource source pg_attribute_unused());
static bool check_mask_text(char **newval, void **extra pg_attribute_unused(),
							GucSource source pg_attribute_unused());
static void rgpd_xact_callback(XactEvent event, void *arg pg_attribute_unused());
static void manager_cache_reset(Datum arg, int cacheid, uint32 hashvalue);

/*
 * Module load: define the settings and reserve their prefix.
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("rgpd.auto_anonymise",
							 "Lets the monthly sweep anonymise what is due, not only archive it.",
							 "Off: the sweep archives, and the list of records to anonymise "
							 "waits for a personal-data manager.",
							 &rgpd_auto_anonymise,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("rgpd.require_export",
							 "Refuses to anonymise a record that was not exported recently.",
							 "On: rgpd.anonymise() and rgpd.forget() require an export of the "
							 "record within rgpd.export_ttl.",
							 &rgpd_require_export,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("rgpd.mask_text",
							   "Text written in place of erased personal text.",
							   "Pseudonyms are this text, an underscore and the record's key.",
							   &rgpd_mask_text,
							   "XXXXX",
							   PGC_SUSET,
							   0,
							   check_mask_text, NULL, NULL);

	DefineCustomStringVariable("rgpd.export_ttl",
							   "How long stored exports are kept before the sweep purges them.",
							   "An interval, such as '10 days'.",
							   &rgpd_export_ttl,
							   "10 days",
							   PGC_SUSET,
							   0,
							   check_export_ttl, NULL, NULL);

	DefineCustomStringVariable("rgpd.trusted_owners",
							   "Roles whose row-level security policies the lists may run with your rights.",
							   "A list over tables you did not name leaves out a table whose policies are "
							   "code of another role, unless that role is listed here.",
							   &rgpd_trusted_owners,
							   "",
							   PGC_USERSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("rgpd");

	RegisterXactCallback(rgpd_xact_callback, NULL);
	CacheRegisterSyscacheCallback(AUTHOID, manager_cache_reset, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, manager_cache_reset, (Datum) 0);
	rgpd_cache_init();
	rgpd_owner_code_init();
}

/*
 * rgpd.mask_text must be a non-empty text: an empty mask could not be told
 * from an application's empty value.
 */
static bool
check_mask_text(char **newval, void **extra pg_attribute_unused(),
				GucSource source pg_attribute_unused())
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("rgpd.mask_text must not be empty.");
		return false;
	}
	return true;
}

/*
 * rgpd.export_ttl must read as a positive interval.
 */
static bool
check_export_ttl(char **newval, void **extra pg_attribute_unused(),
				 GucSource source pg_attribute_unused())
{
	char		workbuf[256];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	struct pg_itm_in itm_in;
	Interval	span;

	if (*newval == NULL ||
		ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0 ||
		DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE,
					   &dtype, &itm_in) != 0 ||
		dtype != DTK_DELTA ||
		itmin2interval(&itm_in, &span) != 0)
	{
		GUC_check_errdetail("rgpd.export_ttl must be an interval, such as '10 days'.");
		return false;
	}
	if (span.month < 0 || span.day < 0 || span.time < 0 ||
		(span.month == 0 && span.day == 0 && span.time == 0))
	{
		GUC_check_errdetail("rgpd.export_ttl must be a positive interval.");
		return false;
	}
	return true;
}

/*
 * At the end of every transaction: no internal write can still be in
 * progress (the gate unwinds its level on error; this is the safety net),
 * and plans of invalidated cache entries can now be freed, since
 * nothing is executing them any more.
 */
static void
rgpd_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			rgpd_owner_code_reset();
			rgpd_cache_collect_garbage();
			break;
		default:
			break;
	}
}

/*
 * Prepare a statement and keep its plan for the life of the backend (or
 * until the cache that holds it is invalidated).
 */
SPIPlanPtr
rgpd_prepare(const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);
	if (plan == NULL)
		elog(ERROR, "pericles_rgpd: SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "pericles_rgpd: SPI_keepplan failed");
	return plan;
}

/*
 * Pin search_path to pg_catalog, pg_temp until rgpd_unpin_search_path():
 * used wherever SQL written by users (policy and exclusion predicates)
 * runs, as SECURITY DEFINER functions do with SET search_path.
 */
int
rgpd_pin_search_path(void)
{
	int			nest_level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest_level;
}

void
rgpd_unpin_search_path(int nest_level)
{
	AtEOXact_GUC(true, nest_level);
}

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

/*
 * Does the current user hold the personal-data manager right?
 */
bool
rgpd_is_manager(void)
{
	Oid			manager = get_role_oid(RGPD_MANAGER, true);

	if (superuser())
		return true;
	return OidIsValid(manager) && has_privs_of_role(GetUserId(), manager);
}

/*
 * The answer for the last user asked, until a role or a role membership
 * changes (syscache invalidation).  The row-level security policy calls
 * rgpd.is_manager() for every archived row a query meets.
 */
static Oid	manager_cache_user = InvalidOid;
static bool manager_cache_answer = false;
static bool manager_cache_valid = false;

static void
manager_cache_reset(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
					uint32 hashvalue pg_attribute_unused())
{
	manager_cache_valid = false;
}

/* rgpd.is_manager() */
Datum
rgpd_is_manager_sql(PG_FUNCTION_ARGS)
{
	Oid			user = GetUserId();

	if (!manager_cache_valid || user != manager_cache_user)
	{
		manager_cache_answer = rgpd_is_manager();
		manager_cache_user = user;
		manager_cache_valid = true;
	}
	PG_RETURN_BOOL(manager_cache_answer);
}

void
rgpd_require_manager(const char *action)
{
	if (!rgpd_is_manager())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", action),
				 errdetail("Only members of role \"%s\" may %s.",
						   RGPD_MANAGER, action),
				 errhint("A superuser can run: GRANT %s TO %s;",
						 RGPD_MANAGER,
						 quote_identifier(rgpd_current_user_name()))));
}

char *
rgpd_current_user_name(void)
{
	return GetUserNameFromId(GetUserId(), false);
}

/* The pg_enum OID of a label of rgpd.status (InvalidOid if it has none). */
Oid
rgpd_status_label(Oid statustype, const char *label)
{
	return GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
						   ObjectIdGetDatum(statustype), CStringGetDatum(label));
}

/* Qualified, quoted name of a table, for messages. */
char *
rgpd_relname(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		return psprintf("%u", relid);
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/*
 * Generated SQL lives in one place, the PL/pgSQL function rgpd._sql(), so
 * that what the C code runs can be read (and tested) from SQL.
 */
char *
rgpd_generated_sql(Oid subject, const char *what, Oid link, const char *column)
{
	Oid			argtypes[4] = {REGCLASSOID, TEXTOID, REGCLASSOID, NAMEOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		d;
	char	   *result;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = ObjectIdGetDatum(subject);
	values[1] = CStringGetTextDatum(what);
	if (OidIsValid(link))
		values[2] = ObjectIdGetDatum(link);
	else
		nulls[2] = 'n';
	if (column)
		values[3] = DirectFunctionCall1(namein, CStringGetDatum(column));
	else
		nulls[3] = 'n';

	if (SPI_execute_with_args("SELECT rgpd._sql($1, $2, $3, $4)", 4, argtypes,
							  values, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "pericles_rgpd: rgpd._sql(%u, %s) failed", subject, what);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	/* copy out of the SPI result, into the caller's context */
	result = MemoryContextStrdup(caller, TextDatumGetCString(d));
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/* ---- arrays of bigint keys ---- */

ArrayType *
rgpd_int8_array(int64 *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(values[i]);
	return construct_array(elems, n, INT8OID, sizeof(int64),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * The first column (bigint) of the rows SPI returned, as an array; the
 * tuple table is freed.
 */
int64 *
rgpd_spi_int64_column(int *n)
{
	int64	   *values = palloc(sizeof(int64) * Max(SPI_processed, 1));
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		values[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												SPI_tuptable->tupdesc, 1, &isnull));
	}
	*n = (int) SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	return values;
}

int64 *
rgpd_array_to_int64(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int64	   *result;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("ids must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, n);
	result = palloc(sizeof(int64) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("ids must not contain NULL")));
		result[i] = DatumGetInt64(elems[i]);
	}
	return result;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Sort and remove duplicates in place; returns the new length. */
int
rgpd_sort_unique_int64(int64 *values, int n)
{
	int			i,
				j;

	if (n <= 1)
		return n;
	qsort(values, n, sizeof(int64), cmp_int64);
	for (i = 1, j = 1; i < n; i++)
		if (values[i] != values[j - 1])
			values[j++] = values[i];
	return j;
}

/* "1, 2, 3" (at most ten, then "…"), for messages. */
const char *
rgpd_format_ids(int64 *ids, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n && i < 10; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i ? ", " : "", ids[i]);
	if (n > 10)
		appendStringInfo(&buf, ", … (%d in all)", n);
	return buf.data;
}
