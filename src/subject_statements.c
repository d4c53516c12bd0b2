/*-------------------------------------------------------------------------
 *
 * subject_statements.c
 *	  The statements of one subject table, by kind (RgpdStatementKind),
 *	  each built here beside what its parameters mean: the contact
 *	  engine's short ones from the subject's quoted names alone, the
 *	  others (recomputation, checks, status changes, what falls due, the
 *	  sweep, erasure and export) from its configuration too
 *	  (statement_parts.c).  Every operator is OPERATOR(pg_catalog.x),
 *	  every name quoted, every value a $n parameter; they run as the
 *	  table's owner through the gate (owner_code.c).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"
#include "statement_parts.h"
#include "subject_statements.h"

/* A builder; `variant` tells apart the kinds one builder serves. */
#define BUILDER(name) \
	static char *name(RgpdSubject *sub pg_attribute_unused(), \
					  RgpdSubjectConf *conf pg_attribute_unused(), \
					  int variant pg_attribute_unused())
BUILDER(build_raise_one);
BUILDER(build_lock_one);
BUILDER(build_status_one);
BUILDER(build_raise);
BUILDER(build_raise_locked);
BUILDER(build_lock_lower);
BUILDER(build_recompute);
BUILDER(build_verify);
BUILDER(build_is_excluded);
BUILDER(build_status_rows);
BUILDER(build_status_change);
BUILDER(build_due);
BUILDER(build_sweep_refresh);
BUILDER(build_sweep_lock);
BUILDER(build_sweep_next_keys);
BUILDER(build_reconsent);
BUILDER(build_erase_subject);
BUILDER(build_export_record);
BUILDER(build_export_links);

#define I8	INT8OID
#define I8A	INT8ARRAYOID
#define GENERIC	CURSOR_OPT_GENERIC_PLAN
#define CUSTOM	CURSOR_OPT_CUSTOM_PLAN

