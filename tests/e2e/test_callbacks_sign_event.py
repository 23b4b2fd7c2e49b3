"""deploy/sign-event.sh (an operator's signed webhook POST) and the README's "Call Me Back in five
curl commands", run as written against a real service."""

import json
import os
import re
import subprocess

from callback_helpers import fresh_w, originate, ring  # noqa: F401
from harness import REPO, wait_for

SCRIPT = REPO / "deploy" / "sign-event.sh"
MARKER = "<!-- webhook walkthrough: filled in with deploy/sign-event.sh -->"


def run(args, env=None, stdin=None):
    return subprocess.run(["bash", *args], capture_output=True, text=True, timeout=30,
                          input=stdin, cwd=REPO, env={**os.environ, **(env or {})})


def base_url(w):
    return f"http://127.0.0.1:{w.svc.port}"


def test_sign_event_script_posts_signed_events_that_drive_a_callback(fresh_w):
    w = fresh_w
    a, b = w.stations(2)
    url, secret = base_url(w), w.svc.secret
    body = json.dumps({"events": [{"id": f"se-{b}-1", "type": "station.state", "station": b,
                                   "availability": "busy"}]})
    r = run([str(SCRIPT), url, secret, body])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"accepted": 1, "duplicates": 0}
    assert "HTTP 202" in r.stderr
    # Again: a duplicate (the id is known), still 2xx.
    r = run([str(SCRIPT), url + "/v1/pbx/events", secret, body])
    assert (r.returncode, json.loads(r.stdout)) == (0, {"accepted": 0, "duplicates": 1})
    w.settle()
    cb = w.set(a, b)
    assert cb["reason"] == "busy"
    # The body from stdin.
    idle = json.dumps({"events": [{"id": f"se-{b}-2", "type": "station.state", "station": b,
                                   "availability": "idle"}]})
    r = run([str(SCRIPT), url, secret, "-"], stdin=idle)
    assert r.returncode == 0 and json.loads(r.stdout)["accepted"] == 1, (r.stdout, r.stderr)
    w.expect([ring(cb)])
    # A wrong secret is refused by the service: the script prints the problem and fails.
    r = run([str(SCRIPT), url, "not-the-secret", json.dumps(
        {"events": [{"id": f"se-{a}-3", "type": "station.hook", "station": a, "hook": "off"}]})])
    assert r.returncode == 1 and "HTTP 401" in r.stderr
    assert json.loads(r.stdout)["code"] == "bad_signature"
    w.expect([ring(cb)])
    # A malformed event: 422, nothing stored.
    r = run([str(SCRIPT), url, secret, '{"events": [{"id": "x", "type": "station.hook"}]}'])
    assert r.returncode == 1 and json.loads(r.stdout)["code"] == "validation_failed"
    # Usage errors.
    assert run([str(SCRIPT), url, secret]).returncode == 2
    assert run([str(SCRIPT), url, "", body]).returncode == 2


def readme_walkthrough():
    """The shell blocks of the README's webhook walkthrough, in order."""
    text = (REPO / "README.md").read_text()
    assert MARKER in text, "README.md lost the webhook walkthrough marker"
    section = text.split(MARKER, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 5, f"expected the five steps, found {len(blocks)} shell blocks"
    return blocks


def test_readme_call_me_back_in_five_curl_commands(fresh_w):
    w = fresh_w
    w.svc.ok("PUT", "/v1/classes-of-service/staff", {"callbacks_allowed": True})
    w.station(number="2001", cos="staff")
    w.station(number="2002", kind="analog", cos="staff")
    env = {"URL": base_url(w), "TOKEN": w.svc.admin, "SECRET": w.svc.secret}
    out = []
    for i, block in enumerate(readme_walkthrough()):
        r = run(["-euo", "pipefail", "-c", block], env=env)
        assert r.returncode == 0, f"step {i + 1} failed: {r.stdout}\n{r.stderr}"
        out.append(r.stdout)
        if i in (0, 2, 4):          # events are applied by the worker: let it catch up
            w.settle()
        if i == 2:
            wait_for(lambda: w.svc.ok("GET", "/v1/commands?after=0")["items"], 10)
    assert json.loads(out[0]) == {"accepted": 1, "duplicates": 0}
    cb = json.loads(out[1])
    assert (cb["requester"], cb["target"], cb["state"], cb["reason"]) == \
        ("2001", "2002", "pending", "busy")
    w.callbacks[cb["id"]] = cb
    step4 = json.loads(out[3])
    assert [{k: c[k] for k in ring(cb)} for c in step4["items"]] == [ring(cb)]
    step5 = out[4].splitlines()
    assert json.loads(step5[0]) == {"accepted": 1, "duplicates": 0}
    step5_cmds = json.loads("\n".join(step5[1:]))["items"]
    assert [{k: c[k] for k in originate(cb)} for c in step5_cmds] == [originate(cb)]
    assert w.state(cb) == "recalling"
    w.expect([ring(cb), originate(cb)])
