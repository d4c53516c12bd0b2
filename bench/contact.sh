# bench/contact.sh — the contact engine (sourced by bench/run.sh).
#  (a) single-row INSERTs into offers, each bringing a newer date: C
#      trigger vs no trigger vs the PL/pgSQL reference trigger;
#  (b) one INSERT ... SELECT of 1 000 000 offers: trigger vs no trigger;
#  (c) the stream of (a) with dates that are not newer (no-write path).
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

variant() {
	case $1 in
	none) bsql -c "ALTER TABLE bench.offers DISABLE TRIGGER USER" >/dev/null ;;
	c) bsql -c "ALTER TABLE bench.offers DISABLE TRIGGER USER" \
		-c "ALTER TABLE bench.offers ENABLE TRIGGER rgpd_link_insert" \
		-c "ALTER TABLE bench.clients ENABLE TRIGGER rgpd_subject_guard" >/dev/null ;;
	plpgsql)
		# the guard would keep last_contact as it was: the reference
		# trigger writes it as an ordinary user would
		bsql -c "ALTER TABLE bench.offers DISABLE TRIGGER USER" \
			-c "ALTER TABLE bench.offers ENABLE TRIGGER plpgsql_contact" \
			-c "ALTER TABLE bench.clients DISABLE TRIGGER rgpd_subject_guard" >/dev/null ;;
	esac
}

# tps of a pgbench run, one client
run() {
	as_pg "$PGBIN/pgbench" -n -c 1 -T "$SECONDS_PER_RUN" -f "$B/$1.sql" bench 2>/dev/null |
		awk '/^tps/ { print $3 }'
}

hot_before=$(bsql -c "SELECT n_tup_hot_upd || ' ' || n_tup_upd FROM pg_stat_user_tables WHERE relid = 'bench.clients'::regclass")
declare -A tps
for stream in newer older; do
	for v in none c plpgsql; do tps[$stream.$v]=""; done
	for round in 1 2 3; do
		for v in none c plpgsql; do
			variant $v
			tps[$stream.$v]+="$(run $stream) "
		done
	done
done
variant c
hot_after=$(bsql -c "SELECT n_tup_hot_upd || ' ' || n_tup_upd FROM pg_stat_user_tables WHERE relid = 'bench.clients'::regclass")

report_stream() {
	local stream=$1 none c pl
	none=$(median ${tps[$stream.none]})
	c=$(median ${tps[$stream.c]})
	pl=$(median ${tps[$stream.plpgsql]})
	printf '  %-6s inserts/s (median of 3 x %ss): none %s, C %s, PL/pgSQL %s\n' "$stream" "$SECONDS_PER_RUN" "$none" "$c" "$pl"
	printf '         time per insert vs no trigger: C %sx, PL/pgSQL %sx\n' "$(ratio "$none" "$c")" "$(ratio "$none" "$pl")"
	awk -v n="$none" -v c="$c" -v p="$pl" 'BEGIN {
		added_c = 1 / c - 1 / n; added_p = 1 / p - 1 / n;
		printf "         added cost of C / added cost of PL/pgSQL: %.2f\n", (added_p > 0) ? added_c / added_p : 0 }'
}
echo "(a) single-row inserts, each bringing a newer date"
report_stream newer
echo "(c) single-row inserts bringing no newer date (no write)"
report_stream older
awk -v b="$hot_before" -v a="$hot_after" 'BEGIN { split(b, x, " "); split(a, y, " ");
	printf "    subject updates during (a)-(c): %d, of which HOT %.0f%%\n", y[2] - x[2], 100 * (y[1] - x[1]) / ((y[2] - x[2]) ? (y[2] - x[2]) : 1) }'

# the design that indexes last_contact itself, for comparison
bsql -c "CREATE INDEX clients_last_contact_idx ON bench.clients (last_contact)" >/dev/null
indexed=""
for round in 1 2 3; do variant c; indexed+="$(run newer) "; done
bsql -c "DROP INDEX bench.clients_last_contact_idx" >/dev/null
printf '    same stream with an index on last_contact itself (the design not chosen): C %s inserts/s, %sx no trigger\n' \
	"$(median $indexed)" "$(ratio "$(median ${tps[newer.none]})" "$(median $indexed)")"

echo "(b) one INSERT ... SELECT of 1000000 offers (dates newer for every subject they touch)"
bulk="INSERT INTO bench.offers (client1_id, created) SELECT 1 + (random() * ($CLIENTS - 1))::bigint, date '2040-01-01' + g % 3650 FROM generate_series(1, 1000000) g"
variant none
bsql -c "CHECKPOINT" >/dev/null
t_none=$(ms -c "$bulk")
bsql -c "DELETE FROM bench.offers WHERE created >= '2040-01-01'" -c "VACUUM bench.offers" -c "CHECKPOINT" >/dev/null
variant c
t_c=$(ms -c "$bulk")
printf '  no trigger %s ms, C trigger %s ms: %sx\n' "$t_none" "$t_c" "$(ratio "$t_c" "$t_none")"