static const RgpdStatement statements[RGPD_STMT_COUNT] = {
	[RGPD_STMT_RAISE_ONE] = {"raise_one", 2, {I8, DATEOID}, GENERIC, false, build_raise_one, 0},
	[RGPD_STMT_LOCK_ONE] = {"lock_one", 1, {I8}, GENERIC, false, build_lock_one, 0},
	[RGPD_STMT_STATUS_ONE] = {"status_one", 1, {I8}, GENERIC, false, build_status_one, 0},
	[RGPD_STMT_RAISE] = {"raise", 2, {I8A, DATEARRAYOID}, CUSTOM, false, build_raise, 0},
	[RGPD_STMT_RAISE_LOCKED] = {"raise_locked", 2, {I8A, DATEARRAYOID}, CUSTOM, false, build_raise_locked, 0},
	[RGPD_STMT_LOCK_LOWER] = {"lock_lower", 1, {I8A}, GENERIC, false, build_lock_lower, 0},
	[RGPD_STMT_RECOMPUTE_IDS] = {"recompute_ids", 1, {I8A}, GENERIC, true, build_recompute, true},
	[RGPD_STMT_RECOMPUTE_ALL] = {"recompute_all", 0, {0}, 0, true, build_recompute, false},
	[RGPD_STMT_VERIFY] = {"verify", 0, {0}, 0, true, build_verify, 0},
	[RGPD_STMT_IS_EXCLUDED] = {"is_excluded", 1, {I8}, 0, true, build_is_excluded, 0},
	[RGPD_STMT_LOCK_STATUS] = {"lock_status", 2, {I8A, TIMESTAMPTZOID}, 0, true, build_status_rows, true},
	[RGPD_STMT_PEEK_STATUS] = {"peek_status", 2, {I8A, TIMESTAMPTZOID}, 0, true, build_status_rows, false},
	[RGPD_STMT_ARCHIVE] = {"archive", 1, {I8A}, 0, true, build_status_change, RGPD_STMT_ARCHIVE},
	[RGPD_STMT_UNARCHIVE] = {"unarchive", 1, {I8A}, 0, true, build_status_change, RGPD_STMT_UNARCHIVE},
	[RGPD_STMT_UNARCHIVE_FRESH] = {"unarchive_fresh", 1, {I8A}, 0, true, build_status_change, RGPD_STMT_UNARCHIVE_FRESH},
	[RGPD_STMT_DUE_ARCHIVE] = {"due_archive", 1, {DATEOID}, 0, true, build_due, RGPD_ACTION_ARCHIVE},
	[RGPD_STMT_DUE_ANONYMISE] = {"due_anonymise", 1, {DATEOID}, 0, true, build_due, RGPD_ACTION_ANONYMISE},
	[RGPD_STMT_SWEEP_ARCHIVE] = {"sweep_archive", 2, {I8A, DATEOID}, 0, true, build_status_change, RGPD_STMT_SWEEP_ARCHIVE},
	[RGPD_STMT_SWEEP_REFRESH] = {"sweep_refresh", 1, {DATEOID}, 0, true, build_sweep_refresh, 0},
	[RGPD_STMT_SWEEP_LOCK_ARCHIVE] = {"sweep_lock_archive", 2, {I8A, DATEOID}, 0, true, build_sweep_lock, RGPD_ACTION_ARCHIVE},
	[RGPD_STMT_SWEEP_LOCK_ANONYMISE] = {"sweep_lock_anonymise", 2, {I8A, DATEOID}, 0, true, build_sweep_lock, RGPD_ACTION_ANONYMISE},
	[RGPD_STMT_SWEEP_NEXT_KEYS] = {"sweep_next_keys", 2, {I8, I8}, 0, true, build_sweep_next_keys, 0},
	[RGPD_STMT_RECONSENT] = {"reconsent", 1, {DATEOID}, 0, true, build_reconsent, 0},
	[RGPD_STMT_ERASE_SUBJECT] = {"erase_subject", 1, {I8A}, 0, true, build_erase_subject, 0},
	[RGPD_STMT_EXPORT_RECORD] = {"export_record", 1, {I8}, 0, true, build_export_record, 0},
	[RGPD_STMT_EXPORT_LINKS] = {"export_links", 1, {I8}, 0, true, build_export_links, 0},
};

const RgpdStatement *
rgpd_statement(RgpdStatementKind kind)
{
	if (kind < 0 || kind >= RGPD_STMT_COUNT)
		elog(ERROR, "pericles_rgpd: unknown statement kind %d", (int) kind);
	return &statements[kind];
}

/*
 * The text of a statement, NULL when the table has nothing it applies to
 * (RGPD_STMT_RECONSENT without an e-mail column).  Built under a pinned
 * search_path, as it runs: names not on it are qualified.
 */
char *
rgpd_statement_sql(RgpdSubject *sub, RgpdStatementKind kind)
{
	const RgpdStatement *st = rgpd_statement(kind);
	RgpdSubjectConf *conf = NULL;
	int			nest_level;
	char	   *sql;

	if (!st->configured)
		return st->build(sub, NULL, st->variant);
	nest_level = rgpd_pin_search_path();
	conf = rgpd_subject_conf(sub->relid);
	sql = st->build(sub, conf, st->variant);
	rgpd_unpin_search_path(nest_level);
	return sql;
}

/* The table (qualified, quoted: sub->relname) and its quoted key column. */
#define REL(sub)	((sub)->relname)
#define KEY(sub)	quote_identifier((sub)->key_column)

/* $1 int8 id, $2 date: one subject; the status of the row written, if written. */
BUILDER(build_raise_one)
{
	return psprintf("UPDATE %s AS s SET last_contact = $2,"
					"       rgpd_contact_floor = COALESCE(s.rgpd_contact_floor, $2)"
					" WHERE s.%s OPERATOR(pg_catalog.=) $1"
					"   AND (s.last_contact IS NULL OR s.last_contact OPERATOR(pg_catalog.<) $2)"
					"   AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status"
					" RETURNING CAST(s.rgpd_status AS pg_catalog.text)",
					REL(sub), KEY(sub));
}

