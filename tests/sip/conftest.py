"""Fixtures of the SIP end-to-end test: PostgreSQL and callbackd as in tests/e2e (its harness),
Kamailio started by deploy/kamailio/run.sh with deploy/kamailio/kamailio.cfg, three baresip
softphones (2001 A, 2002 B, 2003 C) and a SIPp trunk gateway, all on 127.0.0.1.

Fixed ports, below the ephemeral range (a port there may be held by any client's TIME_WAIT):
Kamailio SIP 15060 (UDP and TCP) and commands 15098 (TCP); phones SIP 15061, 15064, 15067
(baresip takes the next port too), RTP 15076-15089, ctrl_tcp 15071-15073; gateway 15070 (media
15095). callbackd takes a free port. ctest runs the file under a resource lock.

`sip` (module scope) is one running system; tests use it in file order and leave every phone
idle. Every process started here is stopped at the end, by its pid (Kamailio by its process
group: run.sh starts it in a session of its own).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))

import openapi_contract  # noqa: E402
from harness import ADMIN, REPO, SECRET, DbProxy, PgCluster, Service, remove_log_dir  # noqa: E402
from phones import Baresip, Gateway, wait_for, workdir  # noqa: E402

PROXY = "127.0.0.1:15060"
KAM_HTTP = "127.0.0.1:15098"
GATEWAY_PORT = 15070
TRUNKS = f"9=127.0.0.1:{GATEWAY_PORT}=9-L1/9-L2"
NOTIFICATION_TIMEOUT_S = 5


class Kamailio:
    def __init__(self, callbackd_url, logdir):
        self.log_path = Path(logdir) / "kamailio.log"
        self.log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.update({
            "CALLBACKD_URL": callbackd_url,
            "CALLBACKD_PBX_SECRET": SECRET,
            "KAMAILIO_SIP": PROXY,
            "KAMAILIO_HTTP": KAM_HTTP,
            "KAMAILIO_TRUNKS": TRUNKS,
            "KAMAILIO_NO_ANSWER_MS": "20000",
            "KAMAILIO_HANGUP_S": "20",
        })
        self.proc = subprocess.Popen(["bash", str(REPO / "deploy" / "kamailio" / "run.sh")],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(self._listening, 15, msg="Kamailio listening")
        except BaseException:
            self.stop()
            raise
        time.sleep(0.3)  # its SIP workers start with the TCP main process

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"Kamailio exited:\n{self.text()[-3000:]}")
        try:
            socket.create_connection(KAM_HTTP.split(":"), timeout=0.5).close()
            return True
        except OSError:
            return False

    def text(self):
        self.log.flush()
        return self.log_path.read_bytes().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # run.sh waited for Kamailio: nothing of its session may be left
        try:
            os.killpg(self.proc.pid, 0)
            time.sleep(1)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


class System:
    """The running system and the API helpers the tests use."""

    def __init__(self, svc, db_proxy, kam, phones, gateway, dir):
        self.svc, self.db_proxy, self.kam, self.gateway = svc, db_proxy, kam, gateway
        self.dir = dir
        self.a, self.b, self.c = phones

    def api(self, method, path, body=None, status=None, token=ADMIN):
        return self.svc.ok(method, path, body, status=status, token=token)

    def station(self, number, token=ADMIN):
        return self.api("GET", f"/v1/stations/{number}", token=token)

    def callback(self, cb_id):
        return self.api("GET", f"/v1/callbacks/{cb_id}")

    def wait_state(self, cb_id, state, timeout=15):
        return wait_for(lambda: (c := self.callback(cb_id))["state"] == state and c, timeout,
                        msg=f"callback {cb_id} {state}")

    def commands(self, type=None, after=0):
        items = self.api("GET", f"/v1/commands?after={after}&limit=500")["items"]
        return [c for c in items if type is None or c["type"] == type]

    def last_seq(self):
        items = self.commands()
        return items[-1]["seq"] if items else 0

    def wait_idle(self, *numbers, timeout=15):
        for n in numbers:
            wait_for(lambda n=n: self.station(n)["state"]["availability"] == "idle", timeout,
                     msg=f"station {n} idle")

    def token(self, number):
        return self.api("POST", "/v1/tokens", {"scopes": [f"station:{number}"]},
                        status=201)["token"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        item.session.sip_failed = True
        system = getattr(item.session, "sip_system", None)
        if system is not None:
            tail = "\n".join(system.svc.log().splitlines()[-40:])
            kam = "\n".join(line for line in system.kam.text().splitlines()
                            if "callbackd" in line)[-6000:]
            rep.sections.append(("callbackd log (tail)", tail))
            rep.sections.append(("Kamailio adapter log", kam))


@pytest.fixture(autouse=True)
def _openapi_contract():
    openapi_contract.take_violations()
    yield
    found = openapi_contract.take_violations()
    assert not found, "\n".join(dict.fromkeys(found))


@pytest.fixture(scope="module")
def sip(request):
    url = os.environ.get("CALLBACKD_TEST_PG_URL")
    own = None
    if url:
        port = os.environ.get("CALLBACKD_TEST_PG_PORT")
        pg = PgCluster(os.environ.get("CALLBACKD_TEST_PG_DIR", ""), url=url,
                       port=int(port) if port else None)
    else:
        pg = own = PgCluster.create()
    started = []
    dbname = None
    dir = workdir()
    try:
        dbname = pg.create_db("cbsip")
        db_proxy = DbProxy(pg.port)  # a database that can stop answering: callbackd 503s
        started.append(db_proxy.close)
        svc = Service(db_proxy.url(dbname), env={
            "CALLBACKD_PBX_COMMAND_URL": f"http://{KAM_HTTP}/callbackd/commands",
            "CALLBACKD_DB_STATEMENT_TIMEOUT_MS": "1000",
            "CALLBACKD_LOG_LEVEL": "info"})
        svc.start()
        started.append(svc.cleanup)
        kam = Kamailio(f"http://127.0.0.1:{svc.port}", dir)
        started.append(kam.stop)
        gateway = Gateway(GATEWAY_PORT, dir)
        started.append(gateway.stop)
        phones = []
        for i, (number, calls) in enumerate((("2001", 2), ("2002", 1), ("2003", 1))):
            p = Baresip(number, 15061 + 3 * i, 15071 + i, (15076 + 5 * i, 15079 + 5 * i), PROXY,
                        dir, max_calls=calls)
            started.append(p.stop)
            phones.append(p)
        for p in phones:
            wait_for(p.registered, 15, msg=f"{p.number} registered")
        system = System(svc, db_proxy, kam, phones, gateway, dir)
        request.session.sip_system = system
        system.api("PUT", "/v1/classes-of-service/staff", {"callbacks_allowed": True})
        for n in ("2001", "2002", "2003"):
            system.api("PUT", f"/v1/stations/{n}", {"kind": "ip_phone", "cos": "staff"})
        system.api("PUT", "/v1/trunk-groups/9", {"lines": ["9-L1", "9-L2"],
                                                 "callback_activation": True})
        system.api("PUT", "/v1/system-options",
                   {"notification_timeout_s": NOTIFICATION_TIMEOUT_S, "recall_timeout_s": 20,
                    "digit_collection_during_busy_or_alerting": True})
        yield system
        status = svc.stop()
        assert status == 0, f"callbackd exited {status} on SIGTERM"
        reports = svc.sanitizer_reports()
        assert not reports, f"sanitizer reports: {reports[:5]}"
    except BaseException:
        request.session.sip_failed = True
        raise
    finally:
        request.session.sip_system = None
        for stop in reversed(started):
            stop()
        if getattr(request.session, "sip_failed", False):
            print(f"---- phone traces and the Kamailio log are kept in {dir} ----")
        else:
            shutil.rmtree(dir, ignore_errors=True)
        if dbname:
            pg.drop_db(dbname)
        if own:
            own.destroy()
        remove_log_dir()
