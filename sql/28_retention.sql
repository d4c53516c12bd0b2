-- 28_retention: retention by kind of record.  An invoices link is kept 10
-- years (French commercial code L123-22): when its client is anonymised or
-- forgotten, invoices younger than issued + 10 years keep their personal
-- values, recorded in rgpd.retained_rows (managers only) and journaled
-- with the basis and the day they go; the sweep erases them on that day,
-- values held apart by the restricted archive included.  An appointments
-- link is purged after 5 years (rows deleted, whatever their client's
-- status: last_contact goes down with them and rgpd.verify() stays
-- empty), a call-notes link after 1 year (personal columns erased).  Only
-- managers set rules; every input is checked.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA ret AUTHORIZATION regress_owner;
GRANT USAGE ON SCHEMA ret TO regress_agent, regress_manager;
-- the sweeps below anonymise too (a superuser's setting)
ALTER ROLE regress_manager SET rgpd.auto_anonymise = on;

\c - regress_owner
SET client_min_messages = warning;
SET search_path = ret, public;
SET datestyle = 'ISO, YMD';
CREATE TABLE clients (id integer PRIMARY KEY, name text, phone text, created date NOT NULL);
CREATE TABLE invoices (id integer PRIMARY KEY, client_id integer REFERENCES clients,
                       client_name text, amount integer, issued date);
CREATE TABLE appointments (id integer PRIMARY KEY, client_id integer REFERENCES clients,
                           client_name text, at timestamptz);
CREATE TABLE calls (id integer PRIMARY KEY, client_id integer REFERENCES clients,
                    caller_name text, note text, at date);
CREATE TABLE notes (client_id integer, author text, written date);
SELECT rgpd.register_subject('ret.clients', created_column => 'created', personal_columns => '{name,phone}');
SELECT rgpd.register_link('ret.invoices', 'ret.clients', '{client_id}', '{issued}',
                          '{"client_id": ["client_name"]}');
SELECT rgpd.register_link('ret.appointments', 'ret.clients', '{client_id}', '{at}',
                          '{"client_id": ["client_name"]}');
SELECT rgpd.register_link('ret.calls', 'ret.clients', '{client_id}', '{at}',
                          '{"client_id": ["caller_name", "note"]}');
GRANT SELECT, INSERT, UPDATE ON clients, invoices, appointments, calls TO regress_agent, regress_manager;

-- only managers set retention rules, not the owner, not an agent
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '10 years')$$);
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '10 years')$$);
SELECT try($$SELECT rgpd.purge('ret.appointments')$$);
-- nor around the check: the internal writer and the tables are closed
SELECT try($$SELECT rgpd._set_retention('regress_agent', 'ret.invoices', 'issued', '1 day', NULL, 'erase', NULL)$$);
SELECT try($$INSERT INTO rgpd.retention (link, date_column, keep, set_by) VALUES ('ret.invoices', 'issued', '1 day', 'x')$$);
SELECT try($$DELETE FROM rgpd.retained_rows$$);

\c - regress_manager
SET client_min_messages = warning;
SET search_path = ret, public;
SET datestyle = 'ISO, YMD';
-- bad rules are refused and change nothing
SELECT try($$SELECT rgpd.set_retention('ret.notes', 'written', keep => '1 year')$$);
SELECT try($$SELECT rgpd.set_retention(NULL, 'issued', keep => '1 year')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'amount', keep => '10 years')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'due', keep => '10 years')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '0 days')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '200 years')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '-1 year')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', purge_after => '12 hours')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '10 years', purge_after => '5 years')$$);
SELECT try($$SELECT rgpd.set_retention('ret.invoices', 'issued', purge_after => '5 years', purge => 'shred')$$);
SELECT try($$SELECT rgpd.purge('ret.invoices')$$);
SELECT count(*) AS rules FROM rgpd.retention;

SELECT rgpd.set_retention('ret.invoices', 'issued', keep => '10 years',
                          basis => 'Code de commerce L123-22');
