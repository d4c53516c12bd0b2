-- 24_upgrade_catalog: a database that installed 1.0 and was updated to 1.1
-- has exactly the catalog of a fresh 1.1 install: every member of the
-- extension; functions with their signatures, results, security,
-- volatility, strictness, settings (proconfig), ACLs, bodies (md5) and
-- comments; tables, views and sequences with their columns (position,
-- type, defaults, NOT NULL, identity, ACLs), row-level security flags,
-- indexes, constraints, policies and triggers; types; event triggers; the
-- schema's grants; the tables and sequences pg_dump dumps.  An upgrade
-- piece that forgets something a fresh install has (or the reverse) shows
-- up as a line below.  Runs in two databases of its own.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
SELECT $snapshot$
SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'pericles_rgpd'
UNION ALL
SELECT 'extension ' || e.extname || ' ' || e.extversion || ' schema=' || e.extnamespace::regnamespace
       || ' relocatable=' || e.extrelocatable
       || ' config=' || coalesce((SELECT string_agg(c::regclass::text || ' where ' || coalesce(w, '?'), ', ' ORDER BY c::regclass::text)
                                    FROM unnest(e.extconfig, e.extcondition) AS u(c, w)), '')
  FROM pg_extension AS e WHERE e.extname = 'pericles_rgpd'
UNION ALL
SELECT 'schema ' || n.nspname || ' owner=' || n.nspowner::regrole || ' acl=' || coalesce(n.nspacl::text, 'default')
       || ' comment=' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
  FROM pg_namespace AS n WHERE n.nspname = 'rgpd'
UNION ALL
SELECT 'function ' || p.oid::regprocedure || ' (' || pg_get_function_arguments(p.oid) || ')'
       || ' returns ' || coalesce(pg_get_function_result(p.oid), '-')
       || ' kind=' || p.prokind::text || ' volatility=' || p.provolatile::text || ' parallel=' || p.proparallel::text
       || ' definer=' || p.prosecdef || ' strict=' || p.proisstrict || ' leakproof=' || p.proleakproof
       || ' cost=' || p.procost || ' rows=' || p.prorows
       || ' config=' || coalesce(p.proconfig::text, '') || ' acl=' || coalesce(p.proacl::text, 'default')
       || ' owner=' || p.proowner::regrole || ' language=' || l.lanname
       || ' body=' || md5(coalesce(p.prosrc, '') || '|' || coalesce(p.probin, ''))
       || ' comment=' || coalesce(md5(obj_description(p.oid, 'pg_proc')), '')
  FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.pronamespace = 'rgpd'::regnamespace
UNION ALL
SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
       || ' rls=' || c.relrowsecurity || ' force_rls=' || c.relforcerowsecurity
       || ' acl=' || coalesce(c.relacl::text, 'default') || ' options=' || coalesce(c.reloptions::text, '')
       || ' owner=' || c.relowner::regrole
       || ' comment=' || coalesce(md5(obj_description(c.oid, 'pg_class')), '')
       || CASE WHEN c.relkind::text = 'v' THEN ' view=' || md5(pg_get_viewdef(c.oid)) ELSE '' END
  FROM pg_class AS c WHERE c.relnamespace = 'rgpd'::regnamespace AND c.relkind <> 'i'
UNION ALL
SELECT 'column ' || c.oid::regclass || '.' || quote_ident(a.attname)
       || ' position=' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
       || ' type=' || format_type(a.atttypid, a.atttypmod) || ' not_null=' || a.attnotnull
       || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
       || ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
       || ' collation=' || coalesce(a.attcollation::regcollation::text, '')
       || ' acl=' || coalesce(a.attacl::text, 'default')
       || ' comment=' || coalesce(md5(col_description(c.oid, a.attnum)), '')
  FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef AS ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.relnamespace = 'rgpd'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '')
  FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid WHERE c.relnamespace = 'rgpd'::regnamespace
UNION ALL
SELECT 'constraint ' || co.conrelid::regclass || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
  FROM pg_constraint AS co JOIN pg_class AS c ON c.oid = co.conrelid WHERE c.relnamespace = 'rgpd'::regnamespace
