#!/usr/bin/env python3
"""PostgreSQL restarted (fast and immediate shutdown) under load, callbackd left running.

A private cluster (it is stopped and started here). While it is down every answer must be 503
(service_unavailable), quickly: a client loop probes GET /readyz, a read (GET /v1/stations/2001)
and a write (PUT /v1/classes-of-service/probe) every 50 ms besides the event and callback loads.
After it is back: full service (no answer other than a service answer, 2xx or 4xx, to any
request started since) within --recovery-limit-s (5 s), the worker applying events and the
dispatcher delivering commands again; at the end nothing acknowledged lost (the checks of
kill9.py). --quiet restarts more happen in a quiet spell: the load paused from before the stop
until the return, so that the pooled connections die unused; after the return not one request
may fail.

The cluster runs with synchronous_commit = on (a PG_FAST cluster turns it off): with it off a
commit is acknowledged before its WAL reaches the kernel, so an immediate shutdown may lose
transactions PostgreSQL itself reported committed. That loss would be the database's setting, not
callbackd's; --synchronous-commit off shows it.
"""

import argparse
import random
import threading
import time

from soaklib import (MARK_FAC, MARK_FWD, NO_ANSWER, EventLoad, Report, Setup, callback_loads,
                     cancel_all, check_callbacks, check_commands, check_contract, check_events,
                     event, main, metric, now, post_until_acked, quiesce, spread, wait_for)


class Probe(threading.Thread):
    """GET /readyz, a read and a write in turn every `period` seconds; records
    (start, end, kind, status)."""

    KINDS = ("readyz", "read", "write")

    def __init__(self, svc, period=0.05):
        super().__init__(daemon=True)
        self.svc = svc
        self.period = period
        self.records = []
        self.contract_errors = []
        self.halt = threading.Event()
        self.paused = threading.Event()
        self.current = None  # not None while a request is out (as for soaklib.Load)

    def run(self):
        i = 0
        while not self.halt.is_set():
            if self.paused.is_set():
                self.halt.wait(0.01)
                continue
            self.current = True
            kind = self.KINDS[i % len(self.KINDS)]
            i += 1
            t0 = time.time()
            try:
                if kind == "readyz":
                    st = self.svc.call("GET", "/readyz", token=None, timeout=10)[0]
                elif kind == "read":
                    st = self.svc.call("GET", "/v1/stations/2001", timeout=10)[0]
                else:
                    st = self.svc.call("PUT", "/v1/classes-of-service/probe",
                                       {"callbacks_allowed": bool(i % 2)}, timeout=10)[0]
            except NO_ANSWER:
                st = "error"
            except AssertionError as e:
                st = "contract"
                self.contract_errors.append(str(e)[:300])
            self.records.append((t0, time.time(), kind, st))
            self.current = None
            self.halt.wait(self.period)


def serviced(status):
    """An answer of a working service: 2xx, or a 4xx refusal on the merits."""
    return isinstance(status, int) and status < 500