SELECT rgpd.set_retention('ret.appointments', 'at', purge_after => '5 years', purge => 'delete');
SELECT rgpd.set_retention('ret.calls', 'at', purge_after => '1 year');
SELECT link, date_column, keep, purge_after, purge, basis, set_by FROM rgpd.retention ORDER BY 1::text;

-- the data: clients 1-3 last seen in 2013; client 4 recently
\c - regress_owner
SET client_min_messages = warning;
SET search_path = ret, public;
SET datestyle = 'ISO, YMD';
INSERT INTO clients VALUES (1, 'Martin', '0611', '2012-01-10'), (2, 'Bernard', '0622', '2012-01-10'),
                           (3, 'Dubois', '0633', '2012-01-10'), (4, 'Petit', '0644', CURRENT_DATE - 400),
                           (5, 'Moreau', '0655', CURRENT_DATE - 900);
INSERT INTO invoices VALUES (10, 1, 'Martin', 100, '2012-03-01'), (11, 1, 'Martin', 110, '2013-05-01'),
                            (20, 2, 'Bernard', 200, '2013-04-01'),
                            (30, 3, 'Dubois', 300, '2005-01-01'), (31, 3, 'Dubois', 310, '2013-01-01'),
                            (40, 4, 'Petit', 400, CURRENT_DATE - 30), (41, 4, 'Petit', 410, CURRENT_DATE - 11 * 365);
INSERT INTO appointments VALUES (100, 1, 'Martin', '2013-06-01 10:00+02'), (101, 4, 'Petit', now() - interval '6 years'),
                                (102, 4, 'Petit', now() - interval '20 days');
INSERT INTO clients VALUES (6, 'Leroy', '0666', CURRENT_DATE - 900);
INSERT INTO calls VALUES (200, 5, 'Moreau', 'wants a flat', CURRENT_DATE - 800), (201, 5, 'Moreau', 'called back', CURRENT_DATE - 10),
                         (202, 6, 'Leroy', 'budget 300k', CURRENT_DATE - 700);

-- the sweep as of 2016: clients 1-3 are archived; their values on linked
-- rows move to the restricted archive
\c - regress_manager
SET client_min_messages = warning;
SET search_path = ret, public;
SET datestyle = 'ISO, YMD';
SELECT action, count FROM rgpd.sweep('2016-06-15', false, 'ret.clients') WHERE action IN ('archive', 'anonymise') ORDER BY 1;
SELECT link::text, row_key, vals FROM rgpd.archived_values WHERE subject = 'ret.clients'::regclass ORDER BY 1, 2;

-- the sweep as of 2018-06-15 anonymises clients 1-3 (5 years): invoices
-- issued after 2008-06-15 are kept, with their values still apart (the
-- rows keep the archive's pseudonym); older ones (30) are erased
SELECT action, count FROM rgpd.sweep('2018-06-15', false, 'ret.clients') WHERE action IN ('archive', 'anonymise') ORDER BY 1;
SELECT id, rgpd_status FROM clients ORDER BY id;
SELECT id, client_id, client_name FROM invoices ORDER BY id;
SELECT link::text, subject_id, rows, until, basis, row_keys FROM rgpd.retained_rows ORDER BY 1, 2;
SELECT link::text, row_key, vals FROM rgpd.archived_values WHERE subject = 'ret.clients'::regclass ORDER BY 1, 2;
-- the journal says what is kept, why and until when
SELECT subject_id, detail FROM rgpd.journal WHERE action = 'retain' AND subject = 'ret.clients'::regclass ORDER BY id;

-- agents see neither the rows kept nor the values held apart
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT count(*) FROM rgpd.retained_rows$$);
SELECT count(*) AS visible FROM rgpd.retained_rows;
SELECT id, client_name FROM ret.invoices WHERE client_id IN (1, 2, 3) ORDER BY id;