UNION ALL
SELECT 'sequence ' || s.seqrelid::regclass || ' type=' || s.seqtypid::regtype || ' start=' || s.seqstart
       || ' increment=' || s.seqincrement || ' max=' || s.seqmax || ' min=' || s.seqmin || ' cycle=' || s.seqcycle
       || ' owned_by=' || coalesce((SELECT d.refobjid::regclass || '.' || a.attname FROM pg_depend AS d
                                      JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                     WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '')
  FROM pg_sequence AS s JOIN pg_class AS c ON c.oid = s.seqrelid WHERE c.relnamespace = 'rgpd'::regnamespace
UNION ALL
SELECT 'policy ' || p.schemaname || '.' || p.tablename || ' ' || p.policyname || ' ' || p.permissive
       || ' ' || p.cmd || ' to ' || p.roles::text || ' using ' || coalesce(p.qual, '') || ' check ' || coalesce(p.with_check, '')
  FROM pg_policies AS p WHERE p.schemaname = 'rgpd'
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
  FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'rgpd'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent || ' ' || e.evtfoid::regprocedure
       || ' tags=' || coalesce(e.evttags::text, '') || ' enabled=' || e.evtenabled::text || ' owner=' || e.evtowner::regrole
  FROM pg_event_trigger AS e
UNION ALL
SELECT 'type ' || t.oid::regtype || ' kind=' || t.typtype::text || ' acl=' || coalesce(t.typacl::text, 'default')
       || coalesce(' labels=' || (SELECT string_agg(en.enumlabel, ',' ORDER BY en.enumsortorder)
                                    FROM pg_enum AS en WHERE en.enumtypid = t.oid), '')
       || coalesce(' domain=' || format_type(t.typbasetype, t.typtypmod) || ' not_null=' || t.typnotnull, '')
  FROM pg_type AS t WHERE t.typnamespace = 'rgpd'::regnamespace AND t.typtype IN ('e', 'd', 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = t.typrelid AND c.relkind::text <> 'c')
UNION ALL
SELECT 'cast ' || format_type(ca.castsource, NULL) || ' as ' || format_type(ca.casttarget, NULL)
  FROM pg_cast AS ca JOIN pg_depend AS d ON d.classid = 'pg_cast'::regclass AND d.objid = ca.oid AND d.deptype = 'e'
UNION ALL
SELECT 'role ' || r.rolname || ' login=' || r.rolcanlogin || ' super=' || r.rolsuper
  FROM pg_roles AS r WHERE r.rolname = 'rgpd_manager'
$snapshot$ AS snapshot \gset

-- 1.0, then ALTER EXTENSION … UPDATE
CREATE DATABASE rgpd_catalog_10;
\c rgpd_catalog_10
SET client_min_messages = warning;
CREATE EXTENSION pericles_rgpd VERSION '1.0';
ALTER EXTENSION pericles_rgpd UPDATE TO '1.1';
SELECT string_agg(s.line, E'\n' ORDER BY s.line COLLATE "C") AS updated, count(*) AS updated_lines
  FROM (:snapshot) AS s(line) \gset
-- a fresh 1.1
CREATE DATABASE rgpd_catalog_11;
\c rgpd_catalog_11
SET client_min_messages = warning;
CREATE EXTENSION pericles_rgpd;
SELECT string_agg(s.line, E'\n' ORDER BY s.line COLLATE "C") AS fresh, count(*) AS fresh_lines
  FROM (:snapshot) AS s(line) \gset

-- the snapshot sees the whole extension (a few hundred lines), with no NULL
SELECT :updated_lines > 300 AS whole, :updated_lines = :fresh_lines AS same_count;
SELECT count(*) FILTER (WHERE x IS NULL) AS null_lines FROM unnest(string_to_array(:'fresh', E'\n')) AS x;
-- and they are the same: nothing only in one of them
SELECT x AS only_after_update FROM unnest(string_to_array(:'updated', E'\n')) AS x
EXCEPT ALL SELECT y FROM unnest(string_to_array(:'fresh', E'\n')) AS y ORDER BY 1;
SELECT y AS only_in_fresh_install FROM unnest(string_to_array(:'fresh', E'\n')) AS y
EXCEPT ALL SELECT x FROM unnest(string_to_array(:'updated', E'\n')) AS x ORDER BY 1;

\c :regress_db postgres
SET client_min_messages = warning;
DROP DATABASE rgpd_catalog_10 WITH (FORCE);
DROP DATABASE rgpd_catalog_11 WITH (FORCE);