/* $1 int8 id: lock one subject against lowerings, read it. */
BUILDER(build_lock_one)
{
	return psprintf("SELECT s.last_contact, CAST(s.rgpd_status AS pg_catalog.text) FROM %s AS s"
					" WHERE s.%s OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF s",
					REL(sub), KEY(sub));
}

/* $1 int8 id: its status. */
BUILDER(build_status_one)
{
	return psprintf("SELECT CAST(s.rgpd_status AS pg_catalog.text) FROM %s AS s"
					" WHERE s.%s OPERATOR(pg_catalog.=) $1",
					REL(sub), KEY(sub));
}

/*
 * $1 int8[] sorted ids, $2 date[] their dates (NULL: status check only).
 * l locks each subject FOR KEY SHARE and reads its latest version (after
 * waiting for a transaction that lowered it); the UPDATE decides on those
 * values, not on its own snapshot's, and takes GREATEST with the row it
 * finally writes (re-read by EvalPlanQual if another contact raised it
 * meanwhile).  The status returned for a subject written is that of the
 * row written: the sweep archives under a lock FOR KEY SHARE does not wait
 * for, so l may have read active a row the UPDATE then finds archived.
 */
BUILDER(build_raise)
{
	const char *k = KEY(sub);

	return psprintf("WITH l AS MATERIALIZED ("
					"  SELECT CAST(s.%1$s AS pg_catalog.int8) AS id, s.rgpd_status AS st,"
					"         s.last_contact AS lc, v.d"
					"    FROM %2$s AS s"
					"    JOIN ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
					"                    pg_catalog.unnest($2::pg_catalog.date[])) AS v(id, d)"
					"      ON s.%1$s OPERATOR(pg_catalog.=) v.id"
					"     FOR KEY SHARE OF s),"
					" u AS ("
					"  UPDATE %2$s AS s SET last_contact = GREATEST(s.last_contact, l.d),"
					"         rgpd_contact_floor = COALESCE(s.rgpd_contact_floor, l.d)"
					"    FROM l"
					"   WHERE s.%1$s OPERATOR(pg_catalog.=) l.id AND l.d IS NOT NULL"
					"     AND (l.lc IS NULL OR l.lc OPERATOR(pg_catalog.<) l.d)"
					"     AND l.st OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status"
					"     AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status"
					"  RETURNING CAST(s.%1$s AS pg_catalog.int8) AS id, s.rgpd_status AS st)"
					" SELECT l.id, CAST(COALESCE(u.st, l.st) AS pg_catalog.text), u.id IS NOT NULL"
					"   FROM l LEFT JOIN u ON u.id OPERATOR(pg_catalog.=) l.id"
					"  WHERE COALESCE(u.st, l.st) OPERATOR(pg_catalog.<>) 'active'::rgpd.status",
					k, REL(sub));
}

/*
 * The same as build_raise(), for rows this transaction already holds (their
 * foreign key's check locked them): a plain conditional UPDATE, re-checked
 * on the latest version of a row another contact raised.
 */
BUILDER(build_raise_locked)
{
	const char *k = KEY(sub);

	return psprintf("WITH u AS ("
					"  UPDATE %2$s AS s SET last_contact = v.d,"
					"         rgpd_contact_floor = COALESCE(s.rgpd_contact_floor, v.d)"
					"    FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
					"                    pg_catalog.unnest($2::pg_catalog.date[])) AS v(id, d)"
					"   WHERE s.%1$s OPERATOR(pg_catalog.=) v.id AND v.d IS NOT NULL"
					"     AND (s.last_contact IS NULL OR s.last_contact OPERATOR(pg_catalog.<) v.d)"
					"     AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status"
					"  RETURNING CAST(s.%1$s AS pg_catalog.int8) AS id, s.rgpd_status AS st)"
					" SELECT u.id, CAST(u.st AS pg_catalog.text), true FROM u"
					"  WHERE u.st OPERATOR(pg_catalog.<>) 'active'::rgpd.status",
					k, REL(sub));
}

