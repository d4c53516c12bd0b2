/*-------------------------------------------------------------------------
 *
 * journal.c
 *	  The journal every action writes to (rgpd.journal), written as the
 *	  extension's owner, and the jsonb details its entries carry.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "pericles_rgpd.h"

/*
 * Journal details are built with the jsonb API (pushJsonbValue), never as
 * JSON text: a value is always a value, whatever characters it holds.
 */

static void
json_key(RgpdJson *js, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = pstrdup(key);
	k.val.string.len = strlen(key);
	pushJsonbValue(&js->state, WJB_KEY, &k);
}

/* Start a detail: an empty object. */
void
rgpd_json_begin(RgpdJson *js)
{
	js->state = NULL;
	pushJsonbValue(&js->state, WJB_BEGIN_OBJECT, NULL);
}

/* "key": "value" (value NULL: null) */
void
rgpd_json_text(RgpdJson *js, const char *key, const char *value)
{
	JsonbValue	v;

	json_key(js, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = pstrdup(value);
		v.val.string.len = strlen(value);
	}
	pushJsonbValue(&js->state, WJB_VALUE, &v);
}

/* "key": number */
void
rgpd_json_int(RgpdJson *js, const char *key, int64 value)
{
	JsonbValue	v;

	json_key(js, key);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric,
														Int64GetDatum(value)));
	pushJsonbValue(&js->state, WJB_VALUE, &v);
}

/* "key": true | false */
void
rgpd_json_bool(RgpdJson *js, const char *key, bool value)
{
	JsonbValue	v;

	json_key(js, key);
	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(&js->state, WJB_VALUE, &v);
}

/* "key": a jsonb document (an object, an array or a scalar) */
void
rgpd_json_jsonb(RgpdJson *js, const char *key, Jsonb *value)
{
	JsonbValue	v;

	json_key(js, key);
	v.type = jbvBinary;
	v.val.binary.data = &value->root;
	v.val.binary.len = VARSIZE(value) - VARHDRSZ;
	pushJsonbValue(&js->state, WJB_VALUE, &v);
}

/* "key": { … until rgpd_json_end_object() */
void
rgpd_json_begin_object(RgpdJson *js, const char *key)
{
	json_key(js, key);
	pushJsonbValue(&js->state, WJB_BEGIN_OBJECT, NULL);
}

void
rgpd_json_end_object(RgpdJson *js)
{
	pushJsonbValue(&js->state, WJB_END_OBJECT, NULL);
}

/* The detail built since rgpd_json_begin(). */
Jsonb *
rgpd_json_end(RgpdJson *js)
{
	JsonbValue *res = pushJsonbValue(&js->state, WJB_END_OBJECT, NULL);

	if (js->state != NULL)
		elog(ERROR, "pericles_rgpd: journal detail ended inside a nested object");
	return JsonbValueToJsonb(res);
}

/* {"k1": "v1", "k2": "v2", …} from npairs pairs of strings (NULL: null) */
Jsonb *
rgpd_jsonb_object(int npairs,...)
{
	RgpdJson	js;
	va_list		args;
	int			i;

	rgpd_json_begin(&js);
	va_start(args, npairs);
	for (i = 0; i < npairs; i++)
	{
		const char *key = va_arg(args, const char *);
		const char *value = va_arg(args, const char *);

		rgpd_json_text(&js, key, value);
	}
	va_end(args);
	return rgpd_json_end(&js);
}

/* {"reason": "<reason>"} */
Jsonb *
rgpd_reason_detail(const char *reason)
{
	return rgpd_jsonb_object(1, "reason", reason ? reason : "");
}

/* The arguments of the journal's INSERT: $1 actor … $6 common detail. */
#define JOURNAL_NARGS 6
static Oid	journal_argtypes[JOURNAL_NARGS] = {NAMEOID, TEXTOID, REGCLASSOID,
INT8ARRAYOID, JSONBARRAYOID, JSONBOID};

static void
journal_args(const char *action, Oid subject, Jsonb *detail,
			 Datum *values, char *nulls)
{
	memset(nulls, ' ', JOURNAL_NARGS);
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	values[1] = CStringGetTextDatum(action);
	if (OidIsValid(subject))
		values[2] = ObjectIdGetDatum(subject);
	else
		nulls[2] = 'n';
	nulls[3] = nulls[4] = 'n';
	values[5] = JsonbPGetDatum(detail ? detail : rgpd_jsonb_object(0));
}

/*
 * Write one journal entry about a table (or, subject InvalidOid, about no
 * table: a whole sweep, a setting), as the extension's owner.
 */
void
rgpd_journal_table(const char *action, Oid subject, Jsonb *detail)
{
	Datum		values[JOURNAL_NARGS];
	char		nulls[JOURNAL_NARGS];

	journal_args(action, subject, detail, values, nulls);
	rgpd_execute("INSERT INTO rgpd.journal (actor, action, subject, subject_id, detail)"
				 " VALUES ($1, $2, $3, NULL, $6)",
				 JOURNAL_NARGS, journal_argtypes, values, nulls,
				 rgpd_extension_owner(), true, 0);
}

/*
 * Write journal entries about rows of a table, as the extension's owner:
 * one per id, each with its own detail (details[i]) or, details NULL, the
 * common one (detail).  No ids, no entry.
 */
void
rgpd_journal_rows(const char *action, Oid subject, int64 *ids, int n,
				  Jsonb **details, Jsonb *detail)
{
	Datum		values[JOURNAL_NARGS];
	char		nulls[JOURNAL_NARGS];
	Datum	   *elems;
	int			i;

	if (n == 0)
		return;
	journal_args(action, subject, detail, values, nulls);
	values[3] = PointerGetDatum(rgpd_int8_array(ids, n));
	nulls[3] = ' ';
	if (details)
	{
		elems = palloc(sizeof(Datum) * n);
		for (i = 0; i < n; i++)
			elems[i] = JsonbPGetDatum(details[i]);
		values[4] = PointerGetDatum(construct_array(elems, n, JSONBOID, -1, false,
													TYPALIGN_INT));
		nulls[4] = ' ';
	}
	rgpd_execute("INSERT INTO rgpd.journal (actor, action, subject, subject_id, detail)"
				 " SELECT $1, $2, $3, u.id, coalesce(u.detail, $6)"
				 "   FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.int8[]),"
				 "                   pg_catalog.unnest($5::pg_catalog.jsonb[])) AS u(id, detail)"
				 "  WHERE u.id IS NOT NULL",
				 JOURNAL_NARGS, journal_argtypes, values, nulls,
				 rgpd_extension_owner(), true, 0);
}
