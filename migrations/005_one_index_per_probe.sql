-- Each probe of a decision (db/world.c) can be answered by one index only, whatever the
-- statistics said when its plan was made.
--
-- Decisions run generic plans, kept per connection until the next ANALYZE of the table. Every
-- partial index whose predicate a probe implies is also a plan for it: read that index whole and
-- filter. While such an index is small (no callback engaged yet, a new table) that plan costs
-- the same as the probe, and the planner may keep it; the index then grows without an ANALYZE
-- (engaged callbacks are a sliver of the table) and the plan reads every entry at every
-- decision. Measured at 1,000,000 callbacks: "engaged callbacks ringing station X" read the
-- 11,920 entries of callbacks_engaged_by_target a thousand times per group of events: 3.4 s
-- instead of 0.1 s.
--
-- So every hot partial index now also requires its key columns to be set: a probe on
-- `requester = $1` implies `requester IS NOT NULL` (a strict operator), a probe on `target`
-- or `notify_station` does not, and the index is no plan for it. The engaged callbacks of a
-- target are read from its queue (at most max_per_target rows), so one index is left with the
-- engaged predicate.
DROP INDEX callbacks_engaged_by_target;

DROP INDEX callbacks_one_active_per_pair;
CREATE UNIQUE INDEX callbacks_one_active_per_pair ON callbacks (requester, target)
    WHERE ended_at IS NULL AND requester IS NOT NULL AND target IS NOT NULL;

DROP INDEX callbacks_active_by_target;
CREATE INDEX callbacks_active_by_target ON callbacks (target, seq)
    WHERE ended_at IS NULL AND target IS NOT NULL;

DROP INDEX callbacks_active_by_requester;
CREATE INDEX callbacks_active_by_requester ON callbacks (requester, seq)
    WHERE ended_at IS NULL AND requester IS NOT NULL;

DROP INDEX callbacks_engaged_by_notify_station;
CREATE INDEX callbacks_engaged_by_notify_station ON callbacks (notify_station)
    WHERE ended_at IS NULL AND state IN ('notifying', 'recalling') AND notify_station IS NOT NULL;
