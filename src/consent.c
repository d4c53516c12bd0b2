/*-------------------------------------------------------------------------
 *
 * consent.c
 *	  Consent and the right to object: consent events per campaign (the
 *	  proof, append-only) and the current consent they give, the
 *	  do-not-e-mail / do-not-call flags, the provenance and legal basis of a
 *	  person's data, and the list of recipients a campaign may reach.
 *
 *	  Everything here holds the subject's identifier and no personal value.
 *	  Callers need UPDATE (to record) or SELECT (to read) on the subject
 *	  table, or the manager right; an archived subject exists only for
 *	  managers, an anonymised one can no longer be given consents.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "pericles_rgpd.h"
#include "statement_parts.h"

PG_FUNCTION_INFO_V1(rgpd_set_consent);
PG_FUNCTION_INFO_V1(rgpd_consent_history);
PG_FUNCTION_INFO_V1(rgpd_object);
PG_FUNCTION_INFO_V1(rgpd_withdraw_objection);
PG_FUNCTION_INFO_V1(rgpd_set_provenance);
PG_FUNCTION_INFO_V1(rgpd_recipients);
PG_FUNCTION_INFO_V1(rgpd_journal_campaign);
PG_FUNCTION_INFO_V1(rgpd_create_campaign);
PG_FUNCTION_INFO_V1(rgpd_alter_campaign);
PG_FUNCTION_INFO_V1(rgpd_delete_campaign);

typedef struct Campaign
{
	int32		id;
	char	   *label;
	char	   *channel;
	bool		mandatory;
	char	   *state;
} Campaign;

/*
 * Append the rows SPI returned to the result of a set-returning function
 * (same columns, same order), and free them.
 */
static void
put_rows(ReturnSetInfo *rsinfo)
{
	int			natts = rsinfo->setDesc->natts;
	Datum	   *out = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	uint64		i;
	int			c;

	for (i = 0; i < SPI_processed; i++)
	{
		for (c = 0; c < natts; c++)
			out[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The subject row an action is about: checks the caller's right
 * (UPDATE to write, SELECT to read, or the manager right), and that the
 * row exists for the caller.  Returns its status.
 */
static RgpdStatus
subject_row(RgpdSubject *sub, int64 id, bool write)
{
	bool		manager = rgpd_is_manager();
	RgpdLocked *row;

	if (!manager && !rgpd_may(sub->relid, write ? ACL_UPDATE : ACL_SELECT))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s consents of table %s",
						write ? "record" : "read", sub->relname),
				 errhint("It needs %s on the table, or membership in %s.",
						 write ? "UPDATE" : "SELECT", RGPD_MANAGER)));
	row = rgpd_read_subjects(sub, &id, 1,
							 (manager ? 0 : RGPD_READ_HIDE_ARCHIVED) |
							 (write ? RGPD_READ_LOCK : 0), (Datum) 0);
	if (write && row->status[0] == RGPD_STATUS_ANONYMISED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row " INT64_FORMAT " of table %s is anonymised", id, sub->relname),
				 errdetail("Nothing can be recorded for an anonymised person any more.")));
	return row->status[0];
}

static Campaign *
campaign(const char *label)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	Campaign   *c;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	values[0] = CStringGetTextDatum(label);
	rgpd_execute("SELECT c.id, c.label, c.channel, c.mandatory, c.state"
				 "  FROM rgpd.campaigns AS c WHERE c.label OPERATOR(pg_catalog.=) $1",
				 1, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("campaign \"%s\" does not exist", label),
				 errhint("Create it with rgpd.create_campaign().")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	c = palloc(sizeof(Campaign));
	c->id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	c->label = SPI_getvalue(tup, desc, 2);
	c->channel = SPI_getvalue(tup, desc, 3);
	c->mandatory = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	c->state = SPI_getvalue(tup, desc, 5);
	SPI_freetuptable(SPI_tuptable);
	return c;
}

static void
require_args(FunctionCallInfo fcinfo, int nargs, const char *what)
{
	int			i;

	for (i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of %s must not be NULL", what)));
}

static char *
nonempty_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(argno));

	rgpd_check_text_length(s, name);
	if (s[strspn(s, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name)));
	return s;
}

