"""Hostile input on every route: no 500 for anything a client sends (issue 10).

Whatever bytes the path, the query, the headers or the body hold, the answer is the code openapi.yaml
gives - 404 `not_found` for a path parameter that cannot name anything, 422 `validation_failed`
naming the parameter otherwise - in a problem document that is never empty; the request's log
line keeps its fields; nothing reaches the database that it would refuse (no error-level log
line). Requests are written byte for byte on a socket, so that the path and the headers carry
exactly the bytes under test.
"""

import base64
import http.client
import json
import socket
import uuid

import pytest

from harness import Service, labelled, sign, wait_for

UUID = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture(scope="module")
def hs(pg):
    """One service for the module, with a directory to aim at: stations 2001 and 2002 (COS
    std), trunk group 9, hunt group 600."""
    dbname = pg.create_db("cbhostile")
    svc = Service(pg.db_url(dbname)).start()
    try:
        svc.ok("PUT", "/v1/classes-of-service/std", {"callbacks_allowed": True})
        for n in ("2001", "2002"):
            svc.ok("PUT", f"/v1/stations/{n}", {"kind": "ip_phone", "cos": "std"})
        svc.ok("PUT", "/v1/trunk-groups/9", {"lines": ["9-L1"], "callback_activation": True})
        svc.ok("PUT", "/v1/hunt-groups/600", {"members": ["2001"], "callback_activation": True})
        yield svc
        status = svc.stop()
        assert status == 0, f"callbackd exited {status} on SIGTERM"
        assert not svc.sanitizer_reports(), svc.sanitizer_reports()[:5]
    finally:
        svc.cleanup()
        pg.drop_db(dbname)


@pytest.fixture(autouse=True)
def no_server_error(hs):
    """After each test: no request answered 5xx and no error-level line was logged."""
    before = len(hs.log_records())
    yield
    bad = [r for r in hs.log_records()[before:]
           if r.get("level") == "error" or (r.get("msg") == "request" and r.get("status", 0) >= 500)]
    assert not bad, f"server errors: {bad[:5]}"


class Answer:
    def __init__(self, status, headers, payload):
        self.status, self.headers, self.payload = status, headers, payload
        try:
            self.doc = json.loads(payload) if payload else None
        except ValueError:
            self.doc = None