/* $1 int8[] ids: lock the subjects not anonymised FOR UPDATE, in key order. */
BUILDER(build_lock_lower)
{
	const char *k = KEY(sub);

	return psprintf("SELECT CAST(s.%1$s AS pg_catalog.int8) AS id, s.last_contact FROM %2$s AS s"
					" WHERE s.%1$s OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
					"   AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status"
					" ORDER BY 1 FOR UPDATE OF s",
					k, REL(sub));
}

/* ---- built from the configuration ---- */

/* The configuration's quoted key column, and "s.key = ANY ($1)". */
#define CKEY(conf)	quote_identifier((conf)->key_column)
#define IN_IDS(conf)	rgpd_sql_in_ids("s", (conf)->key_column, NULL)

/*
 * v: per subject (filtered by $1 when `filtered`), the stored
 * last_contact, its status and the recomputed lc: the latest of its
 * creation day and every contact (statement_parts.c, rgpd_sql_contacts).
 */
static char *
recomputed(RgpdSubjectConf *conf, bool filtered)
{
	char	   *created = conf->created_column
		? rgpd_sql_day(conf->subject, conf->created_column, "s2", conf->time_zone) : NULL;

	return psprintf("WITH c AS (%s),"
					" m AS (SELECT c.id, pg_catalog.max(c.d) AS d FROM c GROUP BY c.id),"
					" v AS (SELECT CAST(s2.%s AS pg_catalog.int8) AS id, s2.last_contact AS stored,"
					"              s2.rgpd_status AS st, GREATEST(%s, m.d) AS lc"
					"         FROM %s AS s2 LEFT JOIN m ON m.id OPERATOR(pg_catalog.=) s2.%s%s) ",
					rgpd_sql_contacts(conf, filtered), CKEY(conf),
					created ? created : "CAST(NULL AS pg_catalog.date)", conf->name, CKEY(conf),
					filtered ? psprintf(" WHERE %s", rgpd_sql_in_ids("s2", conf->key_column, NULL)) : "");
}

/*
 * $1 ids (RGPD_STMT_RECOMPUTE_IDS), or every subject: write the
 * recomputed last_contact where it differs, and the contact floor where
 * it is missing, stale or above it (subjects not anonymised).
 */
BUILDER(build_recompute)
{
	bool		filtered = variant;

	return psprintf("%sUPDATE %s AS s SET last_contact = v.lc,"
					" rgpd_contact_floor = CASE WHEN v.lc IS NULL THEN NULL"
					"   WHEN s.rgpd_contact_floor IS NULL OR s.rgpd_contact_floor OPERATOR(pg_catalog.>) v.lc THEN v.lc"
					"   ELSE s.rgpd_contact_floor END"
					" FROM v WHERE s.%s OPERATOR(pg_catalog.=) v.id"
					"   AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status"
					"   AND (%s OR (v.lc IS NULL) OPERATOR(pg_catalog.<>) (s.rgpd_contact_floor IS NULL)"
					"        OR s.rgpd_contact_floor OPERATOR(pg_catalog.>) v.lc)",
					recomputed(conf, filtered), conf->name, CKEY(conf),
					rgpd_sql_differs("s.last_contact", "v.lc"));
}

/* The subjects whose stored last_contact is not the recomputed one. */
BUILDER(build_verify)
{
	return psprintf("%sSELECT v.id, v.stored, v.lc AS expected FROM v"
					" WHERE v.st OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status AND %s ORDER BY v.id",
					recomputed(conf, false), rgpd_sql_differs("v.stored", "v.lc"));
}

/* $1 int8 id: is it out of the engine? */
BUILDER(build_is_excluded)
{
	return psprintf("SELECT %s", rgpd_sql_excluded(conf, "$1::pg_catalog.int8"));
}

/*
 * $1 ids, $2 timestamptz: their status, negotiator and the day of $2,
 * locked FOR UPDATE in key order (RGPD_STMT_LOCK_STATUS) or not.
 */
