"""POST /v1/pbx/events (openapi.yaml, CB-50): the signature is checked before
anything else, the whole batch is validated (one bad field refuses it, nothing stored), events
are stored once per id (duplicates across and within batches), in batch order, and a database
outage answers 503."""

import json
import threading
import time

import pytest

from harness import SECRET, event, sign, wait_for
from pbx_helpers import Db, cancel_all, metric, provision, wait_applied, wait_state


@pytest.fixture
def db(pg, db_url):
    return Db(pg, db_url)


def stored(db):
    return db.count("SELECT count(*) FROM pbx_events")


def raw_post(svc, body, headers):
    return svc.call("POST", "/v1/pbx/events", token=None, raw=body, headers=headers)


def good_body():
    return json.dumps({"events": [event("station.state", station="2001",
                                        availability="busy")]}).encode()


# -- signature ------------------------------------------------------------------------------

def test_signed_batch_is_accepted_without_a_bearer_token(svc, db):
    st, doc, _ = svc.post_events([event("station.state", station="2001", availability="busy")])
    assert st == 202 and doc == {"accepted": 1, "duplicates": 0}
    assert stored(db) == 1


@pytest.mark.parametrize("case", ["wrong_secret", "no_signature", "no_timestamp", "no_headers",
                                  "stale", "future", "non_numeric", "fraction", "negative",
                                  "upper_case_hex", "no_v1_prefix", "truncated"])
def test_bad_signature_is_401_and_nothing_stored(svc, db, case):
    body = good_body()
    now = int(time.time())
    h = sign(SECRET, body)
    if case == "wrong_secret":
        h = sign("another-secret-0123456789abcdef", body)
    elif case == "no_signature":
        del h["X-Callbackd-Signature"]
    elif case == "no_timestamp":
        del h["X-Callbackd-Timestamp"]
    elif case == "no_headers":
        h = {}
    elif case == "stale":
        h = sign(SECRET, body, now - 310)
    elif case == "future":
        h = sign(SECRET, body, now + 310)
    elif case == "non_numeric":
        h = sign(SECRET, body, "12a")
        h["X-Callbackd-Timestamp"] = "12a"
    elif case == "fraction":
        h = sign(SECRET, body, f"{now}.5")
    elif case == "negative":
        h = sign(SECRET, body, "-1")
    elif case == "upper_case_hex":
        h["X-Callbackd-Signature"] = "v1=" + h["X-Callbackd-Signature"][3:].upper()
    elif case == "no_v1_prefix":
        h["X-Callbackd-Signature"] = h["X-Callbackd-Signature"][3:]
    elif case == "truncated":
        h["X-Callbackd-Signature"] = h["X-Callbackd-Signature"][:-1]
    st, doc, rh = raw_post(svc, body, h)
    assert st == 401, (st, doc)
    assert doc["code"] == "bad_signature"
    assert rh["Content-Type"].startswith("application/problem+json")
    assert stored(db) == 0


def test_timestamp_within_300_seconds_is_fine(svc, db):
    body = good_body()
    assert raw_post(svc, body, sign(SECRET, body, int(time.time()) - 250))[0] == 202
    body = good_body()
    assert raw_post(svc, body, sign(SECRET, body, int(time.time()) + 250))[0] == 202
    assert stored(db) == 2


def test_replayed_signature_with_another_body_is_401(svc, db):
    body = good_body()
    h = sign(SECRET, body)
    assert raw_post(svc, body, h)[0] == 202
    other = json.dumps({"events": [event("station.state", station="2001",
                                         availability="idle")]}).encode()
    st, doc, _ = raw_post(svc, other, h)
    assert st == 401 and doc["code"] == "bad_signature"
    # The same body replayed is a duplicate, acknowledged and not stored again.
    st, doc, _ = raw_post(svc, body, h)
    assert st == 202 and doc == {"accepted": 0, "duplicates": 1}
    assert stored(db) == 1


def test_signature_is_checked_before_the_json(svc):
    body = b'{"events": [nope'
    st, doc, _ = raw_post(svc, body, sign("wrong-secret-0123456789abcdef", body))
    assert st == 401 and doc["code"] == "bad_signature"
    st, doc, _ = raw_post(svc, body, sign(SECRET, body))
    assert st == 400 and doc["code"] == "malformed_json"
    st, doc, _ = raw_post(svc, b"[1, 2]", sign(SECRET, b"[1, 2]"))
    assert st == 400 and doc["code"] == "malformed_json"


def test_body_over_one_mebibyte_is_413(svc, db):
    ev = event("station.state", station="2001", availability="busy")
    ev["id"] = "x" * 100
    big = json.dumps({"events": [ev], "pad": "p" * (1024 * 1024)}).encode()
    st, doc, _ = raw_post(svc, big, sign(SECRET, big))
    assert st == 413 and doc["code"] == "payload_too_large"
    assert stored(db) == 0


