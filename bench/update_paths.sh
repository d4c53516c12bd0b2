# bench/update_paths.sh — the three ways the contact engine can write a
# newer last_contact on one subject row (sourced by bench/run.sh):
#   1  the hand-written heap update (src/direct_write.c, rgpd_write_contact);
#   2  the saved-plan UPDATE (RGPD_STMT_RAISE_ONE), run as the owner
#      through the gate;
#   3  PostgreSQL's ExecSimpleRelationUpdate() (execReplication.c).
# The extension is built and installed once per path
# (make PROFILE=-DRGPD_UPDATE_PATH=N), and each build counts, under
# callgrind, the instructions of 4000 single-row INSERTs into offers, each
# bringing a newer date and each its own transaction, as in bench/contact.sh
# (a).  The baselines (no trigger, the PL/pgSQL reference trigger) are
# counted in the same run.  Targets of issue 11: at most 1.5x no trigger,
# and at most half of what the PL/pgSQL trigger adds.  The default build
# (path 1) is installed again at the end.
echo
echo "== update paths of the contact engine (callgrind, 4000 single-row INSERTs, each its own transaction)"
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
	echo "  skipped: valgrind is not installed"
	return 0
fi
bsql -v clients="$CLIENTS" -f "$B/schema.sql" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" >/dev/null
bsql -c "SELECT rgpd.register_subject('bench.clients', created_column => 'created', time_zone => 'UTC')" \
     -c "SELECT rgpd.register_link('bench.offers', 'bench.clients', '{client1_id,client2_id}', '{created,mandate_end}')" >/dev/null
bsql -f "$B/plpgsql_trigger.sql" >/dev/null
bsql -c "VACUUM ANALYZE bench.clients" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null

# which trigger records contacts (as in bench/contact.sh)
up_variant_sql() {
	case $1 in
	none) echo "ALTER TABLE bench.offers DISABLE TRIGGER USER;" ;;
	c) echo "ALTER TABLE bench.offers DISABLE TRIGGER USER; ALTER TABLE bench.offers ENABLE TRIGGER rgpd_link_insert; ALTER TABLE bench.clients ENABLE TRIGGER rgpd_subject_guard;" ;;
	plpgsql) echo "ALTER TABLE bench.offers DISABLE TRIGGER USER; ALTER TABLE bench.offers ENABLE TRIGGER plpgsql_contact; ALTER TABLE bench.clients DISABLE TRIGGER rgpd_subject_guard;" ;;
	esac
}
# up_instructions INPUT: instructions of a single-user session reading INPUT,
# then the database put back as it was, outside valgrind
up_instructions() {
	callgrind_session "$1" "ALTER TABLE bench.offers DISABLE TRIGGER USER; DELETE FROM bench.offers WHERE created >= '2050-01-01' OR created < '2005-01-02'; ALTER TABLE bench.clients ENABLE TRIGGER rgpd_subject_guard; SELECT rgpd.recompute('bench.clients');"
}
# up_per_insert VARIANT: instructions per INSERT of the stream
up_per_insert() {
	local with without
	{
		up_variant_sql "$1"
		echo "INSERT INTO bench.offers (client1_id, created) VALUES (1, date '2005-01-01');"
	} >"$CLUSTER_DIR/up_base.in"
	cat "$CLUSTER_DIR/up_base.in" "$CLUSTER_DIR/up.stream" >"$CLUSTER_DIR/up_stream.in"
	with=$(up_instructions "$CLUSTER_DIR/up_stream.in")
	without=$(up_instructions "$CLUSTER_DIR/up_base.in")
	awk -v a="$with" -v b="$without" 'BEGIN { printf "%.0f", (a - b) / 4000 }'
}
awk -v n=4000 -v c="$CLIENTS" 'BEGIN {
	x = 12345;
	for (i = 1; i <= n; i++) {
		x = (x * 1103515245 + 12345) % 2147483648;
		printf "INSERT INTO bench.offers (client1_id, created) VALUES (%d, date %c2050-01-01%c + %d);\n", 1 + x % c, 39, 39, i;
	} }' >"$CLUSTER_DIR/up.stream"

up_none=$(up_per_insert none)
up_pl=$(up_per_insert plpgsql)
printf '  no trigger %.0f instructions per INSERT, PL/pgSQL trigger %.0f (%sx)\n' "$up_none" "$up_pl" "$(ratio "$up_pl" "$up_none")"
for path in 1 2 3; do
	case $path in
	1) name="direct heap update (table_tuple_update)" ;;
	2) name="saved-plan UPDATE through the gate     " ;;
	3) name="ExecSimpleRelationUpdate                " ;;
	esac
	touch "$top/src/direct_write.c" "$top/src/contact_engine.c"
	make -C "$top" --no-print-directory -s all install PROFILE=-DRGPD_UPDATE_PATH=$path >/dev/null
	c=$(up_per_insert c)
	printf '  path %s, %s: %.0f (%sx no trigger); adds %s of what PL/pgSQL adds\n' "$path" "$name" "$c" \
		"$(ratio "$c" "$up_none")" \
		"$(awk -v c="$c" -v p="$up_pl" -v n="$up_none" 'BEGIN { printf "%.2f", (c - n) / (p - n) }')"
done
touch "$top/src/direct_write.c" "$top/src/contact_engine.c"
make -C "$top" --no-print-directory -s all install >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w start >/dev/null
bsql -c "SELECT count(*) FROM rgpd.verify('bench.clients')" | sed 's/^/  rows rgpd.verify() reports after the runs: /'
bsql -c "DROP SCHEMA bench CASCADE" >/dev/null
