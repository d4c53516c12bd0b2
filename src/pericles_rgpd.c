/*-------------------------------------------------------------------------
 *
 * pericles_rgpd.c
 *	  Module entry point: the settings (GUCs), and what the end of every
 *	  transaction resets.
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
							   "Roles whose row-level security policies the lists may run with a role's rights.",
							   "A list over tables the caller did not name leaves out a table whose policies "
							   "are code of another role, unless that role is listed here.  Set by a superuser "
							   "(ALTER ROLE agent SET …), so that no code the role runs can widen it.",
							   &rgpd_trusted_owners,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("rgpd");

	RegisterXactCallback(rgpd_xact_callback, NULL);
	rgpd_roles_init();
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
