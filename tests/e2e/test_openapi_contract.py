"""openapi.yaml and the server agree (issue 10): the route table is the document's operations,
method for method, and the oracle that checks every answer of every e2e test
(openapi_contract.py, hooked into harness.Service.call and FakePBX) really fails on a
mismatch."""

import copy
import uuid

import pytest

import openapi_contract
from harness import run_binary
from openapi_contract import Contract, ContractError
from stream_helpers import EventStream

SAMPLE_PARAMS = {"number": "2001", "id": None}  # id: a class of service or a callback (below)


def served_routes():
    """`callbackd routes`: the server's route table, one METHOD PATH line per row."""
    r = run_binary(["routes"], {})
    assert r.returncode == 0, r.stderr
    rows = []
    for line in r.stdout.splitlines():
        method, path = line.split(" ", 1)
        assert method in ("GET", "PUT", "POST", "DELETE", "PATCH"), line
        assert path.startswith("/") and " " not in path, line
        rows.append((method, path))
    return rows


def test_routes_command_needs_no_configuration_and_prints_method_path_lines():
    rows = served_routes()
    assert ("GET", "/healthz") in rows and ("POST", "/v1/pbx/events") in rows
    assert len(rows) == len(set(rows)), "a method and path twice in the route table"


def test_route_table_is_exactly_the_operations_of_openapi_yaml():
    served = set(served_routes())
    documented = openapi_contract.contract().operations()
    only_served = sorted(served - documented)
    only_documented = sorted(documented - served)
    assert not only_served and not only_documented, (
        "route table (api/routes.c, `callbackd routes`) and openapi.yaml paths differ:\n"
        f"  served but not documented: {only_served}\n"
        f"  documented but not served: {only_documented}")


def concrete(template, cos_or_callback):
    out = template.replace("{number}", SAMPLE_PARAMS["number"])
    return out.replace("{id}", cos_or_callback)


def test_every_operation_answers_a_documented_status(svc):
    """Each documented operation, called once with no setup: whatever it answers (200, 404,
    422, ...) must be documented for it, with a body of its schema (the harness checks)."""
    for method, template in sorted(openapi_contract.contract().operations()):
        ident = str(uuid.uuid4()) if template.startswith(("/v1/callbacks/", "/v1/tokens/")) \
            else "staff"
        path = concrete(template, ident)
        if (method, template) == ("GET", "/v1/stream"):
            stream = EventStream(svc)  # stays open: its status and headers are the answer
            st = stream.status
            stream.close()
        elif (method, template) == ("POST", "/v1/pbx/events"):
            st = svc.post_events([{"id": "contract-1", "type": "station.state",
                                   "station": "2001", "availability": "idle"}])[0]
        else:
            body = {} if method in ("PUT", "POST") else None
            st = svc.call(method, path, body)[0]
        assert st != 405, f"{method} {path}: 405, the route is documented but not served"


def test_overlong_path_number_is_422_on_put_and_404_on_get(svc):
    """openapi.yaml: a number in a path that is not a valid directory number is 422 on PUT, 404 on
    GET and DELETE, however long (a segment longer than the router's buffer was 404 on PUT)."""
    svc.ok("PUT", "/v1/classes-of-service/std", {"callbacks_allowed": True})
    long = "1" * 300
    for kind, body in [("stations", {"kind": "ip_phone", "cos": "std"}),
                       ("trunk-groups", {"lines": ["L1"]}), ("hunt-groups", {"members": []})]:
        svc.error("PUT", f"/v1/{kind}/{long}", body, status=422, code="validation_failed")
        svc.error("GET", f"/v1/{kind}/{long}", status=404, code="not_found")
        svc.error("DELETE", f"/v1/{kind}/{long}", status=404, code="not_found")
    svc.error("PUT", f"/v1/classes-of-service/{'a' * 300}", {"callbacks_allowed": True},
              status=422, code="validation_failed")
    svc.error("GET", f"/v1/callbacks/{'a' * 300}", status=404, code="not_found")


# -- the oracle itself ---------------------------------------------------------------------------

def violation(fn, *args):
    """Runs a check that must fail; returns its message (and forgets the recorded violation,
    which the autouse fixture would otherwise report)."""
    with pytest.raises(ContractError) as exc:
        fn(*args)
    openapi_contract.take_violations()
    return str(exc.value)


CALLBACK = {
    "id": "0b7f3c1e-2a4d-4e5f-8a9b-0c1d2e3f4a5b", "requester": "2001", "target": "2002",
    "target_type": "station", "reason": "busy", "mode": "callback", "state": "pending",
    "origin_line": "2001", "notify_line": "2001", "external_number": None, "reserved_line": None,
    "awaiting_release": False, "created_at": "2025-11-25T10:00:00Z",
    "updated_at": "2025-11-25T10:00:00.123456Z", "expires_at": "2025-11-25T11:00:00Z",
    "ended_at": None, "end_reason": None, "supersedes": None,
}
PROBLEM = {"type": "https://callbackd.dev/problems/not_found", "title": "No such resource",
           "status": 404, "detail": "no callback", "code": "not_found"}
JSON = "application/json"


def check(method, path, status, doc, ctype=JSON):
    openapi_contract.check_response(method, path, status, ctype, doc, 1 if doc is not None else 0)


