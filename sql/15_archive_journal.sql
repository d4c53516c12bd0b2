-- 15_archive_journal: rgpd.archive() journals what it changed and nothing
-- else.  An empty list of ids, or rows that are already archived, change
-- nothing: no journal line (in particular none with a NULL subject_id).
\set VERBOSITY terse
\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE public.aj_clients (id bigint PRIMARY KEY, created date NOT NULL);
INSERT INTO public.aj_clients VALUES (1, current_date - 6 * 365), (2, current_date - 6 * 365);
SELECT rgpd.register_subject('public.aj_clients', created_column => 'created');
GRANT SELECT ON public.aj_clients TO regress_manager;
SELECT rgpd.archive('public.aj_clients', '{}'::bigint[]) AS archived;

-- a manager sees the archive: archiving an archived row again is a notice
\c - regress_manager
SELECT rgpd.archive('public.aj_clients', '{}'::bigint[]) AS archived;
SELECT rgpd.archive('public.aj_clients', 1) AS archived;
-- again: already archived (a notice), nothing changed
SELECT rgpd.archive('public.aj_clients', 1) AS archived;
SELECT rgpd.archive('public.aj_clients', ARRAY[1, 2]::bigint[]) AS archived;

\c - postgres
SELECT action, subject_id, detail FROM rgpd.journal
 WHERE subject = 'public.aj_clients'::regclass ORDER BY id;
SELECT count(*) AS lines_without_subject_id FROM rgpd.journal
 WHERE subject = 'public.aj_clients'::regclass AND subject_id IS NULL;
SET client_min_messages = warning;
DROP TABLE public.aj_clients;
