/*-------------------------------------------------------------------------
 *
 * predicate.c
 *	  Validation of the SQL predicates users register (a link's
 *	  excludes_when, a policy's applies_when), when they are registered and
 *	  not when they run: one boolean expression over the columns of one
 *	  table, no subquery, no aggregate, nothing volatile.  The expression is
 *	  stored deparsed, with every name the search_path could change
 *	  qualified, so that it means the same wherever it later runs.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_normalize_predicate);

typedef struct PredicateContext
{
	const char *predicate;
	const char *table;
} PredicateContext;

static void
predicate_error_context(void *arg)
{
	PredicateContext *ctx = (PredicateContext *) arg;

	errcontext("predicate \"%s\" on table %s", ctx->predicate, ctx->table);
}

static void
not_one_expression(const char *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("predicate on table %s must be a single boolean expression", table),
			 errhint("For example: transaction = 'rental'.")));
}

/*
 * An error of PostgreSQL's parser (syntax, unknown column, type mismatch)
 * said again with the table named.  Called in PG_CATCH() only around the
 * parser's own calls, so that the refusals of parse_predicate() (which
 * already name the table) are never renamed.  The error is always
 * re-thrown, so the transaction's cleanup releases what the parser held.
 */
static void
parser_error_named(MemoryContext ctx, const char *table)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(ctx);
	edata = CopyErrorData();
	FlushErrorState();
	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg("invalid predicate on table %s: %s", table, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 errhint("A predicate is a boolean expression over the columns of table %s.",
					 table)));
}

/*
 * The predicate is parsed as the only target of "SELECT (predicate) FROM
 * table"; anything that makes the statement more than that (a second
 * target, another FROM item, a WHERE, a UNION, a second statement) is
 * refused, so the text can later be embedded safely in generated SQL.
 */
static Node *
parse_predicate(const char *predicate, const char *table)
{
	MemoryContext ctx = CurrentMemoryContext;
	char	   *sql;
	List	   *raw = NIL;
	RawStmt    *rawstmt;
	SelectStmt *select;
	Query	   *query = NULL;
	TargetEntry *te;

	sql = psprintf("SELECT (%s) FROM %s", predicate, table);
	PG_TRY();
	{
		raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		parser_error_named(ctx, table);
	}
	PG_END_TRY();
	if (list_length(raw) != 1)
		not_one_expression(table);
	rawstmt = linitial_node(RawStmt, raw);
	if (!IsA(rawstmt->stmt, SelectStmt))
		not_one_expression(table);
	select = (SelectStmt *) rawstmt->stmt;
	if (select->op != SETOP_NONE || select->withClause || select->intoClause ||
		select->distinctClause || select->whereClause || select->groupClause ||
		select->havingClause || select->windowClause || select->valuesLists ||
		select->sortClause || select->limitCount || select->limitOffset ||
		select->lockingClause || list_length(select->targetList) != 1 ||
		list_length(select->fromClause) != 1 ||
		!IsA(linitial(select->fromClause), RangeVar))
		not_one_expression(table);

	PG_TRY();
	{
		query = parse_analyze_fixedparams(rawstmt, sql, NULL, 0, NULL);
	}
	PG_CATCH();
	{
		parser_error_named(ctx, table);
	}
	PG_END_TRY();
	te = linitial_node(TargetEntry, query->targetList);

	if (exprType((Node *) te->expr) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("predicate on table %s must return boolean, not %s",
						table, format_type_be(exprType((Node *) te->expr)))));
	if (query->hasSubLinks)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("predicate on table %s must not contain a subquery", table),
				 errdetail("A predicate may only read the columns of the row it is about.")));
	if (query->hasAggs || query->hasWindowFuncs || query->hasTargetSRFs)
		ereport(ERROR,
				(errcode(ERRCODE_GROUPING_ERROR),
				 errmsg("predicate on table %s must not use aggregates, window or set-returning functions",
						table)));
	if (contain_volatile_functions((Node *) te->expr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("predicate on table %s must not call volatile functions", table),
				 errdetail("The same row must always give the same answer.")));
	return (Node *) te->expr;
}

/*
 * rgpd._normalize_predicate(tbl regclass, predicate text) RETURNS text:
 * the predicate, checked and deparsed.  Errors say what is wrong.
 */
Datum
rgpd_normalize_predicate(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *predicate = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *relname = get_rel_name(relid);
	char	   *table;
	PredicateContext ctx;
	ErrorContextCallback errcallback;
	Node	   *expr;
	char	   *result;
	int			nest;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									   relname);
	if (predicate[strspn(predicate, " \t\r\n")] == '\0')
		not_one_expression(table);

	ctx.predicate = predicate;
	ctx.table = table;
	errcallback.callback = predicate_error_context;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/*
	 * Resolve names as the registering user writes them, then deparse with
	 * only pg_catalog visible, so that every other name comes out
	 * schema-qualified.
	 */
	expr = parse_predicate(predicate, table);
	nest = rgpd_pin_search_path();
	result = deparse_expression(expr, deparse_context_for(relname, relid),
								false, false);
	rgpd_unpin_search_path(nest);

	error_context_stack = errcallback.previous;
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
