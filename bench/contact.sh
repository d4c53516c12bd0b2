# bench/contact.sh — the contact engine (sourced by bench/run.sh).
#  (a) single-row INSERTs into offers, each bringing a newer date: C
#      trigger vs no trigger vs the PL/pgSQL reference trigger;
#  (b) one INSERT ... SELECT of 1 000 000 offers: trigger vs no trigger;
#  (c) the stream of (a) with dates that are not newer (no-write path).
# Wall-clock figures come from pgbench (each insert its own transaction,
# as an application sends them); instruction counts from callgrind on the
# server alone, which repeat to the digit where wall-clock times on a
# shared two-core machine vary by ±10%.
echo
echo "== contact engine"
t0=$(date +%s)
bsql -v clients="$CLIENTS" -f "$B/schema.sql" >/dev/null
echo "generated in $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" >/dev/null
bsql -c "SELECT rgpd.register_subject('bench.clients', created_column => 'created', time_zone => 'UTC')" \
     -c "SELECT rgpd.register_link('bench.offers', 'bench.clients', '{client1_id,client2_id}', '{created,mandate_end}')" >/dev/null
echo "registered (last_contact computed for every subject) in $(( $(date +%s) - t0 )) s"
bsql -f "$B/plpgsql_trigger.sql" >/dev/null
bsql -c "VACUUM ANALYZE bench.clients" >/dev/null

