"""Setting a callback through HTTP (CB-01..CB-10), Idempotency-Key and token scopes."""

import time

from callback_helpers import api_ref, cb_env, ring, stop_ring, w  # noqa: F401


def callback_count(w, requester):
    return len(w.svc.ok("GET", f"/v1/callbacks?requester={requester}&limit=500")["items"])


# -- CB-01 ---------------------------------------------------------------------------------------

def test_cb01_set_by_api_answers_201_with_location_and_history(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    assert cb["requester"] == a and cb["target"] == b and cb["target_type"] == "station"
    assert cb["reason"] == "busy" and cb["mode"] == "callback" and cb["state"] == "pending"
    assert cb["origin_line"] == a and cb["notify_line"] == a
    assert cb["external_number"] is None and cb["reserved_line"] is None
    assert cb["awaiting_release"] is False and cb["supersedes"] is None
    assert cb["ended_at"] is None and cb["end_reason"] is None
    got = w.get(cb)
    assert {k: v for k, v in got.items()} == {k: v for k, v in cb.items() if k != "_request_id"}
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb))]
    w.expect([])  # nothing to do while the target is busy


def test_cb01_softkey_uses_the_current_failed_attempt(w):
    a, b, c = w.stations(3)
    w.busy(b)
    w.busy(c)
    # No attempt yet: the softkey has nothing to use.
    w.svc.error("POST", f"/v1/stations/{a}/callbacks", {}, status=409, code="no_failed_attempt")
    w.attempt(a, b, "busy")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": True, "target": b}
    # A newer attempt replaces it.
    w.attempt(a, c, "busy")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": True, "target": c}
    st, doc, h = w.api("POST", f"/v1/stations/{a}/callbacks", {})
    assert st == 201, doc
    assert doc["requester"] == a and doc["target"] == c and doc["reason"] == "busy"
    assert h["Location"] == f"/v1/callbacks/{doc['id']}"
    # Hanging up ends the attempt.
    w.hook(a, "on")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": False, "target": None}
    w.svc.error("POST", f"/v1/stations/{a}/callbacks", {}, status=409, code="no_failed_attempt")


def test_cb01_answered_attempt_replaces_the_failed_one(w):
    a, b, c = w.stations(3)
    w.attempt(a, b, "no_answer")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": True, "target": b}
    w.attempt(a, c, "answered")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": False, "target": None}
    w.svc.error("POST", f"/v1/stations/{a}/callbacks", {}, status=409, code="no_failed_attempt")


# -- CB-02 ---------------------------------------------------------------------------------------

def test_cb02_requester_equal_to_target_is_validation_failed(w):
    a = w.station()
    w.refuse({"requester": a, "target": a}, 422, "validation_failed")
    assert callback_count(w, a) == 0


def test_cb02_unknown_numbers_are_refused_and_nothing_is_stored(w):
    a = w.station()
    doc = w.refuse({"requester": a, "target": "9999999"}, 422, "unknown_number")
    assert "9999999" in doc["detail"]
    doc = w.refuse({"requester": "9999998", "target": a}, 422, "unknown_number")
    assert "9999998" in doc["detail"]
    assert callback_count(w, a) == 0
    assert callback_count(w, "9999998") == 0


def test_cb02_missing_or_malformed_fields_are_validation_failed(w):
    a = w.station()
    doc = w.refuse({"target": a}, 422, "validation_failed")
    assert [e["field"] for e in doc["errors"]] == ["requester"]
    doc = w.refuse({"requester": a, "target": "12ab"}, 422, "validation_failed")
    assert [e["field"] for e in doc["errors"]] == ["target"]
    doc = w.refuse({"requester": a, "target": a, "mode": "sms"}, 422, "validation_failed")
    assert "mode" in [e["field"] for e in doc["errors"]]
    assert callback_count(w, a) == 0


# -- CB-03 ---------------------------------------------------------------------------------------

