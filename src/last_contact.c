/*-------------------------------------------------------------------------
 *
 * last_contact.c
 *	  The contact engine: the C triggers that keep last_contact exact on
 *	  every registered subject table, from its own creation date, from its
 *	  linked tables and from opt-in events.
 *
 *	  rgpd.link_trigger() is installed on each linked table as AFTER
 *	  INSERT / UPDATE / DELETE statement triggers with transition tables (and
 *	  AFTER TRUNCATE).  It reads the changed rows once, in C, and turns them
 *	  into two sets per subject table:
 *	    - raises: a subject gains a date; one conditional UPDATE for the
 *	      whole set (saved plan), nothing written when no date is newer;
 *	    - lowers: a date that may have been the greatest went away (delete,
 *	      date corrected downwards, row re-pointed); those subjects are
 *	      locked and recomputed from all their links.
 *	  rgpd.subject_trigger() is installed on the subject table: it fills
 *	  last_contact on insert, keeps the derived columns out of the
 *	  application's hands, and recomputes a subject whose key or creation
 *	  date changes.
 *
 *	  On a partitioned table the same statement triggers are on every table
 *	  of the tree, and act for the registered table at its root; rows that
 *	  join or leave a link with a partition are recorded by
 *	  rgpd_partition_link_rows(), called from partitions.c.
 *
 *	  Both act only as the triggers registration installed: when a trigger's
 *	  configuration is first read, its table, name, events and arguments
 *	  are compared with what registration generates for a registered table
 *	  (check_registered()); anything else fails with SQLSTATE 39P01.
 *
 *	  Concurrency: a raise that writes nothing still takes FOR KEY SHARE on
 *	  the subject row; a lower takes FOR UPDATE before it recomputes with a
 *	  fresh snapshot.  A lower therefore waits for every transaction that
 *	  added a contact it cannot see yet, and no added date is lost.
 *	  FOR KEY SHARE does not wait for the sweep, whose archiving UPDATE
 *	  changes no key: a raise may read a subject as active and find it
 *	  archived when its write has waited for the sweep to commit.  So the
 *	  decision to un-archive is taken on the status of the row version
 *	  written, never on one read before the write waited.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgtime.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/regproc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_link_trigger);
PG_FUNCTION_INFO_V1(rgpd_subject_trigger);
PG_FUNCTION_INFO_V1(rgpd_recompute);

/* Up to this many subjects, a raise runs one short statement per subject. */
#define RAISE_SMALL_LIMIT 16

/* ---- trigger configuration, parsed from the trigger arguments ---- */

/* A subject column of a link table. */
typedef struct LinkColumn
{
	AttrNumber	attnum;
	Oid			typid;
	int			npersonal;		/* personal columns that belong to it */
	AttrNumber *personal;
	bool		delete_row;		/* rows pointing through it go on anonymise */
	bool		fk_locked;		/* a non-deferrable foreign key to the
								 * subject's key locks the subject row */
} LinkColumn;

/* One subject table reached from a link table. */
typedef struct LinkSubject
{
	Oid			subject;
	char	   *key;			/* the subject's key column */
	pg_tz	   *tz;				/* day of a timestamptz contact */
	int			ncolumns;
	LinkColumn *columns;
	int			ndates;
	AttrNumber *dates;
	Oid		   *datetypes;
} LinkSubject;

typedef enum TriggerKind
{
	KIND_LINK,
	KIND_SUBJECT
} TriggerKind;

typedef struct TriggerInfo
{
	Oid			tgoid;			/* hash key */
	bool		valid;
	bool		filling;		/* being parsed: invalidations only mark it */
	bool		stale;			/* invalidated while being parsed */
	Oid			relid;			/* table the trigger is on */
	Oid			registered;		/* the registered table it acts for: its
								 * own, or the root of its partition tree */
	TriggerKind kind;
	MemoryContext mcxt;
	/* link triggers */
	int			nsubjects;
	LinkSubject *subjects;
	/* subject triggers */
	AttrNumber	key;
	Oid			keytype;
	AttrNumber	created;
	Oid			createdtype;
	pg_tz	   *tz;
	AttrNumber	last_contact;
	AttrNumber	floor;
	AttrNumber	status;
	Oid			status_active;
	Oid			status_anonymised;
	int			npersonal;
	AttrNumber *personal;
} TriggerInfo;

static HTAB *trigger_cache = NULL;

static void not_registered(Trigger *trigger, Relation rel, TriggerKind kind,
						   const char *detail) pg_attribute_noreturn();
static void refuse_infinite_dates(TupleTableSlot *slot, LinkSubject *ls, Relation rel);
static void missing_transition_table(TriggerData *trigdata, const char *function,
									 const char *which) pg_attribute_noreturn();

/* ---- growing arrays of contacts ---- */

typedef struct ContactSet
{
	RgpdContact *items;
	int			n;
	int			size;
} ContactSet;

static void
contact_add(ContactSet *set, int64 id, DateADT date, bool has_date,
			bool arrival, bool locked)
{
	if (set->n == set->size)
	{
		set->size = set->size ? set->size * 2 : 64;
		set->items = set->items ?
			repalloc_huge(set->items, sizeof(RgpdContact) * set->size) :
			palloc(sizeof(RgpdContact) * set->size);
	}
	set->items[set->n].id = id;
	set->items[set->n].date = date;
	set->items[set->n].has_date = has_date;
	set->items[set->n].arrival = arrival;
	set->items[set->n].locked = locked;
	set->n++;
}

static int
cmp_contact(const void *a, const void *b)
{
	const RgpdContact *x = a;
	const RgpdContact *y = b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	/* dated before undated, later dates first */
	if (x->has_date != y->has_date)
		return x->has_date ? -1 : 1;
	return (x->date < y->date) - (x->date > y->date);
}

/*
 * Sort by id and keep, for each id, its greatest date.  Sorting also fixes
 * the order in which rows are locked, so that two statements touching the
 * same subjects cannot deadlock on each other.
 */
static int
merge_contacts(RgpdContact *c, int n)
{
	int			i,
				j;

	if (n <= 1)
		return n;
	qsort(c, n, sizeof(RgpdContact), cmp_contact);
	for (i = 1, j = 1; i < n; i++)
	{
		if (c[i].id != c[j - 1].id)
			c[j++] = c[i];
		else
		{
			/* the first of an id has its greatest date; combine the rest */
			c[j - 1].arrival |= c[i].arrival;
			c[j - 1].locked &= c[i].locked;
		}
	}
	return j;
}

/* ---- reading values ---- */

static int64
key_value(Datum d, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
		default:
			elog(ERROR, "pericles_rgpd: unsupported key type %u", typid);
	}
	return 0;					/* keep compiler quiet */
}

/*
 * The day a date/timestamp/timestamptz value falls on; a timestamptz is
 * read in the subject's time zone, so that the result does not depend on
 * the session's TimeZone.
 */
static DateADT
contact_day(Datum d, Oid typid, pg_tz *tz)
{
	switch (typid)
	{
		case DATEOID:
			return DatumGetDateADT(d);
		case TIMESTAMPOID:
			return DatumGetDateADT(DirectFunctionCall1(timestamp_date, d));
		case TIMESTAMPTZOID:
			{
				TimestampTz ts = DatumGetTimestampTz(d);
				struct pg_tm tm;
				fsec_t		fsec;
				int			tzoff;

				if (TIMESTAMP_IS_NOBEGIN(ts))
				{
					DateADT		r;

					DATE_NOBEGIN(r);
					return r;
				}
				if (TIMESTAMP_IS_NOEND(ts))
				{
					DateADT		r;

					DATE_NOEND(r);
					return r;
				}
				if (timestamp2tm(ts, &tzoff, &tm, &fsec, NULL, tz) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("timestamp out of range")));
				return date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
			}
		default:
			elog(ERROR, "pericles_rgpd: unsupported date type %u", typid);
	}
	return 0;					/* keep compiler quiet */
}

/* Greatest non-null date of a row among the link's date columns. */
static bool
row_date(TupleTableSlot *slot, LinkSubject *ls, DateADT *out)
{
	bool		found = false;
	int			i;

	for (i = 0; i < ls->ndates; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, ls->dates[i], &isnull);
		DateADT		day;

		if (isnull)
			continue;
		day = contact_day(d, ls->datetypes[i], ls->tz);
		if (!found || day > *out)
			*out = day;
		found = true;
	}
	return found;
}

