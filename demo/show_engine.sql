-- demo/show_engine.sql — last_contact as computed by the triggers, with
-- the linked row that gives it (recomputed here independently).
SET search_path = agency;
WITH contacts AS (
    SELECT id AS client, created::date AS day, 'created' AS source FROM clients
    UNION ALL SELECT client1_id, GREATEST(created, mandate_end), 'offer ' || reference || ' (client 1)' FROM offers
    UNION ALL SELECT client2_id, GREATEST(created, mandate_end), 'offer ' || reference || ' (client 2)' FROM offers
    UNION ALL SELECT agent_id, GREATEST(created, mandate_end), 'offer ' || reference || ' (agent)' FROM offers
    UNION ALL SELECT seller_id, GREATEST(compromis_date, deed_date), 'signature #' || id || ' (seller)' FROM signatures
    UNION ALL SELECT buyer_id, GREATEST(compromis_date, deed_date), 'signature #' || id || ' (buyer)' FROM signatures
    UNION ALL SELECT client_id, created, 'request #' || id FROM requests
    UNION ALL SELECT client_id, (starts_at AT TIME ZONE 'Europe/Paris')::date, 'appointment #' || id FROM appointments
)
SELECT DISTINCT ON (c.id) c.id, c.name, c.first_name, c.last_contact, x.source AS comes_from,
       c.last_contact = x.day AS agrees
  FROM clients c JOIN contacts x ON x.client = c.id
 WHERE c.id IN (1, 7, 42, 314, 2718)
 ORDER BY c.id, x.day DESC NULLS LAST;

SELECT extract(year FROM last_contact)::int AS year_of_last_contact, count(*) AS clients
  FROM clients GROUP BY 1 ORDER BY 1;
SELECT count(*) AS rows_verify_would_repair FROM rgpd.verify('agency.clients');
