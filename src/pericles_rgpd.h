/*-------------------------------------------------------------------------
 *
 * pericles_rgpd.h
 *	  Declarations shared by the C files of pericles_rgpd: settings, the
 *	  helpers that run internal SQL as a table owner, the per-subject cache
 *	  and the contact engine entry points used by the action functions.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERICLES_RGPD_H
#define PERICLES_RGPD_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/date.h"
#include "utils/jsonb.h"

/* Name of the extension, of its schema and of the manager role. */
#define RGPD_EXTENSION	"pericles_rgpd"
#define RGPD_SCHEMA		"rgpd"
#define RGPD_MANAGER	"rgpd_manager"

/*
 * The status of a subject row, and the labels of rgpd.status that stand for
 * them.  C code compares RgpdStatus values (or pg_enum OIDs, on the engine's
 * per-row paths), never labels; catalog_lookup.c converts.
 */
typedef enum RgpdStatus
{
	RGPD_STATUS_ACTIVE,
	RGPD_STATUS_ARCHIVED,
	RGPD_STATUS_ANONYMISED
} RgpdStatus;

/*
 * The two actions of the lifecycle, by name 'archive' and 'anonymise' in
 * the SQL API (rgpd.pending(action)) and in the journal.
 */
typedef enum RgpdAction
{
	RGPD_ACTION_ARCHIVE,
	RGPD_ACTION_ANONYMISE
} RgpdAction;

#define RGPD_ACTIVE		"active"
#define RGPD_ARCHIVED	"archived"
#define RGPD_ANONYMISED	"anonymised"

/* ---- settings (pericles_rgpd.c) ---- */
extern bool rgpd_auto_anonymise;
extern bool rgpd_require_export;
extern char *rgpd_mask_text;
extern char *rgpd_export_ttl;
extern char *rgpd_trusted_owners;

/* ---- the gate for code a table owner controls (owner_code.c) ---- */

/* Flags of rgpd_gate_execute(). */
#define RGPD_GATE_NOFORCE_RLS	0x01	/* the role's own FORCE ROW LEVEL
										 * SECURITY does not apply, as in
										 * ri_triggers.c */
#define RGPD_GATE_INTERNAL		0x02	/* the extension's own write: the
										 * triggers leave it alone */
#define RGPD_GATE_READ_ONLY		0x04	/* a read with the caller's active
										 * snapshot (SPI read_only) */

extern void rgpd_owner_code_init(void);
extern void rgpd_owner_code_reset(void);

/*
 * True while the triggers fire for a statement the gate runs as the
 * extension's own write (archiving, anonymising, recording a contact) and
 * not for a statement user code runs from inside it.
 */
extern bool rgpd_internal_write(void);

/* Run a saved plan or a statement as `role` (InvalidOid: the current user). */
extern int	rgpd_gate_execute(SPIPlanPtr plan, const char *sql, int nargs,
							  Oid *argtypes, Datum *values, const char *nulls,
							  Oid role, int flags, long tcount);
/* The same, RLS not forced, marked internal when `internal`. */
extern int	rgpd_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls,
							  Oid role, bool internal, long tcount);
extern int	rgpd_execute(const char *sql, int nargs, Oid *argtypes,
						 Datum *values, const char *nulls,
						 Oid role, bool internal, long tcount);
/* Prepare and keep a plan in the context the gate runs it in. */
extern SPIPlanPtr rgpd_gate_prepare(const char *sql, int nargs, Oid *argtypes,
									int cursor_options, Oid role, int flags);

/* Run fn(arg) in a subtransaction; an error becomes a WARNING (returned). */
extern Jsonb *rgpd_error_journal_detail(ErrorData *err);
extern ErrorData *rgpd_isolated(void (*fn) (void *arg), void *arg, Oid relid,
								const char *what);

/* ---- statements (statements.c) ---- */

/* Prepare and keep a plan (CURSOR_OPT_* options). */
extern SPIPlanPtr rgpd_prepare(const char *sql, int nargs, Oid *argtypes,
							   int cursor_options);

/* search_path pinned to pg_catalog, pg_temp for code that runs user SQL. */
extern int	rgpd_pin_search_path(void);
extern void rgpd_unpin_search_path(int nest_level);

