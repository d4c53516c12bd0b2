-- 09_export: rgpd.export() gives everything held on one person as one
-- JSON document — the record, every linked row grouped by table and by the
-- column that links it, opt-ins, consents, objections, provenance,
-- recontact tasks and journal entries.  This golden file is the shape,
-- documented; only the times of day are blanked.  The export is stored
-- and journaled; an archived record is exported to managers only.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
CREATE SCHEMA exp;
SET search_path = exp, public;

-- volatile times (when things were recorded) and serial ids are shown as "…"
CREATE FUNCTION pg_temp.stable(j jsonb, parent text DEFAULT '') RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE jsonb_typeof(j)
        WHEN 'object' THEN (SELECT coalesce(jsonb_object_agg(k,
                                CASE WHEN k IN ('exported_at', 'recorded_at', 'created_at', 'updated_at',
                                                'optin_id', 'event_id', 'export_id')
                                          OR (k = 'at' AND parent = 'journal')
                                     THEN '"…"'::jsonb ELSE pg_temp.stable(v, k) END), '{}')
                              FROM jsonb_each(j) AS e(k, v))
        WHEN 'array' THEN (SELECT coalesce(jsonb_agg(pg_temp.stable(v, parent) ORDER BY o), '[]')
                             FROM jsonb_array_elements(j) WITH ORDINALITY AS e(v, o))
        ELSE j END
$$;

CREATE TABLE clients (id integer PRIMARY KEY, name text, email text, negotiator text, created date NOT NULL);
CREATE TABLE offers (id integer PRIMARY KEY, client1_id integer REFERENCES clients, client2_id integer REFERENCES clients,
                     client1_name text, client2_name text, reference text, created date NOT NULL);
CREATE TABLE appointments (id integer PRIMARY KEY, client_id integer REFERENCES clients, starts_at timestamptz, what text);
INSERT INTO clients VALUES (1, 'Martin', 'marie.martin@example.fr', 'Léa', '2020-01-15'),
                           (2, 'Bernard', 'jean@example.fr', 'Hugo', '2019-05-05');
INSERT INTO offers VALUES (10, 1, 2, 'Martin', 'Bernard', 'OF-00010', '2021-03-01'),
                          (11, 2, 1, 'Bernard', 'Martin', 'OF-00011', '2022-04-01'),
                          (12, 2, NULL, 'Bernard', NULL, 'OF-00012', '2023-05-01');
INSERT INTO appointments VALUES (100, 1, '2023-06-01 09:30+00', 'visite');
SELECT rgpd.register_subject('exp.clients', created_column => 'created', personal_columns => '{name,email}',
                             negotiator_column => 'negotiator', email_column => 'email', time_zone => 'UTC');
SELECT rgpd.register_link('exp.offers', 'exp.clients', '{client1_id,client2_id}', '{created}',
                          '{"client1_id": ["client1_name"], "client2_id": ["client2_name"]}');
SELECT rgpd.register_link('exp.appointments', 'exp.clients', '{client_id}', '{starts_at}');
SELECT rgpd.create_campaign('export newsletter', 'mail') > 0 AS created;
SELECT rgpd.set_consent('exp.clients', 1, 'export newsletter', true, 'sign-up form', '2023-01-02 10:00+00') > 0 AS consent;
SELECT rgpd.set_consent('exp.clients', 1, 'export newsletter', false, 'e-mail link', '2023-09-09 08:00+00') > 0 AS withdrawn;
SELECT rgpd.object('exp.clients', 1, 'call', 'phone call');
SELECT rgpd.set_provenance('exp.clients', 1, 'portal seloger.com', 'consent');
SELECT rgpd.optin('exp.clients', 1, 'reconsent-email', '2024-02-02 12:00+00') > 0 AS optin;

SELECT jsonb_pretty(pg_temp.stable(rgpd.export('exp.clients', 1)));

-- stored, journaled
SELECT subject, subject_id, actor, document ->> 'format' AS format FROM rgpd.exports
 WHERE subject = 'exp.clients'::regclass ORDER BY id;
SELECT action, subject_id, detail ? 'export_id' AS has_export_id FROM rgpd.journal
 WHERE subject = 'exp.clients'::regclass AND action = 'export';

-- the sweep purges stored exports older than rgpd.export_ttl (10 days)
INSERT INTO rgpd.exports (subject, subject_id, at, actor, document)
VALUES ('exp.clients', 1, now() - interval '11 days', 'postgres', '{}');
SELECT count(*) AS stored FROM rgpd.exports WHERE subject = 'exp.clients'::regclass;
SET rgpd.export_ttl = '30 days';
SELECT count(*) FROM rgpd.sweep('2000-01-01', for_subject => 'exp.clients');
SELECT count(*) AS kept_for_30_days FROM rgpd.exports WHERE subject = 'exp.clients'::regclass;
RESET rgpd.export_ttl;
SELECT count(*) FROM rgpd.sweep('2000-01-01', for_subject => 'exp.clients');
SELECT count(*) AS kept_for_10_days FROM rgpd.exports WHERE subject = 'exp.clients'::regclass;
SELECT detail -> 'exports_purged' AS purged FROM rgpd.journal WHERE action = 'sweep' ORDER BY id DESC LIMIT 1;

-- an archived record is exported to managers only; to others it is unknown
SELECT rgpd.archive('exp.clients', 2) AS archived;
GRANT USAGE ON SCHEMA exp TO regress_agent, regress_manager, regress_owner;
GRANT SELECT ON exp.clients TO regress_agent, regress_manager;
-- an export holds linked rows: it needs SELECT on the linked tables too
GRANT SELECT ON exp.offers, exp.appointments TO regress_agent, regress_manager;
SET ROLE regress_agent;
SELECT try($$SELECT rgpd.export('exp.clients', 2)$$);
SELECT try($$SELECT rgpd.export('exp.clients', 1) IS NOT NULL$$);
RESET ROLE;
SET ROLE regress_manager;
SELECT rgpd.export('exp.clients', 2) #>> '{record,name}' AS name,
       jsonb_array_length(rgpd.export('exp.clients', 2) #> '{linked,exp.offers,client1_id}') AS as_client1;
RESET ROLE;
-- a role that may not read the table may not export from it
SET ROLE regress_owner;
SELECT try($$SELECT rgpd.export('exp.clients', 1)$$);
RESET ROLE;

-- a read-only transaction on the primary is refused (25006): there every
-- export is stored and journaled (only a hot standby answers without the
-- record, test/standby/checks.sql), and nothing is written
SELECT count(*) AS exports FROM rgpd.exports \gset
SELECT count(*) AS journal_lines FROM rgpd.journal \gset
SET client_min_messages = notice;
BEGIN READ ONLY;
SELECT rgpd.export('exp.clients', 1) #>> '{record,name}' AS exported_read_only;
ROLLBACK;
SET client_min_messages = warning;
SELECT count(*) - :exports AS exports_added, (SELECT count(*) FROM rgpd.journal) - :journal_lines AS journal_lines_added
  FROM rgpd.exports;

DROP SCHEMA exp CASCADE;
