-- 16_linked_archive: the restricted archive covers the archived person's
-- personal values on linked rows, not only the subject row.  Archiving
-- moves them into rgpd.archived_values (managers only) and writes the
-- erasure method's value in their place; the other person named on the
-- same row keeps theirs.  Un-archiving (by hand, by opt-in, by a new
-- contact) puts them back where nobody changed the erased value;
-- anonymising discards them.  Contacts are not moved by any of it.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA larch AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA larch TO regress_agent, regress_manager;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = larch, public;
SET datestyle = 'ISO, YMD';
CREATE TABLE clients (id integer PRIMARY KEY, name text, phone text, created date NOT NULL);
CREATE TABLE offers (id bigint PRIMARY KEY, client1_id integer REFERENCES clients, client2_id integer REFERENCES clients,
                     client1_name text, client1_phone text, client2_name text, price integer, created date);
-- no primary key: its values cannot be found again, so they stay in place
CREATE TABLE notes (client_id integer REFERENCES clients, author_name text, written date);
CREATE TABLE visits (id integer PRIMARY KEY, client_id integer REFERENCES clients, visitor_name text, at date);
INSERT INTO clients VALUES (1, 'Martin', '0611111111', '2015-01-10'), (2, 'Bernard', '0622222222', '2015-01-10'),
                           (3, 'Dubois', '0633333333', '2015-01-10');
INSERT INTO offers VALUES (10, 1, 2, 'Martin', '0611111111', 'Bernard', 100, '2016-02-01'),
                          (11, 2, 1, 'Bernard', '0622222222', 'Martin', 200, '2016-03-01'),
                          (12, 3, NULL, 'Dubois', '0633333333', NULL, 300, '2016-04-01');
INSERT INTO notes VALUES (1, 'Martin', '2016-01-01');
INSERT INTO visits VALUES (1, 2, 'Bernard', '2016-01-01');
SELECT rgpd.register_subject('larch.clients', created_column => 'created', personal_columns => '{name,phone}');
SELECT rgpd.register_link('larch.offers', 'larch.clients', '{client1_id,client2_id}', '{created}',
                          '{"client1_id": ["client1_name", "client1_phone"], "client2_id": ["client2_name"]}');
SELECT rgpd.register_link('larch.notes', 'larch.clients', '{client_id}', '{written}',
                          '{"client_id": ["author_name"]}');
SELECT rgpd.register_link('larch.visits', 'larch.clients', '{client_id}', '{at}',
                          '{"client_id": ["visitor_name"]}');
GRANT SELECT, INSERT, UPDATE ON clients, offers, notes, visits TO regress_agent, regress_manager;
SELECT id, last_contact FROM clients ORDER BY id;

-- the manager archives Martin: his values leave the offers, Bernard's stay
\c - regress_manager
SET client_min_messages = warning;
SET search_path = larch, public;
SET datestyle = 'ISO, YMD';
SELECT rgpd.archive('larch.clients', 1) AS archived;
SELECT link, subject_id, subject_column, row_key, vals FROM rgpd.archived_values ORDER BY 1, 3, 4;
\c - regress_agent
SET client_min_messages = warning;
SET search_path = larch, public;
SELECT id, client1_name, client1_phone, client2_name FROM offers ORDER BY id;
SELECT client_id, author_name FROM notes;
SELECT try($$SELECT * FROM rgpd.archived_values$$);
-- the agent edits the offer, and corrects the erased phone of client 1
UPDATE offers SET price = 150 WHERE id = 10;
UPDATE offers SET client1_phone = '0699999999' WHERE id = 10;
-- archiving and the agent's edits moved no contact
\c - regress_owner
SET client_min_messages = warning;
SELECT count(*) AS differences FROM rgpd.verify('larch.clients');

