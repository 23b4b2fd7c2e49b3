"""Commands to the PBX (openapi.yaml, CB-51): each pending command is
POSTed alone, signed, in order per station; failures and timeouts are retried with backoff and
the same id until acknowledged or past command_ttl_s (then failed); GET /v1/commands lists them.
The producer is the FAC Cancel-all dialed idle with no callbacks: a reorder `tone`."""

import re
import time
import uuid

import pytest

from harness import ADMIN, event, schema_before, wait_for
from pbx_helpers import (Db, cancel_all, commands, counted_metrics, metric, provision,
                         tone_as_before_018)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def db(pg, db_url):
    return Db(pg, db_url)


@pytest.fixture
def live(svc_pbx):
    provision(svc_pbx)
    return svc_pbx


def by_id(svc, cid):
    return next(c for c in commands(svc, limit=500) if c["id"] == cid)


def requests_for(pbx, cid):
    with pbx.lock:
        return [r for r in pbx.requests if isinstance(r["doc"], dict) and r["doc"].get("id") == cid]


def test_cb51_command_is_delivered_signed_with_id_seq_created_at(live, pbx):
    t0 = time.time()
    live.send(cancel_all("2001"))
    cmd = pbx.wait_command("tone", station="2001")
    assert cmd["tone"] == "reorder" and cmd["callback_id"] is None
    uuid.UUID(cmd["id"])
    assert isinstance(cmd["seq"], int) and cmd["seq"] >= 1
    assert RFC3339.match(cmd["created_at"]), cmd
    assert not pbx.bad_signatures()
    rec = requests_for(pbx, cmd["id"])[0]
    assert rec["path"] == "/commands"
    assert rec["headers"]["Content-Type"] == "application/json"
    assert abs(int(rec["headers"]["X-Callbackd-Timestamp"]) - t0) < 10
    item = wait_for(lambda: (c := by_id(live, cmd["id"]))["status"] == "delivered" and c, 5)
    assert item["attempts"] == 1 and item["last_error"] is None
    assert RFC3339.match(item["delivered_at"])
    assert item["seq"] == cmd["seq"] and item["created_at"] == cmd["created_at"]
    assert wait_for(lambda: metric(live, "callbackd_commands", 'status="delivered"') == 1, 5)
    assert metric(live, "callbackd_command_delivery_seconds_count") == 1


def test_a_command_is_rendered_once_when_queued_and_sent_as_stored(live, pbx, db):
    """The outbox row holds the command exactly as POSTed (id, seq and created_at included,
    written with the row), and every attempt sends those bytes: nothing is composed again."""
    pbx.set_mode("fail")
    live.send(cancel_all("2001"))
    wait_for(lambda: len(pbx.requests) >= 2, 10, msg="two attempts")
    pbx.set_mode("ok")
    stored = db.rows("SELECT body::text, id::text, seq, body->>'id', (body->>'seq')::bigint "
                     "FROM commands")
    assert len(stored) == 1
    text, cid, seq, body_id, body_seq = stored[0]
    assert (body_id, body_seq) == (cid, seq)
    cmd = pbx.wait_command("tone", station="2001")
    sent = [r["body"] for r in requests_for(pbx, cid)]
    assert len(sent) >= 3 and all(s == sent[0] for s in sent), "every attempt sends the same bytes"
    assert sent[0].decode() == text
    assert cmd["created_at"] == db.value("SELECT body->>'created_at' FROM commands")


