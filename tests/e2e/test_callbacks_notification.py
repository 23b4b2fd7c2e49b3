"""Notification and recall (CB-20..CB-24): the ring, the answer, the originate, and
what each recall outcome does to the callback."""

import re
import threading
import time

import pytest
import yaml

from harness import REPO

from callback_helpers import (api_ref, cb_env, originate, release_trunk,  # noqa: F401
                              reserve_trunk, ring, stop_ring, w)


def ringing(w, **station_kw):
    """A (requester) rung for a callback on B (busy target that idled); returns (a, b, cb, ev)."""
    a = w.station(**station_kw)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    ev = w.idle(b)
    w.expect([ring(cb, line=w.prime[a])])
    return a, b, cb, ev


def test_cb20_ring_on_the_prime_line_whatever_line_the_callback_was_set_from(w):
    a = w.station(prime_line="5" + str(next(w.env.numbers)))   # a prime line of its own
    prime = w.prime[a]
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(a, b, origin_line=a + "7")
    assert (cb["origin_line"], cb["notify_line"]) == (a + "7", prime)
    w.idle(b)
    w.expect([ring(cb, station=a, line=prime)])
    w.hook(a, "off")
    w.expect([ring(cb, station=a, line=prime), originate(cb, from_station=a, from_line=prime)])


def test_cb20_openapi_examples_show_the_ring_and_originate_the_server_sends(w):
    """openapi.yaml's command examples are what the server sends: the ring's `display` is
    "Callback <number dialed>" and the trunk recall's `to` is the number dialed."""
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.idle(b)
    (sent,) = w.expect([ring(cb)])
    form = re.compile(r"^Callback [0-9*#]{1,64}$")
    assert sent["display"] == f"Callback {b}" and form.match(sent["display"])
    spec = yaml.safe_load((REPO / "openapi.yaml").read_text())
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "ring" and "display" in node:
                found.append(("ring", node))
            if node.get("type") == "originate" and "to" in node:
                found.append(("originate", node))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(spec)
    assert {kind for kind, _ in found} == {"ring", "originate"}, found
    for kind, ex in found:
        if kind == "ring":
            assert form.match(ex["display"]), ex
        elif ex.get("external_number"):
            assert ex["to"].endswith(ex["external_number"]) and ex["to"] != \
                ex["external_number"], ex


def test_cb21_ring_bypasses_the_requester_call_forwarding(w):
    a, b, c = w.stations(3)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.send(w.ev("station.forward", station=a, forward_to=c))
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["state"]["forward_to"] == c
    w.idle(b)
    cmds = w.expect([ring(cb)])
    assert cmds[0]["station"] == a and cmds[0]["bypass_forwarding"] is True


def test_cb22_lifting_the_handset_answers_and_originates(w):
    a, b, cb, ev = ringing(w)
    w.hook(b, "off")                # the target's handset is not the answer
    w.expect([ring(cb)])
    assert w.state(cb) == "notifying"
    off = w.hook(a, "off")
    w.expect([ring(cb), originate(cb)])
    assert w.state(cb) == "recalling"
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "recalling", "event", off)]


