-- 30_statement_settings: the statements the extension runs are built in C
-- from the configuration (src/*_statements.c), in the caller's session.
-- What they do must not depend on that session's settings: IntervalStyle
-- (policy periods are written into them as literals), DateStyle, TimeZone,
-- search_path; nor on names that need quoting (mixed case, spaces,
-- quotes).  The lists, a sweep and an erasure are run under four sets of
-- settings and compared with the first.  As ordinary login roles: the
-- owner of the tables, and a personal-data manager.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA "Settings ""Test""" AUTHORIZATION regress_owner;

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = "Settings ""Test""", public;
CREATE TABLE "Clients" ("Client Id" bigint PRIMARY KEY, "Full Name" text, "Since" date NOT NULL,
                        "Agent" text, "E-mail" text);
CREATE TABLE "Offers" (id serial PRIMARY KEY,
                       "Client Id" bigint REFERENCES "Clients", "Other Client" bigint REFERENCES "Clients",
                       "Signed At" timestamptz, "Buyer Name" text, "Other Name" text,
                       "Rental" boolean NOT NULL DEFAULT false);
INSERT INTO "Clients"
SELECT g, 'Name ' || g, date '2016-01-01' + g * 7, 'agent ' || (g % 3), 'c' || g || '@example.fr'
  FROM generate_series(1, 80) g;
INSERT INTO "Offers" ("Client Id", "Other Client", "Signed At", "Buyer Name", "Other Name", "Rental")
SELECT g, CASE WHEN g % 4 = 0 THEN g + 1 END,
       timestamptz '2018-06-01 23:30+00' + g * interval '9 days', 'Buyer ' || g,
       CASE WHEN g % 4 = 0 THEN 'Other ' || g END, g % 10 = 0
  FROM generate_series(1, 60) g;
SELECT rgpd.register_subject('"Settings ""Test"""."Clients"', key_column => 'Client Id',
                             created_column => 'Since', personal_columns => '{"Full Name","E-mail"}',
                             negotiator_column => 'Agent', email_column => 'E-mail',
                             time_zone => 'Europe/Paris') IS NOT NULL AS registered;
SELECT rgpd.register_link('"Settings ""Test"""."Offers"', '"Settings ""Test"""."Clients"',
                          '{"Client Id","Other Client"}', '{"Signed At"}',
                          '{"Client Id": ["Buyer Name"], "Other Client": ["Other Name"]}',
                          excludes_when => '"Rental"') IS NOT NULL AS registered;
-- periods with months, days and hours, which each IntervalStyle writes
-- differently; a named policy whose predicate quotes a column
SELECT rgpd.set_policy('"Settings ""Test"""."Clients"', interval '3 years 1 mon 2 days 03:04:05',
                       interval '5 years 6 mons 10 days');
SELECT rgpd.set_policy('"Settings ""Test"""."Clients"', interval '2 years 3 mons', interval '4 years 1 day',
                       applies_when => '"Agent" = ''agent 1''', name => 'agent''s "one"');
GRANT USAGE ON SCHEMA "Settings ""Test""" TO regress_manager;
GRANT SELECT ON ALL TABLES IN SCHEMA "Settings ""Test""" TO regress_manager;

-- what the lists, verify and is_excluded say, as text that does not
-- depend on the settings (days counted from 2000-01-01)
CREATE FUNCTION lists(as_of date) RETURNS text LANGUAGE sql AS $$
    SELECT pg_catalog.md5(pg_catalog.concat_ws('|',
        (SELECT pg_catalog.string_agg(p.id || ':' || (p.last_contact - date '2000-01-01') || ':'
                                      || (p.due_on - date '2000-01-01') || ':' || p.policy || ':'
                                      || coalesce(p.negotiator, '-'), ',' ORDER BY p.id)
           FROM rgpd.pending('archive', as_of) AS p),
        (SELECT pg_catalog.string_agg(d.metric || '=' || d.value, ',' ORDER BY d.metric)
           FROM (SELECT x.key AS metric, x.value FROM pg_catalog.jsonb_each_text(
                     pg_catalog.to_jsonb((SELECT r FROM rgpd.dashboard(as_of) AS r LIMIT 1))
                     OPERATOR(pg_catalog.-) 'subject') AS x) AS d),
        (SELECT pg_catalog.count(*) FROM rgpd.verify('"Settings ""Test"""."Clients"')),
        (SELECT pg_catalog.string_agg(g || ':' || rgpd.is_excluded('"Settings ""Test"""."Clients"', g), ',')
           FROM pg_catalog.generate_series(8, 12) AS g)))
$$;
-- the state of both tables, likewise
CREATE FUNCTION state() RETURNS text LANGUAGE sql AS $$
    SELECT pg_catalog.md5(pg_catalog.concat_ws('|',
        (SELECT pg_catalog.string_agg(c."Client Id" || ':' || c.rgpd_status || ':'
                                      || coalesce((c.last_contact - date '2000-01-01')::text, '-') || ':'
                                      || coalesce(c."Full Name", '-') || ':' || coalesce(c."E-mail", '-'),
                                      ',' ORDER BY c."Client Id")
           FROM "Settings ""Test"""."Clients" AS c),
        (SELECT pg_catalog.string_agg(o.id || ':' || coalesce(o."Buyer Name", '-') || ':'
                                      || coalesce(o."Other Name", '-'), ',' ORDER BY o.id)
           FROM "Settings ""Test"""."Offers" AS o)))
$$;
GRANT EXECUTE ON FUNCTION state() TO regress_manager;
SELECT count(*) AS due_to_archive FROM rgpd.pending('archive', date '2022-03-15');

-- the lists under each set of settings (a new session each time: no
-- statement built under one set is reused under the next)
\c - regress_owner
SET intervalstyle = postgres; SET datestyle = 'ISO, YMD'; SET timezone = 'UTC';
SET search_path = "Settings ""Test""", public;
SELECT lists(date '2022-03-15') AS lists_1 \gset
\c - regress_owner
SET intervalstyle = sql_standard; SET datestyle = 'SQL, DMY'; SET timezone = 'America/Los_Angeles';
SET search_path = public, "Settings ""Test""";
SELECT lists(date '2022-03-15') AS lists_2 \gset
\c - regress_owner
SET intervalstyle = iso_8601; SET datestyle = 'German'; SET timezone = 'Asia/Tokyo';
SET search_path = pg_temp, "Settings ""Test""";
SELECT lists(date '2022-03-15') AS lists_3 \gset
\c - regress_owner
SET intervalstyle = postgres_verbose; SET datestyle = 'Postgres, MDY'; SET timezone = 'Pacific/Chatham';
SET search_path = "Settings ""Test""";
SELECT lists(date '2022-03-15') AS lists_4 \gset
SELECT :'lists_1' = :'lists_2' AND :'lists_1' = :'lists_3' AND :'lists_1' = :'lists_4' AS same_lists;

-- a sweep and an erasure by a manager, each rolled back, under each set
\c - regress_manager
SET client_min_messages = warning;
SET intervalstyle = postgres; SET datestyle = 'ISO, YMD'; SET timezone = 'UTC';
BEGIN;
SELECT sum(count) > 0 AS swept FROM rgpd.sweep(date '2022-03-15');
SELECT rgpd.anonymise('"Settings ""Test"""."Clients"', ARRAY[4, 5, 8]::bigint[]) AS anonymised;
SELECT "Settings ""Test""".state() AS state_1 \gset
ROLLBACK;
\c - regress_manager
SET client_min_messages = warning;
SET intervalstyle = sql_standard; SET datestyle = 'SQL, DMY'; SET timezone = 'America/Los_Angeles';
BEGIN;
SELECT sum(count) > 0 AS swept FROM rgpd.sweep(date '2022-03-15');
SELECT rgpd.anonymise('"Settings ""Test"""."Clients"', ARRAY[4, 5, 8]::bigint[]) AS anonymised;
SELECT "Settings ""Test""".state() AS state_2 \gset
ROLLBACK;
\c - regress_manager
SET client_min_messages = warning;
SET intervalstyle = iso_8601; SET datestyle = 'German'; SET timezone = 'Asia/Tokyo';
SET search_path = pg_temp, public;
BEGIN;
SELECT sum(count) > 0 AS swept FROM rgpd.sweep(date '2022-03-15');
SELECT rgpd.anonymise('"Settings ""Test"""."Clients"', ARRAY[4, 5, 8]::bigint[]) AS anonymised;
SELECT "Settings ""Test""".state() AS state_3 \gset
ROLLBACK;
\c - regress_manager
SET client_min_messages = warning;
SET intervalstyle = postgres_verbose; SET datestyle = 'Postgres, MDY'; SET timezone = 'Pacific/Chatham';
BEGIN;
SELECT sum(count) > 0 AS swept FROM rgpd.sweep(date '2022-03-15');
SELECT rgpd.anonymise('"Settings ""Test"""."Clients"', ARRAY[4, 5, 8]::bigint[]) AS anonymised;
SELECT "Settings ""Test""".state() AS state_4 \gset
ROLLBACK;
SELECT :'state_1' = :'state_2' AND :'state_1' = :'state_3' AND :'state_1' = :'state_4' AS same_state;
-- and the erasure did erase: the state differs from the untouched one
SELECT "Settings ""Test""".state() <> :'state_1' AS erased;

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA "Settings ""Test""" CASCADE;
