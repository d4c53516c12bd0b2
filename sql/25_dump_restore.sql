-- 25_dump_restore: a fully registered database survives pg_dump and
-- pg_restore into a NEW database.  The original holds a partitioned
-- subject table, links (one archived with its subject, with personal
-- columns and a rental exclusion), an attachment link erased by deleting
-- rows, named policies with predicates, erasure methods, campaigns,
-- consents, objections, provenance, opt-ins, a recontact task, an archived
-- person whose linked values are held in rgpd.archived_values, a forgotten
-- one, a stored export, and the journal of all that.  The copy, restored
-- by a superuser (pg_dump must read through FORCE ROW LEVEL SECURITY),
-- holds the same configuration and state, and works, as ordinary login
-- roles: the triggers move last_contact (and still refuse a forged
-- trigger), the restricted archive holds on the table and on its
-- partitions (and on one created afterwards), the archived person's
-- linked values come back on unarchive, the campaign and export numbers
-- go on (stored exports themselves are not dumped),
-- verify() is empty and a sweep archives what is due.  A plain SQL dump
-- restored by psql gives the same copy.  pg_dump and pg_restore run from
-- psql (\!) against this cluster.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
CREATE DATABASE rgpd_dump;
\c rgpd_dump
SET client_min_messages = warning;
CREATE EXTENSION pericles_rgpd;
CREATE FUNCTION public.try(sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ': ' || msg;
END
$$;
CREATE SCHEMA crm AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA crm TO regress_manager, regress_agent;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = crm, public;
SET datestyle = 'ISO, YMD';
CREATE TABLE clients (
    id         bigint PRIMARY KEY,
    name       text NOT NULL,
    email      text,
    phone      text,
    kind       text NOT NULL DEFAULT 'client',
    negotiator text,
    created    date NOT NULL
) PARTITION BY RANGE (id);
CREATE TABLE clients_a PARTITION OF clients FOR VALUES FROM (1) TO (100);
CREATE TABLE clients_b PARTITION OF clients FOR VALUES FROM (100) TO (200);
CREATE TABLE offers (
    id           bigint PRIMARY KEY,
    client1_id   bigint REFERENCES clients, client1_name text,
    client2_id   bigint REFERENCES clients, client2_name text,
    transaction  text NOT NULL DEFAULT 'sale',
    created      date NOT NULL
);
CREATE TABLE attachments (id bigint PRIMARY KEY, client_id bigint REFERENCES clients, filename text);
INSERT INTO clients VALUES
    (1, 'Martin', 'martin@example.fr', '0611', 'client', 'alice', '2016-01-10'),
    (2, 'Bernard', 'bernard@example.fr', '0622', 'client', 'alice', '2016-01-10'),
    (3, 'Dubois', 'dubois@example.fr', '0633', 'client', 'bob', '2016-01-10'),
    (4, 'Thomas', 'thomas@example.fr', '0644', 'prospect', 'bob', '2022-01-10'),
    (5, 'Robert', 'robert@example.fr', '0655', 'client', 'alice', '2016-01-10'),
    (101, 'Richard', 'richard@example.fr', '0666', 'client', 'bob', '2016-01-10'),
    (102, 'Petit', 'petit@example.fr', '0677', 'client', 'alice', '2016-01-10');
INSERT INTO offers VALUES
    (10, 3, 'Dubois', 1, 'Martin', 'sale', '2017-02-01'),
    (11, 1, 'Martin', NULL, NULL, 'sale', '2024-02-01'),
    (12, 5, 'Robert', NULL, NULL, 'rental', '2017-02-01'),
    (13, 101, 'Richard', 3, 'Dubois', 'sale', '2017-03-01');
INSERT INTO attachments VALUES (1, 2, 'id-bernard.pdf'), (2, 3, 'id-dubois.pdf');
SELECT rgpd.register_subject('crm.clients', created_column => 'created',
                             personal_columns => '{name,email,phone}', negotiator_column => 'negotiator',
                             email_column => 'email', mobile_column => 'phone', time_zone => 'UTC');
SELECT rgpd.register_link('crm.offers', 'crm.clients', '{client1_id,client2_id}', '{created}',
                          '{"client1_id": ["client1_name"], "client2_id": ["client2_name"]}',
                          excludes_when => $$transaction = 'rental'$$, archive_with_subject => true);
SELECT rgpd.register_link('crm.attachments', 'crm.clients', '{client_id}', '{}');
SELECT rgpd.set_erasure('crm.attachments', 'client_id', 'delete_row');
SELECT rgpd.set_erasure('crm.clients', 'email', 'pseudonym');
SELECT rgpd.set_erasure('crm.clients', 'phone', 'null');
SELECT rgpd.set_policy('crm.clients', '3 years', '5 years');
SELECT rgpd.set_policy('crm.clients', '1 year', '2 years', $$kind = 'prospect'$$, 'prospects');
GRANT SELECT, INSERT, UPDATE ON clients, clients_a, clients_b, offers, attachments TO regress_agent;
GRANT SELECT ON clients, clients_a, clients_b, offers, attachments TO regress_manager;
-- the application's own consents, objections, provenance and opt-ins
SELECT rgpd.optin('crm.clients', 2, 'e-mail link', '2024-01-05 10:00+00') > 0 AS opted_in;
SELECT rgpd.set_provenance('crm.clients', 1, 'web form', 'consent');
SELECT rgpd.object('crm.clients', 5, 'call', 'phone call') AS objected;

\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.create_campaign('newsletter', 'mail') > 0 AS created;
SELECT rgpd.create_campaign('sms offers', 'sms') > 0 AS created;
SELECT rgpd.set_consent('crm.clients', 1, 'newsletter', true, 'sign-up form', '2024-02-01 10:00+00') > 0 AS consented;
SELECT rgpd.set_consent('crm.clients', 2, 'newsletter', true, 'portal', '2024-02-02 10:00+00') > 0 AS consented;
SELECT rgpd.set_consent('crm.clients', 2, 'newsletter', false, 'e-mail link', '2024-03-03 10:00+00') > 0 AS withdrawn;
SELECT rgpd.set_consent('crm.clients', 101, 'sms offers', true, 'agency', '2024-02-01 10:00+00') > 0 AS consented;
-- Dubois archived: his names leave the offers for rgpd.archived_values;
-- Petit forgotten
SELECT rgpd.archive('crm.clients', 3) AS archived;
-- a retention rule (offers kept 10 years) and a legal hold on Martin
SELECT rgpd.set_retention('crm.offers', 'created', keep => '10 years', basis => 'L123-22');
SELECT rgpd.hold('crm.clients', 1, 'claim 2026/114');
-- Petit's last invoice-like offer is kept when he is forgotten below
\c - regress_owner
SET client_min_messages = warning;
INSERT INTO crm.offers VALUES (90, 102, 'Petit', NULL, NULL, 'sale', '2024-05-01');
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.forget('crm.clients', 102, 'letter') AS forgotten;
SELECT link, subject_id, subject_column, row_key, vals FROM rgpd.archived_values ORDER BY 1, 3, 4;
-- an export: stored and journaled (the stored documents are not dumped)
SELECT rgpd.export('crm.clients', 1) #>> '{record,name}' AS exported;
SELECT max((detail ->> 'export_id')::bigint) AS last_export FROM rgpd.journal WHERE action = 'export' \gset

-- what the copy must hold: the extension's tables, and the application's
-- tables as a superuser sees them
\c - postgres
SET client_min_messages = warning;
CREATE FUNCTION public.fingerprint() RETURNS TABLE (tbl text, rows bigint, md5 text)
LANGUAGE sql AS $$
    SELECT 'subjects', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.subjects AS x
    UNION ALL SELECT 'links', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.links AS x
    UNION ALL SELECT 'policies', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.policies AS x
    UNION ALL SELECT 'erasures', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.erasures AS x
    UNION ALL SELECT 'partitions', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.partitions AS x
    UNION ALL SELECT 'campaigns', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.campaigns AS x
    UNION ALL SELECT 'consent_events', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.consent_events AS x
    UNION ALL SELECT 'consents', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.consents AS x
    UNION ALL SELECT 'objections', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.objections AS x
    UNION ALL SELECT 'provenance', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.provenance AS x
    UNION ALL SELECT 'optin_events', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.optin_events AS x
    UNION ALL SELECT 'recontact_tasks', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.recontact_tasks AS x
    UNION ALL SELECT 'archived_values', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.archived_values AS x
    UNION ALL SELECT 'journal', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.journal AS x
    UNION ALL SELECT 'retention', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.retention AS x
    UNION ALL SELECT 'retained_rows', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.retained_rows AS x
    UNION ALL SELECT 'holds', count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM rgpd.holds AS x
    UNION ALL SELECT 'clients', count(*), md5(string_agg(x::text, '|' ORDER BY x.id)) FROM crm.clients AS x
    UNION ALL SELECT 'offers', count(*), md5(string_agg(x::text, '|' ORDER BY x.id)) FROM crm.offers AS x
    UNION ALL SELECT 'attachments', count(*), md5(string_agg(x::text, '|' ORDER BY x.id)) FROM crm.attachments AS x
    UNION ALL SELECT 'policies on the tables', count(*),
                     md5(string_agg(p.tablename || ' ' || p.policyname || ' ' || p.permissive || ' ' || p.qual,
                                    '|' ORDER BY p.tablename, p.policyname))
                FROM pg_policies AS p WHERE p.schemaname = 'crm'
    UNION ALL SELECT 'row security', count(*),
                     md5(string_agg(c.relname || ' ' || c.relrowsecurity || ' ' || c.relforcerowsecurity,
                                    '|' ORDER BY c.relname))
                FROM pg_class AS c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
    UNION ALL SELECT 'triggers', count(*),
                     md5(string_agg(pg_get_triggerdef(t.oid), '|' ORDER BY t.tgrelid::regclass::text, t.tgname))
                FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
               WHERE c.relnamespace = 'crm'::regnamespace AND NOT t.tgisinternal
$$;
CREATE TEMP TABLE original AS SELECT * FROM public.fingerprint();
SELECT tbl, rows FROM original ORDER BY tbl;
SELECT string_agg(format('(%L, %s, %L)', tbl, rows, md5), ', ' ORDER BY tbl) AS original FROM original \gset

-- the backup, by a superuser (FORCE ROW LEVEL SECURITY: a role under row
-- security cannot dump the subject table)
\! pg_dump -Fc -d rgpd_dump -f "$PGHOST/rgpd_dump.dump" && echo dumped
\! pg_dump -Fc -U regress_owner -n crm -d rgpd_dump -f /dev/null 2>&1 | grep -o 'query would be affected by row-level security policy for table "clients[a-z_]*"' | head -1
CREATE DATABASE rgpd_dump_restored;
\! pg_restore --exit-on-error -d rgpd_dump_restored "$PGHOST/rgpd_dump.dump" && echo restored
\! rm -f "$PGHOST/rgpd_dump.dump"
-- the same through a plain SQL dump and psql
CREATE DATABASE rgpd_dump_plain;
\! pg_dump -d rgpd_dump | psql -X -q -v ON_ERROR_STOP=1 -d rgpd_dump_plain >/dev/null && echo restored from plain SQL
\c rgpd_dump_plain
SELECT count(*) AS tables, count(*) FILTER (WHERE f.md5 = o.md5) AS same
  FROM public.fingerprint() AS f
  FULL JOIN (VALUES :original) AS o(tbl, rows, md5) USING (tbl);

\c rgpd_dump_restored
SET client_min_messages = warning;
-- everything is back, as it was
SELECT f.tbl, f.rows, f.md5 = o.md5 AS same
  FROM public.fingerprint() AS f
  FULL JOIN (VALUES :original) AS o(tbl, rows, md5) USING (tbl)
 ORDER BY 1;
SELECT subject, key_column, personal_columns, negotiator_column, email_column, mobile_column FROM rgpd.subjects;
SELECT link, subject, subject_columns, date_columns, personal_columns, excludes_when, archive_with_subject
  FROM rgpd.links ORDER BY link::text;
SELECT subject, name, archive_after, anonymise_after, applies_when FROM rgpd.policies ORDER BY name;
SELECT tbl, col, rgpd.erasure_method(tbl, col) FROM rgpd.erasures ORDER BY tbl::text, col;
SELECT partition, subject FROM rgpd.partitions ORDER BY partition::text;

\c - regress_manager
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
-- campaigns: the sequence came with them
SELECT id, label, channel FROM rgpd.campaigns ORDER BY id;
SELECT rgpd.create_campaign('partners', 'sms') AS new_campaign;
SELECT campaign, value, origin, at FROM rgpd.consent_history('crm.clients', 2);
SELECT * FROM rgpd.recipients('newsletter');
SELECT subject_id, do_not_email, do_not_call FROM rgpd.objections;
SELECT subject_id, source, legal_basis FROM rgpd.provenance;
SELECT subject_id, origin FROM rgpd.optin_events;
SELECT subject_id, reason, done_at FROM rgpd.recontact_tasks;
-- the retention rule and the legal hold came back, and the hold holds
SELECT link, date_column, keep, basis FROM rgpd.retention;
SELECT subject, subject_id, reason FROM rgpd.holds;
SELECT try($$SELECT rgpd.forget('crm.clients', 1, 'letter')$$);
SELECT action, count(*) FROM rgpd.journal GROUP BY 1 ORDER BY 1;
-- stored exports are left out of the dump; their numbers go on
SELECT count(*) AS stored_exports FROM rgpd.exports;
SELECT rgpd.export('crm.clients', 1) #>> '{record,name}' AS exported;
SELECT max((detail ->> 'export_id')::bigint) > :last_export AS new_export_number
  FROM rgpd.journal WHERE action = 'export';
SELECT subject, to_archive, to_anonymise, archived, anonymised, excluded FROM rgpd.dashboard('2024-06-15');

-- the restricted archive holds on the table and on its partitions
\c - regress_agent
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SELECT id, name, rgpd_status FROM crm.clients ORDER BY id;
SELECT id FROM crm.clients_a ORDER BY id;
SELECT id, client1_name, client2_name FROM crm.offers ORDER BY id;
SELECT try($$SELECT * FROM rgpd.archived_values$$);
-- the triggers fire: a new offer is a contact
INSERT INTO crm.offers VALUES (14, 2, 'Bernard', NULL, NULL, 'sale', '2024-05-01');
SELECT id, last_contact FROM crm.clients WHERE id = 2;
\c - regress_manager
SET client_min_messages = warning;
SELECT id, name, rgpd_status FROM crm.clients_a WHERE id = 3;
SELECT subject_id, subject_column, row_key, vals FROM rgpd.archived_values ORDER BY 2, 3;

-- a forged trigger is still refused
\c - postgres
SELECT string_agg(quote_literal(a), ', ' ORDER BY o) AS real_args
  FROM unnest(rgpd._link_trigger_args('crm.offers')) WITH ORDINALITY AS u(a, o) \gset
\c - regress_owner
SET client_min_messages = warning;
CREATE TRIGGER sneaky AFTER INSERT ON crm.offers REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION rgpd.link_trigger(:real_args);
SELECT try($$INSERT INTO crm.offers VALUES (15, 1, 'Martin', NULL, NULL, 'sale', '2024-05-02')$$);
DROP TRIGGER sneaky ON crm.offers;
SELECT count(*) AS stale_rows FROM rgpd.verify('crm.clients');
-- a partition created in the copy gets the restricted archive
CREATE TABLE crm.clients_c PARTITION OF crm.clients FOR VALUES FROM (200) TO (300);
SELECT policyname, permissive FROM pg_policies WHERE schemaname = 'crm' AND tablename = 'clients_c' ORDER BY 1;
-- and a partition's row-level security cannot be turned off under it
ALTER TABLE crm.clients_b DISABLE ROW LEVEL SECURITY;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'crm.clients_b'::regclass;

-- un-archived, Dubois gets his names back on the offers
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.unarchive('crm.clients', 3) AS unarchived;
SELECT id, client1_name, client2_name FROM crm.offers WHERE 3 IN (client1_id, client2_id) ORDER BY id;
SELECT count(*) AS held FROM rgpd.archived_values;
-- the sweep works: what is due is archived (Robert rents: excluded)
SELECT action, subject, count FROM rgpd.sweep('2024-06-15') ORDER BY 1;
SELECT id, rgpd_status FROM crm.clients ORDER BY id;
SELECT subject_id, count(*) AS held FROM rgpd.archived_values GROUP BY 1 ORDER BY 1;
\c - regress_owner
SET client_min_messages = warning;
SELECT count(*) AS stale_rows FROM rgpd.verify('crm.clients');

\c :regress_db postgres
SET client_min_messages = warning;
DROP DATABASE rgpd_dump WITH (FORCE);
DROP DATABASE rgpd_dump_restored WITH (FORCE);
DROP DATABASE rgpd_dump_plain WITH (FORCE);
