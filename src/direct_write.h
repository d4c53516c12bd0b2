/*-------------------------------------------------------------------------
 *
 * direct_write.h
 *	  Writing a contact on a subject row without the executor (direct_write.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_DIRECT_WRITE_H
#define RGPD_DIRECT_WRITE_H

#include "access/tableam.h"
#include "nodes/lockoptions.h"

#include "pericles_rgpd.h"

/* Lock a row as SELECT ... FOR <mode>; false when it was deleted meanwhile. */
extern bool rgpd_lock_latest(Relation rel, TupleTableSlot *slot, Snapshot snapshot,
							 LockTupleMode mode);
/* Write a newer date; true if written, with the status of the version written. */
extern bool rgpd_write_contact(Relation rel, RgpdSubject *sub, TupleTableSlot *slot,
							   Snapshot snapshot, DateADT date, Oid *written_status);

#endif							/* RGPD_DIRECT_WRITE_H */
