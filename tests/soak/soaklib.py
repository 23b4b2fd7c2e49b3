"""Shared parts of the fault soaks (tests/soak/*.py, issue 11 item 5).

Each soak drives the real callbackd binary with the end-to-end harness (tests/e2e/harness.py:
PgCluster, Service, FakePBX, signed events) and the PBX-loop helpers (tests/e2e/pbx_helpers.py),
applies a fault while a steady load runs, then checks what was acknowledged against what the
database and the fake PBX hold, prints every figure and exits non-zero on any loss, duplicate or
order violation.

The load (one thread each, every request retried until it gets a definitive answer, as a PBX or
a client would):
- EventLoad posts signed batches: station FORWARD's forward_to counts up (the order of
  application), one of the FAC stations dials Cancel-all (exactly one reorder `tone` command per
  application: applying an event twice or never shows in the count), target 2003 flips between
  busy and idle and target 2004 makes hook cycles (callbacks on them mature and ring their
  requesters: `ring` / `stop_ring` commands, notification timers).
- CallbackLoad sets callbacks: one client gives each request an Idempotency-Key and retries it
  with the same key and body until 201 or a refusal (one callback at most per key); others send
  none, concurrently, so that the API sets them in shared transactions (group commit); a retry
  of theirs is a new request, so one left without an answer may have created a callback.

"Delivered once per id": the PBX dedupes commands by id (openapi.yaml, CB-51), so delivery is
at-least-once per id. Every command row must reach status `delivered` and be acknowledged by the
PBX at least once, under the id it was created with; the PBX must never receive an id that is not
a command row. The same id acknowledged twice is a legitimate retry only when the first
acknowledgement may have been lost before callbackd recorded it: a fault (kill, database outage)
began between the first acknowledgement and the repeat. Any other repeat is a duplicate and
fails. Commands that are the same state change applied twice would carry two ids: that shows in
the tone count of the event check.
"""

import http.client
import itertools
import os
import random
import statistics
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import openapi_contract  # noqa: E402
from harness import (FakePBX, PgCluster, Service, event, log_dir, private_port,  # noqa: E402,F401
                     remove_log_dir, wait_for)
from pbx_helpers import Db, cancel_all, metric, provision  # noqa: E402,F401

FORWARD = "2001"                  # station.forward counts up: the order of application
FAC = ("2002", "2005", "2006")    # dial Cancel-all: one reorder tone per application
TARGETS = ("2003", "2004")        # callback targets: 2003 busy/idle flips, 2004 hook cycles
MARK_FWD = "2009"                 # markers posted after a fault: applied = the worker is back
MARK_FAC = "2008"                 # its tone at the PBX = the dispatcher is back
REQUESTERS = tuple(str(3001 + i) for i in range(12))
STATIONS = (FORWARD, *FAC, *TARGETS, MARK_FAC, MARK_FWD, *REQUESTERS)

# Short notification timeout: rings that nobody answers end by timer (CB-23), so timers fire
# under the faults too. A long command TTL: no command may fail while the PBX is away.
OPTIONS = {"notification_timeout_s": 1, "command_ttl_s": 7 * 86400,
           "max_per_requester": 10, "max_per_target": 50}

NO_ANSWER = (OSError, http.client.HTTPException)  # refused, reset, timed out, cut mid-answer


def now():
    return time.time()


# ---- the report ------------------------------------------------------------------------------

class Report:
    """Figures printed as they are measured, failures collected; `finish` prints the verdict."""

    def __init__(self, name, title):
        self.name = name
        self.figures = {}
        self.failures = []
        print(f"== soak {name}: {title} ==", flush=True)

    def fig(self, key, value, unit=""):
        self.figures[key] = value
        if isinstance(value, float):
            value = f"{value:.3f}"
        print(f"  {key:<52} {value}{unit}", flush=True)

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
            print(f"  FAIL: {what}", flush=True)
        return ok

    def finish(self):
        verdict = "PASS" if not self.failures else f"FAIL ({len(self.failures)})"
        print(f"RESULT {self.name} {verdict}", flush=True)
        return 0 if not self.failures else 1


