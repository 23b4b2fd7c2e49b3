#!/usr/bin/python3
"""Slowloris soak (issue 11): N connections from 127.0.0.1 trickle one header line every few
seconds and never finish their request, reconnecting whenever callbackd closes one, as an
attacker on the same network would; meanwhile a client on 127.0.0.2 reads a station
(GET /v1/stations/2001) ten times a second. Prints what callbackd held, refused and cut, and the
other client's latencies. A soak, never part of ctest (tests/e2e/test_network_limits.py has the
scaled-down test).

usage: tests/soak/slowloris.py [--bin PATH] [--connections N] [--seconds S] [--every S]
                               [--pg-url URL] [--env NAME=VALUE ...]

  --bin PATH        the callbackd binary (default: build/callbackd, or $CALLBACKD_BIN)
  --connections N   trickling connections from 127.0.0.1 (default 2000)
  --seconds S       how long the attack lasts (default 30)
  --every S         seconds between two header lines of one connection (default 10)
  --pg-url URL      a PostgreSQL superuser URL to create the database on; default: a private
                    throwaway cluster (deploy/pg-cluster.sh), removed at the end
  --env NAME=VALUE  extra configuration for callbackd (e.g. CALLBACKD_REQUEST_TIMEOUT_S=5);
                    by default it runs with the defaults of the README

Everything is on loopback; everything started is stopped at the end (callbackd by SIGTERM).
"""

import argparse
import json
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from harness import ADMIN, PgCluster, Service  # noqa: E402
from net_helpers import Slowloris, raise_fd_limit, request  # noqa: E402


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


TIMEOUTS = 'callbackd_http_connections_closed_total{reason="request_timeout"}'


def metrics(port):
    try:
        _, _, body, _ = request(port, "GET", "/metrics", src="127.0.0.3", timeout=5.0)
    except OSError:
        return {}
    out = {}
    for name in ("callbackd_http_connections", TIMEOUTS):
        m = re.search(rf"^{re.escape(name)} (\S+)$", body.decode(), re.M)
        if m:
            out[name] = float(m.group(1))
    return out


class Reader(threading.Thread):
    """The other client: GET /v1/stations/2001 from 127.0.0.2 every 0.1 s, each on a new
    connection, 2 s allowed."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.latencies = []
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        headers = {"Authorization": f"Bearer {ADMIN}"}
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                st, _, _, seconds = request(self.port, "GET", "/v1/stations/2001", headers,
                                            src="127.0.0.2", timeout=2.0)
                if st == 200:
                    self.latencies.append(seconds)
                else:
                    self.failures.append(f"status {st}")
            except (OSError, TimeoutError) as e:
                self.failures.append(f"{type(e).__name__} after "
                                     f"{time.monotonic() - started:.2f}s")
            self.stop.wait(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--pg-url")
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()
    env = dict(kv.split("=", 1) for kv in a.env)

    have = raise_fd_limit(a.connections * 2 + 200)
    if have < a.connections * 2 + 200:
        sys.exit(f"slowloris: the open-files limit ({have}) is too low for "
                 f"{a.connections} connections; raise ulimit -Hn")

    pg = PgCluster("", url=a.pg_url) if a.pg_url else PgCluster.create()
    dbname = pg.create_db("soak")
    svc = Service(pg.db_url(dbname), env={"CALLBACKD_LOG_LEVEL": "warn", **env}, bin=a.bin)
    attack = reader = None
    try:
        svc.start()
        svc.ok("PUT", "/v1/classes-of-service/staff", {"callbacks_allowed": True})
        svc.ok("PUT", "/v1/stations/2001", {"kind": "ip_phone", "cos": "staff"})
        print(f"callbackd {svc.bin} on 127.0.0.1:{svc.port}; configuration: "
              f"{json.dumps(env) if env else 'the defaults'}")

        reader = Reader(svc.port)
        reader.start()
        time.sleep(1.0)
        quiet = list(reader.latencies)

        attack = Slowloris(svc.port, a.connections, src="127.0.0.1", path="/v1/stations/2001")
        t0 = time.monotonic()
        attack.open(settle=1.0)
        print(f"opened {attack.opened} connections from 127.0.0.1 in "
              f"{time.monotonic() - t0:.1f}s: {attack.refused} closed at once, "
              f"{attack.held()} held, {attack.connect_errors} connect errors")
        during_from = len(reader.latencies)
        fails_from = len(reader.failures)
        rounds = []
        started = time.monotonic()
        while time.monotonic() - started < a.seconds:
            time.sleep(min(a.every, max(0.0, a.seconds - (time.monotonic() - started))))
            cut_before, refused_before = attack.cut, attack.refused
            attack.round(reconnect=True, settle=0.5)
            rounds.append((time.monotonic() - started, attack.held(), attack.cut - cut_before,
                           attack.refused - refused_before))
            m = metrics(svc.port)
            open_now = m.get("callbackd_http_connections", float("nan"))
            timed_out = m.get(TIMEOUTS, float("nan"))
            print(f"  t={rounds[-1][0]:5.1f}s held {rounds[-1][1]:5d}  cut since last round "
                  f"{rounds[-1][2]:5d}  refused on reconnect {rounds[-1][3]:5d}  "
                  f"server: open {open_now:.0f}, timed out so far {timed_out:.0f}")
        during = reader.latencies[during_from:]
        failures = reader.failures[fails_from:]
        reader.stop.set()
        reader.join()

        def fmt(xs):
            return (f"n={len(xs)} p50={percentile(xs, 50) * 1000:.1f}ms "
                    f"p95={percentile(xs, 95) * 1000:.1f}ms p99={percentile(xs, 99) * 1000:.1f}ms "
                    f"max={max(xs) * 1000 if xs else float('nan'):.1f}ms")

        print(f"other client (127.0.0.2) before the attack: {fmt(quiet)}")
        print(f"other client (127.0.0.2) during the attack: {fmt(during)}; "
              f"{len(failures)} failed{': ' + ', '.join(failures[:5]) if failures else ''}")
        print(f"attack: {attack.opened} connections opened, {attack.refused} closed at once, "
              f"{attack.cut} cut while trickling, at most "
              f"{max((r[1] for r in rounds), default=attack.held())} held at a time")
        ok = not failures and during and max(during) < 1.0
        print("RESULT: " + ("the other client was served throughout" if ok else
                            "the other client was NOT served normally"))
        return 0 if ok else 1
    finally:
        if reader:
            reader.stop.set()
        if attack:
            attack.close()
        status = svc.stop() if svc.proc else None
        svc.cleanup()
        pg.drop_db(dbname)
        if not a.pg_url:
            pg.destroy()
        if status not in (None, 0):
            print(f"callbackd exited {status} on SIGTERM")


if __name__ == "__main__":
    sys.exit(main())
