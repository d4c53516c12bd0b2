-- 01_random_workload: a randomized workload of 10 000 statements — single
-- and bulk inserts, updates moving dates up and down, re-pointing subject
-- columns, deletes, COPY-like multi-row inserts — over three link tables
-- with several subject columns each, date, timestamp and timestamptz
-- columns.  Afterwards rgpd.verify() is empty and last_contact equals an
-- independent SQL computation for every subject.
BEGIN;
CREATE EXTENSION pericles_rgpd;
SET client_min_messages = warning;
SELECT setseed(0.42);
SELECT plan(9);

CREATE SCHEMA rw;
CREATE TABLE rw.clients (id integer PRIMARY KEY, created timestamp);
CREATE TABLE rw.offers (id serial PRIMARY KEY, client1_id integer, client2_id integer, agent_id integer,
                        created date, mandate_end date);
CREATE TABLE rw.signatures (id serial PRIMARY KEY, seller_id integer, buyer_id integer,
                            compromis_date timestamp, deed_date date);
CREATE TABLE rw.appointments (id serial PRIMARY KEY, client_id integer, starts_at timestamptz);
INSERT INTO rw.clients SELECT g, timestamp '2012-01-01' + g * interval '1 day' FROM generate_series(1, 300) g;

-- set-up (not an assertion): the subject and three links register
SELECT rgpd.register_subject('rw.clients', created_column => 'created', time_zone => 'Europe/Paris');
SELECT rgpd.register_link('rw.offers', 'rw.clients', '{client1_id,client2_id,agent_id}', '{created,mandate_end}');
SELECT rgpd.register_link('rw.signatures', 'rw.clients', '{seller_id,buyer_id}', '{compromis_date,deed_date}');
SELECT rgpd.register_link('rw.appointments', 'rw.clients', '{client_id}', '{starts_at}');

-- a random subject (sometimes none), a random date
CREATE FUNCTION rw.who() RETURNS integer LANGUAGE sql AS
    $$ SELECT CASE WHEN random() < 0.1 THEN NULL ELSE 1 + floor(random() * 310)::int END $$;
CREATE FUNCTION rw.day() RETURNS date LANGUAGE sql AS
    $$ SELECT CASE WHEN random() < 0.05 THEN NULL ELSE date '2010-01-01' + floor(random() * 5000)::int END $$;

-- the workload
DO $$
DECLARE
    i int;
    r float8;
BEGIN
    FOR i IN 1 .. 10000 LOOP
        r := random();
        IF r < 0.25 THEN
            INSERT INTO rw.offers (client1_id, client2_id, agent_id, created, mandate_end)
            VALUES (rw.who(), rw.who(), rw.who(), rw.day(), rw.day());
        ELSIF r < 0.35 THEN
            INSERT INTO rw.signatures (seller_id, buyer_id, compromis_date, deed_date)
            VALUES (rw.who(), rw.who(), rw.day() + interval '23 hours', rw.day());
        ELSIF r < 0.45 THEN
            INSERT INTO rw.appointments (client_id, starts_at)
            VALUES (rw.who(), rw.day() + random() * interval '24 hours');
        ELSIF r < 0.55 THEN          -- a date moves, up or down
            UPDATE rw.offers SET created = rw.day()
             WHERE id = (SELECT id FROM rw.offers ORDER BY random() LIMIT 1);
        ELSIF r < 0.62 THEN
            UPDATE rw.signatures SET deed_date = rw.day(), compromis_date = NULL
             WHERE id = (SELECT id FROM rw.signatures ORDER BY random() LIMIT 1);
        ELSIF r < 0.72 THEN          -- re-pointed to another subject
            UPDATE rw.offers SET client2_id = rw.who()
             WHERE id = (SELECT id FROM rw.offers ORDER BY random() LIMIT 1);
        ELSIF r < 0.77 THEN
            UPDATE rw.appointments SET client_id = rw.who(), starts_at = starts_at - interval '400 days'
             WHERE id = (SELECT id FROM rw.appointments ORDER BY random() LIMIT 1);
        ELSIF r < 0.87 THEN          -- deleted
            DELETE FROM rw.offers WHERE id = (SELECT id FROM rw.offers ORDER BY random() LIMIT 1);
        ELSIF r < 0.90 THEN
            DELETE FROM rw.appointments WHERE id = (SELECT id FROM rw.appointments ORDER BY random() LIMIT 1);
        ELSIF r < 0.93 THEN          -- bulk insert
            INSERT INTO rw.offers (client1_id, client2_id, created)
            SELECT rw.who(), rw.who(), rw.day() FROM generate_series(1, 20);
        ELSIF r < 0.96 THEN          -- multi-row update, both directions
            UPDATE rw.offers SET created = created + (floor(random() * 200)::int - 100)
             WHERE client1_id = rw.who();
        ELSIF r < 0.98 THEN          -- multi-row re-pointing
            UPDATE rw.signatures SET buyer_id = seller_id, seller_id = buyer_id
             WHERE id % 7 = floor(random() * 7)::int;
        ELSE                         -- multi-row delete, creation date change
            DELETE FROM rw.signatures WHERE seller_id = rw.who();
            UPDATE rw.clients SET created = created + (floor(random() * 2000)::int - 1000) * interval '1 day'
             WHERE id = 1 + floor(random() * 300)::int;
        END IF;
    END LOOP;
