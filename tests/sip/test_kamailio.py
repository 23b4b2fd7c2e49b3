"""Callback on a real PBX: Kamailio with deploy/kamailio/kamailio.cfg, baresip phones and a SIPp
trunk gateway (conftest.py). Each test plays one story with the phones, asserts on what the
phones saw (INVITE, Alert-Info, REFER, CANCEL) and on the API, and leaves every phone idle.
"""

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime

from conftest import KAM_HTTP, NOTIFICATION_TIMEOUT_S
from harness import SECRET, sign
from phones import wait_for

ALERT = "Alert-Info: <urn:alert:service:recall:callback>"


def busy_call(sip):
    """C calls B and B answers: B is busy in a call."""
    b_mark, c_mark = sip.b.mark(), sip.c.mark()
    sip.c.dial("2002")
    sip.b.wait_event("CALL_INCOMING", after=b_mark)
    sip.b.accept()
    sip.c.wait_event("CALL_ESTABLISHED", after=c_mark)
    wait_for(lambda: sip.station("2002")["state"]["availability"] == "busy", 10,
             msg="2002 busy")


def answer_ring(sip, target_display, after):
    """A's phone rings with the callback: checks the INVITE it got, answers it."""
    sip.a.wait_event("CALL_INCOMING", after=after, peerdisplayname=target_display)
    invite = [m for m in sip.a.received("INVITE") if "Callback" in m][-1]
    assert ALERT in invite, invite
    assert re.search(rf'^From: "{target_display}" <sip:callbackd@', invite, re.M), invite
    sip.a.accept()
    return invite


def recall_completes(sip, cb, ring_mark):
    """A answers the callback ring for 2002, B's phone rings from the recall and B answers: the
    callback is completed; every phone hangs up."""
    b_mark = sip.b.mark()
    answer_ring(sip, "Callback 2002", ring_mark)
    sip.b.wait_event("CALL_INCOMING", after=b_mark)
    sip.b.accept()
    assert sip.wait_state(cb["id"], "completed")["end_reason"] == "completed"
    hang_up_all(sip)


def hang_up_all(sip):
    for p in (sip.a, sip.b, sip.c):
        p.hangup()
        p.hangup()
    sip.wait_idle("2001", "2002", "2003")


def test_cb12_busy_station_rings_back_when_free(sip):
    a_mark = sip.a.mark()
    busy_call(sip)
    refused = len(sip.b.sent("SIP/2.0 486"))
    sip.a.dial("2002")
    _, closed = sip.a.wait_event("CALL_CLOSED", after=a_mark)
    assert closed["param"].startswith("486"), closed
    assert len(sip.b.sent("SIP/2.0 486")) == refused + 1  # B itself answered busy

    # the phone app of 2001: sees its softkey, presses it
    tok = sip.token("2001")
    wait_for(lambda: sip.station("2001", token=tok)["softkey"] == {"presented": True,
                                                                   "target": "2002"},
             10, msg="softkey presented for 2002")
    cb = sip.api("POST", "/v1/stations/2001/callbacks", {}, status=201, token=tok)
    assert (cb["target"], cb["reason"], cb["state"]) == ("2002", "busy", "pending")

    seq = sip.last_seq()
    ring_mark = sip.a.mark()
    b_mark = sip.b.mark()
    refers = len(sip.a.received("REFER"))
    sip.c.hangup()  # B's call ends: B is free, the callback matures
    answer_ring(sip, "Callback 2002", ring_mark)
    sip.wait_state(cb["id"], "recalling")
    # the requester's answered ring is transferred to B: A got a REFER, B rings from A
    wait_for(lambda: len(sip.a.received("REFER")) > refers, 10, msg="REFER at 2001")
    refer = sip.a.received("REFER")[-1]
    assert re.search(r"^Refer-To: <sip:2002@", refer, re.M), refer
    _, incoming = sip.b.wait_event("CALL_INCOMING", after=b_mark)
    assert incoming["peeruri"].startswith("sip:2001@"), incoming
    sip.b.accept()
    done = sip.wait_state(cb["id"], "completed")
    assert done["end_reason"] == "completed"
    types = [c["type"] for c in sip.commands(after=seq)]
    assert types[:2] == ["ring", "originate"], types
    assert all(c["status"] == "delivered" for c in sip.commands(after=seq))
    history = sip.api("GET", f"/v1/callbacks/{cb['id']}/history")["items"]
    assert [h["to"] for h in history] == ["pending", "notifying", "recalling", "completed"]
    assert all(h["cause"]["kind"] in ("api", "event") for h in history)
    hang_up_all(sip)


