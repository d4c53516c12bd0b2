-- 13_input_bounds: what callers store is bounded, so that one call cannot
-- keep a record out of the engine for ever or break it for everyone.
--  * event times (rgpd.optin, rgpd.set_consent) are finite and at most one
--    hour ahead of the server's clock (22008): an opt-in at 'infinity'
--    would keep a record out of the archive for ever, a consent dated 9999
--    would win against every later withdrawal;
--  * stored text (origins, reasons, sources, legal bases, campaign labels)
--    is at most 1000 characters (22001);
--  * retention periods lie between 1 day and 100 years (22023), so that
--    the lists and the sweep always answer;
--  * temporary tables, the extension's own tables cannot be registered, and
--    a NULL among the columns of a registration is reported as NULL.
-- Every refusal changes nothing.  Run as ordinary login roles.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA bounds AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA bounds TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = bounds, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, agent text, created date NOT NULL);
CREATE TABLE visits (id serial PRIMARY KEY, client_id bigint, at date);
INSERT INTO clients VALUES (1, 'Anne', 'regress_agent', '2015-01-01'), (2, 'Bruno', 'regress_agent', '2015-01-01');

-- registration refusals
SELECT try($$SELECT rgpd.register_subject('bounds.clients', created_column => 'created', personal_columns => '{NULL}')$$);
SELECT try($$SELECT rgpd.register_subject('bounds.clients', created_column => 'created', personal_columns => '{name,NULL}')$$);
CREATE TEMPORARY TABLE temp_clients (id bigint PRIMARY KEY, created date);
SELECT try($$SELECT rgpd.register_subject('temp_clients', created_column => 'created')$$);
SELECT rgpd.register_subject('bounds.clients', created_column => 'created', personal_columns => '{name}',
                             negotiator_column => 'agent');
CREATE TEMPORARY TABLE temp_visits (id serial PRIMARY KEY, client_id bigint, at date);
SELECT try($$SELECT rgpd.register_link('temp_visits', 'bounds.clients', '{client_id}', '{at}')$$);
SELECT try($$SELECT rgpd.register_link('bounds.visits', 'bounds.clients', '{NULL}', '{at}')$$);
SELECT try($$SELECT rgpd.register_link('bounds.visits', 'bounds.clients', '{client_id}', '{NULL}')$$);
SELECT rgpd.register_link('bounds.visits', 'bounds.clients', '{client_id}', '{at}');
SELECT subject FROM rgpd.subjects WHERE subject::text LIKE '%clients' ORDER BY 1;
SELECT link FROM rgpd.links WHERE link::text LIKE '%visits' ORDER BY 1;

-- retention periods: between 1 day and 100 years, no negative part
SELECT try($$SELECT rgpd.set_policy('bounds.clients', '100000000 years', '170000000 years')$$);
SELECT try($$SELECT rgpd.set_policy('bounds.clients', '3 years', '101 years')$$);
SELECT try($$SELECT rgpd.set_policy('bounds.clients', '12 hours', '2 years')$$);
SELECT try($$SELECT rgpd.set_policy('bounds.clients', '1 year', '3 years -1 day')$$);
SELECT try($$SELECT rgpd.set_policy('bounds.clients', '1 year', '2 years', 'name = ''Anne''', 'long')$$);
SELECT rgpd.set_policy('bounds.clients', '1 day', '100 years');
SELECT name, archive_after, anonymise_after FROM rgpd.policies WHERE subject = 'bounds.clients'::regclass;
GRANT SELECT, UPDATE ON clients TO regress_agent, regress_manager;

\c - postgres
SET client_min_messages = warning;
-- not even a superuser registers the extension's own tables
SELECT try($$SELECT rgpd.register_subject('rgpd.journal')$$);
SELECT try($$SELECT rgpd.register_link('rgpd.recontact_tasks', 'bounds.clients', '{subject_id}', '{}')$$);
-- the lists and the sweep answer with the widest periods
SELECT action, count FROM rgpd.sweep('2024-06-15', dry_run => true, for_subject => 'bounds.clients') ORDER BY 1;
SELECT count(*) AS due FROM rgpd.pending('archive', '2024-06-15') WHERE subject = 'bounds.clients'::regclass;

