"""Maturing (CB-11..CB-19): which PBX events make a callback ring its requester, and
the queue on one target."""

from callback_helpers import (api_ref, cb_env, originate, release_trunk,  # noqa: F401
                              reserve_trunk, ring, stop_ring, w)


def test_cb11_needs_requester_and_target_idle(w):
    a, b = w.stations(2)
    w.busy(a)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.idle(b)                       # target free, requester still busy
    w.expect([])
    assert w.state(cb) == "pending"
    ev = w.idle(a)
    w.expect([ring(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev)]


def test_cb12_busy_matures_when_target_idles(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    assert cb["reason"] == "busy"
    w.hook_cycle(b)                 # a hook cycle is not what a busy callback waits for
    w.expect([])
    ev = w.idle(b)
    w.expect([ring(cb)])
    got = w.get(cb)
    assert (got["state"], got["notify_line"]) == ("notifying", a)
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev)]


def test_cb13_no_answer_matures_after_a_hook_cycle_begun_after_the_set(w):
    a, b = w.stations(2)
    w.hook(b, "off")                # lifted before the set: not a cycle after it
    w.settle()
    cb = w.set(a, b)
    assert cb["reason"] == "no_answer"
    w.hook(b, "on")
    w.idle(b)                       # an idle report alone does not mature a no-answer callback
    w.expect([])
    assert w.state(cb) == "pending"
    off, on = w.hook_cycle(b)
    w.expect([ring(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", on)]


def test_cb13_hook_cycle_while_target_busy_waits_for_idle(w):
    a, b = w.stations(2)
    cb = w.set(a, b)                # idle target: no_answer
    w.send(w.ev("station.hook", station=b, hook="off"),
           w.ev("station.state", station=b, availability="busy"),
           w.ev("station.hook", station=b, hook="on"))
    w.expect([])
    ev = w.idle(b)
    w.expect([ring(cb)])
    assert w.history(cb)[-1] == ("pending", "notifying", "event", ev)


def test_cb14_blocking_feature_at_set_needs_release_then_hook_cycle(w):
    a, b = w.stations(2)
    w.feature(b, "dnd", True)
    w.settle()
    cb = w.set(a, b)
    assert (cb["reason"], cb["awaiting_release"]) == ("busy", True)
    w.idle(b)
    w.hook_cycle(b)                 # a cycle while DND is on does not count
    w.expect([])
    w.feature(b, "dnd", False)
    w.expect([])                    # released, but no hook cycle yet
    assert w.get(cb)["state"] == "pending"
    off, on = w.hook_cycle(b)
    w.expect([ring(cb)])
    got = w.get(cb)
    assert (got["state"], got["awaiting_release"]) == ("notifying", False)
    assert w.history(cb)[-1] == ("pending", "notifying", "event", on)


def test_cb14_blocking_feature_activated_while_pending_holds_the_callback(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    assert cb["awaiting_release"] is False
    w.feature(b, "make_busy", True)
    w.settle()
    assert w.get(cb)["awaiting_release"] is True
    w.idle(b)                       # would have matured a plain busy callback
    w.expect([])
    w.feature(b, "make_busy", False)
    w.idle(b)
    w.expect([])
    off, on = w.hook_cycle(b)
    w.expect([ring(cb)])
    assert w.history(cb)[-1] == ("pending", "notifying", "event", on)


def test_cb14_attendant_busy_out_on_a_console_target(w):
    a = w.station()
    con = w.station(kind="console", console_group="cg-" + a)
    w.feature(con, "attendant_busy_out", True)
    w.settle()
    cb = w.set(a, con)
    assert (cb["reason"], cb["awaiting_release"]) == ("busy", True)
    w.feature(con, "attendant_busy_out", False)
    w.expect([])
    w.hook_cycle(con)
    w.expect([ring(cb)])


def test_cb15_trunks_busy_reserves_the_freed_line_then_rings(w):
    a = w.station()
    g, (l1, l2) = w.trunk_group(2)
    w.trunk(g, l1, "busy")
    w.trunk(g, l2, "busy")
    w.busy(a)
    w.settle()
    cb = w.set(a, g + "5551234")
    assert (cb["target"], cb["external_number"], cb["reason"]) == (g, "5551234", "trunks_busy")
    w.trunk(g, l2, "idle")          # a free line, but the requester is busy
    w.expect([])
    ev = w.idle(a)
    w.expect([reserve_trunk(cb, g, l2), ring(cb)])
    got = w.get(cb)
    assert (got["state"], got["reserved_line"]) == ("notifying", l2)
    assert reserved_for(w, g) == {l1: None, l2: a}
    off = w.hook(a, "off")
    w.expect([reserve_trunk(cb, g, l2), ring(cb),
              originate(cb, to=g + "5551234", via_line=l2, external="5551234")])
    res = w.recall(cb, "answered")
    done = w.wait_state(cb, "completed")
    assert done["end_reason"] == "completed"
    # The line went to the recall call: no release_trunk.
    w.expect([reserve_trunk(cb, g, l2), ring(cb),
              originate(cb, to=g + "5551234", via_line=l2, external="5551234")])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "recalling", "event", off),
                             ("recalling", "completed", "event", res)]


def reserved_for(w, group):
    """Each line's `reserved_for` in GET /v1/trunk-groups/{n}: the station it is held for."""
    doc = w.svc.ok("GET", f"/v1/trunk-groups/{group}")
    return {line["line"]: line["reserved_for"] for line in doc["line_states"]}


def test_cb15_trunk_callback_without_external_number(w):
    """openapi.yaml: external_number is optional on a trunk group. Such a callback follows every rule
    of one with a number; the ring names the group and the recall seizes the reserved line with
    no number to dial (external_number null)."""
    a = w.station()
    g, (l1, l2) = w.trunk_group(2)
    w.trunk(g, l1, "busy")
    w.trunk(g, l2, "busy")
    w.settle()
    cb = w.set(a, g)
    assert (cb["target"], cb["target_type"], cb["external_number"], cb["reason"]) == \
        (g, "trunk_group", None, "trunks_busy")
    assert reserved_for(w, g) == {l1: None, l2: None}
    w.trunk(g, l2, "idle")
    w.expect([reserve_trunk(cb, g, l2), ring(cb)])
    assert w.commands()[1]["display"] == f"Callback {g}"
    assert reserved_for(w, g) == {l1: None, l2: a}
    w.hook(a, "off")
    w.expect([reserve_trunk(cb, g, l2), ring(cb),
              originate(cb, to=g, via_line=l2, external=None)])
    assert w.state(cb) == "recalling"
    w.recall(cb, "busy")                # CB-24: a trunk callback is not preserved
    done = w.wait_state(cb, "cancelled")
    assert done["end_reason"] == "recall_failed"
    w.expect([reserve_trunk(cb, g, l2), ring(cb),
              originate(cb, to=g, via_line=l2, external=None), release_trunk(cb, g, l2)])
    assert reserved_for(w, g) == {l1: None, l2: None}
    # CB-08 matches (requester, target) alone: a second one, with a number, supersedes it.
    w.trunk(g, l2, "busy")
    w.settle()
    first = w.set(a, g)
    second = w.set(a, g, external_number="5551234")
    assert second["supersedes"] == first["id"]
    assert w.get(first)["end_reason"] == "superseded"


def test_cb16_hunt_group_matures_when_a_member_idles(w):
    a, m1, m2 = w.stations(3)
    w.busy(m1)
    w.busy(m2)
    h = w.hunt_group([m1, m2])
    w.settle()
    cb = w.set(a, h)
    assert cb["reason"] == "hunt_group_busy"
    w.busy(a)
    w.idle(m2)                      # a member is free but the requester is busy
    w.expect([])
    ev = w.idle(a)
    w.expect([ring(cb)])
    off = w.hook(a, "off")
    w.expect([ring(cb), originate(cb, to=h)])
    assert w.history(cb)[1:] == [("pending", "notifying", "event", ev),
                                 ("notifying", "recalling", "event", off)]


def test_cb17_queue_first_set_first_served_busy_requester_keeps_its_place(w):
    t, r1, r2, r3 = w.stations(4)
    w.busy(t)
    w.busy(r1)
    w.settle()
    c1, c2, c3 = w.set(r1, t), w.set(r2, t), w.set(r3, t)
    w.idle(t)
    w.expect([ring(c2)])            # r1 is busy: skipped; only one rings at a time
    assert [w.state(c) for c in (c1, c2, c3)] == ["pending", "notifying", "pending"]
    _, rid = w.cancel(c2)
    w.expect([ring(c2), stop_ring(c2), ring(c3)])
    # The API call that freed the slot is the cause of the next ring.
    assert w.history(c3)[-1] == ("pending", "notifying", "api", rid)
    w.idle(r1)                      # r1 free again, but c3 is being served
    w.expect([ring(c2), stop_ring(c2), ring(c3)])
    w.cancel(c3)
    w.expect([ring(c2), stop_ring(c2), ring(c3), stop_ring(c3), ring(c1)])


def test_cb17_requester_rung_for_one_callback_at_a_time_oldest_first(w):
    a, b, c = w.stations(3)
    w.busy(a)
    w.busy(b)
    w.busy(c)
    w.settle()
    cb_b = w.set(a, b)
    cb_c = w.set(a, c)
    w.send(w.ev("station.state", station=c, availability="idle"),
           w.ev("station.state", station=b, availability="idle"))
    w.expect([])                    # the requester is busy
    w.idle(a)                       # both matured at once: its oldest first, the other waits
    w.expect([ring(cb_b)])
    assert w.state(cb_c) == "pending"
    w.hook(a, "off")
    w.send(w.ev("station.state", station=a, availability="busy"),
           w.ev("recall.result", callback_id=cb_b["id"], result="answered"))
    w.expect([ring(cb_b), originate(cb_b)])
    assert w.get(cb_b)["state"] == "completed"
    assert w.state(cb_c) == "pending"
    ev = w.idle(a)
    w.expect([ring(cb_b), originate(cb_b), ring(cb_c)])
    assert w.history(cb_c)[-1] == ("pending", "notifying", "event", ev)


def test_cb17_trunk_group_one_callback_per_free_line(w):
    r1, r2 = w.stations(2)
    g, (l1, l2) = w.trunk_group(2)
    w.trunk(g, l1, "busy")
    w.trunk(g, l2, "busy")
    w.settle()
    c1 = w.set(r1, g + "5550001")
    c2 = w.set(r2, g + "5550002")
    w.trunk(g, l1, "idle")
    w.expect([reserve_trunk(c1, g, l1), ring(c1)])
    assert w.state(c2) == "pending"
    w.trunk(g, l2, "idle")
    w.expect([reserve_trunk(c1, g, l1), ring(c1), reserve_trunk(c2, g, l2), ring(c2)])


def test_cb17_hunt_group_one_callback_per_idle_member(w):
    r1, r2, m1, m2 = w.stations(4)
    w.busy(m1)
    w.busy(m2)
    h = w.hunt_group([m1, m2])
    w.settle()
    c1, c2 = w.set(r1, h), w.set(r2, h)
    w.idle(m1)
    w.expect([ring(c1)])
    w.idle(m2)
    w.expect([ring(c1), ring(c2)])


def test_cb18_target_busy_again_while_ringing_returns_to_pending_in_place(w):
    t, r1, r2 = w.stations(3)
    w.busy(t)
    w.settle()
    c1, c2 = w.set(r1, t), w.set(r2, t)
    e1 = w.idle(t)
    w.expect([ring(c1)])
    e2 = w.busy(t)
    w.expect([ring(c1), stop_ring(c1)])
    assert [w.state(c) for c in (c1, c2)] == ["pending", "pending"]
    e3 = w.idle(t)
    w.expect([ring(c1), stop_ring(c1), ring(c1)])   # c1 kept its place before c2
    assert w.history(c1) == [(None, "pending", "api", api_ref(c1)),
                             ("pending", "notifying", "event", e1),
                             ("notifying", "pending", "event", e2),
                             ("pending", "notifying", "event", e3)]


def test_cb19_failed_over_target_does_not_mature(w):
    a = w.station()
    b = w.station(resilient=True)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.send(w.ev("station.failover", station=b, failed_over=True),
           w.ev("station.state", station=b, availability="idle"))
    w.expect([])
    ev = w.send(w.ev("station.failover", station=b, failed_over=False))[0]
    w.expect([ring(cb)])
    assert w.history(cb)[-1] == ("pending", "notifying", "event", ev)


def test_cb19_failed_over_requester_waits_until_it_fails_back(w):
    a = w.station(resilient=True)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.send(w.ev("station.failover", station=a, failed_over=True))
    w.idle(b)
    w.expect([])
    assert w.state(cb) == "pending"
    ev = w.send(w.ev("station.failover", station=a, failed_over=False))[0]
    w.expect([ring(cb)])
    assert w.history(cb)[-1] == ("pending", "notifying", "event", ev)


def test_cb19_target_failing_over_while_ringing_stops_the_ring(w):
    a = w.station()
    b = w.station(resilient=True)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.idle(b)
    w.expect([ring(cb)])
    ev = w.send(w.ev("station.failover", station=b, failed_over=True))[0]
    w.expect([ring(cb), stop_ring(cb)])
    assert w.history(cb)[-1] == ("notifying", "pending", "event", ev)
    back = w.send(w.ev("station.failover", station=b, failed_over=False))[0]
    w.expect([ring(cb), stop_ring(cb), ring(cb)])
    assert w.history(cb)[-1] == ("pending", "notifying", "event", back)


def test_cb18_hunt_group_ring_stops_only_when_no_member_is_free(w):
    a, m1, m2 = w.stations(3)
    w.busy(m1)
    w.busy(m2)
    h = w.hunt_group([m1, m2])
    w.settle()
    cb = w.set(a, h)
    w.idle(m1)
    w.expect([ring(cb)])
    w.idle(m2)
    w.busy(m1)                      # m2 is still free: keep ringing
    w.expect([ring(cb)])
    ev = w.busy(m2)
    w.expect([ring(cb), stop_ring(cb)])
    assert w.history(cb)[-1] == ("notifying", "pending", "event", ev)