/* ---- bounds on what callers store ---- */

/*
 * The time a person gave an answer (an opt-in, a consent) is stored and
 * compared with later answers: the latest one wins, and an opt-in counts as
 * a contact.  A time at infinity, or far in the future, would win against
 * every later answer (a consent dated 9999 overriding each withdrawal) or
 * keep a record out of the archive for ever; so it must be finite and at
 * most RGPD_MAX_CLOCK_SKEW (one hour) ahead of the server's clock, which
 * leaves room for the clock of the application that saw the answer.
 */
void
rgpd_check_event_time(Datum at, const char *what)
{
	TimestampTz t = DatumGetTimestampTz(at);

	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("time of %s must be finite, not %s", what, timestamptz_to_str(t)),
				 errhint("Give the time the person answered, or leave it out for now().")));
	if (t > GetCurrentTimestamp() + RGPD_MAX_CLOCK_SKEW)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("time of %s is more than one hour ahead of the server's clock", what),
				 errdetail("It is %s.", timestamptz_to_str(t)),
				 errhint("Give the time the person answered, or leave it out for now().")));
}

/*
 * Text that is stored with the proof (origins, reasons, sources, labels)
 * is bounded, so that one call cannot bloat the journal or the proof
 * tables; the message does not repeat the value.
 */
void
rgpd_check_text_length(const char *value, const char *what)
{
	int			len = pg_mbstrlen(value);

	if (len > RGPD_MAX_TEXT)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long (%d characters)", what, len),
				 errdetail("At most %d characters are stored.", RGPD_MAX_TEXT),
				 errhint("Store a short reference (a file number, a URL) instead.")));
}

/*
 * rgpd.set_consent(subject, id, campaign, value, origin, at): append a
 * consent event and make it the current consent if it is the latest.
 */
Datum
rgpd_set_consent(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *label;
	bool		value;
	char	   *origin;
	Datum		at;
	RgpdSubject *sub;
	Campaign   *c;
	Oid			argtypes[7] = {REGCLASSOID, INT8OID, INT4OID, BOOLOID, TEXTOID, TIMESTAMPTZOID, NAMEOID};
	Datum		values[7];
	int64		event;
	bool		isnull;
	RgpdJson	detail;
	int			nest;

	require_args(fcinfo, 6, "rgpd.set_consent()");
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	value = PG_GETARG_BOOL(3);
	origin = nonempty_arg(fcinfo, 4, "origin of a consent");
	at = PG_GETARG_DATUM(5);
	rgpd_check_event_time(at, "a consent");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	sub = rgpd_subject(relid, false);
	c = campaign(label);
	if (strcmp(c->state, "deleted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("campaign \"%s\" is deleted", label)));
	if (c->mandatory && !value)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("consent to mandatory campaign \"%s\" cannot be withdrawn", label),
				 errdetail("Mandatory campaigns carry messages the contract requires (invoices, contract notices)."),
				 errhint("To stop marketing messages, withdraw consent to optional campaigns, or record an objection with rgpd.object().")));
	(void) subject_row(sub, id, true);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	values[2] = Int32GetDatum(c->id);
	values[3] = BoolGetDatum(value);
	values[4] = CStringGetTextDatum(origin);
	values[5] = at;
	values[6] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	rgpd_execute("WITH e AS (INSERT INTO rgpd.consent_events"
				 "             (subject, subject_id, campaign_id, value, origin, at, recorded_by)"
				 "           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id),"
				 " c AS (INSERT INTO rgpd.consents AS c (campaign_id, subject, subject_id, value, at, event_id)"
				 "       SELECT $3, $1, $2, $4, $6, e.id FROM e"
				 "       ON CONFLICT (campaign_id, subject, subject_id) DO UPDATE"
				 "          SET value = excluded.value, at = excluded.at, event_id = excluded.event_id"
				 "        WHERE c.at OPERATOR(pg_catalog.<=) excluded.at)"
				 " SELECT e.id FROM e",
				 7, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	event = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);

	rgpd_json_begin(&detail);
	rgpd_json_text(&detail, "campaign", label);
	rgpd_json_bool(&detail, "value", value);
	rgpd_json_int(&detail, "event_id", event);
	rgpd_json_text(&detail, "origin", origin);
	rgpd_journal_rows("consent", relid, &id, 1, NULL, rgpd_json_end(&detail));

	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(event);
}

