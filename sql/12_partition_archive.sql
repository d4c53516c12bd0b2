-- 12_partition_archive: a partitioned subject table keeps its archive
-- restricted on every partition, at any depth — those present at
-- registration, one created after it (CREATE TABLE … PARTITION OF) and
-- partitioned tables attached after it (ATTACH PARTITION) — because a
-- partition queried directly applies its own policies, not its parent's.
-- Tested as ordinary login roles: the owner, an agent with SELECT on the
-- table and on every partition, and a manager.  A foreign-table partition
-- is refused; a partition cannot be registered alone; a detached partition
-- keeps its protection; unregistration gives the partitions back as they
-- were.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA parts AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA parts TO regress_agent, regress_manager;
CREATE FOREIGN DATA WRAPPER regress_parts_fdw;
CREATE SERVER regress_parts_srv FOREIGN DATA WRAPPER regress_parts_fdw;
GRANT USAGE ON FOREIGN SERVER regress_parts_srv TO regress_owner;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = parts, public;
CREATE TABLE clients (id integer PRIMARY KEY, name text, created date NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE clients_a PARTITION OF clients FOR VALUES FROM (1) TO (100);
-- two levels: b is partitioned again
CREATE TABLE clients_b PARTITION OF clients FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);
CREATE TABLE clients_b1 PARTITION OF clients_b FOR VALUES FROM (100) TO (150);
CREATE TABLE clients_b2 PARTITION OF clients_b FOR VALUES FROM (150) TO (200);
-- a partition that has row-level security of its own keeps it
ALTER TABLE clients_b2 ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON clients_b2 USING (id <> 199);
INSERT INTO clients VALUES (1, 'Active Anne', '2024-01-01'), (2, 'Archived Alain', '2015-01-01'),
                           (120, 'Archived Bea', '2015-01-01'), (160, 'Active Bruno', '2024-01-01'),
                           (170, 'Archived Basile', '2015-01-01'), (199, 'Hidden by own policy', '2024-01-01');
