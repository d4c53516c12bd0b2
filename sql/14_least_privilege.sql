-- 14_least_privilege: the extension's own tables and internal functions
-- give nobody more than their rights on the application's tables.
--  * recontact tasks are read by managers, by the owner of the subject
--    table and by the roles it granted SELECT on it; closed by managers,
--    the owner and the roles it granted UPDATE on it.  A role owning
--    unrelated tables sees and closes none.
--  * campaigns are written only through create/alter/delete_campaign, each
--    change journaled with its manager; a manager cannot write
--    rgpd.campaigns directly (turning a campaign mandatory unjournaled),
--    nor call the internal functions behind them or rgpd._journal_campaign.
--  * rgpd._invalidate() is for the owner of the table.
-- Tested as ordinary login roles: owner, agent, manager, and a stranger
-- who owns tables of its own.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_stranger LOGIN;
CREATE SCHEMA lp AUTHORIZATION regress_owner;
CREATE SCHEMA lp_stranger AUTHORIZATION regress_stranger;
GRANT USAGE ON SCHEMA lp TO regress_agent, regress_manager, regress_stranger;
GRANT USAGE ON SCHEMA lp_stranger TO regress_manager;

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE lp.clients (id bigint PRIMARY KEY, name text, agent text, created date NOT NULL);
INSERT INTO lp.clients VALUES (1, 'Anne', 'regress_agent', '2015-01-01'), (2, 'Bruno', 'regress_agent', '2015-01-01');
SELECT rgpd.register_subject('lp.clients', created_column => 'created', negotiator_column => 'agent');
GRANT SELECT, UPDATE ON lp.clients TO regress_agent, regress_manager;

\c - regress_stranger
SET client_min_messages = warning;
CREATE TABLE lp_stranger.people (id bigint PRIMARY KEY, agent text, created date NOT NULL);
INSERT INTO lp_stranger.people VALUES (7, 'regress_stranger', '2015-01-01');
SELECT rgpd.register_subject('lp_stranger.people', created_column => 'created', negotiator_column => 'agent');
SELECT rgpd.optin('lp_stranger.people', 7, 'web form') > 0 AS opted_in;

\c - regress_agent
SET client_min_messages = warning;
SELECT rgpd.optin('lp.clients', 1, 'e-mail link') > 0 AS opted_in;
SELECT rgpd.optin('lp.clients', 2, 'e-mail link') > 0 AS opted_in;
-- the agent, granted SELECT and UPDATE on lp.clients by its owner, sees and
-- closes the tasks of lp.clients, and not the stranger's
SELECT subject, subject_id, negotiator FROM rgpd.recontact_tasks ORDER BY subject::text, subject_id;
UPDATE rgpd.recontact_tasks SET done_at = now() WHERE subject_id = 1;
UPDATE rgpd.recontact_tasks SET done_at = now() WHERE subject_id = 7;

\c - regress_stranger
SET client_min_messages = warning;
-- the stranger sees and closes only the tasks of its own table
SELECT subject, subject_id FROM rgpd.recontact_tasks ORDER BY subject::text, subject_id;
UPDATE rgpd.recontact_tasks SET done_at = now() WHERE subject_id IN (1, 2);
SELECT try($$UPDATE rgpd.recontact_tasks SET reason = 'x'$$);
-- nor may it make every backend rebuild the cache of another's table
SELECT try($$SELECT rgpd._invalidate('lp.clients')$$);

\c - regress_manager
SET client_min_messages = warning;
-- managers see every task; the one the agent closed is closed, the rest open
SELECT subject, subject_id, done_at IS NOT NULL AS done FROM rgpd.recontact_tasks ORDER BY subject::text, subject_id;
-- campaigns only through the functions, journaled
SELECT rgpd.create_campaign('lp news', 'mail') > 0 AS created;
SELECT try($$UPDATE rgpd.campaigns SET mandatory = true WHERE label = 'lp news'$$);
SELECT try($$INSERT INTO rgpd.campaigns (label, channel, mandatory) VALUES ('lp bills', 'mail', true)$$);
SELECT try($$SELECT rgpd._journal_campaign('alter_campaign', '{"campaign": "anything"}')$$);
SELECT try($$SELECT rgpd._create_campaign('someone_else', 'lp forged', 'mail', true, NULL)$$);
SELECT try($$SELECT rgpd._alter_campaign('someone_else', 'lp news', NULL, NULL, true, NULL, NULL)$$);
SELECT try($$SELECT rgpd._delete_campaign('someone_else', 'lp news')$$);
SELECT rgpd.alter_campaign('lp news', mandatory => true);
SELECT rgpd.delete_campaign('lp news');
SELECT label, mandatory, state FROM rgpd.campaigns WHERE label LIKE 'lp %' ORDER BY label;
SELECT actor, action, detail FROM rgpd.journal WHERE detail ->> 'campaign' LIKE 'lp %' ORDER BY id;

\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.alter_campaign('lp news', mandatory => false)$$);
SELECT try($$UPDATE rgpd.campaigns SET state = 'active' WHERE label = 'lp news'$$);
SELECT try($$SELECT rgpd._journal_campaign('alter_campaign', '{}')$$);

\c - regress_stranger
SET client_min_messages = warning;
SELECT rgpd.unregister_subject('lp_stranger.people');
\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.unregister_subject('lp.clients');

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA lp CASCADE;
DROP SCHEMA lp_stranger CASCADE;
DROP OWNED BY regress_stranger;
DROP ROLE regress_stranger;