static bool
row_key(TupleTableSlot *slot, LinkColumn *col, int64 *out)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, col->attnum, &isnull);

	if (isnull)
		return false;
	*out = key_value(d, col->typid);
	return true;
}

/* Does the row carry any personal value belonging to this column? */
static bool
row_has_personal(TupleTableSlot *slot, LinkColumn *col)
{
	int			i;

	for (i = 0; i < col->npersonal; i++)
	{
		bool		isnull;

		(void) slot_getattr(slot, col->personal[i], &isnull);
		if (!isnull)
			return true;
	}
	return false;
}

/* Did an update write a personal value of this column? */
static bool
personal_changed(TupleTableSlot *oldslot, TupleTableSlot *newslot,
				 LinkColumn *col)
{
	int			i;

	for (i = 0; i < col->npersonal; i++)
	{
		AttrNumber	att = col->personal[i];
		Form_pg_attribute attr = TupleDescAttr(newslot->tts_tupleDescriptor, att - 1);
		bool		oldnull,
					newnull;
		Datum		o = slot_getattr(oldslot, att, &oldnull);
		Datum		n = slot_getattr(newslot, att, &newnull);

		if (newnull)
			continue;
		if (oldnull || !datumIsEqual(o, n, attr->attbyval, attr->attlen))
			return true;
	}
	return false;
}

/* ---- parsing trigger arguments ---- */

static void
trigger_relcache_forget(TriggerInfo *info)
{
	if (info->mcxt)
		MemoryContextDelete(info->mcxt);
	info->mcxt = NULL;
	info->valid = false;
}

/*
 * The relcache callback (subject_cache.c) forwards every invalidation here:
 * trigger configurations of that table are parsed again on next use.  The
 * memory is not freed here (the callback may run while a trigger is using
 * it) but when the entry is next filled.
 */
void
rgpd_link_cache_invalidate(Oid relid)
{
	HASH_SEQ_STATUS status;
	TriggerInfo *info;

	if (trigger_cache == NULL)
		return;
	hash_seq_init(&status, trigger_cache);
	while ((info = hash_seq_search(&status)) != NULL)
	{
		bool		hit = !OidIsValid(relid) || info->relid == relid;
		int			i;

		for (i = 0; !hit && info->valid && i < info->nsubjects; i++)
			hit = info->subjects[i].subject == relid;
		if (hit && info->filling)
			info->stale = true;
		else if (hit)
			info->valid = false;
	}
}

static AttrNumber
column_attnum(Relation rel, const char *name, Trigger *trigger)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" named by trigger \"%s\" does not exist",
						name, RelationGetRelationName(rel), trigger->tgname),
				 errhint("Register the table again, or unregister it, after renaming or dropping a registered column.")));
	return attnum;
}

static void
require_type(Relation rel, AttrNumber attnum, Oid *typid, bool date_kind,
			 Trigger *trigger)
{
	Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	bool		ok;

	*typid = attr->atttypid;
	ok = date_kind ?
		(*typid == DATEOID || *typid == TIMESTAMPOID || *typid == TIMESTAMPTZOID) :
		(*typid == INT2OID || *typid == INT4OID || *typid == INT8OID);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of table \"%s\" named by trigger \"%s\" has type %s",
						NameStr(attr->attname), RelationGetRelationName(rel),
						trigger->tgname, format_type_be(*typid)),
				 errhint("Register the table again after changing the type of a registered column.")));
}

static pg_tz *
zone_arg(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name)));
	return tz;
}

static Oid
subject_arg(const char *name)
{
	return RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(name)),
							NoLock, false);
}

static void
bad_args(Trigger *trigger, Relation rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("trigger \"%s\" on table \"%s\" has malformed arguments",
					trigger->tgname, RelationGetRelationName(rel)),
			 errhint("Triggers of pericles_rgpd are created by rgpd.register_subject() and rgpd.register_link().")));
}

/*
 * Does a foreign key make every insert through this column lock the
 * subject row?  A non-deferrable foreign key from the column (alone) to
 * the subject's key has its check take FOR KEY SHARE on the referenced row
 * during the statement, before our statement trigger runs: that is the
 * lock a contact that writes nothing must hold (see the file header), so
 * the trigger need not take it again.
 */
static bool
fk_locks_subject(Relation rel, AttrNumber attnum, Oid subject, AttrNumber key)
{
	ListCell   *lc;

	if (key == InvalidAttrNumber)
		return false;
	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
		HeapTuple	tup;
		bool		immediate;

		if (fk->nkeys != 1 || fk->conkey[0] != attnum ||
			fk->confrelid != subject || fk->confkey[0] != key)
			continue;
		tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(fk->conoid));
		if (!HeapTupleIsValid(tup))
			continue;
		immediate = !((Form_pg_constraint) GETSTRUCT(tup))->condeferrable;
		ReleaseSysCache(tup);
		if (immediate)
			return true;
	}
	return false;
}

/*
 * Is arg "keyword:value"?  Then *value is what follows the first colon.
 * Keywords contain no colon, so a value may be any name at all.
 */
static bool
arg_is(const char *arg, const char *keyword, const char **value)
{
	size_t		len = strlen(keyword);

	if (strncmp(arg, keyword, len) != 0 || arg[len] != ':')
		return false;
	*value = arg + len + 1;
	return true;
}

/*
 * Link trigger arguments, each "keyword:value" (rgpd._link_trigger_args()):
 *   subject:<table> key:<k> tz:<zone> date:<d> ...
 *     column:<c> personal:<p> ... [delete:]   column:<c> ...
 *   [subject:<table> ...]
 * personal: and delete: belong to the column: before them.
 */
static void
parse_link_args(TriggerInfo *info, Trigger *trigger, Relation rel)
{
	char	  **args = trigger->tgargs;
	int			nargs = trigger->tgnargs;
	int			i,
				s = -1;
	const char *v;
	LinkColumn *col = NULL;

	for (i = 0; i < nargs; i++)
		if (arg_is(args[i], "subject", &v))
			info->nsubjects++;
	if (info->nsubjects == 0)
		bad_args(trigger, rel);
	info->subjects = palloc0(sizeof(LinkSubject) * info->nsubjects);

	for (i = 0; i < nargs; i++)
	{
		LinkSubject *ls = s >= 0 ? &info->subjects[s] : NULL;
		const char *arg = args[i];

		if (arg_is(arg, "subject", &v))
		{
			ls = &info->subjects[++s];
			ls->subject = subject_arg(v);
			ls->tz = zone_arg("UTC");
			ls->columns = palloc0(sizeof(LinkColumn) * nargs);
			ls->dates = palloc0(sizeof(AttrNumber) * nargs);
			ls->datetypes = palloc0(sizeof(Oid) * nargs);
			col = NULL;
		}
		else if (ls == NULL)
			bad_args(trigger, rel);
		else if (arg_is(arg, "tz", &v))
			ls->tz = zone_arg(v);
		else if (arg_is(arg, "key", &v))
			ls->key = pstrdup(v);
		else if (arg_is(arg, "column", &v))
		{
			col = &ls->columns[ls->ncolumns++];
			col->attnum = column_attnum(rel, v, trigger);
			require_type(rel, col->attnum, &col->typid, false, trigger);
			col->personal = palloc0(sizeof(AttrNumber) * nargs);
		}
		else if (arg_is(arg, "date", &v))
		{
			ls->dates[ls->ndates] = column_attnum(rel, v, trigger);
			require_type(rel, ls->dates[ls->ndates], &ls->datetypes[ls->ndates],
						 true, trigger);
			ls->ndates++;
		}
		else if (arg_is(arg, "personal", &v) && col != NULL)
			col->personal[col->npersonal++] = column_attnum(rel, v, trigger);
		else if (arg_is(arg, "delete", &v) && col != NULL && *v == '\0')
			col->delete_row = true;
		else
			bad_args(trigger, rel);
	}

	for (s = 0; s < info->nsubjects; s++)
	{
		LinkSubject *ls = &info->subjects[s];
		AttrNumber	key = ls->key ? get_attnum(ls->subject, ls->key) : InvalidAttrNumber;
		int			c;

		for (c = 0; c < ls->ncolumns; c++)
			ls->columns[c].fk_locked = fk_locks_subject(rel, ls->columns[c].attnum,
														 ls->subject, key);
	}
}

