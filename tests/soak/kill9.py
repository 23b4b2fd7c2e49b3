#!/usr/bin/env python3
"""kill -9 of the worker-leading process at random instants while signed event batches are
posted and callbacks are set (CB-50, CB-51, CB-53).

After each kill the process is started again on the same port (as systemd would) and the load
goes on; the next kill comes a random time after it is ready again. With --procs 2 the other
process keeps serving meanwhile and the killed one is always the worker's leader. At the end:
every acknowledged event stored and applied exactly once in order, every acknowledged callback
present (and none created twice), every command delivered, once per id (soaklib.py says what
a legitimate repeat is), in order per station.
"""

import argparse
import random
import time

from soaklib import (EventLoad, Report, Setup, callback_loads, check_callbacks, check_commands,
                     check_contract, check_events, leaders, main, now, quiesce, spread, wait_for)


def run():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20, help="kill -9 instants (default 20)")
    ap.add_argument("--gap", type=float, nargs=2, default=(0.2, 2.5), metavar=("MIN", "MAX"),
                    help="seconds of load between a process being ready and the next kill, "
                         "uniformly drawn (default 0.2 2.5)")
    ap.add_argument("--procs", type=int, default=1,
                    help="callbackd processes on the database (default 1)")
    ap.add_argument("--unkeyed", type=int, default=2,
                    help="callback clients without Idempotency-Key besides the keyed one (2)")
    ap.add_argument("--seed", type=int, help="random seed (default: drawn and printed)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    rep = Report("kill9", f"kill -9 of the worker-leading process at {args.kills} random "
                          f"instants under load ({args.procs} process(es))")
    rep.fig("seed", seed)
    setup = Setup()
    try:
        svcs = [setup.service().start() for _ in range(args.procs)]
        setup.provision(svcs[0])
        ev = EventLoad(setup.targets)
        cbs = callback_loads(setup.targets, seed, args.unkeyed)
        ev.start()
        for c in cbs:
            c.start()
        began = now()
        restart_s = []
        for k in range(args.kills):
            time.sleep(rng.uniform(*args.gap))
            if args.procs == 1:
                victim = svcs[0]
            else:
                victim = wait_for(lambda: leaders(svcs) or None, 15, interval=0.05,
                                  msg="a worker leader")[0]
            t_kill = now()
            victim.kill()
            victim.start()  # same port; returns once /readyz answers 200
            t_ready = now()
            setup.faults.append((t_kill, t_ready, f"kill {k + 1}"))
            restart_s.append(t_ready - t_kill)
        load_s = now() - began
        settle_s = quiesce(setup, [ev, *cbs])
        rep.fig("kills", len(setup.faults))
        rep.fig("load duration", load_s, " s")
        rep.fig("kill -> ready again", spread(restart_s))
        rep.fig("settling after the load (applied, delivered)", settle_s, " s")
        rep.fig("events acknowledged per second", len([e for b in ev.acked for e in b]) / load_s)
        live = setup.running()[0]
        check_events(rep, setup, ev, live)
        check_callbacks(rep, setup, cbs, live)
        check_commands(rep, setup)
        check_contract(rep, [ev, *cbs])
    finally:
        setup.close(rep)
    return rep.finish()


if __name__ == "__main__":
    main(run)