END
$$;

SELECT cmp_ok((SELECT count(*) FROM rw.offers), '>', 1000::bigint, 'the workload left plenty of linked rows');
SELECT is_empty($$SELECT * FROM rgpd.verify('rw.clients')$$, 'rgpd.verify() finds nothing to repair');

-- an independent computation of last_contact, written without the extension
CREATE VIEW rw.expected AS
    SELECT c.id,
           GREATEST(c.created::date, max(x.d)) AS last_contact
      FROM rw.clients c
      LEFT JOIN (
          SELECT client1_id AS id, GREATEST(created, mandate_end) AS d FROM rw.offers
          UNION ALL SELECT client2_id, GREATEST(created, mandate_end) FROM rw.offers
          UNION ALL SELECT agent_id, GREATEST(created, mandate_end) FROM rw.offers
          UNION ALL SELECT seller_id, GREATEST(compromis_date::date, deed_date) FROM rw.signatures
          UNION ALL SELECT buyer_id, GREATEST(compromis_date::date, deed_date) FROM rw.signatures
          UNION ALL SELECT client_id, (starts_at AT TIME ZONE 'Europe/Paris')::date FROM rw.appointments
      ) x ON x.id = c.id
     GROUP BY c.id, c.created;
SELECT is_empty($$
    SELECT c.id, c.last_contact, e.last_contact
      FROM rw.clients c JOIN rw.expected e USING (id)
     WHERE c.last_contact IS DISTINCT FROM e.last_contact
$$, 'last_contact equals the independent computation for every subject');
SELECT cmp_ok((SELECT count(*) FROM rw.clients WHERE last_contact > created::date), '>', 250::bigint,
              'most subjects took their last contact from a linked row, not their creation');
SELECT is((SELECT count(*) FROM rw.clients WHERE rgpd_contact_floor > last_contact), 0::bigint,
          'the floor of the due index never exceeds last_contact');

-- the same holds after a TRUNCATE and a bulk reload
TRUNCATE rw.appointments;
INSERT INTO rw.appointments (client_id, starts_at)
SELECT 1 + g % 300, timestamptz '2023-12-31 23:30+00' + g * interval '1 hour' FROM generate_series(1, 2000) g;
SELECT is_empty($$
    SELECT c.id FROM rw.clients c JOIN rw.expected e USING (id)
     WHERE c.last_contact IS DISTINCT FROM e.last_contact
$$, 'exact after TRUNCATE and a bulk insert of timestamptz contacts');
SELECT is_empty($$SELECT * FROM rgpd.verify('rw.clients')$$, 'rgpd.verify() agrees');

-- contacts are written straight into the heap when that is safe: every
-- index of the subject table still has an entry for every row version
CREATE EXTENSION amcheck;
SELECT lives_ok($$
    SELECT bt_index_check(i.indexrelid, true)
      FROM pg_index i WHERE i.indrelid = 'rw.clients'::regclass
$$, 'the indexes of the subject table hold every row (amcheck, heapallindexed)');

-- rgpd.recompute() finds nothing to change on a healthy table
SELECT is(rgpd.recompute('rw.clients'), 0::bigint, 'rgpd.recompute() changes nothing when healthy');

SELECT * FROM finish();
ROLLBACK;
