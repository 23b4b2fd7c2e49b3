"""The operator's view (CB-34): list and filter every callback (requester, target, state with
`active`, creation time), newest first, with cursors both ways; read one with its history.
Each test has a service of its own (`fresh_w`): the lists are of the whole system."""

import datetime
import time

from callback_helpers import counted_metrics, fresh_w, metric, query  # noqa: F401


def ids(doc):
    return [i["id"] for i in doc["items"]]


def ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def between(x, y):
    """An RFC 3339 time strictly between the creations of callbacks x and y (x first)."""
    a, b = ts(x["created_at"]), ts(y["created_at"])
    assert b - a >= datetime.timedelta(milliseconds=2), (x["created_at"], y["created_at"])
    mid = a + (b - a) / 2
    return mid.strftime("%Y-%m-%dT%H:%M:%S.") + f"{mid.microsecond // 1000:03d}Z"


def test_cb34_operator_lists_filters_and_pages_both_ways(fresh_w):
    w = fresh_w
    a, b, c, t1, t2 = w.stations(5)
    w.busy(t1)
    w.busy(t2)
    w.settle()
    cbs = []
    for req, tgt, kw in ((a, t1, {}), (b, t1, {}), (a, t2, {}), (c, t2, {"mode": "message"}),
                         (b, t2, {})):
        cbs.append(w.set(req, tgt, **kw))
        time.sleep(0.03)
    cb1, cb2, cb3, cb4, cb5 = cbs
    w.cancel(cb3)
    w.idle(t2)                      # cb5 rings
    w.wait_state(cb5, "notifying")
    op = w.token("operator")

    def lst(**params):
        return w.svc.ok("GET", "/v1/callbacks?" + query(**params), token=op)

    assert ids(lst()) == [x["id"] for x in (cb5, cb4, cb3, cb2, cb1)]
    assert ids(lst(requester=a)) == [cb3["id"], cb1["id"]]
    assert ids(lst(target=t2)) == [cb5["id"], cb4["id"], cb3["id"]]
    assert ids(lst(state="active")) == [x["id"] for x in (cb5, cb4, cb2, cb1)]
    assert ids(lst(state="pending")) == [cb2["id"], cb1["id"]]
    assert ids(lst(state=["cancelled", "notifying"])) == [cb5["id"], cb3["id"]]
    assert ids(lst(state="message_left")) == [cb4["id"]]
    assert ids(lst(requester=b, state="active")) == [cb5["id"], cb2["id"]]
    assert ids(lst(requester=a, target=t2)) == [cb3["id"]]
    assert lst(requester=t1)["items"] == []
    mid23 = between(cb2, cb3)
    assert ids(lst(created_after=mid23)) == [cb5["id"], cb4["id"], cb3["id"]]
    assert ids(lst(created_before=mid23)) == [cb2["id"], cb1["id"]]
    assert ids(lst(created_after=between(cb1, cb2), created_before=between(cb4, cb5))) == \
        [cb4["id"], cb3["id"], cb2["id"]]
    assert ids(lst(created_after=mid23, state="active")) == [cb5["id"], cb4["id"]]

    # Cursors: forward to the end, then back to the start.
    p1 = lst(limit=2)
    assert ids(p1) == [cb5["id"], cb4["id"]] and p1["prev_cursor"] is None and p1["next_cursor"]
    p2 = lst(limit=2, cursor=p1["next_cursor"])
    assert ids(p2) == [cb3["id"], cb2["id"]] and p2["prev_cursor"] and p2["next_cursor"]
    p3 = lst(limit=2, cursor=p2["next_cursor"])
    assert ids(p3) == [cb1["id"]] and p3["next_cursor"] is None and p3["prev_cursor"]
    b2 = lst(limit=2, cursor=p3["prev_cursor"])
    assert ids(b2) == [cb3["id"], cb2["id"]] and b2["next_cursor"] and b2["prev_cursor"]
    b1 = lst(limit=2, cursor=b2["prev_cursor"])
    assert ids(b1) == [cb5["id"], cb4["id"]] and b1["prev_cursor"] is None
    # A cursor keeps the filter's order: target t2, one at a time.
    f1 = lst(target=t2, limit=1)
    f2 = lst(target=t2, limit=1, cursor=f1["next_cursor"])
    f3 = lst(target=t2, limit=1, cursor=f2["next_cursor"])
    assert [ids(f1), ids(f2), ids(f3)] == [[cb5["id"]], [cb4["id"]], [cb3["id"]]]
    assert f3["next_cursor"] is None
    assert ids(lst(target=t2, limit=1, cursor=f3["prev_cursor"])) == [cb4["id"]]
    # A list by state reads its notifying callbacks apart from the others (migration 023); its
    # cursors walk the two as one list, both ways.
    both = ["notifying", "pending"]
    m1 = lst(state=both, limit=1)
    m2 = lst(state=both, limit=1, cursor=m1["next_cursor"])
    m3 = lst(state=both, limit=1, cursor=m2["next_cursor"])
    assert [ids(m1), ids(m2), ids(m3)] == [[cb5["id"]], [cb2["id"]], [cb1["id"]]]
    assert m1["prev_cursor"] is None and m3["next_cursor"] is None
    assert ids(lst(state=both, limit=2, cursor=m3["prev_cursor"])) == [cb5["id"], cb2["id"]]
    assert ids(lst(state="notifying")) == [cb5["id"]]

    # Read one with its history; cancel any.
    assert w.svc.ok("GET", f"/v1/callbacks/{cb5['id']}", token=op)["state"] == "notifying"
    hist = w.svc.ok("GET", f"/v1/callbacks/{cb5['id']}/history", token=op)["items"]
    assert [(h["from"], h["to"]) for h in hist] == [(None, "pending"), ("pending", "notifying")]
    assert w.svc.ok("DELETE", f"/v1/callbacks/{cb2['id']}", token=op)["end_reason"] == "requested"
    assert ids(lst(state="active")) == [x["id"] for x in (cb5, cb4, cb1)]

    # The system as a whole: health and metrics (no token needed).
    assert w.svc.call("GET", "/healthz", token=None)[0] == 200
    assert w.svc.call("GET", "/readyz", token=None)[0] == 200
    text = counted_metrics(w.svc)
    by_state = {s: metric(text, "callbackd_callbacks", f'{{state="{s}"}}')
                for s in ("pending", "notifying", "recalling", "queued", "message_left")}
    assert by_state == {"pending": 1, "notifying": 1, "recalling": 0, "queued": 0,
                        "message_left": 1}, by_state

    # A callback that stops ringing leaves the notifying ones.
    w.cancel(cb5)
    assert lst(state="notifying")["items"] == []
    assert ids(lst(state=["cancelled", "notifying"])) == [cb5["id"], cb3["id"], cb2["id"]]


def test_cb34_operator_list_refuses_bad_filters(fresh_w):
    w = fresh_w
    op = w.token("operator")
    for q, field in (("state=bogus", "state"), ("created_after=yesterday", "created_after"),
                     ("created_before=2024-13-01T00:00:00Z", "created_before"),
                     ("requester=12ab", "requester"), ("cursor=zzz", "cursor"),
                     ("limit=501", "limit"), ("limit=0", "limit")):
        doc = w.svc.error("GET", "/v1/callbacks?" + q, token=op, status=422,
                          code="validation_failed")
        assert field in [e["field"] for e in doc["errors"]], (q, doc)
    station = w.station()
    tok = w.token(f"station:{station}")
    w.svc.error("GET", "/v1/callbacks", token=tok, status=403, code="forbidden")
