-- A decision may be taken on facts read before its locks were taken (the worker's kept pool, or
-- an API request's first round trip), and checked by the same round trip that carries its
-- writes and COMMIT: it takes its locks, then this function confirms that no number it read has
-- moved since (db/world_pool.c, db_world_assume). Its locks are held from then on, so the facts
-- stay current until the commit. When one has moved, the transaction fails as a serialization
-- failure, which runs it again (db/tx.c), this time checking its facts before it decides.
--
-- numbers and versions: what the decision read, each with the version (decimal text of the
-- xid8 in world_versions, '0' for none) it was read with; global: the version of
-- 'provisioning' it read.
CREATE FUNCTION callbackd_world_unmoved(numbers text[], versions text[], global text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(numbers, versions) AS u(n, v)
               WHERE coalesce((SELECT w.xid::text FROM world_versions w WHERE w.number = u.n),
                              '0') <> u.v)
       OR coalesce((SELECT w.xid::text FROM world_versions w WHERE w.number = 'provisioning'),
                   '0') <> global THEN
        RAISE EXCEPTION 'callbackd: facts of this decision changed before it locked them'
            USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

-- The system options are read by every decision; a process keeps them with its facts, at the
-- version of 'provisioning' they were read with, so a change of them bumps that version.
CREATE TRIGGER system_options_world AFTER INSERT OR UPDATE OR DELETE ON system_options
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_world_provisioning();