def test_a_batch_of_500_events_near_one_mebibyte_is_accepted(svc, db):
    evs = [event("station.state", station="2001", availability="busy") for _ in range(500)]
    for e in evs:
        e["id"] = e["id"] + "-" + "z" * (100 - len(e["id"]))
    st, doc, _ = svc.post_events(evs)
    assert st == 202 and doc == {"accepted": 500, "duplicates": 0}
    assert stored(db) == 500


# -- validation -----------------------------------------------------------------------------

GOOD = {
    "station.state": {"station": "2001", "availability": "busy"},
    "station.hook": {"station": "2001", "hook": "off"},
    "station.feature": {"station": "2001", "feature": "dnd", "active": True},
    "station.forward": {"station": "2001", "forward_to": "2002"},
    "station.failover": {"station": "2001", "failed_over": True},
    "console.availability": {"station": "2001", "available": False},
    "trunk.state": {"trunk_group": "9", "line": "L1", "state": "busy"},
    "call.attempt": {"from": "2001", "to": "2002", "result": "busy"},
    "call.connected": {"call_id": "c-1", "parties": ["2001", "2002"], "conference": False},
    "recall.result": {"callback_id": "7b1c6a4e-2f0d-4c1e-9a51-0f6f2b3c4d5e", "result": "answered"},
    "digits": {"station": "2001", "digits": "#41", "call_state": "idle"},
}

# (type, field, bad value or MISSING): each refuses the batch with that field named.
MISSING = object()
BAD = [
    ("station.state", "station", "20a1"),
    ("station.state", "station", MISSING),
    ("station.state", "availability", "bsy"),
    ("station.hook", "hook", "up"),
    ("station.hook", "station", 2001),
    ("station.feature", "feature", "silence"),
    ("station.feature", "active", "yes"),
    ("station.forward", "forward_to", "abc"),
    ("station.forward", "forward_to", 2002),
    ("station.forward", "station", "x" * 33),
    ("station.failover", "failed_over", "true"),
    ("console.availability", "available", 1),
    ("console.availability", "available", MISSING),
    ("trunk.state", "trunk_group", "nine"),
    ("trunk.state", "line", ""),
    ("trunk.state", "state", "free"),
    ("call.attempt", "from", MISSING),
    ("call.attempt", "to", "55-12"),
    ("call.attempt", "result", "ok"),
    ("call.connected", "call_id", ""),
    ("call.connected", "parties", "2001"),
    ("call.connected", "parties", []),
    ("call.connected", "conference", MISSING),
    ("recall.result", "callback_id", "not-a-uuid"),
    ("recall.result", "result", "ringing"),
    ("digits", "digits", "12a"),
    ("digits", "call_state", "dialing"),
    ("digits", "station", None),
]


def bad_event(type, field, value):
    ev = event(type, **GOOD[type])
    if value is MISSING:
        del ev[field]
    else:
        ev[field] = value
    return ev


@pytest.mark.parametrize("type,field,value", BAD, ids=[f"{t}-{f}-{i}" for i, (t, f, _) in enumerate(BAD)])
def test_one_bad_field_refuses_the_batch(svc, db, type, field, value):
    good = [event(t, **f) for t, f in GOOD.items()]
    batch = good[:3] + [bad_event(type, field, value)] + good[3:]
    st, doc, _ = svc.post_events(batch)
    assert st == 422, (st, doc)
    assert doc["code"] == "validation_failed"
    fields = [e["field"] for e in doc["errors"]]
    assert any(f == f"events[3].{field}" or f.startswith(f"events[3].{field}[") for f in fields), fields
    assert all(f.startswith("events[3].") for f in fields), fields
    assert stored(db) == 0
    # The good events of the refused batch were not kept: sent again they are new.
    st, doc, _ = svc.post_events(good)
    assert st == 202 and doc == {"accepted": len(good), "duplicates": 0}


def test_every_event_type_with_good_fields_is_accepted(svc, db):
    evs = [event(t, **f) for t, f in GOOD.items()]
    evs.append(event("digits", station="2001", digits="*41", call_state="busy_tone", dialed="2002"))
    evs.append(event("station.forward", station="2001", forward_to=None))
    evs.append(event("station.state", station="2001", availability="idle",
                     at="2026-11-25T10:00:00.123+01:00"))
    st, doc, _ = svc.post_events(evs)
    assert st == 202 and doc == {"accepted": len(evs), "duplicates": 0}


