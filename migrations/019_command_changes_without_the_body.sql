-- A command's change row carries what a change of a command can change (status, attempts,
-- last_error, delivered_at) and its seq, not a copy of the whole row: the body, id, type and
-- creation time never change after the insert, and `commands` keeps every command, so the
-- stream reads them from there (db/changes.c). Each command is changed twice (queued, then
-- delivered or failed); the copy of its row was about 700 bytes of jsonb built, written and
-- logged each time, in the worker's transaction for the first.
-- Rows written before this migration still hold the whole row; the stream reads the same
-- fields from them.

CREATE OR REPLACE FUNCTION callbackd_stream_commands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'command', n.id::text, NULL,
                   jsonb_build_object('seq', n.seq, 'status', n.status, 'attempts', n.attempts,
                                      'last_error', n.last_error, 'delivered_at', n.delivered_at)
            FROM new_rows n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    ELSE
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'command', n.id::text, NULL,
                   jsonb_build_object('seq', n.seq, 'status', n.status, 'attempts', n.attempts,
                                      'last_error', n.last_error, 'delivered_at', n.delivered_at)
            FROM new_rows n JOIN old_rows o ON o.seq = n.seq
            WHERE o.status IS DISTINCT FROM n.status
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
