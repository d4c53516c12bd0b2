# bench/erasure.sh — the application while a manager erases (sourced by
# bench/run.sh).  The application (pgbench, 2 clients) runs a transaction
# of several statements on one random client of the bench schema: it
# inserts an offer carrying the client's name, updates the client, inserts
# a visit, and deletes the client's oldest offer (two link tables: offers
# and visits, added here to the bench schema).  Its throughput alone is compared
# with its throughput while one manager anonymises 5 random clients a
# second (rgpd.anonymise of 5 ids, once a second).  Deadlocks are counted
# on both sides (pgbench reports them as failures).  Rounds alternate, so
# that the drift of a shared machine falls on both sides.
echo
echo "== the application while a manager erases"
EN=$((CLIENTS < 100000 ? CLIENTS : 100000))
ESECONDS=$SECONDS_PER_RUN
t0=$(date +%s)
bsql -v clients="$EN" -f "$B/schema.sql" >/dev/null
# a second link: visits, 2 per client
bsql -c "CREATE TABLE bench.visits (id bigserial PRIMARY KEY, client_id bigint NOT NULL REFERENCES bench.clients,
                                    client_name text, at date NOT NULL)" \
     -c "INSERT INTO bench.visits (client_id, client_name, at)
         SELECT 1 + (random() * ($EN - 1))::bigint, 'name', date '2016-01-01' + (random() * 3650)::int
           FROM generate_series(1, 2 * $EN)" \
     -c "CREATE INDEX ON bench.visits (client_id)" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" \
     -c "SELECT rgpd.register_subject('bench.clients', created_column => 'created', time_zone => 'UTC',
                                      personal_columns => '{name,email,mobile}')" \
     -c "SELECT rgpd.register_link('bench.offers', 'bench.clients', '{client1_id,client2_id}', '{created,mandate_end}',
                                   '{\"client1_id\": [\"client1_name\"]}')" \
     -c "SELECT rgpd.register_link('bench.visits', 'bench.clients', '{client_id}', '{at}',
                                   '{\"client_id\": [\"client_name\"]}')" \
     -c "VACUUM ANALYZE bench.clients, bench.offers, bench.visits" >/dev/null
echo "generated and registered $EN subjects, $((4 * EN)) offers, $((2 * EN)) visits in $(( $(date +%s) - t0 )) s"

# each pgbench client keeps to its own subjects (odd or even ids): two
# transactions of the application on one subject can deadlock with each
# other, with or without erasure (see README, Concurrency)
cat >"$B/app.sql" <<SQL
\set id 2 * random(0, $EN / 2 - 1) + 1 + :client_id % 2
BEGIN;
INSERT INTO bench.offers (client1_id, client1_name, created) VALUES (:id, 'name', current_date);
UPDATE bench.clients SET kind = kind WHERE id = :id;
INSERT INTO bench.visits (client_id, client_name, at) VALUES (:id, 'name', current_date);
DELETE FROM bench.offers WHERE id = (SELECT min(id) FROM bench.offers WHERE client1_id = :id);
END;
SQL
cat >"$B/manager.sql" <<SQL
\set a random(1, $EN)
\set b random(1, $EN)
\set c random(1, $EN)
\set d random(1, $EN)
\set e random(1, $EN)
SELECT rgpd.anonymise('bench.clients', ARRAY[:a, :b, :c, :d, :e]::bigint[]);
SQL
cat >"$B/forget.sql" <<SQL
\set a random(1, $EN)
SELECT rgpd.forget('bench.clients', :a, 'bench');
SQL
[ "$(id -u)" -eq 0 ] && chown postgres: "$B"/app.sql "$B"/manager.sql "$B"/forget.sql

# pgbench ARGS...: its report; deadlocks are failures, counted per kind
pgb() { as_pg "$PGBIN/pgbench" -n --failures-detailed "$@" bench 2>&1; }
tps_of() { awk '/^tps/ { printf "%.0f", $3 }'; }
deadlocks_of() { awk '/number of deadlock failures:/ { print $5 + 0; f = 1 } END { if (!f) print 0 }'; }
anonymised() { bsql -c "SELECT count(*) FROM bench.clients WHERE rgpd_status = 'anonymised'"; }

# app [MANAGER-ARGS...]: the application alone, or while pgbench runs the
# manager with these arguments; sets tps, its deadlocks (dl) and the
# manager's (mdl), and the subjects anonymised meanwhile (erased)
app() {
	local out mgr before
	before=$(anonymised)
	mdl=0
	[ $# -gt 0 ] && { pgb -c 1 -T "$ESECONDS" "$@" >"$B/manager.out" & mgr=$!; }
	out=$(pgb -c 2 -j 2 -T "$ESECONDS" -f "$B/app.sql")
	if [ $# -gt 0 ]; then
		wait "$mgr"
		mdl=$(deadlocks_of <"$B/manager.out")
	fi
	dl=$(echo "$out" | deadlocks_of)
	erased=$(( $(anonymised) - before))
	tps=$(echo "$out" | tps_of)
}

alone=""; with=""; dl_alone=0; dl_with=0; mdl_with=0; n_with=0
for round in 1 2; do
	app
	alone+="$tps "; dl_alone=$((dl_alone + dl))
	app -R 1 -f "$B/manager.sql"
	with+="$tps "; dl_with=$((dl_with + dl)); mdl_with=$((mdl_with + mdl)); n_with=$((n_with + erased))
done
mean() { printf '%s\n' "$@" | awk '{ t += $1 } END { printf "%.0f", t / NR }'; }
echo "application: pgbench -c 2 -j 2 -T $ESECONDS -f app.sql (insert an offer, update the client, insert a visit, delete its oldest offer)"
echo "manager:     pgbench -c 1 -R 1 -T $ESECONDS -f manager.sql (rgpd.anonymise of 5 random ids, once a second)"
printf '  application alone %s tps, with the manager %s tps (rounds: %s/ %s): %sx\n' \
	"$(mean $alone)" "$(mean $with)" "$alone" "$with" "$(ratio "$(mean $with)" "$(mean $alone)")"
printf '  %s subjects anonymised meanwhile; deadlocks: %s in the application, %s in the manager (%s in the application alone)\n' \
	"$n_with" "$dl_with" "$mdl_with" "$dl_alone"
app -f "$B/forget.sql"
echo "manager without pause: pgbench -c 1 -T $ESECONDS -f forget.sql (rgpd.forget of a random id, back to back)"
printf '  application %s tps: %sx alone; %s subjects forgotten; deadlocks: %s in the application, %s in the manager\n' \
	"$tps" "$(ratio "$tps" "$(mean $alone)")" "$erased" "$dl" "$mdl"
leftover=$(bsql -c "SELECT (SELECT count(*) FROM bench.offers o JOIN bench.clients c ON c.id = o.client1_id
                              WHERE c.rgpd_status = 'anonymised' AND o.client1_name IS DISTINCT FROM 'XXXXX')
                          + (SELECT count(*) FROM bench.visits v JOIN bench.clients c ON c.id = v.client_id
                              WHERE c.rgpd_status = 'anonymised' AND v.client_name IS DISTINCT FROM 'XXXXX')")
echo "  offers and visits of anonymised clients still carrying a name: $leftover"
bsql -c "DROP SCHEMA bench CASCADE" >/dev/null
