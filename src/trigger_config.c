/*-------------------------------------------------------------------------
 *
 * trigger_config.c
 *	  The configuration of pericles_rgpd's triggers: the arguments
 *	  registration gives rgpd.link_trigger() and rgpd.subject_trigger(),
 *	  parsed once per trigger and cached (invalidated with the relcache),
 *	  and the checks that a trigger being fired is one registration
 *	  installed: its table, name, events and arguments are compared with
 *	  what registration generates for a registered table
 *	  (check_registered()); anything else fails with SQLSTATE 39P01.  Also
 *	  the calling-protocol checks both trigger functions make first.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "pericles_rgpd.h"
#include "trigger_config.h"

static HTAB *trigger_cache = NULL;

static void not_registered(Trigger *trigger, Relation rel, TriggerKind kind,
						   const char *detail) pg_attribute_noreturn();

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
				 errmsg("column \"%s\" of table %s named by trigger \"%s\" does not exist",
						name, rgpd_relname(RelationGetRelid(rel)), trigger->tgname),
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
				 errmsg("column \"%s\" of table %s named by trigger \"%s\" has type %s",
						NameStr(attr->attname), rgpd_relname(RelationGetRelid(rel)),
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
			 errmsg("trigger \"%s\" on table %s has malformed arguments",
					trigger->tgname, rgpd_relname(RelationGetRelid(rel))),
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
void
rgpd_parse_link_args(TriggerInfo *info, Trigger *trigger, Relation rel)
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
			 errmsg("trigger \"%s\" on table %s was not installed by pericles_rgpd registration",
					trigger->tgname, rgpd_relname(RelationGetRelid(rel))),
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
Datum
rgpd_registration_args(Oid relid, TriggerKind kind, bool *isnull)
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
				 errmsg("extension pericles_rgpd must be updated before trigger \"%s\" on table %s can run",
						trigger->tgname, rgpd_relname(RelationGetRelid(rel))),
				 errhint("Run ALTER EXTENSION pericles_rgpd UPDATE.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	relid = registered_table(trigger, rel);
	if (!OidIsValid(relid))
		detail = "The trigger it was cloned from is not found.";
	else
	{
		expected = rgpd_registration_args(relid, kind, &isnull);
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
TriggerInfo *
rgpd_trigger_info(TriggerData *trigdata, TriggerKind kind)
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
				rgpd_parse_link_args(info, trigger, rel);
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

void
rgpd_check_trigger_protocol(FunctionCallInfo fcinfo, const char *name,
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
void
rgpd_missing_transition_table(TriggerData *trigdata, const char *function,
							  const char *which)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("trigger \"%s\" on table %s has no %s TABLE for function %s",
					trigdata->tg_trigger->tgname,
					rgpd_relname(RelationGetRelid(trigdata->tg_relation)), which, function),
			 errhint("Triggers of pericles_rgpd are created by rgpd.register_subject() and rgpd.register_link().")));
}