/*
 * Subject trigger arguments, each "keyword:value"
 * (rgpd._subject_trigger_args()):
 *   key:<k> tz:<zone> [created:<c>] personal:<p> ...
 */
static void
parse_subject_args(TriggerInfo *info, Trigger *trigger, Relation rel)
{
	char	  **args = trigger->tgargs;
	int			nargs = trigger->tgnargs;
	int			i;
	Oid			statustype;
	const char *v;

	info->tz = zone_arg("UTC");
	info->personal = palloc0(sizeof(AttrNumber) * Max(nargs, 1));
	for (i = 0; i < nargs; i++)
	{
		const char *arg = args[i];

		if (arg_is(arg, "key", &v))
		{
			info->key = column_attnum(rel, v, trigger);
			require_type(rel, info->key, &info->keytype, false, trigger);
		}
		else if (arg_is(arg, "created", &v))
		{
			info->created = column_attnum(rel, v, trigger);
			require_type(rel, info->created, &info->createdtype, true, trigger);
		}
		else if (arg_is(arg, "tz", &v))
			info->tz = zone_arg(v);
		else if (arg_is(arg, "personal", &v))
			info->personal[info->npersonal++] = column_attnum(rel, v, trigger);
		else
			bad_args(trigger, rel);
	}
	if (info->key == InvalidAttrNumber)
		bad_args(trigger, rel);

	info->last_contact = column_attnum(rel, "last_contact", trigger);
	info->floor = column_attnum(rel, "rgpd_contact_floor", trigger);
	info->status = column_attnum(rel, "rgpd_status", trigger);
	statustype = TupleDescAttr(RelationGetDescr(rel), info->status - 1)->atttypid;
	info->status_active = rgpd_status_label(statustype, RGPD_ACTIVE);
	info->status_anonymised = rgpd_status_label(statustype, RGPD_ANONYMISED);
	if (!OidIsValid(info->status_active) || !OidIsValid(info->status_anonymised))
		bad_args(trigger, rel);
}

/* ---- acting only as registered ---- */

/*
 * The triggers registration installs (rgpd._sync_link(), rgpd._sync()):
 * their names, events, timing, level and transition tables.  Both trigger
 * functions refuse to run as anything else.
 */
typedef struct TriggerShape
{
	TriggerKind kind;
	const char *name;
	int16		tgtype;
	bool		oldtable;		/* REFERENCING OLD TABLE */
	bool		newtable;		/* REFERENCING NEW TABLE */
	bool		update_of;		/* UPDATE OF key, created WHEN (...) */
} TriggerShape;

static const TriggerShape trigger_shapes[] = {
	{KIND_LINK, "rgpd_link_insert", TRIGGER_TYPE_INSERT, false, true, false},
	{KIND_LINK, "rgpd_link_update", TRIGGER_TYPE_UPDATE, true, true, false},
	{KIND_LINK, "rgpd_link_delete", TRIGGER_TYPE_DELETE, true, false, false},
	{KIND_LINK, "rgpd_link_truncate", TRIGGER_TYPE_TRUNCATE, false, false, false},
	{KIND_SUBJECT, "rgpd_subject_guard",
	TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE,
	false, false, false},
	{KIND_SUBJECT, "rgpd_subject_insert", TRIGGER_TYPE_INSERT, false, true, false},
	{KIND_SUBJECT, "rgpd_subject_update", TRIGGER_TYPE_ROW | TRIGGER_TYPE_UPDATE,
	false, false, true},
};

static void
not_registered(Trigger *trigger, Relation rel, TriggerKind kind,
			   const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("trigger \"%s\" on table \"%s\" was not installed by pericles_rgpd registration",
					trigger->tgname, RelationGetRelationName(rel)),
			 errdetail("%s %s", kind == KIND_LINK ?
					   "Function rgpd.link_trigger() runs only as the triggers rgpd.register_link() creates." :
					   "Function rgpd.subject_trigger() runs only as the triggers rgpd.register_subject() creates.",
					   detail),
			 errhint("Triggers of pericles_rgpd are created by rgpd.register_subject() and rgpd.register_link().")));
}

/* The name, events, timing, level and transition tables of the trigger. */
static const TriggerShape *
check_trigger_shape(Trigger *trigger, Relation rel, TriggerKind kind)
{
	const TriggerShape *shape = NULL;
	int			i;

	for (i = 0; i < (int) lengthof(trigger_shapes); i++)
		if (trigger_shapes[i].kind == kind &&
			strcmp(trigger_shapes[i].name, trigger->tgname) == 0)
			shape = &trigger_shapes[i];
	if (shape == NULL)
		not_registered(trigger, rel, kind, "Registration installs no trigger of that name.");
	if (trigger->tgtype != shape->tgtype ||
		(trigger->tgoldtable != NULL) != shape->oldtable ||
		(trigger->tgnewtable != NULL) != shape->newtable ||
		(trigger->tgqual != NULL) != shape->update_of ||
		(trigger->tgnattr > 0) != shape->update_of ||
		OidIsValid(trigger->tgconstraint))
		not_registered(trigger, rel, kind,
					   "Its events, timing, level or transition tables differ from those registration installs.");
	return shape;
}

/*
 * The table whose registration installed a trigger: its own; for a
 * trigger cloned onto a partition, the table of the trigger it was cloned
 * from; for the statement triggers registration puts on every partition
 * of a registered table (PostgreSQL clones only row triggers), the root
 * of the partition tree.  Under SPI.
 */
static Oid
registered_table(Trigger *trigger, Relation rel)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	bool		isnull;
	Oid			relid;

	if (!trigger->tgisclone && rel->rd_rel->relispartition)
		return llast_oid(get_partition_ancestors(RelationGetRelid(rel)));
	if (!trigger->tgisclone)
		return RelationGetRelid(rel);
	values[0] = ObjectIdGetDatum(trigger->tgoid);
	if (SPI_execute_with_args(
							  "WITH RECURSIVE up(oid, parent, rel) AS ("
							  "   SELECT t.oid, t.tgparentid, t.tgrelid FROM pg_catalog.pg_trigger AS t"
							  "    WHERE t.oid OPERATOR(pg_catalog.=) $1"
							  "   UNION ALL"
							  "   SELECT t.oid, t.tgparentid, t.tgrelid FROM pg_catalog.pg_trigger AS t, up"
							  "    WHERE t.oid OPERATOR(pg_catalog.=) up.parent)"
							  " SELECT up.rel FROM up WHERE up.parent OPERATOR(pg_catalog.=) 0::pg_catalog.oid",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not read pg_trigger");
	if (SPI_processed == 0)
		return InvalidOid;
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	return isnull ? InvalidOid : relid;
}

/*
 * The arguments registration gives the triggers of table relid today
 * (rgpd._link_trigger_args() or rgpd._subject_trigger_args()); *isnull
 * when the table is not registered as that kind.  Under SPI: the array
 * lives until SPI_finish().
 */
static Datum
registration_args(Oid relid, TriggerKind kind, bool *isnull)
{
	const char *fn = kind == KIND_LINK ? "_link_trigger_args" : "_subject_trigger_args";
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	char	   *sql;

	sql = psprintf("SELECT rgpd.%s($1::pg_catalog.oid::pg_catalog.regclass)", fn);
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "pericles_rgpd: could not run rgpd.%s()", fn);
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
}

/* Do these arguments differ from the array registration generates? */
static bool
args_differ(char **args, int nargs, Datum expected)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	deconstruct_array(DatumGetArrayTypeP(expected), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &n);
	if (n != nargs)
		return true;
	for (i = 0; i < n; i++)
		if (nulls[i] || strcmp(TextDatumGetCString(elems[i]), args[i]) != 0)
			return true;
	return false;
}

/*
 * Is the trigger being fired exactly one that registration installed on a
 * registered table?  Its shape, then its arguments, compared with what
 * registration generates for that table today (rgpd._link_trigger_args()
 * or rgpd._subject_trigger_args()), as ri_triggers.c checks that it runs
 * for its constraint.  Run when the configuration is parsed, not per row.
 * Anything else is refused before it can act: a trigger someone attached
 * to a table of their own, with arguments naming another table, must not
 * write to that table.  Returns the registered table the trigger acts
 * for (that of a partition is the root of its tree).
 */
