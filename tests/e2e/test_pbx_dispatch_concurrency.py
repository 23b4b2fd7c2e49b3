"""Command delivery with several POSTs in flight (CB-51): stations do not wait for each other,
yet each station's commands reach the PBX strictly in order, one at a time. The fake PBX here
holds the acknowledgement of the commands of chosen stations until told to let them go."""

import json
import threading
import time

import pytest

from harness import FakePBX, wait_for
from pbx_helpers import cancel_all, commands, metric, provision


class HoldingPBX(FakePBX):
    """A FakePBX that keeps the POSTs of `held` stations unanswered until `release(station)`
    (well within the 5 s after which callbackd gives up on an attempt), and counts the POSTs of
    each station open at once."""

    def __init__(self):
        super().__init__()
        self.gates = {}      # station -> threading.Event, set = answer
        self.open = {}       # station -> POSTs received and not yet answered
        self.most_open = {}  # station -> the most seen at once
        self.arrived = []    # (station, seq) in order of arrival
        self.free_passes = {}  # station -> POSTs still answered before the gate holds
        self.ids = []        # (station, seq, id) in order of arrival

    def hold(self, station, after=0):
        """Holds the station's POSTs from its `after`+1-th on (the first `after` are answered)."""
        self.gates[station] = threading.Event()
        self.free_passes[station] = after

    def release(self, station=None):
        if station is None:
            return super().release()
        self.gates[station].set()

    def _handle(self, h, body):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        station = doc.get("station") if isinstance(doc, dict) else None
        with self.lock:
            self.open[station] = self.open.get(station, 0) + 1
            self.most_open[station] = max(self.most_open.get(station, 0), self.open[station])
            self.arrived.append((station, doc.get("seq") if isinstance(doc, dict) else None))
            self.ids.append((station, doc.get("seq"), doc.get("id")) if isinstance(doc, dict)
                            else (station, None, None))
            passes = self.free_passes.get(station, 0)
            self.free_passes[station] = passes - 1
        gate = self.gates.get(station)
        if gate is not None and passes <= 0:
            gate.wait(4.0)
        # Answered from here: callbackd may send the station's next command as soon as it reads
        # the answer, so the POST stops counting as open before the answer is written.
        with self.lock:
            self.open[station] -= 1
        super()._handle(h, body)

    def arrivals(self, station):
        with self.lock:
            return [seq for st, seq in self.arrived if st == station]


@pytest.fixture
def holding_pbx():
    p = HoldingPBX()
    yield p
    for gate in p.gates.values():
        gate.set()
    p.close()


@pytest.fixture
def live(start_service, holding_pbx):
    svc = start_service(pbx=holding_pbx)
    provision(svc)
    return svc


def test_cb51_stations_in_flight_at_once_and_each_in_order(live, holding_pbx):
    pbx = holding_pbx
    pbx.hold("2001")
    pbx.hold("2002")
    # Three commands per station, interleaved in one batch: 2001, 2002, 2003, 2001, ...
    live.send(*[cancel_all(n) for _ in range(3) for n in ("2001", "2002", "2003")])
    created = wait_for(lambda: len(commands(live)) == 9 and commands(live), 10)
    order = {n: [c["seq"] for c in created if c["station"] == n] for n in ("2001", "2002", "2003")}

    # 2001's and 2002's first commands are both in flight, held by the PBX, while 2003's three
    # commands are delivered: no station waits for another.
    wait_for(lambda: len(pbx.received("tone", station="2003")) == 3, 3,
             msg="2003 delivered while 2001 and 2002 are held")
    wait_for(lambda: pbx.arrivals("2001") and pbx.arrivals("2002"), 3,
             msg="the held stations' first commands in flight at once")
    with pbx.lock:
        assert pbx.open.get("2001") == 1 and pbx.open.get("2002") == 1, pbx.open
    # ... and a station's later commands wait for the earlier one's acknowledgement.
    time.sleep(0.5)
    assert pbx.arrivals("2001") == order["2001"][:1]
    assert pbx.arrivals("2002") == order["2002"][:1]
    assert not pbx.received("tone", station="2001") and not pbx.received("tone", station="2002")

    # Let 2002 go: its three arrive, in order, while 2001 is still held.
    pbx.release("2002")
    wait_for(lambda: len(pbx.received("tone", station="2002")) == 3, 5, msg="2002 delivered")
    assert pbx.arrivals("2001") == order["2001"][:1]

    pbx.release("2001")
    wait_for(lambda: len(pbx.received("tone", station="2001")) == 3, 5, msg="2001 delivered")

    for n in ("2001", "2002", "2003"):
        assert [c["seq"] for c in pbx.received("tone", station=n)] == order[n], n
        assert pbx.arrivals(n) == order[n], f"{n}: each command sent once, in order"
        assert pbx.most_open[n] == 1, f"{n}: never two of its commands in flight"
    items = wait_for(lambda: (cs := commands(live)) and all(c["status"] == "delivered" for c in cs)
                     and cs, 5, msg="every command recorded delivered")
    assert all(c["attempts"] == 1 and c["last_error"] is None for c in items), items
    assert not pbx.bad_signatures()


