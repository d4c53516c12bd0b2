/*-------------------------------------------------------------------------
 *
 * subject_cache.c
 *	  Per-backend cache of each registered subject table: what the contact
 *	  engine needs from the configuration tables, and its saved plans.
 *	  Filled once per backend from rgpd.subjects / rgpd.links, so that the
 *	  per-row paths never read a configuration table; emptied by relcache
 *	  invalidation of the subject or of any of its links (registration
 *	  re-creates their triggers, which sends those invalidations).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/objectaddress.h"
#include "access/transam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "nodes/nodeFuncs.h"
#include "nodes/value.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pericles_rgpd.h"
#include "trigger_config.h"

PG_FUNCTION_INFO_V1(rgpd_invalidate);

static HTAB *subject_cache = NULL;

/*
 * Plans (and memory) of invalidated entries.  An invalidation can arrive
 * while one of those plans is executing (invalidations are processed when
 * locks are taken), so they are only released at the end of the
 * transaction.
 */
static List *garbage_plans = NIL;
static List *garbage_contexts = NIL;

typedef struct SubjectEntry
{
	RgpdSubject sub;			/* must be first: relid is the hash key */
	MemoryContext mcxt;			/* strings of the current fill */
	bool		filling;		/* being filled: invalidations only mark it */
	bool		stale;			/* invalidated while being filled */
} SubjectEntry;

static void invalidate_entry(SubjectEntry *entry);
static bool direct_write_is_safe(RgpdSubject *sub, Relation rel);
static Oid	index_am(Oid indexoid);
static Oid	get_func_oid_by_name(const char *name);
static void subject_relcache_callback(Datum arg pg_attribute_unused(), Oid relid);
static void fill_entry(SubjectEntry *entry);

void
rgpd_cache_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(SubjectEntry);
	subject_cache = hash_create("pericles_rgpd subjects", 16, &ctl,
								HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(subject_relcache_callback, (Datum) 0);
}

