/*-------------------------------------------------------------------------
 *
 * partition_commands.c
 *	  Which DDL commands change the partitions of a table: the event
 *	  trigger rgpd_protect_partitions acts on those only (CREATE TABLE …
 *	  PARTITION OF, ATTACH and DETACH PARTITION, FORCE / NO FORCE ROW
 *	  LEVEL SECURITY, and DISABLE ROW LEVEL SECURITY, which it undoes on a
 *	  partition), not on every ALTER TABLE under a subject table.
 *
 *	  Reacting to every ALTER TABLE broke pg_restore: the restore loads
 *	  rgpd.subjects with the data, then re-creates the application's
 *	  indexes, row-level security and policies; its first ALTER TABLE on
 *	  the subject table made the trigger create the partitions' policies,
 *	  and pg_restore's own CREATE POLICY then failed ("already exists").
 *	  A restore creates and attaches partitions before any data is loaded,
 *	  when no subject is registered yet, so the trigger leaves it alone.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_changes_partitions);

/*
 * rgpd._changes_partitions(command pg_ddl_command) RETURNS boolean: does
 * this command, as pg_event_trigger_ddl_commands() reports it, create,
 * attach or detach a partition, or change FORCE ROW LEVEL SECURITY (which
 * the partitions of a subject table follow) or disable row-level security?
 */
Datum
rgpd_changes_partitions(PG_FUNCTION_ARGS)
{
	CollectedCommand *cmd = (CollectedCommand *) PG_GETARG_POINTER(0);
	ListCell   *lc;

	switch (cmd->type)
	{
		case SCT_Simple:
			if (IsA(cmd->parsetree, CreateStmt))
				PG_RETURN_BOOL(((CreateStmt *) cmd->parsetree)->partbound != NULL);
			if (IsA(cmd->parsetree, CreateForeignTableStmt))
				PG_RETURN_BOOL(((CreateForeignTableStmt *) cmd->parsetree)->base.partbound != NULL);
			PG_RETURN_BOOL(false);
		case SCT_AlterTable:
			foreach(lc, cmd->d.alterTable.subcmds)
			{
				CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(lc);
				AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;

				if (!IsA(at, AlterTableCmd))
					continue;
				switch (at->subtype)
				{
					case AT_AttachPartition:
					case AT_DetachPartition:
					case AT_DetachPartitionFinalize:
					case AT_DisableRowSecurity:
					case AT_ForceRowSecurity:
					case AT_NoForceRowSecurity:
						PG_RETURN_BOOL(true);
					default:
						break;
				}
			}
			PG_RETURN_BOOL(false);
		default:
			PG_RETURN_BOOL(false);
	}
}
