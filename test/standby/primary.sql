-- test/standby/primary.sql: on the primary, a small registered database
-- (rgpd_standby) whose read-only API test/standby/checks.sql then runs on
-- a hot standby (test/run.sh, step "hot standby").  Its own roles, so that
-- it does not depend on what the other suites left behind.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION pericles_rgpd;
CREATE ROLE regress_sb_owner LOGIN;
CREATE ROLE regress_sb_agent LOGIN;
CREATE ROLE regress_sb_manager LOGIN IN ROLE rgpd_manager;
CREATE SCHEMA sb AUTHORIZATION regress_sb_owner;
GRANT USAGE ON SCHEMA sb TO regress_sb_agent, regress_sb_manager;

-- run query; its first column as text, or ERROR and the SQLSTATE; "ok
-- label" when that is what was expected, else "failed label: …"
CREATE FUNCTION public.sb_check(label text, query text, expected text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    got text;
    msg text;
BEGIN
    BEGIN
        EXECUTE query INTO got;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS got = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        got := 'ERROR ' || got;
    END;
    IF got IS NOT DISTINCT FROM expected THEN
        RETURN 'ok ' || label;
    END IF;
    RETURN format('failed %s: got %s, expected %s%s', label, coalesce(got, 'NULL'), expected,
                  CASE WHEN msg IS NOT NULL THEN ' (' || msg || ')' ELSE '' END);
END
$$;

SET ROLE regress_sb_owner;
CREATE TABLE sb.clients (id bigint PRIMARY KEY, name text NOT NULL, email text, created date NOT NULL);
CREATE TABLE sb.offers (id bigint PRIMARY KEY, client_id bigint REFERENCES sb.clients, client_name text,
                        transaction text NOT NULL DEFAULT 'sale', created date NOT NULL);
INSERT INTO sb.clients SELECT g, 'Nom' || g, 'p' || g || '@example.fr', '2016-01-10' FROM generate_series(1, 10) AS g;
INSERT INTO sb.offers SELECT g, g, 'Nom' || g, CASE WHEN g = 9 THEN 'rental' ELSE 'sale' END,
                             CASE WHEN g <= 4 THEN DATE '2024-01-10' ELSE DATE '2017-01-10' END
  FROM generate_series(1, 10) AS g;
SELECT rgpd.register_subject('sb.clients', created_column => 'created', personal_columns => '{name,email}',
                             email_column => 'email', time_zone => 'UTC');
SELECT rgpd.register_link('sb.offers', 'sb.clients', '{client_id}', '{created}', '{"client_id": ["client_name"]}',
                          excludes_when => $$transaction = 'rental'$$, archive_with_subject => true);
GRANT SELECT, UPDATE ON sb.clients, sb.offers TO regress_sb_agent;
GRANT SELECT ON sb.clients, sb.offers TO regress_sb_manager;
RESET ROLE;
SET ROLE regress_sb_manager;
SELECT rgpd.create_campaign('newsletter', 'mail');
SELECT rgpd.set_consent('sb.clients', g, 'newsletter', true, 'form', '2024-02-01 10:00+00') FROM generate_series(1, 3) AS g;
SELECT rgpd.archive('sb.clients', 5);
SELECT rgpd.forget('sb.clients', 10, 'letter');
RESET ROLE;
