/* ------------------------------------------------------------------ *
 * Everything a restore needs is dumped
 *
 * 1.0 numbered campaigns with an identity column, whose sequence is not a
 * member of the extension and so was not dumped: after a restore,
 * rgpd.create_campaign() failed on a duplicate key.  From 1.1 the column
 * takes its numbers from an ordinary sequence of the extension, marked
 * for pg_dump like the others.
 * ------------------------------------------------------------------ */

ALTER TABLE rgpd.campaigns ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE rgpd.campaigns_id_seq AS integer OWNED BY rgpd.campaigns.id;
ALTER TABLE rgpd.campaigns ALTER COLUMN id SET DEFAULT pg_catalog.nextval('rgpd.campaigns_id_seq');
SELECT pg_catalog.setval('rgpd.campaigns_id_seq', coalesce(max(id), 0) + 1, false) FROM rgpd.campaigns;
REVOKE ALL ON SEQUENCE rgpd.campaigns_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('rgpd.campaigns_id_seq', '');
