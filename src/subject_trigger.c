/*-------------------------------------------------------------------------
 *
 * subject_trigger.c
 *	  rgpd.subject_trigger(), installed on each subject table: it fills
 *	  last_contact on insert, keeps the derived columns (last_contact, its
 *	  floor, rgpd_status) out of the application's hands, protects the
 *	  personal columns of an anonymised row, recomputes new subjects that
 *	  linked rows already point at, and recomputes a subject whose key or
 *	  creation date changes.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/datum.h"

#include "pericles_rgpd.h"
#include "contact_engine.h"
#include "recompute.h"
#include "transition_rows.h"
#include "trigger_config.h"

PG_FUNCTION_INFO_V1(rgpd_subject_trigger);

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
	return rgpd_contact_day(d, info->createdtype, info->tz);
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
					 errmsg("new rows of table %s must have rgpd_status 'active'",
							rgpd_relname(RelationGetRelid(rel))),
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
					 errmsg("column \"rgpd_status\" of table %s can only be changed by pericles_rgpd",
							rgpd_relname(RelationGetRelid(rel))),
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
							 errmsg("cannot write personal column \"%s\" of an anonymised row of table %s",
									NameStr(attr->attname), rgpd_relname(RelationGetRelid(rel))),
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
	rgpd_reader_open(&r, store, desc);
	while (rgpd_reader_next(&r))
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
		keys[(*n)++] = rgpd_key_value(d, info->keytype);
	}
	rgpd_reader_close(&r);
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

	rgpd_check_trigger_protocol(fcinfo, "rgpd.subject_trigger()", true);
	ev = trigdata->tg_event;
	info = rgpd_trigger_info(trigdata, KIND_SUBJECT);

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
			rgpd_missing_transition_table(trigdata, "rgpd.subject_trigger()", "NEW");
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
			c.id = rgpd_key_value(d, info->keytype);
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
