# bench/portfolio.sh — one negotiator's portfolio (sourced by bench/run.sh):
# rgpd.dashboard(as_of, negotiator) and rgpd.pending('archive', as_of,
# negotiator) over :clients subjects and 200 negotiators, 10% archived,
# against the whole dashboard and a plain count of the same portfolio
# (which also checks the counts); without an index on the negotiator
# column, then with the one the README tells the DBA to create.
echo
echo "== portfolios (one negotiator of 200)"
T=2026-06-15
NEG='neg 42'
t0=$(date +%s)
bsql -v clients="$CLIENTS" -v now=100 -v t="$T" -f "$B/portfolio.sql" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" \
     -c "SELECT rgpd.register_subject('port.clients', created_column => 'created', negotiator_column => 'negotiator', email_column => 'email', time_zone => 'UTC')" \
     -c "SELECT rgpd.register_link('port.offers', 'port.clients', '{client_id}', '{created}', excludes_when => \$\$transaction = 'rental'\$\$)" \
     -c "SELECT count(*) FROM rgpd.sweep((date '$T' - interval '2 months')::date, for_subject => 'port.clients')" \
     -c "VACUUM ANALYZE port.clients" >/dev/null
echo "generated, registered and swept $CLIENTS subjects in $(( $(date +%s) - t0 )) s:" \
	"$(bsql -c "SELECT count(*) FILTER (WHERE rgpd_status = 'archived') || ' archived, ' || count(*) FILTER (WHERE negotiator = '$NEG') || ' in the portfolio of ''$NEG''' FROM port.clients")"

plain="SELECT count(*) FILTER (WHERE c.rgpd_status = 'active' AND c.last_contact + interval '3 years' <= (date_trunc('month', date '$T') + interval '1 month - 1 day')::date
                                 AND NOT EXISTS (SELECT 1 FROM port.offers o WHERE o.client_id = c.id AND o.transaction = 'rental')) AS to_archive,
              count(*) FILTER (WHERE c.rgpd_status = 'archived') AS archived
         FROM port.clients c WHERE c.negotiator = '$NEG'"
measure() {   # label: medians of 5 (second call in a session) for the portfolio dashboard, the portfolio list, the plain count
	local d="" p="" n="" w
	for round in 1 2 3 4 5; do
		read -r _ w <<<"$(twice "SELECT * FROM rgpd.dashboard('$T', '$NEG')")"; d+="$w "
		read -r _ w <<<"$(twice "SELECT count(*) FROM rgpd.pending('archive', '$T', '$NEG')")"; p+="$w "
		read -r _ w <<<"$(twice "$plain")"; n+="$w "
	done
	printf '  %s: rgpd.dashboard(as_of, negotiator) %s ms, rgpd.pending(archive, as_of, negotiator) %s ms; plain count of the portfolio %s ms\n' \
		"$1" "$(median $d)" "$(median $p)" "$(median $n)"
}
whole=""
for round in 1 2 3 4 5; do read -r _ w <<<"$(twice "SELECT * FROM rgpd.dashboard('$T')")"; whole+="$w "; done
echo "the whole agency, rgpd.dashboard('$T'): $(median $whole) ms (median of 5, second call in a session)"
measure "no index on the negotiator column"
bsql -c "CREATE INDEX clients_portfolio_idx ON port.clients (negotiator, rgpd_contact_floor, rgpd_status)" \
     -c "ANALYZE port.clients" >/dev/null
measure "with CREATE INDEX ON port.clients (negotiator, rgpd_contact_floor, rgpd_status)"
ours=$(bsql -c "SELECT to_archive || ' ' || archived FROM rgpd.dashboard('$T', '$NEG')")
theirs=$(bsql -c "SELECT to_archive || ' ' || archived FROM ($plain) x")
echo "  counts (to_archive archived): rgpd.dashboard $ours, plain count $theirs: $([ "$ours" = "$theirs" ] && echo equal || echo DIFFERENT)"

# rgpd.forecast(12): what each of the next 12 months brings, against a plain
# grouped count over the same rows (which also checks the figures)
plain_forecast() {   # NEGOTIATOR ('' for all)
	echo "WITH c AS (SELECT date_trunc('month', x.last_contact + interval '3 years')::date AS a,
                                 date_trunc('month', x.last_contact + interval '5 years')::date AS n, x.rgpd_status
                            FROM port.clients x
                           WHERE x.rgpd_status <> 'anonymised' AND ('$1' = '' OR x.negotiator = '$1')
                             AND NOT EXISTS (SELECT 1 FROM port.offers o WHERE o.client_id = x.id AND o.transaction = 'rental')),
                m AS (SELECT (date_trunc('month', current_date) + g * interval '1 month')::date AS month
                        FROM generate_series(0, 11) AS g),
                a AS (SELECT c.a AS month, count(*) AS k FROM c WHERE c.rgpd_status = 'active' GROUP BY 1),
                n AS (SELECT c.n AS month, count(*) AS k FROM c GROUP BY 1)
          SELECT m.month, coalesce(a.k, 0) AS to_archive, coalesce(n.k, 0) AS to_anonymise
            FROM m LEFT JOIN a USING (month) LEFT JOIN n USING (month)"
}
forecast_times() {   # NEGOTIATOR ('' for the whole agency): medians of 5, second call in a session
	local f="" b="" w arg=""
	[ -n "$1" ] && arg=", '$1'"
	for round in 1 2 3 4 5; do
		read -r _ w <<<"$(twice "SELECT count(*) FROM rgpd.forecast(12$arg) WHERE subject = 'port.clients'::regclass")"; f+="$w "
		read -r _ w <<<"$(twice "$(plain_forecast "$1")")"; b+="$w "
	done
	ours=$(bsql -c "SELECT string_agg(month || ':' || to_archive || '/' || to_anonymise, ' ' ORDER BY month) FROM rgpd.forecast(12$arg) WHERE subject = 'port.clients'::regclass")
	theirs=$(bsql -c "SELECT string_agg(month || ':' || to_archive || '/' || to_anonymise, ' ' ORDER BY month) FROM ($(plain_forecast "$1")) q")
	printf '  rgpd.forecast(12%s): %s ms; plain grouped count %s ms (%sx); figures %s\n' "$arg" "$(median $f)" "$(median $b)" \
		"$(ratio "$(median $f)" "$(median $b)")" "$([ "$ours" = "$theirs" ] && echo equal || echo DIFFERENT)"
}
echo "forecast of the next 12 months (the index above in place):"
forecast_times ""
forecast_times "$NEG"
bsql -c "DROP SCHEMA port CASCADE" >/dev/null
