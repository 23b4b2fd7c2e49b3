-- The change log's triggers no longer send a NOTIFY. PostgreSQL serializes the commits of every
-- transaction that notified (a database-wide lock held through the commit's WAL flush), so a
-- NOTIFY in the triggers of callbacks, commands and stations made every write of the service
-- commit one at a time: the event webhook's inserts, the worker's groups and the dispatcher's
-- outcomes queued behind each other and an event took 1 to 2 s to reach the PBX at 850 events/s
-- (52 ms before the change log). The stream feed reads the log instead: every 25 ms while a
-- stream is open in its process, once a second otherwise (api/stream_feed.c).

CREATE OR REPLACE FUNCTION callbackd_stream_callbacks() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_commands() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_stations() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END
$$;

-- The one-row recorder (a COS's Callbacks Allowed turned on or off), likewise.
CREATE OR REPLACE FUNCTION callbackd_stream_record(p_kind text, p_key text, p_station text,
                                                   p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stream_changes (kind, key, station, data)
    VALUES (p_kind, p_key, p_station, p_data)
    ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data, station = EXCLUDED.station;
END
$$;
