-- The worker marks a group's events applied in the round trip that carries the group's writes
-- and COMMIT (service/worker.c, db/inbox.c db_inbox_mark), so the check that none of them was
-- applied already (by another worker: CB-54 forbids applying an event twice) is made here: it
-- fails the transaction as a serialization failure, and the worker reads the inbox again.
-- marked: the rows the mark changed; expected: the events it named. (OR REPLACE: for a database
-- migrated by the few commits whose migration 020 carried it.)
CREATE OR REPLACE FUNCTION callbackd_events_marked(marked bigint, expected int)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF marked <> expected THEN
        RAISE EXCEPTION 'callbackd: % of % events were applied already', expected - marked,
            expected USING ERRCODE = 'serialization_failure';
    END IF;
END $$;
