-- 25_partitions: partitioned link and subject tables work through any
-- partition.  A link partitioned by range on its date, two levels deep;
-- rows inserted, updated, deleted, copied and truncated straight into
-- partitions (leaf and intermediate) and through the partitioned table,
-- rows moved across partitions and re-pointed; a partition created later,
-- tables attached later with rows (one partitioned again, one with its
-- columns in another order and a dropped column), a partition detached
-- (also CONCURRENTLY) and one dropped while they hold the latest contact of
-- some subjects.  A partitioned subject: its creation date updated through
-- a partition, rows inserted straight into a partition, partitions created
-- and attached later.  After each step last_contact is compared with an
-- independent computation (pt.exact(): the greatest of the creation date
-- and of every appointment, computed here in plain SQL) and rgpd.verify()
-- must be empty.  Writes are made by an ordinary login role, the
-- application's, which has no right on clients; DDL by the tables' owner.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
CREATE SCHEMA pt AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA pt TO regress_agent;

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
CREATE TABLE clients (id integer PRIMARY KEY, name text, created date NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE clients_1 PARTITION OF clients FOR VALUES FROM (1) TO (100);
CREATE TABLE clients_2 PARTITION OF clients FOR VALUES FROM (100) TO (200);
CREATE TABLE appointments (id integer, client_id integer, day date, note text) PARTITION BY RANGE (day);
-- two levels: 2022 is partitioned again by half-year
CREATE TABLE appts_2022 PARTITION OF appointments FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')
    PARTITION BY RANGE (day);
CREATE TABLE appts_2022_h1 PARTITION OF appts_2022 FOR VALUES FROM ('2022-01-01') TO ('2022-07-01');
CREATE TABLE appts_2022_h2 PARTITION OF appts_2022 FOR VALUES FROM ('2022-07-01') TO ('2023-01-01');
CREATE TABLE appts_2023 PARTITION OF appointments FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
INSERT INTO clients VALUES (1, 'Anne', '2020-01-01'), (2, 'Bruno', '2020-01-01'), (3, 'Chloe', '2020-01-01'),
                           (5, 'Jules', '2020-01-01'), (101, 'Denis', '2020-01-01'), (102, 'Emma', '2020-01-01');
INSERT INTO appointments VALUES (1, 1, '2022-02-01'), (2, 2, '2022-08-01'), (3, 101, '2023-03-01');

SELECT rgpd.register_subject('pt.clients', created_column => 'created', personal_columns => '{name}');
SELECT rgpd.register_link('pt.appointments', 'pt.clients', '{client_id}', '{day}');
-- the independent computation, and rgpd.verify(): 'exact', or what differs
CREATE FUNCTION exact() RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pt, pg_catalog
AS $$
    WITH expected AS (
        SELECT c.id, c.last_contact AS stored, GREATEST(c.created, a.d) AS expected
          FROM clients AS c
          LEFT JOIN (SELECT client_id, max(day) AS d FROM appointments GROUP BY client_id) AS a
            ON a.client_id = c.id)
    SELECT CASE WHEN NOT EXISTS (SELECT FROM expected WHERE stored IS DISTINCT FROM expected)
                 AND NOT EXISTS (SELECT FROM rgpd.verify('pt.clients'))
                THEN 'exact'
                ELSE (SELECT string_agg(format('%s: stored %s, expected %s', id, stored, expected), '; ' ORDER BY id)
                        FROM expected WHERE stored IS DISTINCT FROM expected)
                     || format(' (verify: %s rows)', (SELECT count(*) FROM rgpd.verify('pt.clients')))
           END
$$;
GRANT EXECUTE ON FUNCTION exact() TO regress_agent;
-- one partition of a link cannot be registered alone
SELECT try($$SELECT rgpd.register_link('pt.appts_2023', 'pt.clients', '{client_id}', '{day}')$$);
-- every table of both trees carries the statement triggers (PostgreSQL
-- clones only row triggers onto partitions)
CREATE VIEW engine_triggers AS
    SELECT c.relname, string_agg(t.tgname, ', ' ORDER BY t.tgname) AS triggers
      FROM pg_class AS c LEFT JOIN pg_trigger AS t
        ON t.tgrelid = c.oid AND t.tgname IN ('rgpd_link_insert', 'rgpd_link_update', 'rgpd_link_delete',
                                              'rgpd_link_truncate', 'rgpd_subject_insert', 'rgpd_subject_update')
     WHERE c.relnamespace = 'pt'::regnamespace AND c.relkind IN ('r', 'p')
     GROUP BY c.relname;
SELECT * FROM engine_triggers ORDER BY relname;
SELECT 'registered' AS step, exact();

GRANT SELECT, INSERT, UPDATE, DELETE ON appointments, appts_2022, appts_2022_h1, appts_2022_h2, appts_2023
    TO regress_agent;
GRANT TRUNCATE ON appts_2022_h2 TO regress_agent;
GRANT SELECT, INSERT, UPDATE ON clients, clients_2 TO regress_agent;

\c - regress_agent
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- straight into a leaf partition: Anne's latest contact
INSERT INTO appts_2022_h2 VALUES (10, 1, '2022-12-01');
SELECT 'insert into a leaf' AS step, exact();
-- into the intermediate partition, which routes it to a leaf: Bruno's
INSERT INTO appts_2022 VALUES (11, 2, '2022-11-15');
SELECT 'insert into an intermediate partition' AS step, exact();
-- Anne's latest date corrected downwards, in the leaf
UPDATE appts_2022_h2 SET day = '2022-09-01' WHERE id = 10;
SELECT 'date lowered in a leaf' AS step, exact();
-- Bruno's latest deleted, in the leaf: back to 2022-08-01
DELETE FROM appts_2022_h2 WHERE id = 11;
SELECT 'delete in a leaf' AS step, exact();
-- COPY into a partition
COPY appts_2023 (id, client_id, day) FROM STDIN;
12	3	2023-05-05
13	102	2023-06-06
\.
SELECT 'COPY into a partition' AS step, exact();
-- through the partitioned table: a row moved to another partition and
-- re-pointed (Bruno loses 2022-08-01, Anne gains 2023-09-09), and inserts
-- spread over partitions
UPDATE appointments SET client_id = 1, day = '2023-09-09' WHERE id = 2;
SELECT tableoid::regclass AS moved_to FROM appointments WHERE id = 2;
INSERT INTO appointments VALUES (14, 5, '2022-04-04'), (15, 3, '2023-12-12');
SELECT 'row movement and inserts through the parent' AS step, exact();
-- a row moved across partitions by an UPDATE of the intermediate table
-- (it cannot leave it): Jules's latest
UPDATE appts_2022 SET day = '2022-10-10' WHERE id = 14;
SELECT tableoid::regclass AS moved_to FROM appointments WHERE id = 14;
SELECT 'row movement under the intermediate partition' AS step, exact();
-- TRUNCATE of a leaf holding Jules's only appointment
TRUNCATE appts_2022_h2;
SELECT 'TRUNCATE of a leaf' AS step, exact();

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- a partition created later
CREATE TABLE appts_2024 PARTITION OF appointments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
GRANT SELECT, INSERT, UPDATE, DELETE ON appts_2024 TO regress_agent;
\c - regress_agent
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
INSERT INTO appts_2024 VALUES (17, 102, '2024-02-02');
SELECT 'insert into a partition created later' AS step, exact();

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- a table attached later, with rows, its columns in another order and a
-- dropped column: Bruno's and Chloe's latest contacts arrive with it
CREATE TABLE appts_2025 (note text, junk integer, day date, client_id integer, id integer);
ALTER TABLE appts_2025 DROP COLUMN junk;
INSERT INTO appts_2025 (id, client_id, day) VALUES (18, 2, '2025-05-05'), (19, 3, '2025-01-15');
ALTER TABLE appointments ATTACH PARTITION appts_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT 'partition attached with rows' AS step, exact();
SELECT id, name, last_contact FROM clients ORDER BY id;
-- a partitioned table attached later, its leaf holding Denis's latest
CREATE TABLE appts_2026 (LIKE appointments) PARTITION BY RANGE (day);
CREATE TABLE appts_2026_h1 PARTITION OF appts_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
INSERT INTO appts_2026 VALUES (20, 101, '2026-03-03');
ALTER TABLE appointments ATTACH PARTITION appts_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT 'partitioned table attached with rows' AS step, exact();
SELECT * FROM engine_triggers WHERE relname LIKE 'appts%' ORDER BY relname;
GRANT SELECT, INSERT, UPDATE, DELETE ON appts_2025, appts_2026, appts_2026_h1 TO regress_agent;
\c - regress_agent
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- the attached tables count, straight and through the partitioned table
INSERT INTO appts_2026_h1 VALUES (21, 102, '2026-06-06');
UPDATE appts_2025 SET day = '2025-02-02' WHERE id = 18;
INSERT INTO appointments VALUES (27, 3, '2026-04-04'), (28, 5, '2025-07-07');
SELECT 'writes into attached partitions' AS step, exact();

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- DETACH of the partition holding Bruno's and Jules's latest contacts:
-- their rows leave the link
ALTER TABLE appointments DETACH PARTITION appts_2025;
SELECT 'partition detached' AS step, exact();
SELECT id, name, last_contact FROM clients ORDER BY id;
-- the detached table is an ordinary table again: no engine trigger, and
-- what is written into it is no contact
SELECT * FROM engine_triggers WHERE relname = 'appts_2025';
INSERT INTO appts_2025 (id, client_id, day) VALUES (22, 1, '2025-12-12');
SELECT 'write into the detached table' AS step, exact();
-- DETACH ... CONCURRENTLY of the partition holding Emma's 2024-02-02
ALTER TABLE appointments DETACH PARTITION appts_2024 CONCURRENTLY;
SELECT 'partition detached concurrently' AS step, exact();
-- DROP of the partitioned partition holding Chloe's, Denis's and Emma's
-- latest
DROP TABLE appts_2026;
SELECT 'partition dropped' AS step, exact();
SELECT id, name, last_contact FROM clients ORDER BY id;
-- a registered table cannot become a partition (statements on its new
-- parent would not fire its triggers)
CREATE TABLE notes (client_id integer, day date);
SELECT rgpd.register_link('pt.notes', 'pt.clients', '{client_id}', '{day}');
CREATE TABLE all_notes (client_id integer, day date) PARTITION BY RANGE (day);
SELECT try($$ALTER TABLE pt.all_notes ATTACH PARTITION pt.notes FOR VALUES FROM (MINVALUE) TO (MAXVALUE)$$);
SELECT rgpd.unregister_link('pt.notes', 'pt.clients');
SELECT 'refused attach' AS step, exact();

-- the partitioned subject
\c - regress_agent
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- its creation date updated through a partition, up then down
UPDATE clients_2 SET created = '2027-01-01' WHERE id = 101;
SELECT 'created raised through a partition' AS step, exact();
UPDATE clients_2 SET created = '2019-01-01' WHERE id = 101;
SELECT 'created lowered through a partition' AS step, exact();
-- a subject inserted straight into a partition after linked rows that
-- reference it (no foreign key: loaded first)
INSERT INTO appointments VALUES (23, 150, '2023-10-10');
INSERT INTO clients_2 (id, name, created) VALUES (150, 'Fanny', '2021-01-01');
SELECT 'subject inserted into a partition' AS step, exact();

\c - regress_owner
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET search_path = pt, public;
-- a subject partition created later, and one attached later with rows
-- whose last_contact was never computed
CREATE TABLE clients_3 PARTITION OF clients FOR VALUES FROM (200) TO (300);
INSERT INTO appointments VALUES (24, 201, '2023-04-04'), (25, 301, '2023-11-11');
INSERT INTO clients_3 (id, name, created) VALUES (201, 'Gaston', '2021-01-01');
CREATE TABLE clients_4 (LIKE clients INCLUDING DEFAULTS);
INSERT INTO clients_4 (id, name, created) VALUES (301, 'Hugo', '2021-01-01');
ALTER TABLE clients ATTACH PARTITION clients_4 FOR VALUES FROM (300) TO (400);
SELECT 'subject partitions created and attached later' AS step, exact();
SELECT id, name, last_contact FROM clients ORDER BY id;
SELECT * FROM engine_triggers WHERE relname LIKE 'clients%' ORDER BY relname;
-- TRUNCATE through the partitioned link: every partition's trigger fires
TRUNCATE appointments;
SELECT 'TRUNCATE through the parent' AS step, exact();

-- unregistering takes the engine's triggers off every partition
SELECT rgpd.unregister_link('pt.appointments', 'pt.clients');
SELECT rgpd.unregister_subject('pt.clients');
SELECT * FROM engine_triggers WHERE triggers IS NOT NULL ORDER BY relname;
INSERT INTO appts_2023 VALUES (26, 1, '2023-02-02');
INSERT INTO clients_1 (id, name, created) VALUES (4, 'Ines', '2020-01-01');

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA pt CASCADE;