-- a manager's export of the archived record gives the values held apart
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.export('larch.clients', 1) -> 'archived_linked_values' AS held;
-- un-archived: values come back, except the phone the agent rewrote
SELECT rgpd.unarchive('larch.clients', 1) AS unarchived;
SELECT id, client1_name, client1_phone, client2_name, price FROM larch.offers ORDER BY id;
SELECT count(*) AS held FROM rgpd.archived_values;

-- the sweep archives; an opt-in brings Dubois back with his values
SELECT action, count FROM rgpd.sweep('2024-06-15', for_subject => 'larch.clients') ORDER BY 1;
SELECT id, rgpd_status FROM larch.clients ORDER BY id;
SELECT id, client1_name, client1_phone, client2_name FROM larch.offers ORDER BY id;
\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.optin('larch.clients', 3, 'e-mail link') > 0 AS opted_in;
SELECT id, client1_name, client1_phone FROM larch.offers WHERE id = 12;
-- a new contact (the application's, connected as the tables' owner)
-- brings Bernard back, with his values (an agent's would not: it cannot
-- read the archive, 15_owner_contacts)
\c - regress_owner
SET client_min_messages = warning;
INSERT INTO larch.notes VALUES (2, 'Bernard', CURRENT_DATE);
SELECT id, client1_name, client2_name FROM larch.offers ORDER BY id;

-- anonymising an archived person discards what was held apart
\c - regress_manager
SET client_min_messages = warning;
SELECT subject_id, count(*) FROM rgpd.archived_values WHERE subject = 'larch.clients'::regclass GROUP BY 1 ORDER BY 1;
SELECT rgpd.anonymise('larch.clients', 1) AS anonymised;
SELECT count(*) AS held FROM rgpd.archived_values;
SELECT id, client1_name, client1_phone, client2_name FROM larch.offers ORDER BY id;
\c - regress_owner
SET client_min_messages = warning;
SELECT count(*) AS differences FROM rgpd.verify('larch.clients');

-- registering the link again, with fewer personal columns, keeps the
-- archive whole: what the new registration names stays held, what it no
-- longer names comes back; a link registered while people are archived
-- holds their values at once
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.archive('larch.clients', 2) AS archived;
\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.register_link('larch.offers', 'larch.clients', '{client1_id,client2_id}', '{created}',
                          '{"client1_id": ["client1_name"], "client2_id": ["client2_name"]}');
SELECT id, client1_name, client1_phone, client2_name FROM larch.offers ORDER BY id;
CREATE TABLE larch.calls (id integer PRIMARY KEY, client_id integer REFERENCES larch.clients, caller text, at date);
INSERT INTO larch.calls VALUES (1, 2, 'Bernard', '2016-01-01');
GRANT SELECT ON larch.calls TO regress_agent, regress_manager;
SELECT rgpd.register_link('larch.calls', 'larch.clients', '{client_id}', '{at}', '{"client_id": ["caller"]}');
\c - regress_agent
SET client_min_messages = warning;
SELECT id, caller FROM larch.calls;
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.unarchive('larch.clients', 2) AS unarchived;
SELECT id, client1_name, client2_name FROM larch.offers ORDER BY id;
SELECT id, caller FROM larch.calls;

-- unregistering the link puts back what it held: Bernard is archived
-- again, then the offers are unregistered
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.archive('larch.clients', 2) AS archived;
SELECT id, client1_name, client2_name FROM larch.offers ORDER BY id;
\c - regress_owner
SET client_min_messages = warning;
SELECT rgpd.unregister_link('larch.offers', 'larch.clients');
SELECT id, client1_name, client2_name FROM larch.offers ORDER BY id;
-- a dropped table takes what was held for it
\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS held_for_offers FROM rgpd.archived_values WHERE link = 'larch.offers'::regclass;
SELECT link, subject_id, vals FROM rgpd.archived_values WHERE subject = 'larch.clients'::regclass;
DROP SCHEMA larch CASCADE;
SELECT count(*) AS held_after_drop FROM rgpd.archived_values;
