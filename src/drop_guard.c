/*-------------------------------------------------------------------------
 *
 * drop_guard.c
 *	  The guard that keeps DROP EXTENSION pericles_rgpd from leaving the
 *	  restricted archive open while tables are registered (an event
 *	  trigger on ddl_command_start).
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_guard_drop_extension);

/*
 * rgpd._guard_drop_extension(): event trigger on ddl_command_start.
 * DROP EXTENSION pericles_rgpd while tables are registered would take
 * rgpd_status and the restrictive policy with it and leave the permissive
 * one: the archive would become readable by everyone who reads the table,
 * and the values held apart for archived people would be lost.  It is
 * refused until the tables are unregistered (which undoes what
 * registration did, and puts the held values back).
 */
Datum
rgpd_guard_drop_extension(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	ListCell   *lc;
	bool		ours = false;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function rgpd._guard_drop_extension() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		PG_RETURN_VOID();
	foreach(lc, stmt->objects)
	{
		Node	   *object = lfirst(lc);

		if (IsA(object, String) && strcmp(strVal(object), RGPD_EXTENSION) == 0)
			ours = true;
	}
	if (!ours)
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.string_agg(CAST(s.subject AS pg_catalog.text), ', '"
					"       ORDER BY CAST(s.subject AS pg_catalog.text))"
					"  FROM rgpd.subjects AS s", true, 0) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		char	   *tables = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (tables != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop extension %s while tables are registered", RGPD_EXTENSION),
					 errdetail("Registered subject tables: %s.  Dropping the extension would leave their archived rows readable by everyone.",
							   tables),
					 errhint("Unregister them first: SELECT rgpd.unregister_subject(subject, cascade => true) FROM rgpd.subjects;")));
	}
	SPI_finish();
	PG_RETURN_VOID();
}
