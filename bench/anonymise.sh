# bench/anonymise.sh — anonymisation and export (sourced by bench/run.sh).
#  (a) rgpd.anonymise of 100 000 subjects (about 4 linked rows each) in
#      one call vs the bare UPDATE statements that set the same columns to
#      the same values on the same rows (triggers off); both write exactly
#      the same rows, which is checked;
#  (b) rgpd.export of one subject with 50 linked rows: latency
#      percentiles over separate transactions (pgbench), next to a
#      hand-written jsonb query of the same rows.  Twenty such subjects
#      take turns, so that the journal of each (which the export includes,
#      and to which each export adds a line) stays that of a real person.
echo
echo "== anonymisation and export"
N=$((CLIENTS < 100000 ? CLIENTS : 100000))
t0=$(date +%s)
bsql -v clients=$((2 * N)) -f "$B/anonymise.sql" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" \
     -c "SELECT rgpd.register_subject('anon.clients', created_column => 'created', time_zone => 'UTC',
                                      personal_columns => '{name,first_name,email,phone,notes}')" \
     -c "SELECT rgpd.register_link('anon.offers', 'anon.clients', '{client1_id,client2_id}', '{created}',
                                   '{\"client1_id\": [\"client1_name\", \"client1_phone\"], \"client2_id\": [\"client2_name\"]}')" \
     -c "CREATE TABLE anon.victims AS SELECT id FROM anon.clients WHERE id > 0 AND id % 2 = 0 ORDER BY id LIMIT $N" \
     -c "ALTER TABLE anon.victims ADD PRIMARY KEY (id)" \
     -c "VACUUM ANALYZE anon.clients, anon.offers, anon.victims" >/dev/null
linked=$(bsql -c "SELECT count(*) FROM anon.offers o WHERE o.client1_id IN (SELECT id FROM anon.victims)
                                                    OR o.client2_id IN (SELECT id FROM anon.victims)")
echo "generated and registered $((2 * N)) subjects, $((8 * N)) offers in $(( $(date +%s) - t0 )) s"

# what the erasure writes, as a fingerprint of the touched columns
fingerprint="SELECT md5(string_agg(concat_ws('|', id, name, first_name, email, phone, notes, rgpd_status), ',' ORDER BY id))
               FROM anon.clients
             UNION ALL
             SELECT md5(string_agg(concat_ws('|', id, client1_name, client1_phone, client2_name), ',' ORDER BY id))
               FROM anon.offers"
# the bare SQL: one UPDATE per table, each row written once (the stricter
# baseline: two UPDATEs of offers, one per subject column, are slower)
bare_updates="UPDATE anon.clients SET name = 'XXXXX', first_name = 'XXXXX', email = 'XXXXX_' || id,
                                    phone = 'XXXXX', notes = 'XXXXX', rgpd_status = 'anonymised'
               WHERE id IN (SELECT id FROM anon.victims);
              UPDATE anon.offers
                 SET client1_name = CASE WHEN client1_id IN (SELECT id FROM anon.victims) THEN 'XXXXX' ELSE client1_name END,
                     client1_phone = CASE WHEN client1_id IN (SELECT id FROM anon.victims) THEN 'XXXXX' ELSE client1_phone END,
                     client2_name = CASE WHEN client2_id IN (SELECT id FROM anon.victims) THEN 'XXXXX' ELSE client2_name END
               WHERE client1_id IN (SELECT id FROM anon.victims) OR client2_id IN (SELECT id FROM anon.victims);"
an=""; bare=""
for round in 1 2 3; do
	out=$(pg_sql -d bench -At -c "BEGIN" -c '\timing on' \
		-c "SELECT rgpd.anonymise('anon.clients', ARRAY(SELECT id FROM anon.victims))" \
		-c '\timing off' -c "$fingerprint" -c "ROLLBACK")
	an+="$(echo "$out" | awk '/^Time: / { print $2 }') "
	fp_an=$(echo "$out" | grep -E '^[0-9a-f]{32}$' | tr '\n' ' ')
	out=$(pg_sql -d bench -At -c "BEGIN" \
		-c "ALTER TABLE anon.clients DISABLE TRIGGER USER" -c "ALTER TABLE anon.offers DISABLE TRIGGER USER" \
		-c '\timing on' -c "$bare_updates" -c '\timing off' -c "$fingerprint" -c "ROLLBACK")
	bare+="$(echo "$out" | awk '/^Time: / { t += $2 } END { print t }') "
	fp_bare=$(echo "$out" | grep -E '^[0-9a-f]{32}$' | tr '\n' ' ')
done
echo "(a) rgpd.anonymise of $N subjects with $linked linked rows, in one call, vs the bare UPDATEs, medians of 3:"
printf '  bare UPDATEs %s ms, rgpd.anonymise %s ms (locks, checks, journal, counts): %sx\n' \
	"$(median $bare)" "$(median $an)" "$(ratio "$(median $an)" "$(median $bare)")"
if [ "$fp_an" = "$fp_bare" ]; then
	echo "  both wrote the same values to the same rows (fingerprints match)"
else
	echo "  WARNING: the two wrote different rows: $fp_an vs $fp_bare"
fi

# (b) export latency, one transaction per export, 2000 of each
printf '%s\n' '\set id random(1, 20)' "SELECT rgpd.export('anon.clients', -:id);" >"$B/export.sql"
printf '%s\n' '\set id random(1, 20)' "SELECT jsonb_build_object('subject', to_jsonb(c), 'offers',
         (SELECT jsonb_agg(to_jsonb(o)) FROM anon.offers o WHERE o.client1_id = c.id OR o.client2_id = c.id))
  FROM anon.clients c WHERE c.id = -:id;" >"$B/export_bare.sql"
latencies() {
	rm -f "$B"/lat.*
	as_pg "$PGBIN/pgbench" -n -c 1 -t 2000 -f "$B/$1.sql" -l --log-prefix="$B/lat" bench >/dev/null 2>&1
	# per-transaction log: the third field is the latency in microseconds
	cat "$B"/lat.* | awk '{ print $3 / 1000 }' | sort -g |
		awk '{ a[NR] = $1 } END { printf "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		                                 a[int(NR * 0.50)], a[int(NR * 0.90)], a[int(NR * 0.99)], a[NR] }'
}
rows=$(bsql -c "SELECT jsonb_array_length(rgpd.export('anon.clients', -1) -> 'linked' -> 'anon.offers' -> 'client1_id')" 2>/dev/null || echo '?')
echo "(b) rgpd.export of one subject with $rows linked rows (2000 exports of 20 such subjects, each its own transaction):"
printf '  hand-written jsonb query of the same rows: %s\n' "$(latencies export_bare)"
printf '  rgpd.export (also stores the export and journals it): %s\n' "$(latencies export)"
# the next sections start from a database where only their tables are registered
bsql -c "DROP SCHEMA anon CASCADE" >/dev/null
