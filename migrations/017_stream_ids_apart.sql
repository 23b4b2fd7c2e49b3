-- The stream ids are kept apart from the change rows. Numbering used to set `id` on each change
-- row: a whole new version of a row of about a kilobyte (its jsonb data) and an entry in each of
-- its four indexes, per change. At 1,000 PBX events/s that was 140 ms of one core in every
-- numbering, once a second, in the middle of the worker's and the dispatcher's transactions.
-- Now a change row is never written again: its writer also queues its seq in
-- stream_unnumbered, and the numbering moves the committed ones from that queue to stream_ids
-- (two narrow rows), in write order as before (db/changes.c).

CREATE TABLE stream_unnumbered (
    seq bigint PRIMARY KEY                     -- a stream_changes row not yet numbered
);
CREATE TABLE stream_ids (
    id  bigint PRIMARY KEY,                    -- the stream id
    seq bigint NOT NULL UNIQUE                 -- its stream_changes row
);
ALTER TABLE stream_unnumbered SET (autovacuum_vacuum_scale_factor = 0,
                                   autovacuum_vacuum_threshold = 10000);

INSERT INTO stream_ids (id, seq) SELECT id, seq FROM stream_changes WHERE id IS NOT NULL;
INSERT INTO stream_unnumbered (seq) SELECT seq FROM stream_changes WHERE id IS NULL;
ALTER TABLE stream_changes DROP COLUMN id;    -- its unique and partial indexes with it

-- The writers: the change row, and its seq queued (once: a second change of the same thing in
-- the same transaction updates its row, already queued).
CREATE OR REPLACE FUNCTION callbackd_stream_callbacks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'callback', n.id::text, n.requester, to_jsonb(n) FROM new_rows n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    ELSE
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'callback', n.id::text, n.requester, to_jsonb(n)
            FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o IS DISTINCT FROM n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_commands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'command', n.id::text, NULL, to_jsonb(n) FROM new_rows n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    ELSE
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'command', n.id::text, NULL, to_jsonb(n)
            FROM new_rows n JOIN old_rows o ON o.seq = n.seq
            WHERE o.status IS DISTINCT FROM n.status
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
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
                   to_jsonb(n) || jsonb_build_object('callbacks_allowed', c.callbacks_allowed)
            FROM new_rows n LEFT JOIN classes_of_service c ON c.id = n.cos
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    ELSE
        WITH w AS (
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
                                                       station = EXCLUDED.station
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_record(p_kind text, p_key text, p_station text,
                                                   p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH w AS (
        INSERT INTO stream_changes (kind, key, station, data)
        VALUES (p_kind, p_key, p_station, p_data)
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station
        RETURNING seq)
    INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
END
$$;

CREATE OR REPLACE FUNCTION callbackd_stream_cos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH w AS (
        INSERT INTO stream_changes (kind, key, station, data)
        SELECT 'station', s.number, s.number,
               to_jsonb(s) || jsonb_build_object('callbacks_allowed', NEW.callbacks_allowed)
        FROM stations s WHERE s.cos = NEW.id
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station
        RETURNING seq)
    INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
