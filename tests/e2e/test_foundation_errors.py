"""Every error code of openapi.yaml reachable without callbacks, RFC 9457 problem details,
X-Request-Id on every answer, and token scopes (POST /v1/tokens)."""

import json
import time

import pytest

from harness import ADMIN, SECRET, FakePBX, event, labelled, sign, wait_for


def setup_directory(svc):
    svc.ok("PUT", "/v1/classes-of-service/std", {"callbacks_allowed": True})
    for n in ("2001", "2002"):
        svc.ok("PUT", f"/v1/stations/{n}", {"kind": "ip_phone", "cos": "std"})


def mint(svc, *scopes, token=ADMIN):
    st, doc, _ = svc.call("POST", "/v1/tokens", {"scopes": list(scopes)}, token=token)
    assert st in (200, 201), (st, doc)
    assert isinstance(doc.get("id"), str) and doc["id"]
    assert isinstance(doc.get("token"), str) and len(doc["token"]) >= 16
    return doc


# -- 400 ----------------------------------------------------------------------------------------

def test_malformed_json_is_400(svc):
    # (An empty body is {}: test_foundation_provisioning.py.)
    for raw in ["{not json", "[1, 2]", '"text"', "42", "null", '{"a": 1}}', "\xff\xfe"]:
        with labelled(raw):
            svc.error("PUT", "/v1/classes-of-service/gold", raw=raw.encode("latin-1"),
                      status=400, code="malformed_json")
    svc.error("GET", "/v1/classes-of-service/gold", status=404, code="not_found")


def test_malformed_json_on_post(svc):
    svc.error("POST", "/v1/tokens", raw="[]", status=400, code="malformed_json")


# -- 401 ----------------------------------------------------------------------------------------

def test_missing_or_unknown_token_is_401(svc):
    for headers in [{}, {"Authorization": "Bearer not-a-known-token-at-all"},
                    {"Authorization": f"Basic {ADMIN}"}, {"Authorization": "Bearer "},
                    {"Authorization": f"Bearer {ADMIN}x"}, {"Authorization": ADMIN}]:
        with labelled(headers):
            svc.error("GET", "/v1/stations", token=None, headers=headers, status=401,
                      code="unauthorized")
            svc.error("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True},
                      token=None, headers=headers, status=401, code="unauthorized")
    svc.error("GET", "/v1/classes-of-service/gold", status=404, code="not_found")


def test_health_needs_no_token(svc):
    assert svc.call("GET", "/healthz", token=None)[0] == 200
    assert svc.call("GET", "/readyz", token=None)[0] == 200
    st, body, h = svc.call("GET", "/metrics", token=None)
    assert st == 200 and h.get("Content-Type", "").startswith("text/plain")


# -- 403 and tokens -----------------------------------------------------------------------------

def test_operator_token_reads_but_cannot_write(svc):
    setup_directory(svc)
    op = mint(svc, "operator")["token"]
    assert svc.ok("GET", "/v1/stations/2001", token=op)["number"] == "2001"
    assert len(svc.ok("GET", "/v1/stations", token=op)["items"]) == 2
    assert svc.ok("GET", "/v1/system-options", token=op)["max_per_requester"] == 10
    svc.ok("GET", "/v1/classes-of-service", token=op)
    svc.error("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True}, token=op,
              status=403, code="forbidden")
    svc.error("PUT", "/v1/system-options", {"max_per_target": 3}, token=op,
              status=403, code="forbidden")
    svc.error("DELETE", "/v1/stations/2001", token=op, status=403, code="forbidden")
    svc.error("POST", "/v1/tokens", {"scopes": ["admin"]}, token=op, status=403, code="forbidden")
    # Nothing changed.
    svc.ok("GET", "/v1/stations/2001")
    assert svc.ok("GET", "/v1/system-options")["max_per_target"] == 50


def test_station_token_reads_its_own_station_only(svc):
    setup_directory(svc)
    t = mint(svc, "station:2001")["token"]
    got = svc.ok("GET", "/v1/stations/2001", token=t)
    assert got["number"] == "2001" and "softkey" in got
    svc.error("GET", "/v1/stations/2002", token=t, status=403, code="forbidden")
    svc.error("GET", "/v1/stations", token=t, status=403, code="forbidden")
    svc.error("PUT", "/v1/stations/2001", {"kind": "analog", "cos": "std"}, token=t,
              status=403, code="forbidden")
    svc.error("GET", "/v1/system-options", token=t, status=403, code="forbidden")
    svc.error("POST", "/v1/tokens", {"scopes": ["station:2002"]}, token=t,
              status=403, code="forbidden")