static Oid
check_registered(Trigger *trigger, Relation rel, TriggerKind kind)
{
	const char *fn = kind == KIND_LINK ? "_link_trigger_args" : "_subject_trigger_args";
	Oid			fnargs[1] = {REGCLASSOID};
	bool		isnull;
	Datum		expected;
	Oid			relid;
	const char *detail = NULL;

	check_trigger_shape(trigger, rel, kind);

	if (!OidIsValid(LookupFuncName(list_make2(makeString(RGPD_SCHEMA), makeString(pstrdup(fn))),
								   1, fnargs, true)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension pericles_rgpd must be updated before trigger \"%s\" on table \"%s\" can run",
						trigger->tgname, RelationGetRelationName(rel)),
				 errhint("Run ALTER EXTENSION pericles_rgpd UPDATE.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	relid = registered_table(trigger, rel);
	if (!OidIsValid(relid))
		detail = "The trigger it was cloned from is not found.";
	else
	{
		expected = registration_args(relid, kind, &isnull);
		if (isnull)
			detail = kind == KIND_LINK ?
				"Its table is not registered as a link." :
				"Its table is not registered as a subject.";
		else if (args_differ(trigger->tgargs, trigger->tgnargs, expected))
			detail = "Its arguments differ from those the registration of its table installs.";
	}
	SPI_finish();
	if (detail != NULL)
		not_registered(trigger, rel, kind, detail);
	return relid;
}

/* UPDATE OF names the key and creation columns, as _sync() writes it. */
static void
check_update_columns(TriggerInfo *info, Trigger *trigger, Relation rel)
{
	int			i;

	if (trigger->tgnattr == 0)
		return;
	for (i = 0; i < trigger->tgnattr; i++)
		if (trigger->tgattr[i] != info->key && trigger->tgattr[i] != info->created)
			break;
	if (i < trigger->tgnattr ||
		trigger->tgnattr != (info->created != InvalidAttrNumber ? 2 : 1))
		not_registered(trigger, rel, KIND_SUBJECT,
					   "Its columns differ from those registration installs.");
}

/*
 * The parsed configuration of the trigger being fired, checked to be one
 * that registration installed.
 */
static TriggerInfo *
trigger_info(TriggerData *trigdata, TriggerKind kind)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	TriggerInfo *info;
	bool		found;
	MemoryContext old;

	if (trigger_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TriggerInfo);
		trigger_cache = hash_create("pericles_rgpd triggers", 64, &ctl,
									HASH_ELEM | HASH_BLOBS);
	}
	info = hash_search(trigger_cache, &trigger->tgoid, HASH_ENTER, &found);
	if (!found)
	{
		memset(info, 0, sizeof(TriggerInfo));
		info->tgoid = trigger->tgoid;
	}
	/*
	 * Parsing reads catalogs, and so may process invalidations about this
	 * very table: those only mark the entry stale while it is parsed, and
	 * parsing starts again.  The memory of an earlier parse is released
	 * here, not in the callback: a trigger running further up the stack
	 * may still be using it... which a nested firing of the same trigger
	 * could only do after the parse it is itself running completes.
	 */
	while (!info->valid)
	{
		Oid			tgoid = info->tgoid;

		trigger_relcache_forget(info);
		/* every parse starts from nothing: no count or column carries over */
		memset(info, 0, sizeof(TriggerInfo));
		info->tgoid = tgoid;
		info->mcxt = AllocSetContextCreate(CacheMemoryContext,
										   "pericles_rgpd trigger",
										   ALLOCSET_SMALL_SIZES);
		info->relid = RelationGetRelid(rel);
		info->kind = kind;
		info->filling = true;
		old = MemoryContextSwitchTo(info->mcxt);
		PG_TRY();
		{
			info->registered = check_registered(trigger, rel, kind);
			if (kind == KIND_LINK)
				parse_link_args(info, trigger, rel);
			else
			{
				parse_subject_args(info, trigger, rel);
				check_update_columns(info, trigger, rel);
			}
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			info->filling = false;
			trigger_relcache_forget(info);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		info->filling = false;
		info->valid = !info->stale;
	}
	return info;
}

/* ---- reading transition tables ---- */

typedef struct TransitionReader
{
	Tuplestorestate *store;
	TupleTableSlot *slot;
	int			readptr;
} TransitionReader;

static void
reader_open(TransitionReader *r, Tuplestorestate *store, TupleDesc desc)
{
	r->store = store;
	r->slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	r->readptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(store, r->readptr);
	tuplestore_rescan(store);
}

static bool
reader_next(TransitionReader *r)
{
	tuplestore_select_read_pointer(r->store, r->readptr);
	return tuplestore_gettupleslot(r->store, true, false, r->slot);
}

static void
reader_close(TransitionReader *r)
{
	tuplestore_select_read_pointer(r->store, 0);
	ExecDropSingleTupleTableSlot(r->slot);
}

/* What a row brings to one subject table. */
static void
collect_new_row(TupleTableSlot *slot, LinkSubject *ls, ContactSet *raise)
{
	DateADT		date = 0;
	bool		has_date = row_date(slot, ls, &date);
	int			c;

	for (c = 0; c < ls->ncolumns; c++)
	{
		LinkColumn *col = &ls->columns[c];
		int64		id;

		bool		arrival;

		if (!row_key(slot, col, &id))
			continue;
		arrival = col->delete_row || row_has_personal(slot, col);
		if (has_date || arrival)
			contact_add(raise, id, date, has_date, arrival, col->fk_locked);
	}
}

static void
collect_old_row(TupleTableSlot *slot, LinkSubject *ls, ContactSet *lower)
{
	DateADT		date = 0;
	int			c;

	if (!row_date(slot, ls, &date))
		return;
	for (c = 0; c < ls->ncolumns; c++)
	{
		int64		id;

		if (row_key(slot, &ls->columns[c], &id))
			contact_add(lower, id, date, true, false, false);
	}
}

/*
 * An updated row: compare old and new per subject column, so that an
 * update that changes no date and no subject costs nothing.
 */
static void
collect_updated_row(TupleTableSlot *oldslot, TupleTableSlot *newslot,
					LinkSubject *ls, ContactSet *raise, ContactSet *lower)
{
	DateADT		olddate = 0,
				newdate = 0;
	bool		has_old = row_date(oldslot, ls, &olddate);
	bool		has_new = row_date(newslot, ls, &newdate);
	int			c;

	for (c = 0; c < ls->ncolumns; c++)
	{
		LinkColumn *col = &ls->columns[c];
		int64		oldid = 0,
					newid = 0;
		bool		has_oldid = row_key(oldslot, col, &oldid);
		bool		has_newid = row_key(newslot, col, &newid);
		bool		arrival = col->npersonal > 0 &&
			personal_changed(oldslot, newslot, col);

		/*
		 * The foreign key is checked again only when the column changes:
		 * an update of dates alone holds no lock on the subject.
		 */
		if (has_oldid && has_newid && oldid == newid)
		{
			if (has_new && (!has_old || newdate > olddate))
				contact_add(raise, newid, newdate, true, arrival, false);
			else if (has_old && (!has_new || newdate < olddate))
				contact_add(lower, oldid, olddate, true, false, false);
			if (arrival)
				contact_add(raise, newid, 0, false, true, false);
			continue;
		}
		/* re-pointed (or pointed for the first time, or no longer) */
		if (has_oldid && has_old)
			contact_add(lower, oldid, olddate, true, false, false);
		if (has_newid)
		{
			arrival = col->delete_row || row_has_personal(newslot, col);
			if (has_new || arrival)
				contact_add(raise, newid, newdate, has_new, arrival, col->fk_locked);
		}
	}
}

/* ---- the engine ---- */

/* Subjects a raise found not active, for what follows it. */
typedef struct RaiseOutcome
{
	int64	   *anonymised;		/* personal data arrived for them */
	int			nanon;
	int64	   *unarchive;		/* archived, given a newer contact */
	int			nunarch;
} RaiseOutcome;

/*
 * Lock a row as SELECT ... FOR <mode> would, waiting for a transaction
 * that holds it: the slot then holds its latest version (READ COMMITTED),
 * or the transaction fails to serialize (REPEATABLE READ and up).  Returns
 * false when the row was deleted meanwhile.
 */
static bool
lock_latest(Relation rel, TupleTableSlot *slot, Snapshot snapshot, LockTupleMode mode)
{
	TM_FailureData tmfd;
	ItemPointerData tid = slot->tts_tid;
	int			flags = IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION;

	switch (table_tuple_lock(rel, &tid, snapshot, slot, GetCurrentCommandId(false),
							 mode, LockWaitBlock, flags, &tmfd))
	{
		case TM_Ok:
		case TM_SelfModified:	/* ours already: the slot holds it */
			return true;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		case TM_Updated:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
			break;
		default:
			elog(ERROR, "pericles_rgpd: unexpected table_tuple_lock result");
	}
	return false;
}

/*
 * A non-HOT update: add the new version's entries to every index, as the
 * executor does (partial-index predicates and expressions included).
 */
static void
insert_index_entries(Relation rel, TupleTableSlot *slot)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	rri->ri_RelationDesc = rel;
	ExecOpenIndices(rri, false);
	(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
}

/*
 * Give one subject a newer contact without the executor (direct_write
 * subjects only): the same conditions as rgpd._sql 'raise_one', checked on
 * the version written; a concurrent update is followed as the executor
 * follows it in READ COMMITTED.  Returns true if the row was written, and
 * then in *written_status the status of the version written, which may
 * not be the one read before waiting (the sweep archives under a lock
 * that FOR KEY SHARE does not wait for).
 */
static bool
write_contact(Relation rel, RgpdSubject *sub, TupleTableSlot *slot, Snapshot snapshot,
			  DateADT date, Oid *written_status)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *newslot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	CommandId	cid = GetCurrentCommandId(true);
	bool		written = false;

	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	for (;;)
	{
		bool		isnull;
		Datum		lc = slot_getattr(slot, sub->last_contact_attno, &isnull);
		Oid			status = DatumGetObjectId(slot_getattr(slot, sub->status_attno, &isnull));
		bool		floornull;
		int			cols[2] = {sub->last_contact_attno, sub->floor_attno};
		Datum		vals[2];
		bool		nulls[2] = {false, false};
		HeapTuple	oldtup;
		HeapTuple	newtup;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		update_indexes;
		ItemPointerData tid = slot->tts_tid;
		TM_Result	result;

		lc = slot_getattr(slot, sub->last_contact_attno, &isnull);
		if ((!isnull && DatumGetDateADT(lc) >= date) || status == sub->status_anonymised)
			break;
		vals[0] = DateADTGetDatum(date);
		vals[1] = slot_getattr(slot, sub->floor_attno, &floornull);
		if (floornull)
			vals[1] = DateADTGetDatum(date);
		oldtup = ExecFetchSlotHeapTuple(slot, false, NULL);
		newtup = heap_modify_tuple_by_cols(oldtup, desc, 2, cols, vals, nulls);
		ExecStoreHeapTuple(newtup, newslot, true);

		result = table_tuple_update(rel, &tid, newslot, cid, snapshot, InvalidSnapshot,
									true, &tmfd, &lockmode, &update_indexes);
		if (result == TM_Ok)
		{
			if (update_indexes)
				insert_index_entries(rel, newslot);
			*written_status = status;
			written = true;
			break;
		}
		if (result == TM_SelfModified)
			elog(ERROR, "pericles_rgpd: subject row already modified by this command");
		if (result != TM_Updated && result != TM_Deleted)
			elog(ERROR, "pericles_rgpd: unexpected table_tuple_update result");
		/* changed since we read it: take its latest version and decide again */
		if (!lock_latest(rel, slot, snapshot, lockmode))
			break;
	}
	ExecDropSingleTupleTableSlot(newslot);
	return written;
}