def test_cb03_cos_without_callbacks_refuses_api_softkey_and_fac(w):
    w.set_options(digit_collection_during_busy_or_alerting=True)
    a = w.station(cos="nocb")
    b = w.station()
    w.busy(b)
    w.refuse({"requester": a, "target": b}, 403, "callbacks_not_allowed")
    w.attempt(a, b, "busy")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"]["presented"] is False
    w.svc.error("POST", f"/v1/stations/{a}/callbacks", {}, status=403,
                code="callbacks_not_allowed")
    w.digits(a, "*41", call_state="busy_tone", dialed=b)
    w.expect([{"type": "tone", "callback_id": None, "station": a, "tone": "reorder"}])
    assert callback_count(w, a) == 0


# -- CB-04 ---------------------------------------------------------------------------------------

def test_cb04_failed_over_requester_or_target_is_refused(w):
    a = w.station(resilient=True)
    b = w.station(resilient=True)
    c = w.station()
    w.busy(b)
    w.busy(c)
    w.send(w.ev("station.failover", station=a, failed_over=True))
    w.settle()
    w.refuse({"requester": a, "target": c}, 409, "device_failed_over")
    w.send(w.ev("station.failover", station=a, failed_over=False),
           w.ev("station.failover", station=b, failed_over=True))
    w.settle()
    w.refuse({"requester": a, "target": b}, 409, "device_failed_over")
    assert callback_count(w, a) == 0
    # Failed back: accepted again.
    w.send(w.ev("station.failover", station=b, failed_over=False))
    w.settle()
    assert w.set(a, b)["state"] == "pending"


# -- CB-05 ---------------------------------------------------------------------------------------

def test_cb05_reason_comes_from_the_target_live_state(w):
    req, busy_t, idle_t, dnd_t, mb_t, bo_t = w.stations(6)
    w.busy(busy_t)
    w.feature(dnd_t, "dnd", True)
    w.feature(mb_t, "make_busy", True)
    w.feature(bo_t, "attendant_busy_out", True)
    w.settle()
    assert w.set(req, busy_t)["reason"] == "busy"
    got = w.set(req, idle_t)
    assert got["reason"] == "no_answer" and got["awaiting_release"] is False
    for t in (dnd_t, mb_t, bo_t):
        got = w.set(req, t)
        assert (got["reason"], got["awaiting_release"]) == ("busy", True), (t, got)


def test_cb05_group_reasons_trunks_busy_and_hunt_group_busy(w):
    a, m1, m2 = w.stations(3)
    g, lines = w.trunk_group(2)
    for line in lines:
        w.trunk(g, line, "busy")
    w.busy(m1)
    w.busy(m2)
    h = w.hunt_group([m1, m2])
    w.settle()
    t = w.set(a, g, external_number="5551234")
    assert (t["target"], t["target_type"], t["reason"], t["external_number"]) == \
        (g, "trunk_group", "trunks_busy", "5551234")
    hg = w.set(a, h)
    assert (hg["target"], hg["target_type"], hg["reason"]) == (h, "hunt_group", "hunt_group_busy")


def test_cb05_dialed_trunk_number_splits_into_group_and_outside_number(w):
    a = w.station()
    g, lines = w.trunk_group(1)
    w.trunk(g, lines[0], "busy")
    w.settle()
    t = w.set(a, g + "5551234")
    assert (t["target"], t["external_number"], t["reason"]) == (g, "5551234", "trunks_busy")


# -- CB-06 ---------------------------------------------------------------------------------------

def test_cb06_groups_with_free_capacity_are_target_available(w):
    a, m1, m2 = w.stations(3)
    g, lines = w.trunk_group(2)
    w.trunk(g, lines[0], "busy")           # one line still free
    h = w.hunt_group([m1, m2])
    w.busy(m1)                              # one member still idle
    w.settle()
    w.refuse({"requester": a, "target": g, "external_number": "5551234"}, 409, "target_available")
    w.refuse({"requester": a, "target": h}, 409, "target_available")
    assert callback_count(w, a) == 0


def test_cb06_groups_without_callback_activation_are_refused(w):
    a, m1 = w.stations(2)
    g, lines = w.trunk_group(1, activation=False)
    w.trunk(g, lines[0], "busy")
    w.busy(m1)
    h = w.hunt_group([m1], activation=False)
    w.settle()
    w.refuse({"requester": a, "target": g, "external_number": "5551234"}, 409,
             "group_callback_disabled")
    w.refuse({"requester": a, "target": h}, 409, "group_callback_disabled")
    assert callback_count(w, a) == 0


