#!/usr/bin/env bash
# bench/run.sh — make bench: the benchmarks of pericles_rgpd, each against
# a baseline measured in the same run, on a throwaway cluster.  Never run
# by make test.
#
#   BENCH_CLIENTS   subjects of the generated agency (default 1000000);
#                   linked rows are 4 per subject
#   BENCH_SECONDS   length of each pgbench run (default 15)
#   BENCH_ONLY      run one section: contact, update_paths, lifecycle, anonymise, consent,
#                   erasure, batches, portfolio, retention
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/cluster.sh
export CRON_DB=bench

CLIENTS=${BENCH_CLIENTS:-1000000}
SECONDS_PER_RUN=${BENCH_SECONDS:-15}
ONLY=${BENCH_ONLY:-}

cluster_start "
shared_buffers = '2GB'
work_mem = '64MB'
maintenance_work_mem = '1GB'
max_wal_size = '20GB'
checkpoint_timeout = '30min'
autovacuum = off
jit = off
max_locks_per_transaction = 256
"
pg_sql -d postgres -c "CREATE DATABASE bench"
cp -r bench "$CLUSTER_DIR/bench"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$CLUSTER_DIR/bench"
B=$CLUSTER_DIR/bench

bsql() { pg_sql -d bench -At -c "SET client_min_messages = warning" "$@"; }

# ms SQL...: milliseconds taken by the statements (psql \timing, summed)
ms() {
	pg_sql -d bench -At -c '\timing on' "$@" |
		awk '/^Time: / { t += $2 } END { printf "%.1f", t }'
}

# twice SQL: "FIRST SECOND" ms: the statement in a new session (libraries,
# caches and plans to load), then again in the same session, as an
# application's pooled connection runs it
twice() {
	pg_sql -d bench -At -c '\timing on' -c "$1" -c "$1" | awk '/^Time: / { printf "%s ", $2 }'
}

# median of its arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# callgrind_session INPUT RESET_SQL: the instructions of a single-user
# session of the stopped cluster reading INPUT (each line its own
# transaction, as an application sends them), then RESET_SQL run outside
# valgrind to put the database back as it was
callgrind_session() {
	local out="$CLUSTER_DIR/callgrind.out"
	rm -f "$out"
	chmod 644 "$1"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$PGBIN/postgres" --single -D "$CLUSTER_DIR/data" \
		-c shared_preload_libraries= bench <"$1" >/dev/null 2>&1
	echo "$2" | as_pg "$PGBIN/postgres" --single -D "$CLUSTER_DIR/data" -c shared_preload_libraries= bench >/dev/null 2>&1
	callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

echo "pericles_rgpd benchmark: $CLIENTS subjects, $((4 * CLIENTS)) linked rows, $(nproc) cores"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), fsync off, synchronous_commit off, autovacuum off"

for section in contact update_paths lifecycle anonymise consent erasure batches portfolio retention; do
	if [ -z "$ONLY" ] || [ "$ONLY" = "$section" ]; then
		[ -f "bench/$section.sh" ] && . "bench/$section.sh"
	fi
done