def test_cb51_failures_are_retried_with_backoff_and_the_same_id(live, pbx):
    pbx.set_mode("fail")
    live.send(cancel_all("2001"))
    first = wait_for(lambda: commands(live), 5)[0]
    wait_for(lambda: len(requests_for(pbx, first["id"])) >= 3, 15, msg="three attempts")
    # The fake PBX sees a POST before callbackd has read the 500 and counted the attempt.
    item = wait_for(lambda: (c := by_id(live, first["id"]))["attempts"] >= 3 and c, 10,
                    msg="three attempts counted")
    assert item["status"] == "pending" and item["attempts"] >= 3
    assert "500" in item["last_error"], item
    times = [r["at"] for r in requests_for(pbx, first["id"])][:3]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 0.7 < gaps[0] < 2.0 and 1.6 < gaps[1] < 3.5, gaps  # 1 s, then 2 s
    pbx.set_mode("ok")
    cmd = pbx.wait_command("tone", timeout=15, station="2001")
    assert cmd["id"] == first["id"] and cmd["seq"] == first["seq"]
    item = wait_for(lambda: (c := by_id(live, first["id"]))["status"] == "delivered" and c, 5)
    assert item["attempts"] == len(requests_for(pbx, first["id"]))
    # Every attempt carried the same id and body.
    bodies = {r["body"] for r in requests_for(pbx, first["id"])}
    assert len(bodies) == 1


def test_hanging_pbx_times_out_after_5_seconds_and_is_retried(live, pbx):
    pbx.set_mode("hang")
    live.send(cancel_all("2002"))
    first = wait_for(lambda: commands(live), 5)[0]
    wait_for(lambda: requests_for(pbx, first["id"]), 5)
    t0 = time.monotonic()
    item = wait_for(lambda: (c := by_id(live, first["id"]))["attempts"] >= 1 and c, 10,
                    interval=0.1)
    waited = time.monotonic() - t0
    assert 3.5 < waited < 7.5, waited
    assert item["status"] == "pending" and "timeout" in item["last_error"].lower(), item
    pbx.set_mode("ok")
    cmd = pbx.wait_command("tone", timeout=15, station="2002")
    assert cmd["id"] == first["id"]


def test_cb51_past_command_ttl_the_command_fails(live, pbx):
    live.ok("PUT", "/v1/system-options", {"command_ttl_s": 3})
    pbx.set_mode("fail")
    live.send(cancel_all("2001"))
    first = wait_for(lambda: commands(live), 5)[0]
    item = wait_for(lambda: (c := by_id(live, first["id"]))["status"] == "failed" and c, 10)
    assert item["attempts"] >= 2 and item["delivered_at"] is None
    n = len(requests_for(pbx, first["id"]))
    pbx.set_mode("ok")
    time.sleep(2.5)
    assert len(requests_for(pbx, first["id"])) == n, "a failed command is not sent again"
    assert not pbx.received("tone")
    text = counted_metrics(live)
    assert metric(live, "callbackd_commands", 'status="failed"', text=text) == 1
    assert metric(live, "callbackd_commands_total", 'status="failed"') == 1


def test_cb51_order_per_station_and_no_head_of_line_across_stations(live, pbx):
    pbx.set_mode("fail")
    live.send(cancel_all("2001"))
    a = wait_for(lambda: commands(live), 5)[0]
    live.send(cancel_all("2001"))
    live.send(cancel_all("2002"))
    items = wait_for(lambda: len(commands(live)) == 3 and commands(live), 5)
    b, c = items[1], items[2]
    assert b["station"] == "2001" and c["station"] == "2002"
    wait_for(lambda: requests_for(pbx, c["id"]), 5, msg="2002's command tried despite 2001's")
    time.sleep(2.5)
    assert not requests_for(pbx, b["id"]), "a later command for 2001 waits for the earlier"
    pbx.set_mode("ok")
    wait_for(lambda: len(pbx.received("tone")) == 3, 20, msg="all three delivered")
    order_2001 = [x["id"] for x in pbx.received("tone", station="2001")]
    assert order_2001 == [a["id"], b["id"]]


def test_without_command_url_commands_stay_pending(svc, db):
    provision(svc)
    svc.send(cancel_all("2001"))
    wait_for(lambda: commands(svc), 5)
    time.sleep(1.5)
    item = commands(svc)[0]
    assert item["status"] == "pending" and item["attempts"] == 0


