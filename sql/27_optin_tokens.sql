-- 27_optin_tokens: the link of a re-consent e-mail.  rgpd.optin_token()
-- is for managers and the role the mailing job runs as (granted EXECUTE);
-- rgpd.optin(token, origin) is for anybody, with no right on the table:
-- it records the opt-in as the table's owner, once, before the token
-- expires.  A token altered by any one character, forged, expired, used
-- or signed by another secret is refused, and changes nothing.  The token
-- itself is stored nowhere; its id is in the proof.
\set VERBOSITY terse
\setenv PGDATESTYLE 'ISO, YMD'
\setenv PGTZ UTC
\c - postgres
SET client_min_messages = warning;
CREATE SCHEMA tok AUTHORIZATION regress_owner;
CREATE ROLE regress_mailing LOGIN;      -- the mailing job
CREATE ROLE regress_click LOGIN;        -- the web page behind the link: no right at all
GRANT USAGE ON SCHEMA tok TO regress_agent, regress_manager, regress_mailing;
GRANT EXECUTE ON FUNCTION rgpd.optin_token(regclass, bigint, interval) TO regress_mailing;
-- tokens go from one role to another through this table (tests only)
CREATE TABLE public.tokens (name text PRIMARY KEY, token text NOT NULL);
GRANT SELECT, INSERT ON public.tokens TO PUBLIC;

\c - regress_owner
SET client_min_messages = warning;
CREATE TABLE tok.clients (id integer PRIMARY KEY, name text, email text, negotiator text,
                          created date NOT NULL);
INSERT INTO tok.clients VALUES
    (1, 'Dupont', 'dupont@example.fr', 'Léa', current_date - 1000),
    (2, 'Durand', 'durand@example.fr', 'Marc', current_date - 1000),
    (3, 'Martin', 'martin@example.fr', NULL, '2015-03-01'),
    (4, 'Petit', 'petit@example.fr', 'Léa', '2015-03-01'),
    (5, 'Robert', NULL, 'Léa', current_date - 10);
SELECT rgpd.register_subject('tok.clients', created_column => 'created', negotiator_column => 'negotiator',
                             email_column => 'email', personal_columns => '{name,email}');
SELECT rgpd.archive('tok.clients', 3) AS archived;
-- another subject table with the same keys
CREATE TABLE tok.prospects (id integer PRIMARY KEY, created date NOT NULL);
INSERT INTO tok.prospects VALUES (1, current_date - 500), (2, current_date - 500);
SELECT rgpd.register_subject('tok.prospects', created_column => 'created');
GRANT SELECT ON tok.clients, tok.prospects TO regress_agent, regress_manager, regress_mailing;

-- who may issue tokens: managers and the mailing job, not an agent
\c - regress_agent
SET client_min_messages = warning;
SELECT try($$SELECT rgpd.optin_token('tok.clients', 1)$$);
\c - regress_mailing
SET client_min_messages = warning;
INSERT INTO public.tokens SELECT 'one', rgpd.optin_token('tok.clients', 1);
INSERT INTO public.tokens SELECT 'two', rgpd.optin_token('tok.clients', 2, '7 days');
INSERT INTO public.tokens SELECT 'short', rgpd.optin_token('tok.clients', 2, '1 second');
INSERT INTO public.tokens SELECT 'prospect', rgpd.optin_token('tok.prospects', 2);
-- a token is opaque, URL-safe, and different each time
SELECT name, token ~ '^[A-Za-z0-9_-]+$' AS url_safe, length(token) BETWEEN 60 AND 120 AS short
  FROM public.tokens ORDER BY name;
SELECT rgpd.optin_token('tok.clients', 1) <> rgpd.optin_token('tok.clients', 1) AS random;
-- the mailing job sees no archived row: no token for one
SELECT try($$SELECT rgpd.optin_token('tok.clients', 3)$$);
SELECT try($$SELECT rgpd.optin_token('tok.clients', 42)$$);
SELECT try($$SELECT rgpd.optin_token('tok.clients', 1, '0')$$);
SELECT try($$SELECT rgpd.optin_token('tok.clients', 1, '-1 day')$$);
SELECT try($$SELECT rgpd.optin_token('tok.clients', 1, '2 years')$$);
SELECT try($$SELECT rgpd.optin_token('tok.clients', 1, NULL)$$);
SELECT try($$SELECT rgpd.optin_token('tok.clients', NULL)$$);
-- nobody but the extension's owner reads the secret
SELECT try($$SELECT * FROM rgpd.optin_secret$$);
\c - regress_manager
SET client_min_messages = warning;
SELECT try($$SELECT * FROM rgpd.optin_secret$$);
-- a manager sees the archive: a token for the archived client
INSERT INTO public.tokens SELECT 'archived', rgpd.optin_token('tok.clients', 3);
INSERT INTO public.tokens SELECT 'later anonymised', rgpd.optin_token('tok.clients', 4);
SELECT rgpd.anonymise('tok.clients', 4) AS anonymised;
SELECT try($$SELECT rgpd.optin_token('tok.clients', 4)$$);

-- the person clicks: the web page's role holds no right on the table
\c - regress_click
SET client_min_messages = warning;
SELECT try($$SELECT count(*) FROM tok.clients$$);
SELECT try($$SELECT rgpd.optin('tok.clients', 1, 'reconsent-email')$$);
SELECT rgpd.optin((SELECT token FROM public.tokens WHERE name = 'one'), 'reconsent-email-2026-06') > 0
    AS recorded;