def raw(svc, method, target, headers=(), body=None, token=True):
    """One request written as bytes: `target` (str or bytes) goes on the request line as is,
    `headers` is a list of (name, value) pairs (bytes or str; a name may repeat)."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode()
    lines = [b(method) + b" " + b(target) + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if token:
        lines.append(b"Authorization: Bearer " + b(svc.admin))
    for name, value in headers:
        lines.append(b(name) + b": " + b(value))
    if body is not None:
        lines.append(b"Content-Length: %d" % len(b(body)))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + (b(body) if body is not None else b"")
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as s:
        s.sendall(data)
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        payload = resp.read()
        return Answer(resp.status, resp.headers, payload)


def problem(a, status, code, field=None, what=""):
    """`a` must be the problem document of `status` / `code` (naming `field` when given)."""
    assert a.status == status, f"{what} -> {a.status} (wanted {status}): {a.payload[:300]!r}"
    ctype = a.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", f"{what}: {ctype!r}"
    assert isinstance(a.doc, dict), f"{what}: the problem body is not JSON: {a.payload!r}"
    for k in ("type", "title", "status", "detail", "code"):
        assert k in a.doc, f"{what}: problem without {k}: {a.doc}"
    assert (a.doc["status"], a.doc["code"]) == (status, code), f"{what}: {a.doc}"
    if field is not None:
        fields = [e["field"] for e in a.doc.get("errors", [])]
        assert field in fields, f"{what}: {field} not in {fields}"
    return a.doc


def cursor(position):
    """A cursor as this service writes one (base64url, no padding) of raw bytes."""
    if isinstance(position, str):
        position = position.encode()
    return base64.urlsafe_b64encode(position).decode().rstrip("=")


# -- path parameters ------------------------------------------------------------------------

# (method, path with {} for the parameter, kind): every route of api/routes.c with one.
PARAM_ROUTES = [
    ("GET", "/v1/classes-of-service/{}", "cos"),
    ("PUT", "/v1/classes-of-service/{}", "cos"),
    ("GET", "/v1/stations/{}", "number"),
    ("PUT", "/v1/stations/{}", "number"),
    ("DELETE", "/v1/stations/{}", "number"),
    ("GET", "/v1/trunk-groups/{}", "number"),
    ("PUT", "/v1/trunk-groups/{}", "number"),
    ("DELETE", "/v1/trunk-groups/{}", "number"),
    ("GET", "/v1/hunt-groups/{}", "number"),
    ("PUT", "/v1/hunt-groups/{}", "number"),
    ("DELETE", "/v1/hunt-groups/{}", "number"),
    ("GET", "/v1/stations/{}/callbacks", "number"),
    ("POST", "/v1/stations/{}/callbacks", "number"),
    ("DELETE", "/v1/stations/{}/callbacks", "number"),
    ("GET", "/v1/callbacks/{}", "uuid"),
    ("DELETE", "/v1/callbacks/{}", "uuid"),
    ("GET", "/v1/callbacks/{}/history", "uuid"),
    ("POST", "/v1/callbacks/{}/call-again", "uuid"),
]

# Escaped as they go on the request line: not UTF-8 (0xFF, overlong "/", a UTF-16 surrogate,
# past U+10FFFF), NUL (which must not cut "2001%00" down to the station 2001), spaces, line
# separators, too long, signs.
BAD = {
    "number": ["%ff", "%FF%FE", "%c0%af", "%ed%a0%80", "%f4%90%80%80", "2001%00", "20%0001",
               "%00", "2001%20", "%e2%80%a8", "1" * 33, "9" * 150, "-1", "2001%0a", "%2b2001"],
    "cos": ["%ff", "std%00", "st%c0%80d", "x" * 33, "%c3%a9t%c3%a9", "std%20", "%e2%80%a8"],
    "uuid": ["%ff", UUID + "%00", UUID[:-1] + "%ff", UUID + "0", "%c0%ae" * 12],
}
NAME = {"number": "number", "cos": "id", "uuid": "id"}


def test_path_parameters_that_cannot_name_anything_are_404_or_422_on_put(hs):
    for method, template, kind in PARAM_ROUTES:
        body = "{}" if method in ("PUT", "POST") else None
        headers = [("Content-Type", "application/json")] if body else []
        for bad in BAD[kind]:
            what = f"{method} {template.format(bad)}"
            with labelled(what):
                a = raw(hs, method, template.format(bad), headers, body)
                if method == "PUT":
                    problem(a, 422, "validation_failed", NAME[kind], what)
                else:
                    problem(a, 404, "not_found", None, what)
    # Nothing was created, removed or cancelled.
    numbers = [s["number"] for s in hs.ok("GET", "/v1/stations")["items"]]
    assert numbers == ["2001", "2002"]
    assert [c["id"] for c in hs.ok("GET", "/v1/classes-of-service")["items"]] == ["std"]


def test_request_log_lines_keep_their_fields_whatever_the_path(hs):
    for target, route, status in [
        ("/v1/stations/%ff", "/v1/stations/{number}", 404),
        ("/v1/stations/%c0%af/callbacks", "/v1/stations/{number}/callbacks", 404),
        ("/v1/nothing/%ff%00%0a", "", 404),
        ("/v1/stations?cursor=_w", "/v1/stations", 422),
    ]:
        with labelled(target):
            a = raw(hs, "GET", target)
            assert a.status == status and a.doc and a.doc.get("detail"), (a.status, a.payload)
            rid = a.headers["X-Request-Id"]
            # The line is written once the answer is sent.
            line = wait_for(lambda: next((r for r in hs.log_records() if r.get("msg") == "request"
                                          and r.get("request_id") == rid), None),
                            5, msg=f"the request line of {rid}")
            assert (line.get("method"), line.get("route"), line.get("status")) == \
                ("GET", route, status), line
            assert isinstance(line.get("path"), str) and line["path"].startswith("/v1/"), line
    assert any(r.get("path") == "/v1/stations/%FF" for r in hs.log_records()), \
        "bytes that are not UTF-8 are logged %XX-escaped"


# -- query parameters -------------------------------------------------------------------------

def test_list_cursors_this_service_did_not_issue_are_422(hs):
    lists = {
        "/v1/stations": [b"\xff", b"2001\xff", b"abc", b"2001 ", b"1" * 33],
        "/v1/trunk-groups": [b"\xff", b"9\xc0\xaf", b"x"],
        "/v1/hunt-groups": [b"\xff", b"\xed\xa0\x80", b"60 0"],
        "/v1/classes-of-service": [b"\xff", b"st d", b"\xc3\xa9t\xc3\xa9", b"x" * 33],
        "/v1/callbacks": [f"n:99999999999999999999999:{UUID}", f"n:9223372036854775808:{UUID}",
                          f"n:0:{UUID}", f"n:-1:{UUID}", f"n:+5:{UUID}", f"n: 5:{UUID}",
                          f"p:1e5:{UUID}", "n:5:not-a-uuid", f"x:5:{UUID}", "n:5", b"\xff"],
        "/v1/stations/2001/callbacks": ["n:99999999999999999999", "n:", "n:0", "p:-3", "n:5:x",
                                        "q:5", "n: 5", b"n:\xff"],
        "/v1/commands": ["99999999999999999999", "-1", "1.5", " 1", "", b"\xff"],
    }
    for path, positions in lists.items():
        for pos in positions:
            what = f"GET {path} cursor {pos!r}"
            with labelled(what):
                problem(raw(hs, "GET", f"{path}?cursor={cursor(pos)}"), 422, "validation_failed",
                        "cursor", what)
        for text in ["_w", "%ff", "%00", "a%00b", "!!", "", "A" * 400]:
            what = f"GET {path}?cursor={text}"
            with labelled(what):
                problem(raw(hs, "GET", f"{path}?cursor={text}"), 422, "validation_failed",
                        "cursor", what)
    # The cursors the service does issue still page through a list.
    seen, nxt = [], None
    while True:
        page = hs.ok("GET", "/v1/stations?limit=1" + (f"&cursor={nxt}" if nxt else ""))
        seen += [s["number"] for s in page["items"]]
        nxt = page["next_cursor"]
        if not nxt:
            break
    assert seen == ["2001", "2002"]


def test_query_parameters_are_utf8_and_given_once(hs):
    for query, field in [
        ("state=%ff", "state"),            # was an unfiltered 200 (the 422 entry was lost)
        ("state=pending%00", "state"),
        ("state=%c0%af&state=pending", "state"),
        ("&".join(["state=pending"] * 9), "state"),
        ("limit=5&limit=6", "limit"),
        ("cursor=a&cursor=b", "cursor"),
        ("requester=2001&requester=2002", "requester"),
        ("requester=2001%00", "requester"),  # was the same as requester=2001
        ("limit", "limit"),
        ("limit=", "limit"),
        ("limit=+5", "limit"),
        ("limit=%205", "limit"),
        ("limit=5%00", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=0", "limit"),
        ("created_after=%20%202026-01-01T00:00:00Z", "created_after"),
        ("created_after=2026-02-30T00:00:00Z", "created_after"),
        ("created_after=2026-01-01T24:00:00Z", "created_after"),
        ("created_after=2026-01-01T00:00:00%2B-1:00", "created_after"),
        ("created_after=99999-01-01T00:00:00Z", "created_after"),
        ("created_before=2026-01-01T00:00:00", "created_before"),
        ("created_before=2026-01-01", "created_before"),
    ]:
        what = f"GET /v1/callbacks?{query}"
        with labelled(what):
            problem(raw(hs, "GET", f"/v1/callbacks?{query}"), 422, "validation_failed", field,
                    what)
    for query, field in [("after=%ff", "after"), ("after=99999999999999999999", "after"),
                         ("after=-1", "after"), ("after=1&after=2", "after")]:
        with labelled(query):
            problem(raw(hs, "GET", f"/v1/commands?{query}"), 422, "validation_failed", field,
                    query)
    # `state` alone may repeat; RFC 3339 with fractions and offsets is fine; parameters that
    # no route reads are ignored, whatever they hold.
    for query in ["state=pending&state=active", "created_after=2026-01-01T00:00:00.5%2B01:00",
                  "created_before=2026-02-28T23:59:60Z&limit=500", "%ff=1&x=%c0%af&x=%00",
                  "&".join(f"p{i}=1" for i in range(40))]:
        with labelled(query):
            a = raw(hs, "GET", f"/v1/callbacks?{query}")
            assert a.status == 200 and a.doc["items"] == [], (a.status, a.payload)
    a = raw(hs, "GET", "/v1/stations/2001?x=%ff&x=1")
    assert a.status == 200 and a.doc["number"] == "2001", (a.status, a.payload)


# -- headers ----------------------------------------------------------------------------------

def test_idempotency_key_must_be_printable_ascii_and_given_once(hs):
    body = json.dumps({"requester": "2001", "target": "2002"})
    ctype = ("Content-Type", "application/json")
    for headers in [[("Idempotency-Key", b"\xff")], [("Idempotency-Key", b"k\xc3\xa9y")],
                    [("Idempotency-Key", b"a\x01b")], [("Idempotency-Key", "k" * 256)],
                    [("Idempotency-Key", "")], [("Idempotency-Key", "k1"), ("Idempotency-Key", "k1")]]:
        with labelled(headers):
            a = raw(hs, "POST", "/v1/callbacks", [ctype, *headers], body)
            problem(a, 422, "validation_failed", "Idempotency-Key", str(headers))
    hs.send({"id": f"h-{uuid.uuid4().hex}", "type": "call.attempt", "from": "2001", "to": "2002",
             "result": "no_answer"})
    wait_for(lambda: hs.ok("GET", "/v1/stations/2001")["softkey"]["presented"], 10,
             msg="the softkey of 2001")
    for headers in [[("Idempotency-Key", b"\xff")],
                    [("Idempotency-Key", "k2"), ("Idempotency-Key", "k3")]]:
        with labelled(("softkey", headers)):
            a = raw(hs, "POST", "/v1/stations/2001/callbacks", [ctype, *headers], "{}")
            problem(a, 422, "validation_failed", "Idempotency-Key", str(headers))
    assert hs.ok("GET", "/v1/callbacks?requester=2001")["items"] == []
    # A good key: 201, then the same answer again.
    key = ("Idempotency-Key", "key with spaces ~ " + "k" * 200)
    first = raw(hs, "POST", "/v1/callbacks", [ctype, key], body)
    again = raw(hs, "POST", "/v1/callbacks", [ctype, key], body)
    assert (first.status, again.status) == (201, 201), (first.payload, again.payload)
    assert again.doc["id"] == first.doc["id"]
    hs.ok("DELETE", f"/v1/callbacks/{first.doc['id']}")


def test_headers_given_twice_or_with_odd_bytes(hs):
    # Two Authorization headers are no credentials, whichever comes first.
    for pair in [(hs.admin, "nope"), ("nope", hs.admin), (hs.admin, hs.admin)]:
        a = raw(hs, "GET", "/v1/stations", [("Authorization", f"Bearer {t}") for t in pair],
                token=False)
        problem(a, 401, "unauthorized", None, str(pair))
    for value in [b"Bearer \xff\xfe", b"\xff", b"Bearer " + b"k" * 600, b"Bearer"]:
        a = raw(hs, "GET", "/v1/stations", [("Authorization", value)], token=False)
        problem(a, 401, "unauthorized", None, repr(value))
    # The problem body exists whatever the Content-Type held.
    for headers in [[("Content-Type", b"text/\xff")],
                    [("Content-Type", "application/json"), ("Content-Type", "text/plain")]]:
        with labelled(headers):
            a = raw(hs, "PUT", "/v1/classes-of-service/gold", headers, '{"callbacks_allowed": true}')
            problem(a, 415, "unsupported_media_type", None, str(headers))
    hs.error("GET", "/v1/classes-of-service/gold", status=404, code="not_found")
    # The PBX signature headers, each once.
    body = json.dumps({"events": [{"id": f"h-{uuid.uuid4().hex}", "type": "station.state",
                                   "station": "2002", "availability": "idle"}]})
    signed = sign(hs.secret, body)
    ts, sig = signed["X-Callbackd-Timestamp"], signed["X-Callbackd-Signature"]
    for headers in [[("X-Callbackd-Timestamp", ts), ("X-Callbackd-Timestamp", ts),
                     ("X-Callbackd-Signature", sig)],
                    [("X-Callbackd-Timestamp", ts), ("X-Callbackd-Signature", sig),
                     ("X-Callbackd-Signature", sig)],
                    [("X-Callbackd-Timestamp", b"1\xff"), ("X-Callbackd-Signature", sig)],
                    [("X-Callbackd-Timestamp", "9" * 40), ("X-Callbackd-Signature", sig)]]:
        with labelled(headers):
            a = raw(hs, "POST", "/v1/pbx/events", [("Content-Type", "application/json"), *headers],
                    body, token=False)
            problem(a, 401, "bad_signature", None, str(headers))
    a = raw(hs, "POST", "/v1/pbx/events", [("Content-Type", "application/json"),
                                           ("X-Callbackd-Timestamp", ts),
                                           ("X-Callbackd-Signature", sig)], body, token=False)
    assert a.status == 202, a.payload


# -- bodies -----------------------------------------------------------------------------------

def test_bodies_with_odd_bytes_are_400_or_422(hs):
    ctype = [("Content-Type", "application/json")]
    for body in [b'{"kind": "ip_phone", "cos": "std\\u0000"}', b'{"kind": "\\ud800", "cos": "std"}',
                 b'{"kind": "ip_phone", "cos": "st\xc0\xafd"}', b'{"kind": "ip_phone\xff"}',
                 b'{"resilient": 1e999}', b'{"resilient": 123456789012345678901234567890}',
                 b"[" * 30000, b'{"kind": "ip_phone", "kind": "analog", "cos": "std"}',
                 b'\xef\xbb\xbf{"kind": "ip_phone", "cos": "std"}']:
        with labelled(body[:60]):
            problem(raw(hs, "PUT", "/v1/stations/2003", ctype, body), 400, "malformed_json", None,
                    repr(body[:60]))
    for body, field in [('{"kind": "ip_phone", "cos": "std", "console_group": "\\u2028"}',
                         "console_group"),
                        ('{"kind": "ip_phone", "cos": "' + "s" * 10000 + '"}', "cos"),
                        ('{"kind": "ip_phone", "cos": "std", "prime_line": "2003\\u0660"}',
                         "prime_line"),
                        ('{"kind": "ip_phone", "cos": "std", "\\u00e9": 1}', "\u00e9")]:
        with labelled(body[:60]):
            problem(raw(hs, "PUT", "/v1/stations/2003", ctype, body), 422, "validation_failed",
                    field, body[:60])
    a = raw(hs, "POST", "/v1/callbacks", ctype,
            '{"requester": "2001", "target": "2002", "external_number": "5551234"}')
    problem(a, 422, "validation_failed", None, "external_number on a station")
    hs.error("GET", "/v1/stations/2003", status=404, code="not_found")
