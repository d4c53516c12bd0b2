# demo/show_consent.sh — sourced by demo/run.sh: campaigns, consent,
# objection, provenance and the recipients of a campaign.

say "Campaigns, consents as proof, and who a campaign may reach"
# an active client who will say yes to the newsletter (id % 5 = 0, id % 3 <> 0)
C=$(as manager_lea -At -c "SELECT min(id) FROM agency.clients
                           WHERE rgpd_status = 'active' AND email IS NOT NULL
                             AND id % 5 = 0 AND id % 3 <> 0")
as manager_lea -c "SELECT rgpd.create_campaign('Lettre d''information', 'mail') AS newsletter,
                          rgpd.create_campaign('Factures et contrats', 'mail', mandatory => true) AS invoices,
                          rgpd.create_campaign('Offres par SMS', 'sms') AS sms"
as crm_app -c "SELECT count(*) AS consents_recorded
                 FROM (SELECT rgpd.set_consent('agency.clients', id, 'Lettre d''information', id % 3 <> 0,
                                               'sign-up form', created + interval '1 hour')
                         FROM agency.clients WHERE rgpd_status = 'active' AND id % 5 = 0) AS x" \
	-c "SELECT rgpd.set_provenance('agency.clients', $C, 'portal seloger.com', 'consent')"
as manager_lea -c "SELECT campaign, value, origin, at::date FROM rgpd.consent_history('agency.clients', $C)"
as manager_lea -c "SELECT count(*) AS newsletter_recipients FROM rgpd.recipients('Lettre d''information')" \
	-c "SELECT * FROM rgpd.recipients('Lettre d''information') ORDER BY id LIMIT 3"
say "Client $C objects to e-mails: off the list, with the proof kept"
as crm_app -c "SELECT rgpd.object('agency.clients', $C, 'email', 'phone call to the agency') AS objected"
as manager_lea -c "SELECT count(*) AS newsletter_recipients FROM rgpd.recipients('Lettre d''information')" \
	-c "SELECT count(*) FILTER (WHERE id = $C) AS client_still_listed FROM rgpd.recipients('Lettre d''information')" \
	-c "SELECT count(*) AS invoices_recipients FROM rgpd.recipients('Factures et contrats')" \
	-c "SELECT action, subject_id, detail FROM rgpd.journal WHERE subject_id = $C ORDER BY id"