-- a partition alone cannot be registered
SELECT try($$SELECT rgpd.register_subject('parts.clients_a', created_column => 'created')$$);
SELECT rgpd.register_subject('parts.clients', created_column => 'created', personal_columns => '{name}');
-- a partition owned by another role is not the table owner's to protect
CREATE TABLE shared (id integer PRIMARY KEY, created date NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE shared_1 PARTITION OF shared FOR VALUES FROM (1) TO (100);
\c - postgres
ALTER TABLE parts.shared_1 OWNER TO regress_agent;
\c - regress_owner
SET client_min_messages = warning;
SET search_path = parts, public;
SELECT try($$SELECT rgpd.register_subject('parts.shared', created_column => 'created')$$);
SELECT count(*) AS registered FROM rgpd.subjects WHERE subject = 'parts.shared'::regclass;
DROP TABLE shared;

-- created after registration
CREATE TABLE clients_c PARTITION OF clients FOR VALUES FROM (200) TO (300);
INSERT INTO clients VALUES (201, 'Active Chloe', '2024-01-01'), (202, 'Archived Cyril', '2015-01-01');
-- attached after registration: a table, and a partitioned table with a partition
CREATE TABLE clients_d (LIKE clients INCLUDING DEFAULTS);
INSERT INTO clients_d (id, name, created) VALUES (301, 'Active Denise', '2024-01-01'), (302, 'Archived Dan', '2015-01-01');
ALTER TABLE clients ATTACH PARTITION clients_d FOR VALUES FROM (300) TO (400);
CREATE TABLE clients_e (LIKE clients INCLUDING DEFAULTS) PARTITION BY RANGE (id);
CREATE TABLE clients_e1 PARTITION OF clients_e FOR VALUES FROM (400) TO (500);
INSERT INTO clients_e (id, name, created) VALUES (401, 'Active Eve', '2024-01-01'), (402, 'Archived Emile', '2015-01-01');
ALTER TABLE clients ATTACH PARTITION clients_e FOR VALUES FROM (400) TO (500);
-- a foreign table cannot hold part of a subject table: its archive would show
SELECT try($$CREATE FOREIGN TABLE parts.clients_f PARTITION OF parts.clients FOR VALUES FROM (900) TO (1000)
             SERVER regress_parts_srv$$);

SELECT rgpd.archive('parts.clients', ARRAY[2, 120, 170, 202, 302, 402]::bigint[]) AS archived;
GRANT SELECT ON clients, clients_a, clients_b, clients_b1, clients_b2, clients_c, clients_d,
                clients_e, clients_e1 TO regress_agent, regress_manager;

-- every partition carries the restricted archive, forced as on the table;
-- the permissive policy only where the partition had no row-level security
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT string_agg(p.polname || CASE WHEN p.polpermissive THEN '' ELSE ' (restrictive)' END, ', '
                          ORDER BY p.polname)
          FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_class c
 WHERE c.relnamespace = 'parts'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;
SELECT partition, subject, had_rls, had_force_rls, added_permissive FROM rgpd.partitions ORDER BY partition::text;
-- the owner is under FORCE ROW LEVEL SECURITY on the partitions too
SELECT id FROM clients_a ORDER BY id;

\c - regress_agent
SET client_min_messages = warning;
SET search_path = parts, public;
-- through the table, and through each partition: archived rows are hidden
SELECT id, name FROM clients ORDER BY id;
SELECT 'a' AS part, id, name FROM clients_a UNION ALL
SELECT 'b', id, name FROM clients_b UNION ALL
SELECT 'b1', id, name FROM clients_b1 UNION ALL
SELECT 'b2', id, name FROM clients_b2 UNION ALL
SELECT 'c (created later)', id, name FROM clients_c UNION ALL
SELECT 'd (attached later)', id, name FROM clients_d UNION ALL
SELECT 'e (attached later)', id, name FROM clients_e UNION ALL
SELECT 'e1 (under e)', id, name FROM clients_e1
 ORDER BY 1, 2;

\c - regress_manager
SET client_min_messages = warning;
SET search_path = parts, public;
-- the manager sees the archive, through the table and each partition
SELECT count(*) AS through_table FROM clients;
SELECT 'a' AS part, id, rgpd_status FROM clients_a UNION ALL
SELECT 'b1', id, rgpd_status FROM clients_b1 UNION ALL
SELECT 'b2', id, rgpd_status FROM clients_b2 UNION ALL
SELECT 'c', id, rgpd_status FROM clients_c UNION ALL
SELECT 'd', id, rgpd_status FROM clients_d UNION ALL
SELECT 'e1', id, rgpd_status FROM clients_e1
 ORDER BY 1, 2;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = parts, public;
-- a detached partition keeps its protection (its archived rows stay restricted)
ALTER TABLE clients DETACH PARTITION clients_d;
SELECT partition FROM rgpd.partitions ORDER BY partition::text;
-- registering again without FORCE follows on the partitions
SELECT rgpd.register_subject('parts.clients', created_column => 'created', personal_columns => '{name}',
                             force_rls => false);
SELECT c.relname, c.relforcerowsecurity AS forced FROM pg_class c
 WHERE c.relnamespace = 'parts'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1;
SELECT rgpd.register_subject('parts.clients', created_column => 'created', personal_columns => '{name}');

\c - regress_agent
SET client_min_messages = warning;
SELECT id FROM parts.clients_d ORDER BY id;

-- unregistration gives the partitions back as they were
\c - regress_owner
SET client_min_messages = warning;
SET search_path = parts, public;
SELECT rgpd.unregister_subject('parts.clients');
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT string_agg(p.polname, ', ' ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_class c
 WHERE c.relnamespace = 'parts'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;
SELECT count(*) AS partitions_left FROM rgpd.partitions;
-- and the tables stay usable: a partition created now is left alone
CREATE TABLE clients_g PARTITION OF clients FOR VALUES FROM (600) TO (700);
SELECT relrowsecurity FROM pg_class WHERE oid = 'parts.clients_g'::regclass;
SELECT count(*) AS rows_left FROM clients;

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA parts CASCADE;
DROP SERVER regress_parts_srv;
DROP FOREIGN DATA WRAPPER regress_parts_fdw;
