# bench/retention.sh — per-link retention (sourced by bench/run.sh).
# The purge of $CLIENTS old appointment rows (older than 5 years) by
# rgpd.purge() (one DELETE as the link's owner through the gate, rows of
# held subjects left out) vs a bare DELETE of the same rows by the owner,
# both firing the same link triggers (last_contact goes down); each run
# three times and rolled back, medians compared.
echo
echo "== per-link retention: purge vs bare DELETE"
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" >/dev/null
bsql -v rows="$CLIENTS" -f "$B/retention.sql" >/dev/null
old=$(bsql -c "SELECT count(*) FROM ret.appointments WHERE (at + interval '5 years')::date <= CURRENT_DATE")
bare=() purge=()
for round in 1 2 3; do
	bare+=("$(pg_sql -d bench -At -c "BEGIN" -c '\timing on' \
		-c "DELETE FROM ret.appointments AS l WHERE CAST(l.at + interval '5 years' AS date) <= CURRENT_DATE" \
		-c '\timing off' -c "ROLLBACK" | awk '/^Time: / { print $2 }')")
	purge+=("$(pg_sql -d bench -At -c "SET client_min_messages = warning" -c "BEGIN" -c '\timing on' \
		-c "SELECT rgpd.purge('ret.appointments')" -c '\timing off' -c "ROLLBACK" | awk '/^Time: / { print $2 }')")
done
b=$(median "${bare[@]}")
p=$(median "${purge[@]}")
echo "rows older than 5 years: $old of $(bsql -c "SELECT count(*) FROM ret.appointments"), $(bsql -c "SELECT count(*) FROM ret.clients") subjects, 10 held"
printf '  bare DELETE (same rows, same triggers): %s ms (runs: %s)\n' "$b" "${bare[*]}"
printf '  rgpd.purge(): %s ms (runs: %s): %sx (target <= 1.3x)\n' "$p" "${purge[*]}" "$(ratio "$p" "$b")"
bsql -c "DROP SCHEMA ret CASCADE" >/dev/null
