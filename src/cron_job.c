/*-------------------------------------------------------------------------
 *
 * cron_job.c
 *	  The pg_cron job of the monthly sweep, from any database.
 *
 *	  pg_cron keeps its jobs in one database (cron.database_name), and
 *	  cron.schedule_in_database() exists only there.  rgpd._cron_job()
 *	  (re)schedules or removes the sweep job of the current database: in
 *	  the cron database itself it calls pg_cron directly, in the caller's
 *	  transaction; from any other database it starts a short-lived dynamic
 *	  background worker connected to the cron database as the calling
 *	  superuser, which makes the same calls there and commits on its own
 *	  (as pg_cron's own background workers connect: no password, no
 *	  pg_hba.conf rule).  Only the sweep's fixed command can be scheduled.
 *
 * Copyright (c) 2026, The pericles_rgpd developers
 * Released under the PostgreSQL License (see LICENSE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "pericles_rgpd.h"

PG_FUNCTION_INFO_V1(rgpd_cron_job);

PGDLLEXPORT void rgpd_cron_worker(Datum main_arg);

/* the one command the sweep job runs: the sweep in committed batches */
#define RGPD_SWEEP_COMMAND "CALL rgpd.sweep_batches()"

/* A request to the cron database, and its outcome, in shared memory. */
typedef struct CronRequest
{
	/* in */
	char		cron_db[NAMEDATALEN];
	char		caller[NAMEDATALEN];
	char		jobname[2 * NAMEDATALEN];
	char		schedule[256];
	char		database[NAMEDATALEN];
	char		username[NAMEDATALEN];
	bool		unschedule;
	/* out */
	bool		done;
	int64		result;
	int			sqlerrcode;
	char		message[1024];
	char		detail[1024];
	char		hint[1024];
} CronRequest;

/*
 * Make the pg_cron calls of a request, in the cron database, in the current
 * transaction: remove the jobs of that name for that database (whoever
 * they run as), then, unless unscheduling, schedule the sweep.  Returns the
 * new job's id, or the number of jobs removed.
 */
