# bench/batches.sh — long work in committed batches (sourced by
# bench/run.sh).
#  (a) registration of $CLIENTS subjects and 4x as many offers: 1.0's way
#      (register_subject, then register_link, each computing last_contact
#      under the ACCESS EXCLUSIVE lock) and the deferred way (one short
#      transaction with rgpd.defer_backfill(), then CALL
#      rgpd.recompute_batches()), each against a bare UPDATE setting one
#      column of every subject row; table growth and writes per row;
#  (b) CALL rgpd.sweep_batches() (batches of 10 000, one COMMIT each) vs
#      one rgpd.sweep() on the same data, 10% due.
echo
echo "== long work in committed batches"
T=2026-06-15
LATER=2026-09-15

# mark REL: remember the size and the updates counted of a table;
# stats ROWS REL: "growth writes-per-row" since
mark() {
	bsql -c "SELECT pg_stat_force_next_flush()" >/dev/null
	read -r before upd_before <<<"$(bsql -F ' ' -c "SELECT pg_relation_size('$1'), n_tup_upd FROM pg_stat_user_tables WHERE relid = '$1'::regclass")"
}
stats() {
	bsql -c "SELECT pg_stat_force_next_flush()" >/dev/null
	bsql -c "SELECT round(pg_relation_size('$2')::numeric / $before, 2) || ' ' || round((n_tup_upd - $upd_before)::numeric / $1, 2)
	           FROM pg_stat_user_tables WHERE relid = '$2'::regclass"
}

# (a) registration
bsql -v clients="$CLIENTS" -v schema=rega -f "$B/batches.sql" >/dev/null
bsql -v clients="$CLIENTS" -v schema=regb -f "$B/batches.sql" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" >/dev/null
bare=$(pg_sql -d bench -At -c "BEGIN" -c "ALTER TABLE rega.clients ADD COLUMN x date" -c '\timing on' \
	-c "UPDATE rega.clients SET x = created" -c '\timing off' -c "ROLLBACK" | awk '/^Time: / { print $2 }')
bsql -c "VACUUM rega.clients" >/dev/null
mark rega.clients
eager_subject=$(ms -c "SELECT rgpd.register_subject('rega.clients', created_column => 'created', time_zone => 'UTC')")
eager_link=$(ms -c "SELECT rgpd.register_link('rega.offers', 'rega.clients', '{client_id}', '{created}')")
read -r eager_growth eager_writes <<<"$(stats "$CLIENTS" rega.clients)"
mark regb.clients
lazy_lock=$(ms -c "BEGIN" -c "SELECT rgpd.defer_backfill()" \
	-c "SELECT rgpd.register_subject('regb.clients', created_column => 'created', time_zone => 'UTC')" \
	-c "SELECT rgpd.register_link('regb.offers', 'regb.clients', '{client_id}', '{created}')" -c "COMMIT")
lazy_fill=$(ms -c "SET client_min_messages = warning" -c "CALL rgpd.recompute_batches('regb.clients', 10000)")
read -r lazy_growth lazy_writes <<<"$(stats "$CLIENTS" regb.clients)"
differ=$(bsql -c "SELECT count(*) FROM rega.clients a JOIN regb.clients b USING (id) WHERE a.last_contact IS DISTINCT FROM b.last_contact")
eager=$(awk -v a="$eager_subject" -v b="$eager_link" 'BEGIN { printf "%.1f", a + b }')
lazy=$(awk -v a="$lazy_lock" -v b="$lazy_fill" 'BEGIN { printf "%.1f", a + b }')
echo "(a) registration of $CLIENTS subjects and $((4 * CLIENTS)) offers; baseline: a bare UPDATE of one column of every subject row, $bare ms"
printf '  1.0 way (register_subject %s ms + register_link %s ms, all under ACCESS EXCLUSIVE): %s ms: %sx; table %sx its size, %s writes per row\n' \
	"$eager_subject" "$eager_link" "$eager" "$(ratio "$eager" "$bare")" "$eager_growth" "$eager_writes"
printf '  deferred (registrations %s ms under ACCESS EXCLUSIVE, then CALL rgpd.recompute_batches %s ms online): %s ms: %sx; table %sx its size, %s writes per row\n' \
	"$lazy_lock" "$lazy_fill" "$lazy" "$(ratio "$lazy" "$bare")" "$lazy_growth" "$lazy_writes"
printf '  ACCESS EXCLUSIVE held %sx shorter; last_contact differs on %s rows between the two\n' \
	"$(ratio "$eager" "$lazy_lock")" "$differ"
bsql -c "DROP SCHEMA rega CASCADE" -c "DROP SCHEMA regb CASCADE" >/dev/null

# (b) the sweep, 10% due: one rgpd.sweep() (rolled back), then the batches
bsql -v clients="$CLIENTS" -v per=4 -v now=100 -v later=10 -v t="$T" -v schema=swb -f "$B/lifecycle.sql" >/dev/null
bsql -c "BEGIN" -c "SELECT rgpd.defer_backfill()" \
     -c "SELECT rgpd.register_subject('swb.clients', created_column => 'created', time_zone => 'UTC')" \
     -c "SELECT rgpd.register_link('swb.offers', 'swb.clients', '{client_id}', '{created}', excludes_when => \$\$transaction = 'rental'\$\$)" \
     -c "COMMIT" -c "CALL rgpd.recompute_batches('swb.clients', 50000)" -c "VACUUM ANALYZE swb.clients" >/dev/null
ndue=$(bsql -c "SELECT count(*) FROM rgpd.pending('archive', '$LATER') WHERE subject = 'swb.clients'::regclass")
one=""
for round in 1 2 3; do
	one+="$(pg_sql -d bench -At -c "BEGIN" -c '\timing on' -c "SELECT count(*) FROM rgpd.sweep('$LATER', for_subject => 'swb.clients')" -c '\timing off' -c "ROLLBACK" |
		awk '/^Time: / { print $2 }') "
	bsql -c "VACUUM swb.clients" >/dev/null
done
batched=$(ms -c "SET client_min_messages = warning" -c "CALL rgpd.sweep_batches('$LATER', 10000, for_subject => 'swb.clients')")
done_batched=$(bsql -c "SELECT (detail->>'archived') || ' archived in ' || (detail->>'batches') || ' batches' FROM rgpd.journal WHERE action = 'sweep' ORDER BY id DESC LIMIT 1")
echo "(b) the sweep of $ndue due subjects ($(awk -v a="$ndue" -v b="$CLIENTS" 'BEGIN { printf "%.0f", 100 * a / b }')%), same data:"
printf '  rgpd.sweep(), one transaction (median of 3): %s ms; CALL rgpd.sweep_batches(batch_size => 10000): %s ms (%s)\n' \
	"$(median $one)" "$batched" "$done_batched"
printf '  throughput of the batched sweep vs one transaction: %sx\n' "$(ratio "$(median $one)" "$batched")"
bsql -c "DROP SCHEMA swb CASCADE" >/dev/null