/* Roles (roles.c) and names (catalog_lookup.c). */
extern void rgpd_roles_init(void);
extern Oid	rgpd_extension_owner(void);
extern bool rgpd_is_manager(void);
extern void rgpd_require_manager(const char *action);
extern char *rgpd_current_user_name(void);
extern char *rgpd_relname(Oid relid);
extern Oid	rgpd_rel_owner(Oid relid);
extern Oid	rgpd_status_label(Oid statustype, const char *label);
extern RgpdStatus rgpd_status_of_label(const char *label);
extern RgpdStatus rgpd_status_of_oid(Oid enumoid);
extern const char *rgpd_status_name(RgpdStatus status);
extern const char *rgpd_action_name(RgpdAction action);
extern RgpdAction rgpd_action_of_name(const char *name);

/* ---- arrays of bigint keys (keys.c) ---- */
extern ArrayType *rgpd_int8_array(int64 *values, int n);
extern int64 *rgpd_spi_int64_column(int *n);
extern int64 *rgpd_array_to_int64(ArrayType *arr, int *n);
extern int	rgpd_sort_unique_int64(int64 *values, int n);
extern const char *rgpd_format_ids(int64 *ids, int n);

/* ---- what the caller may read (caller_rights.c) ---- */
extern bool rgpd_caller_privileged(void);

/* ---- lists (lists.c) ---- */
extern void rgpd_check_as_of(DateADT as_of);

/* ---- the per-subject cache (subject_cache.c) ---- */

#include "subject_statements.h"

typedef struct RgpdSubject
{
	Oid			relid;			/* hash key: the subject table */
	bool		valid;
	Oid			owner;			/* owner of the subject table */
	char	   *relname;		/* qualified, quoted name, for messages */
	char	   *key_column;		/* unquoted name of the key column */
	bool		has_links;		/* any link with date columns (or opt-ins) */
	/* direct lookups by key (InvalidOid: none, e.g. a partitioned table) */
	Oid			key_index;		/* unique btree index on the key column */
	AttrNumber	key_attno;
	Oid			key_type;
	AttrNumber	last_contact_attno;
	AttrNumber	status_attno;
	Oid			status_anonymised;	/* pg_enum OIDs of the status labels */
	Oid			status_archived;
	AttrNumber	floor_attno;
	bool		direct_write;	/* a contact may be written without the
								 * executor (see subject_cache.c) */
	int			nlinks;
	Oid		   *links;			/* every registered link table */
	/* saved plans by statement kind, prepared on first use */
	SPIPlanPtr	plans[RGPD_STMT_COUNT];
} RgpdSubject;

/* The sweep's locks on a subject table and its links, bounded wait (sweep.c). */
extern RgpdSubject *rgpd_sweep_lock_tables(Oid relid);

extern RgpdSubject *rgpd_subject(Oid relid, bool missing_ok);
extern Oid *rgpd_registered_subjects(int *n);
extern SPIPlanPtr rgpd_subject_plan(RgpdSubject *sub, RgpdStatementKind kind);
extern void rgpd_cache_init(void);
extern void rgpd_cache_collect_garbage(void);
extern void rgpd_cache_forget_plan_later(SPIPlanPtr plan);

/* ---- what the caller may read (caller_rights.c) ---- */
extern bool rgpd_caller_reads(Oid relid, const char *key_column);
extern Oid	rgpd_require_owner_rights(Oid relid);
extern bool rgpd_caller_reads_subject(Oid relid);
extern void rgpd_require_reads(RgpdSubject *sub, const char *action);
extern void rgpd_caller_reads_all(Oid relid, const char *action);
/* Flags of rgpd_caller_visible(). */
#define RGPD_SEE_NAMED	0x01	/* the caller named the table (an action) */
#define RGPD_SEE_WRITE	0x02	/* rows the caller may also update */
extern int	rgpd_caller_visible(RgpdSubject *sub, int64 *ids, int n, int flags);
extern bool rgpd_foreign_policies(Oid relid);
extern bool rgpd_caller_trusts(Oid relid);

/*
 * The contact engine and its triggers have a header per module:
 * trigger_config.h, transition_rows.h, contact_engine.h, direct_write.h,
 * recompute.h, link_trigger.h.
 */