\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.create_campaign('bounds news', 'mail') > 0 AS created;
SELECT try(format('SELECT rgpd.create_campaign(%L, %L)', repeat('x', 100000), 'mail'));
SELECT try(format('SELECT rgpd.alter_campaign(%L, new_label => %L)', 'bounds news', repeat('x', 1001)));
SELECT rgpd.alter_campaign('bounds news', new_label => repeat('y', 1000));
SELECT rgpd.alter_campaign(repeat('y', 1000), new_label => 'bounds news');
SELECT try(format('SELECT rgpd.forget(%L, 1, %L)', 'bounds.clients', repeat('r', 1001)));

\c - regress_agent
SET client_min_messages = warning;
-- event times: finite, at most one hour ahead
SELECT try($$SELECT rgpd.optin('bounds.clients', 1, 'e-mail link', 'infinity')$$);
SELECT try($$SELECT rgpd.optin('bounds.clients', 1, 'e-mail link', '-infinity')$$);
SELECT try($$SELECT rgpd.optin('bounds.clients', 1, 'e-mail link', now() + interval '2 hours')$$);
SELECT try($$SELECT rgpd.optin('bounds.clients', 1, 'e-mail link', '9999-01-01')$$);
SELECT try(format('SELECT rgpd.optin(%L, 1, %L)', 'bounds.clients', repeat('o', 100000)));
SELECT count(*) AS optins, (SELECT last_contact FROM bounds.clients WHERE id = 1) AS last_contact
  FROM rgpd.optin_events WHERE subject = 'bounds.clients'::regclass;
-- a clock a little ahead is accepted
SELECT rgpd.optin('bounds.clients', 1, 'e-mail link', now() + interval '30 minutes') > 0 AS opted_in;
SELECT try($$SELECT rgpd.set_consent('bounds.clients', 2, 'bounds news', true, 'form', 'infinity')$$);
SELECT try($$SELECT rgpd.set_consent('bounds.clients', 2, 'bounds news', true, 'form', '9999-12-31')$$);
SELECT try(format('SELECT rgpd.set_consent(%L, 2, %L, true, %L)', 'bounds.clients', 'bounds news', repeat('o', 1001)));
-- so a withdrawal after a consent is the current consent
SELECT rgpd.set_consent('bounds.clients', 2, 'bounds news', true, 'form', now() - interval '1 day') > 0 AS consented;
SELECT rgpd.set_consent('bounds.clients', 2, 'bounds news', false, 'unsubscribe link') > 0 AS withdrawn;
SELECT try(format('SELECT rgpd.object(%L, 2, %L, %L)', 'bounds.clients', 'email', repeat('o', 1001)));
SELECT try(format('SELECT rgpd.withdraw_objection(%L, 2, %L, %L)', 'bounds.clients', 'email', repeat('o', 1001)));
SELECT try(format('SELECT rgpd.set_provenance(%L, 2, %L, %L)', 'bounds.clients', repeat('s', 1001), 'contract'));
SELECT try(format('SELECT rgpd.set_provenance(%L, 2, %L, %L)', 'bounds.clients', 'walk-in', repeat('c', 100000)));
-- 1000 characters are fine
SELECT rgpd.set_provenance('bounds.clients', 2, repeat('s', 1000), 'contract');

\c - regress_manager
SET client_min_messages = warning;
-- the withdrawal, later than the consent, is the current consent
SELECT campaign, value FROM rgpd.current_consents WHERE subject = 'bounds.clients'::regclass;
-- nothing of the refused calls was kept
SELECT count(*) AS consent_events FROM rgpd.consent_events WHERE subject = 'bounds.clients'::regclass;
SELECT count(*) AS objections FROM rgpd.objections WHERE subject = 'bounds.clients'::regclass;
SELECT action, count(*) FROM rgpd.journal
 WHERE subject = 'bounds.clients'::regclass OR action LIKE '%campaign'
 GROUP BY action ORDER BY action;

\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.unregister_subject('bounds.clients', true);

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA bounds CASCADE;
