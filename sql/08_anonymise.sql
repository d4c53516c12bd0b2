-- 08_anonymise: rgpd.anonymise() erases the personal columns of a subject
-- and, on every link, the personal columns that belong to the subject
-- column pointing at it (an offer where the person is client 2 loses its
-- client-2 copies, not client 1's); rows of delete_row links go.  Erasure
-- methods, and the refusals of methods that cannot produce a valid value.
-- Anonymising twice does nothing and says so; forget() journals its
-- reason; rgpd.require_export; erasure of data arriving afterwards; no
-- residue in any text column of a registered table; rgpd.scan() finds what
-- registration missed; rgpd.replay_erasures() after a restore.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET intervalstyle = postgres;
SET timezone = 'UTC';
CREATE SCHEMA anon;
GRANT USAGE ON SCHEMA anon TO regress_agent;
SET search_path = anon, public;

CREATE TABLE clients (
    id         integer PRIMARY KEY,
    name       text NOT NULL,
    first_name text,
    email      varchar(60) UNIQUE,
    phone      text CHECK (phone ~ '^[0-9 +]+$'),
    birth      date,
    tags       text[],
    notes      text,
    negotiator text,
    created    date NOT NULL
);
CREATE TABLE offers (
    id            serial PRIMARY KEY,
    client1_id    integer REFERENCES clients, client1_name text, client1_phone text,
    client2_id    integer REFERENCES clients, client2_name text, client2_phone text,
    agent_id      integer REFERENCES clients, agent_name text,
    comment       text,
    created       date NOT NULL
);
CREATE TABLE documents (id serial PRIMARY KEY, client_id integer REFERENCES clients, filename text NOT NULL);
-- a table the agency forgot to register
CREATE TABLE call_log (id serial PRIMARY KEY, note text);

INSERT INTO clients VALUES
    (1, 'Martin',  'Marie',  'marie.martin@example.fr',  '06 11 11 11 11', '1970-01-01', '{vip}', 'garage', 'Léa',  '2015-01-01'),
    (2, 'Bernard', 'Jean',   'jean.bernard@example.fr',  '06 22 22 22 22', '1980-02-02', NULL,    'chien',  'Hugo', '2015-01-01'),
    (3, 'Dubois',  'Camille','camille.dubois@example.fr', NULL,            NULL,         NULL,    NULL,     'Léa',  '2015-01-01');
INSERT INTO offers (client1_id, client1_name, client1_phone, client2_id, client2_name, client2_phone,
                    agent_id, agent_name, comment, created) VALUES
    (1, 'Martin', '06 11 11 11 11', 2, 'Bernard', '06 22 22 22 22', NULL, NULL, 'duplex', '2016-01-01'),
    (3, 'Dubois', NULL, NULL, NULL, NULL, 2, 'Bernard', 'with agent Bernard', '2016-02-02');
INSERT INTO documents (client_id, filename) VALUES (2, 'id-card-bernard.pdf'), (1, 'payslip-martin.pdf');
INSERT INTO call_log (note) VALUES ('called Jean Bernard about the duplex'), ('nobody');

-- erasure methods: refusals first, nothing recorded
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'notes', 'shred')$$);
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'name', 'null')$$);
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'birth', 'pseudonym')$$);
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'birth', 'empty')$$);
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'email', 'mask')$$);
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'phone', 'mask')$$);
SELECT try($$SELECT rgpd.set_erasure('anon.clients', 'notes', 'delete_row')$$);
SELECT count(*) AS erasures FROM rgpd.erasures;
SELECT rgpd.set_erasure('anon.clients', 'tags', 'empty');
SELECT rgpd.set_erasure('anon.clients', 'notes', 'null');

SELECT rgpd.register_subject('anon.clients', created_column => 'created',
    personal_columns => '{name,first_name,email,phone,birth,tags,notes}', negotiator_column => 'negotiator');
SELECT rgpd.register_link('anon.offers', 'anon.clients', '{client1_id,client2_id,agent_id}', '{created}',
    '{"client1_id": ["client1_name", "client1_phone"], "client2_id": ["client2_name", "client2_phone"],
      "agent_id": ["agent_name"]}');
SELECT rgpd.register_link('anon.documents', 'anon.clients', '{client_id}', '{}');
SELECT rgpd.set_erasure('anon.documents', 'client_id', 'delete_row');
-- how each column goes
SELECT tbl, col, rgpd.erasure_method(tbl, col)
  FROM (VALUES ('anon.clients'::regclass, 'name'::name), ('anon.clients', 'first_name'), ('anon.clients', 'email'),
               ('anon.clients', 'phone'), ('anon.clients', 'birth'), ('anon.clients', 'tags'),
               ('anon.clients', 'notes'), ('anon.offers', 'client2_name'), ('anon.documents', 'client_id')) AS x(tbl, col);

-- where else the values of client 2 appear (before anything is erased)
SELECT * FROM rgpd.scan('anon.clients', 2);

