#!/usr/bin/env bash
# demo/run.sh — make demo: a throwaway cluster, the demo agency, its
# registration with pericles_rgpd, and a walk through what the extension
# does, as the agency's roles see it.  The cluster is stopped at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export CRON_DB=agency
. test/cluster.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# psql as a role of the agency, tables aligned, errors stop the demo
as() {
	local role=$1
	shift
	as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off -P footer=off \
		-U "$role" -d agency "$@"
}

cluster_start "timezone = 'Europe/Paris'"
cp -r demo "$CLUSTER_DIR/demo"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$CLUSTER_DIR/demo"
D=$CLUSTER_DIR/demo

say "The demo agency: a real-estate CRM before pericles_rgpd"
pg_sql -d postgres -c "CREATE DATABASE agency"
as postgres -f "$D/schema.sql"
as postgres -f "$D/generate.sql"
as postgres -c "SELECT (SELECT count(*) FROM agency.clients) AS clients,
                      (SELECT count(*) FROM agency.offers) AS offers,
                      (SELECT count(*) FROM agency.signatures) AS signatures,
                      (SELECT count(*) FROM agency.requests) AS requests,
                      (SELECT count(*) FROM agency.appointments) AS appointments,
                      (SELECT count(*) FROM agency.documents) AS documents"

say "Install the extension and register the tables (as crm_app, their owner)"
as postgres -c "CREATE EXTENSION pericles_rgpd" -c "CREATE EXTENSION pg_cron" \
	-c "GRANT rgpd_manager TO manager_lea"
t0=$(date +%s%N)
as crm_app -f "$D/register.sql" >/dev/null
echo "registered in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
as crm_app -c "SELECT subject, key_column, created_column, time_zone, force_rls FROM rgpd.subjects" \
	-c "SELECT link, subject_columns, date_columns, excludes_when, archive_with_subject FROM rgpd.links ORDER BY link::text" \
	-c "SELECT name, archive_after, anonymise_after, applies_when FROM rgpd.policies ORDER BY position DESC"

say "What the engine computed: last_contact, and the row it comes from"
as manager_lea -f "$D/show_engine.sql"

say "A contact is recorded as it happens (an agent books a visit)"
as agent_paul -c "SELECT id, name, last_contact FROM agency.clients WHERE id = 42" \
	-c "INSERT INTO agency.appointments (client_id, starts_at, what) VALUES (42, now(), 'visite')" \
	-c "SELECT id, name, last_contact FROM agency.clients WHERE id = 42"
echo "(the visit is cancelled)"
as crm_app -c "DELETE FROM agency.appointments WHERE client_id = 42 AND starts_at > now() - interval '1 minute'" \
	-c "SELECT id, name, last_contact AS after_the_visit_was_cancelled FROM agency.clients WHERE id = 42" \
	-c "SELECT count(*) AS rows_verify_would_repair FROM rgpd.verify('agency.clients')"

[ -f "$D/show_lifecycle.sh" ] && . "$D/show_lifecycle.sh"
[ -f "$D/show_anonymise.sh" ] && . "$D/show_anonymise.sh"
[ -f "$D/show_consent.sh" ] && . "$D/show_consent.sh"
[ -f "$D/show_optin_token.sh" ] && . "$D/show_optin_token.sh"
[ -f "$D/show_retention.sh" ] && . "$D/show_retention.sh"

say "The journal (identifiers and counts, no personal data)"
as manager_lea -c "SELECT action, count(*) FROM rgpd.journal GROUP BY action ORDER BY 1"

say "Done; stopping the demo cluster"
