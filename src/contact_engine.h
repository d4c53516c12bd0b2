/*-------------------------------------------------------------------------
 *
 * contact_engine.h
 *	  The contact engine (contact_engine.c): raising and lowering
 *	  last_contact for the contacts of one statement.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_CONTACT_ENGINE_H
#define RGPD_CONTACT_ENGINE_H

#include "utils/date.h"

#include "pericles_rgpd.h"

/*
 * A subject id with a contact date (or none: has_date false).  arrival:
 * personal data for it arrived with the row, so an anonymised subject must
 * be noticed; locked: this transaction already holds a lock on the subject
 * row that keeps lowerings out (a foreign-key check took FOR KEY SHARE).
 */
typedef struct RgpdContact
{
	int64		id;
	DateADT		date;
	bool		has_date;
	bool		arrival;
	bool		locked;
} RgpdContact;

/*
 * What a raise found, for its caller to follow up: the engine itself calls
 * no lifecycle action.
 */
typedef struct RgpdRaised
{
	int64	   *anonymised;		/* anonymised subjects personal data arrived for */
	int			nanonymised;
	int64	   *revived;		/* archived subjects given a newer contact */
	int			nrevived;
} RgpdRaised;

/* Sort by id, keep each id's greatest date; returns the new count. */
extern int	rgpd_merge_contacts(RgpdContact *c, int n);
/* Record contacts (nothing written where no date is newer); fills *raised. */
extern void rgpd_raise_contacts(RgpdSubject *sub, RgpdContact *contacts, int n,
								RgpdRaised *raised);
/* Dates went away: lock, and recompute those they may have been the greatest of. */
extern void rgpd_lower_contacts(RgpdSubject *sub, RgpdContact *contacts, int n);

#endif							/* RGPD_CONTACT_ENGINE_H */