BUILDER(build_status_rows)
{
	bool		lock = variant;

	return psprintf("SELECT CAST(s.%s AS pg_catalog.int8) AS id, CAST(s.rgpd_status AS pg_catalog.text) AS status,"
					"       %s AS negotiator,"
					"       CAST(pg_catalog.timezone(%s::pg_catalog.text, $2::pg_catalog.timestamptz) AS pg_catalog.date) AS day"
					"  FROM %s AS s WHERE %s ORDER BY 1%s",
					CKEY(conf), rgpd_sql_negotiator(conf), quote_literal_cstr(conf->time_zone),
					conf->name, IN_IDS(conf), lock ? " FOR UPDATE OF s" : "");
}

/*
 * $1 ids: change their status; RETURNS the ids changed.
 *   RGPD_STMT_ARCHIVE          active -> archived;
 *   RGPD_STMT_UNARCHIVE        archived -> active;
 *   RGPD_STMT_UNARCHIVE_FRESH  archived -> active for those a contact
 *                              made not due this month;
 *   RGPD_STMT_SWEEP_ARCHIVE    ($2 as_of) active -> archived for those
 *                              still due.
 */
BUILDER(build_status_change)
{
	bool		to_archive = variant == RGPD_STMT_ARCHIVE || variant == RGPD_STMT_SWEEP_ARCHIVE;
	const char *also = "";

	if (variant == RGPD_STMT_UNARCHIVE_FRESH)
		also = psprintf("   AND NOT (s.last_contact OPERATOR(pg_catalog.<=) %s)",
						rgpd_sql_policy_case(conf, RGPD_ACTION_ARCHIVE, RGPD_POLICY_CUTOFF,
											 "CURRENT_DATE"));
	else if (variant == RGPD_STMT_SWEEP_ARCHIVE)
		also = psprintf("   AND s.last_contact OPERATOR(pg_catalog.<=) %s",
						rgpd_sql_policy_case(conf, RGPD_ACTION_ARCHIVE, RGPD_POLICY_CUTOFF,
											 "$2::pg_catalog.date"));
	return psprintf("UPDATE %s AS s SET rgpd_status = %s::rgpd.status"
					" WHERE %s AND s.rgpd_status OPERATOR(pg_catalog.=) %s::rgpd.status%s"
					" RETURNING CAST(s.%s AS pg_catalog.int8)",
					conf->name, quote_literal_cstr(to_archive ? "archived" : "active"), IN_IDS(conf),
					quote_literal_cstr(to_archive ? "active" : "archived"), also, CKEY(conf));
}

/*
 * $1 as_of: what falls due by the end of its month, with the policy, the
 * exclusion and the negotiator of each row.  The contact floor bounds an
 * index scan; the status test leaves the anonymised (and, to archive, the
 * archived) out.
 */
static char *
due(RgpdSubjectConf *conf, RgpdAction action)
{
	const char *as_of = "$1::pg_catalog.date";

	return psprintf("SELECT q.subject, q.id, q.last_contact,"
					"       CAST(q.last_contact OPERATOR(pg_catalog.+) q.iv AS pg_catalog.date) AS due_on,"
					"       q.policy, q.excluded, q.negotiator"
					"  FROM (SELECT CAST(CAST(%u AS pg_catalog.oid) AS pg_catalog.regclass) AS subject,"
					" CAST(s.%s AS pg_catalog.int8) AS id, s.last_contact,"
					"               %s AS iv, %s AS policy, %s AS cutoff, %s AS excluded,"
					"               %s AS negotiator"
					"          FROM %s AS s"
					"         WHERE s.rgpd_contact_floor OPERATOR(pg_catalog.<=) %s"
					"           AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status%s) AS q"
					" WHERE q.last_contact OPERATOR(pg_catalog.<=) q.cutoff",
					conf->subject, CKEY(conf),
					rgpd_sql_policy_case(conf, action, RGPD_POLICY_INTERVAL, as_of),
					rgpd_sql_policy_case(conf, action, RGPD_POLICY_NAME, as_of),
					rgpd_sql_policy_case(conf, action, RGPD_POLICY_CUTOFF, as_of),
					rgpd_sql_excluded(conf, psprintf("s.%s", CKEY(conf))),
					rgpd_sql_negotiator(conf), conf->name,
					rgpd_sql_max_cutoff(conf, action, as_of),
					action == RGPD_ACTION_ARCHIVE
					? " AND s.rgpd_status OPERATOR(pg_catalog.=) 'active'::rgpd.status" : "");
}

