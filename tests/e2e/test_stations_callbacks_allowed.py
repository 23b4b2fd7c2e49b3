"""A station shows whether its class of service allows callbacks (`callbacks_allowed`, CB-03),
wherever it is rendered: GET of one, the list, the answer of a PUT, and the stream's `station`
event, which a phone app follows to say "callbacks are not allowed on this phone". It follows
the COS: turning the COS's option over, or moving the station to another COS, changes it at
once, and is a `station` change on the stream for every station of that COS (not only those
presenting a softkey)."""

import time

from harness import event
from stream_helpers import open_stream, station_as_streamed


def provision(svc):
    svc.ok("PUT", "/v1/classes-of-service/forbid", {"callbacks_allowed": False})
    svc.ok("PUT", "/v1/classes-of-service/allow", {"callbacks_allowed": True})
    a = svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "forbid"})
    b = svc.ok("PUT", "/v1/stations/2002", {"kind": "ip_phone", "cos": "allow"})
    return a, b


def station_token(svc, number):
    return svc.ok("POST", "/v1/tokens", {"scopes": [f"station:{number}"]}, status=201)["token"]


def test_every_rendering_of_a_station_shows_its_cos_option(svc):
    a, b = provision(svc)
    assert (a["cos"], a["callbacks_allowed"]) == ("forbid", False)  # the PUT's answer
    assert (b["cos"], b["callbacks_allowed"]) == ("allow", True)
    assert svc.ok("GET", "/v1/stations/2001")["callbacks_allowed"] is False
    assert svc.ok("GET", "/v1/stations/2002")["callbacks_allowed"] is True
    listed = {s["number"]: s["callbacks_allowed"] for s in svc.ok("GET", "/v1/stations")["items"]}
    assert listed == {"2001": False, "2002": True}
    # The phone app's own token reads it too.
    tok = station_token(svc, "2001")
    assert svc.ok("GET", "/v1/stations/2001", token=tok)["callbacks_allowed"] is False


def test_it_says_what_a_set_will_meet(svc):
    provision(svc)
    svc.send(event("station.state", station="2002", availability="busy"))
    tok = station_token(svc, "2001")
    svc.error("POST", "/v1/callbacks", {"requester": "2001", "target": "2002"}, token=tok,
              status=403, code="callbacks_not_allowed")
    svc.ok("PUT", "/v1/classes-of-service/forbid", {"callbacks_allowed": True})
    assert svc.ok("GET", "/v1/stations/2001", token=tok)["callbacks_allowed"] is True
    svc.ok("POST", "/v1/callbacks", {"requester": "2001", "target": "2002"}, token=tok,
           status=201)


def test_it_follows_the_cos_and_the_station_moving_to_another(svc):
    provision(svc)
    svc.ok("PUT", "/v1/classes-of-service/forbid", {"callbacks_allowed": True})
    assert svc.ok("GET", "/v1/stations/2001")["callbacks_allowed"] is True
    svc.ok("PUT", "/v1/classes-of-service/forbid", {"callbacks_allowed": False})
    assert svc.ok("GET", "/v1/stations/2001")["callbacks_allowed"] is False
    moved = svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "allow"})
    assert (moved["cos"], moved["callbacks_allowed"]) == ("allow", True)


def test_a_get_put_back_keeps_the_cos_and_ignores_the_field(svc):
    a, _ = provision(svc)
    body = dict(a, callbacks_allowed=True)  # read-only: cannot allow callbacks by itself
    again = svc.ok("PUT", "/v1/stations/2001", body)
    assert (again["cos"], again["callbacks_allowed"]) == ("forbid", False)
    assert svc.ok("GET", "/v1/classes-of-service/forbid")["callbacks_allowed"] is False


def station_events(stream, want, timeout=5.0):
    """The stream's next station events up to and including those listed in `want` (pairs of
    number and callbacks_allowed, in any order); a stream opened just after a change may still
    carry it first (the provisioning's inserts), which is skipped when it is not wanted."""
    wanted, got = set(want), []
    deadline = time.monotonic() + timeout
    while wanted:
        m = stream.next(max(deadline - time.monotonic(), 0.001))
        key = (m["data"]["number"], m["data"]["callbacks_allowed"])
        if key in wanted:
            wanted.discard(key)
            got.append(m)
    return got


def test_the_stream_carries_it_for_every_station_of_a_cos_that_changes(svc):
    provision(svc)
    svc.ok("PUT", "/v1/stations/2003", {"kind": "analog", "cos": "forbid"})
    phone = open_stream(svc, "/v1/stream?types=station", token=station_token(svc, "2001"))
    admin = open_stream(svc, "/v1/stream?types=station")

    # No station of the COS has a failed attempt: each is a change all the same.
    svc.ok("PUT", "/v1/classes-of-service/forbid", {"callbacks_allowed": True})
    [m] = station_events(phone, [("2001", True)])
    assert m["event"] == "station" and m["data"] == station_as_streamed(svc, "2001")
    got = station_events(admin, [("2001", True), ("2003", True)])
    assert abs(got[0]["id"] - got[1]["id"]) == 1  # one transaction, numbered together

    # The station moved to another COS, then that COS turned to forbid.
    svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "allow"})
    m = phone.next()
    assert (m["data"]["number"], m["data"]["callbacks_allowed"]) == ("2001", True)
    svc.ok("PUT", "/v1/classes-of-service/allow", {"callbacks_allowed": False})
    m = phone.next()
    assert (m["data"]["number"], m["data"]["callbacks_allowed"]) == ("2001", False)
    # The same option again is no change; the phone sees nothing of other stations.
    svc.ok("PUT", "/v1/classes-of-service/allow", {"callbacks_allowed": False})
    svc.ok("PUT", "/v1/classes-of-service/forbid", {"callbacks_allowed": False})
    assert phone.quiet(0.5) == []
    assert svc.ok("GET", "/v1/stations/2001")["callbacks_allowed"] is False
    phone.close()
    admin.close()