# -- CB-07 ---------------------------------------------------------------------------------------

def test_cb07_set_on_the_dialed_number_even_when_it_forwards(w):
    a, b, c = w.stations(3)
    w.send(w.ev("station.forward", station=b, forward_to=c),
           w.ev("station.state", station=b, availability="busy"))
    w.settle()
    cb = w.set(a, b)
    assert cb["target"] == b and cb["reason"] == "busy"
    # The forward target is never monitored: C going busy and idle matures nothing.
    w.busy(c)
    w.idle(c)
    w.expect([])
    assert w.state(cb) == "pending"
    w.idle(b)
    w.expect([ring(cb)])


# -- CB-08 ---------------------------------------------------------------------------------------

def test_cb08_duplicate_request_supersedes_the_first_with_a_fresh_expiry(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    first = w.set(a, b)
    time.sleep(1.1)
    second = w.set(a, b)
    assert second["id"] != first["id"] and second["supersedes"] == first["id"]
    assert second["expires_at"] > first["expires_at"]
    old = w.get(first)
    assert (old["state"], old["end_reason"]) == ("cancelled", "superseded")
    assert old["ended_at"] is not None
    assert w.history(first) == [(None, "pending", "api", api_ref(first)),
                                ("pending", "cancelled", "api", api_ref(second))]
    assert [c["id"] for c in w.active(a)] == [second["id"]]
    w.idle(b)
    w.expect([ring(second)])


# -- CB-09 ---------------------------------------------------------------------------------------

def test_cb09_max_per_requester_is_limit_reached(w):
    w.set_options(max_per_requester=2)
    a, b, c, d = w.stations(4)
    for t in (b, c, d):
        w.busy(t)
    w.settle()
    w.set(a, b)
    w.set(a, c)
    w.refuse({"requester": a, "target": d}, 409, "limit_reached")
    # A duplicate replaces rather than adds: still accepted at the limit.
    assert w.set(a, c)["supersedes"] is not None
    assert len(w.active(a)) == 2


def test_cb09_max_per_target_is_limit_reached(w):
    w.set_options(max_per_target=2)
    t, r1, r2, r3 = w.stations(4)
    w.busy(t)
    w.settle()
    w.set(r1, t)
    w.set(r2, t)
    w.refuse({"requester": r3, "target": t}, 409, "limit_reached")
    assert callback_count(w, r3) == 0


# -- CB-10 ---------------------------------------------------------------------------------------

def test_cb10_callback_expires_after_the_programmed_period(w):
    w.set_options(callback_cancel_timer_s=2)
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    # expires_at = created_at + 2 s
    assert cb["expires_at"][:19] > cb["created_at"][:19]
    got = w.wait_state(cb, "expired", timeout=5)
    assert got["end_reason"] == "expired" and got["ended_at"] is not None
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "expired", "timer", "expiry")]
    w.expect([])


def test_cb10_expiry_while_ringing_stops_the_ring(w):
    w.set_options(callback_cancel_timer_s=2)
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    ev = w.idle(b)
    w.expect([ring(cb)])
    w.wait_state(cb, "expired", timeout=5)
    w.expect([ring(cb), stop_ring(cb)])
    assert w.history(cb) == [(None, "pending", "api", api_ref(cb)),
                             ("pending", "notifying", "event", ev),
                             ("notifying", "expired", "timer", "expiry")]


# -- Idempotency-Key -----------------------------------------------------------------------------

def test_idempotency_key_replays_the_201_and_refuses_another_body(w):
    a, b, c = w.stations(3)
    w.busy(b)
    w.busy(c)
    w.settle()
    key = {"Idempotency-Key": f"k-{a}"}
    first = w.set(a, b, headers=key)
    again = w.set(a, b, headers=key)
    assert again["id"] == first["id"]
    assert {k: v for k, v in again.items() if k != "_request_id"} == \
        {k: v for k, v in first.items() if k != "_request_id"}
    assert [x["id"] for x in w.active(a)] == [first["id"]]   # nothing superseded
    doc = w.svc.error("POST", "/v1/callbacks", {"requester": a, "target": c}, headers=key,
                      status=422, code="validation_failed")
    assert [e["field"] for e in doc["errors"]] == ["Idempotency-Key"]
    assert [x["id"] for x in w.active(a)] == [first["id"]]
    # Keys are per token: the same key under another token is a new request.
    tok = w.token(f"station:{a}")
    other = w.set(a, c, token=tok, headers=key)
    assert other["id"] != first["id"] and other["target"] == c


