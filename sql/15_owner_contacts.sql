-- 15_owner_contacts: a contact brings an archived subject back when it is
-- recorded by a role that may read the archive: the table's owner, a
-- manager, a superuser.  The application usually connects as the owner of
-- its tables, under FORCE ROW LEVEL SECURITY (registration sets it): its
-- own contacts must un-archive exactly as a manager's or a superuser's do.
-- An agent's contact for a person who was already archived when its
-- statement began is recorded (last_contact stays exact) but does not
-- lift the restricted archive: inserting rows that name archived people
-- must not give back what the archive hides (journaled as
-- contact_on_archived for the managers to decide).  An agent's contact
-- that races the sweep archiving the person is covered by the isolation
-- spec sweep_vs_agent_contact.
-- The engine's statements run as the owner with row security not forced;
-- their saved plans are prepared that way too, so that the restricted
-- archive the owner is under when it connects is never planned into them.
--
-- Each role records contacts dated today for archived clients in a fresh
-- session (plans are cached per session): one row, then an INSERT ...
-- SELECT of twenty clients (the set-wise path), on a link with a foreign
-- key and on one without.  clients is written directly by the engine;
-- clients_sql has a CHECK constraint on last_contact, so the engine
-- writes it with UPDATE statements.
\set VERBOSITY terse
\setenv PGDATESTYLE 'ISO, YMD'
\setenv PGTZ UTC
\c
SET client_min_messages = warning;
CREATE SCHEMA oc AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA oc TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE oc.clients (id bigint PRIMARY KEY, created date NOT NULL, tag text NOT NULL);
CREATE TABLE oc.clients_sql (id bigint PRIMARY KEY, created date NOT NULL, tag text NOT NULL);
CREATE TABLE oc.deals_fk (id serial PRIMARY KEY, client_id bigint REFERENCES oc.clients, signed date NOT NULL);
CREATE TABLE oc.deals (id serial PRIMARY KEY, client_id bigint, signed date NOT NULL);
CREATE TABLE oc.orders_fk (id serial PRIMARY KEY, client_id bigint REFERENCES oc.clients_sql, ordered date NOT NULL);
CREATE TABLE oc.orders (id serial PRIMARY KEY, client_id bigint, ordered date NOT NULL);
-- ids: role * 100 + (0: foreign key, 50: none) + 1 (single) or 2..21 (multi)
INSERT INTO oc.clients
SELECT r.n * 100 + l.n + g, current_date - 6 * 365,
       r.name || ', ' || l.name || ', ' || CASE WHEN g = 1 THEN 'single' ELSE 'multi' END
  FROM (VALUES (1, 'owner'), (2, 'agent'), (3, 'superuser'), (4, 'manager')) AS r(n, name),
       (VALUES (0, 'fk'), (50, 'no fk')) AS l(n, name),
       generate_series(1, 21) AS g;
INSERT INTO oc.clients_sql SELECT * FROM oc.clients;
SELECT rgpd.register_subject('oc.clients', created_column => 'created');
SELECT rgpd.register_subject('oc.clients_sql', created_column => 'created');
ALTER TABLE oc.clients_sql ADD CHECK (last_contact > DATE '1900-01-01');
SELECT rgpd.register_link('oc.deals_fk', 'oc.clients', '{client_id}', '{signed}');
SELECT rgpd.register_link('oc.deals', 'oc.clients', '{client_id}', '{signed}');
SELECT rgpd.register_link('oc.orders_fk', 'oc.clients_sql', '{client_id}', '{ordered}');
SELECT rgpd.register_link('oc.orders', 'oc.clients_sql', '{client_id}', '{ordered}');
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE oid IN ('oc.clients'::regclass, 'oc.clients_sql'::regclass) ORDER BY 1;
GRANT SELECT ON oc.clients, oc.clients_sql TO regress_agent, regress_manager;
GRANT INSERT ON oc.deals_fk, oc.deals, oc.orders_fk, oc.orders TO regress_agent, regress_manager;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA oc TO regress_agent, regress_manager;
SELECT rgpd.archive('oc.clients', array(SELECT id FROM oc.clients)) AS archived,
       rgpd.archive('oc.clients_sql', array(SELECT id FROM oc.clients_sql)) AS archived_sql;
-- the owner is under the restricted archive
SELECT count(*) AS owner_sees FROM oc.clients;

-- contacts dated today, for archived clients, as role n
CREATE FUNCTION public.contacts(n int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO oc.deals_fk (client_id, signed) VALUES (n * 100 + 1, current_date);
    INSERT INTO oc.deals_fk (client_id, signed) SELECT n * 100 + g, current_date FROM generate_series(2, 21) AS g;
    INSERT INTO oc.deals (client_id, signed) VALUES (n * 100 + 51, current_date);
    INSERT INTO oc.deals (client_id, signed) SELECT n * 100 + 50 + g, current_date FROM generate_series(2, 21) AS g;
    INSERT INTO oc.orders_fk (client_id, ordered) VALUES (n * 100 + 1, current_date);
    INSERT INTO oc.orders_fk (client_id, ordered) SELECT n * 100 + g, current_date FROM generate_series(2, 21) AS g;
    INSERT INTO oc.orders (client_id, ordered) VALUES (n * 100 + 51, current_date);
    INSERT INTO oc.orders (client_id, ordered) SELECT n * 100 + 50 + g, current_date FROM generate_series(2, 21) AS g;
$$;
GRANT EXECUTE ON FUNCTION public.contacts(int) TO regress_agent, regress_manager;

-- the owner, in a session of its own
\c - regress_owner
SELECT public.contacts(1);
-- its clients are back, visible to it
SELECT count(*) AS owner_sees FROM oc.clients WHERE id < 200;
SELECT count(*) AS owner_sees FROM oc.clients_sql WHERE id < 200;

\c - regress_agent
SELECT public.contacts(2);

\c - postgres
SELECT public.contacts(3);

\c - regress_manager
SELECT public.contacts(4);

-- every client has today's contact; those of the owner, the superuser and
-- the manager are active again, with one unarchive line (reason contact)
-- each; the agent's stay archived, with one contact_on_archived line each;
-- the stored dates are exact
\c - regress_manager
SELECT 'clients' AS tbl, tag, count(*) AS clients,
       count(*) FILTER (WHERE rgpd_status = 'active') AS active,
       count(*) FILTER (WHERE last_contact = current_date) AS contact_today
  FROM oc.clients GROUP BY tag
UNION ALL
SELECT 'clients_sql', tag, count(*), count(*) FILTER (WHERE rgpd_status = 'active'),
       count(*) FILTER (WHERE last_contact = current_date)
  FROM oc.clients_sql GROUP BY tag
 ORDER BY 1, 2;
\c - postgres
SELECT j.subject, j.action, j.detail->>'reason' AS reason, count(*) AS lines,
       count(DISTINCT j.subject_id) AS subjects
  FROM rgpd.journal AS j
 WHERE j.subject IN ('oc.clients'::regclass, 'oc.clients_sql'::regclass)
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT count(*) AS differences FROM rgpd.verify('oc.clients');
SELECT count(*) AS differences FROM rgpd.verify('oc.clients_sql');

SET client_min_messages = warning;
DROP FUNCTION public.contacts(int);
DROP SCHEMA oc CASCADE;
