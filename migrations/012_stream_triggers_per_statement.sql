-- The change log's triggers (migration 011) ran once per row written: a group of events that
-- changes hundreds of callbacks and commands paid a PL/pgSQL call, an INSERT and a pg_notify
-- for each. They now run once per statement, with the statement's rows as transition tables:
-- one INSERT ... SELECT into stream_changes and one pg_notify, whatever the number of rows.
-- What is recorded is unchanged: every callback inserted or changed, every command inserted or
-- whose status changed, every station inserted or whose state, softkey inputs or COS changed.

DROP TRIGGER callbacks_stream_insert ON callbacks;
DROP TRIGGER callbacks_stream_update ON callbacks;
DROP TRIGGER commands_stream_insert ON commands;
DROP TRIGGER commands_stream_status ON commands;
DROP TRIGGER stations_stream_insert ON stations;
DROP TRIGGER stations_stream_update ON stations;
DROP FUNCTION callbackd_stream_callback();
DROP FUNCTION callbackd_stream_command();
DROP FUNCTION callbackd_stream_station();

-- Records rows of one kind: (key, station, data) as callbackd_stream_record does for one.
CREATE FUNCTION callbackd_stream_callbacks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'callback', n.id::text, n.requester, to_jsonb(n) FROM new_rows n
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station;
    ELSE
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'callback', n.id::text, n.requester, to_jsonb(n)
        FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o IS DISTINCT FROM n
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station;
    END IF;
    IF FOUND THEN
        PERFORM pg_notify('callbackd_changes', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER callbacks_stream_insert AFTER INSERT ON callbacks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_stream_callbacks();
CREATE TRIGGER callbacks_stream_update AFTER UPDATE ON callbacks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_stream_callbacks();

CREATE FUNCTION callbackd_stream_commands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'command', n.id::text, NULL, to_jsonb(n) FROM new_rows n
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data;
    ELSE
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'command', n.id::text, NULL, to_jsonb(n)
        FROM new_rows n JOIN old_rows o ON o.seq = n.seq WHERE o.status IS DISTINCT FROM n.status
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data;
    END IF;
    IF FOUND THEN
        PERFORM pg_notify('callbackd_changes', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER commands_stream_insert AFTER INSERT ON commands
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_stream_commands();
CREATE TRIGGER commands_stream_status AFTER UPDATE ON commands
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_stream_commands();

-- A station's state and softkey inputs, with its COS's Callbacks Allowed at the time.
CREATE FUNCTION callbackd_stream_stations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'station', n.number, n.number,
               to_jsonb(n) || jsonb_build_object('callbacks_allowed', c.callbacks_allowed)
        FROM new_rows n LEFT JOIN classes_of_service c ON c.id = n.cos
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station;
    ELSE
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'station', n.number, n.number,
               to_jsonb(n) || jsonb_build_object('callbacks_allowed', c.callbacks_allowed)
        FROM new_rows n JOIN old_rows o ON o.number = n.number
             LEFT JOIN classes_of_service c ON c.id = n.cos
        WHERE (o.busy, o.hook_off, o.dnd, o.make_busy, o.attendant_busy_out, o.forward_to,
               o.failed_over, o.console_available, o.attempt_result, o.attempt_to, o.cos)
              IS DISTINCT FROM
              (n.busy, n.hook_off, n.dnd, n.make_busy, n.attendant_busy_out, n.forward_to,
               n.failed_over, n.console_available, n.attempt_result, n.attempt_to, n.cos)
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station;
    END IF;
    IF FOUND THEN
        PERFORM pg_notify('callbackd_changes', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER stations_stream_insert AFTER INSERT ON stations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_stream_stations();
CREATE TRIGGER stations_stream_update AFTER UPDATE ON stations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_stream_stations();
