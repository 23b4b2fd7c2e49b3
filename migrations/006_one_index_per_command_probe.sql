-- The dispatcher's probes of `commands`, like a decision's probes of `callbacks` (migration
-- 005), can each be answered by one partial index only.
--
-- Three indexes had the predicate `status = 'pending'`. The dispatcher's "is an earlier command
-- of this order key pending?" (db/outbox.c, outbox_due) runs once per pending command it looks
-- at; its generic plan, made while nothing was pending, read commands_pending_next_attempt whole
-- for each of them: 221 ms per round with 6,000 commands pending (737,812 entries read) instead
-- of a probe of commands_pending_by_order_key. The backlog then grew faster than it drained.
--
-- Each index now also requires the column it is searched by, so that only queries naming that
-- column can use it.
DROP INDEX commands_pending_by_order_key;
CREATE INDEX commands_pending_by_order_key ON commands (order_key, seq)
    WHERE status = 'pending' AND order_key IS NOT NULL;

DROP INDEX commands_pending_next_attempt;
CREATE INDEX commands_pending_next_attempt ON commands (next_attempt_at)
    WHERE status = 'pending' AND next_attempt_at IS NOT NULL;

-- The due commands in seq order (the dispatcher's scan, which always bounds next_attempt_at).
DROP INDEX commands_pending;
CREATE INDEX commands_pending ON commands (seq)
    WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
