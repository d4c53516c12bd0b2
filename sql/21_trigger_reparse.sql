-- 21_trigger_reparse: a trigger's configuration is parsed again after every
-- relcache invalidation of its table (an ANALYZE, a storage parameter, a
-- registration change, rgpd._invalidate), and each parse starts from
-- nothing.  In 1.0 the subject trigger kept counting personal columns
-- across parses, so after one ANALYZE an update of an anonymised row's
-- non-personal column failed with XX000 "invalid attnum: 0".  Here, through
-- repeated re-parses of both triggers: such updates keep working, the
-- anonymised row's personal columns stay protected, and linked rows keep
-- last_contact exact.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA reparse AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA reparse TO regress_manager;

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = reparse, public;
CREATE TABLE clients (id bigint PRIMARY KEY, name text, email text, grade int, created date NOT NULL);
CREATE TABLE offers (id serial PRIMARY KEY, client_id bigint, client_name text, signed date);
INSERT INTO clients VALUES (1, 'Martin', 'martin@example.fr', 1, '2015-01-10'),
                           (2, 'Bernard', 'bernard@example.fr', 1, '2015-01-10');
SELECT rgpd.register_subject('reparse.clients', created_column => 'created',
                             personal_columns => '{name,email}', time_zone => 'UTC');
SELECT rgpd.register_link('reparse.offers', 'reparse.clients', '{client_id}', '{signed}',
                          '{"client_id": ["client_name"]}');
INSERT INTO offers (client_id, client_name, signed) VALUES (1, 'Martin', '2016-03-01');
GRANT SELECT, UPDATE ON clients TO regress_manager;
GRANT SELECT, UPDATE ON offers TO regress_manager;

\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.anonymise('reparse.clients', 1) AS anonymised;

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = reparse, public;

-- one round: use both triggers (filling their caches), then invalidate
CREATE FUNCTION round(n int) RETURNS TABLE (step text, result text)
LANGUAGE plpgsql AS $$
BEGIN
    step := 'update non-personal column'; result := try(format('UPDATE clients SET grade = %s WHERE id = 1', n)); RETURN NEXT;
    step := 'write name';  result := try($q$UPDATE clients SET name = 'Martin' WHERE id = 1$q$); RETURN NEXT;
    step := 'write email'; result := try($q$UPDATE clients SET email = 'm@example.fr' WHERE id = 1$q$); RETURN NEXT;
    step := 'new offer';   result := try(format($q$INSERT INTO offers (client_id, signed) VALUES (2, date '2020-01-01' + %s)$q$, n)); RETURN NEXT;
END
$$;

SELECT * FROM round(2);
ANALYZE clients;
ANALYZE offers;
SELECT * FROM round(3);
ALTER TABLE clients SET (fillfactor = 90);
ALTER TABLE offers SET (fillfactor = 90);
SELECT * FROM round(4);
SELECT rgpd._invalidate('reparse.clients');
SELECT * FROM round(5);
ANALYZE clients;
SELECT * FROM round(6);
ALTER TABLE clients RESET (fillfactor);
SELECT * FROM round(7);
ANALYZE clients;
SELECT * FROM round(8);
UPDATE offers SET signed = NULL WHERE client_id = 2 AND signed > '2020-01-07';
ANALYZE offers;
SELECT * FROM round(9);

SELECT id, name, email, grade, rgpd_status, last_contact FROM clients ORDER BY id;
SELECT count(*) AS stale_rows FROM rgpd.verify('reparse.clients');

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA reparse CASCADE;
