/*-------------------------------------------------------------------------
 *
 * config_deletes.c
 *	  Removing configuration rows (rgpd.subjects, rgpd.links, rgpd.policies,
 *	  rgpd.erasures, rgpd.partitions) on behalf of the owner of the tables
 *	  they name: rgpd._delete_config().
 *
 *	  Registration runs with the caller's rights and writes the
 *	  configuration tables itself, row-level security keeping each role to
 *	  the rows of its own tables.  INSERT and column UPDATE privileges are
 *	  enough for that, but DELETE exists only for the whole table, and a
 *	  table privilege of that kind is what LOCK TABLE checks: with DELETE
 *	  granted to PUBLIC, any role of the database could hold ACCESS
 *	  EXCLUSIVE on the configuration and stall every session's first
 *	  contact.  So nobody but the extension's owner holds DELETE; the
 *	  registration functions delete through this function, which checks
 *	  that the caller holds the privileges of the owner of every table the
 *	  rows name and then runs one of a fixed set of statements as the
 *	  extension's owner.  No statement text comes from the caller.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_delete_config);

/* What may be deleted, and how: $1 the table, $2 the other one, $3 a name. */
typedef struct ConfigDelete
{
	const char *what;
	bool		needs_other;	/* $2 names a second table */
	bool		needs_name;		/* $3 is a policy name */
	const char *sql;
} ConfigDelete;

static const ConfigDelete deletes[] = {
	/* a link's registration ($1 the link, $2 its subject) */
	{"link", true, false,
	 "DELETE FROM rgpd.links AS x WHERE x.link OPERATOR(pg_catalog.=) $1 AND x.subject OPERATOR(pg_catalog.=) $2"},
	/* the erasure methods of a table no registration names any more */
	{"unused_erasures", false, false,
	 "DELETE FROM rgpd.erasures AS e WHERE e.tbl OPERATOR(pg_catalog.=) $1"
	 "   AND NOT EXISTS (SELECT FROM rgpd.links AS x WHERE x.link OPERATOR(pg_catalog.=) $1)"
	 "   AND NOT EXISTS (SELECT FROM rgpd.subjects AS s WHERE s.subject OPERATOR(pg_catalog.=) $1)"},
	/* a subject's registration: its policies, erasure methods and row */
	{"subject", false, false,
	 "WITH p AS (DELETE FROM rgpd.policies AS p WHERE p.subject OPERATOR(pg_catalog.=) $1),"
	 "     e AS (DELETE FROM rgpd.erasures AS e WHERE e.tbl OPERATOR(pg_catalog.=) $1)"
	 " DELETE FROM rgpd.subjects AS x WHERE x.subject OPERATOR(pg_catalog.=) $1"},
	/* one named policy of a subject */
	{"policy", false, true,
	 "DELETE FROM rgpd.policies AS p WHERE p.subject OPERATOR(pg_catalog.=) $1 AND p.name OPERATOR(pg_catalog.=) $3"},
	/* what was changed on the partitions of a subject */
	{"partitions", false, false,
	 "DELETE FROM rgpd.partitions AS x WHERE x.subject OPERATOR(pg_catalog.=) $1"},
	/* ... of those no longer in its partition tree */
	{"left_partitions", false, false,
	 "DELETE FROM rgpd.partitions AS x WHERE x.subject OPERATOR(pg_catalog.=) $1"
	 "   AND x.partition OPERATOR(pg_catalog.<>) ALL (SELECT t.relid FROM pg_catalog.pg_partition_tree($1) AS t)"},
};

/*
 * rgpd._delete_config(what text, tbl regclass, other regclass DEFAULT NULL,
 *                     name text DEFAULT NULL) RETURNS bigint
 * Deletes the configuration rows `what` names (see deletes[]) for tables
 * whose owner's privileges the caller holds; returns how many rows the
 * last statement deleted.
 */
Datum
rgpd_delete_config(PG_FUNCTION_ARGS)
{
	const char *what;
	const ConfigDelete *d = NULL;
	Oid			argtypes[3] = {REGCLASSOID, REGCLASSOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', 'n', 'n'};
	int			i;
	int64		deleted;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rgpd._delete_config needs what to delete and a table")));
	what = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (i = 0; i < (int) lengthof(deletes); i++)
		if (strcmp(deletes[i].what, what) == 0)
			d = &deletes[i];
	if (d == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown kind of configuration \"%s\"", what)));
	if ((d->needs_other && PG_ARGISNULL(2)) || (d->needs_name && PG_ARGISNULL(3)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rgpd._delete_config('%s') needs %s", what,
						d->needs_other ? "a second table" : "a name")));

	values[0] = PG_GETARG_DATUM(1);
	(void) rgpd_require_owner_rights(DatumGetObjectId(values[0]));
	if (d->needs_other)
	{
		values[1] = PG_GETARG_DATUM(2);
		nulls[1] = ' ';
		(void) rgpd_require_owner_rights(DatumGetObjectId(values[1]));
	}
	if (d->needs_name)
	{
		values[2] = PG_GETARG_DATUM(3);
		nulls[2] = ' ';
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_execute(d->sql, 3, argtypes, values, nulls, rgpd_extension_owner(), false, 0);
	deleted = (int64) SPI_processed;
	SPI_finish();
	PG_RETURN_INT64(deleted);
}
