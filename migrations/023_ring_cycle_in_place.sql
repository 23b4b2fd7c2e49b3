-- A callback's ring cycle updates its row in place (a HOT update), without a new entry in any of
-- the table's indexes.
--
-- Every time a target frees up, its waiting callback goes from pending to notifying, and back to
-- pending when the ring ends unanswered (CB-15 to CB-17). PostgreSQL updates a row in place only
-- when no column that an index holds (a key, an expression or a predicate) changes. Until now two
-- indexes held `state`: callbacks_by_state_created (lists by state) and
-- callbacks_engaged_by_notify_station (the decisions' "ringing station X" probe). So every ring
-- and every stop wrote a new row version and an entry in each of the nine indexes. Those writes
-- were the worker's most expensive statement.
--
-- After this migration no index of callbacks holds a column that a ring or a stop changes:
--   - the decisions' probe reads every active callback notified at station X, and checks the
--     state in the row. notify_station is the requester (CB-20), or the console that set the
--     callback (CB-31), from the callback's creation on. So the probe is bounded by that
--     station's own callbacks, as before;
--   - lists by state read list_state, the state with pending and notifying folded into
--     'waiting', which a ring does not change;
--   - lists of notifying callbacks read callbacks_notifying, the ids of the callbacks ringing
--     now. The trigger that records callbacks' changes for the stream keeps it, in the same
--     statement, for every writer.

-- The decisions' probe (db/world_pool.c): its WHERE clause implies this predicate.
DROP INDEX callbacks_engaged_by_notify_station;
CREATE INDEX callbacks_active_by_notify_station ON callbacks (notify_station)
    WHERE ended_at IS NULL AND notify_station IS NOT NULL;

-- Lists by state (db/callbacks.c). The fold has one home, used by the column and by the lists.
CREATE FUNCTION callbackd_list_state(state text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN state IN ('pending', 'notifying') THEN 'waiting' ELSE state END
$$;
-- The list_state values a list of `states` reads, its notifying callbacks apart (empty when it
-- asks for notifying callbacks alone). Immutable: a list's plan holds the result.
CREATE FUNCTION callbackd_list_states(states text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT callbackd_list_state(s)), '{}')
    FROM unnest(states) AS s WHERE s <> 'notifying'
$$;

-- Adding a stored column rewrites the table once.
ALTER TABLE callbacks ADD COLUMN list_state text
    GENERATED ALWAYS AS (callbackd_list_state(state)) STORED;
DROP INDEX callbacks_by_state_created;
CREATE INDEX callbacks_by_list_state_created ON callbacks (list_state, created_at DESC, id DESC);

-- The callbacks ringing now (state notifying), for lists of them: a few per station at the
-- most, where the waiting callbacks may be millions.
CREATE TABLE callbacks_notifying (id uuid PRIMARY KEY);
INSERT INTO callbacks_notifying (id) SELECT id FROM callbacks WHERE state = 'notifying';

-- One trigger records a statement's changes of callbacks, in one statement per firing, as
-- migration 018's does for commands: the stream's change rows (migration 017's statement,
-- unchanged) and the notifying callbacks. A callback that stays notifying keeps its row; one
-- that stops ringing loses it.
CREATE FUNCTION callbackd_callbacks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'callback', n.id::text, n.requester, to_jsonb(n) FROM new_rows n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                       station = EXCLUDED.station
            RETURNING seq),
        rung AS (
            INSERT INTO callbacks_notifying (id)
            SELECT id FROM new_rows WHERE state = 'notifying'
            ON CONFLICT (id) DO NOTHING)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        -- callbackd deletes no callback; one deleted by hand leaves the notifying ones.
        DELETE FROM callbacks_notifying WHERE id = ANY (ARRAY(SELECT id FROM old_rows));
    ELSE
        WITH w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'callback', n.id::text, n.requester, to_jsonb(n)
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
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER callbacks_stream_insert ON callbacks;
DROP TRIGGER callbacks_stream_update ON callbacks;
DROP FUNCTION callbackd_stream_callbacks();
CREATE TRIGGER callbacks_changed_insert AFTER INSERT ON callbacks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_callbacks_changed();
CREATE TRIGGER callbacks_changed_update AFTER UPDATE ON callbacks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_callbacks_changed();
CREATE TRIGGER callbacks_changed_delete AFTER DELETE ON callbacks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_callbacks_changed();