def run():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", type=int, default=2, help="restarts with a fast shutdown (2)")
    ap.add_argument("--immediate", type=int, default=2,
                    help="restarts with an immediate shutdown (2)")
    ap.add_argument("--quiet", type=int, default=2,
                    help="restarts more (fast, immediate, ...) with the load paused from before "
                         "the stop until the return: a quiet spell (2)")
    ap.add_argument("--down-s", type=float, default=3.0,
                    help="seconds the database stays down each time (3)")
    ap.add_argument("--gap", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                    help="seconds of full service before the next restart (1 3)")
    ap.add_argument("--recovery-limit-s", type=float, default=5.0,
                    help="full service within this many seconds of the database's return (5)")
    ap.add_argument("--synchronous-commit", default="on", choices=("on", "off"))
    ap.add_argument("--unkeyed", type=int, default=2,
                    help="callback clients without Idempotency-Key besides the keyed one (2)")
    ap.add_argument("--seed", type=int)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    modes = []  # (shutdown mode, quiet)
    for i in range(max(args.fast, args.immediate)):
        modes += ([("fast", False)] if i < args.fast else []) + (
            [("immediate", False)] if i < args.immediate else [])
    modes += [("fast" if i % 2 == 0 else "immediate", True) for i in range(args.quiet)]
    rep = Report("pg_restart", f"PostgreSQL restarted {len(modes)} times ({args.fast} fast, "
                               f"{args.immediate} immediate under load; {args.quiet} in a quiet "
                               f"spell)")
    rep.fig("seed", seed)
    setup = Setup(private_cluster=True, synchronous_commit=args.synchronous_commit)
    loads = []
    try:
        svc = setup.service().start()
        setup.provision(svc)
        targets = lambda: [svc]  # noqa: E731
        ev = EventLoad(targets)
        cbs = callback_loads(targets, seed, args.unkeyed)
        probe = Probe(svc)
        loads = [ev, *cbs]
        for t in (*loads, probe):
            t.start()
        outages = []
        for k, (mode, quiet) in enumerate(modes):
            time.sleep(rng.uniform(*args.gap))
            if quiet:  # nothing in flight from before the stop until the return
                for t in (*loads, probe):
                    t.paused.set()
                wait_for(lambda: all(t.current is None for t in (*loads, probe)), 30,
                         interval=0.01, msg="the load paused")
                time.sleep(0.1)
            t_stop = now()
            setup.pg.stop(mode)
            t_down = now()
            time.sleep(args.down_s)
            t_start = now()
            setup.pg.start()
            t_up = now()
            setup.faults.append((t_stop, t_up, f"{mode} restart"))
            for t in (*loads, probe):
                t.paused.clear()
            # Markers posted once it is back: the worker applies them, the dispatcher delivers.
            marker = f"7{k:07d}"
            post_until_acked(targets, [event("station.forward", station=MARK_FWD,
                                             forward_to=marker), cancel_all(MARK_FAC)])
            applied = wait_for(lambda: svc.call("GET", f"/v1/stations/{MARK_FWD}")[1]
                               ["state"]["forward_to"] == marker and now(), 60, interval=0.02,
                               msg="marker event applied")
            delivered = wait_for(lambda: len(setup.pbx.received("tone", station=MARK_FAC)) > k
                                 and now(), 60, interval=0.02, msg="marker tone delivered")
            leading = wait_for(lambda: metric(svc, "callbackd_worker_leader") == 1 and now(),
                               30, interval=0.05, msg="worker leader again")
            outages.append({"mode": mode, "quiet": quiet, "stop": t_stop, "down": t_down, "start": t_start,
                            "up": t_up, "applied": applied - t_up,
                            "delivered": delivered - t_up, "leading": leading - t_up})
        time.sleep(2.0)
        probe.halt.set()
        probe.join(15)
        settle_s = quiesce(setup, loads)

        records = list(probe.records)
        records += [(a, b, "events", s) for a, b, s in ev.records]
        for c in cbs:
            records += [(a, b, "callbacks", s) for a, b, s in c.records]
        recovery = []
        for k, o in enumerate(outages):
            tag = f"restart {k + 1} ({o['mode']}{', quiet' if o['quiet'] else ''})"
            during = [r for r in records if o["down"] <= r[0] and r[1] <= o["start"]]
            by_status = {}
            for r in during:
                by_status[r[3]] = by_status.get(r[3], 0) + 1
            not_503 = [r for r in during if r[3] != 503]
            moving = {}  # started while it shut down or started up
            for r in records:
                if (o["stop"] <= r[0] < o["down"] or o["start"] <= r[0] < o["up"]
                        or (r[0] < o["down"] and r[1] > o["down"])):
                    moving[r[3]] = moving.get(r[3], 0) + 1
            slowest = max((r[1] - r[0] for r in during), default=0.0)
            until = outages[k + 1]["stop"] if k + 1 < len(outages) else float("inf")
            after = [r for r in records if o["up"] <= r[0] and r[1] < until]
            failed = [r for r in after if not serviced(r[3])]
            full = max((r[1] - o["up"] for r in failed), default=0.0)
            first_ok = min((r[1] - o["up"] for r in after if serviced(r[3])), default=None)
            recovery.append(full)
            rep.fig(f"{tag}: shutdown took", o["down"] - o["stop"], " s")
            rep.fig(f"{tag}: database down", o["start"] - o["down"], " s")
            rep.fig(f"{tag}: start took", o["up"] - o["start"], " s")
            rep.fig(f"{tag}: answers while down (by status)", dict(sorted(
                by_status.items(), key=str)))
            rep.fig(f"{tag}: slowest answer while down", slowest, " s")
            rep.fig(f"{tag}: answers while it stopped or started", dict(sorted(
                moving.items(), key=str)))
            kinds = {}
            for r in failed:
                kinds[f"{r[2]} {r[3]}"] = kinds.get(f"{r[2]} {r[3]}", 0) + 1
            rep.fig(f"{tag}: failed answers after its return", dict(sorted(kinds.items()))
                    or 0)
            rep.fig(f"{tag}: first service answer after", first_ok if first_ok is not None
                    else "none", " s" if first_ok is not None else "")
            rep.fig(f"{tag}: full service after", full, " s")
            rep.fig(f"{tag}: worker leader again after", o["leading"], " s")
            rep.fig(f"{tag}: new event applied after", o["applied"], " s")
            rep.fig(f"{tag}: new command delivered after", o["delivered"], " s")
            if not o["quiet"] and o["start"] - o["down"] >= 0.5:
                rep.check(503 in by_status, f"{tag}: no 503 seen while the database was down")
            rep.check(not not_503, f"{tag}: {len(not_503)} answers other than 503 while down: "
                                   f"{sorted({str(r[3]) for r in not_503})}")
            # After a quiet spell the pool's connections all died unused: each must be reopened
            # before use, not fail its next request. What may fail is what comes before the
            # outage breaker's next probe (db/outage.h: DB_OUTAGE_PROBE_MS, 1 s; the worker's
            # sessions saw the outage even with no request): full service within 1.5 s.
            rep.check(not (o["quiet"] and full > 1.5),
                      f"{tag}: {len(failed)} failed answers after the return of the database, "
                      f"the last {full:.2f} s after it (limit 1.5 s after a quiet spell)")
            rep.check(full <= args.recovery_limit_s,
                      f"{tag}: full service {full:.2f} s after the database's return "
                      f"(limit {args.recovery_limit_s} s)")
        rep.fig("full service after the return (all restarts)", spread(recovery))
        silent = [r for r in records if r[3] == "error"]
        rep.fig("requests callbackd never answered", len(silent))
        rep.check(not silent, f"{len(silent)} requests got no answer (callbackd kept running)")
        rep.fig("settling after the load (applied, delivered)", settle_s, " s")
        check_events(rep, setup, ev, svc)
        check_callbacks(rep, setup, cbs, svc)
        check_commands(rep, setup)
        check_contract(rep, loads + [probe])
    finally:
        setup.close(rep)
    return rep.finish()


if __name__ == "__main__":
    main(run)
