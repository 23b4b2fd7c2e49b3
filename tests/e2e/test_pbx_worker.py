"""The worker and its leadership (CB-50, CB-52, CB-53, CB-54): durable timers (the inbox purge),
two processes with one leader and a takeover within 5 s of a SIGKILL, kill -9 at random moments
under load losing no acknowledged event and applying none twice, PostgreSQL restarting under
load."""

import itertools
import random
import subprocess
import time

import pytest

from harness import Service, event, free_port, wait_for
from pbx_helpers import (Db, Poster, cancel_all, events_json, metric, provision, wait_applied,
                         wait_state)


@pytest.fixture
def db(pg, db_url):
    return Db(pg, db_url)


def batch_maker():
    """Batches of three events: 2001's forward_to counts up (order), 2002 dials Cancel-all (one
    reorder tone per application: exactly once), 2003 toggles busy/idle."""
    counter = itertools.count(1)

    def make():
        i = next(counter)
        return [event("station.forward", station="2001", forward_to=f"5{i:05d}"),
                cancel_all("2002"),
                event("station.state", station="2003", availability="busy" if i % 2 else "idle")]
    return make


def check_exactly_once(db, svc, acked):
    """Every acknowledged event is stored once and applied once, in order."""
    evs = events_json(acked)
    ids = [e["id"] for e in evs]
    assert len(set(ids)) == len(ids)
    wait_applied(db, timeout=90)
    rows = db.rows("SELECT id, outcome FROM pbx_events ORDER BY seq")
    assert [r[0] for r in rows] == ids, "stored once each, in the order sent"
    assert all(r[1] == "applied" for r in rows)
    tones = db.count("SELECT count(*) FROM commands WHERE type = 'tone'")
    digits = sum(1 for e in evs if e["type"] == "digits")
    assert tones == digits, f"{tones} tones for {digits} Cancel-all events: applied twice or lost"
    last = [e for e in evs if e["type"] == "station.forward"][-1]["forward_to"]
    wait_state(svc, "2001", forward_to=last)


# -- CB-52: durable timers: the inbox purge ---------------------------------------------------

def test_cb52_inbox_purge_timer_removes_old_applied_events(start_service, db):
    svc = start_service(env={"CALLBACKD_INBOX_RETENTION_S": "600"})  # the shortest allowed
    provision(svc)
    old = event("station.state", station="2001", availability="busy")
    svc.send(old, event("station.hook", station="2001", hook="off"))
    wait_applied(db)
    recent = event("station.state", station="2002", availability="busy")
    svc.send(recent)
    wait_applied(db)
    assert db.count("SELECT count(*) FROM pbx_events") == 3
    # The first two were applied 601 s ago; the purge comes due now.
    db.rows(f"UPDATE pbx_events SET applied_at = applied_at - interval '601 s' "
            f"WHERE id <> '{recent['id']}' RETURNING seq")
    db.rows("UPDATE timers SET due_at = now() WHERE kind = 'inbox_purge' RETURNING kind")
    wait_for(lambda: db.count("SELECT count(*) FROM pbx_events") == 1, 6,
             msg="events applied over 600 s ago purged")
    assert db.value("SELECT id FROM pbx_events") == recent["id"], "the recent one is kept"
    # The purge set itself again, as a timer row (survives a restart), one retention later.
    due = db.value("SELECT extract(epoch FROM due_at - now()) FROM timers WHERE kind = 'inbox_purge'")
    assert due is not None and 590 < float(due) <= 600, due
    assert metric(svc, "callbackd_timers_fired_total") >= 1
    # Live state stays: only the inbox rows go.
    assert svc.ok("GET", "/v1/stations/2001")["state"]["hook"] == "off"
    # A purged id is new again: that is why the retention outlasts the signature window.
    assert svc.send(old) == {"accepted": 1, "duplicates": 0}
    assert svc.send(recent) == {"accepted": 0, "duplicates": 1}


def test_cb52_default_retention_keeps_events(start_service, db):
    svc = start_service()
    provision(svc)
    svc.send(event("station.state", station="2001", availability="busy"))
    wait_applied(db)
    wait_for(lambda: db.count("SELECT count(*) FROM timers WHERE kind = 'inbox_purge'") == 1, 5)
    time.sleep(1.5)
    assert db.count("SELECT count(*) FROM pbx_events") == 1
    due = float(db.value("SELECT extract(epoch FROM due_at - now()) FROM timers WHERE kind = 'inbox_purge'"))
    assert 3000 < due <= 3600, due


# -- CB-54: one leader among processes, takeover ----------------------------------------------

def leader_of(services):
    flags = [metric(s, "callbackd_worker_leader") for s in services]
    return [s for s, f in zip(services, flags) if f == 1]


