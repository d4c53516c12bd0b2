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

/*
 * Which write gives a subject a newer contact on the few-subjects path, a
 * compile-time choice for measurement (make PROFILE=-DRGPD_UPDATE_PATH=N,
 * bench/update_paths.sh):
 *   1  the hand-written heap update (rgpd_write_contact), default;
 *   2  the saved-plan UPDATE of RGPD_STMT_RAISE_ONE, run as the owner
 *      through the gate, for every subject;
 *   3  PostgreSQL's ExecSimpleRelationUpdate() (execReplication.c), as
 *      logical replication's apply worker writes a row.
 * Paths 1 and 3 run as the link's writer, so they are used only when the
 * subject table's UPDATE would run no owner code (direct_write_is_safe();
 * path 3 also needs no CHECK constraint, which it would evaluate); the
 * saved UPDATE serves every other table.
 */
#ifndef RGPD_UPDATE_PATH
#define RGPD_UPDATE_PATH 1
#endif
#define RGPD_UPDATE_HEAP		1
#define RGPD_UPDATE_PLAN		2
#define RGPD_UPDATE_EXECUTOR	3

/* Lock a row as SELECT ... FOR <mode>; false when it was deleted meanwhile. */
extern bool rgpd_lock_latest(Relation rel, TupleTableSlot *slot, Snapshot snapshot,
							 LockTupleMode mode);
/* Write a newer date; true if written, with the status of the version written. */
extern bool rgpd_write_contact(Relation rel, RgpdSubject *sub, TupleTableSlot *slot,
							   Snapshot snapshot, DateADT date, Oid *written_status);
/* The same through ExecSimpleRelationUpdate() (RGPD_UPDATE_PATH 3). */
extern bool rgpd_write_contact_executor(Relation rel, RgpdSubject *sub, TupleTableSlot *slot,
										Snapshot snapshot, DateADT date,
										Oid *written_status);
/* May this subject's contacts be written by path 1 or 3 (as compiled)? */
extern bool rgpd_direct_write_enabled(RgpdSubject *sub, Relation rel);

#endif							/* RGPD_DIRECT_WRITE_H */
