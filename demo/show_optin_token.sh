# demo/show_optin_token.sh — sourced by demo/run.sh: the re-consent e-mail's
# link, an opt-in nobody can forge.  The mailing job (a role granted
# rgpd.optin_token) puts a signed token in the e-mail of someone due to be
# archived next month; the landing page, a role with no right on any
# table, records the click with rgpd.optin(token, origin); the same link
# clicked again, or altered by one character, is refused.

say "The re-consent e-mail's link: an opt-in by signed token"
as postgres -c "CREATE ROLE mailing_job LOGIN" -c "CREATE ROLE landing_page LOGIN" \
	-c "GRANT USAGE ON SCHEMA agency TO mailing_job" -c "GRANT SELECT ON agency.clients TO mailing_job" \
	-c "GRANT EXECUTE ON FUNCTION rgpd.optin_token(regclass, bigint, interval) TO mailing_job" >/dev/null
WHO=$(as manager_lea -At -c "SELECT id FROM rgpd.reconsent_candidates(CURRENT_DATE + 31) ORDER BY id LIMIT 1")
as manager_lea -c "SELECT id, last_contact, rgpd_status FROM agency.clients WHERE id = $WHO"
TOKEN=$(as mailing_job -At -c "SELECT rgpd.optin_token('agency.clients', $WHO, '30 days')")
echo "(the e-mail to client $WHO links to https://crm.example/reconsent?t=${TOKEN:0:24}…)"
as landing_page -c "SELECT rgpd.optin('$TOKEN', 'reconsent-email-$(date +%Y-%m)') AS optin_event"
as manager_lea -c "SELECT id, last_contact, rgpd_status FROM agency.clients WHERE id = $WHO" \
	-c "SELECT subject_id, origin, recorded_by FROM rgpd.optin_events WHERE subject_id = $WHO"
echo "(the same link clicked again, then altered by one character: both refused)"
as landing_page -v ON_ERROR_STOP=0 -c "SELECT rgpd.optin('$TOKEN', 'reconsent-email')" 2>&1 | sed 's/^psql:[^ ]* //' || true
ALTERED=$(printf '%s' "$TOKEN" | sed 's/.$/'"$( [ "${TOKEN: -1}" = A ] && echo B || echo A )"'/')
as landing_page -v ON_ERROR_STOP=0 -c "SELECT rgpd.optin('$ALTERED', 'reconsent-email')" 2>&1 | sed 's/^psql:[^ ]* //' || true