@pytest.mark.parametrize("mutate,field", [
    (lambda e: e.pop("id"), "id"),
    (lambda e: e.update(id=""), "id"),
    (lambda e: e.update(id="i" * 129), "id"),
    (lambda e: e.update(id=42), "id"),
    (lambda e: e.update(type="station.explode"), "type"),
    (lambda e: e.pop("type"), "type"),
    (lambda e: e.update(at="yesterday"), "at"),
    (lambda e: e.update(at="2026-13-01T00:00:00Z"), "at"),
    (lambda e: e.update(at=1764064800), "at"),
])
def test_common_fields_are_checked(svc, db, mutate, field):
    ev = event("station.state", station="2001", availability="busy")
    mutate(ev)
    st, doc, _ = svc.post_events([event("station.hook", station="2001", hook="off"), ev])
    assert st == 422 and doc["code"] == "validation_failed", (st, doc)
    assert f"events[1].{field}" in [e["field"] for e in doc["errors"]], doc
    assert stored(db) == 0


def test_id_of_128_characters_is_fine(svc, db):
    ev = event("station.state", station="2001", availability="busy")
    ev["id"] = "i" * 128
    assert svc.post_events([ev])[0] == 202


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": {}}, {"events": "x"},
                                  {"events": None}])
def test_batch_shape_is_checked(svc, db, body):
    st, doc, _ = svc.post_events([], raw=json.dumps(body))
    assert st == 422 and doc["code"] == "validation_failed", (st, doc)
    assert "events" in [e["field"] for e in doc["errors"]]


def test_more_than_500_events_is_422(svc, db):
    evs = [event("station.state", station="2001", availability="busy") for _ in range(501)]
    st, doc, _ = svc.post_events(evs)
    assert st == 422 and doc["code"] == "validation_failed"
    assert stored(db) == 0


def test_several_bad_events_are_all_reported(svc):
    evs = [bad_event("station.state", "availability", "x"),
           event("station.state", station="2001", availability="busy"),
           bad_event("trunk.state", "state", "x")]
    st, doc, _ = svc.post_events(evs)
    assert st == 422
    fields = [e["field"] for e in doc["errors"]]
    assert "events[0].availability" in fields and "events[2].state" in fields


def test_event_about_an_unknown_number_is_stored_and_ignored(svc, db):
    provision(svc)
    doc = svc.send(event("station.state", station="7777", availability="busy"),
                   event("station.state", station="2001", availability="busy"))
    assert doc == {"accepted": 2, "duplicates": 0}
    wait_applied(db)
    outcomes = db.rows("SELECT body->>'station', outcome FROM pbx_events ORDER BY seq")
    assert outcomes == [["7777", "ignored"], ["2001", "applied"]]
    svc.error("GET", "/v1/stations/7777", status=404, code="not_found")


# -- duplicates and order (CB-50) -----------------------------------------------------------

def test_cb50_duplicates_across_batches_are_acknowledged_and_ignored(svc, db):
    provision(svc)
    e1 = event("station.state", station="2001", availability="busy")
    assert svc.send(e1) == {"accepted": 1, "duplicates": 0}
    wait_state(svc, "2001", availability="busy")
    svc.send(event("station.state", station="2001", availability="idle"))
    wait_state(svc, "2001", availability="idle")
    # e1 again (even with another body) is a duplicate: not stored, not applied again.
    again = dict(e1, availability="busy")
    e2 = event("station.hook", station="2001", hook="off")
    assert svc.send(again, e2) == {"accepted": 1, "duplicates": 1}
    wait_state(svc, "2001", hook="off")
    wait_applied(db)
    assert svc.ok("GET", "/v1/stations/2001")["state"]["availability"] == "idle"
    assert stored(db) == 3


def test_cb50_duplicates_within_one_batch(svc, db):
    provision(svc)
    a = cancel_all("2001")
    b = event("station.hook", station="2001", hook="off")
    doc = svc.send(a, b, a, dict(b, hook="on"), a)
    assert doc == {"accepted": 2, "duplicates": 3}
    wait_applied(db)
    assert stored(db) == 2
    # Applied once: one reorder tone, and the hook from the first copy of b.
    assert db.count("SELECT count(*) FROM commands WHERE type = 'tone'") == 1
    assert svc.ok("GET", "/v1/stations/2001")["state"]["hook"] == "off"


def test_cb50_batch_order_is_kept(svc, db):
    provision(svc)
    evs = []
    for i in range(60):
        evs.append(event("station.forward", station="2001", forward_to=f"3{i:03d}"))
        evs.append(event("station.state", station="2002", availability="busy" if i % 2 else "idle"))
    svc.send(*evs)
    ids = [r[0] for r in db.rows("SELECT id FROM pbx_events ORDER BY seq")]
    assert ids == [e["id"] for e in evs]
    wait_applied(db)
    st1 = svc.ok("GET", "/v1/stations/2001")["state"]
    st2 = svc.ok("GET", "/v1/stations/2002")["state"]
    assert st1["forward_to"] == "3059" and st2["availability"] == "busy"


