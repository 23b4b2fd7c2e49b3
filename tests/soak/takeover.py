#!/usr/bin/env python3
"""Two callbackd processes on one database; the worker's leader killed (-9) under load, --kills
times (CB-54).

Both serve the API (the load goes to either). After each kill a marker batch is posted to the
survivor; measured from the kill: the survivor's callbackd_worker_leader gauge at 1 (takeover),
the marker event applied, the marker's command delivered. The killed process is then started
again and becomes the standby. A monitor reads both gauges every 100 ms: two leaders at once
fail. At the end nothing applied twice, nothing acknowledged lost (the checks of kill9.py).
"""

import argparse
import random
import threading
import time

from soaklib import (MARK_FAC, MARK_FWD, EventLoad, Report, Setup, callback_loads, cancel_all,
                     check_callbacks, check_commands, check_contract, check_events, event,
                     leaders, main, metric, now, post_until_acked, quiesce, spread, wait_for)


def run():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=5, help="leader kills (5)")
    ap.add_argument("--gap", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                    help="seconds of load after the standby is back before the next kill (1 3)")
    ap.add_argument("--takeover-limit-s", type=float, default=5.0,
                    help="the survivor leads and applies a new event within this (5)")
    ap.add_argument("--unkeyed", type=int, default=2,
                    help="callback clients without Idempotency-Key besides the keyed one (2)")
    ap.add_argument("--seed", type=int)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    rep = Report("takeover", f"two processes, the worker's leader killed {args.kills} times "
                             f"under load")
    rep.fig("seed", seed)
    setup = Setup()
    halt = threading.Event()
    try:
        svcs = [setup.service().start() for _ in range(2)]
        setup.provision(svcs[0])
        ev = EventLoad(setup.targets)
        cbs = callback_loads(setup.targets, seed, args.unkeyed)
        ev.start()
        for c in cbs:
            c.start()
        doubled = []

        def monitor():
            while not halt.is_set():
                ls = leaders(svcs)
                if len(ls) > 1:
                    doubled.append((now(), [s.port for s in ls]))
                halt.wait(0.1)
        mon = threading.Thread(target=monitor, daemon=True)
        mon.start()

        lead_s, applied_s, delivered_s = [], [], []
        for k in range(args.kills):
            time.sleep(rng.uniform(*args.gap))
            leader = wait_for(lambda: leaders(svcs) if len(leaders(svcs)) == 1 else None, 15,
                              interval=0.05, msg="exactly one worker leader")[0]
            other = svcs[1] if leader is svcs[0] else svcs[0]
            t_kill = now()
            leader.kill()
            marker = f"8{k:07d}"
            post_until_acked(lambda: [other], [event("station.forward", station=MARK_FWD,
                                                     forward_to=marker), cancel_all(MARK_FAC)])
            t_lead = wait_for(lambda: metric(other, "callbackd_worker_leader") == 1 and now(),
                              60, interval=0.01, msg="the survivor leads")
            t_applied = wait_for(lambda: other.call("GET", f"/v1/stations/{MARK_FWD}")[1]
                                 ["state"]["forward_to"] == marker and now(), 60, interval=0.01,
                                 msg="marker event applied")
            t_delivered = wait_for(lambda: len(setup.pbx.received("tone", station=MARK_FAC)) > k
                                   and now(), 60, interval=0.01, msg="marker tone delivered")
            setup.faults.append((t_kill, t_applied, f"leader kill {k + 1}"))
            lead_s.append(t_lead - t_kill)
            applied_s.append(t_applied - t_kill)
            delivered_s.append(t_delivered - t_kill)
            rep.fig(f"kill {k + 1}: leads / applies / delivers after",
                    f"{t_lead - t_kill:.3f} / {t_applied - t_kill:.3f} / "
                    f"{t_delivered - t_kill:.3f} s")
            leader.start()  # the standby now
        time.sleep(1.5)
        final = leaders(svcs)
        halt.set()
        mon.join(5)
        settle_s = quiesce(setup, [ev, *cbs])
        rep.fig("kills", len(lead_s))
        rep.fig("takeover (survivor's leader gauge at 1)", spread(lead_s))
        rep.fig("event posted after the kill applied", spread(applied_s))
        rep.fig("its command delivered", spread(delivered_s))
        rep.fig("moments with two leaders (100 ms samples)", len(doubled))
        rep.fig("leaders at the end", len(final))
        rep.fig("settling after the load (applied, delivered)", settle_s, " s")
        rep.check(max(applied_s, default=0) <= args.takeover_limit_s,
                  f"takeover: an event applied {max(applied_s, default=0):.2f} s after the kill "
                  f"(limit {args.takeover_limit_s} s)")
        rep.check(not doubled, f"two leaders at once: {doubled[:3]}")
        rep.check(len(final) == 1, f"{len(final)} leaders at the end")
        check_events(rep, setup, ev, svcs[0])
        check_callbacks(rep, setup, cbs, svcs[0])
        check_commands(rep, setup)
        check_contract(rep, [ev, *cbs])
    finally:
        halt.set()
        setup.close(rep)
    return rep.finish()


if __name__ == "__main__":
    main(run)