-- once only
SELECT regexp_replace(try(format('SELECT rgpd.optin(%L, %L)', (SELECT token FROM public.tokens WHERE name = 'one'),
                  'reconsent-email-2026-06')), '[0-9a-f]{16}', '<id>') AS try;
-- a token for another table acts on that table's row only
SELECT rgpd.optin((SELECT token FROM public.tokens WHERE name = 'prospect'), 'reconsent-email-2026-06') > 0
    AS recorded;
-- an archived client comes back
SELECT rgpd.optin((SELECT token FROM public.tokens WHERE name = 'archived'), 'reconsent-email-2026-06') > 0
    AS recorded;
-- an anonymised one cannot opt in again; the token is not spent
SELECT try(format('SELECT rgpd.optin(%L, %L)', (SELECT token FROM public.tokens WHERE name = 'later anonymised'),
                  'reconsent-email-2026-06'));
-- malformed, forged
SELECT try($$SELECT rgpd.optin('', 'x')$$);
SELECT try($$SELECT rgpd.optin('not a token', 'x')$$);
SELECT try(format('SELECT rgpd.optin(%L, %L)', repeat('A', 2000), 'x'));
SELECT try(format('SELECT rgpd.optin(%L, %L)', 'AQ' || repeat('A', 100), 'x'));
SELECT try(format('SELECT rgpd.optin(%L, %L)', (SELECT token FROM public.tokens WHERE name = 'two'), ''));
SELECT rgpd.optin((SELECT token FROM public.tokens WHERE name = 'two'), NULL) IS NULL AS strict;

-- altered by one character, at every position, into every other kind of
-- character (the last one too, where base64 has unused bits): all refused,
-- as malformed (22023) or for their signature (28000), never recorded
CREATE TEMP TABLE altered AS
SELECT p, c, try(format('SELECT rgpd.optin(%L, %L)',
                        overlay(t.token placing c from p for 1), 'altered')) AS result
  FROM public.tokens AS t,
       generate_series(1, length(t.token)) AS p,
       LATERAL (SELECT x FROM unnest(ARRAY['A', 'B', 'Q', 'g', 'w', '0', '-', '_', '+', '/', '='])
                 AS x WHERE x <> substr(t.token, p, 1) LIMIT 3) AS v(c)
 WHERE t.name = 'two';
SELECT left(result, 5) AS sqlstate, count(*) > 0 AS some, bool_and(true) AS all_refused
  FROM altered GROUP BY 1 ORDER BY 1;
SELECT count(DISTINCT p) = (SELECT length(token) FROM public.tokens WHERE name = 'two')
    AS every_position_tried
  FROM altered;

-- expired
SELECT pg_sleep(2.1);
SELECT regexp_replace(try(format('SELECT rgpd.optin(%L, %L)', (SELECT token FROM public.tokens WHERE name = 'short'),
                  'reconsent-email-2026-06')), '[0-9a-f]{16}', '<id>') AS try;

-- what was recorded: as the table's owner, the token's id in the origin,
-- the role that clicked in the journal; never the token
\c - regress_owner
SET client_min_messages = warning;
SELECT id, rgpd_status, last_contact = current_date AS contact_today FROM tok.clients ORDER BY id;
SELECT id, last_contact = current_date AS contact_today FROM tok.prospects ORDER BY id;
SELECT subject, subject_id, origin ~ '^reconsent-email-2026-06 \[token [0-9a-f]{16}\]$' AS origin_with_token_id,
       recorded_by
  FROM rgpd.optin_events WHERE subject::text LIKE 'tok.%' ORDER BY id;
SELECT subject_id, negotiator, reason FROM rgpd.recontact_tasks
 WHERE subject = 'tok.clients'::regclass ORDER BY id;
\c - regress_manager
SET client_min_messages = warning;
SELECT actor, action, subject, subject_id, detail->>'caller' AS caller,
       detail->>'token' ~ '^[0-9a-f]{16}$' AS token_id,
       position(detail->>'token' IN detail->>'origin') > 0 AS same_id
  FROM rgpd.journal WHERE subject::text LIKE 'tok.%' AND action IN ('optin', 'unarchive')
 ORDER BY id;
SELECT count(*) AS used, count(optin_id) AS with_optin FROM rgpd.optin_tokens_used;
-- no token anywhere in the extension's tables
\c - postgres
SET client_min_messages = warning;
SELECT count(*) AS token_stored
  FROM public.tokens AS t
 WHERE EXISTS (SELECT 1 FROM rgpd.journal AS j WHERE j.detail::text LIKE '%' || t.token || '%')
    OR EXISTS (SELECT 1 FROM rgpd.optin_events AS o WHERE o.origin LIKE '%' || t.token || '%')
    OR EXISTS (SELECT 1 FROM rgpd.optin_tokens_used AS u WHERE u.token_id = t.token);

-- a new secret: every token issued before is refused
SELECT rgpd.rotate_optin_secret();
\c - regress_click
SET client_min_messages = warning;
SELECT try(format('SELECT rgpd.optin(%L, %L)', (SELECT token FROM public.tokens WHERE name = 'two'), 'x'));
SELECT try($$SELECT rgpd.rotate_optin_secret()$$);

\c - postgres
SET client_min_messages = warning;
DROP SCHEMA tok CASCADE;
DROP TABLE public.tokens;
REVOKE EXECUTE ON FUNCTION rgpd.optin_token(regclass, bigint, interval) FROM regress_mailing;
DROP ROLE regress_mailing, regress_click;
