-- 06_retention_calendar: twelve years of monthly sweeps (2014-01 to
-- 2026-12) over an agency whose invoices are kept 10 years after they are
-- issued and whose appointments are deleted 5 years after they took place.
-- After every sweep, which invoices still hold their client's name (on the
-- row, or held apart by the restricted archive) and which appointments
-- still exist equal an independent computation in plain SQL over the data:
--   anonymised on A = the first day of the month of created + 5 years;
--   an invoice keeps its name after sweep d unless A <= d and
--     issued + 10 years <= d;
--   an appointment exists after sweep d unless at + 5 years <= d;
-- and one client in ten, forgotten by a manager a year after its creation
-- (F = the first of that month), is not archived first: its invoices keep
-- their name on the row, reckoned from the day the forget really runs
-- (today): a name stays unless F <= d and issued + 10 years <= today.
BEGIN;
CREATE EXTENSION pericles_rgpd;
SET client_min_messages = warning;
SET rgpd.auto_anonymise = on;
SELECT plan(11);

CREATE SCHEMA rc;
CREATE TABLE rc.clients (id integer PRIMARY KEY, name text, created date NOT NULL);
CREATE TABLE rc.invoices (id integer PRIMARY KEY, client_id integer REFERENCES rc.clients,
                          client_name text, issued date NOT NULL);
CREATE TABLE rc.appointments (id integer PRIMARY KEY, client_id integer REFERENCES rc.clients,
                              client_name text, at date NOT NULL);
-- 200 clients created from 2014 to 2021; three invoices each, issued from
-- 6 years before to 1 year after; two appointments each, before the
-- client's creation (so that last_contact is the creation date, and the
-- appointments deleted lower nothing the oracle must follow)
INSERT INTO rc.clients SELECT g, 'client ' || g, date '2014-01-01' + g * 13 FROM generate_series(1, 200) AS g;
INSERT INTO rc.invoices
SELECT c.id * 10 + k, c.id, c.name, c.created + (k * 400 - 2190 + c.id % 90)
  FROM rc.clients AS c, generate_series(0, 2) AS k;
INSERT INTO rc.appointments
SELECT c.id * 10 + k, c.id, c.name, c.created - (k * 900 + c.id % 300)
  FROM rc.clients AS c, generate_series(0, 1) AS k;

SELECT lives_ok($$
    SELECT rgpd.register_subject('rc.clients', created_column => 'created', personal_columns => '{name}');
    SELECT rgpd.register_link('rc.invoices', 'rc.clients', '{client_id}', '{}', '{"client_id": ["client_name"]}');
    SELECT rgpd.register_link('rc.appointments', 'rc.clients', '{client_id}', '{at}', '{"client_id": ["client_name"]}');
    SELECT rgpd.set_retention('rc.invoices', 'issued', keep => '10 years', basis => 'L123-22');
    SELECT rgpd.set_retention('rc.appointments', 'at', purge_after => '5 years', purge => 'delete');
$$, 'clients, invoices kept 10 years, appointments purged after 5');

-- the sweeps, on the first of each month, and what each leaves
CREATE TEMP TABLE seen (as_of date, kind text, id integer, present boolean);
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN SELECT m::date FROM generate_series(date '2014-01-01', date '2026-12-01', interval '1 month') AS m LOOP
        PERFORM rgpd.forget('rc.clients', c.id, 'request')
           FROM rc.clients AS c
          WHERE c.id % 10 = 0 AND date_trunc('month', c.created + interval '1 year')::date = d;
        PERFORM rgpd.sweep(d);
        INSERT INTO seen
        SELECT d, 'invoice', i.id,
               i.client_name = 'client ' || i.client_id
               OR EXISTS (SELECT 1 FROM rgpd.archived_values AS a
                           WHERE a.link = 'rc.invoices'::regclass AND a.row_key = i.id::text
                             AND a.vals ->> 'client_name' = 'client ' || i.client_id)
          FROM rc.invoices AS i;
        INSERT INTO seen SELECT d, 'appointment', x.id, EXISTS (SELECT 1 FROM rc.appointments AS p WHERE p.id = x.id)
          FROM (SELECT c.id * 10 + k AS id FROM rc.clients AS c, generate_series(0, 1) AS k) AS x;
    END LOOP;
