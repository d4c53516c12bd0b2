-- test/standby/checks.sql: the read-only API on a hot standby, as ordinary
-- login roles (see test/standby/primary.sql).  Each check prints "ok …" or
-- "failed …"; run.sh counts them.  rgpd.export answers with the document
-- and a NOTICE that it was not stored (run.sh looks for it), and stores
-- nothing; a function that writes fails with PostgreSQL's 25006.
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned
SELECT public.sb_check('in recovery', 'SELECT pg_is_in_recovery()', 'true');

-- clients 1-4: contact 2024; 5: archived; 6-8: due; 9: rental; 10: forgotten
\c - regress_sb_agent
SELECT public.sb_check('pending_archive (agent)', 'SELECT count(*) FROM rgpd.pending_archive', '3');
SELECT public.sb_check('pending_anonymise (agent: none)', 'SELECT count(*) FROM rgpd.pending_anonymise', '0');
SELECT public.sb_check('pending() (agent)', $$SELECT string_agg(id::text, ',' ORDER BY id) FROM rgpd.pending('archive', '2024-06-15')$$, '6,7,8');
SELECT public.sb_check('dashboard (agent)', $$SELECT format('%s %s %s', to_archive, to_anonymise, excluded) FROM rgpd.dashboard('2024-06-15')$$, '3  1');
SELECT public.sb_check('is_excluded', $$SELECT rgpd.is_excluded('sb.clients', 9)$$, 'true');
SELECT public.sb_check('verify (agent)', $$SELECT count(*) FROM rgpd.verify('sb.clients')$$, '0');
SELECT public.sb_check('export (agent)', $$SELECT rgpd.export('sb.clients', 1) #>> '{record,name}'$$, 'Nom1');
SELECT public.sb_check('export of an archived record (agent: none)', $$SELECT rgpd.export('sb.clients', 5)$$, 'ERROR P0002');
SELECT public.sb_check('scan (agent)', $$SELECT string_agg(format('%s.%s', tbl, col), ',' ORDER BY format('%s.%s', tbl, col)) FROM rgpd.scan('sb.clients', 2)$$,
                    'sb.clients.email,sb.clients.name,sb.offers.client_name');
SELECT public.sb_check('recipients (agent)', $$SELECT string_agg(id::text, ',' ORDER BY id) FROM rgpd.recipients('newsletter')$$, '1,2,3');
SELECT public.sb_check('consent_history (agent)', $$SELECT count(*) FROM rgpd.consent_history('sb.clients', 1)$$, '1');
SELECT public.sb_check('scan(values) (agent)', $$SELECT sum(matches) FROM rgpd.scan('{Nom3}')$$, '2');
SELECT public.sb_check('erasure_method', $$SELECT rgpd.erasure_method('sb.offers', 'client_name')$$, 'mask');
SELECT public.sb_check('archived row hidden (agent)', 'SELECT count(*) FROM sb.clients', '9');

\c - regress_sb_manager
SELECT public.sb_check('pending_anonymise (manager)', $$SELECT string_agg(id::text, ',' ORDER BY id) FROM rgpd.pending('anonymise', '2022-06-15')$$, '5,6,7,8');
SELECT public.sb_check('dashboard (manager)', $$SELECT format('%s %s %s %s', to_archive, to_anonymise, archived, anonymised) FROM rgpd.dashboard('2024-06-15')$$, '3 4 1 1');
SELECT public.sb_check('erasure_log', $$SELECT jsonb_path_query_array(rgpd.erasure_log(), '$.erasures[*].id')::text$$, '[10]');
SELECT public.sb_check('sweep dry run', $$SELECT string_agg(format('%s %s', action, count), ',' ORDER BY action) FROM rgpd.sweep('2024-06-15', dry_run => true)$$, 'archive 3');
SELECT public.sb_check('export of an archived record (manager)', $$SELECT rgpd.export('sb.clients', 5) #>> '{archived_linked_values,0,values,client_name}'$$, 'Nom5');
SELECT public.sb_check('current_consents (manager)', 'SELECT count(*) FROM rgpd.current_consents', '3');
SELECT public.sb_check('journal (manager)', $$SELECT string_agg(DISTINCT action, ',') FROM rgpd.journal$$, 'archive,consent,create_campaign,forget');
SELECT public.sb_check('exports not stored', 'SELECT count(*) FROM rgpd.exports', '0');
SELECT public.sb_check('journal unchanged', $$SELECT count(*) FROM rgpd.journal WHERE action = 'export'$$, '0');
SELECT public.sb_check('archive refused (25006)', $$SELECT rgpd.archive('sb.clients', 6)$$, 'ERROR 25006');
SELECT public.sb_check('sweep refused (25006)', $$SELECT count(*) FROM rgpd.sweep('2024-06-15')$$, 'ERROR 25006');
SELECT public.sb_check('anonymise refused (25006)', $$SELECT rgpd.anonymise('sb.clients', 6)$$, 'ERROR 25006');
SELECT public.sb_check('set_consent refused (25006)', $$SELECT rgpd.set_consent('sb.clients', 6, 'newsletter', true, 'form')$$, 'ERROR 25006');
-- nothing to replay: a replay of what is already erased writes nothing
SELECT public.sb_check('replay_erasures, nothing to do', $$SELECT rgpd.replay_erasures(rgpd.erasure_log())$$, '0');

\c - regress_sb_owner
SELECT public.sb_check('verify (owner)', $$SELECT count(*) FROM rgpd.verify('sb.clients')$$, '0');
SELECT public.sb_check('optin refused (25006)', $$SELECT rgpd.optin('sb.clients', 6, 'e-mail link')$$, 'ERROR 25006');
SELECT public.sb_check('recompute refused (25006)', $$SELECT rgpd.recompute('sb.clients')$$, 'ERROR 25006');
SELECT public.sb_check('set_policy refused (25006)', $$SELECT rgpd.set_policy('sb.clients', '2 years', '4 years')$$, 'ERROR 25006');