# newer: dates after 2030 that grow with time; older: before 2016
cat >"$B/newer.sql" <<SQL
\set id random(1, $CLIENTS)
INSERT INTO bench.offers (client1_id, created) VALUES (:id, date '2030-01-01' + ((extract(epoch FROM clock_timestamp()) * 100)::bigint % 1000000)::int);
SQL
cat >"$B/older.sql" <<SQL
\set id random(1, $CLIENTS)
\set d random(0, 3000)
INSERT INTO bench.offers (client1_id, created) VALUES (:id, date '2005-01-01' + :d);
SQL
[ "$(id -u)" -eq 0 ] && chown postgres: "$B"/*.sql

# which trigger records contacts: none, the C one, or the PL/pgSQL
# reference (the guard of the subject table would keep last_contact as it
# was: the reference writes it as an ordinary user would, so the guard is
# off while it runs)
variant_sql() {
	case $1 in
	none) echo "ALTER TABLE bench.offers DISABLE TRIGGER USER;" ;;
	c) echo "ALTER TABLE bench.offers DISABLE TRIGGER USER;
	          ALTER TABLE bench.offers ENABLE TRIGGER rgpd_link_insert;
	          ALTER TABLE bench.clients ENABLE TRIGGER rgpd_subject_guard;" ;;
	plpgsql) echo "ALTER TABLE bench.offers DISABLE TRIGGER USER;
	          ALTER TABLE bench.offers ENABLE TRIGGER plpgsql_contact;
	          ALTER TABLE bench.clients DISABLE TRIGGER rgpd_subject_guard;" ;;
	esac
}
variant() { bsql -c "$(variant_sql "$1")" >/dev/null; }

# tps of a pgbench run, one client
run() {
	as_pg "$PGBIN/pgbench" -n -c 1 -T "$SECONDS_PER_RUN" -f "$B/$1.sql" bench 2>/dev/null |
		awk '/^tps/ { print $3 }'
}

# rounds of the given variants on a stream; fills tps[stream.variant]
declare -A tps
measure() {
	local stream=$1 round v
	shift
	for v in "$@"; do tps[$stream.$v]=""; done
	for round in 1 2 3; do
		for v in "$@"; do
			variant "${v%%+*}"
			tps[$stream.$v]+="$(run "$stream") "
		done
	done
}

report_stream() {
	local stream=$1 none c pl
	none=$(median ${tps[$stream.none]})
	c=$(median ${tps[$stream.c]})
	pl=$(median ${tps[$stream.plpgsql]})
	printf '  inserts/s, median of 3 x %ss: no trigger %.0f, C %.0f, PL/pgSQL %.0f\n' "$SECONDS_PER_RUN" "$none" "$c" "$pl"
	printf '  time per insert vs no trigger: C %sx, PL/pgSQL %sx' "$(ratio "$none" "$c")" "$(ratio "$none" "$pl")"
	awk -v n="$none" -v c="$c" -v p="$pl" 'BEGIN {
		added_c = 1 / c - 1 / n; added_p = 1 / p - 1 / n;
		if (added_p > 0) printf "; C adds %.2f of what PL/pgSQL adds\n", added_c / added_p; else print "" }'
}

hot_before=$(bsql -c "SELECT n_tup_hot_upd || ' ' || n_tup_upd FROM pg_stat_user_tables WHERE relid = 'bench.clients'::regclass")
measure newer none c plpgsql
measure older none c plpgsql
hot_after=$(bsql -c "SELECT n_tup_hot_upd || ' ' || n_tup_upd FROM pg_stat_user_tables WHERE relid = 'bench.clients'::regclass")
echo "(a) single-row inserts, each bringing a newer date (pgbench, one client)"
report_stream newer
awk -v b="$hot_before" -v a="$hot_after" 'BEGIN { split(b, x, " "); split(a, y, " ");
	printf "  subject rows updated: %d, of which HOT %.0f%%\n", y[2] - x[2], 100 * (y[1] - x[1]) / ((y[2] - x[2]) ? (y[2] - x[2]) : 1) }'
echo "(c) single-row inserts bringing no newer date (no write)"
report_stream older

# the design that indexes last_contact itself: what a PL/pgSQL trigger
# would need for the due lists to stay fast
bsql -c "CREATE INDEX clients_last_contact_idx ON bench.clients (last_contact)" >/dev/null
measure newer none plpgsql c
bsql -c "DROP INDEX bench.clients_last_contact_idx" >/dev/null
echo "    the same stream, last_contact itself indexed (every contact a non-HOT update):"
report_stream newer | sed 's/^/  /'

echo "(b) one INSERT ... SELECT of 1000000 offers (a newer date for every subject it touches)"
bulk="INSERT INTO bench.offers (client1_id, created) SELECT 1 + (random() * ($CLIENTS - 1))::bigint, date '2040-01-01' + g % 3650 FROM generate_series(1, 1000000) g"
b_none=""
b_c=""
for round in 1 2; do
	variant none
	bsql -c "CHECKPOINT" >/dev/null
	b_none+="$(ms -c "$bulk") "
	bsql -c "DELETE FROM bench.offers WHERE created >= '2040-01-01'" -c "VACUUM bench.offers" -c "CHECKPOINT" >/dev/null
	variant c
	b_c+="$(ms -c "$bulk") "
	variant none
	bsql -c "DELETE FROM bench.offers WHERE created >= '2040-01-01'" -c "VACUUM bench.offers" \
	     -c "SELECT rgpd.recompute('bench.clients')" -c "VACUUM bench.clients" -c "CHECKPOINT" >/dev/null
done
printf '  no trigger %s ms, C trigger %s ms (medians of 2): %sx\n' "$(median $b_none)" "$(median $b_c)" \
	"$(ratio "$(median $b_c)" "$(median $b_none)")"

# instructions per statement, under callgrind: the server in single-user
# mode reads one INSERT per line, each its own transaction (parsed,
# planned, executed, committed), as an application sends them.  Debian's
# server binary has no symbols for its static functions, so everything is
# counted, and a run without the stream (start-up, the ALTER TABLEs, shut
# down) is subtracted.
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
	echo "(a, c) instructions per single-row INSERT (callgrind, 4000 statements, each its own transaction)"
	as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null
	# instructions INPUT VARIANT: the whole single-user session on INPUT
	instructions() {
		callgrind_session "$1" "ALTER TABLE bench.offers DISABLE TRIGGER USER; DELETE FROM bench.offers WHERE created < '2016-01-01' OR created >= '2050-01-01'; ALTER TABLE bench.clients ENABLE TRIGGER rgpd_subject_guard; SELECT rgpd.recompute('bench.clients');"
	}
	declare -A ir
	for stream in newer older; do
		awk -v n=4000 -v c="$CLIENTS" -v s="$stream" 'BEGIN {
			x = 12345;
			for (i = 1; i <= n; i++) {
				x = (x * 1103515245 + 12345) % 2147483648;
				if (s == "newer") d = sprintf("date %c2050-01-01%c + %d", 39, 39, i);
				else d = sprintf("date %c2005-01-01%c + %d", 39, 39, i % 3000);
				printf "INSERT INTO bench.offers (client1_id, created) VALUES (%d, %s);\n", 1 + x % c, d;
			} }' >"$CLUSTER_DIR/$stream.stream"
		for v in none c plpgsql; do
			# the variant, and one statement that loads the libraries and
			# fills the caches in both runs
			{
				variant_sql "$v" | tr -d '\n\t'
				echo
				echo "INSERT INTO bench.offers (client1_id, created) VALUES (1, date '2005-01-01');"
			} >"$CLUSTER_DIR/base.in"
			cat "$CLUSTER_DIR/base.in" "$CLUSTER_DIR/$stream.stream" >"$CLUSTER_DIR/stream.in"
			with=$(instructions "$CLUSTER_DIR/stream.in")
			without=$(instructions "$CLUSTER_DIR/base.in")
			ir[$v.$stream]=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.0f", (a - b) / 4000 }')
		done
		printf '  %s: no trigger %.0f, C %.0f (%sx), PL/pgSQL %.0f (%sx); C adds %.2f of what PL/pgSQL adds\n' \
			"$([ $stream = newer ] && echo "newer date   " || echo "no newer date")" \
			"${ir[none.$stream]}" "${ir[c.$stream]}" "$(ratio "${ir[c.$stream]}" "${ir[none.$stream]}")" \
			"${ir[plpgsql.$stream]}" "$(ratio "${ir[plpgsql.$stream]}" "${ir[none.$stream]}")" \
			"$(awk -v c="${ir[c.$stream]}" -v p="${ir[plpgsql.$stream]}" -v n="${ir[none.$stream]}" 'BEGIN { printf "%.2f", (c - n) / (p - n) }')"
	done
	as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w start >/dev/null
fi
bsql -c "SELECT count(*) FROM rgpd.verify('bench.clients')" | sed 's/^/  rows rgpd.verify() reports after the runs: /'
# the next sections start from a database where only their tables are registered
bsql -c "DROP SCHEMA bench CASCADE" >/dev/null
