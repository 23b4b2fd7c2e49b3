-- The stream's numbering queue holds transactions, not changes. Migration 017 queued the seq of
-- every change row in stream_unnumbered: a row inserted (its speculative insertion confirmed),
-- an index entry, then a row deleted by the numbering, for each change; a PBX event makes about
-- three and a half changes (its callback, its station, its commands when created and again when
-- acknowledged), so that queue wrote about a tenth of the WAL of an event (pg_waldump at 1,000
-- events/s: 9.3 of 89 MB). Now a writing transaction queues its own id once, with its first
-- change; the numbering dequeues the committed transactions and numbers every change they wrote
-- (found by stream_changes_one_per_transaction, whose first column is the transaction), in write
-- order (seq) as before (db/changes.c).
--
-- The numbering takes every committed transaction queued, not a bounded number of them: a change
-- that waited on a row lock follows, in seq, the change of the transaction that held it, but
-- its transaction may be older (its id assigned at an earlier write). Numbering a subset of the
-- queue in transaction order could number it first. Changes are written only by callbackd's
-- transactions, which the numbering follows within a second, so the queue stays short.

CREATE TABLE stream_unnumbered_xacts (
    xid xid8 PRIMARY KEY                       -- a committed transaction whose changes wait
);
ALTER TABLE stream_unnumbered_xacts SET (autovacuum_vacuum_scale_factor = 0,
                                         autovacuum_vacuum_threshold = 10000);

-- What the old queue holds is numbered here, once every writer that queued into it and any
-- numbering under way have finished: the table lock waits for them, and holds back a numbering
-- that would start meanwhile (it finds the table gone).
LOCK TABLE stream_unnumbered IN ACCESS EXCLUSIVE MODE;
WITH todo AS (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM stream_unnumbered),
     base AS (SELECT last_id FROM stream_position),
     numbered AS (INSERT INTO stream_ids (id, seq) SELECT base.last_id + todo.n, todo.seq
                  FROM todo, base RETURNING id)
UPDATE stream_position SET last_id = (SELECT max(id) FROM numbered)
WHERE EXISTS (SELECT 1 FROM numbered);

-- The writers (migrations 017, 023, 024), each as it was but for the queue.
CREATE OR REPLACE FUNCTION callbackd_callbacks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
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
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

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
        INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
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
                   to_jsonb(n) || jsonb_build_object('callbacks_allowed', c.callbacks_allowed)
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
        SELECT 'station', s.number, s.number,
               to_jsonb(s) || jsonb_build_object('callbacks_allowed', NEW.callbacks_allowed)
        FROM stations s WHERE s.cos = NEW.id
        ON CONFLICT (xid, kind, key) DO UPDATE SET data = EXCLUDED.data,
                                                   station = EXCLUDED.station
        RETURNING seq)
    INSERT INTO stream_unnumbered_xacts (xid)
        SELECT pg_current_xact_id() WHERE EXISTS (SELECT FROM w) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

DROP TABLE stream_unnumbered;
-- Written for migration 011's per-row triggers; nothing has called it since migration 012.
DROP FUNCTION callbackd_stream_record(text, text, text, jsonb);
