"""A decision reads what its parties own, never the callbacks of others (issue 8): each probe
that loads a decision's world (db/world.c, PROBE) can be answered by one index only, so no plan
(decisions keep generic plans per connection, made on whatever statistics held then) reads an
index whole (migrations 005 and 006). Checked on the migrated schema of a real database: with
the probe's own index present the plan probes it; without it, no other partial index of the
table is a plan for it (a partial index whose predicate a probe implies can always be read whole,
and is as cheap as the probe while it is nearly empty).

At 1,000,000 callbacks a plan made while no callback was engaged answered "engaged callbacks
ringing station X" by reading a whole second index with the same predicate: 3.4 s per group of
200 events instead of 0.1 s (migration 005)."""

import re
import subprocess

import pytest

from callback_helpers import Env

ENGAGED = "state IN ('notifying', 'recalling')"

# The probes of db/world.c (their WHERE clauses, with the set member as $1) and of the command
# dispatcher (db/outbox.c, "an earlier command of this order key pending?", asked of the queue of
# pending commands: migration 018), each with the index it must use.
PROBES = [
    ("callbacks", "requester = $1 AND ended_at IS NULL", "text", "callbacks_active_by_requester"),
    ("callbacks", "target = $1 AND ended_at IS NULL", "text", "callbacks_active_by_target"),
    ("callbacks", f"notify_station = $1 AND ended_at IS NULL AND {ENGAGED}", "text",
     "callbacks_active_by_notify_station"),
    ("callbacks", "id = $1 AND ended_at IS NULL", "uuid", "callbacks_pkey"),
    ("pending_commands", "order_key = $1 AND seq < $2", "text, bigint",
     "pending_commands_by_order_key"),
]


@pytest.fixture(scope="module")
def env(pg):
    env = Env(pg)
    yield env
    env.close()


def psql(env, sql):
    return subprocess.run([env.pg.psql, env.pg.db_url(env.dbname), "-X", "-q", "-A", "-t",
                           "-c", sql], capture_output=True, text=True, check=True).stdout


