"""Helpers for the callback end-to-end tests (tests/e2e/test_callbacks_*.py).

Starting callbackd on a fresh database costs about two seconds here (CREATE DATABASE, migrations),
so a test module shares one service, one database and one FakePBX (`cb_env`, module scope) and
every test gets its own `World` (`w`): fresh directory numbers drawn from a module counter, the
system options reset to the defaults (plus what the test asks for), and views of the commands,
callbacks and events that concern only its own numbers. Tests that need the whole system to
themselves (operator list filters) use `fresh_w` instead: a service of their own.

Barriers: `World.settle()` waits until every event the service received has been applied (the
`callbackd_events_total` metrics) and no command is waiting for delivery; a test that asserts that
nothing happened calls it first, so the assertion cannot pass merely because the worker is slow.
"""

import itertools
import json
import re
import time
import urllib.parse

import pytest

from harness import ADMIN, FakePBX, Service, event, wait_for

# What openapi.yaml says a command carries besides its type fields; compared apart or not at all.
COMMAND_META = ("id", "seq", "created_at", "status", "attempts", "last_error", "delivered_at")

DEFAULT_OPTIONS = {"callback_cancel_timer_s": 3600, "notification_timeout_s": 20,
                   "recall_timeout_s": 60, "command_ttl_s": 300,
                   "max_per_requester": 10, "max_per_target": 50,
                   "digit_collection_during_busy_or_alerting": False,
                   "fac": {"setup": "*41", "cancel_all": "#41", "cancel_individual": "#42"}}

ACTIVE_STATES = ("pending", "notifying", "recalling", "queued", "message_left")


# ---- expected commands ---------------------------------------------------------------------

def ring(cb, station=None, line=None, on_behalf_of=None):
    """The ring of CB-20/CB-21 for callback `cb` on `station`/`line` (default: the requester)."""
    station = station or cb["requester"]
    return {"type": "ring", "callback_id": cb["id"], "station": station,
            "line": line or station, "cadence": "three_short_bursts",
            "bypass_forwarding": True, "on_behalf_of": on_behalf_of,
            "display": "Callback " + cb["target"] + (cb.get("external_number") or "")}


def stop_ring(cb, station=None, line=None):
    station = station or cb["requester"]
    return {"type": "stop_ring", "callback_id": cb["id"], "station": station,
            "line": line or station}


def originate(cb, to=None, from_station=None, from_line=None, via_line=None, external=None):
    from_station = from_station or cb["requester"]
    return {"type": "originate", "callback_id": cb["id"], "from_station": from_station,
            "from_line": from_line or from_station, "to": to or cb["target"],
            "via_line": via_line, "external_number": external}


def reserve_trunk(cb, group, line, for_station=None):
    return {"type": "reserve_trunk", "callback_id": cb["id"], "trunk_group": group, "line": line,
            "for_station": for_station or cb["requester"]}


def release_trunk(cb, group, line):
    return {"type": "release_trunk", "callback_id": cb["id"], "trunk_group": group, "line": line}


def mwi(cb, on):
    return {"type": "mwi", "callback_id": cb["id"], "station": cb["target"], "on": on,
            "from": cb["requester"]}


def tone(station, which, callback_id=None):
    return {"type": "tone", "callback_id": callback_id, "station": station, "tone": which}


def strip_meta(cmd):
    return {k: v for k, v in cmd.items() if k not in COMMAND_META}


# ---- the shared service --------------------------------------------------------------------

class Env:
    """One service + database + fake PBX shared by a module's tests."""

    def __init__(self, pg, **service_kw):
        self.pg = pg
        self.dbname = pg.create_db("cbe2e")
        self.pbx = FakePBX()
        self.svc = Service(pg.db_url(self.dbname), pbx=self.pbx, **service_kw).start()
        self.numbers = itertools.count(2000)
        self.groups = itertools.count(700)
        self.svc.ok("PUT", "/v1/classes-of-service/std", {"callbacks_allowed": True})
        self.svc.ok("PUT", "/v1/classes-of-service/nocb", {"callbacks_allowed": False})

    def close(self):
        problems = []
        try:
            if self.svc.running():
                status = self.svc.stop()
                if status != 0:
                    problems.append(f"callbackd exited {status} on SIGTERM")
            reports = self.svc.sanitizer_reports()
            if reports:
                problems.append(f"sanitizer reports: {reports[:5]}")
            if problems:
                print("---- callbackd log (tail) ----\n" + "\n".join(self.svc.log().splitlines()[-80:]))
        finally:
            self.svc.cleanup()
            self.pbx.close()
            self.pg.drop_db(self.dbname)
        assert not problems, "; ".join(problems)


