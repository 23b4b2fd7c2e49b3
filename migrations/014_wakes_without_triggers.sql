-- The worker and the dispatcher are no longer woken by triggers that NOTIFY on every insert into
-- pbx_events and commands. PostgreSQL commits the transactions that notified one at a time (a
-- database-wide lock held through the commit's WAL flush), so every webhook batch and every
-- decision that queued a command waited for the commits before it: no group commit, and an
-- event's way to the PBX queued behind all of them.
--
-- Instead the writer wakes the loop itself: in-process when the loop leads in the writer's own
-- process (the usual case, one process or the leader's), after the commit; with a NOTIFY in the
-- writing statement only when the loop leads in another process (db/leader.h). A loop that
-- missed a wake (leadership moved between the write and the commit) finds the work at its next
-- poll, within a second.

DROP TRIGGER pbx_events_notify ON pbx_events;
DROP FUNCTION callbackd_events_notify();
DROP TRIGGER commands_notify ON commands;
DROP FUNCTION callbackd_commands_notify();