/*
 * A few subjects, read through the unique index of the key, without the
 * executor: the latest version a fresh snapshot sees (READ COMMITTED), or
 * the transaction's.  A subject whose row is not already locked by this
 * transaction is locked FOR KEY SHARE first (see the file header).  A newer
 * date is written directly when that is safe (see subject_cache.c), by a
 * saved UPDATE otherwise.
 */
static void
raise_each_direct(RgpdSubject *sub, RgpdContact *c, int n, RaiseOutcome *out)
{
	Relation	rel;
	Relation	idx;
	TupleTableSlot *slot;
	int			k;

	/* what this trigger wrote before (a recomputation) must be seen */
	CommandCounterIncrement();
	rel = table_open(sub->relid, RowExclusiveLock);
	idx = index_open(sub->key_index, AccessShareLock);
	slot = table_slot_create(rel, NULL);

	for (k = 0; k < n; k++)
	{
		Snapshot	snapshot;
		IndexScanDesc scan;
		ScanKeyData key;
		bool		found;
		bool		isnull;
		Datum		d;
		Oid			status;
		int64		id = c[k].id;

		/* a key out of the column's range cannot be in the table */
		if ((sub->key_type == INT4OID && (id < PG_INT32_MIN || id > PG_INT32_MAX)) ||
			(sub->key_type == INT2OID && (id < PG_INT16_MIN || id > PG_INT16_MAX)))
			continue;
		if (sub->key_type == INT2OID)
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum((int16) id));
		else if (sub->key_type == INT4OID)
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum((int32) id));
		else
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));

		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		scan = index_beginscan(rel, idx, snapshot, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, slot);
		index_endscan(scan);
		if (found && !c[k].locked)
			found = lock_latest(rel, slot, snapshot, LockTupleKeyShare);
		if (!found)
		{
			UnregisterSnapshot(snapshot);
			continue;			/* no such subject (no foreign key) */
		}

		status = DatumGetObjectId(slot_getattr(slot, sub->status_attno, &isnull));
		d = slot_getattr(slot, sub->last_contact_attno, &isnull);
		if (status == sub->status_anonymised)
		{
			if (c[k].arrival)
				out->anonymised[out->nanon++] = id;
		}
		else if (c[k].has_date && (isnull || DatumGetDateADT(d) < c[k].date))
		{
			bool		written;
			bool		archived = false;

			/*
			 * Decide on the status of the row written, not of the one read:
			 * a sweep that archived it meanwhile was waited for by the write
			 * only, and its archive must be undone.
			 */
			if (sub->direct_write)
			{
				Oid			written_status;

				written = write_contact(rel, sub, slot, snapshot, c[k].date,
										&written_status);
				archived = written && written_status == sub->status_archived;
			}
			else
			{
				Oid			argtypes[2] = {INT8OID, DATEOID};
				Datum		values[2];

				values[0] = Int64GetDatum(id);
				values[1] = DateADTGetDatum(c[k].date);
				rgpd_execute_plan(rgpd_subject_plan(sub, &sub->raise_one, "raise_one", 2,
													argtypes, CURSOR_OPT_GENERIC_PLAN),
								  values, NULL, sub->owner, true, 1);
				written = SPI_processed == 1;
				archived = written &&
					strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						   RGPD_ARCHIVED) == 0;
				SPI_freetuptable(SPI_tuptable);
			}
			if (archived)
				out->unarchive[out->nunarch++] = id;
		}
		ExecClearTuple(slot);
		UnregisterSnapshot(snapshot);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, NoLock);	/* locks are kept until the end of the transaction */
}

/*
 * A few subjects: one short statement each, with saved plans.  When the
 * row is already locked (foreign key), the conditional UPDATE is all there
 * is; otherwise the row is first locked FOR KEY SHARE and read, and
 * written only if the date is newer.
 */
