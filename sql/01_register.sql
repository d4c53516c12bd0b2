-- 01_register: rgpd.register_subject() and rgpd.register_link() validate
-- everything they are given; each refusal has its SQLSTATE, names the
-- object, hints at the fix, and changes nothing.  Registering twice gives
-- the same state; unregistering removes exactly what registration added.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET intervalstyle = postgres;
SET timezone = 'UTC';
CREATE SCHEMA app AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA app TO PUBLIC;
SET ROLE regress_owner;
SET search_path = app, public;

CREATE TABLE clients (
    id         integer PRIMARY KEY,
    name       text NOT NULL,
    first_name text,
    email      varchar(80) UNIQUE,
    phone      text CHECK (phone ~ '^[0-9+ ]*$'),
    birth      date NOT NULL DEFAULT '1970-01-01',
    agent      text,
    kind       text NOT NULL DEFAULT 'client',
    created    timestamptz NOT NULL
);
CREATE TABLE offers (
    id           bigserial PRIMARY KEY,
    client1_id   integer REFERENCES clients,
    client2_id   integer,
    agent_id     bigint,
    client1_name text,
    client2_name text,
    transaction  text NOT NULL DEFAULT 'sale',
    created      date NOT NULL,
    mandate_end  timestamp,
    price        numeric
);
CREATE TABLE no_key (x integer);
CREATE VIEW clients_view AS SELECT * FROM clients;
INSERT INTO clients (id, name, created) VALUES (1, 'Martin', '2020-03-04 00:30+01');

-- subject: refusals
SELECT try($$SELECT rgpd.register_subject('app.clients_view')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'nokey')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'name')$$);
SELECT try($$SELECT rgpd.register_subject('app.no_key', 'x')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'id', 'name')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'id', 'created', '{nope}')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'id', 'created', '{birth}')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'id', 'created', '{id}')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'id', 'created', '{name,name}')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', 'id', 'created', '{name}', 'nobody')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', time_zone => 'Mars/Olympus')$$);
SELECT try($$SELECT rgpd.register_subject('app.clients', email_column => 'birth')$$);
SELECT try($$SELECT rgpd.register_subject(NULL)$$);
RESET ROLE;
SET ROLE regress_agent;
SELECT try($$SELECT rgpd.register_subject('app.clients')$$);
RESET ROLE;
SET ROLE regress_owner;

-- nothing changed
SELECT count(*) AS registered FROM rgpd.subjects;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS columns
  FROM pg_attribute WHERE attrelid = 'app.clients'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'app.clients'::regclass AND NOT tgisinternal;

-- subject: registration
SELECT rgpd.register_subject('app.clients', 'id', 'created', '{name,first_name,email,phone}',
                             'agent', email_column => 'email', time_zone => 'Europe/Paris');
SELECT subject, key_column, created_column, personal_columns, negotiator_column, email_column,
       time_zone, force_rls, had_rls, added_permissive, added_indexes
  FROM rgpd.subjects;
SELECT name, archive_after, anonymise_after, applies_when FROM rgpd.policies;
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
  FROM pg_attribute WHERE attrelid = 'app.clients'::regclass
   AND attname IN ('last_contact', 'rgpd_status', 'rgpd_contact_floor') ORDER BY attnum;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'app.clients'::regclass;
SELECT polname, polpermissive, polcmd, pg_get_expr(polqual, polrelid) AS using
  FROM pg_policy WHERE polrelid = 'app.clients'::regclass ORDER BY 1;
SELECT pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'app.clients'::regclass AND NOT indisprimary AND NOT indisunique ORDER BY 1;
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'app.clients'::regclass AND NOT tgisinternal ORDER BY 1;
-- how each personal column will be erased: the unique e-mail gets a
-- pseudonym, the phone (under a CHECK constraint) NULL, the rest a mask
SELECT c AS personal_column, rgpd.erasure_method('app.clients', c)
  FROM unnest('{name,first_name,email,phone}'::name[]) AS c;
-- a timestamptz creation date counts in the subject's time zone: in UTC
-- (the session's) it is still 3 March, in Paris it is already the 4th
SELECT id, created, last_contact FROM clients;

-- registering again: same state
SELECT rgpd.register_subject('app.clients', 'id', 'created', '{name,first_name,email,phone}',
                             'agent', email_column => 'email', time_zone => 'Europe/Paris');
SELECT count(*) AS subjects, (SELECT count(*) FROM pg_policy WHERE polrelid = 'app.clients'::regclass) AS policies,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'app.clients'::regclass AND NOT tgisinternal) AS triggers,
       (SELECT count(*) FROM pg_index WHERE indrelid = 'app.clients'::regclass) AS indexes
  FROM rgpd.subjects;

