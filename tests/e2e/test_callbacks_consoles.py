"""Attendant consoles (CB-31): rerouting to an available console of the group, and the
`queued` state until the console that set the callback is back."""

from callback_helpers import api_ref, cb_env, originate, ring, stop_ring, w  # noqa: F401


def consoles(w, n):
    group = f"cg{next(w.env.numbers)}"
    return [w.station(kind="console", console_group=group) for _ in range(n)]


def available(w, console, flag):
    return w.send(w.ev("console.availability", station=console, available=flag))[0]


def test_cb31_unavailable_console_rings_another_console_of_its_group(w):
    c1, c2 = consoles(w, 2)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(c1, b)
    available(w, c1, False)
    ev = w.idle(b)
    w.expect([ring(cb, station=c2, on_behalf_of=c1)])
    got = w.get(cb)
    assert (got["state"], got["notify_line"]) == ("notifying", c2)
    off = w.hook(c2, "off")
    w.expect([ring(cb, station=c2, on_behalf_of=c1), originate(cb, from_station=c2)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "recalling", "event", off)]


def test_cb31_no_console_available_queues_until_the_setter_is_back(w):
    c1, c2 = consoles(w, 2)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(c1, b)
    available(w, c1, False)
    available(w, c2, False)
    ev = w.idle(b)
    w.wait_state(cb, "queued")
    available(w, c2, True)          # another console back: the queue waits for its own console
    w.expect([])
    assert w.state(cb) == "queued"
    back = available(w, c1, True)
    w.expect([ring(cb, station=c1)])
    got = w.get(cb)
    assert (got["state"], got["notify_line"]) == ("notifying", c1)
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "queued", "event", ev),
                             ("queued", "notifying", "event", back)]


def test_cb31_queued_callback_returns_to_pending_if_the_target_is_busy_again(w):
    (c1,) = consoles(w, 1)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(c1, b)
    available(w, c1, False)
    w.idle(b)
    w.wait_state(cb, "queued")
    w.busy(b)
    back = available(w, c1, True)
    w.wait_state(cb, "pending")
    w.expect([])
    assert w.history(cb)[-1] == ("queued", "pending", "event", back)
    w.idle(b)
    w.expect([ring(cb, station=c1)])


def test_cb31_console_leaving_while_rung_is_rerouted(w):
    c1, c2 = consoles(w, 2)
    b = w.station()
    w.busy(b)
    w.settle()
    cb = w.set(c1, b)
    w.idle(b)
    w.expect([ring(cb, station=c1)])
    available(w, c1, False)
    w.expect([ring(cb, station=c1), stop_ring(cb, station=c1),
              ring(cb, station=c2, on_behalf_of=c1)])
    assert w.state(cb) == "notifying"


def test_cb31_busy_alternate_console_is_not_chosen(w):
    c1, c2, c3 = consoles(w, 3)
    b = w.station()
    w.busy(b)
    w.busy(c2)
    w.settle()
    cb = w.set(c1, b)
    available(w, c1, False)
    w.idle(b)
    w.expect([ring(cb, station=c3, on_behalf_of=c1)])   # c2 is busy: the next one of the group


def test_cb31_console_ringing_for_its_own_callback_is_not_chosen_for_another(w):
    c1, c2 = consoles(w, 2)
    b1, b2 = w.stations(2)
    w.busy(b1)
    w.busy(b2)
    w.settle()
    own = w.set(c2, b1)
    other = w.set(c1, b2)
    w.idle(b1)
    w.expect([ring(own, station=c2)])
    available(w, c1, False)
    w.idle(b2)                      # c2 is engaged (CB-17): c1's callback must queue
    w.wait_state(other, "queued")
    w.expect([ring(own, station=c2)])


def test_cb31_console_ringing_on_behalf_of_another_is_not_rung_for_its_own(w):
    c1, c2 = consoles(w, 2)
    b1, b2 = w.stations(2)
    w.busy(b1)
    w.busy(b2)
    w.settle()
    other = w.set(c1, b1)
    own = w.set(c2, b2)
    available(w, c1, False)
    w.idle(b1)
    w.expect([ring(other, station=c2, on_behalf_of=c1)])
    w.idle(b2)                      # c2 is engaged by c1's callback: its own waits (CB-17)
    w.expect([ring(other, station=c2, on_behalf_of=c1)])
    assert w.state(own) == "pending"
    w.hook(c2, "off")               # c2 answers c1's callback; its own still waits
    w.expect([ring(other, station=c2, on_behalf_of=c1), originate(other, from_station=c2)])
    assert w.state(own) == "pending"
