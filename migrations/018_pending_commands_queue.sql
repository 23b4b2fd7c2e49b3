-- The commands waiting for delivery get a table of their own, and `commands` becomes history
-- whose vacuum does not grow with every command ever sent.
--
-- The dispatcher's three partial indexes on `commands WHERE status = 'pending'` (migrations
-- 004, 006) held a dead entry for every delivered command until VACUUM, which therefore ran
-- every 10,000 delivered commands with index cleanup forced on (migration 004) and scanned all
-- five indexes of the whole history each time: 0.8 s at 460,000 commands, 2.3 s at 3.7 million.
-- A delivery also had to write a new entry in each index of the table (an indexed predicate's
-- column changed: never a heap-only update).
--
-- Now a queued command is also a narrow row of pending_commands, deleted when it is delivered
-- or failed; the dispatcher reads only that table (db/outbox.c), whose size is what is pending.
-- `commands` keeps its primary key and unique id only, and no index of it names a column that
-- a delivery changes; its vacuum goes back to PostgreSQL's defaults (after a fifth of the table
-- changed: a cost per command that no longer grows with the history).
--
-- The queue's indexes follow migration 006: each can be used only by a query that names the
-- column of its predicate, so the dispatcher's probe "an earlier command of this order key
-- pending?" has one plan, a probe of pending_commands_by_order_key, whatever the statistics.

CREATE TABLE pending_commands (
    seq             bigint NOT NULL,      -- commands.seq
    order_key       text NOT NULL,        -- commands.order_key
    next_attempt_at timestamptz NOT NULL  -- commands.next_attempt_at
);
-- The due commands in seq order, and a delivered one found by its seq.
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
