/*-------------------------------------------------------------------------
 *
 * transition_rows.h
 *	  Reading changed rows into contacts (transition_rows.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_TRANSITION_ROWS_H
#define RGPD_TRANSITION_ROWS_H

#include "executor/tuptable.h"
#include "utils/tuplestore.h"

#include "contact_engine.h"
#include "trigger_config.h"

/* A growing array of contacts. */
typedef struct ContactSet
{
	RgpdContact *items;
	int			n;
	int			size;
} ContactSet;

/* A read pointer of its own on a transition table. */
typedef struct TransitionReader
{
	Tuplestorestate *store;
	TupleTableSlot *slot;
	int			readptr;
} TransitionReader;

extern void rgpd_contact_add(ContactSet *set, int64 id, DateADT date, bool has_date,
							 bool arrival, bool locked);
extern int64 rgpd_key_value(Datum d, Oid typid);
/* The day a date, timestamp or timestamptz (in zone tz) falls on. */
extern DateADT rgpd_contact_day(Datum d, Oid typid, pg_tz *tz);
extern void rgpd_reader_open(TransitionReader *r, Tuplestorestate *store, TupleDesc desc);
extern bool rgpd_reader_next(TransitionReader *r);
extern void rgpd_reader_close(TransitionReader *r);
/* What a new, a removed, an updated row brings to one subject table. */
extern void rgpd_collect_new_row(TupleTableSlot *slot, LinkSubject *ls, ContactSet *raise);
extern void rgpd_collect_old_row(TupleTableSlot *slot, LinkSubject *ls, ContactSet *lower);
extern void rgpd_collect_updated_row(TupleTableSlot *oldslot, TupleTableSlot *newslot,
									 LinkSubject *ls, ContactSet *raise, ContactSet *lower);
/* A new row pointing at a subject with a date at infinity: 22008. */
/* Contact dates are before 10000-01-01 (as a DateADT). */
#define RGPD_CONTACT_HORIZON ((DateADT) (5373485 - POSTGRES_EPOCH_JDATE))	/* date2j(10000, 1, 1) */
extern void rgpd_refuse_infinite_dates(TupleTableSlot *slot, LinkSubject *ls, Relation rel);

#endif							/* RGPD_TRANSITION_ROWS_H */
