-- 22_trigger_grammar: any column or table name works in a registration.
-- The trigger arguments are keyword:value, split at the first colon, so a
-- value named like a keyword (subject, key, tz, column, date, personal,
-- delete, created), in mixed case with a space ("Client Id"), or holding a
-- colon ("a:b", a table "Odd: Clients") is read as a value.  In 1.0 a link
-- with a column called "subject" registered fine, then every INSERT failed
-- with 42704 "table 0 is not registered".  Here: linked rows inserted,
-- corrected, re-pointed and deleted keep last_contact exact (rgpd.verify()
-- empty), and anonymisation erases every personal column so named, on the
-- subject and on its linked rows, and deletes the attachments.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA grammar AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA grammar TO regress_manager;

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = grammar, public;
CREATE TABLE "Odd: Clients" (
    "Client Id" bigint PRIMARY KEY,
    "date"      date NOT NULL,
    "subject" text, "key" text, "tz" text, "column" text, "personal" text,
    "delete" text, "created" text, "a:b" text, "first name" text
);
CREATE TABLE agents ("key" integer PRIMARY KEY, "subject" text);
CREATE TABLE "Deals: 2024" (
    id          serial PRIMARY KEY,
    "subject"   bigint,
    "Client Id" bigint,
    "key"       integer,
    "date"      date,
    "tz"        timestamptz,
    "created"   date,
    "personal"  text,
    "column"    text,
    "delete"    text,
    "a:b"       text
);
CREATE TABLE notes (id serial PRIMARY KEY, "delete" bigint, "personal" text);
INSERT INTO "Odd: Clients" VALUES
    (1, '2015-01-01', 's1', 'k1', 't1', 'c1', 'p1', 'd1', 'cr1', 'ab1', 'Jean'),
    (2, '2015-02-01', 's2', 'k2', 't2', 'c2', 'p2', 'd2', 'cr2', 'ab2', 'Anne');
INSERT INTO agents VALUES (10, 'agent ten');

SELECT rgpd.register_subject('grammar."Odd: Clients"', key_column => 'Client Id', created_column => 'date',
    personal_columns => '{subject,key,tz,column,personal,delete,created,a:b,first name}', time_zone => 'UTC');
SELECT rgpd.register_subject('grammar.agents', key_column => 'key', personal_columns => '{subject}',
                             time_zone => 'UTC');
SELECT rgpd.register_link('grammar."Deals: 2024"', 'grammar."Odd: Clients"', '{subject,Client Id}', '{date,tz}',
                          '{"subject": ["personal", "column"], "Client Id": ["delete", "a:b"]}');
SELECT rgpd.register_link('grammar."Deals: 2024"', 'grammar.agents', '{key}', '{created}');
SELECT rgpd.register_link('grammar.notes', 'grammar."Odd: Clients"', '{delete}', '{}', '{"delete": ["personal"]}');
SELECT rgpd.set_erasure('grammar.notes', 'delete', 'delete_row');

-- the arguments, one keyword:value each
SELECT tgname, substring(pg_get_triggerdef(oid) FROM 'EXECUTE FUNCTION (.*)$') AS function
  FROM pg_trigger
 WHERE tgrelid IN ('grammar."Odd: Clients"'::regclass, 'grammar."Deals: 2024"'::regclass, 'grammar.notes'::regclass)
   AND tgname IN ('rgpd_subject_guard', 'rgpd_link_insert')
 ORDER BY tgrelid::regclass::text, tgname;

CREATE VIEW state AS
    SELECT 'client' AS kind, "Client Id" AS id, last_contact FROM "Odd: Clients"
    UNION ALL SELECT 'agent', "key", last_contact FROM agents;
CREATE FUNCTION healthy() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (SELECT FROM rgpd.verify('grammar."Odd: Clients"'))
       AND NOT EXISTS (SELECT FROM rgpd.verify('grammar.agents'))
$$;

-- at registration: the creation dates (agents have none)
SELECT * FROM state ORDER BY 1, 2;

-- insert: both subject columns and the agent get the row's greatest date
INSERT INTO "Deals: 2024" ("subject", "Client Id", "key", "date", "tz", "created", "personal", "column", "delete", "a:b")
VALUES (1, 2, 10, '2020-05-01', '2021-02-03 23:30+00', '2019-09-09', 'p', 'c', 'd', 'ab'),
       (2, NULL, NULL, '2018-01-01', NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM state ORDER BY 1, 2;
SELECT healthy();

-- a date corrected downwards: recomputed
UPDATE "Deals: 2024" SET "tz" = NULL WHERE id = 1;
SELECT * FROM state ORDER BY 1, 2;
-- re-pointed: client 1 loses the deal, client 2 keeps it through "Client Id"
UPDATE "Deals: 2024" SET "subject" = NULL WHERE id = 1;
SELECT * FROM state ORDER BY 1, 2;
SELECT healthy();
-- deleted: client 2 keeps its later deal
DELETE FROM "Deals: 2024" WHERE id = 2;
SELECT * FROM state ORDER BY 1, 2;
UPDATE "Deals: 2024" SET "subject" = 1, "date" = '2022-06-06' WHERE id = 1;
SELECT * FROM state ORDER BY 1, 2;
SELECT healthy();

-- attachments of client 1 and 2, and one more deal for client 1
INSERT INTO notes ("delete", "personal") VALUES (1, 'note about 1'), (2, 'note about 2');
INSERT INTO "Deals: 2024" ("subject", "Client Id", "personal", "column", "delete", "a:b")
VALUES (2, 1, 'p2', 'c2', 'd1', 'ab1');
SELECT healthy();

GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA grammar TO regress_manager;

-- anonymisation erases every personal column, whatever it is called
\c - regress_manager
SET client_min_messages = warning;
SET search_path = grammar, public;
SELECT rgpd.anonymise('grammar."Odd: Clients"', 1) AS anonymised;
SELECT "Client Id", "subject", "key", "tz", "column", "personal", "delete", "created", "a:b", "first name",
       rgpd_status
  FROM "Odd: Clients" ORDER BY 1;
SELECT id, "subject", "Client Id", "personal", "column", "delete", "a:b" FROM "Deals: 2024" ORDER BY id;
SELECT "delete", "personal" FROM notes ORDER BY 1;

-- and the anonymised row's personal columns stay erased
\c - regress_owner
SET client_min_messages = warning;
SET search_path = grammar, public;
SELECT try($$UPDATE "Odd: Clients" SET "a:b" = 'back' WHERE "Client Id" = 1$$);
SELECT try($$UPDATE "Odd: Clients" SET "key" = 'back' WHERE "Client Id" = 1$$);
SELECT healthy();

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA grammar CASCADE;