def test_oracle_accepts_a_valid_answer_and_matches_templated_paths():
    check("GET", f"/v1/callbacks/{CALLBACK['id']}?x=1", 200, CALLBACK)
    check("GET", f"/v1/callbacks/{CALLBACK['id']}", 404, PROBLEM, "application/problem+json")
    check("GET", "/v1/callbacks", 200, {"items": [CALLBACK], "next_cursor": "abc",
                                        "prev_cursor": None})
    assert openapi_contract.contract().match_path("/v1/stations/2001/callbacks") == \
        "/v1/stations/{number}/callbacks"
    assert openapi_contract.contract().match_path("/v1/stations/2001") == "/v1/stations/{number}"


def test_oracle_names_operation_status_schema_path_and_value():
    bad = dict(CALLBACK, state="sleeping")
    msg = violation(check, "GET", f"/v1/callbacks/{bad['id']}", 200, bad)
    assert "getCallback" in msg and "200" in msg, msg
    assert "$['state']" in msg and "sleeping" in msg, msg
    assert "#/paths/~1v1~1callbacks~1{id}/get/responses/200" in msg and "enum" in msg, msg


def test_oracle_refuses_missing_nullable_and_wrong_format_fields():
    missing = {k: v for k, v in CALLBACK.items() if k != "ended_at"}
    assert "'ended_at' is a required property" in violation(
        check, "GET", f"/v1/callbacks/{CALLBACK['id']}", 200, missing)
    assert "None is not of type 'string'" in violation(
        check, "GET", f"/v1/callbacks/{CALLBACK['id']}", 200, dict(CALLBACK, origin_line=None))
    assert "date-time" in violation(
        check, "GET", f"/v1/callbacks/{CALLBACK['id']}", 200,
        dict(CALLBACK, created_at="2025-11-25 10:00"))
    assert "uuid" in violation(check, "GET", f"/v1/callbacks/{CALLBACK['id']}", 200,
                               dict(CALLBACK, supersedes="not-a-uuid"))


def test_oracle_refuses_undocumented_fields_even_through_allof_and_refs():
    msg = violation(check, "GET", f"/v1/callbacks/{CALLBACK['id']}", 200,
                    dict(CALLBACK, colour="blue"))
    assert "colour" in msg and "unevaluatedProperties" in msg, msg
    # Problem answers are allOf [Problem, {code}]: their own fields pass, others do not.
    check("GET", "/v1/callbacks/x", 404, PROBLEM, "application/problem+json")
    assert "extra" in violation(check, "GET", "/v1/callbacks/x", 404, dict(PROBLEM, extra=1),
                                "application/problem+json")


def test_oracle_refuses_undocumented_status_path_method_and_media_type():
    assert "status 418 is not documented" in violation(check, "GET", "/healthz", 418, None)
    assert "must be 404" in violation(check, "GET", "/v1/nothing", 200, {"a": 1})
    check("GET", "/v1/nothing", 404, PROBLEM, "application/problem+json")
    assert "must be 405" in violation(check, "PATCH", "/v1/stations/2001", 200, {})
    m405 = dict(PROBLEM, status=405, code="method_not_allowed")
    check("PATCH", "/v1/stations/2001", 405, m405, "application/problem+json")
    assert "Content-Type 'text/html'" in violation(check, "GET", "/healthz", 200, "<p>",
                                                   "text/html")
    assert "empty body" in violation(check, "GET", "/healthz", 200, None)
    assert "documents none" in violation(check, "DELETE", "/v1/stations/2001", 204, {"a": 1})
    check("DELETE", "/v1/stations/2001", 204, None, None)


def test_oracle_checks_pbx_commands_against_the_webhook():
    ring = {"id": "7d4c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a", "seq": 1, "type": "ring",
            "callback_id": CALLBACK["id"], "created_at": "2025-11-25T10:02:10Z",
            "station": "2001", "line": "2001", "cadence": "three_short_bursts",
            "bypass_forwarding": True, "on_behalf_of": None, "display": "Callback 2002"}
    openapi_contract.check_command(ring)
    msg = violation(openapi_contract.check_command, {k: v for k, v in ring.items()
                                                     if k != "display"})
    assert "PBX command ring" in msg and "display" in msg, msg
    assert "status" in violation(openapi_contract.check_command, dict(ring, status="pending"))
    # The outbox list carries the delivery fields as well.
    check("GET", "/v1/commands", 200, {"items": [dict(ring, status="pending", attempts=0,
                                                      last_error=None, delivered_at=None)],
                                       "next_cursor": None, "prev_cursor": None})


def test_oracle_reads_openapi_30_nullable():
    doc = copy.deepcopy(openapi_contract.contract().raw)
    doc["paths"]["/v1/x/{id}"] = {"get": {"operationId": "x", "responses": {"200": {
        "description": "x", "content": {JSON: {"schema": {"$ref": "#/components/schemas/X"}}}}}}}
    doc["components"]["schemas"]["X"] = {"type": "object", "required": ["a", "b"], "properties": {
        "a": {"type": "string", "nullable": True},
        "b": {"type": "string", "enum": ["on", "off"], "nullable": True},
        "c": {"type": "integer"}}}
    c = Contract(doc)
    c.check_response("GET", "/v1/x/1", 200, JSON, {"a": None, "b": None}, 1)
    c.check_response("GET", "/v1/x/1", 200, JSON, {"a": "s", "b": "on", "c": 1}, 1)
    with pytest.raises(ContractError):
        c.check_response("GET", "/v1/x/1", 200, JSON, {"a": 1, "b": None}, 1)
    with pytest.raises(ContractError):
        c.check_response("GET", "/v1/x/1", 200, JSON, {"a": None, "b": None, "c": None}, 1)
    with pytest.raises(ContractError):
        c.check_response("GET", "/v1/x/1", 200, JSON, {"a": None, "b": "maybe"}, 1)
    openapi_contract.take_violations()
