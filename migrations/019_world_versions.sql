-- A version per directory number, left by every writer of what a decision reads about it, so
-- that a process may keep what it read and know, under the decision's locks, whether it is
-- still what the database holds (db/world_pool.c).
--
-- A number's version is the id of the last transaction that changed a fact about it:
--   - a callback that is active before or after the change: its requester, its target and its
--     notify station, before and after (they are the keys a decision finds it by);
--   - its station row;
--   - the lines of its trunk group.
-- What relates numbers to each other and changes only by provisioning bumps the version of
-- 'provisioning' (not a directory number), which every decision reads: a class of service, a
-- station's kind, class of service or console group, a station added or removed, trunk groups
-- and hunt groups and their members.
--
-- Triggers write it, once per statement, so that it holds for every writer: the API, the
-- worker, another process of callbackd, a process not yet upgraded, and a change by hand. The
-- version is read in the same statement as the facts it versions (the same snapshot), and a
-- writer of a number holds that number's decision lock until its commit: a version read under
-- the lock that equals the one read with the facts means the facts are current.
CREATE TABLE world_versions (
    number text PRIMARY KEY,   -- a directory number, or 'provisioning'
    xid    xid8 NOT NULL       -- pg_current_xact_id() of the last writer
);

-- In PL/pgSQL, whose statements keep their plans for the session (a SQL function's are planned
-- again at every call). Sorted, so that two writers wait on each other rather than deadlock.
CREATE FUNCTION callbackd_world_bump(numbers text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO world_versions AS v (number, xid)
    SELECT DISTINCT n, pg_current_xact_id() FROM unnest(numbers) AS n WHERE n IS NOT NULL
    ORDER BY 1
    ON CONFLICT (number) DO UPDATE SET xid = EXCLUDED.xid WHERE v.xid <> EXCLUDED.xid;
END $$;

CREATE FUNCTION callbackd_world_callbacks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM callbackd_world_bump(ARRAY(
            SELECT unnest(ARRAY[requester, target, notify_station]) FROM new_rows
            WHERE ended_at IS NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM callbackd_world_bump(ARRAY(
            SELECT unnest(ARRAY[requester, target, notify_station]) FROM old_rows
            WHERE ended_at IS NULL));
    ELSE
        PERFORM callbackd_world_bump(ARRAY(
            SELECT unnest(ARRAY[requester, target, notify_station]) FROM new_rows
            WHERE ended_at IS NULL
            UNION ALL
            SELECT unnest(ARRAY[requester, target, notify_station]) FROM old_rows
            WHERE ended_at IS NULL));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER callbacks_world_insert AFTER INSERT ON callbacks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_callbacks();
CREATE TRIGGER callbacks_world_update AFTER UPDATE ON callbacks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_callbacks();
CREATE TRIGGER callbacks_world_delete AFTER DELETE ON callbacks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_callbacks();

CREATE FUNCTION callbackd_world_stations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM callbackd_world_bump(ARRAY(SELECT number FROM new_rows
                                           UNION ALL SELECT 'provisioning'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM callbackd_world_bump(ARRAY(SELECT number FROM old_rows
                                           UNION ALL SELECT 'provisioning'));
    ELSE
        PERFORM callbackd_world_bump(ARRAY(
            SELECT number FROM new_rows
            UNION ALL SELECT number FROM old_rows
            UNION ALL SELECT 'provisioning' WHERE EXISTS (
                SELECT 1 FROM new_rows n JOIN old_rows o ON o.number = n.number
                WHERE (o.kind, o.cos, o.console_group) IS DISTINCT FROM
                      (n.kind, n.cos, n.console_group))));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER stations_world_insert AFTER INSERT ON stations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_stations();
CREATE TRIGGER stations_world_update AFTER UPDATE ON stations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_stations();
CREATE TRIGGER stations_world_delete AFTER DELETE ON stations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_stations();

CREATE FUNCTION callbackd_world_trunk_lines() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM callbackd_world_bump(ARRAY(SELECT trunk_group FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM callbackd_world_bump(ARRAY(SELECT trunk_group FROM old_rows));
    ELSE
        PERFORM callbackd_world_bump(ARRAY(
            SELECT trunk_group FROM new_rows UNION ALL SELECT trunk_group FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trunk_lines_world_insert AFTER INSERT ON trunk_lines
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_trunk_lines();
CREATE TRIGGER trunk_lines_world_update AFTER UPDATE ON trunk_lines
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_trunk_lines();
CREATE TRIGGER trunk_lines_world_delete AFTER DELETE ON trunk_lines
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION callbackd_world_trunk_lines();

-- Provisioning: every decision reads 'provisioning'.
CREATE FUNCTION callbackd_world_provisioning() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM callbackd_world_bump(ARRAY['provisioning']);
    RETURN NULL;
END $$;

CREATE TRIGGER classes_of_service_world AFTER INSERT OR UPDATE OR DELETE ON classes_of_service
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_world_provisioning();
CREATE TRIGGER trunk_groups_world AFTER INSERT OR UPDATE OR DELETE ON trunk_groups
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_world_provisioning();
CREATE TRIGGER hunt_groups_world AFTER INSERT OR UPDATE OR DELETE ON hunt_groups
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_world_provisioning();
CREATE TRIGGER hunt_group_members_world AFTER INSERT OR UPDATE OR DELETE ON hunt_group_members
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_world_provisioning();
