#!/usr/bin/python3
"""Helpers of tests/bench/run.sh (the scale benchmark; not part of ctest). Each subcommand is one
step; run.sh owns every process (PostgreSQL, callbackd, the fake PBX) and calls these in order.
Figures are appended to a results file, one `scale<TAB>key<TAB>value` line each; `report`
prints the table.

Numbering of the loaded world (all stations are ip_phone, COS `std`):
  6xxxxxxx  requesters, 10 active callbacks each (max_per_requester = 10)
  5xxxxxxx  targets, 50 queued callbacks each (max_per_target = 50), reported busy
  8xxxxxxx  POST pool requesters, no callbacks at first (10 POSTs each at most)
  7xxxxxxx  POST pool targets, reported busy, no callbacks at first (50 POSTs each at most)
Active callback i (0 <= i < N): requester 6|i/10, target 5|(i mod T), T = max(10, ceil(N/50)):
distinct (requester, target) pairs, 10 per requester, at most 50 per target. The ended
callbacks use the same layout (ended rows count toward no rule).
"""

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# small tools


def layout(n):
    """(requesters, targets) of the loaded world for N active callbacks."""
    return max(1, math.ceil(n / 10)), max(10, math.ceil(n / 50))


# The targets the PBX events go to: the first HOT_TARGETS loaded ones, as many as there are at
# N = 1,000 (all of them there). With the layout above, targets 0-9 are the whole lists of the
# same 50 requesters (requesters 0, 2, 4, ... at N = 1,000; 0, T/10, 2T/10, ... at any N), and
# targets 10-19 those of 50 others: at every N a group's world is 20 queues of 50 and 100
# requesters with 10 callbacks each, all on those queues, and only the table grows. (Twenty
# targets spread over the table instead had 1,000 distinct requesters at N = 1,000,000 against
# 100 at N = 1,000: ten times the stations and probes per group, which made the event -> command
# latency 1.6-1.8x slower at 1,000,000 without the table being the cause.) Their rows are as
# scattered in the table as any target's (callback i is on target i mod T). `apply --targets
# all` adds the same run spread over every loaded target (a group of events then touches up to
# 200 distinct queues of 50, with 50 distinct requesters each at large N).
HOT_TARGETS = 20


def hot_targets(T, wanted):
    if wanted == "all":
        return [tgt_number(j) for j in range(T)]
    return [tgt_number(j) for j in range(min(T, int(wanted)))]


def req_number(r):
    return "6%07d" % r


def tgt_number(t):
    return "5%07d" % t