BUILDER(build_due)
{
	return due(conf, (RgpdAction) variant);
}

/* $1 as_of: tighten stale floors below next month's bound. */
BUILDER(build_sweep_refresh)
{
	return psprintf("UPDATE %s AS s SET rgpd_contact_floor = s.last_contact"
					" WHERE s.rgpd_contact_floor OPERATOR(pg_catalog.<=) %s"
					"   AND s.rgpd_contact_floor OPERATOR(pg_catalog.<) s.last_contact"
					"   AND s.rgpd_status OPERATOR(pg_catalog.<>) 'anonymised'::rgpd.status",
					conf->name,
					rgpd_sql_max_cutoff(conf, RGPD_ACTION_ARCHIVE,
										"CAST($1::pg_catalog.date OPERATOR(pg_catalog.+) interval '1 month' AS pg_catalog.date)"));
}

/*
 * $1 ids, $2 as_of: a batch of CALL rgpd.sweep_batches(), locked SKIP
 * LOCKED, each with "due": still due for that action and in the status it
 * needs, decided on the row locked (the list was made at the start of the
 * run).  Before an anonymisation, which cannot be undone, also not
 * excluded meanwhile; archiving, like rgpd.sweep(), goes by the list's
 * exclusions: checking them again costs a pass over the excluding link
 * rows per batch, and an archive is undone by the next contact.
 * Archiving locks FOR NO KEY UPDATE, the lock of its own UPDATE, which a
 * contact's FOR KEY SHARE does not wait for (sweep.c); anonymising locks
 * FOR UPDATE, as rgpd.anonymise() does.
 */
BUILDER(build_sweep_lock)
{
	RgpdAction	action = (RgpdAction) variant;
	bool		archive = action == RGPD_ACTION_ARCHIVE;

	return psprintf("SELECT CAST(s.%s AS pg_catalog.int8) AS id,"
					"       (s.rgpd_status OPERATOR(pg_catalog.%s) %s::rgpd.status"
					"        AND s.last_contact OPERATOR(pg_catalog.<=) %s"
					"        AND NOT (%s)) AS due"
					"  FROM %s AS s WHERE %s"
					" ORDER BY 1 FOR %s OF s SKIP LOCKED",
					CKEY(conf), archive ? "=" : "<>",
					quote_literal_cstr(archive ? "active" : "anonymised"),
					rgpd_sql_policy_case(conf, action, RGPD_POLICY_CUTOFF, "$2::pg_catalog.date"),
					archive ? "false" : rgpd_sql_excluded(conf, psprintf("s.%s", CKEY(conf))),
					conf->name, IN_IDS(conf), archive ? "NO KEY UPDATE" : "UPDATE");
}

/*
 * $1 a key, $2 a count: the next subjects in key order, locked FOR
 * UPDATE, as a lowering of last_contact locks them (the online backfill).
 */
BUILDER(build_sweep_next_keys)
{
	const char *k = CKEY(conf);

	return psprintf("SELECT CAST(s.%1$s AS pg_catalog.int8) FROM %2$s AS s"
					" WHERE s.%1$s OPERATOR(pg_catalog.>) $1::pg_catalog.int8"
					" ORDER BY s.%1$s LIMIT $2 FOR UPDATE OF s",
					k, conf->name);
}

/*
 * $1 as_of: the list to archive joined to the e-mail address, without
 * those excluded, without an address, or objecting to e-mail.
 */