/*
 * rgpd.consent_history(subject, id): every consent event of a subject,
 * oldest first.
 */
Datum
rgpd_consent_history(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		id = PG_GETARG_INT64(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RgpdSubject *sub;
	Oid			argtypes[2] = {REGCLASSOID, INT8OID};
	Datum		values[2];
	int			nest;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	sub = rgpd_subject(relid, false);
	(void) subject_row(sub, id, false);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	rgpd_execute("SELECT k.label, k.channel, e.value, e.origin, e.at, e.recorded_at, e.recorded_by"
				 "  FROM rgpd.consent_events AS e"
				 "  JOIN rgpd.campaigns AS k ON k.id OPERATOR(pg_catalog.=) e.campaign_id"
				 " WHERE e.subject OPERATOR(pg_catalog.=) $1 AND e.subject_id OPERATOR(pg_catalog.=) $2"
				 " ORDER BY e.at, e.id",
				 2, argtypes, values, NULL, rgpd_extension_owner(), false, 0);
	put_rows(rsinfo);
	rgpd_unpin_search_path(nest);
	SPI_finish();
	return (Datum) 0;
}

/* 'email' (do_not_email) or 'call' (do_not_call), from what users write. */
static const char *
objection_flag(const char *channel)
{
	if (pg_strcasecmp(channel, "email") == 0 || pg_strcasecmp(channel, "e-mail") == 0 ||
		pg_strcasecmp(channel, "mail") == 0)
		return "do_not_email";
	if (pg_strcasecmp(channel, "call") == 0 || pg_strcasecmp(channel, "phone") == 0 ||
		pg_strcasecmp(channel, "sms") == 0)
		return "do_not_call";
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown channel \"%s\" for an objection", channel),
			 errhint("Use 'email' (do not e-mail) or 'call' (do not call; it also stops SMS).")));
	return NULL;				/* keep compiler quiet */
}

