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
as postgres -c "CREATE ROLE rgpd_sweeper LOGIN" -c "GRANT rgpd_manager TO rgpd_sweeper"
echo "A dry run first: it changes nothing and counts what the sweep will do:"
as rgpd_sweeper -c "SELECT * FROM rgpd.sweep(dry_run => true)"
echo "For the demo the job runs every minute; waiting for pg_cron's real run (at most 70 s):"
as postgres -c "SELECT rgpd.schedule_sweep('* * * * *') AS jobid" \
	-c "SELECT jobname, schedule, command, database, username FROM cron.job"
for _ in $(seq 1 35); do
	[ -n "$(as postgres -At -c "SELECT 1 FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')")" ] && break
	sleep 2
done
as postgres -c "SELECT j.jobname, d.status, d.return_message, d.start_time::time(0) AS started,
                       d.end_time - d.start_time AS took
                  FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid) ORDER BY d.runid"
as manager_lea -c "SELECT actor, action, subject, count(*) AS journal_lines, min(at)::time(0) AS at
                    FROM rgpd.journal WHERE actor = 'rgpd_sweeper' GROUP BY 1, 2, 3 ORDER BY 5, 2"
echo "Back to the monthly schedule (the 1st at 03:00):"
as postgres -c "SELECT rgpd.schedule_sweep() AS jobid" -c "SELECT jobname, schedule FROM cron.job"
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
