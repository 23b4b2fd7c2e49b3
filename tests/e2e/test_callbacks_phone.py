"""The phone: its list with Next/Previous, Cancel and Call Again (CB-32), the Call Me Back
softkey (CB-01, CB-33) and the feature access codes dialed on it (CB-30)."""

import threading

from callback_helpers import (cb_env, originate, reserve_trunk, ring, tone,  # noqa: F401
                              w)
from harness import wait_for


def ids(items):
    return [i["id"] for i in items]


def test_cb32_phone_list_oldest_first_with_next_and_previous(w):
    a, *targets = w.stations(7)
    for t in targets:
        w.busy(t)
    w.settle()
    tok = w.token(f"station:{a}")
    cbs = [w.set(a, t, token=tok) for t in targets]
    w.cancel(cbs[5])                # ended callbacks are not on the phone
    live = ids(cbs[:5])

    def page(cursor=None):
        q = f"?limit=2" + (f"&cursor={cursor}" if cursor else "")
        return w.svc.ok("GET", f"/v1/stations/{a}/callbacks{q}", token=tok)

    p1 = page()
    assert ids(p1["items"]) == live[0:2] and p1["prev_cursor"] is None and p1["next_cursor"]
    p2 = page(p1["next_cursor"])
    assert ids(p2["items"]) == live[2:4] and p2["prev_cursor"] and p2["next_cursor"]
    p3 = page(p2["next_cursor"])
    assert ids(p3["items"]) == live[4:5] and p3["next_cursor"] is None and p3["prev_cursor"]
    back2 = page(p3["prev_cursor"])
    assert ids(back2["items"]) == live[2:4] and back2["next_cursor"] and back2["prev_cursor"]
    back1 = page(back2["prev_cursor"])
    assert ids(back1["items"]) == live[0:2] and back1["prev_cursor"] is None
    assert ids(page(back1["next_cursor"])["items"]) == live[2:4]
    # Each entry is a whole callback: its state and target, for the phone's display.
    assert p1["items"][0]["target"] == targets[0] and p1["items"][0]["state"] == "pending"
    # Cancel from the list.
    w.svc.ok("DELETE", f"/v1/callbacks/{live[0]}", token=tok)
    assert ids(page()["items"]) == live[1:3]
    w.svc.error("GET", f"/v1/stations/{a}/callbacks?cursor=garbage", token=tok, status=422,
                code="validation_failed")
    w.svc.error("GET", f"/v1/stations/{a}/callbacks?limit=0", token=tok, status=422,
                code="validation_failed")


def test_cb32_call_again_originates_and_keeps_the_callback(w):
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    tok = w.token(f"station:{a}")
    cb = w.set(a, b, token=tok)
    st, doc, _ = w.api("POST", f"/v1/callbacks/{cb['id']}/call-again", token=tok)
    assert st == 202, doc
    w.expect([originate(cb)])
    assert w.state(cb) == "pending"
    assert len(w.history(cb)) == 1  # no transition
    # The callback stays until a call connects between the two (CB-27).
    ev = w.connected([a, b])
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "call_completed"
    assert w.history(cb)[-1] == ("pending", "cancelled", "event", ev)
    w.svc.error("POST", f"/v1/callbacks/{cb['id']}/call-again", token=tok, status=409,
                code="invalid_state")
    w.svc.error("POST", "/v1/callbacks/00000000-0000-4000-8000-000000000000/call-again",
                status=404, code="not_found")
    w.expect([originate(cb)])


def test_cb32_call_again_on_a_trunk_callback_dials_the_outside_number(w):
    a = w.station(prime_line="5" + str(next(w.env.numbers)))
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    assert w.api("POST", f"/v1/callbacks/{cb['id']}/call-again")[0] == 202
    w.expect([originate(cb, to=g + "5551234", from_line=w.prime[a], external="5551234")])