-- link: refusals
CREATE TABLE unregistered (id integer PRIMARY KEY);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.unregistered', '{client1_id}', '{created}')$$);
SELECT try($$SELECT rgpd.register_link('app.clients', 'app.clients', '{id}', '{created}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{}', '{created}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_name}', '{created}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client9_id}', '{created}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{price}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{signed}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{client1_id}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       '{"agent_id": ["client1_name"]}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       '{"client1_id": "client1_name"}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       '{"client1_id": ["nope"]}')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       '{"client1_id": ["created"]}')$$);
-- excludes_when: one boolean expression over the link row, nothing else
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'transaction = ')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'kind = ''rental''')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'price')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'client1_id IN (SELECT id FROM app.clients)')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'random() < 0.5')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'count(*) > 0')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'true) AS a, (false')$$);
SELECT try($$SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}',
                                       excludes_when => 'true FROM pg_authid --')$$);
SELECT count(*) AS links, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'app.offers'::regclass AND NOT tgisinternal) AS triggers
  FROM rgpd.links;

-- link: registration with several subject columns, dates of both types
SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id,client2_id,agent_id}',
                          '{created,mandate_end}',
                          '{"client1_id": ["client1_name"], "client2_id": ["client2_name"]}',
                          excludes_when => 'transaction = ''rental''',
                          archive_with_subject => true);
SELECT link, subject, subject_columns, date_columns, personal_columns, excludes_when,
       archive_with_subject, added_indexes, added_archived_column
  FROM rgpd.links;
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'app.offers'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'app.offers'::regclass AND NOT indisprimary ORDER BY 1;

-- registering again: same state
SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id,client2_id,agent_id}',
                          '{created,mandate_end}',
                          '{"client1_id": ["client1_name"], "client2_id": ["client2_name"]}',
                          excludes_when => 'transaction = ''rental''',
                          archive_with_subject => true);
SELECT count(*) AS links,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'app.offers'::regclass AND NOT tgisinternal) AS triggers,
       (SELECT count(*) FROM pg_index WHERE indrelid = 'app.offers'::regclass) AS indexes
  FROM rgpd.links;

-- a subject with links cannot be unregistered alone
SELECT try($$SELECT rgpd.unregister_subject('app.clients')$$);
SELECT try($$SELECT rgpd.unregister_link('app.offers', 'app.unregistered')$$);

-- unregistering the link removes its triggers, indexes and marker column
SELECT rgpd.unregister_link('app.offers', 'app.clients');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'app.offers'::regclass AND NOT tgisinternal;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS offer_columns
  FROM pg_attribute WHERE attrelid = 'app.offers'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'app.offers'::regclass;

-- unregistering the subject (cascading to its links) restores the table
SELECT rgpd.register_link('app.offers', 'app.clients', '{client1_id}', '{created}');
SELECT rgpd.unregister_subject('app.clients', cascade => true);
SELECT count(*) AS subjects, (SELECT count(*) FROM rgpd.links) AS links,
       (SELECT count(*) FROM rgpd.policies) AS policies FROM rgpd.subjects;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS columns
  FROM pg_attribute WHERE attrelid = 'app.clients'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT relrowsecurity, relforcerowsecurity,
       (SELECT count(*) FROM pg_policy WHERE polrelid = 'app.clients'::regclass) AS policies,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('app.clients'::regclass, 'app.offers'::regclass)
           AND NOT tgisinternal) AS triggers,
       (SELECT count(*) FROM pg_index WHERE indrelid = 'app.clients'::regclass) AS indexes
  FROM pg_class WHERE oid = 'app.clients'::regclass;

-- a table that had its own row-level security keeps it, with no
-- permissive policy added
CREATE TABLE prospects (id bigint PRIMARY KEY, agent text, created date NOT NULL);
ALTER TABLE prospects ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON prospects USING (agent = current_user);
SELECT rgpd.register_subject('app.prospects', created_column => 'created', force_rls => false);
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'app.prospects'::regclass ORDER BY 1;
SELECT rgpd.unregister_subject('app.prospects');
SELECT relrowsecurity, relforcerowsecurity, (SELECT string_agg(polname, ', ') FROM pg_policy
        WHERE polrelid = 'app.prospects'::regclass) AS policies
  FROM pg_class WHERE oid = 'app.prospects'::regclass;

RESET ROLE;
DROP SCHEMA app CASCADE;