BUILDER(build_reconsent)
{
	const char *e;

	if (conf->email_column == NULL)
		return NULL;
	e = quote_identifier(conf->email_column);
	return psprintf("SELECT d.subject, d.id, CAST(s.%1$s AS pg_catalog.text) AS email, d.due_on"
					"  FROM (%2$s) AS d JOIN %3$s AS s ON s.%4$s OPERATOR(pg_catalog.=) d.id"
					" WHERE NOT d.excluded"
					"   AND s.%1$s IS NOT NULL AND CAST(s.%1$s AS pg_catalog.text) OPERATOR(pg_catalog.<>) ''"
					"   AND NOT EXISTS (SELECT 1 FROM rgpd.objections AS o"
					"                    WHERE o.subject OPERATOR(pg_catalog.=) d.subject"
					"                      AND o.subject_id OPERATOR(pg_catalog.=) d.id AND o.do_not_email)"
					" ORDER BY d.id",
					e, due(conf, RGPD_ACTION_ARCHIVE), conf->name, CKEY(conf));
}

/* $1 ids: erase every personal column, status anonymised. */
BUILDER(build_erase_subject)
{
	StringInfoData sets;
	char	   *key_expr = psprintf("s.%s", CKEY(conf));
	int			i;

	initStringInfo(&sets);
	for (i = 0; i < conf->npersonal; i++)
		appendStringInfo(&sets, "%s = %s, ", quote_identifier(conf->personal_columns[i]),
						 rgpd_sql_erased_value(conf->subject, conf->personal_columns[i], key_expr));
	return psprintf("UPDATE %s AS s SET %srgpd_status = 'anonymised'::rgpd.status WHERE %s"
					" RETURNING CAST(s.%s AS pg_catalog.int8)",
					conf->name, sets.data, IN_IDS(conf), CKEY(conf));
}

/*
 * $1 int8 id: the record as the person would read it, without the
 * extension's internal lower bound of last_contact.
 */
BUILDER(build_export_record)
{
	return psprintf("SELECT pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.-) 'rgpd_contact_floor'::pg_catalog.text,"
					"       CAST(s.rgpd_status AS pg_catalog.text)"
					"  FROM %s AS s WHERE s.%s OPERATOR(pg_catalog.=) $1::pg_catalog.int8",
					conf->name, CKEY(conf));
}

static int
cmp_link_rank(const void *a, const void *b)
{
	const RgpdLinkConf *x = *(RgpdLinkConf *const *) a;
	const RgpdLinkConf *y = *(RgpdLinkConf *const *) b;

	return (x->name_rank > y->name_rank) - (x->name_rank < y->name_rank);
}

/*
 * $1 int8 id: {"table": {"column": [rows…]}} of every linked row that
 * references it, tables by name, rows by their key.
 */
BUILDER(build_export_links)
{
	StringInfoData buf;
	RgpdLinkConf *all;
	int			nlinks = rgpd_subject_conf_links(conf, &all);
	RgpdLinkConf **links = palloc(sizeof(RgpdLinkConf *) * Max(nlinks, 1));
	int			i;
	int			c;

	for (i = 0; i < nlinks; i++)
		links[i] = &all[i];
	qsort(links, nlinks, sizeof(RgpdLinkConf *), cmp_link_rank);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT pg_catalog.jsonb_build_object(");
	for (i = 0; i < nlinks; i++)
	{
		RgpdLinkConf *l = links[i];
		char	   *key = rgpd_row_key(l->link);

		appendStringInfo(&buf, "%s%s, pg_catalog.jsonb_build_object(", i > 0 ? ", " : "",
						 quote_literal_cstr(l->name));
		for (c = 0; c < l->nsubject_columns; c++)
			appendStringInfo(&buf, "%s%s, (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) ORDER BY %s), '[]'::pg_catalog.jsonb)"
							 " FROM %s AS r WHERE r.%s OPERATOR(pg_catalog.=) $1::pg_catalog.int8)",
							 c > 0 ? ", " : "", quote_literal_cstr(l->subject_columns[c]),
							 key ? psprintf("r.%s", quote_identifier(key)) : "CAST(r AS pg_catalog.text)",
							 l->name, quote_identifier(l->subject_columns[c]));
		appendStringInfoChar(&buf, ')');
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}
