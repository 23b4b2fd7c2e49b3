-- callbackd_world_bump as migration 019 wrote it: one upsert. Migration 028 bumped by an UPDATE
-- first, then an upsert of the numbers still not at this transaction, to skip the tuple-lock
-- records of rows already bumped (2.3 % of the WAL of a PBX event). It did save that WAL (5.48
-- KiB an event in the benchmark against 5.62-5.65), but two statements and an anti-join a call
-- cost more than the locks saved: pgbench running the same INSERT into callbacks, whose triggers
-- bump three numbers, fell from 3,575 to 2,750 tps at c4 and from 4,590 to 3,458 at c16 (lab,
-- N = 1,000, the two bodies on the same data), and a POST's writes from 3,179 to 2,461. Every
-- writer of a single row pays that, the API's sets and writes by hand among them.
CREATE OR REPLACE FUNCTION callbackd_world_bump(numbers text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO world_versions AS v (number, xid)
    SELECT DISTINCT n, pg_current_xact_id() FROM unnest(numbers) AS n WHERE n IS NOT NULL
    ORDER BY 1
    ON CONFLICT (number) DO UPDATE SET xid = EXCLUDED.xid WHERE v.xid <> EXCLUDED.xid;
END $$;
