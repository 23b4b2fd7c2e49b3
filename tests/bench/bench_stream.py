#!/usr/bin/python3
"""Benchmark of GET /v1/stream (not part of ctest). Starts a private PostgreSQL (durable:
fsync and synchronous_commit on), one callbackd (CALLBACKD_BIN, default build/callbackd), opens
STREAMS streams on it and changes callbacks at RATE changes/s, then prints:

1. commit -> client: for every change and every stream that may see it, the time from the
   change's commit (the API's 201/204 answer to the request that made it: the commit is
   before it) to the stream's bytes arriving at the client; median, p99, max. Also the time of
   the requests themselves (send -> answer), so the reader sees how much earlier the commit
   may have been;
2. the process's resident size (VmRSS) and threads before the streams open and with them
   open (after the run), and the memory per open stream.

The streams are what browsers hold: ADMIN of them with the admin token (consoles: they see
every change), the rest with a station token each (phone apps: each sees the callbacks its
station sets). Each change is a callback set (pending) or cancelled, its requester one of
the phones', round robin. One process reads every stream (epoll) and matches each message to
its change by the callback's id and state.

usage: bench_stream.py [--streams 1000] [--admin 50] [--rate 100] [--seconds 20]
"""

import argparse
import http.client
import json
import os
import re
import resource
import selectors
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from harness import ADMIN, PgCluster, Service  # noqa: E402

DATA = re.compile(rb'data: \{"id":"([0-9a-f-]{36})".*?"state":"([a-z_]+)"')


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


class Api:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=ADMIN):
        h = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        payload = r.read()
        return r.status, json.loads(payload) if payload else None


def open_stream(port, token):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET /v1/stream?types=callback HTTP/1.1\r\nHost: x\r\n"
              f"Authorization: Bearer {token}\r\n\r\n".encode())
    buf = b""
    while b": ok" not in buf:
        got = s.recv(4096)
        if not got:
            raise RuntimeError(f"stream closed: {buf[:200]!r}")
        buf += got
    assert buf.startswith(b"HTTP/1.1 200"), buf[:200]
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--admin", type=int, default=50)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    phones = args.streams - args.admin
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.streams + 512)), hard))

    pg = PgCluster.create(fast=False)
    try:
        url = pg.db_url(pg.create_db("bench"))
        svc = Service(url, env={"CALLBACKD_LOG_LEVEL": "warn",
                                "CALLBACKD_MAX_CONNECTIONS_PER_IP": str(2 * args.streams + 200)})
        svc.start()
        try:
            run(svc, pg, args, phones)
        finally:
            svc.stop()
            svc.cleanup()
    finally:
        pg.destroy()