def spread(values):
    """min / median / max of a list of seconds, as text."""
    if not values:
        return "n/a"
    return (f"min {min(values):.3f} s, median {statistics.median(values):.3f} s, "
            f"max {max(values):.3f} s (n={len(values)})")


# ---- the load --------------------------------------------------------------------------------

class Load(threading.Thread):
    """Sends one item after another to whichever of `targets()` gives a definitive answer,
    retrying an item until it gets one. `records`: (start, end, status) of every attempt, status
    an HTTP status, "error" (no answer) or "contract" (an answer openapi.yaml does not allow)."""

    kind = "load"

    def __init__(self, targets, pause):
        super().__init__(daemon=True)
        self.targets = targets
        self.pause = pause
        self.records = []
        self.contract_errors = []
        self.current = None
        self._halt = threading.Event()
        self._draining = threading.Event()
        self.paused = threading.Event()

    def make(self):
        raise NotImplementedError

    def send(self, svc, item):
        """Returns (status, doc)."""
        raise NotImplementedError

    def definitive(self, status):
        raise NotImplementedError

    def done(self, item, status, doc, t0):
        raise NotImplementedError

    def attempted(self, item, status):
        """Called after every attempt."""

    def run(self):
        while not self._halt.is_set():
            if self.paused.is_set() and self.current is None:
                time.sleep(0.01)
                continue
            if self.current is None:
                if self._draining.is_set():
                    return
                self.current = self.make()
            finished = False
            for svc in self.targets():
                t0 = now()
                doc = None
                try:
                    status, doc = self.send(svc, self.current)
                except NO_ANSWER:
                    status = "error"
                except AssertionError as e:  # openapi_contract.ContractError
                    status = "contract"
                    self.contract_errors.append(str(e)[:300])
                self.records.append((t0, now(), status))
                self.attempted(self.current, status)
                if status != "contract" and self.definitive(status):
                    self.done(self.current, status, doc, t0)
                    self.current = None
                    finished = True
                    break
            time.sleep(self.pause if finished else 0.05)

    def finish(self, timeout=120.0):
        """Stops once the item in hand has its definitive answer; False if it never got one."""
        self._draining.set()
        self.join(timeout)
        self._halt.set()
        return self.current is None

    def no_answer(self):
        return sum(1 for r in self.records if r[2] == "error")