END
$$;
SELECT is((SELECT count(DISTINCT as_of) FROM seen), 156::bigint, '156 monthly sweeps');

-- the oracle
CREATE TEMP TABLE oracle AS
SELECT s.as_of, 'invoice' AS kind, i.id,
       CASE WHEN c.id % 10 = 0
            THEN NOT (date_trunc('month', c.created + interval '1 year')::date <= s.as_of
                      AND (i.issued + interval '10 years')::date <= CURRENT_DATE)
            ELSE NOT (date_trunc('month', c.created + interval '5 years')::date <= s.as_of
                      AND (i.issued + interval '10 years')::date <= s.as_of)
       END AS present
  FROM (SELECT DISTINCT as_of FROM seen) AS s, rc.invoices AS i JOIN rc.clients AS c ON c.id = i.client_id
UNION ALL
SELECT s.as_of, 'appointment', c.id * 10 + k,
       NOT ((c.created - (k * 900 + c.id % 300)) + interval '5 years')::date <= s.as_of
  FROM (SELECT DISTINCT as_of FROM seen) AS s, rc.clients AS c, generate_series(0, 1) AS k;

SELECT is_empty($$SELECT as_of, kind, id, present FROM seen WHERE kind = 'invoice'
                  EXCEPT SELECT as_of, kind, id, present FROM oracle WHERE kind = 'invoice'$$,
                'after every sweep, the invoices holding a name are those the oracle keeps');
SELECT is_empty($$SELECT as_of, kind, id, present FROM seen WHERE kind = 'appointment'
                  EXCEPT SELECT as_of, kind, id, present FROM oracle WHERE kind = 'appointment'$$,
                'after every sweep, the appointments left are those the oracle keeps');
-- the walk covers every case
SELECT cmp_ok((SELECT count(*) FROM rc.clients c WHERE date_trunc('month', c.created + interval '5 years') <= '2026-12-01'),
              '>', 100::bigint, 'most clients were anonymised on the way');
SELECT cmp_ok((SELECT count(DISTINCT o.id) FROM oracle o JOIN rc.invoices i ON i.id = o.id JOIN rc.clients c ON c.id = i.client_id
                WHERE o.kind = 'invoice' AND o.present
                  AND date_trunc('month', c.created + interval '5 years') <= o.as_of),
              '>', 50::bigint, 'invoices kept past their client''s anonymisation');
SELECT cmp_ok((SELECT count(*) FROM rc.invoices i JOIN rc.clients c ON c.id = i.client_id
                WHERE (i.issued + interval '10 years')::date <= date_trunc('month', c.created + interval '5 years')),
              '>', 50::bigint, 'invoices already past 10 years when their client was anonymised');
SELECT cmp_ok((SELECT count(*) FROM oracle WHERE kind = 'appointment' AND as_of = '2026-12-01' AND NOT present),
              '>', 100::bigint, 'appointments deleted on the way');
SELECT cmp_ok((SELECT count(*) FROM oracle o JOIN rc.invoices i ON i.id = o.id
                WHERE o.kind = 'invoice' AND o.as_of = '2026-12-01' AND o.present AND i.client_id % 10 = 0
                  AND i.client_name = 'client ' || i.client_id),
              '>', 0::bigint, 'invoices of forgotten clients kept with their name on the row');
-- what is still kept is recorded, with its end date
SELECT is((SELECT coalesce(sum(rows), 0)::bigint FROM rgpd.retained_rows WHERE link = 'rc.invoices'::regclass),
          (SELECT count(*) FROM oracle o JOIN rc.invoices i ON i.id = o.id JOIN rc.clients c ON c.id = i.client_id
            WHERE o.kind = 'invoice' AND o.as_of = '2026-12-01' AND o.present
              AND c.rgpd_status = 'anonymised'),
          'rgpd.retained_rows counts the invoices still kept');
SELECT is_empty($$SELECT * FROM rgpd.verify('rc.clients')$$, 'last_contact exact after the purges');

SELECT * FROM finish();
ROLLBACK;
