"""Long stories and races through the whole loop: PBX events in, rules, commands out, history."""

import threading

from callback_helpers import (api_ref, cb_env, originate, ring, stop_ring, w)  # noqa: F401


def test_story_busy_forwarded_recall_busy_preserved_then_completed(w):
    """A busy on B, B frees while A is busy, A frees, A rings on the prime line while forwarded,
    A answers, B busy again (recall busy), callback preserved, B frees, A answers, B answers,
    completed (CB-05, CB-11, CB-12, CB-20..CB-22, CB-24)."""
    a = w.station(prime_line="5" + str(next(w.env.numbers)))
    p = w.prime[a]
    b, c = w.stations(2)
    w.busy(b)
    w.settle()
    # A busy on B: the callback is set from the line A used.
    cb = w.set(a, b, origin_line=a)
    assert (cb["reason"], cb["state"], cb["notify_line"]) == ("busy", "pending", p)
    # B frees while A is busy: nothing yet (CB-11).
    e_a_busy = w.busy(a)
    e_b_idle = w.idle(b)
    w.expect([])
    assert w.state(cb) == "pending"
    # A forwards its calls to C, then frees: A rings on its prime line, past the forward.
    w.send(w.ev("station.forward", station=a, forward_to=c))
    e_a_idle = w.idle(a)
    w.expect([ring(cb, station=a, line=p)])
    # A answers: the recall leaves from A's prime line.
    e_off1 = w.hook(a, "off")
    w.expect([ring(cb, station=a, line=p), originate(cb, from_station=a, from_line=p)])
    assert w.state(cb) == "recalling"
    # B busy again: the recall finds it busy; the callback is preserved with its expiry.
    e_b_busy = w.busy(b)
    e_recall_busy = w.recall(cb, "busy")
    got = w.wait_state(cb, "pending")
    assert (got["reason"], got["expires_at"], got["end_reason"]) == \
        ("busy", cb["expires_at"], None)
    e_on = w.hook(a, "on")
    # B frees: A rings again, answers, B answers: completed.
    e_b_idle2 = w.idle(b)
    w.expect([ring(cb, station=a, line=p), originate(cb, from_station=a, from_line=p),
              ring(cb, station=a, line=p)])
    e_off2 = w.hook(a, "off")
    e_answered = w.recall(cb, "answered")
    done = w.wait_state(cb, "completed")
    assert done["end_reason"] == "completed" and done["ended_at"] is not None
    w.expect([ring(cb, station=a, line=p), originate(cb, from_station=a, from_line=p),
              ring(cb, station=a, line=p), originate(cb, from_station=a, from_line=p)])
    assert w.history(cb) == [
        (None, "pending", "api", api_ref(cb)),
        ("pending", "notifying", "event", e_a_idle),
        ("notifying", "recalling", "event", e_off1),
        ("recalling", "pending", "event", e_recall_busy),
        ("pending", "notifying", "event", e_b_idle2),
        ("notifying", "recalling", "event", e_off2),
        ("recalling", "completed", "event", e_answered),
    ]
    # Events that changed no callback state appear nowhere in its history.
    refs = {h[3] for h in w.history(cb)}
    assert not refs & {e_a_busy, e_b_idle, e_b_busy, e_on}
    assert w.active(a) == []