def test_cb13_no_answer_matures_after_the_targets_next_call(sip):
    a_mark = sip.a.mark()
    c_mark = sip.c.mark()
    sip.a.dial("2003")
    sip.c.wait_event("CALL_INCOMING", after=c_mark)
    time.sleep(0.5)
    sip.a.hangup()  # nobody answers: A gives up (CANCEL, 487)
    sip.a.wait_event("CALL_CLOSED", after=a_mark)
    sip.c.wait_event("CALL_CLOSED", after=c_mark)
    tok = sip.token("2001")
    wait_for(lambda: sip.station("2001", token=tok)["softkey"]["target"] == "2003", 10,
             msg="softkey presented for 2003")
    cb = sip.api("POST", "/v1/stations/2001/callbacks", {}, status=201, token=tok)
    assert (cb["reason"], cb["state"]) == ("no_answer", "pending")
    time.sleep(1.0)
    assert sip.callback(cb["id"])["state"] == "pending"  # C idle is not enough (CB-13)

    # C's next call: C calls B, B answers, C hangs up: a hook cycle
    ring_mark = sip.a.mark()
    b_mark = sip.b.mark()
    sip.c.dial("2002")
    sip.b.wait_event("CALL_INCOMING", after=b_mark)
    sip.b.accept()
    sip.c.wait_event("CALL_ESTABLISHED", after=c_mark)
    time.sleep(0.5)
    assert sip.callback(cb["id"])["state"] == "pending"
    c_mark = sip.c.mark()
    sip.c.hangup()
    refers = len(sip.a.received("REFER"))
    answer_ring(sip, "Callback 2003", ring_mark)
    wait_for(lambda: len(sip.a.received("REFER")) > refers, 10, msg="REFER at 2001")
    assert re.search(r"^Refer-To: <sip:2003@", sip.a.received("REFER")[-1], re.M)
    _, incoming = sip.c.wait_event("CALL_INCOMING", after=c_mark)
    assert incoming["peeruri"].startswith("sip:2001@"), incoming
    sip.c.accept()
    assert sip.wait_state(cb["id"], "completed")["end_reason"] == "completed"
    hang_up_all(sip)


def test_cb15_trunk_callback_goes_out_on_the_reserved_line(sip):
    b_mark, c_mark = sip.b.mark(), sip.c.mark()
    gw_calls = len(sip.gateway.invites())
    sip.b.dial("95550001")  # takes 9-L1
    sip.b.wait_event("CALL_ESTABLISHED", after=b_mark)
    sip.c.dial("95550002")  # takes 9-L2
    sip.c.wait_event("CALL_ESTABLISHED", after=c_mark)
    lines = {s["line"]: s for s in sip.api("GET", "/v1/trunk-groups/9")["line_states"]}
    wait_for(lambda: all(s["state"] == "busy" for s in
                         sip.api("GET", "/v1/trunk-groups/9")["line_states"]), 10,
             msg="both lines busy")
    assert set(lines) == {"9-L1", "9-L2"}

    a_mark = sip.a.mark()
    sip.a.dial("95551234")
    _, closed = sip.a.wait_event("CALL_CLOSED", after=a_mark)
    assert closed["param"].startswith("503"), closed  # all trunks busy
    tok = sip.token("2001")
    wait_for(lambda: sip.station("2001", token=tok)["softkey"]["target"] == "95551234", 10,
             msg="softkey presented for 95551234")
    cb = sip.api("POST", "/v1/stations/2001/callbacks", {}, status=201, token=tok)
    assert (cb["target"], cb["external_number"], cb["reason"]) == ("9", "5551234",
                                                                   "trunks_busy")

    seq = sip.last_seq()
    ring_mark = sip.a.mark()
    sip.c.hangup()  # 9-L2 frees
    reserved = wait_for(lambda: sip.commands("reserve_trunk", after=seq), 10,
                        msg="reserve_trunk")[0]
    assert (reserved["line"], reserved["for_station"]) == ("9-L2", "2001")
    assert sip.callback(cb["id"])["reserved_line"] == "9-L2"
    refers = len(sip.a.received("REFER"))
    answer_ring(sip, "Callback 95551234", ring_mark)
    wait_for(lambda: len(sip.a.received("REFER")) > refers, 10, msg="REFER at 2001")
    assert re.search(r"^Refer-To: <sip:95551234@", sip.a.received("REFER")[-1], re.M)
    wait_for(lambda: len(sip.gateway.invites()) >= gw_calls + 3, 10,
             msg="the recall at the gateway")
    recall = sip.gateway.invites()[-1]
    assert re.search(r"^INVITE sip:5551234@", recall, re.M), recall
    assert re.search(r"^X-Trunk-Line: 9-L2\s*$", recall, re.M), recall
    originate = sip.commands("originate", after=seq)[0]
    assert (originate["via_line"], originate["external_number"]) == ("9-L2", "5551234")
    assert sip.wait_state(cb["id"], "completed")["end_reason"] == "completed"
    hang_up_all(sip)
    wait_for(lambda: all(s["state"] == "idle" and s["reserved_for"] is None for s in
                         sip.api("GET", "/v1/trunk-groups/9")["line_states"]), 10,
             msg="both lines idle")