static void
raise_each(RgpdSubject *sub, RgpdContact *c, int n, RaiseOutcome *out)
{
	Oid			argtypes[2] = {INT8OID, DATEOID};
	Datum		values[2];
	int			k;

	for (k = 0; k < n; k++)
	{
		bool		isnull;
		bool		write = c[k].has_date;
		char	   *status = NULL;

		values[0] = Int64GetDatum(c[k].id);
		values[1] = DateADTGetDatum(c[k].date);

		if (!c[k].locked)
		{
			rgpd_execute_plan(rgpd_subject_plan(sub, &sub->lock_one, "lock_one", 1,
												argtypes, CURSOR_OPT_GENERIC_PLAN),
							  values, NULL, sub->owner, true, 1);
			if (SPI_processed == 0)
				continue;		/* no such subject (no foreign key) */
			status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			if (write)
			{
				Datum		lc = SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull);

				write = isnull || DatumGetDateADT(lc) < c[k].date;
			}
			SPI_freetuptable(SPI_tuptable);
			if (strcmp(status, RGPD_ANONYMISED) == 0)
			{
				if (c[k].arrival)
					out->anonymised[out->nanon++] = c[k].id;
				continue;
			}
		}
		if (write)
		{
			rgpd_execute_plan(rgpd_subject_plan(sub, &sub->raise_one, "raise_one", 2,
												argtypes, CURSOR_OPT_GENERIC_PLAN),
							  values, NULL, sub->owner, true, 1);
			if (SPI_processed == 1)
			{
				/* the status of the row written, not of the one locked */
				if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						   RGPD_ARCHIVED) == 0)
					out->unarchive[out->nunarch++] = c[k].id;
				SPI_freetuptable(SPI_tuptable);
				continue;
			}
			SPI_freetuptable(SPI_tuptable);
		}
		/* nothing written: is personal data arriving for an anonymised subject? */
		if (c[k].arrival && status == NULL)
		{
			rgpd_execute_plan(rgpd_subject_plan(sub, &sub->status_one, "status_one", 1,
												argtypes, CURSOR_OPT_GENERIC_PLAN),
							  values, NULL, sub->owner, true, 1);
			if (SPI_processed == 1 &&
				strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
					   RGPD_ANONYMISED) == 0)
				out->anonymised[out->nanon++] = c[k].id;
			SPI_freetuptable(SPI_tuptable);
		}
	}
}

/*
 * Many subjects: one statement for the whole set, planned for its actual
 * size.  rgpd._sql 'raise' locks every subject FOR KEY SHARE, writes those
 * that get a newer date, and returns the ones not active (the status of
 * the row written, for those written); when foreign keys already hold
 * every subject, 'raise_locked' only writes.
 */
static void
raise_set(RgpdSubject *sub, RgpdContact *c, int n, RaiseOutcome *out)
{
	Oid			argtypes[2] = {INT8ARRAYOID, DATEARRAYOID};
	Datum		values[2];
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *dates = palloc(sizeof(Datum) * n);
	bool	   *datenulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	bool		locked = true;
	SPIPlanPtr	plan;
	uint64		i;
	int			k;

	for (k = 0; k < n; k++)
	{
		ids[k] = Int64GetDatum(c[k].id);
		dates[k] = DateADTGetDatum(c[k].date);
		datenulls[k] = !c[k].has_date;
		/* every subject already held, no status to check for arrivals */
		locked &= c[k].locked && !c[k].arrival && c[k].has_date;
	}
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_md_array(dates, datenulls, 1, dims, lbs,
												   DATEOID, sizeof(DateADT), true,
												   TYPALIGN_INT));
	if (locked)
		plan = rgpd_subject_plan(sub, &sub->raise_bulk_locked, "raise_locked", 2, argtypes,
								 CURSOR_OPT_CUSTOM_PLAN);
	else
		plan = rgpd_subject_plan(sub, &sub->raise_bulk, "raise", 2, argtypes,
								 CURSOR_OPT_CUSTOM_PLAN);
	rgpd_execute_plan(plan, values, NULL, sub->owner, true, 0);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *status = SPI_getvalue(tup, desc, 2);
		bool		raised = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

		if (strcmp(status, RGPD_ANONYMISED) == 0)
			out->anonymised[out->nanon++] = id;
		else if (strcmp(status, RGPD_ARCHIVED) == 0 && raised)
			out->unarchive[out->nunarch++] = id;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Record contacts.  Nothing is written for a subject that gets no newer
 * date.  Then: personal data that arrived through `link` for an
 * anonymised subject is erased at once, and an archived subject given a
 * fresh contact is un-archived.
 */
void
rgpd_raise_contacts(RgpdSubject *sub, RgpdContact *c, int n, Oid link,
					const char *reason)
{
	RaiseOutcome out;

	n = merge_contacts(c, n);
	if (n == 0)
		return;
	out.anonymised = palloc(sizeof(int64) * n);
	out.unarchive = palloc(sizeof(int64) * n);
	out.nanon = out.nunarch = 0;

	if (n <= RAISE_SMALL_LIMIT && OidIsValid(sub->key_index))
		raise_each_direct(sub, c, n, &out);
	else if (n <= RAISE_SMALL_LIMIT)
		raise_each(sub, c, n, &out);
	else
		raise_set(sub, c, n, &out);

	if (out.nanon > 0 && OidIsValid(link))
		rgpd_erase_on_arrival(sub, link, out.anonymised, out.nanon);
	if (out.nunarch > 0)
		rgpd_unarchive_fresh(sub, out.unarchive, out.nunarch, reason);
}

/*
 * Dates went away.  Lock the subjects (FOR UPDATE), and recompute those
 * whose last_contact may have been one of the dates removed.
 */
void
rgpd_lower_contacts(RgpdSubject *sub, RgpdContact *c, int n)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	int64	   *ids;
	int64	   *targets;
	int			ntargets = 0;
	int			k;
	uint64		i;

	n = merge_contacts(c, n);
	if (n == 0)
		return;
	ids = palloc(sizeof(int64) * n);
	for (k = 0; k < n; k++)
		ids[k] = c[k].id;
	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute_plan(rgpd_subject_plan(sub, &sub->lock_lower, "lock_lower", 1,
										argtypes, CURSOR_OPT_GENERIC_PLAN),
					  values, NULL, sub->owner, true, 0);

	targets = palloc(sizeof(int64) * Max(SPI_processed, 1));
	k = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		idnull,
					lcnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &idnull));
		Datum		lc = SPI_getbinval(tup, desc, 2, &lcnull);

		/* both lists are sorted by id */
		while (k < n && c[k].id < id)
			k++;
		if (k < n && c[k].id == id &&
			(lcnull || DatumGetDateADT(lc) <= c[k].date))
			targets[ntargets++] = id;
	}
	SPI_freetuptable(SPI_tuptable);
	if (ntargets > 0)
		rgpd_recompute_ids(sub, targets, ntargets);
}

/* Recompute some subjects from all their contacts; returns rows changed. */
int64
rgpd_recompute_ids(RgpdSubject *sub, int64 *ids, int n)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];

	values[0] = PointerGetDatum(rgpd_int8_array(ids, n));
	rgpd_execute_plan(rgpd_subject_plan(sub, &sub->recompute_ids, "recompute_ids",
										1, argtypes, CURSOR_OPT_GENERIC_PLAN),
					  values, NULL, sub->owner, true, 0);
	return (int64) SPI_processed;
}

/*
 * Recompute every subject of a table.  Writers of its link tables and of
 * opt-in events are held off (SHARE lock) so that nothing they add can be
 * missed; the subject table is locked against concurrent changes of keys
 * and creation dates.
 */
static int64
recompute_all(RgpdSubject *sub)
{
	int			i;
	Oid			optin = get_relname_relid("optin_events",
										  get_namespace_oid(RGPD_SCHEMA, false));
	char	   *sql;
	int64		changed;

	/* a standby refuses these locks: say first that this writes (25006) */
	PreventCommandIfReadOnly("rgpd.recompute()");
	for (i = 0; i < sub->nlinks; i++)
		LockRelationOid(sub->links[i], ShareLock);
	if (OidIsValid(optin))
		LockRelationOid(optin, ShareLock);
	LockRelationOid(sub->relid, ShareRowExclusiveLock);

	sql = rgpd_generated_sql(sub->relid, "recompute_all", InvalidOid, NULL);
	rgpd_execute(sql, 0, NULL, NULL, NULL, sub->owner, true, 0);
	changed = (int64) SPI_processed;
	pfree(sql);
	return changed;
}

/* Every subject of a table, for callers outside this file (under SPI). */
int64
rgpd_recompute_subject(RgpdSubject *sub)
{
	return recompute_all(sub);
}

/* ---- rows that join or leave a partitioned link ---- */

/*
 * The rows of partition `part` joined (ATTACH PARTITION) or left (DETACH
 * PARTITION) the registered link table `link`: record them as an INSERT
 * or a DELETE of those rows would have.  Joining raises the subjects they
 * bring (and, as any contact, un-archives or erases on arrival); leaving
 * recomputes the subjects whose last_contact may have been one of their
 * dates.  The configuration is the registration's own (the arguments
 * rgpd._link_trigger_args() gives the link's triggers), read against each
 * table of the partition's tree that holds rows, whose columns may lie in
 * another order than the link's.  The command that moved the partition
 * holds it locked against writers; the rows are read under a fresh
 * snapshot.  Under SPI.
 */
