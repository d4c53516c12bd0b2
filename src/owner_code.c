/*-------------------------------------------------------------------------
 *
 * owner_code.c
 *	  The one gate through which pericles_rgpd runs SQL that touches a
 *	  table someone else controls.
 *
 *	  A statement on an application's table may run code its owner wrote:
 *	  triggers, CHECK and DEFAULT expressions, index expressions, row-level
 *	  security policies, operators and functions named in a registered
 *	  predicate.  Every such statement runs here, the way PostgreSQL's
 *	  maintenance commands (VACUUM, ANALYZE, CREATE INDEX, REFRESH
 *	  MATERIALIZED VIEW) run index expressions since CVE-2020-25695 and
 *	  CVE-2022-1552:
 *	    - as one role chosen by the caller of the gate (the table's owner
 *	      for owner-side work, the calling user to ask what that user may
 *	      see), never as whoever happens to call the extension;
 *	    - inside a security-restricted operation, so that the code cannot
 *	      change role, create temporary objects or leave cursors behind;
 *	    - under a new GUC nesting level with search_path pinned to
 *	      pg_catalog, pg_temp, rolled back when the statement ends, so that
 *	      no setting the code changes (search_path above all) outlives it.
 *
 *	  The gate also knows which statement is the extension's own write.
 *	  The triggers leave the extension's writes alone (they are not
 *	  contacts, and they may write the derived columns); only the
 *	  statement the gate runs counts, never a statement that user code
 *	  fired from it: the gate records the executor nesting level of its
 *	  statement, and rgpd_internal_write() is true at that level only.
 *
 *	  Work that must not let one broken table stop everybody else's runs
 *	  through rgpd_isolated(): a subtransaction whose error becomes a
 *	  WARNING naming the table.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pericles_rgpd.h"

/* What user code sees as search_path while the gate runs it. */
#define PINNED_SEARCH_PATH "pg_catalog, pg_temp"

/*
 * Executor nesting depth, counted around ExecutorRun and ExecutorFinish as
 * pg_stat_statements does: a trigger fired by a statement runs at that
 * statement's depth, a statement run by the trigger one level deeper.
 */
static int	executor_depth = 0;

/* Depth of the statement the gate is running as the extension's own write. */
static int	internal_level = 0;

static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;

static void
gate_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				 bool execute_once)
{
	executor_depth++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		executor_depth--;
	}
	PG_END_TRY();
}

static void
gate_ExecutorFinish(QueryDesc *queryDesc)
{
	executor_depth++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		executor_depth--;
	}
	PG_END_TRY();
}

void
rgpd_owner_code_init(void)
{
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = gate_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = gate_ExecutorFinish;
}

/* At the end of every transaction: no statement of ours is running. */
void
rgpd_owner_code_reset(void)
{
	internal_level = 0;
}

/*
 * Is the statement whose trigger is running the extension's own write?
 * Only at the very level the gate ran it: a statement that a user's
 * trigger runs from inside it is the user's.
 */
bool
rgpd_internal_write(void)
{
	return internal_level > 0 && executor_depth == internal_level;
}

/*
 * Entering and leaving the gate: what the role, the security context and
 * the settings were, to be put back.
 */
typedef struct Gate
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_level;
} Gate;

static void
gate_enter(Gate *g, Oid role, int flags)
{
	int			sec_context;

	GetUserIdAndSecContext(&g->save_userid, &g->save_sec_context);
	sec_context = g->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
		SECURITY_RESTRICTED_OPERATION;
	if (flags & RGPD_GATE_NOFORCE_RLS)
		sec_context |= SECURITY_NOFORCE_RLS;

	g->guc_level = NewGUCNestLevel();
	if (namespace_search_path == NULL ||
		strcmp(namespace_search_path, PINNED_SEARCH_PATH) != 0)
		(void) set_config_option("search_path", PINNED_SEARCH_PATH,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(OidIsValid(role) ? role : g->save_userid, sec_context);
}

/* The role now, also on error (called from PG_FINALLY). */
static void
gate_restore_role(Gate *g)
{
	SetUserIdAndSecContext(g->save_userid, g->save_sec_context);
}

/*
 * The settings, on success only: on error the GUC level is unwound by the
 * (sub)transaction abort that every error reaches, as for VACUUM.
 */
static void
gate_leave(Gate *g)
{
	AtEOXact_GUC(false, g->guc_level);
}

/*
 * Run a saved plan or a statement through the gate.  Errors unwind the
 * role and the internal-write level here.
 */
int
rgpd_gate_execute(SPIPlanPtr plan, const char *sql, int nargs, Oid *argtypes,
				  Datum *values, const char *nulls, Oid role, int flags,
				  long tcount)
{
	Gate		g;
	int			save_internal = internal_level;
	volatile int ret = 0;

	gate_enter(&g, role, flags);
	if (flags & RGPD_GATE_INTERNAL)
		internal_level = executor_depth + 1;
	else
		internal_level = 0;
	PG_TRY();
	{
		bool		read_only = (flags & RGPD_GATE_READ_ONLY) != 0;

		if (plan)
			ret = SPI_execute_plan(plan, values, nulls, read_only, tcount);
		else
			ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
										read_only, tcount);
	}
	PG_FINALLY();
	{
		internal_level = save_internal;
		gate_restore_role(&g);
	}
	PG_END_TRY();
	gate_leave(&g);

	if (ret < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pericles_rgpd: %s failed: %s",
						plan ? "SPI_execute_plan" : "SPI_execute_with_args",
						SPI_result_code_string(ret))));
	return ret;
}