def run(svc, pg, args, phones):
    api = Api(svc.port)
    api.call("PUT", "/v1/classes-of-service/staff", {"callbacks_allowed": True})
    numbers = [str(20000 + i) for i in range(max(phones, 50))]
    targets = [str(30000 + i) for i in range(20)]
    for n in numbers + targets:
        assert api.call("PUT", f"/v1/stations/{n}", {"kind": "ip_phone", "cos": "staff"})[0] == 200
    tokens = [api.call("POST", "/v1/tokens", {"scopes": [f"station:{n}"]})[1]["token"]
              for n in numbers[:phones]]
    # Warm up: a few changes with no stream open, so the feed and the pool are running.
    for i in range(20):
        _, cb = api.call("POST", "/v1/callbacks", {"requester": numbers[i % len(numbers)],
                                                   "target": targets[i % len(targets)]})
        api.call("DELETE", f"/v1/callbacks/{cb['id']}")
    # And streams opened and closed, so that every request thread and pooled session is in use
    # once: what is measured next is what the streams hold.
    for _ in range(3):
        warm = [open_stream(svc.port, svc.admin) for _ in range(50)]
        for s in warm:
            s.close()
    time.sleep(1)
    rss0, threads0 = proc_status(svc.proc.pid)

    sel = selectors.DefaultSelector()
    streams = []
    for i in range(args.streams):
        token = svc.admin if i < args.admin else tokens[i - args.admin]
        try:
            s = open_stream(svc.port, token)
        except (OSError, RuntimeError) as e:
            tail = "\n".join(svc.log().splitlines()[-5:])
            raise RuntimeError(f"stream {i} could not open: {e}\n{tail}") from None
        streams.append(s)
        sel.register(s, selectors.EVENT_READ, i)
    rss_open, threads_open = proc_status(svc.proc.pid)
    print(f"callbackd {svc.bin}, {os.cpu_count()} CPUs, PostgreSQL durable "
          f"(fsync, synchronous_commit on)")
    print(f"{args.streams} streams open: {args.admin} admin, {phones} station tokens")

    acked = {}  # (callback id, state) -> (sent, answered)
    arrivals = []  # (stream index, callback id, state, time)
    stop = threading.Event()

    def changes():
        client = Api(svc.port)
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        k = 0
        open_cbs = []
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            sent = time.time()
            if len(open_cbs) < 40:
                req = numbers[k % len(numbers)]
                st, cb = client.call("POST", "/v1/callbacks",
                                     {"requester": req, "target": targets[k % len(targets)]})
                k += 1
                assert st == 201, (st, cb)
                acked[(cb["id"], "pending")] = (sent, time.time(), req)
                open_cbs.append((cb["id"], req))
            else:
                cid, req = open_cbs.pop(0)
                st, _ = client.call("DELETE", f"/v1/callbacks/{cid}")
                assert st in (200, 204), st
                acked[(cid, "cancelled")] = (sent, time.time(), req)
        stop.set()

    gen = threading.Thread(target=changes)
    gen.start()
    bufs = [b""] * args.streams
    drain_until = None
    while True:
        if stop.is_set() and drain_until is None:
            drain_until = time.monotonic() + 3.0
        if drain_until is not None and time.monotonic() > drain_until:
            break
        for key, _ in sel.select(timeout=0.05):
            i = key.data
            now = time.time()
            try:
                got = streams[i].recv(262144)
            except BlockingIOError:
                continue
            if not got:
                sel.unregister(streams[i])
                continue
            buf = bufs[i] + got
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                bufs[i] = buf
                continue
            for m in DATA.finditer(buf, 0, cut):
                arrivals.append((i, m.group(1).decode(), m.group(2).decode(), now))
            bufs[i] = buf[cut + 2:]
    gen.join()
    rss1, threads1 = proc_status(svc.proc.pid)
    for s in streams:
        s.close()

    # Every (change, stream that may see it) pair must have arrived, once.
    seen = {}
    for i, cid, state, t in arrivals:
        key = (i, cid, state)
        seen[key] = seen.get(key, 0) + 1
    dups = sum(n - 1 for n in seen.values())
    lat, missing = [], 0
    phone_of = {numbers[j]: args.admin + j for j in range(phones)}
    first = {}
    for i, cid, state, t in arrivals:
        first.setdefault((i, cid, state), t)
    for (cid, state), (sent, answered, req) in acked.items():
        owed = list(range(args.admin))
        if req in phone_of:
            owed.append(phone_of[req])
        for i in owed:
            t = first.get((i, cid, state))
            if t is None:
                missing += 1
            else:
                lat.append(t - answered)
    req_ms = [(a - s) * 1000 for s, a, _ in acked.values()]
    changes_n = len(acked)
    print(f"{changes_n} changes in {args.seconds:.0f} s ({changes_n / args.seconds:.0f}/s), "
          f"{len(lat)} deliveries, {missing} missing, {dups} duplicates")
    print(f"request send -> answer (the commit is inside): median {statistics.median(req_ms):.1f} ms, "
          f"p99 {pct(req_ms, 99):.1f} ms")
    print(f"commit (answer) -> client: median {statistics.median(lat) * 1000:.1f} ms, "
          f"p99 {pct(lat, 99) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms")
    per_stream = (rss_open - rss0) * 1024 / args.streams
    per_stream_run = (rss1 - rss0) * 1024 / args.streams
    print(f"RSS before streams {rss0 / 1024:.1f} MiB ({threads0} threads); with {args.streams} "
          f"open {rss_open / 1024:.1f} MiB ({threads_open} threads), after the run "
          f"{rss1 / 1024:.1f} MiB ({threads1} threads)")
    print(f"memory per open stream: {per_stream / 1024:.1f} KiB at open, "
          f"{per_stream_run / 1024:.1f} KiB after the run")
    if missing or dups:
        sys.exit(1)


if __name__ == "__main__":
    main()
