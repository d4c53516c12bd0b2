-- 04_lifecycle: retention policies and their refusals; the lists of what
-- falls due by the end of a month (overdue included), right at month ends
-- and leap days; subjects a rental keeps out of the engine; the dashboard;
-- the sweep: a dry run changes nothing and counts the same, a real run
-- archives set-wise and journals each subject, a second run finds nothing.
\set VERBOSITY terse
SET client_min_messages = warning;
SET datestyle = 'ISO, YMD';
SET intervalstyle = postgres;
SET timezone = 'UTC';
CREATE SCHEMA life;
SET search_path = life, public;

CREATE TABLE clients (id integer PRIMARY KEY, kind text NOT NULL DEFAULT 'client', created date NOT NULL);
CREATE TABLE offers (id serial PRIMARY KEY, client_id integer REFERENCES clients,
                     transaction text NOT NULL DEFAULT 'sale', created date NOT NULL);
-- last contacts chosen around month ends and leap days
INSERT INTO clients (id, kind, created) VALUES
    (1, 'client',   '2021-01-31'),   -- archive due 2024-01-31
    (2, 'client',   '2021-02-01'),   -- archive due 2024-02-01
    (3, 'client',   '2021-02-28'),   -- archive due 2024-02-28
    (4, 'client',   '2020-02-29'),   -- leap day: archive due 2023-02-28, anonymise 2025-02-28
    (5, 'prospect', '2021-02-15'),   -- prospect: archive due 2023-02-15 (2 years)
    (6, 'client',   '2021-02-10'),   -- due, but linked to a rental below
    (7, 'client',   '2023-06-30'),   -- not due for years
    (8, 'client',   '2019-01-15');   -- overdue for archiving and anonymising
INSERT INTO offers (client_id, transaction, created) VALUES (6, 'rental', '2021-01-01'), (7, 'sale', '2020-01-01');

SELECT rgpd.register_subject('life.clients', created_column => 'created');
SELECT rgpd.register_link('life.offers', 'life.clients', '{client_id}', '{created}',
                          excludes_when => $$transaction = 'rental'$$);

-- policies: the default one, and refusals that change nothing
SELECT name, archive_after, anonymise_after, applies_when FROM rgpd.policies ORDER BY position;
SELECT try($$SELECT rgpd.set_policy('life.clients', '5 years', '3 years')$$);
SELECT try($$SELECT rgpd.set_policy('life.clients', '3 years', '3 years')$$);
SELECT try($$SELECT rgpd.set_policy('life.clients', '-1 year', '3 years')$$);
SELECT try($$SELECT rgpd.set_policy('life.clients', '1 year', '3 years', name => 'prospects')$$);
SELECT try($$SELECT rgpd.set_policy('life.clients', '1 year', '3 years', 'kind = ''prospect''')$$);
SELECT try($$SELECT rgpd.set_policy('life.clients', '1 year', '3 years', 'nope = 1', 'prospects')$$);
SELECT try($$SELECT rgpd.set_policy('life.clients', '1 year', '3 years', 'transaction = ''rental''', 'p')$$);
SELECT try($$SELECT rgpd.set_policy('life.offers', '1 year', '3 years')$$);
SELECT try($$SELECT rgpd.drop_policy('life.clients', 'default')$$);
SELECT count(*) AS policies FROM rgpd.policies;

-- prospects: 2 years, then 4
SELECT rgpd.set_policy('life.clients', '2 years', '4 years', $$kind = 'prospect'$$, 'prospects');
SELECT name, archive_after, anonymise_after, applies_when FROM rgpd.policies ORDER BY position;

-- what falls due by the end of February 2023: the leap-day client (due
-- 28 February 2023), the prospect, the overdue one — not the rental client
SELECT * FROM rgpd.pending('archive', '2023-02-01');
-- January 2024 ends on the 31st: client 1 is due on its last day
SELECT id, due_on FROM rgpd.pending('archive', '2024-01-15') ORDER BY id;
-- February 2024 (a leap year) ends on the 29th: clients 2 and 3 join
SELECT id, due_on FROM rgpd.pending('archive', '2024-02-29') ORDER BY id;
SELECT id, due_on FROM rgpd.pending('archive', '2024-02-01') ORDER BY id;
-- to anonymise: the overdue client, the prospect after 4 years, the
-- leap-day client after 5 (29 February 2020 + 5 years = 28 February 2025)
SELECT * FROM rgpd.pending('anonymise', '2025-02-01');
SELECT rgpd.is_excluded('life.clients', 6) AS rental_client_excluded,
       rgpd.is_excluded('life.clients', 7) AS sale_client_excluded;
SELECT try($$SELECT * FROM rgpd.pending('delete', '2024-01-01')$$);

-- the home page
SELECT * FROM rgpd.dashboard('2024-02-29');

-- the sweep: a dry run changes nothing and gives the counts a real run gives
SELECT * FROM rgpd.sweep('2024-02-29', dry_run => true);
SELECT count(*) FILTER (WHERE rgpd_status = 'archived') AS archived FROM clients;
SELECT * FROM rgpd.sweep('2024-02-29');
SELECT id, rgpd_status FROM clients ORDER BY id;
-- idempotent
SELECT * FROM rgpd.sweep('2024-02-29');
SELECT * FROM rgpd.dashboard('2024-02-29');
-- journaled: one entry per subject, and one for the run (no personal value)
SELECT action, subject_id, detail FROM rgpd.journal
 WHERE subject = 'life.clients'::regclass OR (action = 'sweep' AND subject IS NULL)
 ORDER BY id;

-- with rgpd.auto_anonymise, the sweep also anonymises what is due
SET rgpd.auto_anonymise = on;
SELECT * FROM rgpd.sweep('2024-02-29', dry_run => true);
SELECT * FROM rgpd.sweep('2024-02-29');
SELECT id, rgpd_status FROM clients WHERE rgpd_status = 'anonymised' ORDER BY id;
RESET rgpd.auto_anonymise;

-- a list exports to CSV with COPY
COPY (SELECT id, last_contact, due_on, policy FROM rgpd.pending('archive', '2026-06-30') ORDER BY id)
  TO STDOUT WITH CSV HEADER;

DROP SCHEMA life CASCADE;