def test_minted_admin_token_works_and_tokens_are_distinct(svc, pg):
    a = mint(svc, "admin")
    b = mint(svc, "admin")
    assert a["token"] != b["token"] and a["id"] != b["id"]
    svc.ok("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True}, token=a["token"])
    svc.ok("GET", "/v1/classes-of-service/gold", token=b["token"])


def test_only_a_hash_of_the_token_is_stored(svc, pg):
    tok = mint(svc, "operator")["token"]
    dbname = svc.base_env["CALLBACKD_DATABASE_URL"].rsplit("/", 1)[1]
    rows = pg.sql("SELECT t::text FROM tokens t", dbname)
    assert rows, "the minted token is not in the tokens table"
    assert all(tok not in r[0] for r in rows), "the token is stored in clear"


def test_token_location_names_something_that_exists(svc):
    """POST /v1/tokens answers a Location that a GET finds, or none."""
    st, doc, h = svc.call("POST", "/v1/tokens", {"scopes": ["operator"]})
    assert st == 201, (st, doc)
    location = h.get("Location")
    if location is not None:
        got = svc.ok("GET", location, status=200)
        assert got["id"] == doc["id"] and "token" not in got


def test_token_scopes_are_validated(svc):
    for body in [{}, {"scopes": []}, {"scopes": "admin"}, {"scopes": ["root"]},
                 {"scopes": ["station:abc"]}, {"scopes": ["station:"]}, {"scopes": [7]}]:
        with labelled(body):
            doc = svc.error("POST", "/v1/tokens", body, status=422, code="validation_failed")
            assert any(e["field"].startswith("scopes") for e in doc["errors"]), doc


# -- 404, 405 -----------------------------------------------------------------------------------

def test_unknown_path_is_404(svc):
    for path in ["/", "/v1", "/v1/nothing", "/v1/stations/2001/nothing", "/v2/stations",
                 "/v1/classes-of-service/a/b", "/v1/stations/"]:
        with labelled(path):
            svc.error("GET", path, status=404, code="not_found")


def test_wrong_method_is_405_with_allow(svc):
    for method, path, allowed in [
        ("POST", "/v1/system-options", {"GET", "PUT"}),
        ("DELETE", "/v1/classes-of-service/gold", {"GET", "PUT"}),
        ("POST", "/v1/stations/2001", {"GET", "PUT", "DELETE"}),
        ("PUT", "/v1/stations", {"GET"}),
        ("POST", "/v1/hunt-groups/500", {"GET", "PUT", "DELETE"}),
        ("PUT", "/v1/trunk-groups", {"GET"}),
        ("PUT", "/v1/tokens", {"GET", "POST"}),
        ("PUT", "/v1/stream", {"GET"}),
        ("POST", "/healthz", {"GET"}),
        ("PATCH", "/v1/stations/2001", {"GET", "PUT", "DELETE"}),
    ]:
        with labelled((method, path)):
            svc.error(method, path, {"x": 1}, status=405, code="method_not_allowed")
            h = svc.last[2]
            got = {m.strip() for m in (h.get("Allow") or "").split(",") if m.strip()}
            assert got - {"HEAD", "OPTIONS"} == allowed, \
                f"Allow: {h.get('Allow')!r}, wanted {sorted(allowed)}"


# -- 413, 415 -----------------------------------------------------------------------------------

def test_body_over_64_kib_is_413(svc):
    raw = b'{"callbacks_allowed": true' + b" " * (64 * 1024) + b"}"
    try:
        svc.error("PUT", "/v1/classes-of-service/gold", raw=raw, status=413,
                  code="payload_too_large")
    except ConnectionError:
        pytest.fail("the connection was dropped instead of a 413 answer")
    svc.error("GET", "/v1/classes-of-service/gold", status=404, code="not_found")


def test_body_just_under_64_kib_is_fine(svc):
    raw = b'{"callbacks_allowed": true' + b" " * (60 * 1024) + b"}"
    svc.ok("PUT", "/v1/classes-of-service/gold", raw=raw)


def test_wrong_or_missing_content_type_is_415(svc):
    for ctype in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", None]:
        with labelled(ctype):
            svc.error("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True},
                      headers={"Content-Type": ctype}, status=415, code="unsupported_media_type")
    svc.error("GET", "/v1/classes-of-service/gold", status=404, code="not_found")


def test_json_content_type_with_charset_is_fine(svc):
    svc.ok("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True},
           headers={"Content-Type": "application/json; charset=utf-8"})


# -- X-Request-Id -------------------------------------------------------------------------------

def test_every_answer_has_a_request_id(svc):
    seen = set()
    for method, path, body, token in [
        ("GET", "/healthz", None, None), ("GET", "/readyz", None, None),
        ("GET", "/metrics", None, None), ("GET", "/v1/stations", None, ADMIN),
        ("GET", "/v1/stations", None, None), ("GET", "/v1/nothing", None, ADMIN),
        ("POST", "/v1/system-options", {}, ADMIN),
        ("PUT", "/v1/classes-of-service/x", {"callbacks_allowed": True}, ADMIN),
        ("PUT", "/v1/classes-of-service/x", {}, ADMIN),
    ]:
        st, _, h = svc.call(method, path, body, token=token)
        rid = h.get("X-Request-Id")
        assert rid, f"{method} {path} -> {st} without X-Request-Id"
        seen.add(rid)
    assert len(seen) == 9, "request ids must differ"
    st, _, h = svc.call("PUT", "/v1/classes-of-service/y", raw="{", token=ADMIN)
    assert st == 400 and h.get("X-Request-Id")


def test_request_id_is_in_the_log(svc):
    _, _, h = svc.call("GET", "/v1/stations")
    rid = h["X-Request-Id"]
    wait_for(lambda: rid in svc.log(), 5, msg="request id in the log")


# -- PBX webhook signature (bad_signature) ------------------------------------------------------

def test_pbx_events_need_a_valid_fresh_signature(svc):
    ev = [event("station.state", station="7777", availability="busy")]
    body = json.dumps({"events": ev}).encode()
    # Each case's headers are made just before its request (a slow machine must not turn a
    # timestamp 320 s ahead into one 299 s ahead).
    cases = {
        "no signature": lambda: {},
        "other secret": lambda: sign("another-secret-0123456789", body),
        "stale": lambda: sign(SECRET, body, int(time.time()) - 305),
        "future": lambda: sign(SECRET, body, int(time.time()) + 320),
        "zero mac": lambda: {"X-Callbackd-Timestamp": str(int(time.time())),
                             "X-Callbackd-Signature": "v1=" + "0" * 64},
        "no v1= prefix": lambda: {**sign(SECRET, body),
                                  "X-Callbackd-Signature": sign(SECRET, body)[
                                      "X-Callbackd-Signature"][3:]},
        "other bytes": lambda: sign(SECRET, body + b" "),
        "no timestamp": lambda: {"X-Callbackd-Signature": sign(SECRET, body)[
            "X-Callbackd-Signature"]},
    }
    for name, headers in cases.items():
        with labelled(name):
            svc.error("POST", "/v1/pbx/events", raw=body, token=None, headers=headers(),
                      status=401, code="bad_signature")
    # Within the window (a little skew either way) is fine.
    st, doc, _ = svc.post_events([event("station.state", station="7777", availability="idle")],
                                 ts=int(time.time()) - 200)
    assert st == 202, (st, doc)
    # Correctly signed: accepted (an unknown number is stored and ignored), then a duplicate.
    st, doc, _ = svc.post_events(ev)
    assert (st, doc.get("accepted"), doc.get("duplicates")) == (202, 1, 0), (st, doc)
    st, doc, _ = svc.post_events(ev)
    assert (st, doc.get("accepted"), doc.get("duplicates")) == (202, 0, 1), (st, doc)


def test_fake_pbx_checks_signatures():
    """The harness's FakePBX must refuse what callbackd must not send (so tests relying on it
    can fail)."""
    import urllib.error
    import urllib.request
    pbx = FakePBX()
    try:
        body = json.dumps({"id": "0b7f3c1e-2a4d-4e5f-8a9b-0c1d2e3f4a5b", "seq": 1, "type": "tone",
                           "callback_id": None, "created_at": "2025-11-25T10:00:00Z",
                           "station": "2001", "tone": "confirmation"}).encode()

        def post(headers):
            req = urllib.request.Request(pbx.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
            try:
                return urllib.request.urlopen(req, timeout=5).status
            except urllib.error.HTTPError as e:
                return e.code
        assert post(sign(SECRET, body)) == 200
        assert post(sign("wrong-secret-0123456789", body)) == 401
        assert post(sign(SECRET, body, int(time.time()) - 1000)) == 401
        assert post({}) == 401
        pbx.set_mode("fail")
        assert post(sign(SECRET, body)) == 500
        assert [c["id"] for c in pbx.received()] == ["0b7f3c1e-2a4d-4e5f-8a9b-0c1d2e3f4a5b"]
        assert len(pbx.bad_signatures()) == 3
    finally:
        pbx.close()
