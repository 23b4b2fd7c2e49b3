-- The commands waiting for delivery get a table of their own, and `commands` becomes history
-- whose upkeep does not grow with every command ever sent.
--
-- The dispatcher's three partial indexes on `commands WHERE status = 'pending'` (migrations
-- 004, 006) held a dead entry for every delivered command until VACUUM, which therefore ran
-- every 10,000 delivered commands with index cleanup forced on (migration 004) and scanned all
-- five indexes of the whole history each time: 0.8 s at 460,000 commands, 2.3 s at 3.7 million.
-- A delivery also had to write a new entry in each index of the table (an indexed predicate's
-- column changed: never a heap-only update).
--
-- Now each pending command is also a narrow row of pending_commands, and the dispatcher reads
-- only that table (db/outbox.c), whose size is what is pending. `commands` keeps its primary
-- key and unique id only, no index of it names a column that a delivery changes, and its
-- vacuum goes back to PostgreSQL's defaults (after a fifth of the table changed: a cost per
-- command that no longer grows with the history).
--
-- The queue follows `commands` by the trigger that already records each change of a command
-- for the stream, in the same statement: whatever writes or deletes a command, in any version
-- of callbackd (a process not yet upgraded while another migrated) or by hand, the queue holds
-- exactly the pending ones. The queue's indexes follow migration 006: each can be used only by
-- a query that names the column of its predicate, so the dispatcher's probe "an earlier command
-- of this order key pending?" has one plan, a probe of pending_commands_by_order_key.
--
-- The same trigger now records a command's change without a copy of the whole row: each
-- command changes twice (queued, then delivered or failed), and its body, id, type and creation
-- time never change after the insert, so the stream reads them from `commands`, which keeps
-- every command (db/changes.c); the change row holds seq, status, attempts, last_error and
-- delivered_at. Rows written before this migration still hold the whole row and stream the
-- same.

CREATE TABLE pending_commands (
    seq             bigint NOT NULL,      -- commands.seq
    order_key       text NOT NULL,        -- commands.order_key
    next_attempt_at timestamptz NOT NULL  -- commands.next_attempt_at
);
-- The due commands in seq order, and a command leaving the queue found by its seq.
CREATE UNIQUE INDEX pending_commands_due ON pending_commands (seq)
    WHERE next_attempt_at IS NOT NULL;
CREATE UNIQUE INDEX pending_commands_by_order_key ON pending_commands (order_key, seq)
    WHERE order_key IS NOT NULL;
CREATE INDEX pending_commands_next_attempt ON pending_commands (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
-- A queue: rows live for milliseconds. Vacuum it often; it is small whatever the history.
ALTER TABLE pending_commands SET (autovacuum_vacuum_scale_factor = 0,
                                  autovacuum_vacuum_threshold = 2000);

INSERT INTO pending_commands (seq, order_key, next_attempt_at)
    SELECT seq, order_key, next_attempt_at FROM commands WHERE status = 'pending';

DROP INDEX commands_pending;
DROP INDEX commands_pending_by_order_key;
DROP INDEX commands_pending_next_attempt;
ALTER TABLE commands RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
                            vacuum_index_cleanup);

-- One statement per firing: the queue and the stream's change row (migration 017's writers).
CREATE FUNCTION callbackd_commands_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH queued AS (
            INSERT INTO pending_commands (seq, order_key, next_attempt_at)
            SELECT seq, order_key, next_attempt_at FROM new_rows WHERE status = 'pending'),
        w AS (
            INSERT INTO stream_changes (kind, key, station, data)
            SELECT 'command', n.id::text, NULL,
                   jsonb_build_object('seq', n.seq, 'status', n.status, 'attempts', n.attempts,
                                      'last_error', n.last_error, 'delivered_at', n.delivered_at)
            FROM new_rows n
            ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data
            RETURNING seq)
        INSERT INTO stream_unnumbered (seq) SELECT seq FROM w ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        -- callbackd deletes no command; a row deleted by hand leaves the queue with it, so that
        -- it cannot hold back the later commands of its order key.
        DELETE FROM pending_commands
        WHERE seq = ANY (ARRAY(SELECT seq FROM old_rows)) AND next_attempt_at IS NOT NULL;
    ELSE
        -- Out of the queue once delivered or failed; a retried one keeps its next attempt.
        -- Found by key probes of the queue (ARRAY), whatever the estimates of new_rows.
        WITH dequeued AS (
            DELETE FROM pending_commands
            WHERE seq = ANY (ARRAY(SELECT seq FROM new_rows WHERE status <> 'pending'))
              AND next_attempt_at IS NOT NULL),
        requeued AS (
            UPDATE pending_commands AS q SET next_attempt_at = n.next_attempt_at
            FROM new_rows AS n
            WHERE q.seq = ANY (ARRAY(SELECT seq FROM new_rows WHERE status = 'pending'))
              AND q.next_attempt_at IS NOT NULL AND n.seq = q.seq
              AND q.next_attempt_at IS DISTINCT FROM n.next_attempt_at),
        w AS (
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

DROP TRIGGER commands_stream_insert ON commands;
DROP TRIGGER commands_stream_status ON commands;
DROP FUNCTION callbackd_stream_commands();
CREATE TRIGGER commands_changed_insert AFTER INSERT ON commands
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_commands_changed();
CREATE TRIGGER commands_changed_update AFTER UPDATE ON commands
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_commands_changed();
CREATE TRIGGER commands_changed_delete AFTER DELETE ON commands
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbackd_commands_changed();
