"""Cancelling (CB-25..CB-29): by request, all at once, by a connected call, by
deprovisioning, and the undo of what an ended callback held."""

from callback_helpers import (api_ref, cb_env, mwi, originate, release_trunk,  # noqa: F401
                              reserve_trunk, ring, stop_ring, w)


def busy_target(w, n=1):
    """n requesters and one busy target; returns (requesters..., target)."""
    nums = w.stations(n + 1)
    w.busy(nums[-1])
    w.settle()
    return nums


def test_cb25_cancel_one_ends_requested_and_twice_is_invalid_state(w):
    a, b = busy_target(w)
    cb = w.set(a, b)
    doc, rid = w.cancel(cb)
    assert (doc["id"], doc["state"], doc["end_reason"]) == (cb["id"], "cancelled", "requested")
    assert doc["ended_at"] is not None
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "cancelled", "api", rid)]
    w.svc.error("DELETE", f"/v1/callbacks/{cb['id']}", status=409, code="invalid_state")
    w.svc.error("DELETE", "/v1/callbacks/00000000-0000-4000-8000-000000000000", status=404,
                code="not_found")
    w.svc.error("DELETE", "/v1/callbacks/not-a-uuid", status=404, code="not_found")
    w.idle(b)
    w.expect([])                    # a cancelled callback never rings


