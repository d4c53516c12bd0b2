/*-------------------------------------------------------------------------
 *
 * statements.c
 *	  Saved plans of the statements the extension runs (built by kind in
 *	  subject_statements.c, link_statements.c and retention_statements.c),
 *	  and the search_path pinned around code that runs user predicates.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/guc.h"

#include "pericles_rgpd.h"

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
