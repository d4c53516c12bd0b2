# test/cluster.sh — start and stop a throwaway PostgreSQL 15 cluster.
#
# Sourced by test/run.sh, demo/run.sh and bench/run.sh.  The cluster runs as
# the postgres OS user (PostgreSQL refuses root) in a fresh temporary
# directory, listens only on a Unix socket in that directory, and preloads
# pg_cron, which runs its jobs in background workers (no connection to make).
# cluster_start sets PGHOST, PGPORT, PGUSER and CLUSTER_DIR;
# cluster_stop stops the server and removes the directory, and is installed
# as an EXIT trap so that it runs whatever happens.
#
# With RGPD_EXISTING_SERVER=1 (make installcheck) no cluster is made: the
# server PGHOST, PGPORT and PGUSER reach is used, CLUSTER_DIR is only a
# work directory, and cluster_stop drops the suites' databases.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGXS_SRC=${PGXS_SRC:-$(cd "$(dirname "$("$PGBIN/pg_config" --pgxs)")/.." && pwd)}

# Run a command as the cluster's OS user: postgres when we are root,
# ourselves otherwise.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env PATH="$PGBIN:$PATH" PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" "$@"
	else
		env PATH="$PGBIN:$PATH" "$@"
	fi
}

# psql against the throwaway cluster, quiet and stopping on the first error.
pg_sql() {
	as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

cluster_start() {
	local extra_conf=${1:-}
	if [ -n "${RGPD_EXISTING_SERVER:-}" ]; then
		existing_server_start
		return
	fi
	CLUSTER_DIR=$(mktemp -d /tmp/pericles_rgpd.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$CLUSTER_DIR"
	fi
	export PGHOST=$CLUSTER_DIR PGPORT=${PGPORT_CHOICE:-54329} PGUSER=postgres
	trap cluster_stop EXIT

	as_pg "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 || {
		cat "$CLUSTER_DIR/initdb.log" >&2
		return 1
	}
	as_pg tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
port = $PGPORT
shared_preload_libraries = 'pg_cron'
cron.database_name = '${CRON_DB:-rgpd_regress}'
cron.use_background_workers = on
max_worker_processes = 16
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
max_prepared_transactions = 10
lc_messages = 'C'
$extra_conf
EOF
	# roles the check of rgpd.schedule_sweep() is tested with (sql/07_schedule)
	as_pg sed -i '/^# TYPE/a\
local all regress_cron_reject reject\
local all regress_cron_password scram-sha-256' "$CLUSTER_DIR/data/pg_hba.conf"
	as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null || {
		cat "$CLUSTER_DIR/server.log" >&2
		return 1
	}
}

cluster_stop() {
	[ -n "${CLUSTER_DIR:-}" ] || return 0
	if [ -n "${RGPD_EXISTING_SERVER:-}" ]; then
		existing_server_stop
		return
	fi
	if [ -f "$CLUSTER_DIR/data/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "${KEEP_CLUSTER:-}" ]; then
		echo "cluster kept in $CLUSTER_DIR" >&2
	else
		rm -rf "$CLUSTER_DIR"
	fi
	CLUSTER_DIR=
}

# The suites' databases on an existing server: refused if any exists (they
# would be someone else's), dropped at the end.
RGPD_SUITE_DBS="rgpd_regress rgpd_isolation rgpd_tap rgpd_upgrade rgpd_catalog_10 rgpd_catalog_11 rgpd_sched2 rgpd_cronrun
	rgpd_erasure rgpd_erasure_restored rgpd_dump rgpd_dump_restored rgpd_dump_plain rgpd_standby"

existing_server_start() {
	local db
	CLUSTER_DIR=$(mktemp -d /tmp/pericles_rgpd.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR"
	export PGHOST=${PGHOST:-/var/run/postgresql} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
	trap cluster_stop EXIT
	if [ "$(pg_sql -At -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" != t ]; then
		echo "make installcheck needs a superuser connection (PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER)" >&2
		return 1
	fi
	for db in $RGPD_SUITE_DBS; do
		if [ "$(pg_sql -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" != 0 ]; then
			echo "database $db already exists on the server: drop it (or use another server) first" >&2
			return 1
		fi
	done
	# the suites' roles: left by an interrupted run, they would fail a dozen tests
	roles=$(pg_sql -At -d postgres -c "SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles
		WHERE rolname LIKE 'regress\_%' OR rolname = 'rgpd_sweeper'")
	if [ -n "$roles" ]; then
		echo "roles of an earlier run exist on the server: $roles" >&2
		echo "drop them first (DROP OWNED BY …; DROP ROLE …), or use another server" >&2
		return 1
	fi
	# the test roles log in as themselves (\c - regress_owner): try one first,
	# rather than fail thirty tests with the server's authentication errors
	pg_sql -d postgres -c "CREATE ROLE regress_login_probe LOGIN" >/dev/null
	if ! as_pg "$PGBIN/psql" -X -q -At -d postgres -U regress_login_probe -c "SELECT 1" >/dev/null 2>&1; then
		pg_sql -d postgres -c "DROP ROLE regress_login_probe" >/dev/null
		echo "the test roles cannot log in to this server (PGHOST=$PGHOST PGPORT=$PGPORT): add a rule" \
			"such as \"local all all trust\" at the top of pg_hba.conf on a test server, reload, and run again" >&2
		return 1
	fi
	pg_sql -d postgres -c "DROP ROLE regress_login_probe" >/dev/null
}

existing_server_stop() {
	local db
	for db in $RGPD_SUITE_DBS; do
		pg_sql -d postgres -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
	done
	[ -n "${KEEP_CLUSTER:-}" ] && echo "work directory kept in $CLUSTER_DIR" >&2 || rm -rf "$CLUSTER_DIR"
	CLUSTER_DIR=
}
