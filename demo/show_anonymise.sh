# demo/show_anonymise.sh — sourced by demo/run.sh: an export (right of
# access), an anonymisation and its linked rows, the right to be forgotten.

DUE=$(as manager_lea -At -c "SELECT p.id FROM rgpd.pending_anonymise p JOIN agency.offers o ON p.id IN (o.client1_id, o.client2_id)
                              GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1")
say "Before erasing client $DUE, the manager exports everything held on them (right of access)"
as manager_lea -c "SELECT jsonb_pretty(jsonb_build_object(
                     'format', d -> 'format', 'subject', d -> 'subject', 'status', d -> 'status',
                     'record', d -> 'record',
                     'linked', (SELECT jsonb_object_agg(t, (SELECT jsonb_object_agg(c, jsonb_array_length(r))
                                                              FROM jsonb_each(cols) AS x(c, r)))
                                  FROM jsonb_each(d -> 'linked') AS y(t, cols)),
                     'journal', d -> 'journal'))
                     FROM (SELECT rgpd.export('agency.clients', $DUE) AS d) AS e"
echo "(linked rows counted per table and column here; the export holds them in full)"

say "Anonymising client $DUE (due for it): the record and every linked row"
as manager_lea -c "SELECT id, name, first_name, phone_mobile, email, rgpd_status FROM agency.clients WHERE id = $DUE" \
	-c "SELECT id, reference, client1_id, client1_name, client1_phone, client2_id, client2_name, agent_id, agent_name
	      FROM agency.offers WHERE $DUE IN (client1_id, client2_id, agent_id) ORDER BY id" \
	-c "SELECT count(*) AS documents FROM agency.documents WHERE client_id = $DUE"
as manager_lea -c "SELECT rgpd.anonymise('agency.clients', $DUE) AS anonymised"
as manager_lea -c "SELECT id, name, first_name, phone_mobile, email, rgpd_status FROM agency.clients WHERE id = $DUE" \
	-c "SELECT id, reference, client1_id, client1_name, client1_phone, client2_id, client2_name, agent_id, agent_name
	      FROM agency.offers WHERE $DUE IN (client1_id, client2_id, agent_id) ORDER BY id" \
	-c "SELECT count(*) AS documents FROM agency.documents WHERE client_id = $DUE" \
	-c "SELECT action, subject_id, detail FROM rgpd.journal WHERE subject_id = $DUE AND action = 'anonymise'"
echo "(the other people on those offers keep their names; the client's scanned documents are deleted)"

say "Right to be forgotten: client 42 asks, by letter"
as manager_lea -c "SELECT rgpd.forget('agency.clients', 42, 'letter received $(date +%Y-%m-%d)') AS forgotten" \
	-c "SELECT id, name, first_name, email, rgpd_status FROM agency.clients WHERE id = 42"
