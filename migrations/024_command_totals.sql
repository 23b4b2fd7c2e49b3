-- /metrics counts the commands by status without reading the history of every command sent.
--
-- callbackd_commands{status} counted `commands`, which keeps every command: a scrape read the
-- whole table, a cost that grew with every command ever sent (about four per callback). Now:
--   - pending: the rows of pending_commands, the queue that holds exactly the pending commands
--     (migration 018), whose size is what is pending;
--   - delivered and failed: command_totals, a running total per status that migration 018's
--     trigger keeps for every writer of commands, in the statement it runs per firing.
--     Commands leave pending only by the dispatcher's statements (db/outbox.c), one process at
--     a time, so the two rows are written by one transaction at a time and hold back no
--     decision; the decisions' inserts of pending commands write neither.

CREATE TABLE command_totals (
    status text PRIMARY KEY CHECK (status IN ('delivered', 'failed')),
    n      bigint NOT NULL
);
INSERT INTO command_totals (status, n)
SELECT s, (SELECT count(*) FROM commands WHERE status = s)
FROM unnest(ARRAY['delivered', 'failed']) AS s;

-- Migration 018's trigger keeps them, in the statement it already runs per firing: +1 for a row
-- now delivered or failed, -1 for a row that was. Its queue and stream rows are as in 018.
CREATE OR REPLACE FUNCTION callbackd_commands_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH queued AS (
            INSERT INTO pending_commands (seq, order_key, next_attempt_at)
            SELECT seq, order_key, next_attempt_at FROM new_rows WHERE status = 'pending'),
        counted AS (
            UPDATE command_totals AS t SET n = t.n + d.n
            FROM (SELECT status, count(*) AS n FROM new_rows WHERE status <> 'pending'
                  GROUP BY status) AS d
            WHERE t.status = d.status),
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
        WITH counted AS (
            UPDATE command_totals AS t SET n = t.n - d.n
            FROM (SELECT status, count(*) AS n FROM old_rows WHERE status <> 'pending'
                  GROUP BY status) AS d
            WHERE t.status = d.status)
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
        counted AS (
            UPDATE command_totals AS t SET n = t.n + d.n
            FROM (SELECT status, sum(x) AS n FROM (
                      SELECT status, 1 AS x FROM new_rows WHERE status <> 'pending'
                      UNION ALL
                      SELECT status, -1 FROM old_rows WHERE status <> 'pending') AS c
                  GROUP BY status HAVING sum(x) <> 0) AS d
            WHERE t.status = d.status),
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
