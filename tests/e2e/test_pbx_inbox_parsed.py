"""Each PBX event is validated and parsed once, by the webhook, and stored in the form the worker
applies (CB-50; migration 009): the inbox row holds the parsed fields by column beside the body
as received, the worker applies those fields without reading the body, and an event stored
before the parsed form existed (its `parsed` false) is still applied from its body."""

import uuid

import pytest

from harness import event
from pbx_helpers import Db, provision, wait_applied, wait_state

COLUMNS = ("type", "station", "flag", "feature", "forward_to", "trunk_group", "line",
           "from_number", "to_number", "attempt", "parties", "conference", "callback_id",
           "recall", "digits", "call_state", "dialed")


@pytest.fixture
def db(pg, db_url):
    return Db(pg, db_url)


def stored(db, event_id):
    """The parsed columns of a stored event, by name; `parsed` first."""
    cols = ", ".join(f"coalesce({c}::text, '-')" for c in COLUMNS)
    row = db.rows(f"SELECT parsed::text, {cols} FROM pbx_events WHERE id = '{event_id}'")[0]
    return row[0] == "true", {c: (None if v == "-" else v) for c, v in zip(COLUMNS, row[1:])}


def test_the_webhook_stores_each_event_as_parsed(svc, db):
    provision(svc, trunk=("9", ["L1"]))
    cb_id = str(uuid.uuid4())
    evs = [
        event("station.state", station="2001", availability="busy"),
        event("station.hook", station="2001", hook="off"),
        event("station.feature", station="2002", feature="make_busy", active=True),
        event("station.forward", station="2002", forward_to="2003"),
        event("station.forward", station="2002", forward_to=None),
        event("station.failover", station="2003", failed_over=False),
        event("trunk.state", trunk_group="9", line="L1", state="busy"),
        event("call.attempt", **{"from": "2001", "to": "95551234", "result": "trunks_busy"}),
        event("call.attempt", **{"from": "2001", "to": "2002", "result": "answered"}),
        event("call.connected", call_id="c-1", parties=["2001", "2002"], conference=True),
        event("recall.result", callback_id=cb_id.upper(), result="no_answer"),
        event("digits", station="2003", digits="*41", call_state="busy_tone", dialed="2001"),
        event("station.state", station="2999", availability="idle", extra="kept in body"),
    ]
    svc.send(*evs)
    want = [
        {"type": "station.state", "station": "2001", "flag": "true"},
        {"type": "station.hook", "station": "2001", "flag": "true"},
        {"type": "station.feature", "station": "2002", "feature": "make_busy", "flag": "true"},
        {"type": "station.forward", "station": "2002", "forward_to": "2003"},
        {"type": "station.forward", "station": "2002"},
        {"type": "station.failover", "station": "2003"},
        {"type": "trunk.state", "trunk_group": "9", "line": "L1", "flag": "true"},
        {"type": "call.attempt", "from_number": "2001", "to_number": "95551234",
         "attempt": "trunks_busy"},
        {"type": "call.attempt", "from_number": "2001", "to_number": "2002",
         "attempt": "answered"},
        {"type": "call.connected", "parties": "{2001,2002}", "conference": "true"},
        {"type": "recall.result", "callback_id": cb_id, "recall": "no_answer"},
        {"type": "digits", "station": "2003", "digits": "*41", "call_state": "busy_tone",
         "dialed": "2001"},
        {"type": "station.state", "station": "2999"},
    ]
    defaults = {c: None for c in COLUMNS}
    defaults.update(flag="false", conference="false", parties="{}")
    for ev, fields in zip(evs, want):
        parsed, got = stored(db, ev["id"])
        assert parsed, ev
        assert got == {**defaults, **fields}, ev
    body = db.value(f"SELECT body->>'extra' FROM pbx_events WHERE id = '{evs[-1]['id']}'")
    assert body == "kept in body", "the body is kept as received"
    wait_applied(db)


def test_the_worker_applies_the_stored_fields_not_the_body(svc, db):
    provision(svc)
    wait_state(svc, "2001", availability="idle")
    # The body says nothing usable: only the parsed columns can make 2001 busy.
    db.rows("INSERT INTO pbx_events (id, type, body, parsed, station, flag) VALUES "
            f"('direct-{uuid.uuid4().hex[:8]}', 'station.state', '{{}}', true, '2001', true)")
    wait_applied(db)
    wait_state(svc, "2001", availability="busy")


def test_an_event_stored_before_the_parsed_form_is_parsed_by_the_worker(svc, db):
    provision(svc)
    eid = f"old-{uuid.uuid4().hex[:8]}"
    db.rows("INSERT INTO pbx_events (id, type, body) VALUES "
            f"('{eid}', 'station.state', '{{\"id\": \"{eid}\", \"type\": \"station.state\", "
            "\"station\": \"2002\", \"availability\": \"busy\"}')")
    bad = f"old-{uuid.uuid4().hex[:8]}"
    db.rows("INSERT INTO pbx_events (id, type, body) VALUES "
            f"('{bad}', 'station.state', '{{\"id\": \"{bad}\", \"type\": \"station.state\"}}')")
    wait_applied(db)
    wait_state(svc, "2002", availability="busy")
    outcomes = dict(db.rows(f"SELECT id, outcome FROM pbx_events WHERE id IN ('{eid}', '{bad}')"))
    assert outcomes == {eid: "applied", bad: "ignored"}
