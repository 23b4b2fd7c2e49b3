"""Message mode (CB-40): "leave a message waiting indication" instead of monitoring the target."""

import time

from callback_helpers import api_ref, cb_env, mwi, w  # noqa: F401


def test_cb40_message_lights_the_target_lamp_and_stays_message_left(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b, mode="message")
    assert (cb["mode"], cb["state"], cb["expires_at"]) == ("message", "message_left", None)
    w.expect([mwi(cb, True)])
    assert w.history(cb) == [(None, "message_left", "api", api_ref(cb))]
    # The target is not monitored: going idle or cycling the hook rings nobody.
    w.idle(b)
    w.hook_cycle(b)
    w.expect([mwi(cb, True)])
    assert w.state(cb) == "message_left"


def test_cb40_message_does_not_expire(w):
    w.set_options(callback_cancel_timer_s=1)
    a, b, c = w.stations(3)
    w.busy(c)
    w.settle()
    msg = w.set(a, b, mode="message")
    plain = w.set(a, c)             # the same programmed period does end a plain callback
    w.wait_state(plain, "expired", timeout=5)
    time.sleep(1.2)
    got = w.get(msg)
    assert (got["state"], got["ended_at"], got["expires_at"]) == ("message_left", None, None)
    w.expect([mwi(msg, True)])


def test_cb40_connected_call_puts_the_lamp_out_call_completed(w):
    a, b = w.stations(2)
    cb = w.set(a, b, mode="message")
    w.connected([a, b, w.station()], conference=True)   # a conference does not count
    w.expect([mwi(cb, True)])
    ev = w.connected([b, a])
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "call_completed"
    w.expect([mwi(cb, True), mwi(cb, False)])
    assert w.history(cb) == [(None, "message_left", "api", api_ref(cb)),
                             ("message_left", "cancelled", "event", ev)]


def test_cb40_cancel_puts_the_lamp_out(w):
    a, b = w.stations(2)
    cb = w.set(a, b, mode="message")
    doc, rid = w.cancel(cb)
    assert (doc["state"], doc["end_reason"]) == ("cancelled", "requested")
    w.expect([mwi(cb, True), mwi(cb, False)])
    assert w.history(cb)[-1] == ("message_left", "cancelled", "api", rid)


def test_cb40_a_new_message_supersedes_lamp_off_then_on(w):
    a, b = w.stations(2)
    first = w.set(a, b, mode="message")
    second = w.set(a, b, mode="message")
    assert second["supersedes"] == first["id"]
    assert w.get(first)["end_reason"] == "superseded"
    w.expect([mwi(first, True), mwi(first, False), mwi(second, True)])


def test_cb40_message_needs_a_station_target(w):
    a, m = w.stations(2)
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.busy(m)
    h = w.hunt_group([m])
    w.settle()
    w.refuse({"requester": a, "target": g, "external_number": "5551234", "mode": "message"},
             422, "validation_failed")
    w.refuse({"requester": a, "target": h, "mode": "message"}, 422, "validation_failed")
    w.expect([])