-- the lists: rows kept and due to go, rows to purge
\c - regress_manager
SET client_min_messages = warning;
SET search_path = ret, public;
SET datestyle = 'ISO, YMD';
SELECT link, purge, to_purge, retained, retained_due, held FROM rgpd.pending_retention('2023-06-15') ORDER BY 1::text;

-- each kept invoice goes on the sweep after its day, with its values
-- held apart: as of 2022-06-15 invoice 10 (kept until 2022-03-01), as of
-- 2023-04-15 invoices 31 (2023-01-01) and 20 (2023-04-01), as of
-- 2023-06-15 invoice 11 (2023-05-01)
SELECT action, count FROM rgpd.sweep('2022-06-15', false, 'ret.clients') WHERE action = 'retention_expired';
SELECT action, count FROM rgpd.sweep('2023-04-15', false, 'ret.clients') WHERE action = 'retention_expired';
SELECT id, client_name FROM invoices WHERE client_id IN (1, 2, 3) ORDER BY id;
SELECT link::text, subject_id, rows, until, row_keys FROM rgpd.retained_rows ORDER BY 1, 2;
SELECT link::text, row_key FROM rgpd.archived_values WHERE subject = 'ret.clients'::regclass ORDER BY 1, 2;
SELECT action, count FROM rgpd.sweep('2023-06-15', false, 'ret.clients') WHERE action = 'retention_expired';
SELECT id, client_name FROM invoices WHERE client_id IN (1, 2, 3) ORDER BY id;
SELECT count(*) AS retained, (SELECT count(*) FROM rgpd.archived_values WHERE subject = 'ret.clients'::regclass) AS held_apart
  FROM rgpd.retained_rows;

-- forget, now: client 4's invoice of last month keeps its name (until
-- 10 years after it was issued); the one of 11 years ago is erased
SELECT rgpd.forget('ret.clients', 4, 'letter of 2026-11-02') AS forgotten;
SELECT id, client_name FROM invoices WHERE client_id = 4 ORDER BY id;
SELECT subject_id, rows, until = CURRENT_DATE - 30 + interval '10 years' AS ten_years, basis FROM rgpd.retained_rows;
-- a new invoice for the forgotten client keeps its values too (it is
-- younger than 10 years), and is recorded
\c - regress_owner
SET client_min_messages = warning;
INSERT INTO ret.invoices VALUES (42, 4, 'Petit', 420, CURRENT_DATE);
SELECT id, client_name FROM ret.invoices WHERE client_id = 4 ORDER BY id;
-- (a new appointment for the forgotten client is erased on arrival, as
-- before: appointments have no keep)
INSERT INTO ret.appointments VALUES (103, 4, 'Petit', now());
SELECT id, client_name FROM ret.appointments WHERE id = 103;
\c - regress_manager
SET client_min_messages = warning;
SET search_path = ret, public;
SELECT subject_id, rows FROM rgpd.retained_rows;

-- an export says which rules apply to the person's records
SELECT rgpd.export('ret.clients', 4) -> 'retention' AS retention;
SELECT rgpd.export('ret.clients', 4) -> 'retained_rows' -> 0 ->> 'rows' AS retained_rows;

-- Leroy is archived: his call's values are held apart (the row carries
-- the erased value); the purge discards them too, so that un-archiving him
-- later does not bring the purged call back
SELECT rgpd.archive('ret.clients', 6) AS archived;
SELECT row_key, vals FROM rgpd.archived_values WHERE link = 'ret.calls'::regclass;

-- the owner's own trigger on the link fires during a purge as the owner,
-- never as the manager who runs it (the gate)
\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE ret.trigger_log (who name, what text);
CREATE FUNCTION ret.log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ret.trigger_log VALUES (current_user, TG_OP || ' ' || OLD.id);
    RETURN OLD;
