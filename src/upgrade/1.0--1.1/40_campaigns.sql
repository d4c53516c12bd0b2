
/* ------------------------------------------------------------------ *
 * 40_campaigns.sql — 1.1: who reads recontact tasks, and campaigns
 * written only through their functions (least privilege).
 *
 *  * recontact tasks are read by managers, by the owner of the subject
 *    table they are about, and by the roles that owner granted SELECT on
 *    it; closed (done_at) by managers, the owner, and the roles it granted
 *    UPDATE on it.  A role with no right on the table sees none of them.
 *  * campaigns are written only through rgpd.create_campaign(),
 *    rgpd.alter_campaign() and rgpd.delete_campaign(), each change
 *    journaled with the manager who made it; managers no longer write
 *    rgpd.campaigns directly, and rgpd._journal_campaign() is nobody's.
 *  * internal functions that no code running with a caller's rights needs
 *    are executable by the extension's owner only.
 * ------------------------------------------------------------------ */

-- Recontact tasks: who may read, who may close.
DROP POLICY readable ON rgpd.recontact_tasks;
DROP POLICY close_task ON rgpd.recontact_tasks;
CREATE POLICY readable ON rgpd.recontact_tasks FOR SELECT
    USING (rgpd.is_manager() OR rgpd._owns(subject)
           OR pg_catalog.has_table_privilege(subject, 'SELECT'));
CREATE POLICY close_task ON rgpd.recontact_tasks FOR UPDATE
    USING (rgpd.is_manager() OR rgpd._owns(subject)
           OR pg_catalog.has_table_privilege(subject, 'UPDATE'))
    WITH CHECK (rgpd.is_manager() OR rgpd._owns(subject)
                OR pg_catalog.has_table_privilege(subject, 'UPDATE'));