def test_cb54_two_processes_one_leader_and_takeover_after_sigkill(start_service, pbx, db):
    a = start_service(pbx=pbx)
    b = start_service(pbx=pbx)
    provision(a)
    leaders = wait_for(lambda: leader_of([a, b]) if len(leader_of([a, b])) == 1 else None, 5)
    leader = leaders[0]
    other = b if leader is a else a
    # Both serve the API; the leader applies what either accepted.
    other.send(event("station.state", station="2001", availability="busy"), cancel_all("2001"))
    wait_state(other, "2001", availability="busy")
    pbx.wait_command("tone", station="2001")
    time.sleep(1.2)
    assert leader_of([a, b]) == [leader], "still exactly one leader"

    leader.kill()
    t0 = time.monotonic()
    other.send(event("station.state", station="2001", availability="idle"), cancel_all("2002"))
    wait_state(other, "2001", availability="idle", timeout=5)
    took = time.monotonic() - t0
    assert took < 5, f"takeover took {took:.1f} s"
    pbx.wait_command("tone", timeout=5, station="2002")
    assert metric(other, "callbackd_worker_leader") == 1
    # No command sent twice, no event applied twice.
    wait_applied(db)
    ids = [c["id"] for c in pbx.received("tone")]
    assert len(ids) == len(set(ids)) == 2
    assert db.count("SELECT count(*) FROM commands WHERE type = 'tone'") == 2


