# bench/consent.sh — who a campaign may reach (sourced by bench/run.sh).
#  rgpd.recipients(campaign) over the subjects with a consent history of
#  ten events per subject, vs the naive query a CRM would run over the raw
#  history (the latest event per person, DISTINCT ON); both lists are
#  checked equal, and the plan of ours is shown.
#
#  The history is bulk-loaded (10 events per subject would take hours
#  through one call each); the current consents are derived from it by
#  the rule rgpd.set_consent() keeps (latest "at", then latest event).  The
#  rate of rgpd.set_consent() itself is measured on the side.  Objections,
#  archiving and anonymisation go through the API.
echo
echo "== consent and campaign recipients"
t0=$(date +%s)
bsql -v clients="$CLIENTS" -f "$B/consent.sql" >/dev/null
bsql -c "CREATE EXTENSION IF NOT EXISTS pericles_rgpd" \
     -c "SELECT rgpd.register_subject('cons.clients', created_column => 'created', time_zone => 'UTC',
                                      personal_columns => '{name,email,mobile}',
                                      email_column => 'email', mobile_column => 'mobile')" >/dev/null
news=$(bsql -c "SELECT rgpd.create_campaign('bench newsletter', 'mail')")
sms=$(bsql -c "SELECT rgpd.create_campaign('bench sms offers', 'sms')")
events=$(bsql -c "SELECT rgpd.create_campaign('bench invitations', 'mail')")
partners=$(bsql -c "SELECT rgpd.create_campaign('bench partners', 'sms')")
bsql -c "SELECT rgpd.create_campaign('bench invoices', 'mail', mandatory => true)" >/dev/null
bsql -c "SELECT setseed(0.1)" \
     -c "INSERT INTO rgpd.consent_events (subject, subject_id, campaign_id, value, origin, at, recorded_by)
         SELECT 'cons.clients'::regclass, 1 + (random() * ($CLIENTS - 1))::bigint,
                CASE WHEN r < 0.5 THEN $news WHEN r < 0.8 THEN $sms WHEN r < 0.95 THEN $events ELSE $partners END,
                random() < 0.6,
                (ARRAY['sign-up form', 'portal', 'e-mail link', 'manual entry', 'API'])[1 + (random() * 4)::int],
                timestamptz '2019-01-01 00:00+00' + random() * interval '2500 days', 'bench'
           FROM (SELECT random() AS r FROM generate_series(1, 10 * $CLIENTS)) AS x" \
     -c "INSERT INTO rgpd.consents (campaign_id, subject, subject_id, value, at, event_id)
         SELECT DISTINCT ON (campaign_id, subject, subject_id) campaign_id, subject, subject_id, value, at, id
           FROM rgpd.consent_events ORDER BY campaign_id, subject, subject_id, at DESC, id DESC" >/dev/null
bsql -c "SELECT count(rgpd.object('cons.clients', id, 'email', 'bench')) FROM cons.clients WHERE id % 33 = 0" \
     -c "SELECT count(rgpd.object('cons.clients', id, 'call', 'bench')) FROM cons.clients WHERE id % 50 = 7" \
     -c "SELECT rgpd.archive('cons.clients', ARRAY(SELECT id FROM cons.clients WHERE id % 20 = 3))" \
     -c "SELECT rgpd.anonymise('cons.clients', ARRAY(SELECT id FROM cons.clients WHERE id % 100 = 11))" \
     -c "VACUUM ANALYZE cons.clients, rgpd.consent_events, rgpd.consents, rgpd.objections" >/dev/null
echo "generated $CLIENTS subjects and $(bsql -c "SELECT count(*) FROM rgpd.consent_events") consent events in $(( $(date +%s) - t0 )) s"

rate=$(pg_sql -d bench -At -c "BEGIN" -c '\timing on' \
	-c "SELECT count(rgpd.set_consent('cons.clients', id, 'bench newsletter', id % 2 = 0, 'portal'))
	      FROM cons.clients WHERE id <= 20000 AND id % 100 <> 11" -c '\timing off' -c "ROLLBACK" |
	awk '/^Time: / { t = $2 } /^[0-9]+$/ { n = $1 } END { printf "%.0f", n / (t / 1000) }')
echo "rgpd.set_consent() records $rate consents a second (one statement of 20 000 calls, one backend)"

# naive SQL: the latest event per person for the campaign, from the raw
# history, then the same conditions as rgpd.recipients
naive() {
	local campaign=$1 contact=$2 flag=$3
	echo "SELECT c.id, c.$contact AS contact
	        FROM cons.clients AS c
	        JOIN (SELECT DISTINCT ON (e.subject_id) e.subject_id, e.value
	                FROM rgpd.consent_events AS e
	               WHERE e.subject = 'cons.clients'::regclass AND e.campaign_id = $campaign
	               ORDER BY e.subject_id, e.at DESC, e.id DESC) AS k ON k.subject_id = c.id AND k.value
	       WHERE c.rgpd_status = 'active' AND c.$contact IS NOT NULL AND c.$contact <> ''
	         AND NOT EXISTS (SELECT 1 FROM rgpd.objections AS o
	                          WHERE o.subject = 'cons.clients'::regclass AND o.subject_id = c.id AND o.$flag)"
}
echo "rgpd.recipients vs the naive query over the raw history, medians of 3:"
for c in "bench newsletter:$news:email:do_not_email" "bench sms offers:$sms:mobile:do_not_call" \
         "bench partners:$partners:mobile:do_not_call"; do
	IFS=: read -r label id contact flag <<<"$c"
	q=$(naive "$id" "$contact" "$flag")
	nv=""; ours=""
	for round in 1 2 3; do
		nv+="$(ms -c "SELECT count(*) FROM ($q) AS q") "
		ours+="$(ms -c "SELECT count(*) FROM rgpd.recipients('$label')") "
	done
	n=$(bsql -c "SELECT count(*) FROM rgpd.recipients('$label')")
	diff=$(bsql -c "SELECT (SELECT count(*) FROM (($q) EXCEPT ALL (SELECT id, contact FROM rgpd.recipients('$label'))) AS a)
	                     + (SELECT count(*) FROM ((SELECT id, contact FROM rgpd.recipients('$label')) EXCEPT ALL ($q)) AS b)")
	printf '  %-17s %7s recipients: naive %s ms, rgpd.recipients %s ms: %sx faster (rows that differ: %s)\n' \
		"$label" "$n" "$(median $nv)" "$(median $ours)" "$(ratio "$(median $nv)" "$(median $ours)")" "$diff"
done
ours=""
for round in 1 2 3; do
	ours+="$(ms -c "SELECT count(*) FROM rgpd.recipients('bench invoices')") "
done
printf '  %-17s %7s recipients (mandatory: no consent needed): rgpd.recipients %s ms\n' \
	"bench invoices" "$(bsql -c "SELECT count(*) FROM rgpd.recipients('bench invoices')")" "$(median $ours)"

echo "the plan of rgpd.recipients('bench partners') (the statement it runs, as generated):"
pg_sql -d bench -At <<EOF | grep -v '^PREPARE$' | sed 's/^/    /'
SELECT 'PREPARE recipients(integer) AS ' || rgpd._recipients_sql('cons.clients', $partners) \gexec
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE recipients($partners);
EOF