def test_cb23_no_answer_within_notification_timeout_cancels_no_response(w):
    w.set_options(notification_timeout_s=1)
    a, b, cb, ev = ringing(w)
    got = w.wait_state(cb, "cancelled", timeout=5)
    assert got["end_reason"] == "no_response" and got["ended_at"] is not None
    w.expect([ring(cb), stop_ring(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "cancelled", "timer", "notify_timeout")]
    w.hook(a, "off")                # too late: nothing is originated
    w.expect([ring(cb), stop_ring(cb)])


def test_cb23_cb52_the_notification_timeout_fires_on_time_while_events_keep_coming(w):
    """While events keep the worker busy it looks at its timers every 100 ms rather than after
    every group (service/worker.c): a timer still fires within a second of its time."""
    w.set_options(notification_timeout_s=1)
    other = w.station()
    a, b, cb, ev = ringing(w)
    rung = time.monotonic()
    stop = threading.Event()

    def keep_busy():
        k = 0
        while not stop.is_set():
            (w.busy if k % 2 == 0 else w.idle)(other)
            k += 1
            time.sleep(0.01)

    t = threading.Thread(target=keep_busy)
    t.start()
    try:
        got = w.wait_state(cb, "cancelled", timeout=4)
        took = time.monotonic() - rung
    finally:
        stop.set()
        t.join()
    assert got["end_reason"] == "no_response"
    assert took < 2.5, f"due 1 s after the ring, fired {took:.2f} s after it"


def test_cb24_recall_answered_completes(w):
    a, b, cb, ev = ringing(w)
    off = w.hook(a, "off")
    res = w.recall(cb, "answered")
    got = w.wait_state(cb, "completed")
    assert got["end_reason"] == "completed" and got["ended_at"] is not None
    w.expect([ring(cb), originate(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "recalling", "event", off),
                             ("recalling", "completed", "event", res)]
    assert w.active(a) == []


def test_cb24_recall_busy_preserves_with_expiry_then_matures_on_idle(w):
    a, b, cb, ev = ringing(w)
    off = w.hook(a, "off")
    w.busy(b)
    res = w.recall(cb, "busy")
    got = w.wait_state(cb, "pending")
    assert (got["reason"], got["expires_at"], got["ended_at"]) == ("busy", cb["expires_at"], None)
    w.hook(a, "on")
    w.hook_cycle(b)                 # busy: a hook cycle is not what it waits for
    w.expect([ring(cb), originate(cb)])
    ev2 = w.idle(b)
    w.expect([ring(cb), originate(cb), ring(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "recalling", "event", off),
                             ("recalling", "pending", "event", res),
                             ("pending", "notifying", "event", ev2)]


@pytest.mark.parametrize("result", ["no_answer", "failed"])
def test_cb24_recall_no_answer_or_failed_preserves_then_needs_a_hook_cycle(w, result):
    a, b, cb, ev = ringing(w)
    w.hook(a, "off")
    res = w.recall(cb, result)
    got = w.wait_state(cb, "pending")
    assert (got["reason"], got["expires_at"]) == ("no_answer", cb["expires_at"])
    w.hook(a, "on")
    w.busy(b)
    w.idle(b)                       # an idle report alone is not enough after no answer
    w.expect([ring(cb), originate(cb)])
    off, on = w.hook_cycle(b)
    w.expect([ring(cb), originate(cb), ring(cb)])
    assert w.history(cb)[-2:] == [("recalling", "pending", "event", res),
                                  ("pending", "notifying", "event", on)]


def test_cb24_no_recall_result_within_recall_timeout_counts_as_no_answer(w):
    w.set_options(recall_timeout_s=1)
    a, b, cb, ev = ringing(w)
    off = w.hook(a, "off")
    got = w.wait_state(cb, "pending", timeout=5)
    assert (got["reason"], got["expires_at"]) == ("no_answer", cb["expires_at"])
    assert w.history(cb)[-2:] == [("notifying", "recalling", "event", off),
                                  ("recalling", "pending", "timer", "recall_timeout")]
    w.hook(a, "on")
    w.idle(b)
    w.expect([ring(cb), originate(cb)])
    w.hook_cycle(b)
    w.expect([ring(cb), originate(cb), ring(cb)])


def test_cb24_trunk_recall_failure_cancels_recall_failed_and_releases_the_line(w):
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    w.trunk(g, l1, "idle")
    w.hook(a, "off")
    orig = originate(cb, to=g + "5551234", via_line=l1, external="5551234")
    w.expect([reserve_trunk(cb, g, l1), ring(cb), orig])
    res = w.recall(cb, "busy")
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "recall_failed" and got["reserved_line"] is None
    w.expect([reserve_trunk(cb, g, l1), ring(cb), orig, release_trunk(cb, g, l1)])
    assert w.history(cb)[-1] == ("recalling", "cancelled", "event", res)


def test_cb24_hunt_group_recall_no_answer_keeps_its_reason(w):
    a, m1 = w.stations(2)
    w.busy(m1)
    h = w.hunt_group([m1])
    w.settle()
    cb = w.set(a, h)
    w.idle(m1)
    w.hook(a, "off")
    w.recall(cb, "no_answer")
    got = w.wait_state(cb, "pending")
    assert (got["reason"], got["target_type"]) == ("hunt_group_busy", "hunt_group")
    w.hook(a, "on")
    w.expect([ring(cb), originate(cb, to=h)])
    w.hook_cycle(m1)                # after no answer: a member's hook cycle
    w.expect([ring(cb), originate(cb, to=h), ring(cb)])


def test_cb15_trunk_callback_ending_without_a_recall_releases_its_line(w):
    w.set_options(notification_timeout_s=1)
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    w.trunk(g, l1, "idle")
    got = w.wait_state(cb, "cancelled", timeout=5)
    assert (got["end_reason"], got["reserved_line"]) == ("no_response", None)
    w.expect([reserve_trunk(cb, g, l1), ring(cb), stop_ring(cb), release_trunk(cb, g, l1)])


@pytest.mark.parametrize("result", ["no_answer", "failed"])
def test_cb24_trunk_recall_no_answer_or_failed_is_recall_failed_too(w, result):
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    w.trunk(g, l1, "idle")
    w.hook(a, "off")
    w.recall(cb, result)
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "recall_failed"
    w.expect([reserve_trunk(cb, g, l1), ring(cb),
              originate(cb, to=g + "5551234", via_line=l1, external="5551234"),
              release_trunk(cb, g, l1)])


def test_cb14_blocking_feature_during_the_recall_holds_the_preserved_callback(w):
    a, b, cb, ev = ringing(w)
    w.hook(a, "off")
    w.feature(b, "dnd", True)       # does not stop the recall in progress
    w.settle()
    assert w.state(cb) == "recalling"
    w.recall(cb, "no_answer")
    got = w.wait_state(cb, "pending")
    assert got["awaiting_release"] is True
    w.hook(a, "on")
    w.hook_cycle(b)                 # DND still on: the cycle does not count
    w.feature(b, "dnd", False)
    w.expect([ring(cb), originate(cb)])
    off, on = w.hook_cycle(b)
    w.expect([ring(cb), originate(cb), ring(cb)])
    assert w.history(cb)[-1] == ("pending", "notifying", "event", on)


def test_cb23_no_response_serves_the_next_requester_in_the_queue(w):
    w.set_options(notification_timeout_s=1)
    t, r1, r2 = w.stations(3)
    w.busy(t)
    w.settle()
    c1, c2 = w.set(r1, t), w.set(r2, t)
    w.idle(t)
    w.wait_state(c1, "cancelled", timeout=5)
    w.expect([ring(c1), stop_ring(c1), ring(c2)])
    assert w.history(c2)[-1] == ("pending", "notifying", "timer", "notify_timeout")