void
rgpd_cache_forget_plan_later(SPIPlanPtr plan)
{
	MemoryContext old;

	if (plan == NULL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	garbage_plans = lappend(garbage_plans, plan);
	MemoryContextSwitchTo(old);
}

void
rgpd_cache_collect_garbage(void)
{
	ListCell   *lc;

	foreach(lc, garbage_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(garbage_plans);
	garbage_plans = NIL;

	foreach(lc, garbage_contexts)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(garbage_contexts);
	garbage_contexts = NIL;
}

/* Retire everything an entry holds; it is filled again on next use. */
static void
invalidate_entry(SubjectEntry *entry)
{
	RgpdSubject *sub = &entry->sub;
	MemoryContext old;

	int			kind;

	for (kind = 0; kind < RGPD_STMT_COUNT; kind++)
	{
		rgpd_cache_forget_plan_later(sub->plans[kind]);
		sub->plans[kind] = NULL;
	}
	if (entry->mcxt)
	{
		old = MemoryContextSwitchTo(TopMemoryContext);
		garbage_contexts = lappend(garbage_contexts, entry->mcxt);
		MemoryContextSwitchTo(old);
		entry->mcxt = NULL;
	}
	sub->valid = false;
}

/*
 * A relation changed: forget every subject it is, or is a link of.
 */
static void
subject_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	SubjectEntry *entry;
	int			i;

	rgpd_link_cache_invalidate(relid);
	if (subject_cache == NULL)
		return;
	hash_seq_init(&status, subject_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		bool		hit = !OidIsValid(relid) || entry->sub.relid == relid;

		for (i = 0; !hit && entry->sub.valid && i < entry->sub.nlinks; i++)
			hit = entry->sub.links[i] == relid;
		if (hit && entry->filling)
			entry->stale = true;	/* fill_entry() starts again */
		else if (hit && (entry->sub.valid || entry->mcxt))
			invalidate_entry(entry);
	}
}

/* A function that is not built in: code someone other than PostgreSQL wrote. */
static bool
not_builtin_function(Oid func, void *context pg_attribute_unused())
{
	return func >= FirstNormalObjectId;
}

/* A key type whose operator classes run only PostgreSQL's own code. */
static bool
builtin_key_type(Oid type)
{
	type = getBaseType(type);
	return type < FirstNormalObjectId || type_is_enum(type);
}

/* Does an expression call anything but built-in functions? */
static bool
calls_owner_code(Node *node, void *context)
{
	if (node == NULL)
		return false;

	/*
	 * Only nodes whose evaluation is the functions they name (checked
	 * below) or nothing at all.  Anything else may run code the node does
	 * not name: a cast to a domain runs the domain's CHECK constraints
	 * (the table owner's code, review finding), a subscript its type's
	 * handler, a row comparison its operator families; it is owner code.
	 */
	switch (nodeTag(node))
	{
		case T_List:
		case T_Var:
		case T_Const:
		case T_BoolExpr:
		case T_RelabelType:
		case T_CollateExpr:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CaseTestExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_CoalesceExpr:
		case T_RowExpr:
		case T_ArrayExpr:
		case T_FuncExpr:
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
		case T_ScalarArrayOpExpr:
		case T_CoerceViaIO:
		case T_ArrayCoerceExpr:
			break;
		case T_MinMaxExpr:
			/* compares with its type's default operator class */
			if (!builtin_key_type(exprType(node)))
				return true;
			break;
		default:
			return true;
	}
	if (check_functions_in_node(node, not_builtin_function, context))
		return true;
	return expression_tree_walker(node, calls_owner_code, context);
}

/* The expressions or the predicate of an index, from its pg_index row. */
static Node *
index_node(HeapTuple itup, int attnum)
{
	bool		isnull;
	Datum		d = SysCacheGetAttr(INDEXRELID, itup, attnum, &isnull);

	return isnull ? NULL : (Node *) stringToNode(TextDatumGetCString(d));
}

/*
 * Does inserting an entry into this index run only PostgreSQL's own code?
 * Not when its expressions or predicate call a function that is not built
 * in (the table owner's, say), when its access method or an operator class
 * is not built in, or when a key is of a type that is not built in (a
 * range type's subtype_diff is owner code a GiST insertion calls); nor
 * when it needs a deferred or exclusion check.  Registration's own partial
 * indexes (WHERE rgpd_status <> 'anonymised') pass.
 */
static bool
index_runs_no_owner_code(Relation rel, Oid indexoid)
{
	HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index index;
	bool		isnull;
	Datum		d;
	oidvector  *opclasses;
	List	   *exprs;
	ListCell   *next;
	bool		safe;
	int			i;

	if (!HeapTupleIsValid(itup))
		return false;
	index = (Form_pg_index) GETSTRUCT(itup);
	exprs = (List *) index_node(itup, Anum_pg_index_indexprs);
	safe = index->indimmediate && !index->indisexclusion &&
		index_am(indexoid) < FirstNormalObjectId &&
		!calls_owner_code((Node *) exprs, NULL) &&
		!calls_owner_code(index_node(itup, Anum_pg_index_indpred), NULL);
	d = SysCacheGetAttr(INDEXRELID, itup, Anum_pg_index_indclass, &isnull);
	opclasses = isnull ? NULL : (oidvector *) DatumGetPointer(d);
	next = list_head(exprs);
	for (i = 0; safe && i < index->indnkeyatts; i++)
	{
		AttrNumber	att = index->indkey.values[i];
		Oid			type = InvalidOid;

		if (opclasses == NULL || opclasses->values[i] >= FirstNormalObjectId)
			safe = false;
		else if (att > 0)
			type = TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid;
		else if (next != NULL)
		{
			type = exprType((Node *) lfirst(next));
			next = lnext(exprs, next);
		}
		else
			safe = false;
		if (safe)
			safe = builtin_key_type(type);
	}
	ReleaseSysCache(itup);
	return safe;
}

/*
 * May the contact engine write last_contact with table_tuple_update()
 * rather than an UPDATE statement?  Only when that is the same thing and
 * runs no code the table owner controls, since it runs as the role that
 * wrote the link row, outside the owner gate: no UPDATE trigger would fire
 * but ours (PostgreSQL's own referential-integrity triggers fire only when
 * a key changes, and ours never does), no stored generated column could
 * depend on the columns written, no CHECK constraint reads them, and every
 * index a non-HOT update adds an entry to runs only PostgreSQL's own code
 * (index_runs_no_owner_code).  Otherwise the saved UPDATE runs, as the
 * owner, through the gate.
 */
static bool
direct_write_is_safe(RgpdSubject *sub, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TriggerDesc *trigdesc = rel->trigdesc;
	Oid			ours = get_func_oid_by_name("subject_trigger");
	ListCell   *lc;
	int			i;

	if (sub->floor_attno == InvalidAttrNumber || !OidIsValid(ours))
		return false;
	if (desc->constr && desc->constr->has_generated_stored)
		return false;
	for (i = 0; trigdesc && i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];

		if (!TRIGGER_FOR_UPDATE(t->tgtype) || t->tgisinternal || t->tgfoid == ours)
			continue;
		return false;
	}
	for (i = 0; desc->constr && i < desc->constr->num_check; i++)
	{
		Node	   *expr = stringToNode(desc->constr->check[i].ccbin);
		Bitmapset  *attrs = NULL;

		pull_varattnos(expr, 1, &attrs);
		if (bms_is_member(sub->last_contact_attno - FirstLowInvalidHeapAttributeNumber, attrs) ||
			bms_is_member(sub->floor_attno - FirstLowInvalidHeapAttributeNumber, attrs))
			return false;
	}
	foreach(lc, RelationGetIndexList(rel))
	{
		if (!index_runs_no_owner_code(rel, lfirst_oid(lc)))
			return false;
	}
	return true;
}

