-- 03_anonymise: anonymisation as behaviour — each erasure method, the
-- columns of client 1 / client 2 / agent of record, a batch of 3 000
-- subjects with 4 linked rows each (one statement per table), the refusal
-- paths leaving every row unchanged, CHECK and UNIQUE constraints that a
-- valid configuration never violates, and the sweep in automatic mode.
BEGIN;
CREATE EXTENSION pericles_rgpd;
SET client_min_messages = warning;
SELECT plan(24);

CREATE SCHEMA an;
CREATE TABLE an.clients (
    id      bigint PRIMARY KEY,
    name    text NOT NULL,
    email   text UNIQUE CHECK (email LIKE '%@%' OR email LIKE 'XXXXX%'),
    login   varchar(12) NOT NULL UNIQUE,
    phone   text CHECK (phone ~ '^[0-9 ]+$'),
    aliases text[] NOT NULL DEFAULT '{}',
    prefs   jsonb,
    notes   text,
    created date NOT NULL
);
CREATE TABLE an.offers (
    id bigserial PRIMARY KEY,
    client1_id bigint REFERENCES an.clients, client1_name text, client1_phone text,
    client2_id bigint REFERENCES an.clients, client2_name text, client2_phone text,
    agent_id   bigint REFERENCES an.clients, agent_name text,
    price      numeric NOT NULL,
    created    date NOT NULL
);
CREATE TABLE an.attachments (id bigserial PRIMARY KEY, client_id bigint REFERENCES an.clients, body bytea);

INSERT INTO an.clients
SELECT g, 'name' || g, 'mail' || g || '@example.fr', 'login' || g, '06 ' || g, ARRAY['alias' || g], '{"x": 1}',
       'notes about ' || g, date '2015-01-01' + g % 365
  FROM generate_series(1, 4000) AS g;
INSERT INTO an.offers (client1_id, client1_name, client1_phone, client2_id, client2_name, client2_phone,
                       agent_id, agent_name, price, created)
SELECT 1 + g % 4000, 'name' || (1 + g % 4000), '06 ' || (1 + g % 4000),
       1 + (g * 7) % 4000, 'name' || (1 + (g * 7) % 4000), '06 ' || (1 + (g * 7) % 4000),
       1 + (g * 13) % 4000, 'name' || (1 + (g * 13) % 4000), 100000 + g, date '2016-01-01' + g % 700
  FROM generate_series(1, 12000) AS g;
INSERT INTO an.attachments (client_id, body) SELECT 1 + g % 4000, '\x00' FROM generate_series(1, 4000) AS g;

-- set-up (not an assertion): registered, with a method per column
SELECT rgpd.set_erasure('an.clients', 'aliases', 'empty');
SELECT rgpd.set_erasure('an.clients', 'prefs', 'empty');
SELECT rgpd.register_subject('an.clients', created_column => 'created',
    personal_columns => '{name,email,login,phone,aliases,prefs,notes}');
SELECT rgpd.register_link('an.offers', 'an.clients', '{client1_id,client2_id,agent_id}', '{created}',
    '{"client1_id": ["client1_name", "client1_phone"], "client2_id": ["client2_name", "client2_phone"],
      "agent_id": ["agent_name"]}');
SELECT rgpd.register_link('an.attachments', 'an.clients', '{client_id}', '{}');
SELECT rgpd.set_erasure('an.attachments', 'client_id', 'delete_row');
SELECT is((SELECT string_agg(c || ':' || rgpd.erasure_method('an.clients', c), ' ' ORDER BY o)
             FROM unnest('{name,email,login,phone,aliases,prefs,notes}'::text[]) WITH ORDINALITY AS u(c, o)),
          'name:mask email:pseudonym login:pseudonym phone:null aliases:empty prefs:empty notes:mask',
          'defaults fit the constraints: pseudonyms for unique columns, NULL under a CHECK');

-- a fingerprint of every table, to prove that a refusal changes nothing
CREATE FUNCTION an.fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5((SELECT string_agg(c::text, '|' ORDER BY c.id) FROM an.clients c)
            || (SELECT string_agg(o::text, '|' ORDER BY o.id) FROM an.offers o)
            || (SELECT string_agg(a::text, '|' ORDER BY a.id) FROM an.attachments a))
$$;
CREATE TEMP TABLE before AS SELECT an.fingerprint() AS f;

-- refusals
SELECT throws_ok($$SELECT rgpd.anonymise('an.clients', ARRAY[1, 2, 999999]::bigint[])$$, 'P0002', NULL,
                 'an unknown id among others: refused');
SET rgpd.require_export = on;
SELECT throws_ok($$SELECT rgpd.anonymise('an.clients', 5)$$, '55000', NULL,
                 'no export while rgpd.require_export is on: refused');
RESET rgpd.require_export;
CREATE ROLE an_agent;
GRANT USAGE ON SCHEMA an TO an_agent;
SET ROLE an_agent;
SELECT throws_ok($$SELECT rgpd.anonymise('an.clients', 5)$$, '42501', NULL, 'a non-manager: refused');
RESET ROLE;
SELECT is(an.fingerprint(), (SELECT f FROM before), 'the refusals changed no row of any table');

