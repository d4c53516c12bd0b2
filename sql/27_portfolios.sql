-- 27_portfolios: the negotiator of each due row (rgpd.pending(), the
-- pending views: a last column), one negotiator's portfolio in
-- rgpd.dashboard(as_of, negotiator) and rgpd.pending(…, portfolio) — the
-- one-argument dashboard still answers —, the re-consent candidates (due
-- to be archived, with an address, no objection to e-mail; the address
-- needs SELECT on its column) and rgpd.forecast()'s rights and bounds.
-- As ordinary login roles: the owner, a manager, an agent under the
-- application's own row-level security, a role with SELECT (id) only.
-- (test/pgtap/05_forecast.sql checks the forecast's counts month by month.)
\set VERBOSITY terse
\setenv PGDATESTYLE 'ISO, YMD'
\setenv PGTZ UTC
\c - postgres
SET client_min_messages = warning;
CREATE SCHEMA port AUTHORIZATION regress_owner;
CREATE ROLE regress_keys LOGIN;          -- SELECT (id) only: no address
GRANT USAGE ON SCHEMA port TO regress_agent, regress_manager, regress_keys;
-- the agent runs its owner's policies in the lists (see 12_trust)
ALTER ROLE regress_agent SET rgpd.trusted_owners = 'regress_owner';

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE port.clients (id integer PRIMARY KEY, name text, email text, negotiator text,
                           created date NOT NULL);
CREATE TABLE port.offers (id serial PRIMARY KEY, client_id integer REFERENCES port.clients,
                          transaction text NOT NULL, created date NOT NULL);
-- negotiators are integers in this one, and it has no e-mail column
CREATE TABLE port.owners (id integer PRIMARY KEY, agent_id integer, created date NOT NULL);
-- as of 2024-06-15: due for archiving this month are those created
-- before 2021-07-01; for anonymising, before 2019-07-01
INSERT INTO port.clients VALUES
    (1, 'Dupont',  'dupont@example.fr',  'Léa',  '2021-06-10'),
    (2, 'Durand',  'durand@example.fr',  'Léa',  '2021-01-05'),
    (3, 'Martin',  'martin@example.fr',  'Marc', '2021-06-30'),
    (4, 'Petit',   NULL,                 'Léa',  '2020-02-29'),
    (5, 'Robert',  '',                   'Marc', '2021-03-03'),
    (6, 'Richard', 'richard@example.fr', 'Léa',  '2021-05-05'),   -- objects to e-mail
    (7, 'Moreau',  'moreau@example.fr',  'Léa',  '2021-04-04'),   -- a rental: out of the engine
    (8, 'Simon',   'simon@example.fr',   NULL,   '2021-02-02'),
    (9, 'Laurent', 'laurent@example.fr', 'Léa',  '2019-03-03'),   -- archived, due to anonymise
    (10, 'Michel', 'michel@example.fr',  'Léa',  '2023-01-01');   -- not due
INSERT INTO port.offers (client_id, transaction, created) VALUES (7, 'rental', '2020-01-01');
INSERT INTO port.owners VALUES (1, 42, '2021-01-01'), (2, 7, '2021-02-01'), (3, NULL, '2021-03-01');
SELECT rgpd.register_subject('port.clients', created_column => 'created', negotiator_column => 'negotiator',
                             email_column => 'email', personal_columns => '{name,email}');
SELECT rgpd.register_link('port.offers', 'port.clients', '{client_id}', '{created}',
                          excludes_when => $$transaction = 'rental'$$);
SELECT rgpd.register_subject('port.owners', created_column => 'created', negotiator_column => 'agent_id');
SELECT rgpd.archive('port.clients', 9) AS archived;
SELECT rgpd.object('port.clients', 6, 'email', 'letter') AS objected;
-- the agent sees only Léa's clients (the application's own policy)
CREATE POLICY agent_portfolio ON port.clients AS RESTRICTIVE FOR SELECT TO regress_agent
    USING (negotiator = 'Léa');
GRANT SELECT ON port.clients, port.owners TO regress_agent, regress_manager;
GRANT SELECT (id) ON port.clients TO regress_keys;