class EventLoad(Load):
    """Signed event batches (see the module docstring)."""

    kind = "events"

    def __init__(self, targets, pause=0.02, flip_every=15, hook_every=40):
        super().__init__(targets, pause)
        self.counter = itertools.count(1)
        self.flip_every = flip_every
        self.hook_every = hook_every
        self.acked = []      # batches answered 202, in order
        self.refused = []    # (status, doc): a batch refused outright (a bug of the load or
                             # of the service: counted as a failure)

    def make(self):
        i = next(self.counter)
        batch = [event("station.forward", station=FORWARD, forward_to=f"5{i:07d}"),
                 cancel_all(FAC[i % len(FAC)])]
        if i % self.flip_every == 0:
            busy = (i // self.flip_every) % 2 == 1
            batch.append(event("station.state", station="2003",
                               availability="busy" if busy else "idle"))
        if i % self.hook_every == 5:
            batch.append(event("station.hook", station="2004", hook="off"))
        if i % self.hook_every == 7:
            batch.append(event("station.hook", station="2004", hook="on"))
        return batch

    def send(self, svc, item):
        st, doc, _ = svc.post_events(item)
        return st, doc

    def definitive(self, status):
        return status == 202 or (isinstance(status, int) and 400 <= status < 500)

    def done(self, item, status, doc, t0):
        if status == 202:
            self.acked.append(item)
        else:
            self.refused.append((status, doc))


class CallbackLoad(Load):
    """POST /v1/callbacks. `keyed`: each request has its own Idempotency-Key and is retried with
    the same key and body until 201 or a refusal, so it creates one callback at most. Unkeyed
    requests (these are the ones the API sets in shared transactions, group commit) are retried
    as new requests; one that got no answer or a 5xx may have created a callback all the same
    (`unsure` counts them)."""

    kind = "callbacks"

    def __init__(self, targets, pause=0.05, seed=0, keyed=True):
        super().__init__(targets, pause)
        self.rng = random.Random(seed)
        self.keyed = keyed
        self.acked = {}      # id -> (idempotency key or None, body) of every 201
        self.refused = {}    # problem code -> count (409 limit_reached, ...)
        self.requests = 0    # requests made (keys, when keyed)
        self.unsure = []     # (requester, target) of unkeyed attempts whose outcome is unknown

    def make(self):
        self.requests += 1
        body = {"requester": self.rng.choice(REQUESTERS), "target": self.rng.choice(TARGETS)}
        return (f"soak-{uuid.uuid4()}" if self.keyed else None, body)

    def send(self, svc, item):
        key, body = item
        st, doc, _ = svc.call("POST", "/v1/callbacks", body,
                              headers={"Idempotency-Key": key} if key else None)
        return st, doc

    def attempted(self, item, status):
        if not self.keyed and not (isinstance(status, int) and status < 500):
            self.unsure.append((item[1]["requester"], item[1]["target"]))

    def definitive(self, status):
        return status == 201 or (isinstance(status, int) and 400 <= status < 500)

    def done(self, item, status, doc, t0):
        if status == 201:
            self.acked[doc["id"]] = item
        else:
            code = doc.get("code") if isinstance(doc, dict) else str(status)
            self.refused[code] = self.refused.get(code, 0) + 1


def callback_loads(targets, seed, unkeyed=2, pause=0.05):
    """One keyed client and `unkeyed` clients without keys (concurrent: group commit)."""
    return [CallbackLoad(targets, pause=pause, seed=seed)] + [
        CallbackLoad(targets, pause=pause, seed=seed + 1 + i, keyed=False)
        for i in range(unkeyed)]


def post_until_acked(targets, events, timeout=30.0):
    """Posts one batch until some process answers 202; returns when it did (wall clock)."""
    deadline = time.monotonic() + timeout
    while True:
        for svc in targets():
            try:
                st, _, _ = svc.post_events(events)
            except NO_ANSWER:
                continue
            if st == 202:
                return now()
        if time.monotonic() > deadline:
            raise AssertionError(f"batch not acknowledged within {timeout} s")
        time.sleep(0.02)


# ---- the system under test -------------------------------------------------------------------

class Setup:
    """A database (on the cluster of tests/run.sh when CALLBACKD_TEST_PG_URL is set and a
    private cluster is not asked for, else on a private cluster made here), a FakePBX, and the
    callbackd processes started on them. `close` stops everything it started."""

    def __init__(self, private_cluster=False, pbx_port=0, synchronous_commit=None):
        url = None if private_cluster else os.environ.get("CALLBACKD_TEST_PG_URL")
        if url:
            port = os.environ.get("CALLBACKD_TEST_PG_PORT")
            self.pg = PgCluster(os.environ.get("CALLBACKD_TEST_PG_DIR", ""), url=url,
                                port=int(port) if port else None)
            self.owned = False
        else:
            self.pg = PgCluster.create()
            self.owned = True
            if synchronous_commit is not None:
                self.pg.sql(f"ALTER SYSTEM SET synchronous_commit = {synchronous_commit}")
                self.pg.sql("SELECT pg_reload_conf()")
        self.dbname = self.pg.create_db("soak")
        self.url = self.pg.db_url(self.dbname)
        self.db = Db(self.pg, self.url)
        self.pbx = FakePBX(port=pbx_port)
        self.services = []
        self.faults = []  # (start, end, label), wall clock: what may excuse a repeated delivery

    def service(self, port=None):
        s = Service(self.url, pbx=self.pbx, port=port, env={"CALLBACKD_LOG_LEVEL": "info"})
        self.services.append(s)
        return s

    def provision(self, svc):
        provision(svc, STATIONS)
        svc.ok("PUT", "/v1/system-options", OPTIONS)

    def running(self):
        return [s for s in self.services if s.running()]

    def targets(self):
        """The running processes, in random order (each request goes to one that answers)."""
        live = self.running()
        random.shuffle(live)
        return live

    def close(self, rep):
        """Stops the processes (SIGTERM: each must exit 0), the PBX and the database; keeps the
        logs when the soak failed."""
        for s in self.services:
            if s.running():
                try:
                    status = s.stop()
                except AssertionError as e:
                    rep.check(False, str(e)[:300])
                    continue
                rep.check(status == 0, f"callbackd on :{s.port} exited {status} on SIGTERM")
            reports = s.sanitizer_reports()
            rep.check(not reports, f"sanitizer reports from callbackd on :{s.port}: {reports[:3]}")
        try:
            self.pbx.close()
        except Exception:  # noqa: BLE001 - best effort at the end
            pass
        if self.owned:
            self.pg.destroy()
        else:
            self.pg.drop_db(self.dbname)
        if rep.failures:
            print(f"  callbackd logs kept in {log_dir()}", flush=True)
        else:
            for s in self.services:
                s.cleanup()
            remove_log_dir()


def pending_commands(db):
    return db.count("SELECT count(*) FROM commands WHERE status = 'pending'")


def quiesce(setup, loads, timeout=180.0):
    """Ends the load: the loads finish their last item, a last batch makes both targets busy (no
    callback matures any more), then waits until every stored event is applied, nothing rings
    and no command is pending. Returns the seconds the wait took."""
    for load in loads:
        if not load.finish():
            raise AssertionError(f"{load.kind}: the last request never got a definitive answer")
    post_until_acked(setup.targets, [event("station.state", station=t, availability="busy")
                                     for t in TARGETS])
    t0 = time.monotonic()
    db = setup.db
    wait_for(lambda: db.count("SELECT count(*) FROM pbx_events WHERE applied_at IS NULL") == 0
             and db.count("SELECT count(*) FROM callbacks WHERE state = 'notifying'") == 0
             and pending_commands(db) == 0,
             timeout, interval=0.3, msg="events applied, nothing ringing, no command pending")
    return time.monotonic() - t0


# ---- the checks ------------------------------------------------------------------------------

def check_events(rep, setup, load, svc):
    """Every acknowledged event stored once, applied once, in the order acknowledged."""
    db = setup.db
    evs = [e for b in load.acked for e in b]
    ids = [e["id"] for e in evs]
    rows = db.rows("SELECT id, outcome, applied_at IS NOT NULL FROM pbx_events ORDER BY seq")
    stored = {r[0]: (r[1], r[2] == "t") for r in rows}
    mine = set(ids)
    lost = [i for i in ids if i not in stored]
    unapplied = [i for i in ids if i in stored and not stored[i][1]]
    ignored = [i for i in ids if i in stored and stored[i][0] == "ignored"]
    order = [r[0] for r in rows if r[0] in mine]
    fac = ",".join(f"'{s}'" for s in FAC)
    tones = db.count(f"SELECT count(*) FROM commands WHERE type = 'tone' "
                     f"AND body->>'station' IN ({fac})")
    digits = sum(1 for e in evs if e["type"] == "digits")
    rep.fig("event batches acknowledged", len(load.acked))
    rep.fig("events acknowledged", len(ids))
    rep.fig("events lost (acknowledged, not stored)", len(lost))
    rep.fig("events stored, not applied", len(unapplied))
    rep.fig("events marked ignored", len(ignored))
    rep.fig("Cancel-all events acknowledged / tones produced", f"{digits} / {tones}")
    rep.fig("events applied twice (extra tones)", max(0, tones - digits))
    rep.fig("events without effect (missing tones)", max(0, digits - tones))
    rep.fig("event batches refused (4xx)", len(load.refused))
    rep.fig("event posts without an answer (retried)", load.no_answer())
    rep.check(not lost, f"{len(lost)} acknowledged events lost: {lost[:5]}")
    rep.check(not unapplied, f"{len(unapplied)} acknowledged events never applied")
    rep.check(not ignored, f"{len(ignored)} events marked ignored (their application failed)")
    rep.check(tones == digits, f"{tones} tones for {digits} Cancel-all events")
    rep.check(order == ids, "events stored in another order than acknowledged")
    rep.check(not load.refused, f"batches refused: {load.refused[:3]}")
    if evs:
        last = [e for e in evs if e["type"] == "station.forward"][-1]["forward_to"]
        got = svc.ok("GET", f"/v1/stations/{FORWARD}")["state"]["forward_to"]
        rep.check(got == last, f"station {FORWARD} forwards to {got}, the last event said {last}")


def check_callbacks(rep, setup, loads, svc, sample=40):
    """Every callback answered 201 exists. No callback exists that no 201 announced, but for
    unkeyed requests left without an answer (a keyed retry must never create a second one)."""
    db = setup.db
    rows = db.rows("SELECT id, requester, target FROM callbacks")
    present = {r[0] for r in rows}
    acked, refused = set(), {}
    for load in loads:
        acked |= set(load.acked)
        for code, n in load.refused.items():
            refused[code] = refused.get(code, 0) + n
    keyed = [ld for ld in loads if ld.keyed]
    unkeyed = [ld for ld in loads if not ld.keyed]
    unsure = [pair for ld in unkeyed for pair in ld.unsure]
    lost = acked - present
    extra = present - acked
    # Each callback no 201 announced must match an unkeyed attempt of unknown outcome with the
    # same requester and target (one attempt explains one callback).
    left = list(unsure)
    unexplained = []
    for r in rows:
        if r[0] in extra:
            if (r[1], r[2]) in left:
                left.remove((r[1], r[2]))
            else:
                unexplained.append(r[0])
    rep.fig("callback clients (keyed / unkeyed)", f"{len(keyed)} / {len(unkeyed)}")
    rep.fig("callbacks requested", sum(ld.requests for ld in loads))
    rep.fig("callbacks acknowledged (201)", len(acked))
    rep.fig("callbacks refused (by problem code)", dict(sorted(refused.items())) or 0)
    rep.fig("callbacks lost (201, not in the database)", len(lost))
    rep.fig("callbacks created without a 201", len(extra))
    rep.fig("unkeyed requests with no answer or a 5xx (may have created one)", len(unsure))
    rep.fig("callback requests without an answer (retried)", sum(ld.no_answer() for ld in loads))
    rep.check(not lost, f"{len(lost)} acknowledged callbacks lost: {sorted(lost)[:5]}")
    rep.check(not unexplained,
              f"{len(unexplained)} callbacks nobody was answered 201 for and no unkeyed request "
              f"of unknown outcome explains (a keyed retry created a second one?): "
              f"{unexplained[:5]}")
    for ld in loads:
        rep.check(ld.requests == len(ld.acked) + sum(ld.refused.values()),
                  "a callback request ended without a definitive answer")
    missing = []
    for cid in random.Random(1).sample(sorted(acked), min(sample, len(acked))):
        st, doc, _ = svc.call("GET", f"/v1/callbacks/{cid}")
        if st != 200 or doc.get("id") != cid:
            missing.append((cid, st))
    rep.fig("acknowledged callbacks read back with GET (sample)", min(sample, len(acked)))
    rep.check(not missing, f"acknowledged callbacks not readable: {missing[:5]}")


def acked_receipts(pbx):
    """(time, doc) of every command the fake PBX acknowledged, in the order it received them."""
    with pbx.lock:
        reqs = list(pbx.requests)
    return [(r["at"], r["doc"]) for r in reqs if r.get("acked") and isinstance(r["doc"], dict)]


def check_commands(rep, setup, slack=1.0):
    """Every command row delivered, acknowledged by the PBX under its id, in order per order key
    (station); a repeat of an id only after a fault (see the module docstring)."""
    db = setup.db
    rows = db.rows("SELECT id, seq, order_key, status, attempts, type FROM commands ORDER BY seq")
    table = {r[0]: {"seq": int(r[1]), "key": r[2], "status": r[3], "attempts": int(r[4]),
                    "type": r[5]} for r in rows}
    receipts = acked_receipts(setup.pbx)
    first = {}     # id -> index of its first acknowledged receipt
    times = {}     # id -> times of its acknowledged receipts
    mismatched = []
    for i, (t, doc) in enumerate(receipts):
        cid = doc.get("id")
        first.setdefault(cid, i)
        times.setdefault(cid, []).append(t)
        row = table.get(cid)
        if row and (doc.get("seq") != row["seq"] or doc.get("type") != row["type"]):
            mismatched.append(cid)
    undelivered = [c for c, r in table.items() if r["status"] != "delivered"]
    never_acked = [c for c, r in table.items() if r["status"] == "delivered" and c not in first]
    unknown = [c for c in first if c not in table]
    explained, unexplained = 0, []
    for cid, ts in times.items():
        for a, b in zip(ts, ts[1:]):
            if any(a - slack <= start <= b for start, _, _ in setup.faults):
                explained += 1
            else:
                unexplained.append(cid)
    by_key = {}
    for cid, row in table.items():
        if cid in first:
            by_key.setdefault(row["key"], []).append((first[cid], row["seq"]))
    order_bad = []
    for key, pairs in by_key.items():
        seqs = [s for _, s in sorted(pairs)]
        if seqs != sorted(seqs):
            order_bad.append(key)
    # A repeat must come before any later command of its station, too: the later one is only
    # sent once the earlier one's acknowledgement is recorded, and then it is never sent again.
    late = []
    high = {}
    for t, doc in receipts:
        row = table.get(doc.get("id"))
        if row is None:
            continue
        if row["seq"] < high.get(row["key"], 0):
            late.append(doc.get("id"))
        high[row["key"]] = max(high.get(row["key"], 0), row["seq"])
    attempts = [r["attempts"] for r in table.values()]
    types = {}
    for r in table.values():
        types[r["type"]] = types.get(r["type"], 0) + 1
    rep.fig("commands produced (rows)", len(table))
    rep.fig("commands by type", dict(sorted(types.items())))
    rep.fig("commands not delivered (pending or failed)", len(undelivered))
    rep.fig("commands acknowledged by the PBX (receipts / distinct ids)",
            f"{len(receipts)} / {len(first)}")
    rep.fig("ids received again after a fault (at-least-once)", explained)
    rep.fig("ids received twice with no fault between (duplicates)", len(unexplained))
    rep.fig("commands marked delivered, never acknowledged by the PBX", len(never_acked))
    rep.fig("ids at the PBX that are no command", len(unknown))
    rep.fig("order keys (stations) / out of order", f"{len(by_key)} / {len(order_bad)}")
    rep.fig("receipts after a later command of the station", len(late))
    rep.fig("delivery attempts per command (max)", max(attempts) if attempts else 0)
    rep.check(not undelivered, f"{len(undelivered)} commands not delivered: {undelivered[:5]}")
    rep.check(not never_acked, f"{len(never_acked)} commands delivered without a PBX ack")
    rep.check(not unknown, f"the PBX received unknown ids: {unknown[:5]}")
    rep.check(not unexplained, f"{len(unexplained)} ids delivered twice without a fault: "
                               f"{unexplained[:5]}")
    rep.check(not order_bad, f"commands out of order for {order_bad[:5]}")
    rep.check(not late, f"{len(late)} commands received after a later one of their station: "
                        f"{late[:5]}")
    rep.check(not mismatched, f"commands received with another seq or type: {mismatched[:5]}")
    return table, receipts


def check_contract(rep, loads):
    found = openapi_contract.take_violations()
    for load in loads:
        found += load.contract_errors
    found = list(dict.fromkeys(found))
    rep.fig("answers or commands against openapi.yaml", len(found))
    rep.check(not found, "contract violations: " + " | ".join(f[:200] for f in found[:3]))


def leaders(services):
    """The running processes whose callbackd_worker_leader gauge is 1."""
    out = []
    for s in services:
        if not s.running():
            continue
        try:
            if metric(s, "callbackd_worker_leader") == 1:
                out.append(s)
        except NO_ANSWER:
            pass
    return out


def main(run):
    """Runs `run()` (returning an exit status); an unexpected exception is status 2."""
    try:
        code = run()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        code = 130
    except Exception:  # noqa: BLE001 - reported, then a failing status
        traceback.print_exc()
        code = 2
    sys.exit(code)