-- one subject: client 1 of some offers, client 2 of others, agent of others
SELECT is(rgpd.anonymise('an.clients', 7), 1::bigint, 'one subject anonymised');
SELECT row_eq($$SELECT name, email, login, phone, aliases, prefs, notes, rgpd_status::text FROM an.clients WHERE id = 7$$,
              ROW('XXXXX'::text, 'XXXXX_7'::text, 'XXXXX_7'::varchar, NULL::text, '{}'::text[], '{}'::jsonb, 'XXXXX'::text, 'anonymised'::text),
              'each method: mask, pseudonym, pseudonym, null, empty array, empty json, mask');
SELECT is_empty($$SELECT 1 FROM an.offers WHERE (client1_id = 7 AND (client1_name <> 'XXXXX' OR client1_phone <> 'XXXXX'))
                                            OR (client2_id = 7 AND (client2_name <> 'XXXXX' OR client2_phone <> 'XXXXX'))
                                            OR (agent_id = 7 AND agent_name <> 'XXXXX')$$,
                'every offer column that belongs to the subject is erased');
SELECT is_empty($$SELECT 1 FROM an.offers WHERE client2_id = 7 AND client1_id <> 7 AND client1_name = 'XXXXX'
                                               AND client1_id NOT IN (SELECT id FROM an.clients WHERE rgpd_status = 'anonymised')$$,
                'client 1 of an offer where the subject is client 2 keeps his name');
SELECT is((SELECT count(*) FROM an.offers WHERE client2_id = 7 AND client1_name LIKE 'name%'), 3::bigint,
          'three offers where the subject is client 2 keep client 1''s name');
SELECT is((SELECT count(*) FROM an.attachments WHERE client_id = 7), 0::bigint, 'its attachments are deleted');
SELECT is((SELECT count(*) FROM an.offers), 12000::bigint, 'offers stay (statistics and deal history survive)');

-- a batch of 3 000, in one call
SELECT is(rgpd.anonymise('an.clients', ARRAY(SELECT g::bigint FROM generate_series(1000, 3999) g)), 3000::bigint,
          '3 000 subjects anonymised in one call');
SELECT is((SELECT count(*) FROM an.clients WHERE rgpd_status = 'anonymised'), 3001::bigint, 'all of them, and only them');
SELECT is_empty($$SELECT 1 FROM an.clients c WHERE c.rgpd_status = 'anonymised'
                     AND (c.name <> 'XXXXX' OR c.email <> 'XXXXX_' || c.id OR c.phone IS NOT NULL)$$,
                'no personal value left on an anonymised client');
SELECT is_empty($$SELECT 1 FROM an.offers o
                   WHERE (o.client1_id IN (SELECT id FROM an.clients WHERE rgpd_status = 'anonymised') AND o.client1_name <> 'XXXXX')
                      OR (o.client2_id IN (SELECT id FROM an.clients WHERE rgpd_status = 'anonymised') AND o.client2_name <> 'XXXXX')
                      OR (o.agent_id IN (SELECT id FROM an.clients WHERE rgpd_status = 'anonymised') AND o.agent_name <> 'XXXXX')$$,
                'no personal value left on their offers');
SELECT is_empty($$SELECT 1 FROM an.offers o
                   WHERE (o.client1_id NOT IN (SELECT id FROM an.clients WHERE rgpd_status = 'anonymised') AND o.client1_name = 'XXXXX')
                      OR (o.client2_id NOT IN (SELECT id FROM an.clients WHERE rgpd_status = 'anonymised') AND o.client2_name = 'XXXXX')$$,
                'nothing erased for the others');
SELECT is((SELECT count(*) FROM rgpd.journal WHERE action = 'anonymise' AND subject = 'an.clients'::regclass), 3001::bigint,
          'one journal entry per subject');
SELECT ok((SELECT bool_and(detail ? 'rows') FROM rgpd.journal WHERE action = 'anonymise'),
          'each with its row counts per table');
SELECT is_empty($$SELECT * FROM rgpd.verify('an.clients')$$, 'rewriting linked rows moved no last_contact');
SELECT is(rgpd.anonymise('an.clients', ARRAY[7, 1000]::bigint[]), 0::bigint, 'anonymising again does nothing');

-- the sweep in automatic mode anonymises what is due (the 999 subjects
-- left), skipping subjects without an export when exports are required
SET rgpd.auto_anonymise = on;
SET rgpd.require_export = on;
SELECT ok(rgpd.export('an.clients', 1) IS NOT NULL, 'subject 1 exported');
SELECT results_eq($$SELECT action, count FROM rgpd.sweep('2030-12-31', for_subject => 'an.clients') ORDER BY 1$$,
                  $$VALUES ('anonymise', 1::bigint), ('archive', 999::bigint)$$,
                  'automatic mode: archives what is due, anonymises only the subject with an export');
RESET rgpd.require_export;
SELECT results_eq($$SELECT action, count FROM rgpd.sweep('2030-12-31', for_subject => 'an.clients') ORDER BY 1$$,
                  $$VALUES ('anonymise', 998::bigint), ('archive', 0::bigint)$$,
                  'without the requirement, the rest');

SELECT * FROM finish();
ROLLBACK;