class Listener:
    """A psql session LISTENing on the loops' channels: the NOTIFYs callbackd sends."""

    def __init__(self, pg, db):
        self.proc = subprocess.Popen([pg.psql, "-X", "-q", "-d", pg.db_url(db.name)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.ask("LISTEN callbackd_events; LISTEN callbackd_commands;")

    def ask(self, sql):
        """Runs `sql` and a marker; returns what psql printed before the marker (psql prints
        the notifications that arrived after each command)."""
        self.proc.stdin.write(sql + "\n\\echo --end--\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if line.strip() == "--end--":
                return "".join(out)
            out.append(line)
        raise AssertionError("psql ended: " + "".join(out))

    def heard(self):
        text = self.ask("SELECT 1;")
        return {ch for ch in ("callbackd_events", "callbackd_commands")
                if f'notification "{ch}"' in text}

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=5)


def test_cb54_only_writes_in_another_process_than_the_leader_notify(start_service, pbx, db, pg):
    """The leader's own writes wake its loops in-process: no NOTIFY, whose commit PostgreSQL
    serializes (migration 014). Events and commands written by another process wake the leader
    with a NOTIFY, and are applied and sent."""
    a = start_service(pbx=pbx)
    b = start_service(pbx=pbx)
    provision(a)
    leader = wait_for(lambda: leader_of([a, b]) if len(leader_of([a, b])) == 1 else None, 5)[0]
    other = b if leader is a else a
    listener = Listener(pg, db)
    try:
        # The leader's webhook, worker and API: events stored, a tone queued, a lamp lit.
        leader.send(event("station.state", station="2001", availability="busy"), cancel_all("2001"))
        pbx.wait_command("tone", station="2001")
        leader.ok("POST", "/v1/callbacks", {"requester": "2002", "target": "2003",
                                            "mode": "message"})
        pbx.wait_command("mwi", station="2003")
        assert listener.heard() == set(), "the leader's own writes sent a NOTIFY"
        # The other process's webhook: the leader is woken by NOTIFY and sends the tone.
        other.send(cancel_all("2002"))
        pbx.wait_command("tone", station="2002")
        assert listener.heard() == {"callbackd_events"}
        # The other process's API decision queues a command: NOTIFY to the dispatcher.
        other.ok("POST", "/v1/callbacks", {"requester": "2001", "target": "2002",
                                           "mode": "message"})
        pbx.wait_command("mwi", station="2002")
        assert listener.heard() == {"callbackd_commands"}
    finally:
        listener.close()


def test_cb54_several_processes_under_load_apply_each_event_once(start_service, pbx, db):
    procs = [start_service(pbx=pbx) for _ in range(3)]
    provision(procs[0])
    poster = Poster(lambda: [random.choice(procs)], batch_maker())
    poster.start()
    time.sleep(3)
    poster.finish()
    assert len(poster.acked) > 20
    check_exactly_once(db, procs[1], poster.acked)
    wait_for(lambda: len(pbx.received("tone")) == len(poster.acked), 15)
    ids = [c["id"] for c in pbx.received("tone")]
    assert len(set(ids)) == len(ids), "a command was sent twice"


# -- CB-53: kill -9 at random moments ---------------------------------------------------------

def test_cb53_kill9_under_load_loses_no_acknowledged_event(start_service, db_url, db):
    port = free_port()
    current = {"svc": start_service(port=port)}
    provision(current["svc"])
    poster = Poster(lambda: [current["svc"]], batch_maker(), pause=0.01)
    poster.start()
    rng = random.Random(53)
    kills = 0
    for _ in range(5):
        time.sleep(rng.uniform(0.3, 1.2))
        current["svc"].kill()
        kills += 1
        current["svc"] = start_service(port=port)
    time.sleep(1.0)
    poster.finish()
    assert kills == 5 and len(poster.acked) > 30, len(poster.acked)
    statuses = {s for _, s in poster.statuses}
    assert 202 in statuses and "error" in statuses, statuses  # the kills cut the client off
    check_exactly_once(db, current["svc"], poster.acked)


# -- PostgreSQL restart under load ------------------------------------------------------------

def test_postgres_restart_under_load(private_pg, start_service):
    url = private_pg.db_url(private_pg.create_db())
    db = Db(private_pg, url)
    svc = start_service(url)
    provision(svc)
    poster = Poster(lambda: [svc], batch_maker(), pause=0.01)
    poster.start()
    time.sleep(1.0)
    private_pg.stop()
    t_down = time.monotonic()
    time.sleep(2.0)
    private_pg.start()
    wait_for(lambda: any(s == 202 and t > t_down + 2 for t, s in poster.statuses), 20,
             msg="202 again after the restart")
    time.sleep(1.0)
    poster.finish()
    during = [s for t, s in poster.statuses if t_down + 0.2 < t < t_down + 1.8]
    assert during and all(s in (503, "error") for s in during), set(during)
    assert 503 in during
    check_exactly_once(db, svc, poster.acked)
    assert metric(svc, "callbackd_worker_leader") == 1


# -- an event whose application fails does not wedge the inbox --------------------------------

def test_cb50_failing_event_is_isolated_and_marked_ignored(svc, db):
    """A database-level failure while applying one event (here a trigger refusing any update of
    station 2666): the events before and after it are applied, it is tried alone once more,
    then marked ignored with an error logged; the worker goes on."""
    provision(svc, stations=("2001", "2002", "2666"))
    db.rows("CREATE FUNCTION refuse_2666() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'station 2666 refused by the test'; END$$")
    db.rows("CREATE TRIGGER refuse_2666 BEFORE UPDATE ON stations FOR EACH ROW "
            "WHEN (OLD.number = '2666') EXECUTE FUNCTION refuse_2666()")
    before = event("station.state", station="2001", availability="busy")
    poison = event("station.state", station="2666", availability="busy")
    after = event("station.state", station="2002", availability="busy")
    svc.send(before, poison, after)
    wait_applied(db)
    outcomes = dict((r[0], r[1]) for r in db.rows("SELECT id, outcome FROM pbx_events"))
    assert outcomes == {before["id"]: "applied", poison["id"]: "ignored", after["id"]: "applied"}
    wait_state(svc, "2001", availability="busy")
    wait_state(svc, "2002", availability="busy")
    assert svc.ok("GET", "/v1/stations/2666")["state"]["availability"] == "idle"
    errors = [r for r in svc.log_records() if r.get("msg") == "event application failed twice; marked ignored"]
    assert len(errors) == 1 and errors[0]["event_id"] == poison["id"], errors
    # The worker goes on with later events.
    svc.send(event("station.hook", station="2001", hook="off"))
    wait_state(svc, "2001", hook="off")


def test_cb54_an_event_another_worker_marked_meanwhile_is_not_applied_again(svc, db, pg, db_url):
    """The worker marks a group's events in the round trip that carries its writes and COMMIT;
    when one of them was marked by someone else meanwhile (another worker: here by hand, in a
    session holding the station's decision lock, which the worker's round trip waits for), that
    transaction fails (db/inbox.c inbox_mark) and nothing of the group is written."""
    provision(svc, stations=("2001", "2002"))
    svc.send(event("station.state", station="2001", availability="idle"))
    wait_applied(db)                # the worker keeps 2001's facts: it decides before locking
    ev = event("station.state", station="2001", availability="busy")
    hold = "BEGIN; SELECT pg_advisory_xact_lock(25442, hashtext('2001'));"
    release = ("UPDATE pbx_events SET applied_at = now(), outcome = 'ignored' "
               "WHERE applied_at IS NULL; COMMIT;")
    with pg.holding(db_url, hold, release):
        svc.send(ev)
        wait_for(lambda: db.count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                  "AND NOT granted") > 0, 10, msg="the worker waits on the lock")
    svc.send(event("station.state", station="2002", availability="busy"))
    wait_state(svc, "2002", availability="busy")    # applied after the group that failed
    assert db.value(f"SELECT outcome FROM pbx_events WHERE id = '{ev['id']}'") == "ignored"
    assert svc.ok("GET", "/v1/stations/2001")["state"]["availability"] == "idle"
