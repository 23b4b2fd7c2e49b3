-- Browser clients (issue 12): tokens with a life cycle, and the change log that GET /v1/stream
-- serves.

-- Tokens: an optional expiry, and the last use (written at most about once a minute per token
-- and process, never per request).
ALTER TABLE tokens ADD COLUMN expires_at timestamptz, ADD COLUMN last_used_at timestamptz;
-- GET /v1/tokens: newest first.
CREATE INDEX tokens_by_created ON tokens (created_at DESC, id DESC);

-- A deleted token is dropped from every process's cache: each one listens on this channel.
CREATE FUNCTION callbackd_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbackd_tokens', OLD.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_revoked AFTER DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION callbackd_token_revoked();

-- The change log. Every write of a callback, a command's creation or status, and a station's
-- state or softkey adds a row here in the same transaction (the triggers below), so nothing
-- committed is ever missing from the stream. The stream id is not known at write time (a
-- transaction that writes first may commit last): `id` is set after the commit by whichever
-- process numbers first (db/changes.c), in one transaction at a time, so ids grow in commit
-- order and a reader that sees id N has seen every id below it.
CREATE TABLE stream_changes (
    seq     bigserial PRIMARY KEY,            -- write order
    id      bigint UNIQUE,                    -- the stream id; NULL until numbered
    xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text NOT NULL CHECK (kind IN ('callback', 'command', 'station')),
    key     text NOT NULL,                    -- the callback or command id, the station number
    station text,                             -- the station token that may see it too, if any
    data    jsonb NOT NULL                    -- the row after the change
);
-- One row per thing a transaction changed: its state at the commit.
CREATE UNIQUE INDEX stream_changes_one_per_transaction ON stream_changes (xid, kind, key);
CREATE INDEX stream_changes_unnumbered ON stream_changes (seq) WHERE id IS NULL;
CREATE INDEX stream_changes_by_at ON stream_changes (at);
ALTER TABLE stream_changes SET (autovacuum_vacuum_scale_factor = 0,
                                autovacuum_vacuum_threshold = 10000);

-- The last id given, and the ids removed by the retention purge (a client behind them resets).
CREATE TABLE stream_position (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id        bigint NOT NULL DEFAULT 0,
    purged_through bigint NOT NULL DEFAULT 0
);
INSERT INTO stream_position DEFAULT VALUES;

CREATE FUNCTION callbackd_stream_record(p_kind text, p_key text, p_station text, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stream_changes (kind, key, station, data)
    VALUES (p_kind, p_key, p_station, p_data)
    ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data, station = EXCLUDED.station;
    PERFORM pg_notify('callbackd_changes', '');
END
$$;

CREATE FUNCTION callbackd_stream_callback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM callbackd_stream_record('callback', NEW.id::text, NEW.requester, to_jsonb(NEW));
    RETURN NULL;
END
$$;
CREATE TRIGGER callbacks_stream_insert AFTER INSERT ON callbacks
    FOR EACH ROW EXECUTE FUNCTION callbackd_stream_callback();
CREATE TRIGGER callbacks_stream_update AFTER UPDATE ON callbacks
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION callbackd_stream_callback();

CREATE FUNCTION callbackd_stream_command() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM callbackd_stream_record('command', NEW.id::text, NULL, to_jsonb(NEW));
    RETURN NULL;
END
$$;
CREATE TRIGGER commands_stream_insert AFTER INSERT ON commands
    FOR EACH ROW EXECUTE FUNCTION callbackd_stream_command();
CREATE TRIGGER commands_stream_status AFTER UPDATE OF status ON commands
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION callbackd_stream_command();

-- A station's state and softkey (its live state, its current failed attempt, its COS's
-- Callbacks Allowed), with that option at the time of the change.
CREATE FUNCTION callbackd_stream_station() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM callbackd_stream_record('station', NEW.number, NEW.number,
        to_jsonb(NEW) || jsonb_build_object('callbacks_allowed',
            (SELECT callbacks_allowed FROM classes_of_service WHERE id = NEW.cos)));
    RETURN NULL;
END
$$;
CREATE TRIGGER stations_stream_insert AFTER INSERT ON stations
    FOR EACH ROW EXECUTE FUNCTION callbackd_stream_station();
CREATE TRIGGER stations_stream_update AFTER UPDATE ON stations
    FOR EACH ROW WHEN ((OLD.busy, OLD.hook_off, OLD.dnd, OLD.make_busy, OLD.attendant_busy_out,
                        OLD.forward_to, OLD.failed_over, OLD.console_available,
                        OLD.attempt_result, OLD.attempt_to, OLD.cos)
                       IS DISTINCT FROM
                       (NEW.busy, NEW.hook_off, NEW.dnd, NEW.make_busy, NEW.attendant_busy_out,
                        NEW.forward_to, NEW.failed_over, NEW.console_available,
                        NEW.attempt_result, NEW.attempt_to, NEW.cos))
    EXECUTE FUNCTION callbackd_stream_station();

-- Callbacks Allowed turned on or off changes the softkey of the COS's stations that have a
-- current failed attempt.
CREATE FUNCTION callbackd_stream_cos() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s stations;
BEGIN
    FOR s IN SELECT * FROM stations WHERE cos = NEW.id AND attempt_result IS NOT NULL LOOP
        PERFORM callbackd_stream_record('station', s.number, s.number,
            to_jsonb(s) || jsonb_build_object('callbacks_allowed', NEW.callbacks_allowed));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER cos_stream_update AFTER UPDATE OF callbacks_allowed ON classes_of_service
    FOR EACH ROW WHEN (OLD.callbacks_allowed IS DISTINCT FROM NEW.callbacks_allowed)
    EXECUTE FUNCTION callbackd_stream_cos();
