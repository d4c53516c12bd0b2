-- demo/register.sql — the agency registers its tables with pericles_rgpd,
-- through the public API only.  Run as the owner of the tables (crm_app).
SET search_path = agency;

SELECT rgpd.register_subject('agency.clients',
    key_column        => 'id',
    created_column    => 'created',
    personal_columns  => '{name,first_name,address,address2,phone_home,phone_office,phone_mobile,fax,phone_other,email,notes}',
    negotiator_column => 'negotiator',
    email_column      => 'email',
    mobile_column     => 'phone_mobile',
    time_zone         => 'Europe/Paris');

-- prospects are kept 3 years and anonymised after 4; clients 3 and 5
SELECT rgpd.set_policy('agency.clients', '3 years', '4 years', $$kind = 'prospect'$$, 'prospects');

-- offers: created and mandate-expiry dates; the names and phones copied
-- for client 1, client 2 and the agent of record belong to each of them;
-- a client linked to a rental is left out of the engine
SELECT rgpd.register_link('agency.offers', 'agency.clients',
    subject_columns      => '{client1_id,client2_id,agent_id}',
    date_columns         => '{created,mandate_end}',
    personal_columns     => '{"client1_id": ["client1_name", "client1_phone"],
                              "client2_id": ["client2_name", "client2_phone"],
                              "agent_id":   ["agent_name", "agent_phone"]}',
    excludes_when        => $$transaction = 'rental'$$,
    archive_with_subject => true);
SELECT rgpd.register_link('agency.signatures', 'agency.clients',
    subject_columns  => '{seller_id,buyer_id}',
    date_columns     => '{compromis_date,deed_date}',
    personal_columns => '{"seller_id": ["seller_name"], "buyer_id": ["buyer_name"]}',
    excludes_when    => $$transaction = 'rental'$$);
SELECT rgpd.register_link('agency.requests', 'agency.clients', '{client_id}', '{created}',
                          archive_with_subject => true);
SELECT rgpd.register_link('agency.appointments', 'agency.clients', '{client_id}', '{starts_at}');
-- scanned documents have no date: registered so that anonymisation
-- deletes them
SELECT rgpd.register_link('agency.documents', 'agency.clients', '{client_id}', '{}');
SELECT rgpd.set_erasure('agency.documents', 'client_id', 'delete_row');