def test_cb23_unanswered_ring_is_cancelled(sip):
    busy_call(sip)
    cb = sip.api("POST", "/v1/callbacks", {"requester": "2001", "target": "2002"}, status=201)
    ring_mark = sip.a.mark()
    cancels = len(sip.a.received("CANCEL"))
    sip.c.hangup()
    sip.a.wait_event("CALL_INCOMING", after=ring_mark, peerdisplayname="Callback 2002")
    # A does not answer: after notification_timeout_s the ring stops (CANCEL) and the callback
    # ends no_response
    done = sip.wait_state(cb["id"], "cancelled", timeout=20)
    assert done["end_reason"] == "no_response"
    wait_for(lambda: len(sip.a.received("CANCEL")) > cancels, 10, msg="CANCEL at 2001")
    sip.a.wait_event("CALL_CLOSED", after=ring_mark)
    ring = [c for c in sip.commands("ring") if c["callback_id"] == cb["id"]][-1]
    stop = [c for c in sip.commands("stop_ring") if c["callback_id"] == cb["id"]][-1]
    assert stop["station"] == "2001"
    rung_s = (datetime.fromisoformat(stop["created_at"].replace("Z", "+00:00"))
              - datetime.fromisoformat(ring["created_at"].replace("Z", "+00:00")))
    assert rung_s.total_seconds() >= NOTIFICATION_TIMEOUT_S - 0.1, rung_s
    hang_up_all(sip)


def test_callbackd_restart_mid_callback_loses_nothing(sip):
    busy_call(sip)
    cb = sip.api("POST", "/v1/callbacks", {"requester": "2001", "target": "2002"}, status=201)
    assert sip.svc.stop() == 0
    # while callbackd is away B's call ends: Kamailio keeps the events and sends them again
    ring_mark = sip.a.mark()
    sip.c.hangup()
    wait_for(lambda: re.search(r"did not take the events \(answer -?\d+\)", sip.kam.text()),
             10, msg="Kamailio keeping the events")
    time.sleep(1.5)
    sip.svc.start()
    recall_completes(sip, cb, ring_mark)


def test_events_answered_5xx_are_sent_again(sip):
    busy_call(sip)
    cb = sip.api("POST", "/v1/callbacks", {"requester": "2001", "target": "2002"}, status=201)
    refused = len(re.findall(r"did not take the events \(answer 5\d\d\)", sip.kam.text()))
    sip.db_proxy.hang()  # callbackd's database stops answering: events are answered 503
    try:
        ring_mark = sip.a.mark()
        sip.c.hangup()
        wait_for(lambda: len(re.findall(r"did not take the events \(answer 5\d\d\)",
                                        sip.kam.text())) > refused, 15,
                 msg="a 5xx answer to the events")
    finally:
        sip.db_proxy.resume()
    recall_completes(sip, cb, ring_mark)

def test_setup_fac_dialed_as_a_call_sets_the_callback(sip):
    busy_call(sip)
    a_mark = sip.a.mark()
    sip.a.dial("2002")
    sip.a.wait_event("CALL_CLOSED", after=a_mark)
    wait_for(lambda: sip.station("2001")["softkey"]["target"] == "2002", 10, msg="softkey")
    seq = sip.last_seq()
    a_mark = sip.a.mark()
    sip.a.dial("*41")  # the Setup feature access code, dialed like a number
    _, closed = sip.a.wait_event("CALL_CLOSED", after=a_mark)
    assert closed["param"].startswith("480"), closed
    tone = wait_for(lambda: sip.commands("tone", after=seq), 10, msg="tone command")[0]
    assert (tone["station"], tone["tone"]) == ("2001", "confirmation")
    wait_for(lambda: "callbackd tone confirmation for station 2001" in sip.kam.text(), 10,
             msg="the tone logged by Kamailio")
    active = sip.api("GET", "/v1/stations/2001/callbacks")["items"]
    assert [(c["target"], c["state"]) for c in active] == [("2002", "pending")]
    sip.api("DELETE", f"/v1/callbacks/{active[0]['id']}")
    hang_up_all(sip)