def psql(url, sql, capture=True):
    """Runs SQL through psql (ON_ERROR_STOP); returns the rows (tab-separated) when captured."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                        "-d", url], input=sql, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"scale.py: psql failed (exit {p.returncode})")
    if not capture:
        return []
    return [line.split("\t") for line in p.stdout.splitlines() if line]


def value(url, sql):
    rows = psql(url, sql)
    return rows[0][0] if rows else None


def put(results, scale, key, val):
    with open(results, "a") as f:
        f.write(f"{scale}\t{key}\t{val}\n")


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(math.ceil(p / 100.0 * len(xs))) - 1)]


class MachineCpu:
    """The whole machine's CPU over a `with` block, from /proc/stat: the share of every CPU's time
    spent busy (not idle, not waiting for I/O), and the CPU milliseconds that makes per
    operation. Everything on the machine counts (PostgreSQL, callbackd, the load's clients): on
    a machine that runs them all, a rate is bounded by that sum per operation."""

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]  # idle, iowait
        return sum(v[:8]) - idle, sum(v[:8])  # busy, total (without guest time, counted in user)

    @staticmethod
    def _processes():
        """CPU ticks so far of each process, by pid: (label, ticks). A PostgreSQL process is
        labelled by its kind ("postgres: autovacuum worker", a client's backend "postgres:
        backend"), anything else by its name."""
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    st = f.read()
                label = st[st.index("(") + 1:st.rindex(")")]
                ticks = sum(int(x) for x in st[st.rindex(")") + 2:].split()[11:13])
                if label == "postgres":
                    with open(f"/proc/{pid}/cmdline") as f:
                        cmd = f.read().replace("\0", " ").strip()
                    kind = cmd[len("postgres: "):] if cmd.startswith("postgres: ") else ""
                    known = ("autovacuum", "checkpointer", "background writer", "walwriter",
                             "logical replication", "stats")
                    label = next((f"postgres: {k}" for k in known if kind.startswith(k)),
                                 "postgres: backend" if kind else "postgres")
                out[pid] = (label, ticks)
            except (OSError, ValueError):
                pass  # gone meanwhile
        return out

    def __enter__(self):
        self.p0 = self._processes()
        self.b0, self.t0 = self._read()
        self.w0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        b1, t1 = self._read()
        self.wall = time.monotonic() - self.w0
        self.busy = (b1 - self.b0) / max(1, t1 - self.t0)
        by = {}
        for pid, (label, ticks) in self._processes().items():
            by[label] = by.get(label, 0) + ticks - self.p0.get(pid, (label, 0))[1]
        total = max(1, t1 - self.t0)  # every CPU's ticks over the block
        self.shares = sorted(((v / total, k) for k, v in by.items() if v > 0), reverse=True)
        return False

    def top(self, least=0.02):
        """The processes that took at least `least` of the machine, e.g. "postgres: backend 41%,
        callbackd 25%", and those that ended before the block did (a client and its backends)."""
        parts = [f"{k} {v:.0%}" for v, k in self.shares if v >= least]
        gone = self.busy - sum(v for v, _ in self.shares)  # processes that ended in the block
        if gone >= least:
            parts.append(f"processes ended meanwhile {gone:.0%}")
        return ", ".join(parts)

    def ms_per(self, ops):
        """CPU ms of the whole machine per operation, `ops` operations in the block."""
        return self.busy * os.cpu_count() * self.wall * 1000 / ops if ops else float("nan")


# The cluster's WAL segment files (pg_wal holds other files too: archive status, history).
WAL_SEGMENT_FILES = "pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'"


class WalDisk:
    """What PostgreSQL's WAL made commits wait for, from its creation to end(): how often the
    WAL was flushed and how long a flush took on average (pg_stat_wal, timed when
    track_wal_io_timing is on, as tests/bench/run.sh sets it), how many segment files were
    created (each zero-filled while commits wait: cmd_wal), and how many buffers a checkpoint
    wrote meanwhile (pg_stat_bgwriter, reported while a checkpoint runs). Backends report their
    figures when idle, at most a second late: end() waits that second."""

    SQL = ("SELECT w.wal_sync, w.wal_sync_time, b.buffers_checkpoint,"
           f" (SELECT count(*) FROM {WAL_SEGMENT_FILES}), w.wal_bytes"
           " FROM pg_stat_wal AS w, pg_stat_bgwriter AS b")

    def __init__(self, url):
        self.url = url
        self.s0, self.ms0, self.c0, self.f0, self.b0 = self._read()

    def _read(self):
        sync, sync_ms, ckpt, files, wal_bytes = psql(self.url, self.SQL)[0]
        return int(sync), float(sync_ms), int(ckpt), int(files), int(wal_bytes)

    def end(self):
        time.sleep(1.1)
        s1, ms1, c1, f1, b1 = self._read()
        self.syncs, self.checkpoint_buffers = s1 - self.s0, c1 - self.c0
        self.bytes = b1 - self.b0  # WAL written, from the start to end()
        self.sync_ms = (ms1 - self.ms0) / self.syncs if self.syncs else None
        self.timed = ms1 > self.ms0
        self.created = max(0, f1 - self.f0)  # a checkpoint recycles by renaming, or removes
        return self

    def summary(self):
        """E.g. "WAL flushed 7,102 times, 0.31 ms each on average, no segment created, no
        checkpoint writes"."""
        each = "none to time" if self.sync_ms is None else \
            f"{self.sync_ms:.2f} ms each on average" if self.timed else \
            "untimed (track_wal_io_timing off)"
        made = f"{self.created} segments created" if self.created else "no segment created"
        ckpt = (f"a checkpoint wrote {self.checkpoint_buffers:,} buffers meanwhile"
                if self.checkpoint_buffers else "no checkpoint writes")
        return f"WAL flushed {self.syncs:,} times, {each}, {made}, {ckpt}"


class Disturbances:
    """What else the machine did during a `with` block that stalls every commit for tens of
    milliseconds, so that a latency run's tail can be read: the kernel's write-back bursts (from
    /proc/diskstats every 50 ms: more than BURST_MIB written to the disks within one sample,
    where the WAL's own flushes write about 1 MiB; Linux writes a file's dirty pages back 30 s
    after they were first dirtied, vm.dirty_expire_centisecs, so the data files that grow under
    the load are written in one burst every 30 s or so, and the commits' WAL flushes are slow
    meanwhile), and the tables that autovacuum vacuumed or analyzed (pg_stat_all_tables; one
    pass a minute, autovacuum_naptime, takes a CPU of this machine's two for a second or two)."""

    BURST_MIB = 4
    PERIOD_S = 0.05

    def __init__(self, url):
        self.url = url
        # The machine's disks: not partitions, loop or device-mapper devices, which would count
        # the same writes twice.
        self.disks = {d for d in os.listdir("/sys/block")
                      if not d.startswith(("loop", "ram", "zram", "dm-", "md"))}

    def _written(self):
        """Sectors (512 bytes) written so far to the machine's disks."""
        total = 0
        with open("/proc/diskstats") as f:
            for line in f:
                x = line.split()
                if len(x) > 9 and x[2] in self.disks:
                    total += int(x[9])
        return total

    def _sample(self):
        last = self._written()
        while not self.stop.wait(self.PERIOD_S):
            now = self._written()
            mib = (now - last) * 512 / 2**20
            last = now
            if mib > self.BURST_MIB:
                self.bursts.append((time.monotonic() - self.w0, mib))

    def __enter__(self):
        self.t0 = psql(self.url, "SELECT now()")[0][0]
        self.w0 = time.monotonic()
        self.bursts, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.autovacuum = psql(self.url, f"""SELECT
            count(*) FILTER (WHERE last_autovacuum >= '{self.t0}'),
            count(*) FILTER (WHERE last_autoanalyze >= '{self.t0}') FROM pg_stat_all_tables""")[0]
        return False

    def summary(self):
        """E.g. "disk write-back bursts: 2 (81 MiB at 3.2 s, 25 MiB at 4.9 s); autovacuum
        vacuumed 9 tables and analyzed 12"."""
        b = ", ".join(f"{mib:.0f} MiB at {t:.1f} s" for t, mib in self.bursts[:6])
        more = ", ..." if len(self.bursts) > 6 else ""
        vac, ana = (int(x) for x in self.autovacuum)
        return (f"disk write-back bursts (> {self.BURST_MIB} MiB within {self.PERIOD_S * 1000:.0f} ms): "
                f"{len(self.bursts)}" + (f" ({b}{more})" if b else "")
                + f"; autovacuum vacuumed {vac} tables and analyzed {ana} meanwhile")


def run_id():
    return "%x" % random.getrandbits(40)


# ---------------------------------------------------------------------------------------------
# load


def uuid7_sql(t):
    """A version 7 UUID (RFC 9562) made in SQL from the timestamptz expression `t`, as the API
    makes its ids (service/ids.c): the Unix milliseconds, the version, random bits, the
    variant, random bits."""
    return ("(lpad(to_hex((extract(epoch FROM " + t + ") * 1000)::bigint), 12, '0') || '7'"
            " || substr(md5(random()::text), 1, 3) || to_hex(8 + floor(random() * 4)::int)"
            " || substr(md5(random()::text), 1, 15))::uuid")


# Ids as the API makes them: version 7 UUIDs from each row's creation time ({UUID7_C}).
LOAD_SQL = r"""
SET maintenance_work_mem = '1GB';
SET synchronous_commit = on;
BEGIN;
SELECT set_config('bench.timer_s', callback_cancel_timer_s::text, true) FROM system_options;

INSERT INTO classes_of_service (id, callbacks_allowed) VALUES ('std', true)
    ON CONFLICT (id) DO UPDATE SET callbacks_allowed = true;

-- Stations: requesters (idle), targets (busy, as the PBX last reported), the POST pool.
CREATE TEMP TABLE bench_numbers (number text, busy boolean) ON COMMIT DROP;
INSERT INTO bench_numbers
    SELECT '6' || lpad(g::text, 7, '0'), false FROM generate_series(0, {R} - 1) g
    UNION ALL SELECT '5' || lpad(g::text, 7, '0'), true FROM generate_series(0, {T} - 1) g
    UNION ALL SELECT '8' || lpad(g::text, 7, '0'), false FROM generate_series(0, {PR} - 1) g
    UNION ALL SELECT '7' || lpad(g::text, 7, '0'), true FROM generate_series(0, {PT} - 1) g;
INSERT INTO directory_numbers (number, kind) SELECT number, 'station' FROM bench_numbers;
INSERT INTO stations (number, kind, cos, prime_line, busy)
    SELECT number, 'ip_phone', 'std', number, busy FROM bench_numbers;

-- Secondary indexes of the three big tables are dropped and rebuilt from their own definitions
-- (pg_get_indexdef) after the load: the same schema, built in bulk.
CREATE TEMP TABLE bench_saved_indexes ON COMMIT DROP AS
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE c.relname IN ('callbacks', 'callback_history', 'timers') AND c.relnamespace = 'public'::regnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid);
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT name FROM bench_saved_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
END $$;

-- Ended callbacks first (older, lower seq): created over the last 30 days.
INSERT INTO callbacks (id, requester, target, target_type, reason, mode, state, origin_line,
                       notify_line, notify_station, external_number, reserved_line,
                       awaiting_release, hook_cycle_needed, hook_off_seen, idle_report_needed,
                       lamp_lit, created_at, updated_at, expires_at, ended_at, end_reason, supersedes)
SELECT {UUID7_C}, req, tgt, 'station', reason, 'callback', st, req, req, req, NULL, NULL,
       false, reason = 'no_answer' AND st <> 'completed', false, false, false,
       c, e, c + tm, e, er, NULL
FROM (
    SELECT g, req, tgt, c, tm, reason, st, er,
           CASE WHEN st = 'completed' THEN c + make_interval(secs => 30 + g % 600)
                WHEN st = 'expired' THEN c + tm
                ELSE c + make_interval(secs => 10 + g % 1800) END AS e
    FROM (
        SELECT g, '6' || lpad((g / 10)::text, 7, '0') AS req, '5' || lpad((g % {T})::text, 7, '0') AS tgt,
               date_trunc('milliseconds', now() - interval '30 days' + (interval '29 days' / {N}) * g) AS c,
               make_interval(secs => current_setting('bench.timer_s')::int) AS tm,
               CASE WHEN g % 5 = 4 THEN 'no_answer' ELSE 'busy' END AS reason,
               (ARRAY['completed','completed','completed','completed','completed','completed',
                      'cancelled','cancelled','cancelled','expired'])[g % 10 + 1] AS st,
               (ARRAY['completed','completed','completed','completed','completed','completed',
                      'requested','no_response','cancelled_all','expired'])[g % 10 + 1] AS er
        FROM generate_series(0, {N} - 1) g) x) y
ORDER BY g;

-- Active callbacks, all pending, set over the last 10 minutes (none expires during the run:
-- expiry = created_at + callback_cancel_timer_s, default 3600 s), queue order = seq.
INSERT INTO callbacks (id, requester, target, target_type, reason, mode, state, origin_line,
                       notify_line, notify_station, external_number, reserved_line,
                       awaiting_release, hook_cycle_needed, hook_off_seen, idle_report_needed,
                       lamp_lit, created_at, updated_at, expires_at, ended_at, end_reason, supersedes)
SELECT {UUID7_C}, req, tgt, 'station', reason, 'callback', 'pending', req, req, req, NULL,
       NULL, false, reason = 'no_answer', false, false, false, c, c, c + tm, NULL, NULL, NULL
FROM (
    SELECT g, '6' || lpad((g / 10)::text, 7, '0') AS req, '5' || lpad((g % {T})::text, 7, '0') AS tgt,
           date_trunc('milliseconds', now() - interval '600 seconds' + (interval '600 seconds' / {N}) * g) AS c,
           make_interval(secs => current_setting('bench.timer_s')::int) AS tm,
           CASE WHEN g % 5 = 4 THEN 'no_answer' ELSE 'busy' END AS reason
    FROM generate_series(0, {N} - 1) g) x
ORDER BY g;

-- History: the creation entry of every callback (cause: the API request), and the ending entry
-- of every ended one (its cause as the worker or the API records it).
INSERT INTO callback_history (callback_id, at, from_state, to_state, cause_kind, cause_ref)
SELECT id, created_at, NULL, 'pending', 'api', md5(id::text) FROM callbacks ORDER BY seq;
INSERT INTO callback_history (callback_id, at, from_state, to_state, cause_kind, cause_ref)
SELECT id, ended_at, CASE WHEN state = 'completed' THEN 'recalling' ELSE 'pending' END, state,
       CASE end_reason WHEN 'completed' THEN 'event' WHEN 'requested' THEN 'api'
                       WHEN 'cancelled_all' THEN 'api' ELSE 'timer' END,
       CASE end_reason WHEN 'completed' THEN 'pbx-' || seq WHEN 'no_response' THEN 'notify_timeout'
                       WHEN 'expired' THEN 'expiry' ELSE md5(id::text || '.end') END
FROM callbacks WHERE ended_at IS NOT NULL ORDER BY seq;

-- The expiry timer of every active callback (CB-10, CB-52), as the API arms it.
INSERT INTO timers (kind, ref, due_at)
SELECT 'expiry', id::text, expires_at FROM callbacks WHERE ended_at IS NULL ORDER BY seq;

DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT def FROM bench_saved_indexes LOOP EXECUTE r.def; END LOOP;
END $$;

-- The change log behind GET /v1/stream keeps about an hour, numbered as it comes: what these
-- rows' creation would have logged was numbered and purged long ago in a running system. Left
-- in, 2N unnumbered changes made every process's feed number them for minutes, during the runs.
TRUNCATE stream_changes, stream_unnumbered_xacts, stream_ids, stream_passes;
COMMIT;
"""

COPY_SQL = r"""
SET maintenance_work_mem = '1GB';
BEGIN;
DROP TABLE IF EXISTS callbacks_copy;
DROP SEQUENCE IF EXISTS callbacks_copy_seq;
CREATE SEQUENCE callbacks_copy_seq;
CREATE TABLE callbacks_copy (LIKE callbacks INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                             INCLUDING GENERATED);
ALTER TABLE callbacks_copy ALTER COLUMN seq SET DEFAULT nextval('callbacks_copy_seq');
ALTER SEQUENCE callbacks_copy_seq OWNED BY callbacks_copy.seq;
-- Every column but the generated ones (list_state: migration 023), which the copy computes.
DO $$ DECLARE cols text; BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute
    WHERE attrelid = 'public.callbacks'::regclass AND attnum > 0 AND NOT attisdropped
      AND attgenerated = '';
    EXECUTE format('INSERT INTO callbacks_copy (%s) SELECT %s FROM callbacks ORDER BY seq',
                   cols, cols);
END $$;
SELECT setval('callbacks_copy_seq', (SELECT max(seq) FROM callbacks_copy));
-- Every index of callbacks (primary key and unique seq included), same definition.
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
             FROM pg_index i WHERE i.indrelid = 'public.callbacks'::regclass LOOP
        EXECUTE replace(replace(r.def, ' ON public.callbacks ', ' ON public.callbacks_copy '),
                        'INDEX ' || r.name || ' ', 'INDEX ' || r.name || '_copy ');
    END LOOP;
END $$;
COMMIT;
"""


def pool_layout(pool):
    """(requesters, targets) of the POST pool: 10 pairs per requester, at most 50 per target, the
    two counts coprime so that pair p = (requester p mod PR, target p mod PT) is distinct for
    every p < PR * PT (post.lua): consecutive requests name different parties, as concurrent
    POSTs from different phones would, instead of ten in a row from the same requester (which
    serialises them: a decision holds its parties' locks)."""
    PR = math.ceil(pool / 10)
    PT = max(10, math.ceil(pool / 50))
    while math.gcd(PR, PT) != 1:
        PT += 1
    return PR, PT


def cmd_load(a):
    R, T = layout(a.pending)
    PR, PT = pool_layout(a.pool)
    sql = LOAD_SQL.format(N=a.pending, R=R, T=T, PR=PR, PT=PT, UUID7_C=uuid7_sql("c"))
    t0 = time.monotonic()
    psql(a.url, sql, capture=False)
    t1 = time.monotonic()
    psql(a.url, "VACUUM ANALYZE;", capture=False)
    t2 = time.monotonic()
    # Flush what the load dirtied, so the runs do not compete with its write-back.
    psql(a.url, "CHECKPOINT;", capture=False)
    subprocess.run(["sync"], check=False)
    print(f"  CHECKPOINT and sync after the load: {time.monotonic() - t2:.1f} s", flush=True)
    t2 = time.monotonic()
    print(f"  loaded {a.pending:,} pending + {a.pending:,} ended callbacks, history, timers, "
          f"{R + T + PR + PT:,} stations in {t1 - t0:.1f} s; VACUUM ANALYZE {t2 - t1:.1f} s",
          flush=True)
    put(a.results, a.pending, "load_s", f"{t1 - t0:.1f}")
    put(a.results, a.pending, "vacuum_s", f"{t2 - t1:.1f}")
    if not a.no_copy:
        psql(a.url, COPY_SQL, capture=False)
        psql(a.url, "VACUUM ANALYZE callbacks_copy;", capture=False)
        t3 = time.monotonic()
        print(f"  callbacks_copy (pgbench) seeded with the same rows and indexes in {t3 - t2:.1f} s",
              flush=True)
        put(a.results, a.pending, "copy_s", f"{t3 - t2:.1f}")
    check = psql(a.url, """
        SELECT (SELECT count(*) FROM callbacks WHERE ended_at IS NULL),
               (SELECT count(*) FROM callbacks WHERE ended_at IS NOT NULL),
               (SELECT count(*) FROM callback_history),
               (SELECT count(*) FROM timers WHERE kind = 'expiry'),
               (SELECT max(n) FROM (SELECT count(*) n FROM callbacks WHERE ended_at IS NULL GROUP BY requester) x),
               (SELECT max(n) FROM (SELECT count(*) n FROM callbacks WHERE ended_at IS NULL GROUP BY target) x),
               (SELECT max_per_requester || '/' || max_per_target FROM system_options)""")[0]
    print(f"  check: {int(check[0]):,} active, {int(check[1]):,} ended, {int(check[2]):,} history rows, "
          f"{int(check[3]):,} expiry timers; most active per requester {check[4]}, per target "
          f"{check[5]} (limits {check[6]})", flush=True)
    if int(check[0]) != a.pending or int(check[1]) != a.pending or int(check[3]) != a.pending:
        raise SystemExit("scale.py: the load did not produce the expected rows")


WAL_AHEAD_SQL = f"""SELECT count(*) FROM {WAL_SEGMENT_FILES}
    AND name > pg_walfile_name(pg_current_wal_lsn())"""
# The cluster's segment size and min_wal_size, in bytes.
WAL_SIZES_SQL = """SELECT pg_size_bytes(current_setting('wal_segment_size')),
    pg_size_bytes(current_setting('min_wal_size'))"""


def cmd_wal(a):
    """Gives the cluster the WAL segments a running server has ready: about `--ahead` MiB of
    recycled segment files past the one being written, so that the runs that follow write into
    files that exist, as on a server that has been through checkpoints (a checkpoint keeps the
    segments it no longer needs, renamed for reuse: at least min_wal_size, at most
    max_wal_size). A young cluster has none: every 16 MiB of WAL, the backend that crosses into
    the next segment creates and zero-fills its file while holding the WAL write lock, and every
    commit of the server waits behind it (about 50 ms on this VM, every 2-3 s at 1,000 events/s;
    the p99 of event -> command was made of those stalls). The segments are made by switching to
    a new one per message logged, then recycled by a CHECKPOINT, only when fewer are ready than
    asked (a CHECKPOINT keeps what PostgreSQL expects the next cycle to need, which may be a
    little less). Each call also prints the WAL written since the previous one and whether it
    fitted in what was ready then; `--ahead 0` only prints."""
    state = os.path.join(a.workdir, "wal.state")
    segment, min_wal = (int(x) for x in psql(a.url, WAL_SIZES_SQL)[0])
    mib = segment // 2**20
    ahead = int(value(a.url, WAL_AHEAD_SQL))
    lsn = value(a.url, "SELECT pg_current_wal_lsn()")
    if os.path.exists(state):
        with open(state) as f:
            since, ready = f.read().split()
        written = int(value(a.url, f"SELECT pg_wal_lsn_diff('{lsn}', '{since}')")) / 2**20
        fitted = "fitted in" if written < int(ready) else "outgrew (new segments were created)"
        print(f"  WAL written since the last look: {written:,.0f} MiB; it {fitted} the "
              f"{int(ready):,} MiB ready then", flush=True)
    t0 = time.monotonic()
    want = math.ceil(a.ahead / mib)
    made = 0
    for _ in range(2):  # a CHECKPOINT recycles at least min_wal_size, at most max_wal_size
        if ahead >= want:
            break
        switches = want - ahead + 1
        psql(a.url, "SELECT pg_logical_emit_message(false, 'callbackd-bench', 'wal'); "
             "SELECT pg_switch_wal();\n" * switches)
        psql(a.url, "CHECKPOINT;")
        made += switches
        ahead = int(value(a.url, WAL_AHEAD_SQL))
    with open(state, "w") as f:
        f.write(f"{value(a.url, 'SELECT pg_current_wal_lsn()')} {ahead * mib}\n")
    if a.ahead:
        print(f"  WAL: {ahead * mib:,} MiB of segments ready ahead ({made} switched to and "
              f"recycled in {time.monotonic() - t0:.1f} s)", flush=True)
    if ahead < min(want, min_wal // segment):  # min_wal_size is always kept
        raise SystemExit(f"scale.py: only {ahead} WAL segments ahead, {want} wanted")


def cmd_cleanup(a):
    """Removes what the POST and pgbench runs added (callbackd stopped): the loaded data stays."""
    psql(a.url, """
        BEGIN;
        DELETE FROM timers t USING callbacks c
            WHERE t.kind IN ('expiry', 'notify_timeout', 'recall_timeout') AND t.ref = c.id::text
              AND c.requester LIKE '8%';
        DELETE FROM callbacks WHERE requester LIKE '8%';
        DELETE FROM idempotency_keys;
        COMMIT;""" + PGBENCH_CLEANUP + """
        VACUUM ANALYZE callbacks, callback_history, timers, callbacks_copy;""", capture=False)


def cmd_discard(a):
    """callbackd stopped: drops the unapplied backlog and puts the requesters back to idle, the
    targets back to busy (what the discarded events would have restored)."""
    rows = psql(a.url, """
        WITH d AS (DELETE FROM pbx_events WHERE applied_at IS NULL RETURNING 1) SELECT count(*) FROM d;
        UPDATE stations SET busy = false, hook_off = false WHERE number LIKE '6%' AND (busy OR hook_off);
        UPDATE stations SET busy = true, hook_off = false WHERE number LIKE '5%' AND (NOT busy OR hook_off);""")
    n = int(rows[0][0])
    print(f"  discarded {n:,} unapplied events (callbackd stopped); station states reset", flush=True)
    put(a.results, a.scale, f"discarded_{a.phase}", n)


# ---------------------------------------------------------------------------------------------
# pgbench and wrk


PGBENCH_ROW = r"""(id, requester, target, target_type, reason, mode, state, origin_line,
    notify_line, notify_station, external_number, reserved_line, awaiting_release,
    hook_cycle_needed, hook_off_seen, idle_report_needed, lamp_lit, created_at, updated_at,
    expires_at, ended_at, end_reason, supersedes)
VALUES (""" + uuid7_sql("clock_timestamp()") + r""",
    :r::text, '5' || lpad(:t::text, 7, '0'), 'station', 'busy', 'callback',
    'pending', :r::text, :r::text, :r::text, NULL, NULL, false, false, false, false, false,
    date_trunc('milliseconds', now()), date_trunc('milliseconds', now()),
    date_trunc('milliseconds', now()) + interval '3600 seconds', NULL, NULL, NULL)"""
PGBENCH_VARS = r"""\set n :n + 1
\set r 900000000000 + :client_id * 1000000000 + :n
\set t random(0, :ntargets - 1)
"""
# (file, results key, what the line says, script)
PGBENCH_RUNS = [
    # The reference: one INSERT of the row a POST stores, into a copy of callbacks with its
    # indexes and none of its triggers (scale.py load).
    ("pgbench_insert.sql", "pgbench", "INSERT ... RETURNING into callbacks_copy",
     PGBENCH_VARS + "INSERT INTO callbacks_copy " + PGBENCH_ROW + "\nRETURNING *;\n"),
    # Not targets, what the reference leaves out. The same INSERT into callbacks itself, whose
    # statement triggers write the row's change for GET /v1/stream and its parties' versions
    # (migrations 012, 017, 019).
    ("pgbench_callbacks.sql", "pgbench_callbacks", "the same INSERT into callbacks",
     PGBENCH_VARS + "INSERT INTO callbacks " + PGBENCH_ROW + "\nRETURNING *;\n"),
    # Then all that a POST of one callback writes, in one transaction: that INSERT, the history
    # row and the expiry timer (db/world.c, db/timers.c); not the reads, locks and checks that
    # decide it, nor HTTP.
    ("pgbench_writes.sql", "pgbench_writes", "a POST's writes (callback, history, timer)",
     PGBENCH_VARS + "BEGIN;\nINSERT INTO callbacks " + PGBENCH_ROW + r"""
RETURNING id, expires_at \gset
INSERT INTO callback_history (callback_id, at, from_state, to_state, cause_kind, cause_ref)
VALUES (:id, now(), NULL, 'pending', 'api', 'pgbench');
INSERT INTO timers (kind, ref, due_at) VALUES ('expiry', :id, :expires_at)
ON CONFLICT (kind, ref) DO UPDATE SET due_at = EXCLUDED.due_at;
COMMIT;
"""),
]
# What the runs leave, all by requesters 9nnnnnnnnnnn (PGBENCH_VARS), outside every pool: the
# rows, their timers and history, their stream changes (so that callbackd does not number them
# when it next starts) and their parties' versions.
PGBENCH_CLEANUP = r"""
    BEGIN;
    DELETE FROM callbacks_copy WHERE requester ~ '^9[0-9]{11}$';
    DELETE FROM timers t USING callbacks c
        WHERE t.kind = 'expiry' AND t.ref = c.id::text AND c.requester ~ '^9[0-9]{11}$';
    DELETE FROM callbacks WHERE requester ~ '^9[0-9]{11}$';
    DELETE FROM stream_unnumbered_xacts u USING stream_changes s
        WHERE u.xid = s.xid AND s.kind = 'callback' AND s.station ~ '^9[0-9]{11}$';
    DELETE FROM stream_changes WHERE kind = 'callback' AND station ~ '^9[0-9]{11}$';
    DELETE FROM world_versions WHERE number ~ '^9[0-9]{11}$';
    COMMIT;"""


def run_pgbench(a, script, key, what, T):
    def bench(c):
        return subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(c), "-j", "2",
                               "-T", str(a.seconds), "-D", "n=0", "-D", f"ntargets={T}",
                               "-f", script, a.url], text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    # Warm-up (not reported): WAL segments, caches, prepared plans.
    if bench(16).returncode != 0:
        raise SystemExit(f"scale.py: pgbench warm-up of {script} failed")
    psql(a.url, PGBENCH_CLEANUP, capture=False)
    for c in a.clients:
        with MachineCpu() as cpu:
            p = bench(c)
        tps, done = None, None
        for line in p.stdout.splitlines():
            if line.startswith("tps = "):
                tps = float(line.split()[2])
            elif line.startswith("number of transactions actually processed: "):
                done = int(line.split(":")[1].split("/")[0])
        failed = [ln for ln in p.stdout.splitlines() if "failed" in ln or "aborted" in ln or "ERROR" in ln]
        if p.returncode != 0 or tps is None:
            sys.stderr.write(p.stdout)
            raise SystemExit(f"scale.py: pgbench -c {c} of {script} failed")
        per = cpu.ms_per(done or tps * cpu.wall)
        print(f"  pgbench {what}, -c {c} -j 2 -T {a.seconds}: {tps:,.0f} tps; "
              f"machine CPU {cpu.busy:.0%} busy ({cpu.top()}), {per:.2f} ms per transaction"
              + ("; " + "; ".join(failed) if failed else ""), flush=True)
        put(a.results, a.pending, f"{key}_c{c}", f"{tps:.1f}")
        put(a.results, a.pending, f"{key}_c{c}_cpu_ms", f"{per:.3f}")
        psql(a.url, PGBENCH_CLEANUP, capture=False)


def cmd_pgbench(a):
    _, T = layout(a.pending)
    for name, key, what, text in PGBENCH_RUNS:
        script = os.path.join(a.workdir, name)
        with open(script, "w") as f:
            f.write(text)
        run_pgbench(a, script, key, what, T)
    psql(a.url, "VACUUM ANALYZE callbacks, callback_history, timers, stream_changes, "
                "stream_unnumbered_xacts, world_versions, callbacks_copy;", capture=False)


def cmd_wrk(a):
    PR, PT = pool_layout(a.pool)
    threads = 2
    wal = WalDisk(a.url)
    with MachineCpu() as cpu:
        p = subprocess.run(["wrk", "-t", str(threads), "-c", str(a.conns), "-d", f"{a.seconds}s",
                            "--timeout", "30s", "-s", os.path.join(HERE, "post.lua"),
                            f"http://127.0.0.1:{a.port}/v1/callbacks", "--", a.token, "0",
                            str(a.pool), str(threads), str(PR), str(PT)],
                           text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    res, samples = {}, []
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            res = dict(kv.split("=", 1) for kv in line.split()[1:])
        elif line.startswith("NON201 "):
            samples.append(line[7:])
    if p.returncode != 0 or not res:
        sys.stderr.write(p.stdout)
        raise SystemExit(f"scale.py: wrk -c {a.conns} failed")
    n = int(res["requests"])
    rps = n / (int(res["duration_us"]) / 1e6)
    non201 = int(res["non201"]) + int(res["socket_errors"])
    per = cpu.ms_per(n)
    wal.end()
    print(f"  wrk POST /v1/callbacks -t {threads} -c {a.conns} -d {a.seconds}s: {rps:,.0f} req/s, "
          f"p50 {int(res['p50_us']) / 1000:.2f} ms, p99 {int(res['p99_us']) / 1000:.2f} ms, "
          f"{n:,} answers, {non201} not 201; machine CPU {cpu.busy:.0%} busy ({cpu.top()}), "
          f"{per:.2f} ms per request"
          + (f" (socket errors {res['socket_errors']}, pool exhausted {res['exhausted']})"
             if non201 else "") + f"; {wal.summary()}", flush=True)
    for s in samples[:10]:
        print("    not 201: " + s, flush=True)
    c = a.conns
    put(a.results, a.pending, f"post_c{c}", f"{rps:.1f}")
    put(a.results, a.pending, f"post_c{c}_p50", f"{int(res['p50_us']) / 1000:.3f}")
    put(a.results, a.pending, f"post_c{c}_p99", f"{int(res['p99_us']) / 1000:.3f}")
    put(a.results, a.pending, f"post_c{c}_errors", non201)
    put(a.results, a.pending, f"post_c{c}_cpu_ms", f"{per:.3f}")
    created = int(value(a.url, "SELECT count(*) FROM callbacks WHERE requester LIKE '8%'"))
    if created < n - non201:
        print(f"  note: {created:,} callbacks stored for {n - non201:,} answers 201", flush=True)


# ---------------------------------------------------------------------------------------------
# the PBX side


def cmd_accept(a):
    """(a) events accepted/s: station.state events in signed batches of `batch`, `clients`
    keep-alive clients posting back to back for `seconds`, sent by tests/bench/event_load.c
    (`batches`: in C, so that the sender does not take the CPU the service is measured with; the
    Python threads it replaces took about a quarter of this 2-core machine). Each requester gets
    busy then idle in the same batch (so the world ends as it started)."""
    R, _ = layout(a.pending)
    p = subprocess.run([a.sender, "batches", str(a.port), a.secret, str(a.seconds), str(a.clients),
                        str(a.batch), str(R), run_id()], text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0 or not p.stdout.startswith("accepted "):
        sys.stderr.write(p.stderr)
        raise SystemExit("scale.py: the event sender failed")
    _, accepted, _, el = p.stdout.split()
    eps = int(accepted) / float(el)
    print(f"  (a) accepted: {int(accepted):,} station.state events in batches of {a.batch}, "
          f"{a.clients} clients, {float(el):.1f} s: {eps:,.0f} events/s", flush=True)
    put(a.results, a.pending, "accepted", f"{eps:.1f}")


# The polls below read the partial index of unapplied events, as callbackd's sessions do
# (db/pool.c): left to the planner, "is any event unapplied?" was a sequential scan expected to
# stop early that read the whole inbox, the applied events first (111 ms of the database's CPU
# at each poll of a measured run, 200,000 events stored).
INDEXED = "SET enable_seqscan = off; "


def backlog(url):
    return int(value(url, INDEXED + "SELECT count(*) FROM pbx_events WHERE applied_at IS NULL"))


def busy(url, commands=True):
    """Whether an event is still unapplied (or, with `commands`, a command pending): a probe of
    the partial indexes, not a count, since the measured runs poll it while callbackd works (a
    count of a 50,000-event backlog took 28 ms of the database's CPU at every poll)."""
    q = INDEXED + "SELECT EXISTS (SELECT 1 FROM pbx_events WHERE applied_at IS NULL)"
    if commands:
        q += " OR EXISTS (SELECT 1 FROM pending_commands)"
    return value(url, q) == "t"


def cmd_drain(a):
    """Waits (bounded) until every stored event is applied and every command delivered.
    Exit 3 when the time is up."""
    t0 = time.monotonic()
    while True:
        n = backlog(a.url)
        c = int(value(a.url, "SELECT count(*) FROM pending_commands"))
        if n == 0 and c == 0:
            print(f"  quiet after {time.monotonic() - t0:.1f} s (no unapplied event, no pending command)",
                  flush=True)
            return
        if time.monotonic() - t0 > a.timeout:
            print(f"  not quiet after {a.timeout:.0f} s: {n:,} events unapplied, {c:,} commands pending",
                  flush=True)
            sys.exit(3)
        time.sleep(0.25)


def cmd_apply(a):
    """(b) events applied/s: a backlog of `events` events (station.state idle/busy and
    station.hook off/on on the loaded targets, in rounds: idle -> the head of the queue matures
    and its requester is rung; hook off, hook on -> a hook cycle, matures no_answer callbacks;
    busy -> ringing stops, the callback returns to pending), posted in signed batches of 100 by
    4 clients (tests/bench/event_load.c `rounds`); then the worker's rate from pbx_events.applied_at. Exit 3 when the backlog is
    not applied within `timeout`."""
    _, T = layout(a.pending)
    targets = hot_targets(T, a.targets)
    H = len(targets)
    rid = run_id()
    total = a.events - a.events % 100
    first_seq = int(value(a.url, "SELECT coalesce(max(seq), 0) FROM pbx_events"))
    # Posted by tests/bench/event_load.c (`rounds`): in C, so that the poster does not take the
    # CPU of the worker it measures while both run.
    t0 = time.monotonic()
    p = subprocess.run([a.sender, "rounds", str(a.port), a.secret, str(total), "4", rid],
                       input="\n".join(targets) + "\n", text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0 or not p.stdout.startswith("posted "):
        sys.stderr.write(p.stderr)
        raise SystemExit("scale.py: the event sender failed")
    _, posted, _, t_post = p.stdout.split()
    sent, t_post = [int(posted)], float(t_post)
    drained = True
    while busy(a.url, commands=False):
        if time.monotonic() - t0 > a.timeout:
            drained = False
            break
        time.sleep(0.25)
    row = psql(a.url, f"""
        SELECT count(*), extract(epoch FROM max(applied_at) - min(applied_at)),
               extract(epoch FROM max(applied_at) - max(received_at)),
               extract(epoch FROM min(applied_at) - min(received_at))
        FROM pbx_events WHERE seq > {first_seq} AND id LIKE 'B{rid}-%' AND applied_at IS NOT NULL""")[0]
    n = int(row[0])
    span = float(row[1] or 0)
    rate = n / span if span > 0 else 0.0
    note = "" if drained else f" (partial: {n:,} of {total:,} applied in {a.timeout:.0f} s)"
    cmds = int(value(a.url, f"SELECT count(*) FROM commands WHERE seq > 0 AND created_at > now() - "
                            f"make_interval(secs => {time.monotonic() - t0 + 1:.0f})"))
    print(f"  (b) applied ({H:,} targets): {sum(sent):,} events posted in {t_post:.1f} s; the worker applied {n:,} "
          f"in {span:.1f} s (first applied_at to last): {rate:,.0f} events/s; {cmds:,} commands "
          f"written{note}", flush=True)
    put(a.results, a.pending, a.key, f"{rate:.1f}")
    if not drained:
        put(a.results, a.pending, a.key + "_note", f"partial {n} of {total}")
        sys.exit(3)


def cmd_latency(a):
    """(c) event -> command latency at `rate` events/s: station.state idle then busy on C loaded
    targets (busy, 50 queued callbacks each), a target's events stored in order. Each idle makes the first callback of the queue whose requester is free
    mature (pending -> notifying: a `ring` command to its requester); each busy stops it
    (notifying -> pending: `stop_ring`). An event is matched to its command through the
    callback's history (cause_ref = the event id) and the order of that callback's commands.
    Latency = the fake PBX receiving the command minus the client sending the event."""
    _, T = layout(a.pending)
    targets = hot_targets(T, HOT_TARGETS)
    C = len(targets)
    per_target = max(2, int(a.rate * a.seconds / C))
    per_target -= per_target % 2
    total = per_target * C
    # Event g: target g mod C, idle on even rounds, busy on odd ones, due at g / rate, sent by
    # tests/bench/event_load.c (K keep-alive connections taking events round-robin, each with
    # K / rate seconds per event, room for a slow 202; an event waits for the 202 of the
    # previous event of its target, so a target's events are stored in order).
    # With --stream: one connection, each webhook all the events fallen due since the last one
    # went, as soon as it is answered (event_load.c `stream`); an event's time is when it fell
    # due, so its wait in the PBX counts.
    K = 1 if a.stream else max(1, min(64, int(math.ceil(a.rate / 25.0))))
    rid = run_id()
    log_start = os.path.getsize(a.pbx_log)
    clients = K
    args = ["stream", str(a.port), a.secret, str(a.rate), str(total), rid] if a.stream else \
        [str(a.port), a.secret, str(a.rate), str(total), str(K), rid]
    wal = WalDisk(a.url)
    with MachineCpu() as cpu, Disturbances(a.url) as dist:
        p = subprocess.run([a.sender] + args + [",".join(targets)], text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit("scale.py: the event sender failed")
    sent = {}
    for line in p.stdout.splitlines():
        eid, at = line.split()
        sent[eid] = float(at)
    actual = len(sent) / max(1e-3, max(sent.values()) - min(sent.values()))
    # Wait (bounded) for the worker and the dispatcher to finish.
    deadline = time.monotonic() + a.timeout
    while busy(a.url) and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(0.3)
    t_end = time.time()
    wal.end()
    unapplied_ids = [r[0] for r in psql(a.url, f"SELECT id FROM pbx_events WHERE id LIKE 'L{rid}-%' "
                                                f"AND applied_at IS NULL")]
    unapplied = len(unapplied_ids)
    arrivals = {}  # callback_id -> [(seq, type, at)]
    with open(a.pbx_log) as f:
        f.seek(log_start)
        for line in f:
            parts = line.split()
            if len(parts) == 5 and parts[4] != "-" and parts[2] in ("ring", "stop_ring"):
                arrivals.setdefault(parts[4], []).append((int(parts[1]), parts[2], float(parts[0])))
    ids = list(arrivals) + [r[0] for r in psql(a.url, "SELECT id FROM callbacks WHERE target IN ("
                                                + ",".join(f"'{t}'" for t in targets) + ")")]
    ids = list(dict.fromkeys(ids))
    hist = []
    for k in range(0, len(ids), 2000):
        chunk = ",".join(f"'{x}'" for x in ids[k:k + 2000])
        hist += psql(a.url, f"""SELECT callback_id, coalesce(from_state, ''), to_state, cause_ref
            FROM callback_history WHERE callback_id IN ({chunk}) AND cause_kind = 'event'
              AND cause_ref LIKE 'L{rid}-%' ORDER BY id""")
    causes = {}  # callback_id -> {"ring": [event ids], "stop_ring": [...]}
    for cb, frm, to, ref in hist:
        kind = "ring" if to == "notifying" else "stop_ring" if frm == "notifying" else None
        if kind:
            causes.setdefault(cb, {"ring": [], "stop_ring": []})[kind].append(ref)
    # A transition whose command has not arrived by the end of the wait counts with the time
    # waited (a lower bound), so a dispatcher that falls behind shows in the p99.
    lat, censored = [], 0
    for cb, kinds in causes.items():
        cmds = sorted(arrivals.get(cb, []))
        for kind in ("ring", "stop_ring"):
            got = [at for _, t, at in cmds if t == kind]
            for k, ref in enumerate(kinds[kind]):
                if ref not in sent:
                    continue
                if k < len(got):
                    lat.append(got[k] - sent[ref])
                else:
                    lat.append(t_end - sent[ref])
                    censored += 1
    # An event still unapplied at the end of the wait: its command, if any, is later still.
    for eid in unapplied_ids:
        if eid in sent:
            lat.append(t_end - sent[eid])
            censored += 1
    if not lat:
        print(f"  (c) event -> command: no command matched ({len(sent):,} events sent)", flush=True)
        put(a.results, a.pending, f"{a.key}_p50", "nan")
        put(a.results, a.pending, f"{a.key}_p99", "nan")
        return
    p50, p99 = statistics.median(lat) * 1000, pct(lat, 99) * 1000
    wal_kib = wal.bytes / len(sent) / 1024  # WAL per event sent, its commands included
    n_trans = sum(len(v["ring"]) + len(v["stop_ring"]) for v in causes.values())
    n_ring = sum(1 for v in arrivals.values() for x in v if x[1] == "ring")
    print(f"  (c) event -> command at {actual:,.0f} events/s ({len(sent):,} events on {C} targets, "
          f"{'1 connection sending what fell due' if a.stream else f'{clients} clients'}): {n_trans:,} events made a callback ring or stop ringing, "
          f"{n_ring:,} ring + {sum(len(v) for v in arrivals.values()) - n_ring:,} stop_ring commands "
          f"received, {len(lat) - censored:,} matched; {unapplied:,} events still unapplied after the wait; "
          f"{censored:,} commands or unapplied events counted as the time waited; median {p50:.2f} ms, "
          f"p99 {p99:.2f} ms, max {max(lat) * 1000:.1f} ms; while sending, machine CPU "
          f"{cpu.busy:.0%} busy ({cpu.top()}), {cpu.ms_per(len(sent)):.2f} ms per event; "
          f"{wal.summary()}, {wal_kib:.1f} KiB per event "
          f"(with its commands, until they were acknowledged); {dist.summary()}", flush=True)
    put(a.results, a.pending, f"{a.key}_rate", f"{actual:.1f}")
    put(a.results, a.pending, f"{a.key}_wal_kib", f"{wal_kib:.2f}")
    put(a.results, a.pending, f"{a.key}_bursts", str(len(dist.bursts)))
    put(a.results, a.pending, f"{a.key}_autovacuum", str(sum(int(x) for x in dist.autovacuum)))
    put(a.results, a.pending, f"{a.key}_p50", f"{p50:.3f}")
    put(a.results, a.pending, f"{a.key}_p99", f"{p99:.3f}")
    put(a.results, a.pending, f"{a.key}_cpu_busy", f"{cpu.busy * 100:.1f}")
    put(a.results, a.pending, f"{a.key}_matched",
        f"{len(sent)} events sent, {n_trans} made a ring/stop_ring, {len(lat) - censored} commands "
        f"received in time; {unapplied} events unapplied after the wait; {censored} commands or "
        f"unapplied events counted as the time waited (a lower bound)")


def cmd_wait_ready(a):
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{a.port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"scale.py: callbackd not ready on port {a.port} after {a.timeout:.0f} s")


def cmd_free_port(_a):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# the table


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if v == int(v) and abs(v) < 100:
        return f"{int(v)}{unit}"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def cmd_report(a):
    res = {}
    for line in open(a.results):
        scale, key, val = line.rstrip("\n").split("\t")
        res.setdefault(int(scale), {})[key] = val
    scales = sorted(res)
    small = scales[0]

    def num(s, k):
        try:
            v = float(res[s][k])
            return None if math.isnan(v) else v
        except (KeyError, ValueError):
            return None

    # (label, key or function, unit, higher_is_better, target text, target check, flat?)
    def post_ratio(c, ref="pgbench"):
        return lambda s: (num(s, f"post_c{c}") / num(s, f"{ref}_c{c}")
                          if num(s, f"post_c{c}") is not None and num(s, f"{ref}_c{c}") else None)

    # What the reference leaves out (cmd_pgbench): shown, no target.
    def beside(c):
        return [
            (f"  pgbench, the same INSERT into callbacks c{c} (tps)", f"pgbench_callbacks_c{c}", "",
             True, "", None, "info"),
            (f"  pgbench, a POST's writes c{c} (tps)", f"pgbench_writes_c{c}", "", True, "", None,
             "info"),
            (f"  POST c{c} / pgbench, a POST's writes c{c}", post_ratio(c, "pgbench_writes"), "",
             True, "", None, False),
        ]

    rows = [
        ("pgbench INSERT..RETURNING c4 (tps)", "pgbench_c4", "", True, "reference", None, "info"),
        ("pgbench INSERT..RETURNING c16 (tps)", "pgbench_c16", "", True, "reference", None, "info"),
        ("POST /v1/callbacks c4 (req/s)", "post_c4", "", True, "", None, True),
        ("  POST c4 / pgbench c4", post_ratio(4), "", True, ">= 0.70", lambda v, s: v >= 0.70, False),
        ("  POST c4 latency p50 (ms)", "post_c4_p50", "", False, "", None, True),
        ("  POST c4 latency p99 (ms)", "post_c4_p99", "", False, "", None, True),
        ("  POST c4 answers not 201", "post_c4_errors", "", False, "0", lambda v, s: v == 0, False),
        ("  machine CPU per POST c4 (ms)", "post_c4_cpu_ms", "", False, "", None, False),
        ("  machine CPU per pgbench c4 tx (ms)", "pgbench_c4_cpu_ms", "", False, "", None, False),
    ] + beside(4) + [
        ("POST /v1/callbacks c16 (req/s)", "post_c16", "", True, "> c4",
         lambda v, s: num(s, "post_c4") is not None and v > num(s, "post_c4"), True),
        ("  POST c16 / pgbench c16", post_ratio(16), "", True, ">= 0.70", lambda v, s: v >= 0.70, False),
        ("  POST c16 latency p50 (ms)", "post_c16_p50", "", False, "", None, True),
        ("  POST c16 latency p99 (ms)", "post_c16_p99", "", False, "", None, True),
        ("  POST c16 answers not 201", "post_c16_errors", "", False, "0", lambda v, s: v == 0, False),
        ("  machine CPU per POST c16 (ms)", "post_c16_cpu_ms", "", False, "", None, False),
        ("  machine CPU per pgbench c16 tx (ms)", "pgbench_c16_cpu_ms", "", False, "", None, False),
    ] + beside(16) + [
        ("events accepted, batches of 100 (/s)", "accepted", "", True, ">= 20,000", lambda v, s: v >= 20000, True),
        ("events applied by the worker (/s)", "applied", "", True, ">= 10,000", lambda v, s: v >= 10000, True),
        ("  the same, spread over every target (/s)", "applied_spread", "", True, ">= 10,000",
         lambda v, s: v >= 10000, "info"),
        ("event -> command: events/s sent", "latency_rate", "", True, "~ --rate", None, False),
        ("event -> command p50 (ms)", "latency_p50", "", False, "", None, True),
        ("event -> command p99 (ms)", "latency_p99", "", False, "< 10", lambda v, s: v < 10, True),
        ("  machine CPU busy while sending (%)", "latency_cpu_busy", "", False, "", None, False),
        ("  WAL per event, its commands included (KiB)", "latency_wal_kib", "", False, "", None,
         False),
        ("  meanwhile: disk write-back bursts / autovacuum passes",
         lambda s: (num(s, "latency_bursts"), num(s, "latency_autovacuum")), "", False, "", None,
         False),
    ]
    # The same at lower rates (run.sh's sweep): how the p99 follows the machine's load.
    swept = sorted({int(k.split("_")[2]) for s in scales for k in res[s]
                    if k.startswith("latency_at_") and k.endswith("_p99")})
    for r in swept:
        rows += [
            (f"  at {r:,} events/s: p50 / p99 (ms)",
             lambda s, r=r: (num(s, f"latency_at_{r}_p50"), num(s, f"latency_at_{r}_p99")),
             "", False, "", None, False),
            (f"  at {r:,} events/s: machine CPU busy (%)", f"latency_at_{r}_cpu_busy", "", False,
             "", None, False),
        ]
    rows += [
        ("  PBX on 1 connection, webhooks of what fell due: p50 / p99 (ms)",
         lambda s: (num(s, "latency_stream_p50"), num(s, "latency_stream_p99")), "", False, "",
         None, False),
        ("  the same: machine CPU busy (%)", "latency_stream_cpu_busy", "", False, "", None, False),
        ("callbackd RSS, max (MiB)", "rss_mib", "", False, "< 32", lambda v, s: v < 32, True),
        ("load N+N rows (s, not a target)", "load_s", "", False, "", None, False),
    ]
    head = ["measure"] + [f"N={s:,}" for s in scales]
    if len(scales) > 1:
        head += [f"x{small:,}"]
    head += ["target"] + ([f"@{s:,}" for s in scales] if len(scales) > 1 else ["result"])
    if len(scales) > 1:
        head += ["flat 1.3x"]
    table = []
    all_flat = True
    for label, key, unit, higher, ttext, check, flat in rows:
        vals = [key(s) if callable(key) else num(s, key) for s in scales]
        if vals and isinstance(vals[0], tuple):  # a pair of figures, shown "a / b", nothing else
            table.append([label] + [" / ".join(fmt(x) for x in v) for v in vals] + [""] *
                         ((len(scales) > 1) + 1 + len(scales) + (len(scales) > 1)))
            continue
        line = [label] + [fmt(v, unit) for v in vals]
        if len(scales) > 1:
            a_, b_ = vals[0], vals[-1]
            line.append(f"{b_ / a_:.2f}" if a_ and b_ is not None else "-")
        line.append(ttext)
        for s, v in zip(scales, vals):
            line.append("-" if check is None else ("MISS" if v is None else ("PASS" if check(v, s) else "MISS")))
        if len(scales) > 1:
            if not flat:
                line.append("")
            else:
                a_, b_ = vals[0], vals[-1]
                if a_ is None or b_ is None or a_ == 0 or b_ == 0:
                    ok = False
                else:
                    ok = (a_ / b_ if higher else b_ / a_) <= 1.3
                if flat == "info":  # the reference: shown, not part of the verdict
                    line.append("(PASS)" if ok else "(MISS)")
                else:
                    all_flat &= ok
                    line.append("PASS" if ok else "MISS")
        table.append(line)
    if len(scales) > 1:
        line = ["flat: every measure at N within 1.3x of N=" + f"{small:,}"] + [""] * len(scales) + ["", "<= 1.3x"]
        line += [""] * len(scales) + ["PASS" if all_flat else "MISS"]
        table.append(line)
    widths = [max(len(r[i]) for r in [head] + table) for i in range(len(head))]
    sep = "+".join("-" * (w + 2) for w in widths)
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print(sep)
    for r in table:
        print(" | ".join((c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(r, widths))))
    notes = []
    for s in scales:
        for k, v in sorted(res[s].items()):
            if k.startswith("discarded_") and v != "0":
                notes.append(f"N={s:,}: {v} unapplied events of phase {k[10:]} discarded (bounded wait)")
            if k == "applied_note":
                notes.append(f"N={s:,}: events applied: {v} (bounded wait)")
            if k == "applied_spread_note":
                notes.append(f"N={s:,}: events applied, spread over every target: {v} (bounded wait)")
            if k == "latency_matched":
                notes.append(f"N={s:,}: event -> command: {v}")
    if notes:
        print()
        for n in notes:
            print("note: " + n)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)

    def p(name, *args):
        sp = sub.add_parser(name)
        for arg in args:
            if arg == "url":
                sp.add_argument("--url", required=True)
            elif arg == "results":
                sp.add_argument("--results", required=True)
            elif arg == "pending":
                sp.add_argument("--pending", type=int, required=True)
            elif arg == "port":
                sp.add_argument("--port", type=int, required=True)
            elif arg == "secret":
                sp.add_argument("--secret", required=True)
            elif arg == "seconds":
                sp.add_argument("--seconds", type=int, required=True)
            elif arg == "timeout":
                sp.add_argument("--timeout", type=float, required=True)
        return sp

    sp = p("load", "url", "results", "pending")
    sp.add_argument("--pool", type=int, required=True)
    sp.add_argument("--no-copy", action="store_true")
    sp.set_defaults(fn=cmd_load)
    p("cleanup", "url").set_defaults(fn=cmd_cleanup)
    sp = p("wal", "url")
    sp.add_argument("--workdir", required=True)
    sp.add_argument("--ahead", type=int, default=2048, help="MiB of segments ready ahead")
    sp.set_defaults(fn=cmd_wal)
    sp = p("discard", "url", "results")
    sp.add_argument("--scale", type=int, required=True)
    sp.add_argument("--phase", required=True)
    sp.set_defaults(fn=cmd_discard)
    sp = p("pgbench", "url", "results", "pending", "seconds")
    sp.add_argument("--workdir", required=True)
    sp.add_argument("--clients", type=int, nargs="+", default=[4, 16])
    sp.set_defaults(fn=cmd_pgbench)
    sp = p("wrk", "url", "results", "pending", "port", "seconds")
    sp.add_argument("--token", required=True)
    sp.add_argument("--pool", type=int, required=True)
    sp.add_argument("--conns", type=int, required=True)
    sp.set_defaults(fn=cmd_wrk)
    sp = p("accept", "url", "results", "pending", "port", "secret", "seconds")
    sp.add_argument("--clients", type=int, default=4)
    sp.add_argument("--batch", type=int, default=100)
    sp.add_argument("--sender", required=True, help="the bench_event_load binary")
    sp.set_defaults(fn=cmd_accept)
    p("drain", "url", "timeout").set_defaults(fn=cmd_drain)
    sp = p("apply", "url", "results", "pending", "port", "secret", "timeout")
    sp.add_argument("--events", type=int, required=True)
    sp.add_argument("--targets", default=str(HOT_TARGETS), help="how many loaded targets, or all")
    sp.add_argument("--key", default="applied", help="the results key")
    sp.add_argument("--sender", required=True, help="the bench_event_load binary")
    sp.set_defaults(fn=cmd_apply)
    sp = p("latency", "url", "results", "pending", "port", "secret", "seconds", "timeout")
    sp.add_argument("--rate", type=int, default=1000)
    sp.add_argument("--key", default="latency", help="the results keys' prefix")
    sp.add_argument("--stream", action="store_true",
                    help="one connection, each webhook what fell due since the last one")
    sp.add_argument("--pbx-log", required=True)
    sp.add_argument("--sender", required=True, help="the bench_event_load binary")
    sp.set_defaults(fn=cmd_latency)
    p("wait-ready", "port", "timeout").set_defaults(fn=cmd_wait_ready)
    p("free-port").set_defaults(fn=cmd_free_port)
    p("report", "results").set_defaults(fn=cmd_report)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
