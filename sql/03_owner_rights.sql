-- 03_owner_rights: the triggers write as the owner of the subject table,
-- with its row-level security not forced, as PostgreSQL's referential
-- integrity triggers do.  An ordinary login role that may insert offers,
-- and may only read clients, records contacts — also on archived clients
-- it cannot see.  Its search_path cannot redirect the triggers' SQL.
\set VERBOSITY terse
\setenv PGDATESTYLE 'ISO, YMD'
\setenv PGTZ UTC
\c
SET client_min_messages = warning;
CREATE SCHEMA crm AUTHORIZATION regress_owner;
CREATE SCHEMA agent_space AUTHORIZATION regress_agent;
GRANT USAGE ON SCHEMA crm TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE crm.clients (id bigint PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE crm.offers (id serial PRIMARY KEY, client_id bigint REFERENCES crm.clients, created date NOT NULL);
INSERT INTO crm.clients SELECT g, 'client ' || g, current_date - interval '6 years' FROM generate_series(1, 3) AS g;
SELECT rgpd.register_subject('crm.clients', created_column => 'created');
SELECT rgpd.register_link('crm.offers', 'crm.clients', '{client_id}', '{created}');
GRANT SELECT ON crm.clients TO regress_agent, regress_manager;
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.offers TO regress_agent;
GRANT USAGE ON SEQUENCE crm.offers_id_seq TO regress_agent;
-- the owner may archive (it may UPDATE the table)
SELECT rgpd.archive('crm.clients', ARRAY[2, 3]::bigint[]) AS archived;

\c - regress_agent
SET client_min_messages = warning;
SELECT current_user, has_table_privilege('crm.clients', 'UPDATE') AS may_update_clients;
-- the archive is hidden
SELECT id FROM crm.clients ORDER BY id;

-- a search_path with a hostile "=" operator for bigint changes nothing:
-- the triggers' statements name pg_catalog's operators
CREATE FUNCTION agent_space.eq(bigint, bigint) RETURNS boolean
    LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked by %', current_user; END $$;
CREATE OPERATOR agent_space.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = agent_space.eq);
SET search_path = agent_space, pg_catalog;

-- contacts on a visible client, on an archived one (still due: it stays
-- archived) and on another archived one given a fresh contact: recorded,
-- but it stays archived too, since the agent could not see it (only a role
-- that may read the archive brings a record back by a contact,
-- 15_owner_contacts); each contact on an archived record is journaled
INSERT INTO crm.offers (client_id, created) VALUES
    (1, current_date - interval '1 year'),
    (2, current_date - interval '4 years'),
    (3, current_date);
RESET search_path;
SELECT id FROM crm.clients ORDER BY id;
SELECT try($$UPDATE crm.clients SET name = 'x' WHERE id = 1$$);

\c - regress_manager
SET client_min_messages = warning;
SELECT id, rgpd_status,
       last_contact = CASE id WHEN 1 THEN current_date - interval '1 year'
                              WHEN 2 THEN current_date - interval '4 years'
                              ELSE current_date END AS contact_recorded
  FROM crm.clients ORDER BY id;
SELECT actor, action, subject_id, detail FROM rgpd.journal WHERE subject = 'crm.clients'::regclass ORDER BY id;

-- the owner is under the restricted archive too (FORCE ROW LEVEL SECURITY)
\c - regress_owner
SET client_min_messages = warning;
SELECT id FROM crm.clients ORDER BY id;

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP SCHEMA agent_space CASCADE;
-- dropped tables take their configuration with them
SELECT count(*) AS subjects, (SELECT count(*) FROM rgpd.links) AS links FROM rgpd.subjects;
