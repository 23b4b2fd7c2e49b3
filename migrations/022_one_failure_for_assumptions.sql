-- One function fails a transaction whose assumption no longer holds, as a serialization failure,
-- which db/tx.c runs again: the check of a decision taken before its locks (db/world_pool.c,
-- world_unmoved) and the check of the worker's marks (db/inbox.c, inbox_mark: CB-54). What each
-- assumes is written in its own statement, beside the statements that read what it compares, so
-- that the version of a number is written once (db/world_pool.c, VERSION_OF). Migrations 020 and
-- 021 had a function each for this, and 020's held a second copy of that version.
--
-- holds: the assumption (NULL counts as not holding); what: the message, after "callbackd: ".
CREATE FUNCTION callbackd_assume(holds boolean, what text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF holds IS NOT TRUE THEN
        RAISE EXCEPTION 'callbackd: %', what USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

-- callbackd_world_unmoved (020) and callbackd_events_marked (021) stay, unused by this version,
-- for a process of the version before that still runs beside one that applied this migration.
COMMENT ON FUNCTION callbackd_world_unmoved(text[], text[], text) IS
    'Unused since migration 022 (callbackd_assume); kept for a process not yet upgraded.';
COMMENT ON FUNCTION callbackd_events_marked(bigint, int) IS
    'Unused since migration 022 (callbackd_assume); kept for a process not yet upgraded.';