def test_race_two_events_for_one_target_in_one_batch(w):
    t, r1, r2 = w.stations(3)
    w.busy(t)
    w.settle()
    c1, c2 = w.set(r1, t), w.set(r2, t)
    # Two idle reports for the target in one batch: still one callback served at a time.
    e1, e2 = w.send(w.ev("station.state", station=t, availability="idle"),
                    w.ev("station.state", station=t, availability="idle"))
    w.expect([ring(c1)])
    # Busy then idle in one batch: applied in order, so the ring stops and starts again, for the
    # same callback (it keeps its place, CB-18).
    e3, e4 = w.send(w.ev("station.state", station=t, availability="busy"),
                    w.ev("station.state", station=t, availability="idle"))
    w.expect([ring(c1), stop_ring(c1), ring(c1)])
    assert w.history(c1) == [(None, "pending", "api", api_ref(c1)),
                             ("pending", "notifying", "event", e1),
                             ("notifying", "pending", "event", e3),
                             ("pending", "notifying", "event", e4)]
    assert w.state(c2) == "pending" and len(w.history(c2)) == 1
    # The same batch delivered again is acknowledged as duplicates and changes nothing (CB-50).
    st, doc, _ = w.svc.post_events([{"id": e3, "type": "station.state", "station": t,
                                     "availability": "busy"},
                                    {"id": e4, "type": "station.state", "station": t,
                                     "availability": "idle"}])
    assert (st, doc) == (202, {"accepted": 0, "duplicates": 2})
    w.expect([ring(c1), stop_ring(c1), ring(c1)])


def test_race_cancel_while_the_worker_rings_is_followed_by_stop_ring(w):
    """The cancel and the maturing event race; whichever wins, a ring is never left behind."""
    outcomes = set()
    for _ in range(8):
        a, b = w.stations(2)
        w.busy(b)
        w.settle()
        cb = w.set(a, b)
        go = threading.Barrier(2)
        answers = {}

        def cancel():
            go.wait()
            answers["cancel"] = w.api("DELETE", f"/v1/callbacks/{cb['id']}")

        th = threading.Thread(target=cancel)
        th.start()
        go.wait()
        ev = w.idle(b)
        th.join()
        st, doc, h = answers["cancel"]
        assert st == 200 and doc["end_reason"] == "requested", doc
        w.settle()
        got = w.get(cb)
        assert (got["state"], got["end_reason"]) == ("cancelled", "requested")
        mine = [c for c in w.commands() if c["callback_id"] == cb["id"]]
        hist = w.history(cb)
        if mine:
            assert mine == [ring(cb), stop_ring(cb)], mine
            assert hist == [(None, "pending", "api", api_ref(cb)),
                            ("pending", "notifying", "event", ev),
                            ("notifying", "cancelled", "api", h["X-Request-Id"])]
            # The PBX got the stop after the ring (in order per station, CB-51).
            order = [c["type"] for c in w.pbx.received() if c.get("callback_id") == cb["id"]]
            assert order == ["ring", "stop_ring"], order
            outcomes.add("rang")
        else:
            assert hist == [(None, "pending", "api", api_ref(cb)),
                            ("pending", "cancelled", "api", h["X-Request-Id"])]
            outcomes.add("cancelled first")
    assert outcomes  # which orders happened is up to the scheduler; both are checked when seen


def test_race_cancel_after_the_ring_is_sent_stops_it(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.idle(b)
    w.pbx.wait_command("ring", callback_id=cb["id"])     # the PBX is ringing A now
    doc, rid = w.cancel(cb)
    assert doc["state"] == "cancelled"
    w.expect([ring(cb), stop_ring(cb)])
    w.hook(a, "off")                # A picks up a moment too late: nothing is originated
    w.expect([ring(cb), stop_ring(cb)])


def test_race_expiry_during_recall(w):
    w.set_options(callback_cancel_timer_s=3, recall_timeout_s=600)
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    e_idle = w.idle(b)
    e_off = w.hook(a, "off")
    w.expect([ring(cb), originate(cb)])
    assert w.state(cb) == "recalling"
    got = w.wait_state(cb, "expired", timeout=6)
    assert got["end_reason"] == "expired"
    # A late recall result finds the callback ended and changes nothing.
    w.recall(cb, "answered")
    w.settle()
    assert w.get(cb)["state"] == "expired"
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", e_idle),
                             ("notifying", "recalling", "event", e_off),
                             ("recalling", "expired", "timer", "expiry")]
    w.expect([ring(cb), originate(cb)])
