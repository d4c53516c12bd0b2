/*-------------------------------------------------------------------------
 *
 * journal.h
 *	  The journal every action writes to (journal.c) and the jsonb details
 *	  its entries carry.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RGPD_JOURNAL_H
#define RGPD_JOURNAL_H

#include "postgres.h"

#include "utils/jsonb.h"

/* A journal detail under construction (journal.c). */
typedef struct RgpdJson
{
	JsonbParseState *state;
} RgpdJson;

extern void rgpd_json_begin(RgpdJson *js);
extern void rgpd_json_text(RgpdJson *js, const char *key, const char *value);
extern void rgpd_json_int(RgpdJson *js, const char *key, int64 value);
extern void rgpd_json_bool(RgpdJson *js, const char *key, bool value);
extern void rgpd_json_jsonb(RgpdJson *js, const char *key, Jsonb *value);
extern void rgpd_json_begin_object(RgpdJson *js, const char *key);
extern void rgpd_json_end_object(RgpdJson *js);
extern Jsonb *rgpd_json_end(RgpdJson *js);
extern Jsonb *rgpd_reason_detail(const char *reason);
extern Jsonb *rgpd_jsonb_object(int npairs,...);
extern void rgpd_journal_table(const char *action, Oid subject, Jsonb *detail);
extern void rgpd_journal_rows(const char *action, Oid subject, int64 *ids, int n,
							  Jsonb **details, Jsonb *detail);

#endif							/* RGPD_JOURNAL_H */