# -- scopes --------------------------------------------------------------------------------------

def test_scopes_station_token_sees_and_changes_only_its_own_callbacks(w):
    a, b, c = w.stations(3)
    w.busy(c)
    w.settle()
    ta = w.token(f"station:{a}")
    mine = w.set(a, c, token=ta)
    theirs = w.set(b, c)
    w.svc.error("POST", "/v1/callbacks", {"requester": b, "target": c}, token=ta,
                status=403, code="forbidden")
    assert w.svc.ok("GET", f"/v1/callbacks/{mine['id']}", token=ta)["id"] == mine["id"]
    assert w.svc.ok("GET", f"/v1/callbacks/{mine['id']}/history", token=ta)["items"]
    w.svc.error("GET", f"/v1/callbacks/{theirs['id']}", token=ta, status=403, code="forbidden")
    w.svc.error("GET", f"/v1/callbacks/{theirs['id']}/history", token=ta, status=403,
                code="forbidden")
    w.svc.error("DELETE", f"/v1/callbacks/{theirs['id']}", token=ta, status=403, code="forbidden")
    w.svc.error("GET", "/v1/callbacks", token=ta, status=403, code="forbidden")
    w.svc.error("GET", f"/v1/stations/{b}/callbacks", token=ta, status=403, code="forbidden")
    assert [x["id"] for x in w.svc.ok("GET", f"/v1/stations/{a}/callbacks", token=ta)["items"]] \
        == [mine["id"]]
    assert w.state(theirs) == "pending"
    doc = w.svc.ok("DELETE", f"/v1/callbacks/{mine['id']}", token=ta)
    assert (doc["state"], doc["end_reason"]) == ("cancelled", "requested")
    w.svc.error("GET", "/v1/callbacks", token=None, status=401, code="unauthorized")


def test_scopes_operator_lists_and_cancels_but_cannot_set(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    op = w.token("operator")
    w.svc.error("POST", "/v1/callbacks", {"requester": a, "target": b}, token=op,
                status=403, code="forbidden")
    cb = w.set(a, b)
    items = w.svc.ok("GET", f"/v1/callbacks?requester={a}", token=op)["items"]
    assert [x["id"] for x in items] == [cb["id"]]
    assert w.svc.ok("GET", f"/v1/callbacks/{cb['id']}/history", token=op)["items"]
    st, doc, h = w.api("DELETE", f"/v1/callbacks/{cb['id']}", token=op)
    assert st == 200 and (doc["state"], doc["end_reason"]) == ("cancelled", "requested")
    assert w.history(cb)[-1] == ("pending", "cancelled", "api", h["X-Request-Id"])
    w.svc.error("POST", f"/v1/stations/{a}/callbacks", {}, token=op, status=403, code="forbidden")


def test_cb08_duplicate_while_the_first_rings_stops_that_ring(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    first = w.set(a, b)
    w.idle(b)
    w.expect([ring(first)])
    second = w.set(a, b)            # b is idle now: a no-answer callback, waiting for a cycle
    assert (second["supersedes"], second["reason"], second["state"]) == \
        (first["id"], "no_answer", "pending")
    assert w.get(first)["end_reason"] == "superseded"
    w.expect([ring(first), stop_ring(first)])
    w.hook_cycle(b)
    w.expect([ring(first), stop_ring(first), ring(second)])


def test_cb06_a_line_reserved_for_another_callback_is_not_free(w):
    r1, r2 = w.stations(2)
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    c1 = w.set(r1, g + "5550001")
    w.trunk(g, l1, "idle")          # idle, but reserved for c1 at once
    w.settle()
    assert w.get(c1)["reserved_line"] == l1
    c2 = w.set(r2, g + "5550002")  # so the group is still all in use
    assert (c2["reason"], c2["state"]) == ("trunks_busy", "pending")