void
rgpd_partition_link_rows(Oid link, Oid part, bool joined)
{
	List	   *members = find_all_inheritors(part, AccessShareLock, NULL);
	bool		isnull;
	Datum		expected = registration_args(link, KIND_LINK, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			nargs;
	Trigger		config;
	ContactSet *sets = NULL;
	Oid		   *subjects = NULL;
	int			nsubjects = 0;
	Snapshot	snapshot;
	ListCell   *lc;
	int			i,
				s;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not registered as a link", rgpd_relname(link))));
	deconstruct_array(DatumGetArrayTypeP(expected), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &nargs);
	memset(&config, 0, sizeof(config));
	config.tgname = "rgpd_link_insert";
	config.tgnargs = nargs;
	config.tgargs = palloc(sizeof(char *) * Max(nargs, 1));
	for (i = 0; i < nargs; i++)
		config.tgargs[i] = nulls[i] ? "" : TextDatumGetCString(elems[i]);

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	foreach(lc, members)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		TriggerInfo info;
		TableScanDesc scan;
		TupleTableSlot *slot;

		/* partitioned tables hold no rows of their own */
		if (rel->rd_rel->relkind != RELKIND_RELATION)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		memset(&info, 0, sizeof(info));
		parse_link_args(&info, &config, rel);
		if (sets == NULL)
		{
			nsubjects = info.nsubjects;
			sets = palloc0(sizeof(ContactSet) * nsubjects);
			subjects = palloc(sizeof(Oid) * nsubjects);
			for (s = 0; s < nsubjects; s++)
				subjects[s] = info.subjects[s].subject;
		}

		scan = table_beginscan(rel, snapshot, 0, NULL);
		slot = table_slot_create(rel, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			for (s = 0; s < nsubjects; s++)
			{
				if (joined)
				{
					refuse_infinite_dates(slot, &info.subjects[s], rel);
					collect_new_row(slot, &info.subjects[s], &sets[s]);
				}
				else
					collect_old_row(slot, &info.subjects[s], &sets[s]);
			}
			CHECK_FOR_INTERRUPTS();
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
		/* one entry per subject from here on: big partitions stay small */
		for (s = 0; s < nsubjects; s++)
			sets[s].n = merge_contacts(sets[s].items, sets[s].n);
	}
	UnregisterSnapshot(snapshot);

	for (s = 0; s < nsubjects; s++)
	{
		RgpdSubject *sub;

		if (sets[s].n == 0)
			continue;
		sub = rgpd_subject(subjects[s], false);
		if (joined)
		{
			/* no foreign-key check of this statement locked them */
			for (i = 0; i < sets[s].n; i++)
				sets[s].items[i].locked = false;
			rgpd_raise_contacts(sub, sets[s].items, sets[s].n, link, "contact");
		}
		else
			rgpd_lower_contacts(sub, sets[s].items, sets[s].n);
	}
}

/* ---- the link trigger ---- */

/*
 * A new link row dated 'infinity' would keep its subject from ever falling
 * due, and '-infinity' is no date: refuse either (22008) when the row
 * points at a subject.  Finite dates, future ones included, are contacts.
 */
static void
refuse_infinite_dates(TupleTableSlot *slot, LinkSubject *ls, Relation rel)
{
	int			i;
	int			c;

	for (i = 0; i < ls->ndates; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, ls->dates[i], &isnull);
		bool		finite;
		int64		id;

		if (isnull)
			continue;
		if (ls->datetypes[i] == DATEOID)
			finite = !DATE_NOT_FINITE(DatumGetDateADT(d));
		else
			finite = !TIMESTAMP_NOT_FINITE(DatumGetTimestamp(d));
		if (finite)
			continue;
		for (c = 0; c < ls->ncolumns; c++)
		{
			if (!row_key(slot, &ls->columns[c], &id))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
					 errmsg("column \"%s\" of table %s is not a finite date for subject %lld",
							NameStr(TupleDescAttr(RelationGetDescr(rel), ls->dates[i] - 1)->attname),
							quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													   RelationGetRelationName(rel)),
							(long long) id),
					 errdetail("A contact at infinity would keep the record from ever falling due."),
					 errhint("Store the real date of the contact, or NULL when it is not known.")));
		}
	}
}


static void
check_trigger_protocol(FunctionCallInfo fcinfo, const char *name,
					   bool before_row_ok)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s must be called as a trigger", name)));
	if (!before_row_ok && !TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s must be fired AFTER", name)));
}

/*
 * A trigger created without the transition tables it reads.  Registration
 * never creates one (and check_registered() refuses them first).
 */
static void
missing_transition_table(TriggerData *trigdata, const char *function,
						 const char *which)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("trigger \"%s\" on table \"%s\" has no %s TABLE for function %s",
					trigdata->tg_trigger->tgname,
					RelationGetRelationName(trigdata->tg_relation), which, function),
			 errhint("Triggers of pericles_rgpd are created by rgpd.register_subject() and rgpd.register_link().")));
}

/*
 * rgpd.link_trigger(): AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT
 * with transition tables, and AFTER TRUNCATE.
 */
Datum
rgpd_link_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent ev;
	TriggerInfo *info;
	TupleDesc	desc;
	int			s;

	check_trigger_protocol(fcinfo, "rgpd.link_trigger()", false);
	ev = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_STATEMENT(ev))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function rgpd.link_trigger() must be fired FOR EACH STATEMENT")));

	/* the extension's own rewrites of linked rows are not contacts */
	if (TRIGGER_FIRED_BY_UPDATE(ev) && rgpd_internal_write())
		return PointerGetDatum(NULL);

	info = trigger_info(trigdata, KIND_LINK);
	desc = RelationGetDescr(trigdata->tg_relation);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");

	for (s = 0; s < info->nsubjects; s++)
	{
		LinkSubject *ls = &info->subjects[s];
		RgpdSubject *sub = rgpd_subject(ls->subject, false);
		ContactSet	raise = {0};
		ContactSet	lower = {0};
		TransitionReader oldr,
					newr;

		if (TRIGGER_FIRED_BY_TRUNCATE(ev))
		{
			recompute_all(sub);
			continue;
		}
		if (TRIGGER_FIRED_BY_INSERT(ev))
		{
			if (trigdata->tg_newtable == NULL)
				missing_transition_table(trigdata, "rgpd.link_trigger()", "NEW");
			reader_open(&newr, trigdata->tg_newtable, desc);
			while (reader_next(&newr))
			{
				refuse_infinite_dates(newr.slot, ls, trigdata->tg_relation);
				collect_new_row(newr.slot, ls, &raise);
			}
			reader_close(&newr);
		}
		else if (TRIGGER_FIRED_BY_DELETE(ev))
		{
			if (trigdata->tg_oldtable == NULL)
				missing_transition_table(trigdata, "rgpd.link_trigger()", "OLD");
			reader_open(&oldr, trigdata->tg_oldtable, desc);
			while (reader_next(&oldr))
				collect_old_row(oldr.slot, ls, &lower);
			reader_close(&oldr);
		}
		else if (TRIGGER_FIRED_BY_UPDATE(ev))
		{
			bool		more_old,
						more_new;

			if (trigdata->tg_oldtable == NULL || trigdata->tg_newtable == NULL)
				missing_transition_table(trigdata, "rgpd.link_trigger()", "OLD and NEW");

			/*
			 * Old and new rows are stored in the same order, one pair per
			 * updated row.
			 */
			reader_open(&oldr, trigdata->tg_oldtable, desc);
			reader_open(&newr, trigdata->tg_newtable, desc);
			for (;;)
			{
				more_old = reader_next(&oldr);
				more_new = reader_next(&newr);
				if (!more_old || !more_new)
					break;
				refuse_infinite_dates(newr.slot, ls, trigdata->tg_relation);
				collect_updated_row(oldr.slot, newr.slot, ls, &raise, &lower);
			}
			if (more_old != more_new)
				elog(ERROR, "rgpd.link_trigger(): transition tables of different sizes");
			reader_close(&oldr);
			reader_close(&newr);
		}

		if (lower.n > 0)
			rgpd_lower_contacts(sub, lower.items, lower.n);
		if (raise.n > 0)
			rgpd_raise_contacts(sub, raise.items, raise.n, info->registered, "contact");
	}

	SPI_finish();
	return PointerGetDatum(NULL);
}

