# demo/show_lifecycle.sh — sourced by demo/run.sh: the lists, the sweep,
# the restricted archive and an opt-in.

say "The home page: what falls due this month (a manager, then an agent)"
as manager_lea -c "SELECT * FROM rgpd.dashboard()"
as agent_paul -c "SELECT * FROM rgpd.dashboard()"
echo "(to_anonymise and archived are for managers only)"

say "To archive before the end of the month (first 8), and to anonymise (managers)"
as manager_lea -c "SELECT * FROM rgpd.pending_archive ORDER BY due_on, id LIMIT 8" \
	-c "SELECT count(*) AS to_archive, min(due_on) AS most_overdue FROM rgpd.pending_archive" \
	-c "SELECT * FROM rgpd.pending_anonymise ORDER BY due_on, id LIMIT 5"
as agent_paul -c "SELECT count(*) AS rows_an_agent_gets_from_pending_anonymise FROM rgpd.pending_anonymise"
echo "A list as CSV, with COPY (first lines):"
as manager_lea -c "COPY (SELECT id, last_contact, due_on, policy FROM rgpd.pending_archive ORDER BY due_on, id) TO STDOUT WITH CSV HEADER" | awk 'NR <= 4'

say "The monthly sweep (pg_cron job, run as a non-superuser manager role)"
as postgres -c "CREATE ROLE rgpd_sweeper LOGIN" -c "GRANT rgpd_manager TO rgpd_sweeper" \
	-c "SELECT rgpd.schedule_sweep() AS jobid" \
	-c "SELECT jobname, schedule, command, username FROM cron.job"
echo "Running it now (a dry run first: it changes nothing and counts the same):"
as rgpd_sweeper -c "SELECT * FROM rgpd.sweep(dry_run => true)" -c "SELECT * FROM rgpd.sweep()"
as manager_lea -c "SELECT * FROM rgpd.dashboard()"

ARCHIVED=$(as manager_lea -At -c "SELECT id FROM agency.clients WHERE rgpd_status = 'archived' ORDER BY id LIMIT 1")
say "An archived client (id $ARCHIVED): hidden from an agent, visible to a manager"
as agent_paul -c "SELECT id, name, first_name FROM agency.clients WHERE id = $ARCHIVED" \
	-c "SELECT count(*) AS clients_an_agent_sees FROM agency.clients"
as manager_lea -c "SELECT id, name, first_name, last_contact, rgpd_status FROM agency.clients WHERE id = $ARCHIVED" \
	-c "SELECT count(*) AS clients_a_manager_sees FROM agency.clients"
echo "Its offers and requests stay visible, marked:"
as agent_paul -c "SELECT id, client_id, created, rgpd_archived FROM agency.requests WHERE client_id = $ARCHIVED"

say "The client answers a re-consent e-mail: the CRM records the opt-in (it cannot see the row)"
as crm_app -c "SELECT rgpd.optin('agency.clients', $ARCHIVED, 'reconsent-email-$(date +%Y-%m)') AS optin_event"
as agent_paul -c "SELECT id, name, first_name, last_contact, rgpd_status FROM agency.clients WHERE id = $ARCHIVED"
as manager_lea -c "SELECT subject, subject_id, negotiator, reason, created_at::date FROM rgpd.recontact_tasks"
