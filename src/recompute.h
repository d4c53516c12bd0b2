/*-------------------------------------------------------------------------
 *
 * recompute.h
 *	  Recomputing last_contact from all contacts (recompute.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_RECOMPUTE_H
#define RGPD_RECOMPUTE_H

#include "pericles_rgpd.h"

/* Some subjects; returns rows changed.  Under SPI. */
extern int64 rgpd_recompute_ids(RgpdSubject *sub, int64 *ids, int n);
/* Every subject of a table, writers of its links held off.  Under SPI. */
extern int64 rgpd_recompute_subject(RgpdSubject *sub);

#endif							/* RGPD_RECOMPUTE_H */
