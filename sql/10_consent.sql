-- 10_consent: campaigns (mail or SMS, mandatory or not, active, inactive,
-- deleted), consent events as append-only proof with the current consent
-- taken from the latest of them, the refusal to withdraw a mandatory
-- campaign, the right to object (do not e-mail, do not call), provenance
-- and legal basis, and the recipients a campaign may reach.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
CREATE SCHEMA cons;
SET search_path = cons, public;
GRANT USAGE ON SCHEMA cons TO regress_agent, regress_manager, regress_owner;

CREATE TABLE clients (id integer PRIMARY KEY, name text, email text, mobile text, created date NOT NULL);
INSERT INTO clients VALUES
    (1, 'Martin',  'martin@example.fr',  '0611111111', '2024-01-01'),
    (2, 'Bernard', 'bernard@example.fr', NULL,         '2024-01-01'),
    (3, 'Dubois',  NULL,                 '0633333333', '2024-01-01'),
    (4, 'Thomas',  'thomas@example.fr',  '0644444444', '2024-01-01'),
    (5, 'Robert',  'robert@example.fr',  '0655555555', '2024-01-01');
SELECT rgpd.register_subject('cons.clients', created_column => 'created', personal_columns => '{name,email,mobile}',
                             email_column => 'email', mobile_column => 'mobile');
GRANT SELECT, UPDATE ON clients TO regress_agent, regress_manager;

-- campaigns: managers only, validated
SELECT rgpd.create_campaign('invoices', 'mail', mandatory => true) > 0 AS created;
SELECT rgpd.create_campaign('newsletter', 'mail') > 0 AS created;
SELECT rgpd.create_campaign('sms offers', 'sms') > 0 AS created;
SELECT try($$SELECT rgpd.create_campaign('fax blast', 'fax')$$);
SELECT try($$SELECT rgpd.create_campaign('newsletter', 'mail')$$);
SELECT try($$SELECT rgpd.create_campaign(' ', 'mail')$$);
SET ROLE regress_agent;
SELECT try($$SELECT rgpd.create_campaign('agent campaign', 'mail')$$);
RESET ROLE;
SELECT label, channel, mandatory, state FROM rgpd.campaigns
 WHERE label IN ('invoices', 'newsletter', 'sms offers') ORDER BY display_order;

-- consent events
SELECT rgpd.set_consent('cons.clients', 1, 'newsletter', true, 'sign-up form', '2024-02-01 10:00+00') > 0 AS recorded;
SELECT rgpd.set_consent('cons.clients', 2, 'newsletter', true, 'portal', '2024-02-02 10:00+00') > 0 AS recorded;
SELECT rgpd.set_consent('cons.clients', 2, 'newsletter', false, 'e-mail link', '2024-03-03 10:00+00') > 0 AS recorded;
-- recorded late, but given before: the current consent stays the later one
SELECT rgpd.set_consent('cons.clients', 2, 'newsletter', true, 'manual entry', '2024-02-15 10:00+00') > 0 AS recorded;
SELECT rgpd.set_consent('cons.clients', 3, 'sms offers', true, 'api', '2024-04-04 10:00+00') > 0 AS recorded;
SELECT rgpd.set_consent('cons.clients', 4, 'newsletter', true, 'portal', '2024-05-05 10:00+00') > 0 AS recorded;
SELECT rgpd.set_consent('cons.clients', 4, 'invoices', true, 'contract', '2024-05-05 10:00+00') > 0 AS recorded;
-- refusals
SELECT try($$SELECT rgpd.set_consent('cons.clients', 4, 'invoices', false, 'e-mail link')$$);
SELECT try($$SELECT rgpd.set_consent('cons.clients', 4, 'lottery', true, 'portal')$$);
SELECT try($$SELECT rgpd.set_consent('cons.clients', 99, 'newsletter', true, 'portal')$$);
SELECT try($$SELECT rgpd.set_consent('cons.clients', 4, 'newsletter', true, '')$$);
SELECT try($$SELECT rgpd.set_consent('cons.clients', 4, 'newsletter', NULL, 'portal')$$);
SET ROLE regress_owner;
SELECT try($$SELECT rgpd.set_consent('cons.clients', 4, 'newsletter', true, 'portal')$$);
RESET ROLE;
-- the proof, oldest first; the current consent per campaign
SELECT campaign, channel, value, origin, at, recorded_by FROM rgpd.consent_history('cons.clients', 2);
SELECT subject_id, campaign, channel, mandatory, value, at FROM rgpd.current_consents
 WHERE subject = 'cons.clients'::regclass ORDER BY subject_id, campaign;