/* OID of rgpd.<name>(), a function without arguments; InvalidOid if none. */
static Oid
get_func_oid_by_name(const char *name)
{
	List	   *qualified = list_make2(makeString(RGPD_SCHEMA), makeString(pstrdup(name)));

	return LookupFuncName(qualified, 0, NULL, true);
}

static Oid
index_am(Oid indexoid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
	Oid			am = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		am = ((Form_pg_class) GETSTRUCT(tup))->relam;
		ReleaseSysCache(tup);
	}
	return am;
}

/*
 * The unique btree index on the key, and the attributes a direct lookup
 * reads, so that the contact engine can read a subject row without the
 * executor.  Left invalid for tables that have no such index of their own
 * (partitioned tables): the engine then uses SQL.
 */
static void
find_key_index(RgpdSubject *sub)
{
	Relation	rel = table_open(sub->relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ListCell   *lc;
	Oid			statustype;

	sub->key_index = InvalidOid;
	sub->key_attno = get_attnum(sub->relid, sub->key_column);
	sub->last_contact_attno = get_attnum(sub->relid, "last_contact");
	sub->status_attno = get_attnum(sub->relid, "rgpd_status");
	if (rel->rd_rel->relkind != RELKIND_RELATION || sub->key_attno == InvalidAttrNumber ||
		sub->last_contact_attno == InvalidAttrNumber || sub->status_attno == InvalidAttrNumber)
	{
		table_close(rel, AccessShareLock);
		return;
	}
	sub->key_type = TupleDescAttr(desc, sub->key_attno - 1)->atttypid;
	statustype = TupleDescAttr(desc, sub->status_attno - 1)->atttypid;
	sub->status_anonymised = rgpd_status_label(statustype, RGPD_ANONYMISED);
	sub->status_archived = rgpd_status_label(statustype, RGPD_ARCHIVED);

	sub->floor_attno = get_attnum(sub->relid, "rgpd_contact_floor");
	sub->direct_write = direct_write_is_safe(sub, rel);

	foreach(lc, RelationGetIndexList(rel))
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index index;
		bool		fits;

		if (!HeapTupleIsValid(itup))
			continue;
		index = (Form_pg_index) GETSTRUCT(itup);
		fits = index->indisunique && index->indisvalid && index->indnkeyatts == 1 &&
			index->indkey.values[0] == sub->key_attno &&
			heap_attisnull(itup, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(itup, Anum_pg_index_indexprs, NULL) &&
			index_am(indexoid) == BTREE_AM_OID;
		ReleaseSysCache(itup);
		if (fits)
		{
			sub->key_index = indexoid;
			break;
		}
	}
	table_close(rel, AccessShareLock);
}

/*
 * Read the configuration of one subject.  Must be called with SPI
 * connected.  Returns false when the table is not registered.
 */
static bool
read_config(SubjectEntry *entry)
{
	RgpdSubject *sub = &entry->sub;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		links;
	MemoryContext old;
	Form_pg_class classform;

	values[0] = ObjectIdGetDatum(sub->relid);
	if (SPI_execute_with_args(
							  "SELECT s.key_column::pg_catalog.text,"
							  "       pg_catalog.array_agg(l.link::pg_catalog.oid)"
							  "         FILTER (WHERE l.link IS NOT NULL)"
							  "  FROM rgpd.subjects AS s"
							  "  LEFT JOIN rgpd.links AS l ON l.subject OPERATOR(pg_catalog.=) s.subject"
							  " WHERE s.subject OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
							  " GROUP BY s.key_column",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read rgpd.subjects");
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	entry->mcxt = AllocSetContextCreate(CacheMemoryContext,
										"pericles_rgpd subject",
										ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entry->mcxt);

	sub->key_column = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
	links = SPI_getbinval(tup, desc, 2, &isnull);
	sub->nlinks = 0;
	sub->links = NULL;
	if (!isnull)
	{
		Datum	   *elems;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(links), OIDOID, sizeof(Oid),
						  true, TYPALIGN_INT, &elems, NULL, &sub->nlinks);
		sub->links = palloc(sizeof(Oid) * Max(sub->nlinks, 1));
		for (i = 0; i < sub->nlinks; i++)
			sub->links[i] = DatumGetObjectId(elems[i]);
	}
	sub->has_links = true;		/* opt-in events always count */

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(sub->relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "pericles_rgpd: cache lookup failed for relation %u", sub->relid);
	classform = (Form_pg_class) GETSTRUCT(tup);
	sub->owner = classform->relowner;
	sub->relname = quote_qualified_identifier(get_namespace_name(classform->relnamespace),
											  NameStr(classform->relname));
	ReleaseSysCache(tup);
	find_key_index(sub);

	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * Reading the configuration opens relations, and so may process
 * invalidations, some of them about this very entry: those only mark it
 * stale while it is being filled, and the fill starts again.
 */
static void
fill_entry(SubjectEntry *entry)
{
	bool		registered;

	while (!entry->sub.valid)
	{
		invalidate_entry(entry);	/* retire leftovers of an earlier fill */
		entry->filling = true;
		entry->stale = false;
		PG_TRY();
		{
			registered = read_config(entry);
		}
		PG_FINALLY();
		{
			entry->filling = false;
		}
		PG_END_TRY();
		if (!registered)
			return;
		if (!entry->stale)
			entry->sub.valid = true;
	}
}

/*
 * The cache entry of a registered subject table.  Must be called with SPI
 * connected.  Unregistered: NULL when missing_ok, else an error.
 */
RgpdSubject *
rgpd_subject(Oid relid, bool missing_ok)
{
	SubjectEntry *entry;
	bool		found;

	entry = hash_search(subject_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(entry, 0, sizeof(SubjectEntry));
		entry->sub.relid = relid;
	}
	fill_entry(entry);
	if (entry->sub.valid)
		return &entry->sub;

	hash_search(subject_cache, &relid, HASH_REMOVE, NULL);
	if (missing_ok)
		return NULL;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("table %s is not registered as a subject",
					rgpd_relname(relid)),
			 errhint("Register it with rgpd.register_subject().")));
	return NULL;				/* keep compiler quiet */
}

/* Every registered subject table, in name order (under SPI). */
Oid *
rgpd_registered_subjects(int *n)
{
	Oid		   *subjects;
	uint64		i;

	if (SPI_execute("SELECT s.subject::pg_catalog.oid FROM rgpd.subjects AS s"
					" ORDER BY s.subject::pg_catalog.text", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read rgpd.subjects");
	subjects = palloc(sizeof(Oid) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		subjects[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
	}
	*n = (int) SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	return subjects;
}

/*
 * A saved plan of a subject, built by rgpd_statement_sql(subject, kind)
 * and prepared on first use, in the context the engine runs it in: as the
 * owner of the table, row-level security not forced (rgpd_execute_plan()).
 * Prepared as whoever fired the trigger, a plan of the owner's own session
 * would keep the restricted archive it is forced under (see
 * rgpd_gate_prepare()).
 */
SPIPlanPtr
rgpd_subject_plan(RgpdSubject *sub, RgpdStatementKind kind)
{
	const RgpdStatement *st = rgpd_statement(kind);
	char	   *sql;
	SPIPlanPtr	plan;

	if (sub->plans[kind])
		return sub->plans[kind];
	sql = rgpd_statement_sql(sub, kind);
	if (sql == NULL)
		elog(ERROR, "pericles_rgpd: no statement \"%s\" for %s", st->name, sub->relname);
	plan = rgpd_gate_prepare(sql, st->nargs, (Oid *) st->argtypes, st->cursor_options,
							 sub->owner, RGPD_GATE_NOFORCE_RLS);
	pfree(sql);
	sub->plans[kind] = plan;
	return plan;
}

/*
 * rgpd._invalidate(regclass): make every backend read the configuration of
 * this table again (at commit), after a configuration change that does not
 * re-create its triggers (a policy, an erasure method).  Its callers are
 * the registration functions, run by the table's owner: nobody else may
 * make every backend rebuild a table's cache.
 */
Datum
rgpd_invalidate(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}
