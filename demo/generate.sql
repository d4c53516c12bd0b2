-- demo/generate.sql — a deterministic agency of a few thousand clients
-- with ten years of history up to today.  The same seed gives the same
-- agency; dates are relative to the day the demo runs, so the lists of
-- what falls due "this month" are never empty.
SET search_path = agency;
SELECT setseed(0.2026) AS seeded \gset

CREATE TEMPORARY TABLE names (n int, name text, first_name text);
INSERT INTO names
SELECT g,
       (ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Richard','Petit','Durand','Leroy','Moreau',
              'Simon','Laurent','Lefebvre','Michel','Garcia','David','Bertrand','Roux','Vincent','Fournier'])[1 + g % 20],
       (ARRAY['Marie','Jean','Camille','Louis','Chloé','Lucas','Emma','Hugo','Léa','Nathan',
              'Manon','Paul','Inès','Jules','Sarah','Arthur','Jade','Adam','Louise','Gabriel'])[1 + (g / 20) % 20]
  FROM generate_series(0, 3999) AS g;

-- 4 000 clients created over ten years
INSERT INTO clients (id, kind, name, first_name, address, address2, phone_home, phone_office,
                     phone_mobile, fax, phone_other, email, notes, negotiator, created)
SELECT n + 1,
       CASE WHEN random() < 0.3 THEN 'prospect' ELSE 'client' END,
       name, first_name,
       (1 + n % 120) || ' rue ' || (ARRAY['de la Paix','Victor Hugo','des Lilas','du Port','Pasteur'])[1 + n % 5],
       CASE WHEN n % 7 = 0 THEN 'Bâtiment B' END,
       '01 ' || lpad((n::bigint * 7919 % 100000000)::text, 8, '0'),
       CASE WHEN n % 3 = 0 THEN '01 ' || lpad((n::bigint * 104729 % 100000000)::text, 8, '0') END,
       '06 ' || lpad((n::bigint * 15485863 % 100000000)::text, 8, '0'),
       CASE WHEN n % 50 = 0 THEN '01 ' || lpad((n::bigint * 31 % 100000000)::text, 8, '0') END,
       NULL,
       lower(first_name || '.' || name || n) || '@example.fr',
       CASE WHEN n % 5 = 0 THEN 'Rappeler le soir' END,
       (ARRAY['Paul','Léa','Hugo'])[1 + n % 3],
       current_date - (floor(random() * 3650)::int + 1) * interval '1 day' + interval '10 hours'
  FROM names;
SELECT setval(pg_get_serial_sequence('agency.clients', 'id'), 4000) AS last_id \gset

-- about 3 000 offers, a fifth of them rentals; the agent of record is
-- another client (a partner agency, a notary's clerk…)
INSERT INTO offers (reference, transaction, client1_id, client2_id, agent_id, price, created, mandate_end)
SELECT 'OF-' || lpad(g::text, 5, '0'),
       CASE WHEN random() < 0.2 THEN 'rental' ELSE 'sale' END,
       c1, CASE WHEN random() < 0.4 THEN 1 + floor(random() * 4000)::int END,
       CASE WHEN random() < 0.1 THEN 1 + floor(random() * 4000)::int END,
       round((80000 + random() * 600000)::numeric, -3),
       d, CASE WHEN random() < 0.7 THEN d + (90 + floor(random() * 270)::int) END
  FROM (SELECT g, 1 + floor(random() * 4000)::int AS c1,
               current_date - floor(random() * 3650)::int AS d
          FROM generate_series(1, 3000) AS g) AS x;
UPDATE offers o SET client1_name = c.name, client1_phone = c.phone_mobile FROM clients c WHERE c.id = o.client1_id;
UPDATE offers o SET client2_name = c.name, client2_phone = c.phone_mobile FROM clients c WHERE c.id = o.client2_id;
UPDATE offers o SET agent_name = c.name, agent_phone = c.phone_office FROM clients c WHERE c.id = o.agent_id;

-- signatures for a third of the offers
INSERT INTO signatures (offer_id, transaction, seller_id, seller_name, buyer_id, buyer_name, compromis_date, deed_date)
SELECT o.id, o.transaction, o.client1_id, o.client1_name, b.id, b.name,
       o.created + 30 + floor(random() * 60)::int,
       CASE WHEN random() < 0.8 THEN o.created + 120 + floor(random() * 60)::int END
  FROM offers o
  JOIN clients b ON b.id = 1 + (o.id * 37) % 4000
 WHERE o.id % 3 = 0 AND o.created < current_date - 200;

-- search requests and diary appointments
INSERT INTO requests (client_id, budget, wish, created)
SELECT 1 + floor(random() * 4000)::int, round((100000 + random() * 400000)::numeric, -3),
       (ARRAY['T3 avec balcon','maison avec jardin','studio proche gare','loft'])[1 + g % 4],
       current_date - floor(random() * 3650)::int
  FROM generate_series(1, 2000) AS g;
INSERT INTO appointments (client_id, starts_at, what)
SELECT 1 + floor(random() * 4000)::int,
       date_trunc('hour', now() - random() * interval '3650 days') ,
       (ARRAY['visite','estimation','signature','rendez-vous banque'])[1 + g % 4]
  FROM generate_series(1, 3000) AS g;
INSERT INTO documents (client_id, filename)
SELECT 1 + (g * 13) % 4000, 'piece-identite-' || g || '.pdf' FROM generate_series(1, 1500) AS g;