def metric(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def counted_metrics(svc, timeout=10.0):
    """/metrics whose database counts (callbackd_callbacks, callbackd_commands) began after this
    call (a scrape shows the latest count, which a loaded machine may finish after it)."""
    def fresh():
        t0 = time.time()
        text = svc.call("GET", "/metrics", token=None)[1]
        ts = metric(text, "callbackd_db_counts_timestamp_seconds")
        return text if ts is not None and ts >= t0 - 0.002 else None
    return wait_for(fresh, timeout, msg="/metrics with a fresh database count")


class World:
    """One test's view of the shared service: its own numbers, events, callbacks, commands."""

    def __init__(self, env, options=None):
        self.env = env
        self.svc = env.svc
        self.pbx = env.pbx
        self.numbers = set()
        self.prime = {}       # station -> prime line
        self.callbacks = {}   # id -> last doc seen
        self.tokens = {}
        self.start_seq = self.last_seq()
        self.set_options(**(options or {}))

    # -- provisioning ------------------------------------------------------------------------

    def set_options(self, **kw):
        """PUT the whole system options: the defaults with `kw` over them."""
        body = json.loads(json.dumps(DEFAULT_OPTIONS))
        fac = kw.pop("fac", None)
        body.update(kw)
        if fac is not None:
            body["fac"].update(fac)
        return self.svc.ok("PUT", "/v1/system-options", body)

    def station(self, kind="ip_phone", cos="std", prime_line=None, resilient=False,
                console_group=None, number=None):
        """Provisions a station with a fresh number; returns the number."""
        n = number or str(next(self.env.numbers))
        body = {"kind": kind, "cos": cos, "resilient": resilient}
        if prime_line:
            body["prime_line"] = prime_line
            self.numbers.add(prime_line)
        if console_group:
            body["console_group"] = console_group
        self.svc.ok("PUT", f"/v1/stations/{n}", body)
        self.numbers.add(n)
        self.prime[n] = prime_line or n
        return n

    def stations(self, count, **kw):
        return [self.station(**kw) for _ in range(count)]

    def trunk_group(self, lines=2, activation=True):
        """A trunk group with a fresh 3-digit number ("7xx") and lines "<group>-L<i>"."""
        g = str(next(self.env.groups))
        ids = [f"{g}-L{i}" for i in range(1, lines + 1)]
        self.svc.ok("PUT", f"/v1/trunk-groups/{g}", {"lines": ids, "callback_activation": activation})
        self.numbers.add(g)
        return g, ids

    def hunt_group(self, members, activation=True):
        g = str(next(self.env.groups))
        self.svc.ok("PUT", f"/v1/hunt-groups/{g}", {"members": list(members),
                                                     "callback_activation": activation})
        self.numbers.add(g)
        return g

    def token(self, *scopes):
        doc = self.svc.ok("POST", "/v1/tokens", {"scopes": list(scopes)}, status=201)
        return doc["token"]

    # -- events ------------------------------------------------------------------------------

    def send(self, *events):
        """Posts the events as one signed batch (must be accepted); returns their ids."""
        self.svc.send(*events)
        return [e["id"] for e in events]

    def ev(self, type, **fields):
        return event(type, **fields)

    def busy(self, n):
        return self.send(event("station.state", station=n, availability="busy"))[0]

    def idle(self, n):
        return self.send(event("station.state", station=n, availability="idle"))[0]

    def hook(self, n, hook):
        return self.send(event("station.hook", station=n, hook=hook))[0]

    def hook_cycle(self, n):
        """Lifts and replaces the handset: two events in one batch; returns their ids."""
        return self.send(event("station.hook", station=n, hook="off"),
                         event("station.hook", station=n, hook="on"))

    def feature(self, n, feature, active):
        return self.send(event("station.feature", station=n, feature=feature, active=active))[0]

    def trunk(self, group, line, state):
        return self.send(event("trunk.state", trunk_group=group, line=line, state=state))[0]

    def recall(self, cb, result):
        return self.send(event("recall.result", callback_id=cb["id"], result=result))[0]

    def connected(self, parties, conference=False, call_id=None):
        return self.send(event("call.connected", call_id=call_id or f"call-{time.time_ns()}",
                               parties=list(parties), conference=conference))[0]

    def attempt(self, frm, to, result):
        return self.send(event("call.attempt", **{"from": frm, "to": to, "result": result}))[0]

    def digits(self, n, digits, call_state="idle", dialed=None):
        fields = {"station": n, "digits": digits, "call_state": call_state}
        if dialed is not None:
            fields["dialed"] = dialed
        return self.send(event("digits", **fields))[0]

    # -- barriers ----------------------------------------------------------------------------

    def settle(self, timeout=10.0):
        """Waits until every received event is applied and no command waits for delivery."""
        def done():
            t0 = time.time()
            text = self.svc.call("GET", "/metrics", token=None)[1]
            counted = metric(text, "callbackd_db_counts_timestamp_seconds")
            if counted is None or counted < t0 - 0.002:
                return False  # the commands count shown began before this scrape: stale
            rec = metric(text, "callbackd_events_total", '{outcome="received"}')
            dup = metric(text, "callbackd_events_total", '{outcome="duplicate"}')
            app = metric(text, "callbackd_events_total", '{outcome="applied"}')
            ign = metric(text, "callbackd_events_total", '{outcome="ignored"}')
            pend = metric(text, "callbackd_commands", '{status="pending"}')
            if None in (rec, dup, app, ign):
                raise AssertionError("callbackd_events_total metrics missing from /metrics")
            return rec - dup == app + ign and (pend or 0) == 0
        wait_for(done, timeout, msg="events applied and commands delivered")

    # -- callbacks ---------------------------------------------------------------------------

    def api(self, method, path, body=None, token=ADMIN, headers=None):
        """One request: (status, doc, headers)."""
        return self.svc.call(method, path, body, token=token, headers=headers)

    def set(self, requester, target, token=ADMIN, headers=None, **fields):
        """POST /v1/callbacks that must give 201; returns the callback (with `_request_id`)."""
        body = {"requester": requester, "target": target, **fields}
        st, doc, h = self.svc.call("POST", "/v1/callbacks", body, token=token, headers=headers)
        assert st == 201, f"POST /v1/callbacks {body} -> {st}: {doc}"
        assert h["Location"] == f"/v1/callbacks/{doc['id']}", h["Location"]
        self.callbacks[doc["id"]] = doc
        doc = dict(doc)
        doc["_request_id"] = h["X-Request-Id"]
        return doc

    def refuse(self, body, status, code, token=ADMIN):
        return self.svc.error("POST", "/v1/callbacks", body, status=status, code=code, token=token)

    def get(self, cb, token=ADMIN):
        cid = cb if isinstance(cb, str) else cb["id"]
        doc = self.svc.ok("GET", f"/v1/callbacks/{cid}", token=token)
        self.callbacks[cid] = doc
        return doc

    def state(self, cb):
        return self.get(cb)["state"]

    def wait_state(self, cb, state, timeout=10.0):
        return wait_for(lambda: (lambda d: d if d["state"] == state else None)(self.get(cb)),
                        timeout, msg=f"callback {cb['id']} in state {state}")

    def cancel(self, cb, token=ADMIN):
        st, doc, h = self.svc.call("DELETE", f"/v1/callbacks/{cb['id']}", token=token)
        assert st == 200, f"DELETE {cb['id']} -> {st}: {doc}"
        return doc, h["X-Request-Id"]

    def history(self, cb):
        """The history as (from, to, cause kind, cause ref) tuples, oldest first."""
        doc = self.svc.ok("GET", f"/v1/callbacks/{cb['id']}/history")
        out = []
        for item in doc["items"]:
            assert set(item) >= {"at", "from", "to", "cause"}, item
            out.append((item["from"], item["to"], item["cause"]["kind"], item["cause"]["ref"]))
        return out

    def active(self, requester):
        doc = self.svc.ok("GET", f"/v1/callbacks?requester={requester}&state=active&limit=500")
        return doc["items"]

    # -- commands ----------------------------------------------------------------------------

    def last_seq(self):
        seq = 0
        while True:
            doc = self.svc.ok("GET", f"/v1/commands?after={seq}&limit=500")
            if not doc["items"]:
                return seq
            seq = doc["items"][-1]["seq"]

    def all_commands(self):
        """Every command since the test began (GET /v1/commands), in seq order."""
        out, seq = [], self.start_seq
        while True:
            doc = self.svc.ok("GET", f"/v1/commands?after={seq}&limit=500")
            out.extend(doc["items"])
            if not doc["next_cursor"]:
                return out
            seq = doc["items"][-1]["seq"]

    def mine(self, cmd):
        return (cmd.get("callback_id") in self.callbacks
                or any(cmd.get(k) in self.numbers
                       for k in ("station", "from_station", "for_station", "trunk_group")))

    def commands(self):
        """This test's commands, in seq order, without id/seq/status/times."""
        return [strip_meta(c) for c in self.all_commands() if self.mine(c)]

    def expect(self, expected, timeout=10.0):
        """Waits for this test's commands to be exactly `expected` (in seq order), then checks
        that the fake PBX received each of them, signed, and that no more came meanwhile."""
        def enough():
            got = self.commands()
            return (got,) if len(got) >= len(expected) else None
        try:
            wait_for(enough, timeout, msg=f"{len(expected)} commands")
        except AssertionError:
            pass
        self.settle()
        got = self.commands()
        assert got == expected, "commands differ:\n got: " + json.dumps(got, indent=1) + \
            "\nwant: " + json.dumps(expected, indent=1)
        ids = [c["id"] for c in self.all_commands() if self.mine(c)]
        wait_for(lambda: all(self.pbx_received(i) for i in ids), 10,
                 msg="every command acknowledged by the fake PBX")
        assert not self.pbx.bad_signatures()
        return got

    def pbx_received(self, command_id):
        return any(c.get("id") == command_id for c in self.pbx.received())

    def mark(self):
        """The number of this test's commands so far (for `expect_since`)."""
        return len(self.commands())

    def expect_since(self, mark, expected, timeout=10.0):
        """As `expect`, for the commands after `mark` only."""
        def enough():
            got = self.commands()[mark:]
            return (got,) if len(got) >= len(expected) else None
        try:
            wait_for(enough, timeout, msg=f"{len(expected)} commands")
        except AssertionError:
            pass
        self.settle()
        got = self.commands()[mark:]
        assert got == expected, "commands differ:\n got: " + json.dumps(got, indent=1) + \
            "\nwant: " + json.dumps(expected, indent=1)
        return got


def quiet_log(svc, n=40):
    """The last `n` log lines that are not per-request access lines."""
    return [line for line in svc.log().splitlines() if '"msg":"request"' not in line][-n:]


def api_ref(cb):
    return cb["_request_id"]


def query(**params):
    """A query string; list values repeat the parameter."""
    pairs = []
    for k, v in params.items():
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            pairs.append((k, item))
    return urllib.parse.urlencode(pairs)


@pytest.fixture(scope="module")
def cb_env(pg):
    env = Env(pg)
    yield env
    env.close()


@pytest.fixture
def w(cb_env, request):
    world = World(cb_env)
    yield world
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        print("---- callbackd log (tail) ----\n" + "\n".join(quiet_log(cb_env.svc)))


@pytest.fixture
def fresh_w(pg, request):
    env = Env(pg)
    try:
        yield World(env)
    finally:
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        if failed:
            print("---- callbackd log (tail) ----\n" + "\n".join(quiet_log(env.svc)))
        env.close()
