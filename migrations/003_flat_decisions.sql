-- Decisions cost the same whatever the size of `callbacks` (db/world.c): every step of loading a
-- decision's world is an index scan bounded by the parties, and ended callbacks sit in none of
-- the indexes those steps use.

-- Who is being rung or recalled right now (CB-17 "one at a time", CB-31 consoles ringing on
-- behalf of another): only engaged callbacks, a handful at any moment.
CREATE INDEX callbacks_engaged_by_notify_station ON callbacks (notify_station)
    WHERE ended_at IS NULL AND state IN ('notifying', 'recalling');
-- How many callbacks a target is already serving (CB-16, CB-17), without reading its queue.
CREATE INDEX callbacks_engaged_by_target ON callbacks (target)
    WHERE ended_at IS NULL AND state IN ('notifying', 'recalling');

-- `seq` comes from its own sequence, so it is unique without an index; queue order is read from
-- callbacks_active_by_target (target, seq). One index less to write on every insert and state
-- change.
ALTER TABLE callbacks DROP CONSTRAINT callbacks_seq_key;