def test_message_mode_lights_and_clears_the_lamp_by_notify(sip):
    notifies = len(sip.b.received("NOTIFY"))
    cb = sip.api("POST", "/v1/callbacks",
                 {"requester": "2001", "target": "2002", "mode": "message"}, status=201)
    assert cb["state"] == "message_left"
    wait_for(lambda: len(sip.b.received("NOTIFY")) > notifies, 10, msg="NOTIFY at 2002")
    lamp = sip.b.received("NOTIFY")[-1]
    assert re.search(r"^Event: message-summary", lamp, re.M), lamp
    assert "Messages-Waiting: yes" in lamp and "Message-Account: sip:2001@" in lamp, lamp
    # a call between the two connects (CB-27): the lamp goes off, the callback ends
    b_mark = sip.b.mark()
    sip.a.dial("2002")
    sip.b.wait_event("CALL_INCOMING", after=b_mark)
    sip.b.accept()
    ended = sip.wait_state(cb["id"], "cancelled")
    assert ended["end_reason"] == "call_completed"
    wait_for(lambda: "Messages-Waiting: no" in sip.b.received("NOTIFY")[-1], 10,
             msg="the lamp off")
    hang_up_all(sip)


def test_commands_need_the_signature_and_run_once(sip):
    url = f"http://{KAM_HTTP}/callbackd/commands"
    body = json.dumps({"id": str(uuid.uuid4()), "seq": 1, "type": "tone", "station": "2003",
                       "tone": "reorder", "callback_id": None,
                       "created_at": "2026-01-01T00:00:00Z"}).encode()

    def post(headers):
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    good = sign(SECRET, body)
    assert post({}) == 401
    assert post({**good, "X-Callbackd-Signature": "v1=" + "0" * 64}) == 401
    assert post(sign("another-secret-0123456789abcdef", body)) == 401
    assert post(sign(SECRET, body, ts=int(time.time()) - 400)) == 401
    assert "callbackd tone reorder for station 2003" not in sip.kam.text()
    assert post(good) == 200
    assert post(good) == 200  # callbackd retries a command it saw no answer to: done once
    wait_for(lambda: "callbackd tone reorder for station 2003" in sip.kam.text(), 5,
             msg="the tone logged")
    time.sleep(0.3)
    assert sip.kam.text().count("callbackd tone reorder for station 2003") == 1


def test_cb21_the_ring_bypasses_the_requesters_forwarding(sip):
    a_mark = sip.a.mark()
    sip.a.dial("*722003")  # 2001 forwards its calls to 2003
    sip.a.wait_event("CALL_CLOSED", after=a_mark)
    wait_for(lambda: sip.station("2001")["state"]["forward_to"] == "2003", 10,
             msg="2001 forwarded to 2003")
    # a normal call to 2001 now rings 2003
    c_mark = sip.c.mark()
    sip.b.dial("2001")
    _, forwarded = sip.c.wait_event("CALL_INCOMING", after=c_mark)
    assert forwarded["peeruri"].startswith("sip:2002@"), forwarded
    sip.c.hangup()  # declined
    sip.wait_idle("2002")

    busy_call(sip)
    cb = sip.api("POST", "/v1/callbacks", {"requester": "2001", "target": "2002"}, status=201)
    ring_mark, c_mark = sip.a.mark(), sip.c.mark()
    c_invites = len(sip.c.received("INVITE"))
    sip.c.hangup()
    answer_ring(sip, "Callback 2002", ring_mark)  # 2001 itself rings, not 2003
    assert len(sip.c.received("INVITE")) == c_invites
    b_mark = sip.b.mark()
    sip.b.wait_event("CALL_INCOMING", after=b_mark)
    sip.b.accept()
    assert sip.wait_state(cb["id"], "completed")["end_reason"] == "completed"
    hang_up_all(sip)
    a_mark = sip.a.mark()
    sip.a.dial("*73")
    sip.a.wait_event("CALL_CLOSED", after=a_mark)
    wait_for(lambda: sip.station("2001")["state"]["forward_to"] is None, 10,
             msg="forwarding cancelled")
