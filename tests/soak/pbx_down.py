#!/usr/bin/env python3
"""The PBX command endpoint down for --pbx-down-s seconds (600 = 10 minutes; CI uses 10 s) while
events and callbacks keep producing commands (CB-51).

How it is down (--mode): `down` refuses connections (listening socket closed, open connections
cut), `fail` answers HTTP 500, `hang` answers nothing (callbackd gives up after 5 s); `mixed` (the
default) is a third of each, in that order. The commands pending just before it returns are read
with GET /v1/commands. Then: none was acknowledged while it was down; every command is delivered
after it returns, each under the id it had while pending, in order per station (order key), none
twice (no fault excuses a repeat here), within --drain-limit-s of its return (retries back off up
to 30 s, openapi.yaml, then each station's backlog goes one command at a time); and nothing
acknowledged is lost (the checks of kill9.py).
"""

import argparse
import random
import time

from soaklib import (EventLoad, Report, Setup, callback_loads, check_callbacks, check_commands,
                     check_contract, check_events, main, now, pending_commands, private_port,
                     quiesce, spread)


def pending_via_api(svc):
    """{id: seq} of the commands GET /v1/commands shows as pending."""
    out, after = {}, 0
    while True:
        page = svc.ok("GET", f"/v1/commands?after={after}&limit=500")
        for c in page["items"]:
            if c["status"] == "pending":
                out[c["id"]] = c["seq"]
        if not page["next_cursor"]:
            return out
        after = page["items"][-1]["seq"]


def run():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pbx-down-s", type=float, default=600.0,
                    help="seconds the PBX endpoint is down (600)")
    ap.add_argument("--mode", default="mixed", choices=("mixed", "down", "fail", "hang"))
    ap.add_argument("--lead-s", type=float, default=2.0, help="load before the PBX goes (2)")
    ap.add_argument("--tail-s", type=float, default=2.0, help="load after it returns (2)")
    ap.add_argument("--batch-pause", type=float, default=0.1,
                    help="seconds between event batches (0.1: about 10 commands a second)")
    ap.add_argument("--drain-limit-s", type=float, default=300.0,
                    help="every command pending at the return delivered within this (300: a "
                         "bound for a stuck dispatcher; the time is a figure)")
    ap.add_argument("--unkeyed", type=int, default=2,
                    help="callback clients without Idempotency-Key besides the keyed one (2)")
    ap.add_argument("--seed", type=int)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    phases = ["down", "fail", "hang"] if args.mode == "mixed" else [args.mode]
    rep = Report("pbx_down", f"PBX command endpoint down {args.pbx_down_s:g} s "
                             f"({' then '.join(phases)}) under load")
    rep.fig("seed", seed)
    setup = Setup(pbx_port=private_port())
    pbx = setup.pbx
    try:
        svc = setup.service().start()
        setup.provision(svc)
        targets = lambda: [svc]  # noqa: E731
        ev = EventLoad(targets, pause=args.batch_pause)
        cbs = callback_loads(targets, seed, args.unkeyed, pause=max(args.batch_pause, 0.2))
        ev.start()
        for c in cbs:
            c.start()
        time.sleep(args.lead_s)
        t_down = None
        for i, phase in enumerate(phases):
            pbx.set_mode(phase)
            if t_down is None:
                t_down = now()  # from here on nothing can be acknowledged
            end = t_down + args.pbx_down_s * (i + 1) / len(phases)
            while now() < end:
                time.sleep(min(30.0, max(0.0, end - now())))
                if now() < end:
                    print(f"  .. PBX {phase}, {now() - t_down:.0f} s: "
                          f"{pending_commands(setup.db)} commands pending", flush=True)
        t_snap = now()
        snapshot = pending_via_api(svc)
        t_up = now()  # nothing can be acknowledged before this
        pbx.set_mode("ok")
        time.sleep(args.tail_s)
        settle_s = quiesce(setup, [ev, *cbs], timeout=args.drain_limit_s + 60)

        table, receipts = check_commands(rep, setup)
        during = [d for t, d in receipts if t_down <= t < t_up]
        first_after = {}
        for t, d in receipts:
            if t >= t_up:
                first_after.setdefault(d["id"], t)
        with pbx.lock:
            tried = [r for r in pbx.requests if t_down <= r["at"] < t_up]
        unsent = [c for c in snapshot if c not in first_after]
        changed = [c for c, seq in snapshot.items()
                   if c in table and table[c]["seq"] != seq]
        drain = [first_after[c] - t_up for c in snapshot if c in first_after]
        heads = [r for r in table.values() if r["attempts"] > 1]
        rep.fig("PBX down for", t_up - t_down, " s")
        rep.fig("requests reaching the PBX while down (500 or no answer)", len(tried))
        rep.fig("commands acknowledged while down", len(during))
        rep.fig("commands pending at its return (GET /v1/commands)", len(snapshot))
        rep.fig("reading them (while still down) took", t_up - t_snap, " s")
        rep.fig("of those, delivered after it returned, same id", len(snapshot) - len(unsent))
        rep.fig("commands retried (attempts > 1)", len(heads))
        rep.fig("first delivery after the return", min(drain) if drain else "none",
                " s" if drain else "")
        rep.fig("last pending command delivered after the return", max(drain) if drain
                else "none", " s" if drain else "")
        rep.fig("delivery after the return", spread(drain))
        if len(drain) > 1 and max(drain) > min(drain):
            rep.fig("backlog delivered per second (first to last)",
                    (len(drain) - 1) / (max(drain) - min(drain)))
        rep.fig("settling after the load (applied, delivered)", settle_s, " s")
        rep.check(not during, f"{len(during)} commands acknowledged while the PBX was down")
        rep.check(snapshot, "no command was pending when the PBX returned: the soak tested nothing")
        rep.check(not unsent, f"{len(unsent)} commands pending at the return never delivered "
                              f"after it: {unsent[:5]}")
        rep.check(not changed, f"commands whose seq changed: {changed[:5]}")
        rep.check(not drain or max(drain) <= args.drain_limit_s,
                  f"the last pending command was delivered {max(drain or [0]):.1f} s after the "
                  f"return (limit {args.drain_limit_s} s)")
        check_events(rep, setup, ev, svc)
        check_callbacks(rep, setup, cbs, svc)
        check_contract(rep, [ev, *cbs])
    finally:
        setup.close(rep)
    return rep.finish()


if __name__ == "__main__":
    main(run)