END
$$;
CREATE TRIGGER log_delete BEFORE DELETE ON ret.appointments FOR EACH ROW EXECUTE FUNCTION ret.log_delete();
\c - regress_manager
SET client_min_messages = warning;
SET search_path = ret, public;
SET datestyle = 'ISO, YMD';

-- purges, as of today: the 6-year-old appointment is deleted whatever its
-- client's status (rgpd.verify stays empty: last_contact follows), the
-- call of 800 days ago (of client 5, active) is erased, not deleted
SELECT link, to_purge FROM rgpd.pending_retention() WHERE to_purge IS NOT NULL ORDER BY 1::text;
SELECT to_archive, retention_pending FROM rgpd.dashboard() WHERE subject = 'ret.clients'::regclass;
SELECT action, count FROM rgpd.sweep(CURRENT_DATE, true, 'ret.clients') WHERE action = 'purge' ORDER BY subject::text;
SELECT action, subject, count FROM rgpd.sweep(CURRENT_DATE, false, 'ret.clients') WHERE action = 'purge' ORDER BY subject::text;
SELECT id FROM appointments ORDER BY id;
\c - regress_owner
SELECT who, what FROM ret.trigger_log;
\c - regress_manager
SET client_min_messages = warning;
SET search_path = ret, public;
SELECT id, caller_name, note FROM calls ORDER BY id;
SELECT id, name, rgpd_status FROM clients WHERE id = 5;
SELECT count(*) AS held_apart FROM rgpd.archived_values WHERE link = 'ret.calls'::regclass;
SELECT rgpd.unarchive('ret.clients', 6) AS unarchived;
SELECT id, caller_name, note FROM calls WHERE id = 202;
-- a second run has nothing left to purge
SELECT rgpd.purge('ret.calls') AS purged_again, rgpd.purge('ret.appointments') AS deleted_again;
-- as rgpd.anonymise, rgpd.purge needs the right to read what it erases
\c - regress_owner
REVOKE SELECT ON ret.calls FROM regress_manager;
\c - regress_manager
SELECT try($$SELECT rgpd.purge('ret.calls')$$);
\c - regress_owner
GRANT SELECT ON ret.calls TO regress_manager;
\c - regress_manager
SET client_min_messages = warning;
SELECT action, detail ->> 'rows' AS rows, detail ->> 'purge' AS purge FROM rgpd.journal
 WHERE action IN ('purge', 'retention_expired')
   AND subject IN ('ret.appointments'::regclass, 'ret.calls'::regclass, 'ret.invoices'::regclass) ORDER BY id;
\c - regress_owner
SET client_min_messages = warning;
SELECT count(*) AS differences FROM rgpd.verify('ret.clients');

-- an erase rule on a link without personal columns purges nothing (it
-- was an internal error: the statement naming held rows was never built)
\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE ret.visits (id integer PRIMARY KEY, client_id integer REFERENCES ret.clients, at date);
INSERT INTO ret.visits VALUES (1, 1, '2001-01-01');
SELECT rgpd.register_link('ret.visits', 'ret.clients', '{client_id}', '{at}') IS NOT NULL AS registered;
GRANT SELECT ON ret.visits TO regress_manager;
\c - regress_manager
SET client_min_messages = warning;
SELECT rgpd.set_retention('ret.visits', 'at', purge_after => '5 years') IS NOT NULL AS set;
SELECT rgpd.purge('ret.visits') AS purged_without_personal_columns;
SELECT rgpd.unset_retention('ret.visits') AS removed;

-- a rule under which rows are kept cannot be removed; others can
\c - regress_manager
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.unset_retention('ret.invoices')$$);
SELECT rgpd.unset_retention('ret.appointments') AS removed, rgpd.unset_retention('ret.appointments') AS again;

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA ret CASCADE;
SELECT (SELECT count(*) FROM rgpd.retention) AS rules, (SELECT count(*) FROM rgpd.retained_rows) AS kept;
ALTER ROLE regress_manager RESET rgpd.auto_anonymise;
