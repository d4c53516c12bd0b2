/*-------------------------------------------------------------------------
 *
 * roles.c
 *	  The personal-data manager right: who holds it (rgpd.is_manager(), with
 *	  the answer cached per backend for the row-level security policy that
 *	  asks for every archived row), and the refusal for those who do not.
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

PG_FUNCTION_INFO_V1(rgpd_is_manager_sql);

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

/* At module load: a role or a membership that changes empties the cache. */
void
rgpd_roles_init(void)
{
	CacheRegisterSyscacheCallback(AUTHOID, manager_cache_reset, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, manager_cache_reset, (Datum) 0);
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
