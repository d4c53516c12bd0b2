/*-------------------------------------------------------------------------
 *
 * trigger_config.h
 *	  The parsed configuration of a pericles_rgpd trigger (trigger_config.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_TRIGGER_CONFIG_H
#define RGPD_TRIGGER_CONFIG_H

#include "commands/trigger.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/rel.h"

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

/* The configuration of the trigger being fired, checked to be registration's. */
extern TriggerInfo *rgpd_trigger_info(TriggerData *trigdata, TriggerKind kind);
/* Parse link-trigger arguments against rel (also for rows joining a partition). */
extern void rgpd_parse_link_args(TriggerInfo *info, Trigger *trigger, Relation rel);
/* The arguments registration gives the triggers of relid today (under SPI). */
extern Datum rgpd_registration_args(Oid relid, TriggerKind kind, bool *isnull);
/* Called as a trigger, AFTER unless before_row_ok. */
extern void rgpd_check_trigger_protocol(FunctionCallInfo fcinfo, const char *name,
										bool before_row_ok);
extern void rgpd_missing_transition_table(TriggerData *trigdata, const char *function,
										  const char *which) pg_attribute_noreturn();
/* Forget the configurations of the triggers on or towards relid. */
extern void rgpd_link_cache_invalidate(Oid relid);

#endif							/* RGPD_TRIGGER_CONFIG_H */