def test_cb25_cancel_while_ringing_stops_the_ring(w):
    a, b = busy_target(w)
    cb = w.set(a, b)
    ev = w.idle(b)
    w.expect([ring(cb)])
    doc, rid = w.cancel(cb)
    assert doc["end_reason"] == "requested"
    w.expect([ring(cb), stop_ring(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "cancelled", "api", rid)]
    w.hook(a, "off")                # answering now originates nothing
    w.expect([ring(cb), stop_ring(cb)])


def test_cb26_cancel_all_ends_every_active_callback_of_the_requester(w):
    a, other, b, c, d = w.stations(5)
    for t in (b, c, d):
        w.busy(t)
    w.settle()
    cbs = [w.set(a, t) for t in (b, c, d)]
    keep = w.set(other, b)
    w.idle(d)                       # one of them is ringing
    w.expect([ring(cbs[2])])
    st, doc, h = w.api("DELETE", f"/v1/stations/{a}/callbacks")
    assert (st, doc) == (200, {"cancelled": 3})
    for cb in cbs:
        got = w.get(cb)
        assert (got["state"], got["end_reason"]) == ("cancelled", "cancelled_all")
        assert w.history(cb)[-1][1:] == ("cancelled", "api", h["X-Request-Id"])
    w.expect([ring(cbs[2]), stop_ring(cbs[2])])
    assert w.state(keep) == "pending"
    assert w.svc.ok("DELETE", f"/v1/stations/{a}/callbacks") == {"cancelled": 0}
    w.svc.error("DELETE", "/v1/stations/9999997/callbacks", status=404, code="not_found")


def test_cb27_connected_call_either_direction_cancels_call_completed(w):
    a, b, c = busy_target(w, 2)
    cb1 = w.set(a, c)
    cb2 = w.set(b, c)
    ev1 = w.connected([a, c])
    ev2 = w.connected([c, b])       # the target called the requester
    for cb, ev in ((cb1, ev1), (cb2, ev2)):
        got = w.wait_state(cb, "cancelled")
        assert got["end_reason"] == "call_completed"
        assert w.history(cb)[-1] == ("pending", "cancelled", "event", ev)
    w.expect([])


def test_cb27_conference_or_other_party_does_not_cancel(w):
    a, x, b = busy_target(w, 2)
    cb = w.set(a, b)
    w.connected([a, b, x], conference=True)
    w.connected([a, x])
    w.connected([x, b])
    w.expect([])
    assert w.state(cb) == "pending"


def test_cb27_connected_call_while_ringing_stops_the_ring(w):
    a, b = busy_target(w)
    cb = w.set(a, b)
    w.idle(b)
    w.expect([ring(cb)])
    ev = w.connected([b, a])
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "call_completed"
    w.expect([ring(cb), stop_ring(cb)])
    assert w.history(cb)[-1] == ("notifying", "cancelled", "event", ev)


def test_cb27_own_recall_call_is_completed_by_its_result_not_by_connected(w):
    a, b = busy_target(w)
    cb = w.set(a, b)
    w.idle(b)
    w.hook(a, "off")
    w.connected([a, b])             # the recall call itself connects
    w.expect([ring(cb), originate(cb)])
    assert w.state(cb) == "recalling"
    res = w.recall(cb, "answered")
    got = w.wait_state(cb, "completed")
    assert got["end_reason"] == "completed"
    assert w.history(cb)[-1] == ("recalling", "completed", "event", res)


def test_cb28_deprovisioning_ends_callbacks_set_by_or_on_the_station(w):
    a, b, c, d = w.stations(4)
    w.busy(b)
    w.busy(d)
    w.settle()
    by_a = w.set(a, b)
    on_a_req = w.set(c, a)          # a idle: no_answer callback with a as target
    other = w.set(c, d)
    w.idle(b)
    w.expect([ring(by_a)])
    st, _, h = w.api("DELETE", f"/v1/stations/{a}")
    assert st == 204
    for cb in (by_a, on_a_req):
        got = w.get(cb)
        assert (got["state"], got["end_reason"]) == ("cancelled", "station_removed"), got
        assert w.history(cb)[-1][1:] == ("cancelled", "api", h["X-Request-Id"])
    assert w.state(other) == "pending"
    w.expect([ring(by_a), stop_ring(by_a)])


def test_cb28_deprovisioning_releases_lines_and_lamps(w):
    a, b = w.stations(2)
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    trunk_cb = w.set(a, g + "5551234")
    msg = w.set(a, b, mode="message")
    w.trunk(g, l1, "idle")
    w.expect([mwi(msg, True), reserve_trunk(trunk_cb, g, l1), ring(trunk_cb)])
    assert w.api("DELETE", f"/v1/stations/{a}")[0] == 204
    for cb in (trunk_cb, msg):
        got = w.get(cb)
        assert (got["state"], got["end_reason"]) == ("cancelled", "station_removed")
    w.expect([mwi(msg, True), reserve_trunk(trunk_cb, g, l1), ring(trunk_cb),
              stop_ring(trunk_cb), release_trunk(trunk_cb, g, l1), mwi(msg, False)])


def test_cb28_deprovisioning_a_trunk_group_ends_its_callbacks(w):
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    assert w.api("DELETE", f"/v1/trunk-groups/{g}")[0] == 204
    got = w.get(cb)
    assert (got["state"], got["end_reason"]) == ("cancelled", "station_removed")
    w.expect([])


def test_cb29_ending_a_ringing_trunk_callback_stops_ring_and_releases_the_line(w):
    a = w.station()
    g, (l1, l2) = w.trunk_group(2)
    w.trunk(g, l1, "busy")
    w.trunk(g, l2, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    w.trunk(g, l2, "idle")
    w.expect([reserve_trunk(cb, g, l2), ring(cb)])
    doc, _ = w.cancel(cb)
    assert doc["reserved_line"] is None
    cmds = [stop_ring(cb), release_trunk(cb, g, l2)]
    w.expect([reserve_trunk(cb, g, l2), ring(cb)] + cmds)
    # The line is free again for the next callback.
    b = w.station()
    w.trunk(g, l2, "busy")
    w.settle()
    cb2 = w.set(b, g + "5550000")
    w.trunk(g, l2, "idle")
    w.expect([reserve_trunk(cb, g, l2), ring(cb)] + cmds + [reserve_trunk(cb2, g, l2), ring(cb2)])


def test_cb27_connected_call_to_the_outside_number_completes_a_trunk_callback(w):
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    w.connected([a, g + "5559999"])        # another outside number: not this callback
    w.expect([])
    assert w.state(cb) == "pending"
    ev = w.connected([g + "5551234", a])
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "call_completed"
    assert w.history(cb)[-1] == ("pending", "cancelled", "event", ev)


def test_cb27_connected_call_with_a_hunt_group_member_completes_a_hunt_callback(w):
    a, m1, m2 = w.stations(3)
    w.busy(m1)
    w.busy(m2)
    h = w.hunt_group([m1, m2])
    w.settle()
    cb = w.set(a, h)
    ev = w.connected([m2, a])
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "call_completed"
    assert w.history(cb)[-1] == ("pending", "cancelled", "event", ev)


def test_cb28_deprovisioning_a_console_rung_on_behalf_of_another_requeues(w):
    group = f"cg{next(w.env.numbers)}"
    c1 = w.station(kind="console", console_group=group)
    c2 = w.station(kind="console", console_group=group)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(c1, b)
    w.send(w.ev("console.availability", station=c1, available=False))
    w.idle(b)
    w.expect([ring(cb, station=c2, on_behalf_of=c1)])
    assert w.api("DELETE", f"/v1/stations/{c2}")[0] == 204
    got = w.wait_state(cb, "queued")     # not ended: c2 only answered for c1
    assert got["end_reason"] is None
    w.expect([ring(cb, station=c2, on_behalf_of=c1), stop_ring(cb, station=c2)])
    w.send(w.ev("console.availability", station=c1, available=True))
    w.expect([ring(cb, station=c2, on_behalf_of=c1), stop_ring(cb, station=c2),
              ring(cb, station=c1)])
