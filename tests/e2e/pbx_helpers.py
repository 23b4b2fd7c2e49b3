"""Helpers of the PBX-loop tests (test_pbx_*.py): provisioning a small directory, reading the
database of a service directly, waiting for the worker, and a client that keeps posting signed
event batches (for the crash and outage tests)."""

import json
import threading
import time
import urllib.parse

from harness import event, wait_for

STATIONS = ("2001", "2002", "2003")


def provision(svc, stations=STATIONS, trunk=None):
    """A class of service allowing callbacks, ip-phone stations, and optionally a trunk group
    `trunk` = (number, [line ids])."""
    svc.ok("PUT", "/v1/classes-of-service/std", {"callbacks_allowed": True})
    for n in stations:
        svc.ok("PUT", f"/v1/stations/{n}", {"kind": "ip_phone", "cos": "std"})
    if trunk:
        svc.ok("PUT", f"/v1/trunk-groups/{trunk[0]}", {"lines": list(trunk[1]),
                                                       "callback_activation": True})


def dbname(url):
    return urllib.parse.urlparse(url).path.lstrip("/")


class Db:
    """SQL on a service's database through the cluster's psql."""

    def __init__(self, pg, url):
        self.pg = pg
        self.name = dbname(url)

    def rows(self, query):
        return self.pg.sql(query, self.name)

    def value(self, query):
        rows = self.rows(query)
        return rows[0][0] if rows else None

    def count(self, query):
        """An integer answer; NULL (max() over no rows) counts as 0."""
        return int(self.value(query) or 0)


def state(svc, number):
    return svc.ok("GET", f"/v1/stations/{number}")["state"]


def wait_state(svc, number, timeout=10.0, **want):
    """Waits until station `number`'s live state has the fields of `want`; returns the state."""
    def check():
        st = state(svc, number)
        return st if all(st.get(k) == v for k, v in want.items()) else None
    return wait_for(check, timeout, msg=f"station {number} state {want}")


def wait_applied(db, timeout=10.0):
    """Waits until the worker has applied every stored event."""
    wait_for(lambda: db.count("SELECT count(*) FROM pbx_events WHERE applied_at IS NULL") == 0,
             timeout, msg="every stored event applied")


def cancel_all(station):
    """The FAC Cancel-all dialed idle: with no callbacks it answers with a reorder `tone`
    command, one per application of the event (a producer of commands to count)."""
    return event("digits", station=station, digits="#41", call_state="idle")


def tone_as_before_018(db, station, status="pending", next_attempt_at="now()"):
    """A reorder `tone` for `station` written as a process older than migration 018 writes
    commands: into `commands` alone, rendered (id, seq, created_at in its body) in the same
    transaction; a delivered or failed one with its one attempt. Returns its id."""
    return db.value(f"""
        BEGIN;
        INSERT INTO commands (id, type, order_key, body, status, attempts, next_attempt_at,
                              delivered_at)
        SELECT i, 'tone', '{station}', jsonb_build_object('type', 'tone', 'station', '{station}',
               'tone', 'reorder', 'callback_id', NULL, 'id', i), '{status}',
               CASE WHEN '{status}' = 'pending' THEN 0 ELSE 1 END, {next_attempt_at},
               CASE WHEN '{status}' = 'delivered' THEN now() END
        FROM gen_random_uuid() AS i;
        UPDATE commands SET body = body || jsonb_build_object('seq', seq, 'created_at',
               to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        WHERE seq = currval('commands_seq_seq') RETURNING id;
        COMMIT;""")


def commands(svc, **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return svc.ok("GET", "/v1/commands" + ("?" + q if q else ""))["items"]


def metric(svc, name, labels="", text=None):
    """The value of one series of /metrics (None when absent); from `text` when given."""
    if text is None:
        st, text, _ = svc.call("GET", "/metrics", token=None)
        assert st == 200
    keys = (name + "{" + labels + "}",) if labels else (name, name + "{}")
    for line in text.splitlines():
        if any(line.startswith(k + " ") for k in keys):
            return float(line.split()[-1])
    return None


def counted_metrics(svc, timeout=10.0):
    """/metrics whose database counts (callbackd_callbacks, callbackd_commands) began after this
    call: a scrape shows the latest count, which a loaded machine may not finish in the 25 ms a
    scrape waits for it."""
    def fresh():
        t0 = time.time()
        text = svc.call("GET", "/metrics", token=None)[1]
        ts = metric(svc, "callbackd_db_counts_timestamp_seconds", text=text)
        return text if ts is not None and ts >= t0 - 0.002 else None
    return wait_for(fresh, timeout, msg="/metrics with a fresh database count")


class Poster(threading.Thread):
    """Posts signed batches to whichever of `targets()` answers, retrying each batch until it is
    acknowledged (as a PBX does). Records acknowledged batches and every status seen."""

    def __init__(self, targets, make_batch, pause=0.01):
        super().__init__(daemon=True)
        self.targets = targets
        self.make_batch = make_batch
        self.pause = pause
        self.stop = threading.Event()
        self.draining = threading.Event()
        self.acked = []     # batches answered 202, in order
        self.statuses = []  # (time, status) of every answer or "error" for no answer
        self.current = None

    def run(self):
        while not self.stop.is_set():
            if self.current is None:
                if self.draining.is_set():
                    return
                self.current = self.make_batch()
            sent = False
            for svc in self.targets():
                try:
                    st, doc, _ = svc.post_events(self.current)
                except OSError:
                    self.statuses.append((time.monotonic(), "error"))
                    continue
                self.statuses.append((time.monotonic(), st))
                if st == 202:
                    self.acked.append(self.current)
                    self.current = None
                    sent = True
                    break
            time.sleep(self.pause if sent else 0.05)

    def finish(self, timeout=30.0):
        """Stops after the batch in hand is acknowledged (so that every batch made is acked)."""
        self.draining.set()
        self.join(timeout)
        self.stop.set()
        assert self.current is None, f"last batch never acknowledged: {self.statuses[-5:]}"


def events_json(batches):
    return [e for b in batches for e in b]


def dumps(x):
    return json.dumps(x, sort_keys=True)