static int64
cron_request_run(CronRequest *req)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	bool		isnull;
	int64		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pericles_rgpd: SPI_connect failed");

	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron'",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not look for pg_cron");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not installed in database %s", req->cron_db),
				 errdetail("pg_cron keeps its jobs in the database named by cron.database_name."),
				 errhint("Run CREATE EXTENSION pg_cron; in database %s as a superuser.",
						 quote_identifier(req->cron_db))));

	values[0] = CStringGetTextDatum(req->jobname);
	values[1] = CStringGetTextDatum(req->database);
	if (SPI_execute_with_args("SELECT pg_catalog.count(cron.unschedule(j.jobid))"
							  " FROM cron.job AS j"
							  " WHERE j.jobname OPERATOR(pg_catalog.=) $1"
							  " AND j.database OPERATOR(pg_catalog.=) $2",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pericles_rgpd: could not remove the jobs named \"%s\"", req->jobname);
	result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	if (!req->unschedule)
	{
		values[1] = CStringGetTextDatum(req->schedule);
		values[2] = CStringGetTextDatum(RGPD_SWEEP_COMMAND);
		values[3] = CStringGetTextDatum(req->database);
		values[4] = CStringGetTextDatum(req->username);
		if (SPI_execute_with_args("SELECT cron.schedule_in_database($1, $2, $3, $4, $5, true)",
								  5, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "pericles_rgpd: could not schedule job \"%s\"", req->jobname);
		result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return result;
}

/* Copy a string into a fixed buffer of the request, refusing to truncate. */
static void
request_copy(char *dst, size_t size, const char *src, const char *what)
{
	if (strlen(src) >= size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long for a pg_cron job", what)));
	strlcpy(dst, src, size);
}

/*
 * The background worker: connect to the cron database as the caller, run
 * the request, and report its outcome, error included, in the segment.
 */
void
rgpd_cron_worker(Datum main_arg)
{
	dsm_segment *seg;
	CronRequest *req;

	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pericles_rgpd cron worker could not attach to its request")));
	req = (CronRequest *) dsm_segment_address(seg);

	BackgroundWorkerInitializeConnection(req->cron_db, req->caller, 0);
	pgstat_report_appname("pericles_rgpd schedule_sweep");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		req->result = cron_request_run(req);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		req->sqlerrcode = edata->sqlerrcode;
		strlcpy(req->message, edata->message ? edata->message : "", sizeof(req->message));
		strlcpy(req->detail, edata->detail ? edata->detail : "", sizeof(req->detail));
		strlcpy(req->hint, edata->hint ? edata->hint : "", sizeof(req->hint));
		PG_RE_THROW();
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
	req->done = true;
	dsm_detach(seg);
}

/*
 * rgpd._cron_job(jobname text, schedule text, username name) → bigint
 *
 * Schedules the sweep of the current database as job jobname, run as
 * username (schedule NULL: removes the job; returns how many went).
 * Superusers only; the SQL wrapper rgpd.schedule_sweep() checks the roles.
 */
Datum
rgpd_cron_job(PG_FUNCTION_ARGS)
{
	CronRequest local;
	CronRequest *req;
	const char *cron_db;
	char	   *dbname;
	dsm_segment *seg;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid;
	int64		result;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may schedule the sweep"),
				 errdetail("pg_cron schedules a job that runs as another role only for a superuser.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job name and user name must not be NULL")));

	cron_db = GetConfigOption("cron.database_name", true, false);
	if (cron_db == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not loaded"),
				 errhint("Add pg_cron to shared_preload_libraries in postgresql.conf and restart the server.")));

	memset(&local, 0, sizeof(local));
	dbname = get_database_name(MyDatabaseId);
	request_copy(local.cron_db, sizeof(local.cron_db), cron_db, "cron.database_name");
	request_copy(local.caller, sizeof(local.caller), GetUserNameFromId(GetUserId(), false), "the user name");
	request_copy(local.jobname, sizeof(local.jobname), text_to_cstring(PG_GETARG_TEXT_PP(0)), "the job name");
	request_copy(local.database, sizeof(local.database), dbname, "the database name");
	request_copy(local.username, sizeof(local.username), NameStr(*PG_GETARG_NAME(2)), "the user name");
	local.unschedule = PG_ARGISNULL(1);
	if (!local.unschedule)
		request_copy(local.schedule, sizeof(local.schedule), text_to_cstring(PG_GETARG_TEXT_PP(1)), "the schedule");

	/* in the cron database: in this transaction */
	if (strcmp(dbname, cron_db) == 0)
		PG_RETURN_INT64(cron_request_run(&local));

	/* elsewhere: through a background worker connected there */
	seg = dsm_create(sizeof(CronRequest), 0);
	req = (CronRequest *) dsm_segment_address(seg);
	memcpy(req, &local, sizeof(CronRequest));

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pericles_rgpd");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "rgpd_cron_worker");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pericles_rgpd schedule_sweep for %s", dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pericles_rgpd schedule_sweep");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a background worker to reach database %s", cron_db),
				 errdetail("The pg_cron jobs of every database are kept in database %s.", cron_db),
				 errhint("Raise max_worker_processes, or call rgpd.schedule_sweep() again when fewer background workers run.")));
	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status == BGWH_STARTED)
		status = WaitForBackgroundWorkerShutdown(handle);
	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited while scheduling the sweep")));

	if (!req->done)
	{
		if (req->message[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("the background worker could not reach database %s", cron_db),
					 errhint("See the server log.")));
		ereport(ERROR,
				(errcode(req->sqlerrcode == ERRCODE_INTERNAL_ERROR ? ERRCODE_EXTERNAL_ROUTINE_EXCEPTION
						 : req->sqlerrcode),
				 errmsg("%s", req->message),
				 req->detail[0] ? errdetail("%s", req->detail) : 0,
				 req->hint[0] ? errhint("%s", req->hint) : 0,
				 errcontext("in database %s, through a background worker", cron_db)));
	}
	result = req->result;
	dsm_detach(seg);
	PG_RETURN_INT64(result);
}
