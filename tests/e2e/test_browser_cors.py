"""CORS for pages on another origin (issue 12): CALLBACKD_CORS_ORIGINS, the headers of an
answer to an allowed origin, none for another, `*`, and a preflight (no token) on every route
shape of the route table."""

import http.client

import pytest

from harness import run_binary
from stream_helpers import EventStream
from test_openapi_contract import served_routes

ADMIN_PAGE = "https://admin.example.com"
PHONE_APP = "capacitor://localhost"
EXPOSE = "Location, X-Request-Id"
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"


def raw(svc, method, path, headers=None, body=None):
    """One request outside the contract oracle (a preflight is not an operation)."""
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
    try:
        conn.putrequest(method, path)
        for k, v in (headers.items() if isinstance(headers, dict) else headers or []):
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.headers
    finally:
        conn.close()


def cors_headers(h):
    return {k.lower(): v for k, v in h.items() if k.lower().startswith("access-control-")
            or k.lower() == "vary"}


@pytest.fixture
def cors_svc(start_service):
    return start_service(env={"CALLBACKD_CORS_ORIGINS": f"{ADMIN_PAGE}, {PHONE_APP}"})


def test_allowed_origin_gets_its_origin_vary_and_exposed_headers(cors_svc):
    svc = cors_svc
    for origin in (ADMIN_PAGE, PHONE_APP):
        st, doc, h = svc.call("PUT", "/v1/classes-of-service/staff", {"callbacks_allowed": True},
                              headers={"Origin": origin})
        assert st == 200
        assert cors_headers(h) == {"access-control-allow-origin": origin, "vary": "Origin",
                                   "access-control-expose-headers": EXPOSE}
        assert "access-control-allow-credentials" not in {k.lower() for k in h}
    # An error is readable by the page too (401 without a token, 404).
    st, _, h = svc.call("GET", "/v1/stations", token=None, headers={"Origin": ADMIN_PAGE})
    assert st == 401 and h["Access-Control-Allow-Origin"] == ADMIN_PAGE
    st, _, h = svc.call("GET", "/v1/stations/2001", headers={"Origin": ADMIN_PAGE})
    assert st == 404 and h["Access-Control-Allow-Origin"] == ADMIN_PAGE
    # The stream too.
    s = EventStream(svc, headers={"Origin": ADMIN_PAGE})
    assert s.status == 200 and s.headers["access-control-allow-origin"] == ADMIN_PAGE
    assert s.headers["access-control-expose-headers"] == EXPOSE
    s.close()


def test_other_origin_gets_no_cors_header(cors_svc):
    svc = cors_svc
    for origin in ("https://evil.example.com", "https://admin.example.com.evil.net",
                   "http://admin.example.com", "https://admin.example.com:8443", "null"):
        st, _, h = svc.call("GET", "/v1/system-options", headers={"Origin": origin})
        assert st == 200 and cors_headers(h) == {}, (origin, dict(h))
        st, h = raw(svc, "OPTIONS", "/v1/system-options",
                    {"Origin": origin, "Access-Control-Request-Method": "PUT"})
        assert st == 405 and cors_headers(h) == {}, (origin, st, dict(h))
    # Origin given twice is no origin; no Origin, no CORS.
    st, h = raw(svc, "GET", "/healthz", [("Origin", ADMIN_PAGE), ("Origin", ADMIN_PAGE)])
    assert st == 200 and cors_headers(h) == {}
    st, _, h = svc.call("GET", "/v1/system-options")
    assert cors_headers(h) == {}


def test_star_allows_any_origin_with_a_star(start_service):
    svc = start_service(env={"CALLBACKD_CORS_ORIGINS": "*"})
    st, _, h = svc.call("GET", "/v1/system-options", headers={"Origin": "https://any.example"})
    assert st == 200 and cors_headers(h) == {"access-control-allow-origin": "*", "vary": "Origin",
                                             "access-control-expose-headers": EXPOSE}
    st, h = raw(svc, "OPTIONS", "/v1/callbacks",
                {"Origin": "https://any.example", "Access-Control-Request-Method": "POST"})
    assert st == 204 and h["Access-Control-Allow-Origin"] == "*"


def test_unset_means_no_cors_at_all(svc):
    st, _, h = svc.call("GET", "/v1/system-options", headers={"Origin": ADMIN_PAGE})
    assert st == 200 and cors_headers(h) == {}
    st, h = raw(svc, "OPTIONS", "/v1/system-options",
                {"Origin": ADMIN_PAGE, "Access-Control-Request-Method": "GET"})
    assert st == 405 and cors_headers(h) == {}


def test_preflight_on_every_route_shape_needs_no_token(cors_svc):
    """Every /v1/ path of the route table, with sample parameters: 204, the methods of that
    path exactly, the allowed request headers and the max age; no token sent."""
    methods = {}
    for method, path in served_routes():
        methods.setdefault(path, set()).add(method)
    samples = {"{number}": "2001", "{id}": "0b7f3c1e-2a4d-4e5f-8a9b-0c1d2e3f4a5b"}
    shapes = [p for p in methods if p.startswith("/v1/")]
    assert len(shapes) >= 15
    for template in shapes:
        path = template
        for k, v in samples.items():
            path = path.replace(k, v)
        if template.startswith("/v1/classes-of-service/"):
            path = "/v1/classes-of-service/staff"
        wanted = sorted(methods[template])[0]
        st, h = raw(cors_svc, "OPTIONS", path,
                    {"Origin": ADMIN_PAGE, "Access-Control-Request-Method": wanted,
                     "Access-Control-Request-Headers": "authorization, content-type"})
        assert st == 204, (path, st)
        got = {m.strip() for m in h["Access-Control-Allow-Methods"].split(",")}
        assert got == methods[template], (path, got)
        assert h["Access-Control-Allow-Origin"] == ADMIN_PAGE and h["Vary"] == "Origin"
        assert h["Access-Control-Allow-Headers"] == ALLOW_HEADERS
        assert h["Access-Control-Max-Age"] == "600"
    # A path with no route is 404, even preflighted.
    st, h = raw(cors_svc, "OPTIONS", "/v1/nothing",
                {"Origin": ADMIN_PAGE, "Access-Control-Request-Method": "GET"})
    assert st == 404
    # An OPTIONS that is not a preflight stays 405.
    st, h = raw(cors_svc, "OPTIONS", "/v1/stations", {"Origin": ADMIN_PAGE})
    assert st == 405


@pytest.mark.parametrize("value", ["https://a.example/", "https://a.example/path", "a.example",
                                   "*, https://a.example", "https://a.example,,", "https://"])
def test_bad_origin_list_is_refused_at_start(value):
    r = run_binary(["serve"], {"CALLBACKD_CORS_ORIGINS": value,
                               "CALLBACKD_DATABASE_URL": "postgresql://127.0.0.1:1/none",
                               "CALLBACKD_ADMIN_TOKEN": "a" * 20, "CALLBACKD_PBX_SECRET": "s" * 20})
    assert r.returncode == 2 and "CALLBACKD_CORS_ORIGINS" in r.stderr, (value, r.stderr)