/* ---- the subject trigger ---- */

static DateADT
created_day(TriggerInfo *info, HeapTuple tuple, TupleDesc desc, bool *isnull)
{
	Datum		d;

	*isnull = true;
	if (info->created == InvalidAttrNumber)
		return 0;
	d = heap_getattr(tuple, info->created, desc, isnull);
	if (*isnull)
		return 0;
	return contact_day(d, info->createdtype, info->tz);
}

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW: the derived columns belong to the
 * extension.  On insert, last_contact starts at the creation date; on
 * update, last_contact and its floor keep their values, rgpd_status may
 * only change through the rgpd functions, and an anonymised record's
 * personal columns cannot be written again.
 */
static HeapTuple
guard_row(TriggerData *trigdata, TriggerInfo *info)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	int			cols[3];
	Datum		vals[3];
	bool		nulls[3];
	bool		isnull;
	Datum		status;

	if (rgpd_internal_write())
		return newtup;

	status = heap_getattr(newtup, info->status, desc, &isnull);

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		DateADT		day;

		if (!isnull && DatumGetObjectId(status) != info->status_active)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("new rows of table \"%s\" must have rgpd_status 'active'",
							RelationGetRelationName(rel)),
					 errhint("Insert the row as active, then use rgpd.archive().")));
		day = created_day(info, newtup, desc, &isnull);
		cols[0] = info->last_contact;
		cols[1] = info->floor;
		vals[0] = vals[1] = DateADTGetDatum(day);
		nulls[0] = nulls[1] = isnull;
		return heap_modify_tuple_by_cols(newtup, desc, 2, cols, vals, nulls);
	}
	else
	{
		HeapTuple	oldtup = trigdata->tg_trigtuple;
		bool		oldnull;
		Datum		oldstatus = heap_getattr(oldtup, info->status, desc, &oldnull);
		bool		lcnull,
					flnull;
		Datum		lc = heap_getattr(oldtup, info->last_contact, desc, &lcnull);
		Datum		fl = heap_getattr(oldtup, info->floor, desc, &flnull);
		int			i;

		if (isnull || DatumGetObjectId(status) != DatumGetObjectId(oldstatus))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("column \"rgpd_status\" of table \"%s\" can only be changed by pericles_rgpd",
							RelationGetRelationName(rel)),
					 errhint("Use rgpd.archive(), rgpd.unarchive(), rgpd.optin() or rgpd.anonymise().")));

		if (DatumGetObjectId(oldstatus) == info->status_anonymised)
		{
			for (i = 0; i < info->npersonal; i++)
			{
				AttrNumber	att = info->personal[i];
				Form_pg_attribute attr = TupleDescAttr(desc, att - 1);
				bool		on,
							nn;
				Datum		o = heap_getattr(oldtup, att, desc, &on);
				Datum		v = heap_getattr(newtup, att, desc, &nn);

				if (on != nn || (!on && !datumIsEqual(o, v, attr->attbyval, attr->attlen)))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("cannot write personal column \"%s\" of an anonymised row of table \"%s\"",
									NameStr(attr->attname), RelationGetRelationName(rel)),
							 errdetail("Anonymisation is irreversible.")));
			}
		}

		/* keep the derived columns as the extension left them */
		cols[0] = info->last_contact;
		cols[1] = info->floor;
		vals[0] = lc;
		vals[1] = fl;
		nulls[0] = lcnull;
		nulls[1] = flnull;
		{
			bool		n0,
						n1;
			Datum		v0 = heap_getattr(newtup, info->last_contact, desc, &n0);
			Datum		v1 = heap_getattr(newtup, info->floor, desc, &n1);

			if (n0 == lcnull && n1 == flnull &&
				(lcnull || DatumGetDateADT(v0) == DatumGetDateADT(lc)) &&
				(flnull || DatumGetDateADT(v1) == DatumGetDateADT(fl)))
				return newtup;
		}
		return heap_modify_tuple_by_cols(newtup, desc, 2, cols, vals, nulls);
	}
}

/* Keys of the rows of a transition table. */
static int64 *
transition_keys(Tuplestorestate *store, TupleDesc desc, TriggerInfo *info, int *n)
{
	TransitionReader r;
	int			size = 64;
	int64	   *keys = palloc(sizeof(int64) * size);

	*n = 0;
	reader_open(&r, store, desc);
	while (reader_next(&r))
	{
		bool		isnull;
		Datum		d = slot_getattr(r.slot, info->key, &isnull);

		if (isnull)
			continue;
		if (*n == size)
		{
			size *= 2;
			keys = repalloc_huge(keys, sizeof(int64) * size);
		}
		keys[(*n)++] = key_value(d, info->keytype);
	}
	reader_close(&r);
	return keys;
}

/*
 * rgpd.subject_trigger():
 *   BEFORE INSERT OR UPDATE FOR EACH ROW: guard_row();
 *   AFTER INSERT FOR EACH STATEMENT (NEW TABLE): new subjects may already
 *     be referenced by linked rows (loaded first, no foreign key):
 *     recompute them;
 *   AFTER UPDATE OF key, created FOR EACH ROW: recompute that subject.
 */
Datum
rgpd_subject_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent ev;
	TriggerInfo *info;
	RgpdSubject *sub;

	check_trigger_protocol(fcinfo, "rgpd.subject_trigger()", true);
	ev = trigdata->tg_event;
	info = trigger_info(trigdata, KIND_SUBJECT);

	if (TRIGGER_FIRED_BEFORE(ev))
	{
		if (!TRIGGER_FIRED_FOR_ROW(ev) ||
			!(TRIGGER_FIRED_BY_INSERT(ev) || TRIGGER_FIRED_BY_UPDATE(ev)))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("function rgpd.subject_trigger() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW")));
		return PointerGetDatum(guard_row(trigdata, info));
	}

	if (rgpd_internal_write())
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	/* a partition's trigger acts for the registered (partitioned) table */
	sub = rgpd_subject(info->registered, false);

	if (TRIGGER_FIRED_BY_INSERT(ev) && TRIGGER_FIRED_FOR_STATEMENT(ev))
	{
		int			n;
		int64	   *keys;

		if (trigdata->tg_newtable == NULL)
			missing_transition_table(trigdata, "rgpd.subject_trigger()", "NEW");
		keys = transition_keys(trigdata->tg_newtable,
							   RelationGetDescr(trigdata->tg_relation), info, &n);
		n = rgpd_sort_unique_int64(keys, n);
		if (n > 0 && sub->has_links)
			rgpd_recompute_ids(sub, keys, n);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(ev) && TRIGGER_FIRED_FOR_ROW(ev))
	{
		bool		isnull;
		Datum		d = heap_getattr(trigdata->tg_newtuple, info->key,
									 RelationGetDescr(trigdata->tg_relation), &isnull);
		RgpdContact c;

		if (!isnull)
		{
			/* lock, then recompute under a fresh snapshot */
			c.id = key_value(d, info->keytype);
			DATE_NOEND(c.date);
			c.has_date = true;
			c.arrival = c.locked = false;
			rgpd_lower_contacts(sub, &c, 1);
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function rgpd.subject_trigger() fired for an unsupported event")));

	SPI_finish();
	return PointerGetDatum(NULL);
}

/* ---- rgpd.recompute() ---- */

/*
 * rgpd.recompute(subject regclass) RETURNS bigint: repair every row whose
 * last_contact differs from a full recomputation; returns how many were
 * changed.  The owner of the table and managers; every row, archived
 * ones included (it runs as the owner, row security not forced).  NULL,
 * doing nothing, in a transaction that called rgpd.defer_backfill().
 */
Datum
rgpd_recompute(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	RgpdSubject *sub;
	int64		changed;

	if (!pg_class_ownercheck(relid, GetUserId()) && !rgpd_is_manager())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to recompute table %s", rgpd_relname(relid)),
				 errhint("Recomputing is for the owner of the table and members of %s.",
						 RGPD_MANAGER)));
	/* after rgpd.defer_backfill(), left to CALL rgpd.recompute_batches() */
	if (rgpd_backfill_deferred())
		PG_RETURN_NULL();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	changed = recompute_all(sub);
	SPI_finish();
	PG_RETURN_INT64(changed);
}