def test_cb33_softkey_presented_only_with_cos_no_failover_and_a_failed_attempt(w):
    a = w.station(resilient=True)
    n = w.station(cos="nocb")
    b = w.station()
    w.busy(b)
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": False, "target": None}
    w.attempt(a, b, "busy")
    w.attempt(n, b, "busy")
    w.settle()
    tok = w.token(f"station:{a}")
    assert w.svc.ok("GET", f"/v1/stations/{a}", token=tok)["softkey"] == \
        {"presented": True, "target": b}
    assert w.svc.ok("GET", f"/v1/stations/{n}")["softkey"]["presented"] is False
    w.send(w.ev("station.failover", station=a, failed_over=True))
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"]["presented"] is False
    w.svc.error("POST", f"/v1/stations/{a}/callbacks", {}, token=tok, status=409,
                code="device_failed_over")
    w.send(w.ev("station.failover", station=a, failed_over=False))
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": True, "target": b}
    st, doc, _ = w.api("POST", f"/v1/stations/{a}/callbacks", {}, token=tok)
    assert st == 201 and (doc["requester"], doc["target"], doc["reason"]) == (a, b, "busy")
    w.svc.error("POST", f"/v1/stations/{b}/callbacks", {}, token=tok, status=403, code="forbidden")


def test_cb33_softkey_on_a_trunk_attempt_sets_a_trunk_callback(w):
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.attempt(a, g + "5551234", "trunks_busy")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"]["presented"] is True
    st, doc, _ = w.api("POST", f"/v1/stations/{a}/callbacks", {})
    assert st == 201, doc
    assert (doc["target"], doc["external_number"], doc["reason"]) == (g, "5551234", "trunks_busy")
    w.callbacks[doc["id"]] = doc
    w.trunk(g, l1, "idle")
    w.expect([reserve_trunk(doc, g, l1), ring(doc)])


def test_cb33_softkey_on_an_attempt_to_the_trunk_group_alone(w):
    """The PBX may report the access code alone as the number tried (`to` = the group): the
    callback then has no external_number (optional on a trunk group, openapi.yaml), and a call
    connecting the requester and that same number completes it (CB-27)."""
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.attempt(a, g, "trunks_busy")
    w.settle()
    assert w.svc.ok("GET", f"/v1/stations/{a}")["softkey"] == {"presented": True, "target": g}
    st, doc, _ = w.api("POST", f"/v1/stations/{a}/callbacks")     # no body: {}
    assert st == 201, doc
    assert (doc["target"], doc["external_number"], doc["reason"]) == (g, None, "trunks_busy")
    w.callbacks[doc["id"]] = doc
    w.connected([a, g])
    done = w.wait_state(doc, "cancelled")
    assert done["end_reason"] == "call_completed"


# -- CB-30: feature access codes -----------------------------------------------------------------

def fac_callbacks(w, a):
    return w.svc.ok("GET", f"/v1/callbacks?requester={a}&limit=500")["items"]


def test_cb30_setup_fac_during_busy_tone_sets_a_callback_with_confirmation(w):
    w.set_options(digit_collection_during_busy_or_alerting=True)
    a, b = w.stations(2)
    w.busy(b)
    w.attempt(a, b, "busy")
    ev = w.digits(a, "*41", call_state="busy_tone", dialed=b)
    w.settle()
    (cb,) = fac_callbacks(w, a)
    assert (cb["target"], cb["reason"], cb["state"]) == (b, "busy", "pending")
    w.callbacks[cb["id"]] = cb
    w.expect([tone(a, "confirmation")])      # a tone names no callback (callback_id null)
    assert w.history(cb) == [(None, "pending", "event", ev)]


def test_cb30_setup_fac_during_ringback_sets_a_no_answer_callback(w):
    w.set_options(digit_collection_during_busy_or_alerting=True)
    a, b = w.stations(2)
    w.digits(a, "*41", call_state="ringback", dialed=b)
    w.settle()
    (cb,) = fac_callbacks(w, a)
    assert (cb["target"], cb["reason"]) == (b, "no_answer")
    assert [c["tone"] for c in w.commands()] == ["confirmation"]


def test_cb30_setup_fac_is_ignored_without_digit_collection(w):
    a, b = w.stations(2)
    w.busy(b)
    w.digits(a, "*41", call_state="busy_tone", dialed=b)
    w.expect([])
    assert fac_callbacks(w, a) == []


def test_cb30_setup_fac_on_a_trunk_number_and_refusals_get_reorder(w):
    w.set_options(digit_collection_during_busy_or_alerting=True, max_per_requester=1)
    a, b = w.stations(2)
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.digits(a, "*41", call_state="busy_tone", dialed=g + "5551234")
    w.settle()
    (cb,) = fac_callbacks(w, a)
    assert (cb["target"], cb["external_number"], cb["reason"]) == (g, "5551234", "trunks_busy")
    w.busy(b)
    w.digits(a, "*41", call_state="busy_tone", dialed=b)       # over max_per_requester
    w.digits(a, "*41", call_state="busy_tone", dialed="9999996")   # unknown number
    w.settle()
    assert [c["tone"] for c in w.commands()] == ["confirmation", "reorder", "reorder"]
    assert len(fac_callbacks(w, a)) == 1


