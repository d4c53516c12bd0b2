# bench/lifecycle.sh — lists, sweep and restricted archive (sourced by
# bench/run.sh).
#  (a) rgpd.sweep over the subjects with 10% due vs a bare UPDATE of
#      rgpd_status on exactly those rows;
#  (b) rgpd.dashboard() and rgpd.pending('archive') with 1% due vs the query
#      a CRM without the extension runs (greatest date over joins);
#  (c) SELECT of all active clients by an ordinary role, with the
#      restrictive policy vs the same table without row-level security;
#  (d) the sweep at 1 and at 4 times the subjects, with the same number due.
echo
echo "== lists, sweep and restricted archive"
T=2026-06-15
LATER=2026-09-15
t0=$(date +%s)
bsql -v clients="$CLIENTS" -v per=4 -v now=100 -v later=10 -v t="$T" -v schema=life -f "$B/lifecycle.sql" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" \
     -c "SELECT rgpd.register_subject('life.clients', created_column => 'created', time_zone => 'UTC')" \
     -c "SELECT rgpd.register_link('life.offers', 'life.clients', '{client_id}', '{created}', excludes_when => \$\$transaction = 'rental'\$\$)" \
     -c "VACUUM ANALYZE life.clients" >/dev/null
echo "generated and registered $CLIENTS subjects, $((4 * CLIENTS)) offers in $(( $(date +%s) - t0 )) s"

# (b) the lists, 1% due
naive_pending="SELECT c.id, GREATEST(c.created, m.d) AS last_contact
  FROM life.clients c
  LEFT JOIN (SELECT client_id, max(created) AS d FROM life.offers GROUP BY client_id) m ON m.client_id = c.id
 WHERE (GREATEST(c.created, m.d) + interval '3 years')::date <= (date_trunc('month', date '$T') + interval '1 month - 1 day')::date
   AND NOT EXISTS (SELECT 1 FROM life.offers o WHERE o.client_id = c.id AND o.transaction = 'rental')"
naive_dashboard="SELECT count(*) FILTER (WHERE NOT x.excluded AND x.lc + interval '3 years' <= x.eom) AS to_archive,
       count(*) FILTER (WHERE NOT x.excluded AND x.lc + interval '5 years' <= x.eom) AS to_anonymise,
       count(*) FILTER (WHERE x.excluded AND x.lc + interval '3 years' <= x.eom) AS excluded
  FROM (SELECT GREATEST(c.created, m.d) AS lc,
               (date_trunc('month', date '$T') + interval '1 month - 1 day')::date AS eom,
               EXISTS (SELECT 1 FROM life.offers o WHERE o.client_id = c.id AND o.transaction = 'rental') AS excluded
          FROM life.clients c
          LEFT JOIN (SELECT client_id, max(created) AS d FROM life.offers GROUP BY client_id) m ON m.client_id = c.id) x"
np=""; op=""; nd=""; od=""; opc=""; odc=""
for round in 1 2 3; do
	read -r c w <<<"$(twice "SELECT count(*) FROM ($naive_pending) q")"; np+="$w "
	read -r c w <<<"$(twice "SELECT count(*) FROM rgpd.pending('archive', '$T') WHERE subject = 'life.clients'::regclass")"
	op+="$w "; opc+="$c "
	read -r c w <<<"$(twice "$naive_dashboard")"; nd+="$w "
	read -r c w <<<"$(twice "SELECT * FROM rgpd.dashboard('$T')")"; od+="$w "; odc+="$c "
done
due=$(bsql -c "SELECT count(*) FROM rgpd.pending('archive', '$T') WHERE subject = 'life.clients'::regclass")
echo "(b) with $due subjects due this month ($(awk -v a="$due" -v b="$CLIENTS" 'BEGIN { printf "%.1f", 100 * a / b }')%), each run twice in a session, medians of 3:"
printf '  pending archive list: naive query %s ms, rgpd.pending %s ms: %sx faster\n' \
	"$(median $np)" "$(median $op)" "$(ratio "$(median $np)" "$(median $op)")"
printf '  dashboard:            naive query %s ms, rgpd.dashboard %s ms: %sx faster\n' \
	"$(median $nd)" "$(median $od)" "$(ratio "$(median $nd)" "$(median $od)")"
printf '  (first call in a new session, loading the extension and planning: rgpd.pending %s ms, rgpd.dashboard %s ms)\n' \
	"$(median $opc)" "$(median $odc)"
ours_pending="SELECT id, last_contact FROM rgpd.pending('archive', '$T') WHERE subject = 'life.clients'::regclass"
bsql -c "SELECT (SELECT count(*) FROM (($naive_pending) EXCEPT ALL ($ours_pending)) x)
              + (SELECT count(*) FROM (($ours_pending) EXCEPT ALL ($naive_pending)) y)" |
	sed 's/^/  rows the two lists disagree on: /'

# (a) the sweep, 10% due, vs the bare UPDATE of those rows (each rolled back)
bsql -c "CREATE TABLE life.due AS SELECT id FROM rgpd.pending('archive', '$LATER') WHERE subject = 'life.clients'::regclass" \
     -c "ANALYZE life.due" >/dev/null
