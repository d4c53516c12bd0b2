-- bench/stream.sql — a stream of single-row INSERT statements run inside
-- the server (no client round trip, one transaction): what the callgrind
-- measurement counts.  Each statement fires the statement-level triggers.
CREATE OR REPLACE FUNCTION bench.stream(n int, newer boolean, clients int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    i int;
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO bench.offers (client1_id, created)
        VALUES (1 + (i::bigint * 7919) % clients,
                CASE WHEN newer THEN date '2050-01-01' + i ELSE date '2005-01-01' + (i % 3000) END);
    END LOOP;
END
$$;
