#!/usr/bin/env bash
# test/run.sh — run every suite of pericles_rgpd against a throwaway
# cluster: pg_regress (sql/ + expected/), isolation (test/specs +
# test/expected) and pgTAP (test/pgtap, through pg_prove).
#
# Counts: one per pg_regress test, one per isolation spec, one per pgTAP
# assertion (a pgTAP file that dies or misses its plan counts one more
# failure).  The last line is "N passed, N failed"; the exit status is
# non-zero on any failure.  KEEP_CLUSTER=1 keeps the cluster directory.
#
# While developing, RGPD_ONLY="00_install 28_retention hold_vs_forget
# 06_retention_calendar" runs only the pg_regress tests, isolation specs and
# pgTAP files of those names (the standby and the scheduled sweep are then
# skipped); make test itself always runs everything.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/cluster.sh

passed=0
failed=0

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

if ! cluster_start; then
	echo "could not start the test cluster" >&2
	failed=1
	finish
fi

# The suites read their inputs from, and write their results to, a copy
# the cluster's OS user owns.
work=$CLUSTER_DIR/work
mkdir -p "$work"
cp -r sql expected test "$work"/
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"

pg_sql -d postgres -c "CREATE DATABASE rgpd_regress" \
	-c "CREATE DATABASE rgpd_isolation" -c "CREATE DATABASE rgpd_tap" || {
	failed=1
	finish
}

# count LOG EXPECTED: the tests of a pg_regress-style log; every expected
# test that did not report "ok" (failed, or never ran because the suite
# stopped) counts as failed.
count() {
	local log=$1 expected=$2 ok
	ok=$(grep -cE '\.\.\. ok' "$log" || true)
	passed=$((passed + ok))
	failed=$((failed + expected - ok))
}

