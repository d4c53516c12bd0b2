-- 04_consent: rgpd.recipients() equals an independent computation from
-- the raw consent history (the latest event per subject and campaign, by
-- the time the person gave it), on generated data: 3 000 subjects, 20 000
-- events recorded in random order, objections, archived and anonymised
-- subjects, missing addresses; mail and SMS, optional and mandatory.
BEGIN;
CREATE EXTENSION pericles_rgpd;
SET client_min_messages = warning;
SELECT setseed(0.1234);
SELECT plan(11);

CREATE SCHEMA co;
CREATE TABLE co.clients (id integer PRIMARY KEY, email text, mobile varchar(20), created date NOT NULL);
INSERT INTO co.clients
SELECT g, CASE WHEN g % 11 = 0 THEN NULL WHEN g % 13 = 0 THEN '' ELSE 'c' || g || '@example.fr' END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE '06' || lpad(g::text, 8, '0') END, date '2024-01-01'
  FROM generate_series(1, 3000) AS g;
-- set-up (not an assertion): subject registered with its e-mail and mobile columns
SELECT rgpd.register_subject('co.clients', created_column => 'created',
    personal_columns => '{email,mobile}', email_column => 'email', mobile_column => 'mobile');
SELECT ok(rgpd.create_campaign('co news', 'mail') > 0 AND rgpd.create_campaign('co sms', 'sms') > 0
          AND rgpd.create_campaign('co bills', 'mail', mandatory => true) > 0, 'three campaigns');

-- 20 000 events, given over two years, recorded in random order
DO $$
DECLARE
    e record;
BEGIN
    FOR e IN
        SELECT 1 + floor(random() * 3000)::int AS id,
               (ARRAY['co news', 'co sms'])[1 + floor(random() * 2)::int] AS campaign,
               random() < 0.6 AS value,
               timestamptz '2024-01-01 00:00+00' + random() * interval '730 days' AS at
          FROM generate_series(1, 20000)
         ORDER BY random()
    LOOP
        PERFORM rgpd.set_consent('co.clients', e.id, e.campaign, e.value, 'generated', e.at);
    END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM rgpd.consent_events WHERE subject = 'co.clients'::regclass), 20000::bigint,
          '20 000 consent events recorded');
-- objections, archive, anonymisation
SELECT ok((SELECT bool_and(rgpd.object('co.clients', g, 'email', 'letter')) FROM generate_series(5, 3000, 17) g),
          'objections to e-mail');
SELECT ok((SELECT bool_and(rgpd.object('co.clients', g, 'call', 'phone')) FROM generate_series(3, 3000, 19) g),
          'objections to calls');
SELECT is(rgpd.archive('co.clients', ARRAY(SELECT g::bigint FROM generate_series(2, 3000, 23) g)), 131::bigint,
          'some subjects archived');
SELECT is(rgpd.anonymise('co.clients', ARRAY(SELECT g::bigint FROM generate_series(4, 3000, 29) g)), 104::bigint,
          'some anonymised');

-- the independent computation, from the raw history
CREATE TEMP VIEW expected AS
WITH latest AS (
    SELECT DISTINCT ON (e.subject_id, k.label) e.subject_id, k.label, e.value
      FROM rgpd.consent_events e JOIN rgpd.campaigns k ON k.id = e.campaign_id
     WHERE e.subject = 'co.clients'::regclass
     ORDER BY e.subject_id, k.label, e.at DESC, e.id DESC)
SELECT k.label AS campaign, c.id::bigint AS id,
       CASE k.channel WHEN 'mail' THEN c.email ELSE c.mobile::text END AS contact
  FROM co.clients c
  CROSS JOIN rgpd.campaigns k
 WHERE k.label IN ('co news', 'co sms', 'co bills')
   AND c.rgpd_status = 'active'
   AND CASE k.channel WHEN 'mail' THEN c.email ELSE c.mobile END <> ''
   AND (k.mandatory OR EXISTS (SELECT 1 FROM latest l WHERE l.subject_id = c.id AND l.label = k.label AND l.value))
   AND NOT EXISTS (SELECT 1 FROM rgpd.objections o WHERE o.subject = 'co.clients'::regclass AND o.subject_id = c.id
                      AND CASE k.channel WHEN 'mail' THEN o.do_not_email ELSE o.do_not_call END);

SELECT set_eq($$SELECT 'co news', id, contact FROM rgpd.recipients('co news')$$,
              $$SELECT campaign, id, contact FROM expected WHERE campaign = 'co news'$$,
              'mail campaign: recipients equal the independent computation');
SELECT set_eq($$SELECT 'co sms', id, contact FROM rgpd.recipients('co sms')$$,
              $$SELECT campaign, id, contact FROM expected WHERE campaign = 'co sms'$$,
              'SMS campaign: recipients equal the independent computation');
SELECT set_eq($$SELECT 'co bills', id, contact FROM rgpd.recipients('co bills')$$,
              $$SELECT campaign, id, contact FROM expected WHERE campaign = 'co bills'$$,
              'mandatory campaign: recipients equal the independent computation');
SELECT cmp_ok((SELECT count(*) FROM rgpd.recipients('co news')), '>', 500::bigint, 'the lists are not trivial');
-- the current consent table agrees with the history
SELECT is_empty($$
    SELECT subject_id, campaign, value FROM rgpd.current_consents WHERE subject = 'co.clients'::regclass
    EXCEPT
    SELECT * FROM (SELECT DISTINCT ON (e.subject_id, k.label) e.subject_id, k.label, e.value
                     FROM rgpd.consent_events e JOIN rgpd.campaigns k ON k.id = e.campaign_id
                    WHERE e.subject = 'co.clients'::regclass
                    ORDER BY e.subject_id, k.label, e.at DESC, e.id DESC) AS latest
$$, 'the current consents are the latest events');

SELECT * FROM finish();
ROLLBACK;