def test_cb50_sequential_batches_apply_in_order(svc, db):
    provision(svc)
    for i in range(40):
        svc.send(event("station.forward", station="2003", forward_to=f"4{i:03d}"))
    wait_state(svc, "2003", forward_to="4039")
    seqs = db.rows("SELECT body->>'forward_to' FROM pbx_events ORDER BY applied_at, seq")
    assert [r[0] for r in seqs] == [f"4{i:03d}" for i in range(40)]


def test_cb50_concurrent_webhooks_share_statements_and_each_counts_its_own(svc, pg, db_url, db):
    """Webhooks that arrive together are stored by shared statements (group commit:
    service/event_batch.c). Each still answers its own new and duplicate events as if stored
    alone, every id is stored once, and each webhook's events keep their order. A session
    holding a SHARE lock on pbx_events makes the first statements wait in callbackd, so the
    webhooks posted meanwhile queue behind them whatever the machine's speed."""
    provision(svc)
    shared = [event("station.forward", station="2001", forward_to=f"5{i:03d}") for i in range(4)]
    owns, bodies = [], []
    for k in range(16):  # the service's HTTP threads (16): none waits for a thread
        own = [event("station.forward", station="2002", forward_to=f"6{k:02d}{j}") for j in range(3)]
        owns.append(own)
        bodies.append(own[:1] + shared + own[1:] + own[:1])  # 8 events: 3 own, 4 shared, a repeat
    stores_before = metric(svc, "callbackd_event_stores_total")
    answers = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def one(i):
        start.wait()
        answers[i] = svc.post_events(bodies[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    with pg.holding(db_url, "BEGIN; LOCK TABLE pbx_events IN SHARE MODE;", "COMMIT;"):
        for t in threads:
            t.start()
        wait_for(lambda: db.count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type"
                                  " = 'Lock' AND query LIKE '%INSERT INTO pbx_events%'") >= 1, 10)
        time.sleep(0.5)  # the others queue behind the waiting statements
    for t in threads:
        t.join()
    assert all(a[0] == 202 for a in answers), answers
    docs = [a[1] for a in answers]
    # Own events are new and the repeat a duplicate; the shared ones are new in one webhook.
    assert all(d["accepted"] + d["duplicates"] == 8 for d in docs), docs
    assert sorted(d["accepted"] for d in docs) == [3] * 15 + [7], docs
    stores = metric(svc, "callbackd_event_stores_total") - stores_before
    assert 1 <= stores < len(bodies), stores
    assert stored(db) == 16 * 3 + 4
    seq = {r[0]: int(r[1]) for r in db.rows("SELECT id, seq FROM pbx_events")}
    for own in owns:
        assert seq[own[0]["id"]] < seq[own[1]["id"]] < seq[own[2]["id"]]
    wait_applied(db)


def test_metrics_count_events(svc, db):
    provision(svc)
    e = event("station.state", station="2001", availability="busy")
    svc.send(e, e, event("station.state", station="9999", availability="busy"))
    wait_applied(db)
    st, text, _ = svc.call("GET", "/metrics", token=None)
    assert 'callbackd_events_total{outcome="received"} 3' in text
    assert 'callbackd_events_total{outcome="duplicate"} 1' in text
    wait_for(lambda: 'callbackd_events_total{outcome="ignored"} 1' in
             svc.call("GET", "/metrics", token=None)[1], 5)
    text = svc.call("GET", "/metrics", token=None)[1]
    assert 'callbackd_events_total{outcome="applied"} 1' in text
    assert "callbackd_worker_leader 1" in text
    assert "callbackd_inbox_lag 0" in text


# -- outage ---------------------------------------------------------------------------------

def test_database_outage_is_503_then_events_are_accepted_again(private_pg, start_service):
    url = private_pg.db_url(private_pg.create_db())
    svc = start_service(url)
    provision(svc)
    svc.send(event("station.state", station="2001", availability="busy"))
    private_pg.stop()
    t0 = time.monotonic()
    lost = event("station.hook", station="2001", hook="off")
    st, doc, _ = svc.post_events([lost])
    assert st == 503 and doc["code"] == "service_unavailable", (st, doc)
    assert time.monotonic() - t0 < 8
    private_pg.start()
    wait_for(lambda: svc.post_events([lost])[0] == 202, 20, msg="events accepted again")
    wait_state(svc, "2001", availability="busy", hook="off", timeout=15)
