#!/usr/bin/python3
"""Benchmark of the PBX loop (not part of ctest). Starts a private PostgreSQL, one callbackd
(CALLBACKD_BIN, default build/callbackd) and a fast fake PBX, then measures:

1. events/s accepted (202) for batches of 1 and of 100, with several concurrent clients
   (keep-alive connections, signed as openapi.yaml says);
2. the delay from the 202 to the live-state change: the median and p99 of applied_at -
   received_at in pbx_events (server clock, both sides of the worker), and the median seen by a
   client polling GET /v1/stations/{n} right after the 202;
3. event -> command latency at a steady rate: `digits` Cancel-all events (each produces a `tone`
   command) posted at RATE events/s; latency = the fake PBX receiving the command minus the
   client sending the event; median and p99.

usage: bench_events.py [--seconds S] [--clients C] [--rate R]
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from harness import SECRET, PgCluster, Service, event, sign, wait_for  # noqa: E402
from pbx_helpers import Db, provision  # noqa: E402

STATIONS = [f"3{i:03d}" for i in range(200)]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


class Client:
    """One keep-alive connection posting signed batches."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, events):
        body = json.dumps({"events": events}).encode()
        h = sign(SECRET, body)
        h["Content-Type"] = "application/json"
        self.conn.request("POST", "/v1/pbx/events", body=body, headers=h)
        r = self.conn.getresponse()
        r.read()
        return r.status

    def get(self, path, token):
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"null")


class FastPBX:
    """Acknowledges every command at once and records when it arrived."""

    def __init__(self):
        self.arrivals = []  # (time, command)
        self.lock = threading.Lock()
        pbx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with pbx.lock:
                    pbx.arrivals.append((now, json.loads(body)))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/commands"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def throughput(svc, batch, clients, seconds):
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def run(i):
        c = Client(svc.port)
        n = 0
        while time.monotonic() < stop:
            evs = [event("station.state", station=STATIONS[(i * 7 + n + k) % len(STATIONS)],
                         availability="busy" if (n + k) % 2 else "idle") for k in range(batch)]
            assert c.post(evs) == 202
            counts[i] += batch
            n += batch

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def apply_delay(svc, db, samples):
    """Client view: 202 then poll GET until the state shows the change."""
    c = Client(svc.port)
    seen = []
    for i in range(samples):
        target = f"9{i:05d}"
        assert c.post([event("station.forward", station="3000", forward_to=target)]) == 202
        t0 = time.perf_counter()
        while True:
            st, doc = c.get("/v1/stations/3000", svc.admin)
            if doc["state"]["forward_to"] == target:
                break
        seen.append(time.perf_counter() - t0)
        time.sleep(0.01)
    return seen


def server_delays(db):
    rows = db.rows("SELECT extract(epoch FROM applied_at - received_at) FROM pbx_events "
                   "WHERE applied_at IS NOT NULL")
    return [float(r[0]) for r in rows]


def command_latency(svc, pbx, rate, seconds):
    """Cancel-all events at `rate`/s (batches of 1 from one client per 100/s); each yields one
    tone command for its station."""
    sent = {}  # station -> list of send times
    lock = threading.Lock()
    per_client = 100.0
    clients = max(1, int(round(rate / per_client)))
    interval = clients / float(rate)
    stop = time.monotonic() + seconds

    def run(i):
        c = Client(svc.port)
        n = 0
        next_t = time.monotonic()
        while next_t < stop:
            station = STATIONS[(i + n * clients) % len(STATIONS)]
            now = time.time()
            with lock:
                sent.setdefault(station, []).append(now)
            assert c.post([event("digits", station=station, digits="#41", call_state="idle")]) == 202
            n += 1
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    with pbx.lock:
        pbx.arrivals.clear()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(len(v) for v in sent.values())
    wait_for(lambda: len(pbx.arrivals) >= total, 60, msg="every tone command delivered")
    got = {}
    with pbx.lock:
        for at, cmd in sorted(pbx.arrivals, key=lambda a: a[1]["seq"]):
            got.setdefault(cmd["station"], []).append(at)
    lat = []
    for station, times in sent.items():
        for s, r in zip(times, got.get(station, [])):
            lat.append(r - s)
    return total / seconds, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=int, default=1000)
    args = ap.parse_args()
    pg = PgCluster.create()
    pbx = FastPBX()
    try:
        url = pg.db_url(pg.create_db("bench"))
        svc = Service(url, pbx=pbx, env={"CALLBACKD_LOG_LEVEL": "warn"}).start()
        db = Db(pg, url)
        try:
            provision(svc, stations=STATIONS)
            print(f"callbackd {svc.bin}, {os.cpu_count()} CPUs, {args.clients} clients, "
                  f"{args.seconds:.0f} s per run")
            for batch in (1, 100):
                eps = throughput(svc, batch, args.clients, args.seconds)
                print(f"accepted, batches of {batch:3d}: {eps:9.0f} events/s")
                t0 = time.monotonic()
                wait_for(lambda: db.count("SELECT count(*) FROM pbx_events WHERE applied_at IS NULL") == 0,
                         600, interval=0.2)
                print(f"  worker drained the backlog {time.monotonic() - t0:.1f} s after the last 202")
            d = server_delays(db)
            print(f"202 -> applied (server, all events above incl. backlog): median {statistics.median(d)*1000:.1f} ms")
            db.rows("DELETE FROM pbx_events")
            seen = apply_delay(svc, db, 200)
            d = server_delays(db)
            print(f"202 -> live state, one event at a time: server median {statistics.median(d)*1000:.2f} ms, "
                  f"p99 {pct(d, 99)*1000:.2f} ms; client polling GET median {statistics.median(seen)*1000:.2f} ms")
            for rate in sorted({100, args.rate // 2, args.rate}):
                actual, lat = command_latency(svc, pbx, rate, args.seconds)
                print(f"event -> command at {actual:6.0f} events/s: median {statistics.median(lat)*1000:6.2f} ms, "
                      f"p99 {pct(lat, 99)*1000:7.2f} ms, max {max(lat)*1000:7.1f} ms ({len(lat)} commands)")
        finally:
            svc.stop()
            svc.cleanup()
    finally:
        pbx.server.shutdown()
        pg.destroy()


if __name__ == "__main__":
    main()