def test_cb51_many_stations_many_commands_keep_each_order(live, holding_pbx):
    """A burst across stations with one station slow: everything is delivered once, each
    station in order, never two of a station at once."""
    pbx = holding_pbx
    pbx.hold("2003")
    batch = [cancel_all(n) for _ in range(10) for n in ("2001", "2002", "2003")]
    live.send(*batch)
    wait_for(lambda: len(pbx.received("tone", station="2001")) == 10
             and len(pbx.received("tone", station="2002")) == 10, 10,
             msg="the other stations delivered while 2003 is held")
    assert len(pbx.arrivals("2003")) == 1
    pbx.release("2003")
    wait_for(lambda: len(pbx.received("tone")) == 30, 10, msg="all 30 delivered")
    for n in ("2001", "2002", "2003"):
        seqs = [c["seq"] for c in pbx.received("tone", station=n)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 10, (n, seqs)
        assert pbx.most_open[n] == 1, n


def test_cb51_cb53_a_station_s_next_command_follows_the_recorded_acknowledgement_even_across_a_crash(
        start_service, holding_pbx):
    """A station's next command is sent once the one before it is acknowledged and that
    acknowledgement is recorded. Killed (SIGKILL) while one is in flight, the next process
    sends that one again, with its id, and then the rest in order: a repeat never reaches the
    PBX after a later command of its station, so a late `ring` cannot follow its `stop_ring`."""
    pbx = holding_pbx
    first = start_service(pbx=pbx)
    provision(first)
    pbx.hold("2001", after=1)  # the first is answered, the second is held
    first.send(*[cancel_all("2001") for _ in range(3)])
    created = wait_for(lambda: len(cs := commands(first)) == 3 and cs, 10)
    seqs = [c["seq"] for c in created]
    ids = {c["seq"]: c["id"] for c in created}
    wait_for(lambda: len(pbx.arrivals("2001")) == 2, 5, msg="the second sent after the first's 200")
    assert pbx.arrivals("2001") == seqs[:2]
    status = {c["seq"]: c["status"] for c in commands(first)}
    assert status[seqs[0]] == "delivered" and status[seqs[1]] == "pending", status

    first.kill()
    pbx.release("2001")
    second = start_service(pbx=pbx)
    wait_for(lambda: all(c["status"] == "delivered" for c in commands(second)), 15,
             msg="every command delivered after the restart")
    got = [(seq, i) for st, seq, i in pbx.ids if st == "2001"]
    assert all(ids[seq] == i for seq, i in got), "a command sent again keeps its id"
    received = [seq for seq, _ in got]
    assert received == sorted(received), f"nothing after a later command of the station: {got}"
    assert sorted(set(received)) == seqs and received.count(seqs[0]) == 1, got
    assert pbx.most_open["2001"] == 1, "never two of the station's commands in flight"


def test_a_command_is_sent_as_its_transaction_commits_without_being_read_back(live, holding_pbx):
    """The worker hands the commands it writes to the dispatcher of its process as its
    transaction commits (db/handoff.h): the first command of a station goes out without a read
    of the outbox. A later command of a station whose earlier one the PBX still holds is not
    sent by that road: it waits for the earlier one's acknowledgement, then is read from the
    outbox; every command reaches the PBX once, in order."""
    pbx = holding_pbx
    handed = "callbackd_commands_handed_off_total"
    assert metric(live, handed) == 0
    live.send(cancel_all("2002"))
    wait_for(lambda: len(pbx.received("tone", station="2002")) == 1, 5)
    wait_for(lambda: metric(live, handed) == 1, 5, msg="the first command handed over")

    pbx.hold("2001")
    live.send(cancel_all("2001"))
    wait_for(lambda: pbx.arrivals("2001"), 5, msg="2001's first command in flight")
    assert metric(live, handed) == 2
    live.send(cancel_all("2001"), cancel_all("2001"))
    created = wait_for(lambda: len(cs := commands(live)) == 4 and cs, 5)
    time.sleep(0.5)
    assert len(pbx.arrivals("2001")) == 1, "the later ones wait for the held one"
    assert metric(live, handed) == 2, "a command behind a held one is not handed over"

    pbx.release("2001")
    wait_for(lambda: len(pbx.received("tone", station="2001")) == 3, 5, msg="2001 delivered")
    order = [c["seq"] for c in created if c["station"] == "2001"]
    assert pbx.arrivals("2001") == order, "each sent once, in order"
    assert pbx.most_open["2001"] == 1
    items = wait_for(lambda: (cs := commands(live)) and all(c["status"] == "delivered" for c in cs)
                     and cs, 5, msg="every command recorded delivered")
    assert all(c["attempts"] == 1 for c in items), items
    assert metric(live, "callbackd_command_delivery_attempts_total") == 4


def test_a_command_goes_out_while_the_dispatcher_records_an_earlier_outcome(live, holding_pbx,
                                                                             pg, db_url):
    """The dispatcher records acknowledgements in batches, a transaction of its own; while that
    round trip is out it goes on sending: a command handed over meanwhile is not held up by it.
    Here the recording of 2001's acknowledged command waits on a row lock the test holds, and
    2002's command reaches the PBX all the same; 2001's next command waits for its record."""
    pbx = holding_pbx
    pbx.hold("2001")
    live.send(cancel_all("2001"))
    wait_for(lambda: pbx.arrivals("2001"), 5, msg="2001's first command in flight")
    first = pbx.arrivals("2001")[0]
    waiting = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
               " WHERE NOT l.granted AND a.application_name = 'callbackd'")
    with pg.holding(db_url, f"BEGIN; SELECT 1 FROM commands WHERE seq = {first} FOR UPDATE;",
                    "COMMIT;"):
        pbx.release("2001")  # acknowledged: its record waits on the test's lock
        wait_for(lambda: pg.sql(waiting, db_url.rsplit("/", 1)[1])[0][0] != "0", 5,
                 msg="the dispatcher's record waits on the lock")
        live.send(cancel_all("2001"), cancel_all("2002"))
        wait_for(lambda: len(pbx.received("tone", station="2002")) == 1, 5,
                 msg="2002's command sent while the record of 2001's is out")
        time.sleep(0.3)
        assert pbx.arrivals("2001") == [first], "2001's next waits for the earlier one's record"
        status = {c["seq"]: c["status"] for c in commands(live)}
        assert status[first] == "pending", status
    wait_for(lambda: len(pbx.received("tone", station="2001")) == 2, 5, msg="2001's next sent")
    items = wait_for(lambda: (cs := commands(live)) and len(cs) == 3
                     and all(c["status"] == "delivered" for c in cs) and cs, 5,
                     msg="every command recorded delivered")
    assert all(c["attempts"] == 1 for c in items), items
    assert pbx.most_open["2001"] == 1 and pbx.most_open["2002"] == 1
