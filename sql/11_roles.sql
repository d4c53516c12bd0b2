-- 11_roles: the whole public API used the way a CRM uses it, by ordinary
-- login roles and never by a superuser: the owner of the tables registers
-- them; an agent (SELECT, INSERT, UPDATE on the tables) records contacts,
-- opt-ins, consents, objections and exports, and archives; a personal-data
-- manager (rgpd_manager) runs the sweep, reads the restricted archive,
-- un-archives, anonymises, forgets and manages campaigns.  What a role may
-- not do is refused with SQLSTATE 42501 and changes nothing.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA roles AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA roles TO regress_agent, regress_manager;

-- the owner builds and registers its CRM
\c - regress_owner
SET client_min_messages = warning;
SET search_path = roles, public;
SET datestyle = 'ISO, YMD';
CREATE TABLE clients (id bigint PRIMARY KEY, name text, email text, mobile text,
                      agent text, created date NOT NULL);
CREATE TABLE offers (id serial PRIMARY KEY, buyer_id bigint REFERENCES clients, seller_id bigint REFERENCES clients,
                     buyer_name text, seller_name text, signed_at timestamptz, note text);
INSERT INTO clients VALUES
    (1, 'Martin',  'martin@example.fr',  '0611111111', 'regress_agent', '2015-01-10'),
    (2, 'Bernard', 'bernard@example.fr', '0622222222', 'regress_agent', '2015-01-10'),
    (3, 'Dubois',  'dubois@example.fr',  NULL,         'regress_agent', '2015-01-10'),
    (4, 'Thomas',  NULL,                 '0644444444', 'regress_agent', '2015-01-10');
SELECT rgpd.register_subject('roles.clients', created_column => 'created',
                             personal_columns => '{name,email,mobile}', negotiator_column => 'agent',
                             email_column => 'email', mobile_column => 'mobile');
SELECT rgpd.register_link('roles.offers', 'roles.clients', '{buyer_id,seller_id}', '{signed_at}',
                          '{"buyer_id": ["buyer_name", "note"], "seller_id": ["seller_name"]}');
SELECT rgpd.set_erasure('roles.offers', 'note', 'null');
SELECT rgpd.erasure_method('roles.offers', 'note') AS note_erased_by;
SELECT rgpd.set_policy('roles.clients', '3 years', '5 years');
GRANT SELECT, UPDATE ON clients TO regress_agent, regress_manager;
GRANT SELECT, INSERT, UPDATE, DELETE ON offers TO regress_agent, regress_manager;
GRANT USAGE ON SEQUENCE offers_id_seq TO regress_agent, regress_manager;

-- the manager opens a mandatory campaign (invoices and contracts)
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.create_campaign('roles bills', 'mail', mandatory => true) > 0 AS created;

-- the agent records the business; last_contact follows
\c - regress_agent
SET client_min_messages = warning;
SET search_path = roles, public;
SET datestyle = 'ISO, YMD';
INSERT INTO offers (buyer_id, seller_id, buyer_name, seller_name, signed_at, note) VALUES
    (1, 2, 'Martin', 'Bernard', '2019-03-10 18:00+01', 'call Martin on 0611111111'),
    (2, NULL, 'Bernard', NULL, '2024-06-01 10:00+02', NULL),
    (4, NULL, 'Thomas', NULL, '2021-05-05 09:00+02', NULL);
SELECT id, last_contact, rgpd_status FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('roles.clients');
SELECT subject, id, due_on FROM rgpd.pending('archive', '2022-03-15') WHERE subject = 'roles.clients'::regclass;
SELECT subject, to_archive, to_anonymise, archived FROM rgpd.dashboard('2022-03-15')
 WHERE subject = 'roles.clients'::regclass;