/* ---- archive (archive.c) and opt-in (optin.c) ---- */
extern int64 rgpd_mark_links(RgpdSubject *sub, int64 *ids, int n, bool archived);
extern void rgpd_unarchive_ids(RgpdSubject *sub, int64 *ids, int n,
							   const char *reason);
extern void rgpd_unarchive_fresh(RgpdSubject *sub, int64 *ids, int n,
								 const char *reason);
extern void rgpd_check_optin_origin(const char *origin);
extern int64 rgpd_record_optin(RgpdSubject *sub, int64 id, const char *origin,
							   Datum at, const char *token_id, const char *caller);

/* ---- the sweep (sweep.c), also run in committed batches (batches.c) ---- */
extern int64 *rgpd_due_ids(RgpdSubject *sub, RgpdAction action, DateADT as_of, int *n);
extern int64 rgpd_archive_due(RgpdSubject *sub, int64 *ids, int n, DateADT as_of);
extern void rgpd_refresh_floors(RgpdSubject *sub, DateADT as_of);
extern int64 rgpd_purge_exports(void);

/*
 * True after rgpd.defer_backfill(), until the end of the transaction:
 * rgpd.recompute() of a whole table, which registration ends with, is left
 * to CALL rgpd.recompute_batches() (batches.c).
 */
extern bool rgpd_backfill_deferred(void);

/* ---- the restricted archive on linked rows (archive_values.c) ---- */
extern void rgpd_archive_link_values(RgpdSubject *sub, int64 *ids, int n);
extern void rgpd_restore_link_values(RgpdSubject *sub, int64 *ids, int n);
extern void rgpd_discard_link_values(RgpdSubject *sub, int64 *ids, int n);

/* ---- anonymise (anonymise.c) ---- */
extern int64 rgpd_erase_on_arrival(RgpdSubject *sub, Oid link, int64 *ids, int n);
/* Flags of rgpd_anonymise_ids(). */
#define RGPD_ANONYMISE_FORCE	0x01	/* again if anonymised, unknown ids and
										 * the export requirement skipped */
#define RGPD_ANONYMISE_SWEEP	0x02	/* subjects without a recent export
										 * skipped, not refused */
extern int64 rgpd_anonymise_ids(Oid relid, int64 *ids, int n, const char *action,
								const char *reason, int flags);
extern int	rgpd_count_without_export(RgpdSubject *sub, int64 *ids, int n);

/* ---- replay of erasures after a restore (erasure_log.c) ---- */
extern int64 rgpd_replay_journal(Datum since);

/* ---- legal holds (legal_hold.c) ---- */
/* ids (sorted) without the held ones; with refuse, an error naming the hold */
extern char *rgpd_iso_date(DateADT d);
extern int	rgpd_check_holds(RgpdSubject *sub, int64 *ids, int n, const char *action,
							 bool refuse);

/* ---- retention by kind of record (retention.c) ---- */
extern void rgpd_retention_clock(DateADT as_of);
extern void rgpd_retention_clock_reset(void);
extern void rgpd_retain_rows(RgpdSubject *sub, Oid only_link, int64 *ids, int n);
extern int64 rgpd_retention_sweep(DateADT as_of, bool dry_run, Oid only,
								  ReturnSetInfo *rsinfo);
extern Datum rgpd_retention_export(Oid subject, int64 id, Datum extras);

/* ---- bounds on what callers store (consent.c) ---- */

/*
 * Event times (opt-ins, consents) must be finite and at most this far
 * ahead of the server clock; stored text (origins, reasons, sources,
 * labels) at most RGPD_MAX_TEXT characters long.
 */
#define RGPD_MAX_CLOCK_SKEW	((int64) 3600 * USECS_PER_SEC)	/* 1 hour */
#define RGPD_MAX_TEXT		1000
extern void rgpd_check_event_time(Datum at, const char *what);
extern void rgpd_check_text_length(const char *value, const char *what);

/* ---- the module headers ---- */
#include "journal.h"			/* the journal and its jsonb details */
#include "subject_rows.h"		/* the rows an action names, privilege checks */

#endif							/* PERICLES_RGPD_H */
