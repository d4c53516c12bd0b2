/*-------------------------------------------------------------------------
 *
 * optin.c
 *	  rgpd.optin(): the person answered "yes, let's stay in touch".  The
 *	  event is kept as proof, counts as a contact, brings the record out
 *	  of the archive and creates a recontact task (an opt-in by token,
 *	  src/optin_token.c, records through the same function).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"
#include "contact_engine.h"

PG_FUNCTION_INFO_V1(rgpd_optin);

/*
 * The origin of an opt-in (where the answer came from), for both kinds of
 * opt-in: bounded like every stored text, and not empty.
 */
void
rgpd_check_optin_origin(const char *origin)
{
	rgpd_check_text_length(origin, "origin of an opt-in");
	if (origin[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("origin of an opt-in must not be empty"),
				 errhint("Say where the answer came from, e.g. 'reconsent-email-2026-11'.")));
}

/*
 * Record an opt-in of one subject row (SPI connected, search_path pinned),
 * with the current user's rights: the event kept as proof, the contact,
 * out of the archive whatever the dates, the recontact task for the
 * record's negotiator, the journal line.  token_id and caller are set for
 * an opt-in by token (src/optin_token.c), which runs this as the table's
 * owner: the journal then names the role that presented the token.
 * Returns the opt-in event's id.
 */
int64
rgpd_record_optin(RgpdSubject *sub, int64 id, const char *origin, Datum at,
				  const char *token_id, const char *caller)
{
	Oid			relid = sub->relid;
	RgpdLocked *locked;
	Oid			argtypes[5] = {REGCLASSOID, INT8OID, TIMESTAMPTZOID, TEXTOID, NAMEOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		event;
	bool		isnull;
	RgpdContact contact;
	RgpdRaised	raised;
	RgpdJson	detail;

	locked = rgpd_read_subjects(sub, &id, 1, RGPD_READ_LOCK, at);
	if (locked->status[0] == RGPD_STATUS_ANONYMISED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row " INT64_FORMAT " of table %s is anonymised", id, sub->relname),
				 errdetail("An anonymised person cannot opt in again; nothing was changed.")));

	/* the proof */
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	values[2] = at;
	values[3] = CStringGetTextDatum(origin);
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	rgpd_execute("INSERT INTO rgpd.optin_events (subject, subject_id, at, origin, recorded_by)"
				 " VALUES ($1, $2, $3, $4, $5) RETURNING id",
				 5, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	event = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);

	/* the contact, then out of the archive whatever the dates */
	contact.id = id;
	contact.date = locked->day[0];
	contact.has_date = true;
	contact.arrival = false;
	contact.locked = true;		/* locked FOR UPDATE above */
	rgpd_raise_contacts(sub, &contact, 1, &raised);
	if (raised.nrevived > 0)
		rgpd_unarchive_fresh(sub, raised.revived, raised.nrevived, "optin");
	if (locked->status[0] == RGPD_STATUS_ARCHIVED)
		rgpd_unarchive_ids(sub, &id, 1, "optin");

	/* the recontact task */
	values[2] = Int64GetDatum(event);
	argtypes[2] = INT8OID;
	if (locked->negotiator[0])
		values[3] = CStringGetTextDatum(locked->negotiator[0]);
	else
		nulls[3] = 'n';
	rgpd_execute("INSERT INTO rgpd.recontact_tasks (subject, subject_id, optin_id, negotiator, reason)"
				 " VALUES ($1, $2, $3, $4, 'optin')",
				 4, argtypes, values, nulls, rgpd_extension_owner(), true, 0);

	rgpd_json_begin(&detail);
	rgpd_json_int(&detail, "optin_id", event);
	rgpd_json_text(&detail, "origin", origin);
	if (token_id)
		rgpd_json_text(&detail, "token", token_id);
	if (caller)
		rgpd_json_text(&detail, "caller", caller);
	rgpd_journal_rows("optin", relid, &id, 1, NULL, rgpd_json_end(&detail));
	return event;
}

/*
 * rgpd.optin(subject, id, origin, at): the person answered "yes, let's stay
 * in touch".  The event is kept as proof, counts as a contact, brings the
 * record (and its linked rows) out of the archive, and creates a recontact
 * task for the record's negotiator.  Works for a caller who cannot see the
 * archived row: the application's role needs UPDATE on the table.  (A
 * reply that does not come through the application's role — a link in a
 * re-consent e-mail — is recorded with rgpd.optin(token, origin).)
 */
Datum
rgpd_optin(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		id;
	char	   *origin;
	Datum		at;
	RgpdSubject *sub;
	int64		event;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject, id, origin and time of an opt-in must not be NULL")));
	relid = PG_GETARG_OID(0);
	id = PG_GETARG_INT64(1);
	origin = text_to_cstring(PG_GETARG_TEXT_PP(2));
	at = PG_GETARG_DATUM(3);
	rgpd_check_optin_origin(origin);
	rgpd_check_event_time(at, "an opt-in");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	if (!rgpd_is_manager() && !rgpd_may(relid, ACL_UPDATE))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to record an opt-in for table %s", sub->relname),
				 errhint("Recording an opt-in needs UPDATE on the table, or membership in %s.",
						 RGPD_MANAGER)));
	nest = rgpd_pin_search_path();
	event = rgpd_record_optin(sub, id, origin, at, NULL, NULL);
	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_INT64(event);
}