def test_commands_list_paging_and_after(svc, db):
    provision(svc)
    for n in ("2001", "2002", "2003", "2001"):
        svc.send(cancel_all(n))
    wait_for(lambda: len(commands(svc)) == 4, 10)
    every = commands(svc)
    seqs = [c["seq"] for c in every]
    assert seqs == sorted(seqs)
    for c in every:
        assert set(c) >= {"id", "seq", "type", "callback_id", "created_at", "status", "attempts",
                          "last_error", "delivered_at", "station", "tone"}
    page = svc.ok("GET", "/v1/commands?limit=3")
    assert [c["seq"] for c in page["items"]] == seqs[:3] and page["next_cursor"]
    page2 = svc.ok("GET", f"/v1/commands?limit=3&cursor={page['next_cursor']}")
    assert [c["seq"] for c in page2["items"]] == seqs[3:] and page2["next_cursor"] is None
    assert [c["seq"] for c in commands(svc, after=seqs[1])] == seqs[2:]
    assert commands(svc, after=seqs[-1]) == []
    for bad in ("after=x", "after=-1", "limit=0", "limit=501", "cursor=%21%21"):
        svc.error("GET", f"/v1/commands?{bad}", status=422, code="validation_failed")


def test_commands_list_needs_admin_or_operator(svc):
    svc.error("GET", "/v1/commands", token=None, status=401, code="unauthorized")
    op = svc.ok("POST", "/v1/tokens", {"scopes": ["operator"]})["token"]
    st_tok = svc.ok("POST", "/v1/tokens", {"scopes": ["station:2001"]})["token"]
    assert svc.ok("GET", "/v1/commands", token=op)["items"] == []
    svc.error("GET", "/v1/commands", token=st_tok, status=403, code="forbidden")


def test_pbx_restarting_mid_stream_loses_nothing(live, pbx, db):
    """Many commands, the PBX failing for a while in the middle: every one is delivered once
    acknowledged, each station's in order."""
    for i in range(10):
        live.send(cancel_all(("2001", "2002", "2003")[i % 3]))
    wait_for(lambda: len(pbx.received("tone")) >= 3, 10)
    pbx.set_mode("fail")
    for i in range(10):
        live.send(cancel_all(("2001", "2002", "2003")[i % 3]))
    time.sleep(1.5)
    pbx.set_mode("ok")
    wait_for(lambda: db.count("SELECT count(*) FROM commands WHERE status = 'delivered'") == 20, 30)
    got = pbx.received("tone")
    assert len({c["id"] for c in got}) == 20 and len(got) == 20
    for n in ("2001", "2002", "2003"):
        seqs = [c["seq"] for c in got if c["station"] == n]
        assert seqs == sorted(seqs), (n, seqs)