-- Campaigns.  The checks, the write and the journal line of each action
-- are here, run as the extension's owner by the C entry points below,
-- which check the caller's right first and pass the caller as the actor.
-- Managers no longer write the table (1.0's grant) nor call 1.0's
-- helpers directly.
REVOKE INSERT, UPDATE ON rgpd.campaigns FROM rgpd_manager;
REVOKE ALL ON FUNCTION rgpd._journal_campaign(text, jsonb), rgpd._campaign(text) FROM rgpd_manager;

CREATE FUNCTION rgpd._create_campaign(actor name, label text, channel text, mandatory boolean,
                                      display_order integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    new_id integer;
BEGIN
    IF label IS NULL OR btrim(label) = '' THEN
        RAISE EXCEPTION 'a campaign needs a label' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM rgpd._check_length(label, 'label of a campaign');
    IF channel IS NULL OR channel NOT IN ('mail', 'sms') THEN
        RAISE EXCEPTION 'unknown channel "%" for campaign "%"', left(channel, 100), label
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A campaign goes by ''mail'' or ''sms''.';
    END IF;
    IF mandatory IS NULL THEN
        RAISE EXCEPTION 'mandatory must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM rgpd.campaigns AS x WHERE x.label = _create_campaign.label) THEN
        RAISE EXCEPTION 'campaign "%" already exists', label
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Change it with rgpd.alter_campaign().';
    END IF;
    INSERT INTO rgpd.campaigns AS x (label, channel, mandatory, display_order)
    VALUES (label, channel, mandatory,
            coalesce(display_order, (SELECT coalesce(max(y.display_order), 0) + 1 FROM rgpd.campaigns AS y)))
    RETURNING x.id INTO new_id;
    INSERT INTO rgpd.journal (actor, action, detail)
    VALUES (actor, 'create_campaign',
            jsonb_build_object('campaign', label, 'channel', channel, 'mandatory', mandatory));
    RETURN new_id;
END
$$;
REVOKE ALL ON FUNCTION rgpd._create_campaign(name, text, text, boolean, integer) FROM PUBLIC;

CREATE FUNCTION rgpd._alter_campaign(actor name, label text, new_label text, channel text,
                                     mandatory boolean, state text, display_order integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    c rgpd.campaigns;
BEGIN
    PERFORM rgpd._check_length(label, 'label of a campaign');
    c := rgpd._campaign(label);
    IF c.state = 'deleted' THEN
        RAISE EXCEPTION 'campaign "%" is deleted', label
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF channel IS NOT NULL AND channel NOT IN ('mail', 'sms') THEN
        RAISE EXCEPTION 'unknown channel "%" for campaign "%"', left(channel, 100), label
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A campaign goes by ''mail'' or ''sms''.';
    END IF;
    IF state IS NOT NULL AND state NOT IN ('active', 'inactive') THEN
        RAISE EXCEPTION 'unknown campaign state "%"', left(state, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''active'' or ''inactive''; rgpd.delete_campaign() deletes.';
    END IF;
    IF new_label IS NOT NULL THEN
        PERFORM rgpd._check_length(new_label, 'new label of a campaign');
    END IF;
    IF new_label IS NOT NULL AND (btrim(new_label) = '' OR EXISTS (
            SELECT 1 FROM rgpd.campaigns AS x WHERE x.label = new_label AND x.id <> c.id)) THEN
        RAISE EXCEPTION 'campaign label "%" is empty or already used', new_label
            USING ERRCODE = 'duplicate_object';
    END IF;
    UPDATE rgpd.campaigns AS x
       SET label = coalesce(new_label, x.label),
           channel = coalesce(_alter_campaign.channel, x.channel),
           mandatory = coalesce(_alter_campaign.mandatory, x.mandatory),
           state = coalesce(_alter_campaign.state, x.state),
           display_order = coalesce(_alter_campaign.display_order, x.display_order)
     WHERE x.id = c.id;
    INSERT INTO rgpd.journal (actor, action, detail)
    VALUES (actor, 'alter_campaign', jsonb_strip_nulls(jsonb_build_object(
        'campaign', label, 'new_label', new_label, 'channel', channel, 'mandatory', mandatory,
        'state', state, 'display_order', display_order)));
END
$$;
REVOKE ALL ON FUNCTION rgpd._alter_campaign(name, text, text, text, boolean, text, integer) FROM PUBLIC;

CREATE FUNCTION rgpd._delete_campaign(actor name, label text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    c rgpd.campaigns;
BEGIN
    PERFORM rgpd._check_length(label, 'label of a campaign');
    c := rgpd._campaign(label);
    -- the row stays, as its consent history refers to it
    UPDATE rgpd.campaigns AS x SET state = 'deleted' WHERE x.id = c.id;
    INSERT INTO rgpd.journal (actor, action, detail)
    VALUES (actor, 'delete_campaign', jsonb_build_object('campaign', label));
END
$$;
REVOKE ALL ON FUNCTION rgpd._delete_campaign(name, text) FROM PUBLIC;

-- Stored text is bounded (C functions: rgpd_check_text_length()).
CREATE FUNCTION rgpd._check_length(value text, what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF length(value) > 1000 THEN
        RAISE EXCEPTION '% is too long (% characters)', what, length(value)
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = 'At most 1000 characters are stored.',
                  HINT = 'Store a short reference (a file number, a URL) instead.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION rgpd._check_length(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION rgpd.create_campaign(label text, channel text, mandatory boolean DEFAULT false,
                                                display_order integer DEFAULT NULL)
RETURNS integer
    AS 'MODULE_PATHNAME', 'rgpd_create_campaign' LANGUAGE C;
CREATE OR REPLACE FUNCTION rgpd.alter_campaign(label text, new_label text DEFAULT NULL, channel text DEFAULT NULL,
                                               mandatory boolean DEFAULT NULL, state text DEFAULT NULL,
                                               display_order integer DEFAULT NULL)
RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_alter_campaign' LANGUAGE C;
CREATE OR REPLACE FUNCTION rgpd.delete_campaign(label text) RETURNS void
    AS 'MODULE_PATHNAME', 'rgpd_delete_campaign' LANGUAGE C;
