-- ANALYZE leaves out the payloads: a PBX event's body, a command's body and a stream change's
-- data. No statement filters, joins or sorts on them (they are read back whole, by key), so their
-- statistics plan nothing, yet computing them was a third of the CPU of analyzing their tables:
-- each sample of 30,000 rows detoasts and hashes every document. These three tables grow with
-- every event, so autovacuum analyzes them about once a minute under load, on the same two cores
-- as the worker. Lab (N = 1,000, 2026-12-05), an ANALYZE of the three with autovacuum's cost
-- settings forced into each 5 s run at 1,000 PBX events/s, five alternating pairs: it took
-- 0.56-0.82 s instead of 0.82-1.01 s, and the event -> command p99 was 8.70-13.1 ms instead of
-- 11.6-16.1 ms, lower in every pair. Alone, without the cost delay: 103-110 ms a table instead
-- of 144-190 ms. A jsonb column added later must say the same (tests/e2e/test_flat_decisions.py).
ALTER TABLE pbx_events ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE commands ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE stream_changes ALTER COLUMN data SET STATISTICS 0;
