/*-------------------------------------------------------------------------
 *
 * export.c
 *	  rgpd.export(subject, id): the right of access and portability.
 *	  Everything held on one person as one JSON document: the record, every
 *	  linked row grouped by table and by the column that links it, opt-in
 *	  and consent events, objections, provenance, and the journal.  The
 *	  document is stored (rgpd.exports, purged after rgpd.export_ttl) and
 *	  the export journaled — except where the transaction cannot write (a
 *	  hot standby, a read-only transaction): the document is returned all
 *	  the same, with a NOTICE that it was neither stored nor journaled, so
 *	  that a person's request can be answered from a standby.
 *
 *	  The document holds what the caller may read, and nothing more: the
 *	  caller needs SELECT on every column of the subject table and of
 *	  every linked table (an export is whole rows; a partial one would
 *	  mislead the person who asked for it), else the export is refused
 *	  naming the table.  Managers (and superusers) read as the owner of
 *	  each table, so that they never run another role's row-level security
 *	  policies; anybody else reads as itself, the tables' policies and the
 *	  restricted archive applying as when it reads them directly.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_export);

static Datum
single_jsonb(bool *isnull)
{
	Datum		d;

	if (SPI_processed != 1)
	{
		*isnull = true;
		return (Datum) 0;
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	if (!*isnull)
		d = SPI_datumTransfer(d, false, -1);
	return d;
}

/*
 * Run one of the subject's export statements ($1: the id) as the reader.
 * The subject's saved plans are prepared for the engine's context (owner,
 * row security not forced), which is a privileged reader's; anybody else
 * runs the statement afresh under its own row security, since for the
 * owner a saved plan cannot tell the two apart (rgpd_gate_prepare()).
 */
static void
export_query(RgpdSubject *sub, RgpdStatementKind kind, Oid *argtypes,
			 Datum *values, Oid reader, int flags)
{
	if (reader == sub->owner && flags == RGPD_GATE_NOFORCE_RLS)
		rgpd_gate_execute(rgpd_subject_plan(sub, kind),
						  NULL, 0, NULL, values, NULL, reader, flags, 0);
	else
		rgpd_gate_execute(NULL, rgpd_statement_sql(sub, kind),
						  1, argtypes, values, NULL, reader, flags, 0);
}