-- the lists carry the negotiator, last; the integer one as text
SELECT subject, id, due_on, policy, negotiator FROM rgpd.pending('archive', '2024-06-15') ORDER BY subject::text, id;
SELECT subject, id, negotiator FROM rgpd.pending('archive', '2024-06-15', 'Léa') ORDER BY subject::text, id;
SELECT subject, id, negotiator FROM rgpd.pending('archive', '2024-06-15', '42') ORDER BY subject::text, id;
-- the views keep their columns and order, the negotiator last
SELECT attname FROM pg_attribute WHERE attrelid = 'rgpd.pending_archive'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) FILTER (WHERE negotiator IS NULL) >= 0 AS has_column FROM rgpd.pending_archive;

\c - regress_manager
SET client_min_messages = warning;
-- the whole agency, then two portfolios, then one nobody has; the
-- one-argument call is the same as before
SELECT * FROM rgpd.dashboard('2024-06-15') ORDER BY subject::text;
SELECT * FROM rgpd.dashboard('2024-06-15', 'Léa') ORDER BY subject::text;
SELECT * FROM rgpd.dashboard('2024-06-15', 'Marc') ORDER BY subject::text;
SELECT * FROM rgpd.dashboard('2024-06-15', '7') ORDER BY subject::text;
SELECT * FROM rgpd.dashboard('2024-06-15', 'nobody') ORDER BY subject::text;
SELECT subject, id, negotiator FROM rgpd.pending('anonymise', '2024-06-15', 'Léa') ORDER BY subject::text, id;
-- re-consent: due this month, with an address, no objection, not a rental
SELECT * FROM rgpd.reconsent_candidates('2024-06-15') ORDER BY subject::text, id;
SELECT try($$SELECT * FROM rgpd.reconsent_candidates(NULL)$$);
SELECT try($$SELECT * FROM rgpd.reconsent_candidates('infinity')$$);
-- the forecast: a row per month and table; to_anonymise for managers
SELECT count(*) AS months, count(DISTINCT subject) AS tables, bool_and(to_anonymise IS NOT NULL) AS anonymise_shown
  FROM rgpd.forecast(24);
SELECT min(month) = date_trunc('month', current_date)::date AS starts_this_month,
       max(month) = (date_trunc('month', current_date) + interval '5 months')::date AS six_months
  FROM rgpd.forecast(6, 'Léa');
SELECT try($$SELECT * FROM rgpd.forecast(0)$$);
SELECT try($$SELECT * FROM rgpd.forecast(121)$$);
SELECT try($$SELECT * FROM rgpd.forecast(NULL)$$);

\c - regress_agent
SET client_min_messages = warning;
-- as its own policy lets it see: Léa's clients only, on every list
SELECT subject, id, negotiator FROM rgpd.pending('archive', '2024-06-15') ORDER BY subject::text, id;
SELECT * FROM rgpd.dashboard('2024-06-15') ORDER BY subject::text;
SELECT * FROM rgpd.dashboard('2024-06-15', 'Marc') ORDER BY subject::text;
SELECT * FROM rgpd.reconsent_candidates('2024-06-15') ORDER BY subject::text, id;
SELECT bool_and(to_anonymise IS NULL) AS anonymise_hidden FROM rgpd.forecast(3);

\c - regress_keys
SET client_min_messages = warning;
-- keys but no address: the table is left out of the re-consent list
SELECT count(*) AS due_seen FROM rgpd.pending('archive', '2024-06-15');
SELECT count(*) AS candidates FROM rgpd.reconsent_candidates('2024-06-15');

\c - postgres
SET client_min_messages = warning;
-- no view depends on the one-argument dashboard any more, nor on anything
-- of the extension's outside it
SELECT count(*) AS old_dashboard FROM pg_proc
 WHERE proname = 'dashboard' AND pronamespace = 'rgpd'::regnamespace AND pronargs = 1;
ALTER ROLE regress_agent RESET rgpd.trusted_owners;
DROP SCHEMA port CASCADE;
DROP OWNED BY regress_keys;
DROP ROLE regress_keys;