def test_cb30_cancel_fac_cancels_all_and_cancel_individual_one(w):
    a, b, c, d = w.stations(4)
    for t in (b, c, d):
        w.busy(t)
    w.settle()
    cb_b, cb_c, cb_d = w.set(a, b), w.set(a, c), w.set(a, d)
    ev = w.digits(a, "#42" + c)
    got = w.wait_state(cb_c, "cancelled")
    assert got["end_reason"] == "requested"
    assert w.history(cb_c)[-1] == ("pending", "cancelled", "event", ev)
    assert w.state(cb_b) == "pending" and w.state(cb_d) == "pending"
    ev2 = w.digits(a, "#41")
    for cb in (cb_b, cb_d):
        got = w.wait_state(cb, "cancelled")
        assert got["end_reason"] == "cancelled_all"
        assert w.history(cb)[-1] == ("pending", "cancelled", "event", ev2)
    w.digits(a, "#41")              # nothing left to cancel
    w.digits(a, "#42" + b)          # already ended
    w.settle()
    assert [x["tone"] for x in w.commands() if x["type"] == "tone"] == \
        ["confirmation", "confirmation", "reorder", "reorder"]
    assert all(x["station"] == a for x in w.commands())


def test_cb30_an_empty_code_disables_the_feature(w):
    w.set_options(fac={"cancel_all": ""})
    a, b = w.stations(2)
    w.busy(b)
    w.settle()
    cb = w.set(a, b)
    w.digits(a, "#41")
    w.expect([])
    assert w.state(cb) == "pending"
    w.set_options(fac={"cancel_all": "#77"})
    w.digits(a, "#77")
    w.wait_state(cb, "cancelled")
    assert [x["tone"] for x in w.commands()] == ["confirmation"]


def test_cb30_cancel_individual_fac_with_a_trunk_number(w):
    a = w.station()
    g, (l1,) = w.trunk_group(1)
    w.trunk(g, l1, "busy")
    w.settle()
    cb = w.set(a, g + "5551234")
    ev = w.digits(a, "#42" + g + "5551234")
    got = w.wait_state(cb, "cancelled")
    assert got["end_reason"] == "requested"
    assert w.history(cb)[-1] == ("pending", "cancelled", "event", ev)
    w.expect([tone(a, "confirmation")])


def test_cb01_softkey_sets_on_the_attempt_current_when_it_is_decided(w):
    """The softkey's POST reads the station's failed attempt only to know what to load; the set
    uses the attempt as the decision finds it under its locks (CB-01). A station that makes
    another attempt meanwhile gets its callback on the new target, not a refusal."""
    pg, db = w.env.pg, w.env.dbname
    numbers = w.stations(6)
    key = {n: int(k) for n, k in pg.sql(
        "SELECT n, hashtext(n) FROM unnest(ARRAY[" + ",".join(f"'{n}'" for n in numbers) +
        "]) AS n", db)}
    # The set takes its locks in key order: with the first target's key before the requester's,
    # it waits on the target holding nothing, and the new attempt is applied meanwhile.
    first, second, *_, requester = sorted(numbers, key=key.get)
    w.busy(first)
    w.busy(second)
    w.attempt(requester, first, "busy")
    w.settle()
    tok = w.token(f"station:{requester}")
    answer = []
    hold = f"SELECT pg_advisory_lock(25442, hashtext('{first}'));"
    with pg.holding(pg.db_url(db), hold, "SELECT pg_advisory_unlock_all();"):
        poster = threading.Thread(target=lambda: answer.append(
            w.api("POST", f"/v1/stations/{requester}/callbacks", {}, token=tok)))
        poster.start()
        wait_for(lambda: pg.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND NOT granted", db)[0][0] != "0",
                 10, msg="the set waiting on the first target's lock")
        w.attempt(requester, second, "busy")
        w.settle()
        assert w.svc.ok("GET", f"/v1/stations/{requester}", token=tok)["softkey"]["target"] \
            == second
    poster.join()
    st, doc, _ = answer[0]
    assert st == 201, doc
    assert (doc["requester"], doc["target"], doc["reason"]) == (requester, second, "busy")