-- refusals, nothing changed
SELECT try($$SELECT rgpd.anonymise('anon.clients', 99)$$);
SELECT try($$SELECT rgpd.anonymise('anon.clients', ARRAY[2, 99]::bigint[])$$);
SELECT try($$SELECT rgpd.forget('anon.clients', 2, '')$$);
SELECT name, rgpd_status FROM clients WHERE id = 2;
SET ROLE regress_agent;
SELECT try($$SELECT rgpd.anonymise('anon.clients', 2)$$);
RESET ROLE;

-- client 2 is client 2 of the first offer and the agent of the second
SELECT rgpd.anonymise('anon.clients', 2) AS anonymised;
SELECT id, name, first_name, email, phone, birth, tags, notes, negotiator, rgpd_status, last_contact
  FROM clients ORDER BY id;
SELECT id, client1_name, client1_phone, client2_name, client2_phone, agent_name, comment
  FROM offers ORDER BY id;
SELECT client_id, filename FROM documents ORDER BY id;
SELECT action, subject_id, detail FROM rgpd.journal WHERE subject = 'anon.clients'::regclass ORDER BY id;
-- rewriting linked rows is not a contact: nothing to repair
SELECT count(*) AS differences FROM rgpd.verify('anon.clients');
-- a second time: nothing to do, and said so
SET client_min_messages = notice;
SELECT rgpd.anonymise('anon.clients', 2) AS anonymised;
SET client_min_messages = warning;

-- an anonymised row keeps its personal columns erased
SELECT try($$UPDATE anon.clients SET name = 'Bernard' WHERE id = 2$$);
UPDATE clients SET negotiator = 'Paul' WHERE id = 2;
-- personal data arriving later for an anonymised person is erased on arrival
INSERT INTO offers (client1_id, client1_name, client1_phone, client2_id, client2_name, created)
VALUES (2, 'Bernard', '06 22 22 22 22', 1, 'Martin', '2024-01-01');
INSERT INTO documents (client_id, filename) VALUES (2, 'another-id-card.pdf');
SELECT client1_id, client1_name, client1_phone, client2_id, client2_name FROM offers WHERE created = '2024-01-01';
SELECT count(*) AS documents_of_client_2 FROM documents WHERE client_id = 2;

-- no residue: rgpd.scan() reads every text column of every table, the
-- registered ones included, for the old values of client 2: none is left
-- where anonymisation erases; what remains is free text the agency never
-- registered (an offer's comment, a call log)
SELECT * FROM rgpd.scan(ARRAY['Bernard', 'Jean', 'jean.bernard@example.fr', '06 22 22 22 22', 'chien']);
SELECT count(*) AS residues_in_erased_columns
  FROM rgpd.scan(ARRAY['Bernard', 'Jean', 'jean.bernard@example.fr', '06 22 22 22 22', 'chien'])
 WHERE erased_by_anonymise;

-- right to be forgotten, with its reason; the export requirement
SET rgpd.require_export = on;
SELECT try($$SELECT rgpd.forget('anon.clients', 3, 'letter of 2024-03-01')$$);
SELECT rgpd.export('anon.clients', 3) IS NOT NULL AS exported;
SELECT count(*) AS stored_exports FROM rgpd.exports WHERE subject_id = 3;
SELECT rgpd.forget('anon.clients', 3, 'letter of 2024-03-01') AS forgotten;
SELECT count(*) AS stored_exports_after FROM rgpd.exports WHERE subject_id = 3;
RESET rgpd.require_export;
SELECT action, subject_id, detail - 'export_id' AS detail, detail ? 'export_id' AS has_export_id
  FROM rgpd.journal WHERE subject = 'anon.clients'::regclass AND subject_id = 3 ORDER BY id;

-- after a restore: the rows come back from a backup taken before the
-- erasures; replaying the journal erases them again (client 2 only:
-- client 3, still anonymised, is neither erased nor journaled again)
CREATE TABLE backup_clients AS SELECT * FROM clients WHERE false;
INSERT INTO backup_clients VALUES
    (2, 'Bernard', 'Jean', 'jean.bernard@example.fr', '06 22 22 22 22', '1980-02-02', NULL, 'chien', 'Hugo',
     '2015-01-01', '2016-02-02', 'active', '2015-01-01');
ALTER TABLE clients DISABLE TRIGGER rgpd_subject_guard;
UPDATE clients c SET name = b.name, first_name = b.first_name, email = b.email, phone = b.phone,
       birth = b.birth, notes = b.notes, rgpd_status = b.rgpd_status
  FROM backup_clients b WHERE b.id = c.id;
ALTER TABLE clients ENABLE TRIGGER rgpd_subject_guard;
UPDATE offers SET client2_name = 'Bernard' WHERE client2_id = 2;
SELECT id, name, rgpd_status FROM clients WHERE id = 2;
SELECT rgpd.replay_erasures('-infinity') AS replayed;
SELECT id, name, email, rgpd_status FROM clients WHERE id IN (2, 3) ORDER BY id;
SELECT id, client2_name FROM offers WHERE client2_id = 2 ORDER BY id;

DROP SCHEMA anon CASCADE;
