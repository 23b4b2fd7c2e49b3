"""A decision reads what its parties own, never the callbacks of others (issue 8): each probe
that loads a decision's world (db/world.c, PROBE) can be answered by one index only, so no plan
(decisions keep generic plans per connection, made on whatever statistics held then) reads an
index whole. Checked on the migrated schema of a real database: with the probe's own index
present the plan probes it; without it, no other index of `callbacks` is a plan for it but
another probe (an index whose keys the condition names).

At 1,000,000 callbacks a plan made while no callback was engaged answered "engaged callbacks
ringing station X" by reading a whole second index with the same predicate: 3.4 s per group of
200 events instead of 0.1 s (migration 005)."""

import subprocess

import pytest

from callback_helpers import Env

ENGAGED = "state IN ('notifying', 'recalling')"

# The probes of db/world.c (their WHERE clauses, with the set member as $1) and the index each
# must use.
PROBES = [
    ("requester = $1 AND ended_at IS NULL", "text", "callbacks_active_by_requester"),
    ("target = $1 AND ended_at IS NULL", "text", "callbacks_active_by_target"),
    (f"notify_station = $1 AND ended_at IS NULL AND {ENGAGED}", "text",
     "callbacks_engaged_by_notify_station"),
    ("id = $1 AND ended_at IS NULL", "uuid", "callbacks_pkey"),
]


@pytest.fixture(scope="module")
def env(pg):
    env = Env(pg)
    yield env
    env.close()


def plan(env, where, argtype, drop=None):
    """The generic plan of the probe, as a decision runs it; `drop`: without that index (the
    transaction is rolled back)."""
    sql = "\n".join([
        "BEGIN;",
        ("ALTER TABLE callbacks DROP CONSTRAINT callbacks_pkey CASCADE;" if drop == "callbacks_pkey"
         else f"DROP INDEX {drop};") if drop else "",
        "SET LOCAL plan_cache_mode = force_generic_plan;",
        "SET LOCAL enable_seqscan = off;",  # as callbackd's sessions (db/pool.c)
        f"PREPARE p({argtype}) AS SELECT * FROM callbacks WHERE {where};",
        "EXPLAIN (COSTS OFF) EXECUTE p(NULL);",
        "ROLLBACK;"])
    out = subprocess.run([env.pg.psql, env.pg.db_url(env.dbname), "-X", "-q", "-A", "-t",
                          "-v", "ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True,
                         check=True).stdout
    return out


@pytest.mark.parametrize("where,argtype,index", PROBES, ids=[p[2] for p in PROBES])
def test_each_probe_is_answered_by_its_own_index_and_no_other(env, where, argtype, index):
    assert f"Index Scan using {index} on callbacks" in plan(env, where, argtype), \
        f"the probe does not use {index}"
    without = plan(env, where, argtype, drop=index)
    assert "Index" not in without or "Index Cond" in without, \
        f"an index of callbacks read whole is a plan for `{where}`:\n{without}"