/* Set or lift an objection flag; true when it changed. */
static bool
set_objection(FunctionCallInfo fcinfo, bool on)
{
	Oid			relid;
	int64		id;
	char	   *channel;
	char	   *origin;
	const char *flag;
	RgpdSubject *sub;
	Oid			argtypes[2] = {REGCLASSOID, INT8OID};
	Datum		values[2];
	bool		changed;
	int			nest;

	require_args(fcinfo, 4, on ? "rgpd.object()" : "rgpd.withdraw_objection()");
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	channel = text_to_cstring(PG_GETARG_TEXT_PP(2));
	origin = nonempty_arg(fcinfo, 3, "origin of an objection");
	flag = objection_flag(channel);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	sub = rgpd_subject(relid, false);
	(void) subject_row(sub, id, true);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	if (on)
		rgpd_execute(psprintf("INSERT INTO rgpd.objections AS o (subject, subject_id, %1$s)"
							  " VALUES ($1, $2, true)"
							  " ON CONFLICT (subject, subject_id) DO UPDATE"
							  "    SET %1$s = true, updated_at = pg_catalog.clock_timestamp()"
							  "  WHERE NOT o.%1$s", flag),
					 2, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	else
		rgpd_execute(psprintf("UPDATE rgpd.objections AS o"
							  "    SET %1$s = false, updated_at = pg_catalog.clock_timestamp()"
							  "  WHERE o.subject OPERATOR(pg_catalog.=) $1"
							  "    AND o.subject_id OPERATOR(pg_catalog.=) $2 AND o.%1$s", flag),
					 2, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	changed = SPI_processed > 0;

	if (changed)
	{
		rgpd_journal_rows(on ? "object" : "withdraw_objection", relid, &id, 1, NULL,
						  rgpd_jsonb_object(2, "flag", flag, "origin", origin));
	}
	rgpd_unpin_search_path(nest);
	SPI_finish();
	return changed;
}

/* rgpd.object(subject, id, channel, origin) */
Datum
rgpd_object(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(set_objection(fcinfo, true));
}

/* rgpd.withdraw_objection(subject, id, channel, origin) */
Datum
rgpd_withdraw_objection(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(set_objection(fcinfo, false));
}

/*
 * rgpd.set_provenance(subject, id, source, legal_basis): where the data
 * came from, and on which legal basis it is processed.
 */
Datum
rgpd_set_provenance(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *source;
	char	   *basis;
	const char *legal = NULL;
	static const char *const bases[] = {"consent", "contract", "legitimate interest",
	"legal obligation"};
	RgpdSubject *sub;
	Oid			argtypes[5] = {REGCLASSOID, INT8OID, TEXTOID, TEXTOID, NAMEOID};
	Datum		values[5];
	char	   *p;
	int			i;
	int			nest;

	require_args(fcinfo, 4, "rgpd.set_provenance()");
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	source = nonempty_arg(fcinfo, 2, "source");
	basis = text_to_cstring(PG_GETARG_TEXT_PP(3));
	rgpd_check_text_length(basis, "legal basis");
	for (p = basis; *p; p++)
		if (*p == '_')
			*p = ' ';
	for (i = 0; i < (int) lengthof(bases); i++)
		if (pg_strcasecmp(basis, bases[i]) == 0)
			legal = bases[i];
	if (legal == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown legal basis \"%s\"", text_to_cstring(PG_GETARG_TEXT_PP(3))),
				 errhint("Use consent, contract, legitimate interest or legal obligation.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	sub = rgpd_subject(relid, false);
	(void) subject_row(sub, id, true);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	values[2] = CStringGetTextDatum(source);
	values[3] = CStringGetTextDatum(legal);
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	rgpd_execute("INSERT INTO rgpd.provenance AS p (subject, subject_id, source, legal_basis, recorded_by)"
				 " VALUES ($1, $2, $3, $4, $5)"
				 " ON CONFLICT (subject, subject_id) DO UPDATE"
				 "    SET source = excluded.source, legal_basis = excluded.legal_basis,"
				 "        recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by",
				 5, argtypes, values, NULL, rgpd_extension_owner(), true, 0);

	rgpd_journal_rows("provenance", relid, &id, 1, NULL,
					  rgpd_jsonb_object(2, "source", source, "legal_basis", legal));

	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * May the caller read the keys of the table and the column that holds the
 * addresses of this channel?
 */
static bool
readable_contacts(RgpdSubject *sub, const char *channel)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char	   *column;

	if (!rgpd_caller_reads(sub->relid, sub->key_column))
		return false;
	values[0] = ObjectIdGetDatum(sub->relid);
	values[1] = CStringGetTextDatum(channel);
	if (SPI_execute_with_args("SELECT CASE $2 WHEN 'mail' THEN s.email_column ELSE s.mobile_column END"
							  "  FROM rgpd.subjects AS s WHERE s.subject OPERATOR(pg_catalog.=) $1",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return false;
	column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return column != NULL &&
		(pg_class_aclcheck(sub->relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK ||
		 pg_attribute_aclcheck(sub->relid, get_attnum(sub->relid, column), GetUserId(),
							   ACL_SELECT) == ACLCHECK_OK);
}

/*
 * put_rows() for rows whose second column is a key of the subject table,
 * keeping those the caller may see there.
 */
static void
put_visible_rows(ReturnSetInfo *rsinfo, RgpdSubject *sub)
{
	SPITupleTable *tuptable = SPI_tuptable;
	uint64		nrows = SPI_processed,
				i;
	int64	   *ids = palloc(sizeof(int64) * Max(nrows, 1));
	int			nvisible;
	int			k = 0;
	Datum		out[3];
	bool		nulls[3];

	for (i = 0; i < nrows; i++)
		ids[i] = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &nulls[0]));
	/* the rows come in key order */
	nvisible = rgpd_caller_visible(sub, ids, (int) nrows, 0);
	for (i = 0; i < nrows && k < nvisible; i++)
	{
		int			c;

		out[1] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 2, &nulls[1]);
		if (DatumGetInt64(out[1]) != ids[k])
			continue;
		k++;
		for (c = 0; c < 3; c++)
			out[c] = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	SPI_freetuptable(tuptable);
}

typedef struct RecipientsArgs
{
	Oid			relid;
	Campaign   *campaign;
	RgpdSubject *sub;
	bool		fetched;
} RecipientsArgs;

/*
 * $1 int4 campaign id: the recipients of a campaign in one subject table:
 * active subjects with a value in the channel's contact column, not
 * objecting to that channel, and consented unless the campaign is
 * mandatory; RETURNS subject, id, contact by id.  NULL when the table has
 * no contact column for the channel.
 */
static char *
recipients_sql(Oid relid, Campaign *c)
{
	int			nest = rgpd_pin_search_path();
	RgpdSubjectConf *conf = rgpd_subject_conf(relid);
	bool		mail = strcmp(c->channel, "mail") == 0;
	const char *contact = mail ? conf->email_column : conf->mobile_column;
	char	   *sid = psprintf("CAST(%u AS pg_catalog.oid)", relid);
	const char *k = quote_identifier(conf->key_column);
	char	   *sql = NULL;

	if (contact != NULL)
	{
		const char *col = quote_identifier(contact);

		sql = psprintf("SELECT CAST(%1$s AS pg_catalog.regclass), CAST(s.%2$s AS pg_catalog.int8), CAST(s.%3$s AS pg_catalog.text)"
					   "  FROM %4$s AS s"
					   " %5$s"
					   " WHERE s.rgpd_status OPERATOR(pg_catalog.=) 'active'::rgpd.status"
					   "   AND s.%3$s IS NOT NULL AND CAST(s.%3$s AS pg_catalog.text) OPERATOR(pg_catalog.<>) ''"
					   "   AND NOT EXISTS (SELECT 1 FROM rgpd.objections AS o"
					   "                    WHERE o.subject OPERATOR(pg_catalog.=) %1$s"
					   "                      AND o.subject_id OPERATOR(pg_catalog.=) s.%2$s AND o.%6$s)"
					   " ORDER BY 2",
					   sid, k, col, conf->name,
					   c->mandatory ? ""
					   : psprintf("JOIN rgpd.consents AS k ON k.campaign_id OPERATOR(pg_catalog.=) $1"
								  " AND k.subject OPERATOR(pg_catalog.=) %s"
								  " AND k.subject_id OPERATOR(pg_catalog.=) s.%s AND k.value", sid, k),
					   mail ? "do_not_email" : "do_not_call");
	}
	rgpd_unpin_search_path(nest);
	return sql;
}

/* The recipients of one table, as its owner (isolated by the caller). */
static void
recipients_fetch(void *arg)
{
	RecipientsArgs *a = (RecipientsArgs *) arg;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	char	   *sql;

	a->sub = rgpd_subject(a->relid, false);
	if (!readable_contacts(a->sub, a->campaign->channel))
		return;
	sql = recipients_sql(a->relid, a->campaign);
	if (sql == NULL)
		return;					/* no contact column for this channel */
	values[0] = Int32GetDatum(a->campaign->id);
	rgpd_execute(sql, 1, argtypes, values, NULL, a->sub->owner, false, 0);
	a->fetched = true;
}

/*
 * rgpd.recipients(campaign): the subjects a campaign may reach, over every
 * registered subject table that has a contact column for its channel.
 * Read as each table's owner (the list excludes archived and anonymised
 * rows by rule), then cut down to the tables whose keys and addresses the
 * caller may read and the rows it may see there.
 */
Datum
rgpd_recipients(PG_FUNCTION_ARGS)
{
	char	   *label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Campaign   *c;
	Oid		   *subjects;
	int			nsubjects;
	int			s;
	int			nest;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	c = campaign(label);
	if (strcmp(c->state, "deleted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("campaign \"%s\" is deleted", label)));
	if (strcmp(c->state, "active") != 0)
	{
		ereport(NOTICE,
				(errmsg("campaign \"%s\" is inactive: it reaches nobody", label)));
		rgpd_unpin_search_path(nest);
		SPI_finish();
		return (Datum) 0;
	}

	subjects = rgpd_registered_subjects(&nsubjects);

	for (s = 0; s < nsubjects; s++)
	{
		RecipientsArgs a = {0};

		/* only the tables whose keys and addresses the caller may read */
		if (!rgpd_caller_reads_subject(subjects[s]))
			continue;
		a.relid = subjects[s];
		a.campaign = c;
		/* a table that fails does not stop the list of the others */
		if (rgpd_isolated(recipients_fetch, &a, a.relid, "the recipients of a campaign") == NULL &&
			a.fetched)
			put_visible_rows(rsinfo, a.sub);
	}
	rgpd_unpin_search_path(nest);
	SPI_finish();
	return (Datum) 0;
}

/*
 * rgpd._journal_campaign(action, detail): journal a change of campaign,
 * with the manager who made it as actor.  Campaign actions only.
 */
Datum
rgpd_journal_campaign(PG_FUNCTION_ARGS)
{
	char	   *action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *detail = PG_GETARG_JSONB_P(1);

	if (strcmp(action, "create_campaign") != 0 && strcmp(action, "alter_campaign") != 0 &&
		strcmp(action, "delete_campaign") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a campaign action", action)));
	rgpd_require_manager("manage campaigns");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	rgpd_journal_table(action, InvalidOid, detail);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- campaigns ---- */

/*
 * rgpd.create_campaign(), rgpd.alter_campaign(), rgpd.delete_campaign():
 * managers only.  rgpd.campaigns is written through them and nothing else,
 * and each change is journaled: their checks, the write and the journal
 * line are in the PL/pgSQL functions rgpd._create_campaign() and its
 * siblings, which no one but the extension's owner may run.  These entry
 * points check the caller's right, then run that function as the owner,
 * with the caller's name first, as the actor of the journal line.  (A
 * SECURITY DEFINER function could not tell who called it.)
 */
static Datum
campaign_call(FunctionCallInfo fcinfo, const char *function, bool *isnull)
{
	Oid		   *ownargtypes;
	int			nargs;
	Oid		   *argtypes;
	Datum	   *values;
	char	   *nulls;
	StringInfoData sql;
	Datum		result;
	int			i;
	int			nest;

	rgpd_require_manager("manage campaigns");
	(void) get_func_signature(fcinfo->flinfo->fn_oid, &ownargtypes, &nargs);
	argtypes = palloc(sizeof(Oid) * (nargs + 1));
	values = palloc(sizeof(Datum) * (nargs + 1));
	nulls = palloc(nargs + 2);
	argtypes[0] = NAMEOID;
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	nulls[0] = ' ';
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT rgpd.%s($1", function);
	for (i = 0; i < nargs; i++)
	{
		argtypes[i + 1] = ownargtypes[i];
		values[i + 1] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i + 1] = PG_ARGISNULL(i) ? 'n' : ' ';
		appendStringInfo(&sql, ", $%d", i + 2);
	}
	nulls[nargs + 1] = '\0';
	appendStringInfoChar(&sql, ')');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	nest = rgpd_pin_search_path();
	rgpd_execute(sql.data, nargs + 1, argtypes, values, nulls, rgpd_extension_owner(), false, 0);
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	rgpd_unpin_search_path(nest);
	SPI_finish();
	return result;
}

/* rgpd.create_campaign(label, channel, mandatory, display_order): its id */
Datum
rgpd_create_campaign(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		id = campaign_call(fcinfo, "_create_campaign", &isnull);

	if (isnull)
		elog(ERROR, "pericles_rgpd: rgpd._create_campaign() returned NULL");
	PG_RETURN_DATUM(id);
}

/* rgpd.alter_campaign(label, new_label, channel, mandatory, state, display_order) */
Datum
rgpd_alter_campaign(PG_FUNCTION_ARGS)
{
	bool		isnull;

	(void) campaign_call(fcinfo, "_alter_campaign", &isnull);
	PG_RETURN_VOID();
}

/* rgpd.delete_campaign(label) */
Datum
rgpd_delete_campaign(PG_FUNCTION_ARGS)
{
	bool		isnull;

	(void) campaign_call(fcinfo, "_delete_campaign", &isnull);
	PG_RETURN_VOID();
}
