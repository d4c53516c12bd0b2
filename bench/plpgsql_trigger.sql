-- bench/plpgsql_trigger.sql — the reference the C trigger is measured
-- against: the same rule for inserted rows (the greatest of the row's
-- dates becomes the subject's last_contact when newer, through each
-- subject column), as a PL/pgSQL AFTER ROW trigger doing the conditional
-- UPDATE.
CREATE FUNCTION bench.plpgsql_contact() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d date := GREATEST(NEW.created, NEW.mandate_end);
BEGIN
    IF d IS NULL THEN
        RETURN NULL;
    END IF;
    IF NEW.client1_id IS NOT NULL THEN
        UPDATE bench.clients SET last_contact = d
         WHERE id = NEW.client1_id AND (last_contact IS NULL OR last_contact < d);
    END IF;
    IF NEW.client2_id IS NOT NULL THEN
        UPDATE bench.clients SET last_contact = d
         WHERE id = NEW.client2_id AND (last_contact IS NULL OR last_contact < d);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER plpgsql_contact AFTER INSERT ON bench.offers
    FOR EACH ROW EXECUTE FUNCTION bench.plpgsql_contact();
ALTER TABLE bench.offers DISABLE TRIGGER plpgsql_contact;
