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
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "pericles_rgpd.h"

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
} SubjectEntry;

static void invalidate_entry(SubjectEntry *entry);
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

	rgpd_cache_forget_plan_later(sub->raise_small);
	rgpd_cache_forget_plan_later(sub->raise_bulk);
	rgpd_cache_forget_plan_later(sub->lock_lower);
	rgpd_cache_forget_plan_later(sub->recompute_ids);
	rgpd_cache_forget_plan_later(sub->unarchive_fresh);
	sub->raise_small = sub->raise_bulk = sub->lock_lower = NULL;
	sub->recompute_ids = sub->unarchive_fresh = NULL;
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
		if (hit && (entry->sub.valid || entry->mcxt))
			invalidate_entry(entry);
	}
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
		elog(ERROR, "cache lookup failed for relation %u", sub->relid);
	classform = (Form_pg_class) GETSTRUCT(tup);
	sub->owner = classform->relowner;
	sub->relname = quote_qualified_identifier(get_namespace_name(classform->relnamespace),
											  NameStr(classform->relname));
	ReleaseSysCache(tup);

	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

static void
fill_entry(SubjectEntry *entry)
{
	if (entry->sub.valid)
		return;
	invalidate_entry(entry);	/* retire leftovers of an earlier fill */
	if (read_config(entry))
		entry->sub.valid = true;
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
			 errmsg("table %s is not registered with pericles_rgpd",
					rgpd_relname(relid)),
			 errhint("Register it with rgpd.register_subject().")));
	return NULL;				/* keep compiler quiet */
}

/*
 * A saved plan of a subject, generated by rgpd._sql(subject, what) and
 * prepared on first use.
 */
SPIPlanPtr
rgpd_subject_plan(RgpdSubject *sub, SPIPlanPtr *slot, const char *what,
				  int nargs, Oid *argtypes, int cursor_options)
{
	char	   *sql;
	SPIPlanPtr	plan;

	if (*slot)
		return *slot;
	sql = rgpd_generated_sql(sub->relid, what, InvalidOid, NULL);
	if (sql == NULL)
		elog(ERROR, "pericles_rgpd: no statement \"%s\" for %s", what, sub->relname);
	plan = rgpd_prepare(sql, nargs, argtypes, cursor_options);
	pfree(sql);
	*slot = plan;
	return plan;
}

/*
 * rgpd._invalidate(regclass): make every backend read the configuration of
 * this table again (at commit), after a configuration change that does not
 * re-create its triggers (a policy, an erasure method).
 */
Datum
rgpd_invalidate(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}