# suite TITLE PROGRAM DBNAME INPUTDIR OUTPUTDIR TESTS...: run one of
# PostgreSQL's test drivers (pg_regress, pg_isolation_regress), count it,
# and show the differences of what failed
suite() {
	local title=$1 program=$2 dbname=$3 inputdir=$4 outputdir=$5 status
	shift 5
	[ $# -gt 0 ] || return 0
	echo "== $title"
	as_pg "$PGXS_SRC/test/$program" --bindir="$PGBIN" \
		--host="$PGHOST" --port="$PGPORT" --user=postgres \
		--dbname="$dbname" --use-existing \
		--inputdir="$inputdir" --outputdir="$outputdir" \
		"$@" >"$outputdir.log" 2>&1
	status=$?
	grep -E '\.\.\. ' "$outputdir.log"
	count "$outputdir.log" "$#"
	if [ $status -ne 0 ]; then
		[ -f "$outputdir/regression.diffs" ] && cat "$outputdir/regression.diffs" >&2
		grep -vE '\.\.\. ok' "$outputdir.log" >&2
	fi
}

# ---- pg_regress, isolation ----
# only NAME...: the names of the arguments that RGPD_ONLY lists (all of
# them when it is unset)
only() {
	local n
	for n in "$@"; do
		if [ -z "${RGPD_ONLY:-}" ] || [[ " $RGPD_ONLY " == *" $n "* ]]; then echo "$n"; fi
	done
}
suite pg_regress regress/pg_regress rgpd_regress "$work" "$work/regress" \
	$(only $(cd sql && ls *.sql 2>/dev/null | sed 's/\.sql$//' | sort))
suite isolation isolation/pg_isolation_regress rgpd_isolation "$work/test" "$work/isolation" \
	$(only $(cd test/specs && ls *.spec 2>/dev/null | sed 's/\.spec$//' | sort))

# ---- pgTAP ----
tap_files=$(for f in $(only $(cd test/pgtap && ls *.sql 2>/dev/null | sed 's/\.sql$//' | sort)); do
	echo "$work/test/pgtap/$f.sql"; done)
if [ -n "$tap_files" ]; then
	echo "== pgTAP"
	pg_sql -d rgpd_tap -c "CREATE EXTENSION pgtap" || failed=$((failed + 1))
	as_pg pg_prove --verbose -h "$PGHOST" -p "$PGPORT" -U postgres -d rgpd_tap \
		$tap_files >"$work/pgtap.log" 2>&1
	status=$?
	grep -E '^[^ ].*\.sql \.\.|^(ok|not ok)|^# |^All tests|^Files=|^Result' "$work/pgtap.log" |
		grep -vE '^ok ' | sed 's/^/  /'
	passed=$((passed + $(grep -cE '^ok [0-9]+' "$work/pgtap.log" || true)))
	failed=$((failed + $(grep -cE '^not ok [0-9]+' "$work/pgtap.log" || true)))
	# files that died, or ran other than their plan
	broken=$(grep -cE 'Parse errors|Non-zero exit status|Bad plan|No plan found' "$work/pgtap.log" || true)
	failed=$((failed + broken))
	if [ $status -ne 0 ]; then
		grep -B2 -A10 -E '^not ok|Parse errors|Non-zero exit|psql:' "$work/pgtap.log" >&2 || true
		[ "$broken" -eq 0 ] && ! grep -qE '^not ok' "$work/pgtap.log" && failed=$((failed + 1))
	fi
	echo "  $(grep -cE '^ok [0-9]+' "$work/pgtap.log" || true) assertions passed in $(echo "$tap_files" | wc -l) files"
fi

# ---- hot standby ----
# standby: a streaming standby of the throwaway cluster (pg_basebackup -R,
# in the same directory tree, next port), which replays a small registered
# database (test/standby/primary.sql); the read-only API is then run there
# as ordinary roles (test/standby/checks.sql, one count per check), and
# rgpd.export must say it stored nothing.  The standby is stopped after.
standby_stop() {
	[ -f "${STANDBY_DIR:-/nonexistent}/postmaster.pid" ] &&
		as_pg "$PGBIN/pg_ctl" -D "$STANDBY_DIR" -m immediate -w stop >/dev/null 2>&1
	trap cluster_stop EXIT
}
standby() {
	local sport=$((PGPORT + 1)) log=$work/standby.log lsn i
	echo "== hot standby"
	STANDBY_DIR=$CLUSTER_DIR/standby
	trap 'standby_stop; cluster_stop' EXIT
	if ! { pg_sql -d postgres -c "CREATE DATABASE rgpd_standby" &&
		pg_sql -d rgpd_standby -f "$work/test/standby/primary.sql" >"$log" 2>&1 &&
		as_pg "$PGBIN/pg_basebackup" -D "$STANDBY_DIR" -R -X stream -c fast --no-sync >>"$log" 2>&1 &&
		echo "port = $sport" | as_pg tee -a "$STANDBY_DIR/postgresql.conf" >/dev/null &&
		as_pg "$PGBIN/pg_ctl" -D "$STANDBY_DIR" -l "$work/standby-server.log" -w -t 30 start >/dev/null; }; then
		echo "  failed: could not make the standby"
		cat "$log" "$work/standby-server.log" >&2 2>/dev/null
		failed=$((failed + 1))
		standby_stop
		return
	fi
	# wait until it has replayed everything written so far
	lsn=$(pg_sql -At -d postgres -c "SELECT pg_current_wal_lsn()")
	for i in $(seq 1 100); do
		[ "$(pg_sql -At -p "$sport" -d postgres -c \
			"SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null)" = t ] && break
		[ "$i" -eq 100 ] && echo "failed replay: the standby did not reach $lsn in 10 s" >>"$log"
		sleep 0.1
	done
	as_pg "$PGBIN/psql" -X -q -p "$sport" -d rgpd_standby -f "$work/test/standby/checks.sql" >>"$log" 2>&1 ||
		echo "failed: checks.sql stopped" >>"$log"
	if grep -q 'NOTICE:  export of sb.clients id 1 was neither stored nor journaled' "$log"; then
		echo "ok export: NOTICE, neither stored nor journaled" >>"$log"
	else
		echo "failed export: no NOTICE that it was not stored" >>"$log"
	fi
	grep -E '^(ok|failed) ' "$log" | sed 's/^/  /'
	passed=$((passed + $(grep -cE '^ok ' "$log" || true)))
	failed=$((failed + $(grep -cE '^failed' "$log" || true)))
	standby_stop
}
# On an existing server (make installcheck) the standby would be a base
# backup of the whole server on this machine, on the next port: left out.
if [ -n "${RGPD_EXISTING_SERVER:-}" ]; then
	echo "== hot standby"
	echo "  skipped on an existing server (it would copy the whole server with pg_basebackup)"
elif [ -z "${RGPD_ONLY:-}" ]; then
	standby
fi

# scheduled_sweep: one real run of the sweep by pg_cron.  A database other
# than cron.database_name schedules its sweep every minute (so the job is
# written through rgpd.schedule_sweep()'s background worker), then at most
# 75 s are waited for pg_cron's report of the run; it must say 'succeeded',
# and the database's journal must show the sweep, run by rgpd_sweeper, that
# archived the one overdue client.  Three assertions; skipped, with the
# reason, on a server whose pg_cron does not use this suite's database.
scheduled_sweep() {
	local cron_db db=rgpd_cronrun job=rgpd-monthly-sweep-rgpd_cronrun status="" i ok
	echo "== scheduled sweep (pg_cron, one real run)"
	cron_db=$(pg_sql -At -d postgres -c "SELECT current_setting('cron.database_name', true)")
	if [ "$cron_db" != rgpd_regress ]; then
		echo "  skipped: pg_cron is not loaded with cron.database_name = 'rgpd_regress' (it is '${cron_db}')"
		return 0
	fi
	pg_sql -d rgpd_regress -c "CREATE EXTENSION IF NOT EXISTS pg_cron" &&
	pg_sql -d postgres -c "CREATE DATABASE $db" &&
	pg_sql -d $db -c "SET client_min_messages = warning" \
		-c "CREATE EXTENSION pericles_rgpd" \
		-c "CREATE ROLE rgpd_sweeper LOGIN" -c "GRANT rgpd_manager TO rgpd_sweeper" \
		-c "CREATE TABLE clients (id bigint PRIMARY KEY, created date)" \
		-c "SELECT rgpd.register_subject('clients', created_column => 'created')" \
		-c "INSERT INTO clients VALUES (1, current_date - 3650), (2, current_date)" \
		-c "SELECT rgpd.schedule_sweep('* * * * *')" >/dev/null || {
		failed=$((failed + 3))
		pg_sql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS rgpd_sweeper"
		return 0
	}
	for i in $(seq 1 38); do
		status=$(pg_sql -At -d rgpd_regress -c "SELECT d.status FROM cron.job_run_details AS d
			JOIN cron.job AS j USING (jobid) WHERE j.jobname = '$job'
			AND d.status IN ('succeeded', 'failed') ORDER BY d.runid DESC LIMIT 1")
		[ -n "$status" ] && break
		sleep 2
	done
	sweep_ok() { if [ "$1" = t ]; then passed=$((passed + 1)); echo "  ok: $2"; else failed=$((failed + 1)); echo "  FAILED: $2" >&2; fi; }
	sweep_ok "$([ "$status" = succeeded ] && echo t)" "pg_cron ran job $job: '${status:-no run within 76 s}'"
	[ "$status" = succeeded ] || pg_sql -d rgpd_regress -c "SELECT status, return_message FROM cron.job_run_details" >&2
	sweep_ok "$(pg_sql -At -d $db -c "SELECT count(*) >= 1 FROM rgpd.journal WHERE action = 'sweep' AND actor = 'rgpd_sweeper'")" \
		"the journal of $db has the sweep line, by rgpd_sweeper"
	sweep_ok "$(pg_sql -At -d $db -c "SELECT array_agg(rgpd_status::text ORDER BY id) = '{archived,active}' FROM clients")" \
		"the sweep archived the overdue client only"
	pg_sql -d $db -c "SELECT rgpd.unschedule_sweep()" >/dev/null
	pg_sql -d postgres -c "DROP DATABASE $db" -c "DROP ROLE rgpd_sweeper" >/dev/null
	pg_sql -d rgpd_regress -c "DROP EXTENSION pg_cron"
}
[ -z "${RGPD_ONLY:-}" ] && scheduled_sweep

finish