SELECT rgpd.is_excluded('roles.clients', 1) AS excluded;
SELECT tbl, col, matches, erased_by_anonymise FROM rgpd.scan('roles.clients', 1);
SELECT rgpd.set_consent('roles.clients', 2, 'roles bills', true, 'contract') > 0 AS recorded;
SELECT campaign, value, origin, recorded_by FROM rgpd.consent_history('roles.clients', 2);
SELECT rgpd.object('roles.clients', 4, 'call', 'phone call') AS objected;
SELECT rgpd.withdraw_objection('roles.clients', 4, 'call', 'letter') AS withdrawn;
SELECT rgpd.set_provenance('roles.clients', 2, 'walk-in', 'contract');
SELECT id, contact FROM rgpd.recipients('roles bills') WHERE subject = 'roles.clients'::regclass ORDER BY id;
SELECT rgpd.export('roles.clients', 2) -> 'subject' AS exported;
SELECT rgpd.archive('roles.clients', 3) AS archived;
SELECT id FROM clients ORDER BY id;
-- a manager's work is refused to the agent, and changes nothing
SELECT try($$SELECT rgpd.unarchive('roles.clients', 3)$$);
SELECT try($$SELECT rgpd.anonymise('roles.clients', 2)$$);
SELECT try($$SELECT rgpd.forget('roles.clients', 2, 'letter')$$);
SELECT try($$SELECT * FROM rgpd.sweep('2022-03-15')$$);
SELECT try($$SELECT rgpd.create_campaign('agent news', 'mail')$$);
SELECT try($$SELECT rgpd.replay_erasures('2000-01-01')$$);
-- the restricted archive does not leak through the extension either
SELECT try($$SELECT rgpd.export('roles.clients', 3)$$);
SELECT try($$SELECT * FROM rgpd.scan('roles.clients', 3)$$);
SELECT try($$SELECT count(*) FROM rgpd.journal$$);
SELECT id, name, rgpd_status FROM clients ORDER BY id;
-- nor do configuration changes belong to the agent
SELECT try($$SELECT rgpd.set_policy('roles.clients', '1 year', '2 years')$$);
SELECT try($$SELECT rgpd.unregister_link('roles.offers', 'roles.clients')$$);

-- the manager: campaigns, the sweep, the archive, anonymisation
\c - regress_manager
SET client_min_messages = warning;
SET search_path = roles, public;
SET datestyle = 'ISO, YMD';
SELECT rgpd.create_campaign('roles news', 'mail') > 0 AS created;
SELECT rgpd.alter_campaign('roles news', display_order => 5);
SELECT rgpd.set_consent('roles.clients', 1, 'roles news', true, 'sign-up form', '2019-03-10 18:00+01') > 0 AS recorded;
SELECT id, contact FROM rgpd.recipients('roles news') WHERE subject = 'roles.clients'::regclass;
SELECT rgpd.delete_campaign('roles news');
SELECT action, count FROM rgpd.sweep('2022-03-15', dry_run => true, for_subject => 'roles.clients') ORDER BY 1;
SELECT id, rgpd_status FROM clients ORDER BY id;
SELECT action, count FROM rgpd.sweep('2022-03-15', for_subject => 'roles.clients') ORDER BY 1;
SELECT id, rgpd_status FROM clients ORDER BY id;
SELECT rgpd.unarchive('roles.clients', 1) AS unarchived;
SELECT rgpd.archive('roles.clients', 1) AS archived;
SELECT rgpd.export('roles.clients', 3) -> 'subject' AS exported_archived;
SELECT subject, id, due_on FROM rgpd.pending('anonymise', '2022-03-15') WHERE subject = 'roles.clients'::regclass;
SELECT rgpd.anonymise('roles.clients', 3) AS anonymised;
SELECT rgpd.forget('roles.clients', 2, 'letter of 2022-03-01') AS forgotten;
SELECT id, name, email, mobile, rgpd_status FROM clients ORDER BY id;
SELECT buyer_id, buyer_name, seller_id, seller_name, note FROM offers ORDER BY id;
SELECT rgpd.replay_erasures(now() - interval '1 hour') AS replayed;
SELECT actor, action, subject_id FROM rgpd.journal
 WHERE subject = 'roles.clients'::regclass AND action IN ('archive', 'unarchive', 'anonymise', 'forget')
 ORDER BY id;
-- managers are not table owners: configuration stays with the owner
SELECT try($$SELECT rgpd.set_policy('roles.clients', '1 year', '2 years')$$);
SELECT try($$SELECT rgpd.unregister_subject('roles.clients', true)$$);

-- an archived person answers the re-consent e-mail: the application's
-- own role (the tables' owner) records the opt-in, which brings the record
-- back with a recontact task for its negotiator; an agent, who cannot see
-- the archived record, may not; an anonymised person cannot opt in
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.optin('roles.clients', 1, 'e-mail link', '2022-03-20 09:00+01')$$);
\c - regress_owner
SET client_min_messages = warning;
SET search_path = roles, public;
SET datestyle = 'ISO, YMD';
SELECT rgpd.optin('roles.clients', 1, 'e-mail link', '2022-03-20 09:00+01') > 0 AS opted_in;
SELECT id, last_contact, rgpd_status FROM clients ORDER BY id;
SELECT subject_id, negotiator, reason FROM rgpd.recontact_tasks WHERE subject = 'roles.clients'::regclass;
SELECT try($$SELECT rgpd.optin('roles.clients', 3, 'e-mail link')$$);

-- the owner unregisters; the tables stay usable
\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.unregister_subject('roles.clients', true);
SELECT count(*) AS rows_left FROM roles.clients;

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA roles CASCADE;
