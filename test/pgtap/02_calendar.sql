-- 02_calendar: the lists of what falls due, walked month by month from
-- 2018 to 2031 (on the 1st, the 15th and the last day of each month),
-- equal an independent computation of due dates — two policies, last
-- contacts on month ends and leap days, subjects kept out by a rental,
-- archived subjects on the list to anonymise, anonymised ones on none.
BEGIN;
CREATE EXTENSION pericles_rgpd;
SET client_min_messages = warning;
SELECT plan(9);

CREATE SCHEMA cal;
CREATE TABLE cal.clients (id integer PRIMARY KEY, kind text NOT NULL, created date NOT NULL);
CREATE TABLE cal.offers (id serial PRIMARY KEY, client_id integer REFERENCES cal.clients,
                         transaction text NOT NULL, created date NOT NULL);
-- 400 subjects: creation dates on month ends, leap days, and in between
INSERT INTO cal.clients
SELECT g,
       CASE WHEN g % 4 = 0 THEN 'prospect' ELSE 'client' END,
       CASE g % 5
           WHEN 0 THEN (date_trunc('month', date '2014-01-01' + g * 7) + interval '1 month - 1 day')::date
           WHEN 1 THEN (ARRAY[date '2016-02-29', date '2020-02-29', date '2012-02-29'])[1 + g % 3]
           ELSE date '2014-01-01' + g * 11
       END
  FROM generate_series(1, 400) AS g;
INSERT INTO cal.offers (client_id, transaction, created)
SELECT g, CASE WHEN g % 17 = 0 THEN 'rental' ELSE 'sale' END, date '2015-01-31' + g * 13
  FROM generate_series(1, 400, 3) AS g;

-- set-up (not an assertion): subjects, links and two policies register
SELECT rgpd.register_subject('cal.clients', created_column => 'created');
SELECT rgpd.register_link('cal.offers', 'cal.clients', '{client_id}', '{created}',
                          excludes_when => 'transaction = ''rental''');
SELECT rgpd.set_policy('cal.clients', '2 years', '4 years', 'kind = ''prospect''', 'prospects');
-- some archived, some anonymised
SELECT is(rgpd.archive('cal.clients', ARRAY(SELECT g::bigint FROM generate_series(3, 400, 10) g)),
          40::bigint, '40 subjects archived');
SELECT is(rgpd.anonymise('cal.clients', ARRAY(SELECT g::bigint FROM generate_series(7, 400, 20) g)),
          20::bigint, '20 subjects anonymised');

-- the months walked, three days each
CREATE TEMP TABLE days AS
SELECT d::date AS as_of
  FROM generate_series(date '2018-01-01', date '2031-12-01', interval '1 month') AS m,
       LATERAL (VALUES (m), (m + interval '14 days'), (m + interval '1 month - 1 day')) AS x(d);

-- the independent computation: due_on = last_contact + the period of the
-- first policy that applies, due when due_on <= the last day of the month
CREATE TEMP VIEW expected AS
SELECT a.action, d.as_of, c.id,
       (c.last_contact + CASE WHEN c.kind = 'prospect'
                              THEN CASE a.action WHEN 'archive' THEN interval '2 years' ELSE interval '4 years' END
                              ELSE CASE a.action WHEN 'archive' THEN interval '3 years' ELSE interval '5 years' END
                         END)::date AS due_on
  FROM days d
  CROSS JOIN (VALUES ('archive'), ('anonymise')) AS a(action)
  JOIN cal.clients c ON (a.action = 'archive' AND c.rgpd_status = 'active')
                     OR (a.action = 'anonymise' AND c.rgpd_status IN ('active', 'archived'))
 WHERE NOT EXISTS (SELECT 1 FROM cal.offers o WHERE o.client_id = c.id AND o.transaction = 'rental');
CREATE TEMP VIEW expected_due AS
SELECT action, as_of, id, due_on FROM expected
 WHERE due_on <= (date_trunc('month', as_of) + interval '1 month - 1 day')::date;
CREATE TEMP TABLE listed AS
SELECT a.action, d.as_of, p.id, p.due_on
  FROM days d CROSS JOIN (VALUES ('archive'), ('anonymise')) AS a(action),
       LATERAL rgpd.pending(a.action, d.as_of) AS p;

SELECT cmp_ok((SELECT count(*) FROM days), '=', 504::bigint, '168 months walked, three days each');
SELECT is_empty($$SELECT action, as_of, id, due_on FROM expected_due
                  EXCEPT SELECT action, as_of, id, due_on FROM listed$$,
                'every subject due is listed, with its due date');
SELECT is_empty($$SELECT action, as_of, id, due_on FROM listed
                  EXCEPT SELECT action, as_of, id, due_on FROM expected_due$$,
                'nothing is listed that is not due');
SELECT cmp_ok((SELECT count(*) FROM listed), '>', 20000::bigint, 'the lists are far from empty');
SELECT is((SELECT count(DISTINCT (action, id)) FROM listed l
            WHERE EXISTS (SELECT 1 FROM cal.clients c WHERE c.id = l.id AND c.last_contact IN
                          ('2016-02-29', '2020-02-29', '2012-02-29'))) > 0, true,
          'leap-day contacts are among them');
SELECT is_empty($$SELECT id FROM listed WHERE id IN (SELECT id FROM cal.clients WHERE rgpd_status = 'anonymised')$$,
                'anonymised subjects are on no list');
-- the list depends on the month, not on the day in it
SELECT is_empty($$
    SELECT l.action, date_trunc('month', l.as_of), l.id FROM listed l
    GROUP BY 1, 2, 3 HAVING count(*) <> 3
$$, 'the 1st, the 15th and the last day of a month give the same list');

SELECT * FROM finish();
ROLLBACK;