-- proof is never changed nor removed
SELECT try($$UPDATE rgpd.consent_events SET value = true$$);
SELECT try($$DELETE FROM rgpd.consent_events$$);
-- an agent (UPDATE on the table) records consents, but cannot read the proof tables directly
SET ROLE regress_agent;
SELECT rgpd.set_consent('cons.clients', 5, 'sms offers', true, 'phone call') > 0 AS recorded;
SELECT count(*) AS events_seen FROM rgpd.consent_events;
SELECT campaign, value, origin, recorded_by FROM rgpd.consent_history('cons.clients', 5);
RESET ROLE;

-- the right to object
SELECT rgpd.object('cons.clients', 1, 'email', 'letter') AS changed;
SELECT rgpd.object('cons.clients', 1, 'email', 'letter again') AS changed;
SELECT rgpd.object('cons.clients', 3, 'call', 'phone call') AS changed;
SELECT try($$SELECT rgpd.object('cons.clients', 1, 'pigeon', 'letter')$$);
SELECT subject_id, do_not_email, do_not_call FROM rgpd.objections
 WHERE subject = 'cons.clients'::regclass ORDER BY subject_id;

-- provenance and legal basis
SELECT rgpd.set_provenance('cons.clients', 1, 'portal seloger.com', 'consent');
SELECT rgpd.set_provenance('cons.clients', 2, 'walk-in', 'legitimate_interest');
SELECT try($$SELECT rgpd.set_provenance('cons.clients', 3, 'bought list', 'because')$$);
SELECT subject_id, source, legal_basis FROM rgpd.provenance
 WHERE subject = 'cons.clients'::regclass ORDER BY subject_id;

-- recipients: consented (or mandatory), not objected on the channel,
-- active, with an address for the channel
SELECT * FROM rgpd.recipients('newsletter');
SELECT * FROM rgpd.recipients('invoices');
SELECT * FROM rgpd.recipients('sms offers');
-- an objection withdrawn puts Martin back on the newsletter
SELECT rgpd.withdraw_objection('cons.clients', 1, 'email', 'phone call') AS changed;
SELECT rgpd.withdraw_objection('cons.clients', 1, 'email', 'phone call') AS changed;
SELECT id FROM rgpd.recipients('newsletter');
-- archived and anonymised people are reached by no campaign
SELECT rgpd.archive('cons.clients', 4) AS archived;
SELECT rgpd.anonymise('cons.clients', 5) AS anonymised;
SELECT id FROM rgpd.recipients('invoices');
-- the same lists for ordinary login roles: a manager, an agent who can
-- read the table; a role that cannot read it gets no row from it (the
-- table is skipped, as in the pending lists)
SET ROLE regress_manager;
SELECT id, contact FROM rgpd.recipients('invoices');
SET ROLE regress_agent;
SELECT id, contact FROM rgpd.recipients('invoices');
SET ROLE regress_owner;
SELECT count(*) AS unreadable_recipients FROM rgpd.recipients('invoices') WHERE subject = 'cons.clients'::regclass;
RESET ROLE;
-- consents survive anonymisation as proof; nothing new can be recorded
SELECT campaign, value, origin FROM rgpd.consent_history('cons.clients', 5);
SELECT try($$SELECT rgpd.set_consent('cons.clients', 5, 'newsletter', true, 'portal')$$);
-- an inactive campaign reaches nobody; a deleted one keeps its history
SELECT rgpd.alter_campaign('sms offers', state => 'inactive');
SET client_min_messages = notice;
SELECT count(*) FROM rgpd.recipients('sms offers');
SET client_min_messages = warning;
SELECT rgpd.delete_campaign('newsletter');
SELECT try($$SELECT * FROM rgpd.recipients('newsletter')$$);
SELECT try($$SELECT rgpd.set_consent('cons.clients', 1, 'newsletter', true, 'portal')$$);
SELECT campaign, value, origin FROM rgpd.consent_history('cons.clients', 1);
SELECT try($$SELECT rgpd.alter_campaign('newsletter', state => 'active')$$);
-- journaled, with origins and no personal value
SELECT actor, action, subject_id, detail FROM rgpd.journal
 WHERE (subject = 'cons.clients'::regclass AND action IN ('object', 'withdraw_objection', 'provenance'))
    OR (action LIKE '%campaign' AND detail ->> 'campaign' IN ('invoices', 'newsletter', 'sms offers'))
 ORDER BY id;

-- a dropped table takes the current state about its people with it (a
-- table that later reuses its OID inherits nothing); the proof stays
SELECT 'cons.clients'::regclass::oid AS cons_oid \gset
DROP SCHEMA cons CASCADE;
SELECT (SELECT count(*) FROM rgpd.consents WHERE subject::oid = :cons_oid) AS consents,
       (SELECT count(*) FROM rgpd.objections WHERE subject::oid = :cons_oid) AS objections,
       (SELECT count(*) FROM rgpd.provenance WHERE subject::oid = :cons_oid) AS provenance,
       (SELECT count(*) > 0 FROM rgpd.consent_events WHERE subject::oid = :cons_oid) AS proof_kept;
