"""Concurrent sets share transactions (group commit) and each still gets its own answer, exactly
as if it had been set alone (CB-01..CB-09)."""

import contextlib
import threading

import pytest

from callback_helpers import Env, metric, w  # noqa: F401
from harness import wait_for


@pytest.fixture(scope="module")
def cb_env(pg):
    """The module's service, with more HTTP threads than the sets these tests post at once: a
    set waiting for its group holds its thread, and GET /metrics must still be answered."""
    env = Env(pg, env={"CALLBACKD_HTTP_THREADS": "32"})
    yield env
    env.close()


def post_all(w, bodies):
    """POSTs every body at once from its own thread; returns [(status, doc, headers)] in order."""
    out = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def one(i):
        start.wait()
        out[i] = w.api("POST", "/v1/callbacks", bodies[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@contextlib.contextmanager
def numbers_locked(w, numbers):
    """Holds, from a session of its own, the advisory locks a decision on `numbers` takes before
    it decides (db/world_pool.c, world_lock_numbers), so that the sets posted meanwhile wait in
    callbackd, not in the client: what group commit does with them no longer depends on the machine's speed."""
    env = w.env
    hold = "".join(f"SELECT pg_advisory_lock(25442, hashtext('{n}'));\n" for n in numbers)
    with env.pg.holding(env.pg.db_url(env.dbname), hold, "SELECT pg_advisory_unlock_all();"):
        yield


def sets_in_flight(w):
    return metric(w.svc.call("GET", "/metrics", token=None)[1], "callbackd_api_sets_in_flight")


def counters(w):
    text = w.svc.call("GET", "/metrics", token=None)[1]
    return (metric(text, "callbackd_api_sets_total", ""),
            metric(text, "callbackd_api_set_transactions_total", ""))


def test_cb01_concurrent_sets_are_grouped_and_each_answered_on_its_own(w):
    targets = w.stations(4)
    for t in targets:
        w.busy(t)
    requesters = w.stations(24)
    w.settle()
    sets_before, tx_before = counters(w)
    bodies = [{"requester": r, "target": targets[i % 4]} for i, r in enumerate(requesters)]
    answers = []
    with numbers_locked(w, targets):
        poster = threading.Thread(target=lambda: answers.extend(post_all(w, bodies)))
        poster.start()
        # No set can be answered while the targets are locked. Once six are in callbackd, at
        # most two batches hold them (two run at once), so some batch holds two, or two are
        # queued and the next batch takes them.
        wait_for(lambda: sets_in_flight(w) >= 6, 20, msg="six sets waiting in callbackd")
    poster.join()
    for body, (st, doc, h) in zip(bodies, answers):
        assert st == 201, (body, st, doc)
        assert (doc["requester"], doc["target"], doc["state"]) == \
            (body["requester"], body["target"], "pending")
        assert h["Location"] == f"/v1/callbacks/{doc['id']}"
        # Its own request is the cause in its own history.
        w.callbacks[doc["id"]] = doc
        assert w.history(doc) == [(None, "pending", "api", h["X-Request-Id"])]
    assert len({doc["id"] for _, doc, _ in answers}) == 24
    sets_after, tx_after = counters(w)
    assert sets_after - sets_before == 24
    # While the first batches waited, the other sets queued and were applied together.
    assert tx_after - tx_before < 24, (tx_before, tx_after)
    # CB-17: queue order on each target is the order of the answers' creation.
    for t in targets:
        items = w.svc.ok("GET", f"/v1/callbacks?target={t}&state=active&limit=50")["items"]
        assert len(items) == 6


def test_cb09_a_refused_set_in_a_group_writes_nothing_and_spares_the_others(w):
    w.set_options(max_per_target=3)
    target = w.station()
    w.busy(target)
    requesters = w.stations(8)
    w.settle()
    bodies = [{"requester": r, "target": target} for r in requesters]
    bodies.append({"requester": requesters[0], "target": "9999999"})  # CB-02: unknown number
    answers = post_all(w, bodies)
    created = [doc for st, doc, _ in answers if st == 201]
    refused = [(st, doc["code"]) for st, doc, _ in answers if st != 201]
    assert len(created) == 3, answers
    assert sorted(refused) == sorted([(409, "limit_reached")] * 5 + [(422, "unknown_number")]), \
        refused
    items = w.svc.ok("GET", f"/v1/callbacks?target={target}&limit=50")["items"]
    assert sorted(i["id"] for i in items) == sorted(d["id"] for d in created)


def test_cb08_the_same_pair_twice_at_once_leaves_one_active(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    answers = post_all(w, [{"requester": a, "target": b}] * 6)
    assert all(st == 201 for st, _, _ in answers), answers
    active = w.active(a)
    assert len(active) == 1
    ended = [w.get(doc["id"]) for _, doc, _ in answers if doc["id"] != active[0]["id"]]
    assert all(d["end_reason"] == "superseded" for d in ended), ended
    # Each supersedes the one set just before it: a chain through all six.
    assert sum(1 for _, doc, _ in answers if doc["supersedes"] is None) == 1


def test_cb17_a_set_on_a_busy_target_waits_on_none_of_the_requesters_queued_there(w):
    """A set changes no station. On a busy target nothing can mature (CB-11), so the callbacks
    queued there are only counted (CB-09): their requesters are neither read nor locked, and a
    decision holding one of them (here a session holding its lock) does not hold the set up. On
    an idle target the queue may be served (CB-17), so there the set waits for that lock."""
    busy_target, idle_target, waiting, a, b = w.stations(5)
    w.busy(busy_target)
    w.settle()
    for t in (busy_target, idle_target):
        st, doc, _ = w.api("POST", "/v1/callbacks", {"requester": waiting, "target": t})
        assert st == 201, doc
    answers = {}

    def post(key, target, requester):
        answers[key] = w.api("POST", "/v1/callbacks", {"requester": requester, "target": target})

    threads = [threading.Thread(target=post, args=("busy", busy_target, a)),
               threading.Thread(target=post, args=("idle", idle_target, b))]
    with numbers_locked(w, [waiting]):
        for t in threads:
            t.start()
        wait_for(lambda: "busy" in answers, 20, msg="the set on the busy target answered")
        wait_for(lambda: sets_in_flight(w) >= 1, 20, msg="the set on the idle target in callbackd")
        assert "idle" not in answers, answers["idle"]
    for t in threads:
        t.join()
    assert answers["busy"][0] == 201 and answers["busy"][1]["reason"] == "busy", answers["busy"]
    assert answers["idle"][0] == 201 and answers["idle"][1]["reason"] == "no_answer", \
        answers["idle"]
