-- A change row holds what its stream message shows, not the whole row. The stream shows a
-- callback as GET /v1/callbacks/{id} does and a station as its number, callbacks_allowed, state
-- and softkey (db/changes.c reads the rows back; api/stream_feed.c shapes them): a callback's
-- working fields (seq, lamp_lit, list_state, notify_station, hook_off_seen, hook_cycle_needed,
-- idle_report_needed) and a station's provisioning (kind, cos, prime_line, resilient,
-- console_group, created_at, updated_at, attempt_at) were written into every change and never
-- read. A PBX event writes about one station change and one callback change: this takes about
-- 160 of a callback change's 660 bytes of data and 220 of a station change's 460 (lab, N = 1,000),
-- a fifth of the change log. The fields are taken out of the whole row, so a column added to
-- callbacks or stations later reaches the stream unless named here. Rows written before this
-- migration hold every field and stream the same way (the reader takes only what it shows).

CREATE FUNCTION callbackd_stream_callback(c callbacks) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_jsonb(c) - '{seq,lamp_lit,list_state,notify_station,hook_off_seen,hook_cycle_needed,idle_report_needed}'::text[]
$$;

CREATE FUNCTION callbackd_stream_station(s stations, callbacks_allowed boolean) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (to_jsonb(s) - '{kind,cos,prime_line,resilient,console_group,created_at,updated_at,attempt_at}'::text[])
           || jsonb_build_object('callbacks_allowed', callbacks_allowed)
$$;

-- The writers of callback and station changes (migration 025), each as it was but for `data`.
CREATE OR REPLACE FUNCTION callbackd_callbacks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'callback', n.id::text, n.requester, callbackd_stream_callback(n)
            FROM new_rows n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq),
        rung AS (
            INSERT INTO callbacks_notifying (id)
            SELECT id FROM new_rows WHERE state = 'notifying'
            ON CONFLICT (id) DO NOTHING)
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        -- callbackd deletes no callback; one deleted by hand leaves the notifying ones.
        DELETE FROM callbacks_notifying WHERE id = ANY (ARRAY(SELECT id FROM old_rows));
    ELSE
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'callback', n.id::text, n.requester, callbackd_stream_callback(n)
            FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o IS DISTINCT FROM n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq),
        stopped AS (
            DELETE FROM callbacks_notifying
            WHERE id = ANY (ARRAY(SELECT id FROM new_rows WHERE state <> 'notifying'))),
        rung AS (
            INSERT INTO callbacks_notifying (id)
            SELECT id FROM new_rows WHERE state = 'notifying'
            ON CONFLICT (id) DO NOTHING)
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_stations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'station', n.number, n.number,
                   callbackd_stream_station(n, c.callbacks_allowed)
            FROM new_rows n LEFT JOIN classes_of_service c ON c.id = n.cos
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq)
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    ELSE
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'station', n.number, n.number,
                   callbackd_stream_station(n, c.callbacks_allowed)
            FROM new_rows n JOIN old_rows o ON o.number = n.number
                 LEFT JOIN classes_of_service c ON c.id = n.cos
            WHERE (o.busy, o.hook_off, o.dnd, o.make_busy, o.attendant_busy_out, o.forward_to,
                   o.failed_over, o.console_available, o.attempt_result, o.attempt_to, o.cos)
                  IS DISTINCT FROM
                  (n.busy, n.hook_off, n.dnd, n.make_busy, n.attendant_busy_out, n.forward_to,
                   n.failed_over, n.console_available, n.attempt_result, n.attempt_to, n.cos)
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq)
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_cos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH w AS (
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'station', s.number, s.number, callbackd_stream_station(s, NEW.callbacks_allowed)
        FROM stations s WHERE s.cos = NEW.id
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station
        RETURNING seq)
    INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
