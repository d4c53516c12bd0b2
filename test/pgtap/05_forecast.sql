-- 05_forecast: rgpd.forecast(24) equals, month by month, an independent
-- computation over a calendar of 24 months from the current one — two
-- policies, last contacts on month ends and leap days, rentals kept out,
-- archived subjects counted for anonymising only, anonymised ones never,
-- overdue ones never; the same per negotiator; to_anonymise NULL for a
-- role that is not a manager; portfolio counts of rgpd.dashboard() equal
-- a plain count.
BEGIN;
CREATE EXTENSION pericles_rgpd;
SET client_min_messages = warning;
SELECT plan(9);

CREATE SCHEMA fc;
CREATE TABLE fc.clients (id integer PRIMARY KEY, kind text NOT NULL, negotiator text,
                         created date NOT NULL);
CREATE TABLE fc.offers (id serial PRIMARY KEY, client_id integer REFERENCES fc.clients,
                        transaction text NOT NULL, created date NOT NULL);
-- 1 500 subjects whose due dates fall from three years ago to three
-- years ahead: creation dates on month ends, leap days, and in between
INSERT INTO fc.clients
SELECT g,
       CASE WHEN g % 4 = 0 THEN 'prospect' ELSE 'client' END,
       (ARRAY['Léa', 'Marc', 'Zoé', NULL])[1 + (g / 3) % 4],
       CASE g % 5
           WHEN 0 THEN (date_trunc('month', current_date - 365 * 6 + g * 2) + interval '1 month - 1 day')::date
           WHEN 1 THEN (ARRAY[date '2020-02-29', date '2024-02-29', date '2021-02-28'])[1 + g % 3]
           ELSE current_date - 365 * 6 + g * 2
       END
  FROM generate_series(1, 1500) AS g;
INSERT INTO fc.offers (client_id, transaction, created)
SELECT g, CASE WHEN g % 13 = 0 THEN 'rental' ELSE 'sale' END, current_date - 365 * 5 + g
  FROM generate_series(1, 1500, 7) AS g;

-- set-up (not an assertion): subject, link and two policies register
SELECT rgpd.register_subject('fc.clients', created_column => 'created', negotiator_column => 'negotiator');
SELECT rgpd.register_link('fc.offers', 'fc.clients', '{client_id}', '{created}',
                          excludes_when => 'transaction = ''rental''');
SELECT rgpd.set_policy('fc.clients', '2 years', '4 years', 'kind = ''prospect''', 'prospects');
SELECT is(rgpd.archive('fc.clients', ARRAY(SELECT g::bigint FROM generate_series(3, 1500, 10) g)),
          150::bigint, '150 subjects archived');
SELECT is(rgpd.anonymise('fc.clients', ARRAY(SELECT g::bigint FROM generate_series(7, 1500, 20) g)),
          75::bigint, '75 subjects anonymised');

-- the independent computation: due_on = last_contact + the period of the
-- first policy that applies; counted in the month it falls in
CREATE TEMP VIEW due AS
SELECT a.action, c.id, c.negotiator,
       (c.last_contact + CASE WHEN c.kind = 'prospect'
                              THEN CASE a.action WHEN 'archive' THEN interval '2 years' ELSE interval '4 years' END
                              ELSE CASE a.action WHEN 'archive' THEN interval '3 years' ELSE interval '5 years' END
                         END)::date AS due_on
  FROM fc.clients c
  CROSS JOIN (VALUES ('archive'), ('anonymise')) AS a(action)
 WHERE ((a.action = 'archive' AND c.rgpd_status = 'active')
        OR (a.action = 'anonymise' AND c.rgpd_status IN ('active', 'archived')))
   AND NOT EXISTS (SELECT 1 FROM fc.offers o WHERE o.client_id = c.id AND o.transaction = 'rental');
CREATE TEMP VIEW calendar AS
SELECT (date_trunc('month', current_date) + g * interval '1 month')::date AS month
  FROM generate_series(0, 23) AS g;
CREATE TEMP VIEW expected AS
SELECT m.month,
       (SELECT count(*) FROM due d WHERE d.action = 'archive'
           AND d.due_on >= m.month AND d.due_on < m.month + interval '1 month') AS to_archive,
       (SELECT count(*) FROM due d WHERE d.action = 'anonymise'
           AND d.due_on >= m.month AND d.due_on < m.month + interval '1 month') AS to_anonymise
  FROM calendar m;
CREATE TEMP VIEW expected_lea AS
SELECT m.month,
       (SELECT count(*) FROM due d WHERE d.action = 'archive' AND d.negotiator = 'Léa'
           AND d.due_on >= m.month AND d.due_on < m.month + interval '1 month') AS to_archive,
       (SELECT count(*) FROM due d WHERE d.action = 'anonymise' AND d.negotiator = 'Léa'
           AND d.due_on >= m.month AND d.due_on < m.month + interval '1 month') AS to_anonymise
  FROM calendar m;

SELECT set_eq($$SELECT month, to_archive, to_anonymise FROM rgpd.forecast(24)$$,
              $$SELECT month, to_archive, to_anonymise FROM expected$$,
              'the forecast equals the independent count, month by month, over 24 months');
SELECT set_eq($$SELECT month, to_archive, to_anonymise FROM rgpd.forecast(24, 'Léa')$$,
              $$SELECT month, to_archive, to_anonymise FROM expected_lea$$,
              'the same for one negotiator''s portfolio');
SELECT cmp_ok((SELECT sum(to_archive) + sum(to_anonymise) FROM expected), '>', 300::numeric,
              'the months are far from empty');
SELECT cmp_ok((SELECT count(*) FROM due WHERE due_on < date_trunc('month', current_date)), '>', 100::bigint,
              'overdue subjects exist, and are not counted');
SELECT is((SELECT sum(to_archive)::bigint FROM rgpd.forecast(1)),
          (SELECT count(*) FROM due WHERE action = 'archive'
              AND due_on >= date_trunc('month', current_date)
              AND due_on <= (date_trunc('month', current_date) + interval '1 month - 1 day')::date),
          'the current month counts what falls due in it, days gone by included');

-- the portfolio counts of the dashboard equal plain counts
SELECT set_eq($$SELECT n, d.to_archive, d.to_anonymise
                  FROM unnest(ARRAY['Léa', 'Marc', 'Zoé']) AS n, rgpd.dashboard(current_date, n) AS d$$,
              $$SELECT n, (SELECT count(*) FROM due WHERE action = 'archive' AND negotiator = n
                              AND due_on <= (date_trunc('month', current_date) + interval '1 month - 1 day')::date) AS a,
                          (SELECT count(*) FROM due WHERE action = 'anonymise' AND negotiator = n
                              AND due_on <= (date_trunc('month', current_date) + interval '1 month - 1 day')::date) AS b
                  FROM unnest(ARRAY['Léa', 'Marc', 'Zoé']) AS n$$,
              'dashboard(as_of, negotiator) counts each portfolio, overdue included');

-- a role that is not a manager: no list to anonymise
CREATE ROLE regress_fc_reader;
GRANT USAGE ON SCHEMA fc TO regress_fc_reader;
GRANT SELECT ON fc.clients TO regress_fc_reader;
SET ROLE regress_fc_reader;
SELECT ok((SELECT bool_and(to_anonymise IS NULL) AND sum(to_archive) > 0 FROM rgpd.forecast(24)),
          'to_anonymise is NULL for a role that is not a manager; to_archive is given');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