ndue=$(bsql -c "SELECT count(*) FROM life.due")
sw=""; bare=""
for round in 1 2 3; do
	sw+="$(pg_sql -d bench -At -c "BEGIN" -c '\timing on' -c "SELECT count(*) FROM rgpd.sweep('$LATER', for_subject => 'life.clients')" -c '\timing off' -c "ROLLBACK" |
		awk '/^Time: / { print $2 }') "
	bare+="$(pg_sql -d bench -At -c "BEGIN" -c "ALTER TABLE life.clients DISABLE TRIGGER rgpd_subject_guard" -c '\timing on' \
		-c "UPDATE life.clients SET rgpd_status = 'archived' WHERE id IN (SELECT id FROM life.due)" -c '\timing off' -c "ROLLBACK" |
		awk '/^Time: / { print $2 }') "
done
echo "(a) rgpd.sweep archiving $ndue subjects ($(awk -v a="$ndue" -v b="$CLIENTS" 'BEGIN { printf "%.0f", 100 * a / b }')%) vs a bare UPDATE of exactly those rows, medians of 3:"
printf '  bare UPDATE %s ms, rgpd.sweep %s ms (candidates, re-check, journal, floors): %sx\n' \
	"$(median $bare)" "$(median $sw)" "$(ratio "$(median $sw)" "$(median $bare)")"

# (d) the same number due in a table four times larger (one in 40, not
# one in 10), each sweep rolled back
BIG=$((4 * CLIENTS))
bsql -v clients="$BIG" -v per=1 -v now=400 -v later=40 -v t="$T" -v schema=life4 -f "$B/lifecycle.sql" >/dev/null
bsql -c "SELECT rgpd.register_subject('life4.clients', created_column => 'created', time_zone => 'UTC')" \
     -c "SELECT rgpd.register_link('life4.offers', 'life4.clients', '{client_id}', '{created}', excludes_when => \$\$transaction = 'rental'\$\$)" \
     -c "VACUUM ANALYZE life4.clients" >/dev/null
nbig=$(bsql -c "SELECT count(*) FROM rgpd.pending('archive', '$LATER') WHERE subject = 'life4.clients'::regclass")
big=""
for round in 1 2 3; do
	big+="$(pg_sql -d bench -At -c "BEGIN" -c '\timing on' -c "SELECT count(*) FROM rgpd.sweep('$LATER', for_subject => 'life4.clients')" -c '\timing off' -c "ROLLBACK" |
		awk '/^Time: / { print $2 }') "
done
scan_small=$(ms -c "SELECT count(*) FROM life.clients WHERE last_contact < date '2023-09-30'")
scan_big=$(ms -c "SELECT count(*) FROM life4.clients WHERE last_contact < date '2023-09-30'")
echo "(d) the sweep with about the same number due, in tables of $CLIENTS and $BIG subjects, medians of 3:"
printf '  %s subjects, %s due: %s ms; %s subjects, %s due: %s ms: %sx for a table 4x larger\n' \
	"$CLIENTS" "$ndue" "$(median $sw)" "$BIG" "$nbig" "$(median $big)" "$(ratio "$(median $big)" "$(median $sw)")"
printf '  (reference: one sequential scan of each table takes %s ms and %s ms, %sx)\n' \
	"$scan_small" "$scan_big" "$(ratio "$scan_big" "$scan_small")"

# (c) all active clients as an ordinary role, with and without the policy
bsql -c "SELECT count(*) FROM rgpd.sweep('$LATER', for_subject => 'life.clients')" >/dev/null
bsql -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_agent') THEN CREATE ROLE bench_agent LOGIN; END IF; END \$\$" \
     -c "GRANT USAGE ON SCHEMA life TO bench_agent" -c "GRANT SELECT ON life.clients TO bench_agent" \
     -c "VACUUM ANALYZE life.clients" >/dev/null
read_all() {
	local t0 t1
	t0=$(date +%s%N)
	as_pg "$PGBIN/psql" -X -q -U bench_agent -d bench \
		-c "COPY (SELECT * FROM life.clients WHERE rgpd_status = 'active') TO STDOUT" >/dev/null
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}
count_all() {
	as_pg "$PGBIN/psql" -X -q -At -U bench_agent -d bench -c '\timing on' \
		-c "SELECT count(*) FROM life.clients WHERE rgpd_status = 'active'" | awk '/^Time: / { print $2 }'
}
with=""; without=""; cwith=""; cwithout=""
for round in 1 2 3 4 5; do
	bsql -c "ALTER TABLE life.clients ENABLE ROW LEVEL SECURITY" >/dev/null
	with+="$(read_all) "; cwith+="$(count_all) "
	bsql -c "ALTER TABLE life.clients DISABLE ROW LEVEL SECURITY" >/dev/null
	without+="$(read_all) "; cwithout+="$(count_all) "
done
bsql -c "ALTER TABLE life.clients ENABLE ROW LEVEL SECURITY" >/dev/null
echo "(c) all active clients ($(bsql -c "SELECT count(*) FROM life.clients WHERE rgpd_status = 'active'") of $CLIENTS; 10% archived) read by an ordinary role, medians of 5:"
printf '  rows sent to the client (COPY): without row-level security %s ms, with the policy %s ms: %sx\n' \
	"$(median $without)" "$(median $with)" "$(ratio "$(median $with)" "$(median $without)")"
printf '  count(*) only, no rows sent:   without row-level security %s ms, with the policy %s ms: %sx\n' \
	"$(median $cwithout)" "$(median $cwith)" "$(ratio "$(median $cwith)" "$(median $cwithout)")"
# the next sections start from a database where only their tables are registered
bsql -c "DROP SCHEMA life CASCADE" -c "DROP SCHEMA life4 CASCADE" >/dev/null