Datum
rgpd_export(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		id = PG_GETARG_INT64(1);
	bool		manager = rgpd_is_manager();
	RgpdSubject *sub;
	Oid			argtypes[6] = {INT8OID, REGCLASSOID, JSONBOID, JSONBOID, JSONBOID, TEXTOID};
	Datum		values[6];
	bool		isnull;
	Datum		record,
				links,
				extras,
				document;
	RgpdStatus	status = RGPD_STATUS_ACTIVE;
	int64		export_id;
	RgpdJson	detail;
	int			nest;
	int			i;
	Oid			reader;
	int			flags;

	/*
	 * On the primary an export is always recorded: a read-only transaction
	 * there is the caller's choice, and would otherwise hand out an export
	 * that neither the journal nor rgpd.exports knows of.  Only a hot
	 * standby, where nothing can be written, answers without the record.
	 */
	if (XactReadOnly && !RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot execute rgpd.export() in a read-only transaction"),
				 errdetail("On the primary every export is stored and journaled."),
				 errhint("Export in a read-write transaction.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	sub = rgpd_subject(relid, false);
	rgpd_caller_reads_all(relid, "export");
	for (i = 0; i < sub->nlinks; i++)
		rgpd_caller_reads_all(sub->links[i], "export");
	reader = rgpd_caller_privileged() ? sub->owner : GetUserId();
	flags = rgpd_caller_privileged() ? RGPD_GATE_NOFORCE_RLS : 0;
	nest = rgpd_pin_search_path();

	/* the record */
	values[0] = Int64GetDatum(id);
	export_query(sub, RGPD_STMT_EXPORT_RECORD, argtypes, values, reader, flags);
	if (SPI_processed == 1)
		status = rgpd_status_of_label(SPI_getvalue(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2));
	record = single_jsonb(&isnull);
	if (isnull || (!manager && status == RGPD_STATUS_ARCHIVED))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("table %s has no row with %s = " INT64_FORMAT,
						sub->relname, quote_identifier(sub->key_column), id)));

	/* every linked row, by table and by the column that links it */
	export_query(sub, RGPD_STMT_EXPORT_LINKS, argtypes, values, reader, flags);
	links = single_jsonb(&isnull);

	/* what pericles_rgpd itself holds: opt-ins, consents, journal… */
	argtypes[0] = REGCLASSOID;
	argtypes[1] = INT8OID;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	rgpd_execute("SELECT rgpd._export_extras($1, $2)", 2, argtypes, values, NULL,
				 rgpd_extension_owner(), false, 0);
	extras = single_jsonb(&isnull);
	extras = rgpd_retention_export(relid, id, extras);	/* retention, holds */

	/*
	 * Sections the caller may not read in the extension's own tables are
	 * left out, and named: the journal is for managers; opt-ins, consents,
	 * objections and provenance for managers and the table's owner.
	 */
	if (!manager)
	{
		bool		owner = has_privs_of_role(GetUserId(), sub->owner);
		const char *omitted = owner ? "{journal}" :
			"{journal,optins,consents,objections,provenance}";

		rgpd_execute("SELECT ($1 OPERATOR(pg_catalog.-) $2::pg_catalog.text[])"
					 "       OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('omitted_sections', $2::pg_catalog.text[])",
					 2, (Oid[]) {JSONBOID, TEXTOID},
					 (Datum[]) {extras, CStringGetTextDatum(omitted)}, NULL,
					 InvalidOid, false, 0);
		extras = single_jsonb(&isnull);
	}

	/*
	 * An archived person's values on linked rows are held apart (see
	 * archive_values.c): the export, which only a manager gets for an
	 * archived record, gives them with the rows they belong to.
	 */
	if (status == RGPD_STATUS_ARCHIVED)
	{
		rgpd_execute("SELECT $3 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
					 "  'archived_linked_values', coalesce(pg_catalog.jsonb_agg("
					 "     pg_catalog.jsonb_build_object('table', CAST(a.link AS pg_catalog.text),"
					 "       'column', a.subject_column, 'key', a.row_key, 'values', a.vals)"
					 "     ORDER BY CAST(a.link AS pg_catalog.text), a.subject_column, a.row_key),"
					 "   '[]'::pg_catalog.jsonb))"
					 "  FROM rgpd.archived_values AS a"
					 " WHERE a.subject OPERATOR(pg_catalog.=) $1 AND a.subject_id OPERATOR(pg_catalog.=) $2",
					 3, (Oid[]) {REGCLASSOID, INT8OID, JSONBOID},
					 (Datum[]) {ObjectIdGetDatum(relid), Int64GetDatum(id), extras}, NULL,
					 rgpd_extension_owner(), false, 0);
		extras = single_jsonb(&isnull);
	}

	argtypes[0] = INT8OID;
	argtypes[1] = REGCLASSOID;
	values[0] = Int64GetDatum(id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = record;
	values[3] = links;
	values[4] = extras;
	values[5] = CStringGetTextDatum(rgpd_status_name(status));
	rgpd_execute("SELECT pg_catalog.jsonb_build_object("
				 "  'format', 'pericles_rgpd.export/1',"
				 "  'exported_at', pg_catalog.now(),"
				 "  'subject', pg_catalog.jsonb_build_object('table', $2::pg_catalog.text, 'id', $1),"
				 "  'status', $6,"
				 "  'record', $3,"
				 "  'linked', $4) OPERATOR(pg_catalog.||) $5",
				 6, argtypes, values, NULL, InvalidOid, false, 0);
	document = single_jsonb(&isnull);

	/*
	 * Keep it, journal it.  On a hot standby every transaction is read-only;
	 * the answer the person is owed does not depend on the record of it,
	 * which only the primary can keep.
	 */
	if (RecoveryInProgress())
	{
		ereport(NOTICE,
				(errmsg("export of %s id " INT64_FORMAT " was neither stored nor journaled",
						sub->relname, id),
				 errdetail("The server is a hot standby: it cannot write."),
				 errhint("Export on the primary to keep the document "
						 "and its journal line (rgpd.require_export counts stored exports only).")));
		rgpd_unpin_search_path(nest);
		SPI_finish();
		PG_RETURN_DATUM(document);
	}

	argtypes[0] = REGCLASSOID;
	argtypes[1] = INT8OID;
	argtypes[2] = JSONBOID;
	argtypes[3] = NAMEOID;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(id);
	values[2] = document;
	values[3] = DirectFunctionCall1(namein, CStringGetDatum(rgpd_current_user_name()));
	rgpd_execute("INSERT INTO rgpd.exports (subject, subject_id, document, actor)"
				 " VALUES ($1, $2, $3, $4) RETURNING id",
				 4, argtypes, values, NULL, rgpd_extension_owner(), true, 0);
	export_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull));
	rgpd_json_begin(&detail);
	rgpd_json_int(&detail, "export_id", export_id);
	rgpd_journal_rows("export", relid, &id, 1, NULL, rgpd_json_end(&detail));

	rgpd_unpin_search_path(nest);
	SPI_finish();
	PG_RETURN_DATUM(document);
}