def plan(env, table, where, argtypes, drop=None):
    """The generic plan of the probe, as callbackd runs it; `drop`: without that index (the
    transaction is rolled back)."""
    nulls = ", ".join("NULL" for _ in argtypes.split(","))
    sql = "\n".join([
        "BEGIN;",
        (f"ALTER TABLE {table} DROP CONSTRAINT {drop} CASCADE;" if drop.endswith("_pkey")
         else f"DROP INDEX {drop};") if drop else "",
        "SET LOCAL plan_cache_mode = force_generic_plan;",
        "SET LOCAL enable_seqscan = off;",  # as callbackd's sessions (db/pool.c)
        f"PREPARE p({argtypes}) AS SELECT * FROM {table} WHERE {where};",
        f"EXPLAIN (COSTS OFF) EXECUTE p({nulls});",
        "ROLLBACK;"])
    out = subprocess.run([env.pg.psql, env.pg.db_url(env.dbname), "-X", "-q", "-A", "-t",
                          "-v", "ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True,
                         check=True).stdout
    return out


@pytest.mark.parametrize("table,where,argtypes,index", PROBES, ids=[p[3] for p in PROBES])
def test_each_probe_is_answered_by_its_own_index_and_no_other(env, table, where, argtypes, index):
    with_it = plan(env, table, where, argtypes)
    assert f"Scan using {index} on {table}" in with_it or \
        f"Bitmap Index Scan on {index}\n" in with_it, f"the probe does not use {index}:\n{with_it}"
    without = plan(env, table, where, argtypes, drop=index)
    partial = [n for n in psql(env, "SELECT indexname FROM pg_indexes WHERE tablename = "
                                    f"'{table}' AND indexdef LIKE '% WHERE %'").split()
               if n != index]
    used = [n for n in partial if f" {n} " in f" {without} "]
    assert not used, \
        f"partial index {used} of {table} (its predicate implied) is a plan for `{where}`:\n{without}"


def names_in_indexes(env, table):
    """Each index of `table`: its name, and every name its keys, expressions and predicate
    hold. A column an index names keeps an update that changes it from being made in place."""
    rows = psql(env, f"""
        SELECT i.indexrelid::regclass,
               (SELECT string_agg(a.attname, ' ') FROM pg_attribute a
                WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)),
               coalesce(pg_get_expr(i.indexprs, i.indrelid), '') || ' ' ||
               coalesce(pg_get_expr(i.indpred, i.indrelid), '')
        FROM pg_index i WHERE i.indrelid = '{table}'::regclass""").splitlines()
    out = []
    for row in rows:
        name, keys, exprs = row.split("|")
        out.append((name, set(keys.split()) | set(re.findall(r"[a-z_]+", exprs))))
    return out


# What a ring or its end writes to a callback (db/world.c, save_callbacks_update), but its state's
# list_state, which folds pending and notifying into one value, and its notify_station, which is
# its requester or console from its creation on (CB-20, CB-31).
RING_COLUMNS = {"state", "notify_line", "reserved_line", "awaiting_release", "hook_cycle_needed",
                "hook_off_seen", "idle_report_needed", "lamp_lit", "updated_at", "expires_at"}


def test_a_ring_and_its_end_write_no_index_of_callbacks(env):
    """A target that frees up rings its waiting callback, and the ring ends unanswered: the
    callback goes pending, notifying, pending, again and again. No index of callbacks names a
    column that this cycle changes (keys, expressions or predicate), so PostgreSQL updates the
    row in place (HOT) instead of writing an entry in each index (migration 023)."""
    indexes = names_in_indexes(env, "callbacks")
    assert len(indexes) >= 8, indexes
    for name, named in indexes:
        assert not named & RING_COLUMNS, f"index {name} names {named & RING_COLUMNS}"
    # list_state folds the cycle's states into one.
    assert psql(env, "SELECT count(DISTINCT callbackd_list_state(s)) FROM "
                     "unnest(ARRAY['pending', 'notifying']) s").strip() == "1"


# What recording a command's outcome writes (db/outbox.c: delivered, not acknowledged, failed).
DELIVERY_COLUMNS = {"status", "attempts", "delivered_at", "last_error", "next_attempt_at"}


def test_recording_a_delivery_writes_no_index_of_the_command_history(env):
    """`commands` keeps every command ever sent; the pending ones are queued apart
    (pending_commands, migration 018). No index of the history names a column that a delivery
    changes, in its keys or its predicate: the dispatcher's reads are bounded by what is pending,
    and nothing forces the history's vacuum to run more often as it grows."""
    indexes = names_in_indexes(env, "commands")
    assert indexes, "commands has no index at all?"
    for name, named in indexes:
        assert not named & DELIVERY_COLUMNS, f"index {name} names {named & DELIVERY_COLUMNS}"
    options = psql(env, "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class "
                        "WHERE oid = 'commands'::regclass").strip()
    assert "autovacuum_vacuum_threshold" not in options, options


def test_the_notifying_callbacks_are_kept_apart_for_every_writer(env):
    """callbacks_notifying holds the ids of the callbacks whose state is notifying, whoever
    writes them (a trigger: migration 023); lists of notifying callbacks read it."""
    cb = "0190f0f0-0000-7000-8000-00000000c0de"

    def notifying():
        return psql(env, "SELECT coalesce(string_agg(id::text, ' '), '') "
                         "FROM callbacks_notifying").split()

    psql(env, f"""INSERT INTO callbacks (id, requester, target, target_type, reason, mode, state,
        origin_line, notify_line, notify_station, created_at, updated_at)
        VALUES ('{cb}', '1001', '1002', 'station', 'busy', 'callback', 'notifying', '1001',
                '1001', '1001', now(), now())""")
    assert notifying() == [cb]
    for state, expected in (("pending", []), ("notifying", [cb]), ("notifying", [cb]),
                            ("recalling", []), ("notifying", [cb])):
        psql(env, f"UPDATE callbacks SET state = '{state}' WHERE id = '{cb}'")
        assert notifying() == expected, state
    psql(env, f"DELETE FROM callbacks WHERE id = '{cb}'")
    assert notifying() == []


def test_the_command_totals_follow_every_writer(env):
    """/metrics counts delivered and failed commands from their running totals (migration 024),
    not from `commands`, which keeps every command ever sent. A trigger keeps the totals in the
    writer's statement, whoever writes: here, by hand, an insert, a change of status and a
    delete, each compared with a count of the whole table."""
    def totals():
        return psql(env, "SELECT string_agg(status || '=' || n, ' ' ORDER BY status) "
                         "FROM command_totals").strip()

    def counted():
        return psql(env, "SELECT string_agg(s || '=' || (SELECT count(*) FROM commands "
                         "WHERE status = s), ' ' ORDER BY s) "
                         "FROM unnest(ARRAY['delivered', 'failed']) AS s").strip()

    before = totals()
    assert before == counted()
    ids = ["0190f0f0-0000-7000-8000-00000000c0d%d" % i for i in range(3)]
    psql(env, "INSERT INTO commands (id, type, order_key, body, status) VALUES " + ", ".join(
        f"('{i}', 'ring', 'by-hand', '{{}}', '{s}')"
        for i, s in zip(ids, ("delivered", "delivered", "failed"))))
    assert totals() == counted() != before
    psql(env, f"UPDATE commands SET status = 'failed' WHERE id = '{ids[0]}'")
    assert totals() == counted()
    psql(env, "DELETE FROM commands WHERE order_key = 'by-hand'")
    assert totals() == counted() == before


def test_analyze_leaves_out_the_payloads(env):
    """No statement filters, joins or sorts on a jsonb document (a PBX event's body, a command's
    body, a stream change's data: read back whole, by key), so ANALYZE keeps no statistics of
    them (migration 030): computing them detoasted every sampled document, a third of the CPU of
    analyzing those tables, once a minute under load. Any jsonb column of callbackd's tables,
    a later one too, must say so."""
    payloads = psql(env, """
        SELECT a.attrelid::regclass || '.' || a.attname || '=' || a.attstattarget
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND a.atttypid = 'jsonb'::regtype AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1""").split()
    assert {"pbx_events.body=0", "commands.body=0", "stream_changes.data=0"} <= set(payloads)
    assert all(p.endswith("=0") for p in payloads), payloads
    cmd = "0190f0f0-0000-7000-8000-00000000c0e0"
    psql(env, "INSERT INTO commands (id, type, order_key, body, status) VALUES "
              f"('{cmd}', 'ring', 'analyzed', '{{\"station\": \"1001\"}}', 'failed')")
    try:
        psql(env, "ANALYZE commands")
        assert psql(env, "SELECT string_agg(attname, ' ' ORDER BY attname) FROM pg_stats "
                         "WHERE tablename = 'commands' AND attname IN ('body', 'order_key')"
                    ).strip() == "order_key"
    finally:
        psql(env, f"DELETE FROM commands WHERE id = '{cmd}'")
