"""Live state kept from PBX events (openapi.yaml, CB-50): each event type, once
applied by the worker, shows on GET /v1/stations/{n} (`state`, `softkey`) or GET
/v1/trunk-groups/{n} (`line_states`)."""

import pytest

from harness import event, wait_for
from pbx_helpers import Db, cancel_all, commands, provision, wait_applied, wait_state


@pytest.fixture
def db(pg, db_url):
    return Db(pg, db_url)


@pytest.fixture
def live(svc):
    provision(svc, trunk=("9", ["L1", "L2"]))
    return svc


def line_states(svc, number="9"):
    return {l["line"]: l["state"] for l in svc.ok("GET", f"/v1/trunk-groups/{number}")["line_states"]}


def test_defaults_before_any_event(live):
    st = live.ok("GET", "/v1/stations/2001")["state"]
    assert st == {"availability": "idle", "hook": "on", "dnd": False, "make_busy": False,
                  "attendant_busy_out": False, "forward_to": None, "failed_over": False,
                  "console_available": True}
    assert line_states(live) == {"L1": "idle", "L2": "idle"}


def test_station_state(live):
    live.send(event("station.state", station="2001", availability="busy"))
    wait_state(live, "2001", availability="busy")
    assert live.ok("GET", "/v1/stations/2002")["state"]["availability"] == "idle"
    live.send(event("station.state", station="2001", availability="idle"))
    wait_state(live, "2001", availability="idle")


def test_station_hook(live):
    live.send(event("station.hook", station="2002", hook="off"))
    wait_state(live, "2002", hook="off")
    live.send(event("station.hook", station="2002", hook="on"))
    wait_state(live, "2002", hook="on")


@pytest.mark.parametrize("feature", ["dnd", "make_busy", "attendant_busy_out"])
def test_station_feature(live, feature):
    live.send(event("station.feature", station="2001", feature=feature, active=True))
    st = wait_state(live, "2001", **{feature: True})
    others = {"dnd", "make_busy", "attendant_busy_out"} - {feature}
    assert all(st[o] is False for o in others), st
    live.send(event("station.feature", station="2001", feature=feature, active=False))
    wait_state(live, "2001", **{feature: False})


def test_station_forward(live):
    live.send(event("station.forward", station="2001", forward_to="2003"))
    wait_state(live, "2001", forward_to="2003")
    live.send(event("station.forward", station="2001", forward_to=None))
    wait_state(live, "2001", forward_to=None)


def test_station_failover(live):
    live.ok("PUT", "/v1/stations/2003", {"kind": "ip_phone", "cos": "std", "resilient": True})
    live.send(event("station.failover", station="2003", failed_over=True))
    wait_state(live, "2003", failed_over=True)
    live.send(event("station.failover", station="2003", failed_over=False))
    wait_state(live, "2003", failed_over=False)


def test_console_availability(live):
    live.ok("PUT", "/v1/stations/2500", {"kind": "console", "cos": "std", "console_group": "ops"})
    live.send(event("console.availability", station="2500", available=False))
    wait_state(live, "2500", console_available=False)
    live.send(event("console.availability", station="2500", available=True))
    wait_state(live, "2500", console_available=True)


def test_trunk_state(live):
    live.send(event("trunk.state", trunk_group="9", line="L2", state="busy"))
    wait_for(lambda: line_states(live) == {"L1": "idle", "L2": "busy"}, 10, msg="L2 busy")
    live.send(event("trunk.state", trunk_group="9", line="L1", state="busy"),
              event("trunk.state", trunk_group="9", line="L2", state="idle"))
    wait_for(lambda: line_states(live) == {"L1": "busy", "L2": "idle"}, 10, msg="L1 busy, L2 idle")


def test_trunk_state_of_unknown_line_is_ignored(live, db):
    live.send(event("trunk.state", trunk_group="9", line="L7", state="busy"),
              event("trunk.state", trunk_group="8", line="L1", state="busy"))
    wait_applied(db)
    assert line_states(live) == {"L1": "idle", "L2": "idle"}
    assert [r[0] for r in db.rows("SELECT outcome FROM pbx_events ORDER BY seq")] == ["ignored", "ignored"]


def test_call_attempt_sets_the_softkey(live):
    """CB-01/CB-33: a failed attempt is the last call attempt, presented on the softkey."""
    live.send(event("call.attempt", **{"from": "2001", "to": "2002", "result": "busy"}))
    wait_for(lambda: live.ok("GET", "/v1/stations/2001")["softkey"] ==
             {"presented": True, "target": "2002"}, 10, msg="softkey presented for 2002")
    live.send(event("call.attempt", **{"from": "2001", "to": "2003", "result": "no_answer"}))
    wait_for(lambda: live.ok("GET", "/v1/stations/2001")["softkey"]["target"] == "2003", 10,
             msg="softkey follows the latest attempt")
    live.send(event("call.attempt", **{"from": "2001", "to": "2003", "result": "answered"}))
    wait_for(lambda: live.ok("GET", "/v1/stations/2001")["softkey"]["presented"] is False, 10,
             msg="an answered attempt clears the softkey")


def test_call_connected_and_recall_result_are_applied(live, db):
    live.send(event("call.connected", call_id="c-1", parties=["2001", "2002"], conference=False),
              event("recall.result", callback_id="7b1c6a4e-2f0d-4c1e-9a51-0f6f2b3c4d5e",
                    result="answered"))
    wait_applied(db)
    rows = db.rows("SELECT type, outcome IS NOT NULL FROM pbx_events ORDER BY seq")
    assert rows == [["call.connected", "t"], ["recall.result", "t"]]


def test_digits_cancel_all_without_callbacks_answers_reorder(live, db):
    live.send(cancel_all("2002"))
    wait_applied(db)
    items = wait_for(lambda: commands(live), 5)
    assert len(items) == 1
    cmd = items[0]
    assert cmd["type"] == "tone" and cmd["station"] == "2002" and cmd["tone"] == "reorder"
    assert cmd["status"] == "pending" and cmd["attempts"] == 0  # no command URL: kept only


def test_state_of_many_stations_in_one_batch(live):
    evs = []
    for n in ("2001", "2002", "2003"):
        evs += [event("station.state", station=n, availability="busy"),
                event("station.hook", station=n, hook="off"),
                event("station.feature", station=n, feature="dnd", active=True),
                event("station.forward", station=n, forward_to="2999")]
    live.send(*evs)
    for n in ("2001", "2002", "2003"):
        wait_state(live, n, availability="busy", hook="off", dnd=True, forward_to="2999")
