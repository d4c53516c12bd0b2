/*-------------------------------------------------------------------------
 *
 * transition_rows.c
 *	  Reading the rows a statement changed: transition tables read once,
 *	  in C, and each row turned into what it brings to a subject table (a
 *	  contact to raise, a date that went away, personal data arriving).
 *	  Keys and dates are read as the engine compares them: a key as an
 *	  int8, a date as the day it falls on (a timestamptz in the subject's
 *	  time zone).  A new row dated at infinity is refused here (22008).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "pericles_rgpd.h"
#include "transition_rows.h"

void
rgpd_contact_add(ContactSet *set, int64 id, DateADT date, bool has_date,
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

int64
rgpd_key_value(Datum d, Oid typid)
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
DateADT
rgpd_contact_day(Datum d, Oid typid, pg_tz *tz)
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
		day = rgpd_contact_day(d, ls->datetypes[i], ls->tz);
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
	*out = rgpd_key_value(d, col->typid);
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

void
rgpd_reader_open(TransitionReader *r, Tuplestorestate *store, TupleDesc desc)
{
	r->store = store;
	r->slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	r->readptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(store, r->readptr);
	tuplestore_rescan(store);
}

bool
rgpd_reader_next(TransitionReader *r)
{
	tuplestore_select_read_pointer(r->store, r->readptr);
	return tuplestore_gettupleslot(r->store, true, false, r->slot);
}

void
rgpd_reader_close(TransitionReader *r)
{
	tuplestore_select_read_pointer(r->store, 0);
	ExecDropSingleTupleTableSlot(r->slot);
}

/* What a row brings to one subject table. */
void
rgpd_collect_new_row(TupleTableSlot *slot, LinkSubject *ls, ContactSet *raise)
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
			rgpd_contact_add(raise, id, date, has_date, arrival, col->fk_locked);
	}
}

void
rgpd_collect_old_row(TupleTableSlot *slot, LinkSubject *ls, ContactSet *lower)
{
	DateADT		date = 0;
	int			c;

	if (!row_date(slot, ls, &date))
		return;
	for (c = 0; c < ls->ncolumns; c++)
	{
		int64		id;

		if (row_key(slot, &ls->columns[c], &id))
			rgpd_contact_add(lower, id, date, true, false, false);
	}
}

/*
 * An updated row: compare old and new per subject column, so that an
 * update that changes no date and no subject costs nothing.
 */
void
rgpd_collect_updated_row(TupleTableSlot *oldslot, TupleTableSlot *newslot,
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
				rgpd_contact_add(raise, newid, newdate, true, arrival, false);
			else if (has_old && (!has_new || newdate < olddate))
				rgpd_contact_add(lower, oldid, olddate, true, false, false);
			if (arrival)
				rgpd_contact_add(raise, newid, 0, false, true, false);
			continue;
		}
		/* re-pointed (or pointed for the first time, or no longer) */
		if (has_oldid && has_old)
			rgpd_contact_add(lower, oldid, olddate, true, false, false);
		if (has_newid)
		{
			arrival = col->delete_row || row_has_personal(newslot, col);
			if (has_new || arrival)
				rgpd_contact_add(raise, newid, newdate, has_new, arrival, col->fk_locked);
		}
	}
}

/*
 * A new link row dated 'infinity' would keep its subject from ever falling
 * due, and '-infinity' is no date: refuse either (22008) when the row
 * points at a subject; and so a date from year 10000 on (5874897-12-31 is
 * as good as infinity, and the retention arithmetic on it would overflow:
 * review finding).  Earlier dates, future ones included, are contacts.
 */
void
rgpd_refuse_infinite_dates(TupleTableSlot *slot, LinkSubject *ls, Relation rel)
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
			finite = !DATE_NOT_FINITE(DatumGetDateADT(d)) &&
				DatumGetDateADT(d) < RGPD_CONTACT_HORIZON;
		else
			finite = !TIMESTAMP_NOT_FINITE(DatumGetTimestamp(d)) &&
				DatumGetTimestamp(d) < (Timestamp) RGPD_CONTACT_HORIZON * USECS_PER_DAY;
		if (finite)
			continue;
		for (c = 0; c < ls->ncolumns; c++)
		{
			if (!row_key(slot, &ls->columns[c], &id))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
					 errmsg("column \"%s\" of table %s is not a date before year 10000 for subject %lld",
							NameStr(TupleDescAttr(RelationGetDescr(rel), ls->dates[i] - 1)->attname),
							quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													   RelationGetRelationName(rel)),
							(long long) id),
					 errdetail("A contact at infinity, or beyond year 9999, would keep the record from ever falling due."),
					 errhint("Store the real date of the contact, or NULL when it is not known.")));
		}
	}
}
