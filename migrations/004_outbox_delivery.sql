-- Command delivery (CB-51) stays bounded by the pending commands while `commands` keeps every
-- delivered one forever.

-- The dispatcher's next wake-up: the soonest next_attempt_at among pending commands, read in
-- order from this index instead of sorting every pending command.
CREATE INDEX commands_pending_next_attempt ON commands (next_attempt_at) WHERE status = 'pending';

-- Each delivered command leaves a dead entry in the partial indexes on pending commands
-- (commands_pending, commands_pending_by_order_key, commands_pending_next_attempt) until VACUUM
-- removes it, and the dispatcher's queries step over those entries. With the default
-- autovacuum_vacuum_scale_factor (0.2 of the table) their number would grow with the history;
-- vacuum after a fixed number of dead rows instead, and always clean the indexes (the
-- default may skip index vacuuming when few heap pages are affected, which is exactly the
-- case of a large history with a small pending set).
ALTER TABLE commands SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
                          vacuum_index_cleanup = on);