/*
 * Prepare and keep a plan in the very context the gate will run it in:
 * as `role`, security-restricted, search_path pinned, and with the
 * role's FORCE ROW LEVEL SECURITY lifted when the flags say so.  The
 * plan cache re-analyses a saved statement when the role, row_security
 * or search_path differ from those it was analysed under, but it does not
 * know SECURITY_NOFORCE_RLS: a statement the table's owner prepared
 * outside the gate would keep the owner's forced policies (the restricted
 * archive) when the gate runs it as that same owner with them lifted.
 * A plan prepared here must only be run with the same flags.
 */
SPIPlanPtr
rgpd_gate_prepare(const char *sql, int nargs, Oid *argtypes, int cursor_options,
				  Oid role, int flags)
{
	Gate		g;
	SPIPlanPtr volatile plan = NULL;

	gate_enter(&g, role, flags);
	PG_TRY();
	{
		plan = rgpd_prepare(sql, nargs, argtypes, cursor_options);
	}
	PG_FINALLY();
	{
		gate_restore_role(&g);
	}
	PG_END_TRY();
	gate_leave(&g);
	return plan;
}

int
rgpd_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls,
				  Oid role, bool internal, long tcount)
{
	return rgpd_gate_execute(plan, NULL, 0, NULL, values, nulls, role,
							 RGPD_GATE_NOFORCE_RLS |
							 (internal ? RGPD_GATE_INTERNAL : 0), tcount);
}

int
rgpd_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
			 const char *nulls, Oid role, bool internal, long tcount)
{
	return rgpd_gate_execute(NULL, sql, nargs, argtypes, values, nulls, role,
							 RGPD_GATE_NOFORCE_RLS |
							 (internal ? RGPD_GATE_INTERNAL : 0), tcount);
}

/*
 * Run fn(arg) in a subtransaction.  If it fails, the subtransaction is
 * rolled back, the error becomes a WARNING that names the table, and the
 * error's SQLSTATE and message are returned for the caller to journal
 * (NULL when fn succeeded).  SPI must be connected by the caller; what fn
 * leaves in SPI's tuple table survives a success.
 */
ErrorData *
rgpd_isolated(void (*fn) (void *arg), void *arg, Oid relid, const char *what)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		/*
		 * A real cancel or statement timeout (raised by ProcessInterrupts,
		 * not by the table's code with the same SQLSTATE) stops everything.
		 * A lock timeout is about this table only (its owner, or the
		 * application, holds a lock on it): the table is skipped and taken
		 * by the next run, as rows the application has locked are.
		 */
		if (edata->funcname && strcmp(edata->funcname, "ProcessInterrupts") == 0 &&
			edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("pericles_rgpd skipped table %s in %s: %s",
						rgpd_relname(relid), what, edata->message),
				 errdetail("The other registered tables were processed."),
				 errhint("The owner of the table can repair it; rgpd.verify() and the journal tell what was skipped.")));
	}
	PG_END_TRY();
	return edata;
}

/*
 * rgpd_error_journal_detail: what the journal keeps of an error that made a
 * run skip a table: the SQLSTATE and the untranslated message format, never
 * the formatted message (nor RAISE's text).  The error may come from the table owner's code
 * (a trigger's RAISE '%', a CHECK naming a value), and the journal, which
 * is never erased, keeps identifiers only: no personal value may reach it
 * through an error's text.
 */
Jsonb *
rgpd_error_journal_detail(ErrorData *err)
{
	/* PL/pgSQL's RAISE reports its text through the format "%s": no condition */
	if (err->message_id == NULL || strcmp(err->message_id, "%s") == 0)
		return rgpd_jsonb_object(1, "sqlstate", unpack_sql_state(err->sqlerrcode));
	return rgpd_jsonb_object(2, "sqlstate", unpack_sql_state(err->sqlerrcode),
							 "condition", err->message_id);
}