def cpu_seconds(svc):
    fields = open(f"/proc/{svc.proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


def test_idle_and_blocked_loops_do_not_spin(live, pbx, db):
    """Nothing to send, then a station's second command waiting behind a failing first one:
    the dispatcher and the worker sleep (regression: they once polled the database flat out)."""
    def commits():
        return int(db.value("SELECT xact_commit FROM pg_stat_database "
                            "WHERE datname = current_database()"))

    time.sleep(1.2)  # statistics are flushed about once a second
    c0, x0 = cpu_seconds(live), commits()
    time.sleep(3)
    assert cpu_seconds(live) - c0 < 0.3, "idle with an empty outbox"
    assert commits() - x0 < 150, f"{commits() - x0} transactions in 3 s of idling"
    pbx.set_mode("fail")
    live.send(cancel_all("2001"), cancel_all("2001"))
    wait_for(lambda: db.count("SELECT coalesce(max(attempts), 0) FROM commands") >= 2, 10)
    time.sleep(1.2)
    c0, x0 = cpu_seconds(live), commits()
    time.sleep(3)
    assert cpu_seconds(live) - c0 < 0.3, "blocked second command"
    assert commits() - x0 < 150, f"{commits() - x0} transactions in 3 s behind a failing command"


def test_commands_pending_before_the_queue_was_added_are_delivered_after_the_upgrade(
        pg, db_url, db, start_service, pbx):
    """Migration 018 gives pending commands a queue of their own (pending_commands): a deployment
    upgraded with commands still pending delivers them, each station's in order, and leaves the
    delivered and failed ones as they were."""
    schema_before(pg, db.name, 17)
    for station, status in (("2001", "delivered"), ("2001", "pending"), ("2002", "pending"),
                            ("2001", "pending"), ("2002", "failed")):
        tone_as_before_018(db, station, status)
    before = {r[0]: r[1:] for r in db.rows(
        "SELECT id, status, attempts, seq FROM commands ORDER BY seq")}

    svc = start_service(pbx=pbx)  # migrates to the current schema, then sends what is pending
    pending = [i for i, (status, _, _) in before.items() if status == "pending"]
    wait_for(lambda: len(pbx.received("tone")) == 3, 10)
    got = pbx.received("tone")
    assert sorted(c["id"] for c in got) == sorted(pending)
    for n in ("2001", "2002"):
        seqs = [c["seq"] for c in got if c["station"] == n]
        assert seqs == sorted(seqs), (n, seqs)
    wait_for(lambda: db.count("SELECT count(*) FROM pending_commands") == 0, 10)
    after = {c["id"]: c for c in commands(svc)}
    for i, (status, attempts, _) in before.items():
        want = "delivered" if status == "pending" else status
        assert after[i]["status"] == want, (i, status, after[i])
        assert after[i]["attempts"] == (1 if status == "pending" else int(attempts))
    time.sleep(0.5)
    assert len(pbx.received("tone")) == 3, "a command delivered or failed before was sent again"


def test_commands_written_by_a_process_not_yet_upgraded_keep_the_queue_right(live, pbx, db):
    """During a rolling upgrade a process older than migration 018 writes `commands` as it always
    did, knowing nothing of pending_commands: what it queues is sent by the new dispatcher, a
    retry it records moves the command's next attempt, and a command it records as delivered
    leaves the queue and is never sent again."""
    now = tone_as_before_018(db, "2001")
    later = tone_as_before_018(db, "2002", next_attempt_at="now() + interval '1 hour'")
    delivered = tone_as_before_018(db, "2003", next_attempt_at="now() + interval '1 hour'")
    assert pbx.wait_command("tone", station="2001")["id"] == now
    # The older dispatcher: a failed attempt of `later` (due now), `delivered` acknowledged.
    db.rows(f"UPDATE commands SET attempts = 1, last_error = 'the PBX answered HTTP 503', "
            f"next_attempt_at = now() WHERE id = '{later}'")
    db.rows(f"UPDATE commands SET status = 'delivered', attempts = 1, delivered_at = now() "
            f"WHERE id = '{delivered}'")
    assert pbx.wait_command("tone", station="2002")["id"] == later
    wait_for(lambda: db.count("SELECT count(*) FROM pending_commands") == 0, 10)
    statuses = {c["id"]: (c["status"], c["attempts"]) for c in commands(live)}
    assert statuses == {now: ("delivered", 1), later: ("delivered", 2),
                        delivered: ("delivered", 1)}, statuses
    time.sleep(1.5)  # a look at the outbox comes at least once a second
    assert [c["id"] for c in pbx.received("tone")] == [now, later]


def test_a_pending_command_deleted_by_hand_holds_back_nothing(live, pbx, db):
    """callbackd deletes no command, but an operator may: the deleted command leaves the queue of
    pending commands with its row, and the later commands of its station are sent."""
    stuck = tone_as_before_018(db, "2001", next_attempt_at="now() + interval '1 hour'")
    assert db.count(f"SELECT count(*) FROM pending_commands q JOIN commands c USING (seq) "
                    f"WHERE c.id = '{stuck}'") == 1
    db.rows(f"DELETE FROM commands WHERE id = '{stuck}'")
    assert db.count("SELECT count(*) FROM pending_commands") == 0
    live.send(cancel_all("2001"))
    cmd = pbx.wait_command("tone", station="2001")
    assert cmd["id"] != stuck
