"""SIP phones for the Kamailio end-to-end test: baresip softphones driven over ctrl_tcp, and a
SIPp trunk gateway. Both are real SIP software; this module only starts them, tells a phone to
dial, answer or hang up (what a user would press), and reads what each one saw.

- Baresip(number, sip_port, ctrl_port, proxy): one registered extension. `dial`, `accept`,
  `hangup` are ctrl_tcp commands; `events` are the JSON events baresip sends (CALL_INCOMING,
  CALL_ESTABLISHED, CALL_CLOSED, ...); `trace()` is its SIP trace (-s): every message it sent
  and received, from which `received(method)` picks the requests that reached it.
- Gateway(port, scenario): SIPp answering every INVITE on the trunk side, with its message
  trace.
"""

import json
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wait_for(pred, timeout=10.0, interval=0.05, msg=None):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {msg or pred}")
        time.sleep(interval)


def _netstring(data):
    return f"{len(data)}:".encode() + data + b","


class Baresip:
    def __init__(self, number, sip_port, ctrl_port, rtp_ports, proxy, workdir, max_calls=1):
        self.number = number
        self.proxy = proxy
        self.ctrl_port = ctrl_port
        self.dir = Path(workdir) / f"baresip-{number}"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config").write_text(
            "poll_method\t\tepoll\n"
            f"sip_listen\t\t127.0.0.1:{sip_port}\n"
            f"call_max_calls\t\t{max_calls}\n"
            "audio_player\t\taubridge,p" + number + "\n"
            "audio_source\t\taubridge,p" + number + "\n"
            "audio_alert\t\taubridge,p" + number + "\n"
            f"rtp_ports\t\t{rtp_ports[0]}-{rtp_ports[1]}\n"
            "module_path\t\t/usr/lib/baresip/modules\n"
            "module\t\t\tg711.so\n"
            "module\t\t\taubridge.so\n"
            "module_app\t\taccount.so\n"
            "module_app\t\tmenu.so\n"
            "module_app\t\tctrl_tcp.so\n"
            f"ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n")
        # call_max_calls: a call beyond it is refused with 486 Busy Here, like a phone without
        # call waiting; a requester needs 2 (its answered ring leg and the call its transfer
        # places live together a moment).
        (self.dir / "accounts").write_text(
            f"<sip:{number}@{proxy}>;regint=300;answermode=manual\n")
        self.log = open(self.dir / "stdout.log", "w+b")
        self.proc = subprocess.Popen(["baresip", "-s", "-f", str(self.dir)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.events = []
        self._lock = threading.Lock()
        try:
            self.sock = wait_for(self._connect, 10, msg=f"baresip {number} ctrl_tcp")
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _connect(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"baresip {self.number} exited:\n{self.trace()}")
        try:
            return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
        except OSError:
            return None

    def _read(self):
        try:
            self._read_events()
        except Exception:  # the phone went away mid-message: nothing more to read
            return

    def _read_events(self):
        buf = b""
        self.sock.settimeout(None)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while True:
                m = re.match(rb"(\d+):", buf)
                if not m or len(buf) < m.end() + int(m.group(1)) + 1:
                    break
                n = int(m.group(1))
                payload = buf[m.end():m.end() + n]
                buf = buf[m.end() + n + 1:]
                try:
                    msg = json.loads(payload)
                except ValueError:
                    continue
                with self._lock:
                    self.events.append(msg)

    def command(self, cmd, params=""):
        msg = {"command": cmd, "params": params, "token": f"t{time.monotonic_ns()}"}
        self.sock.sendall(_netstring(json.dumps(msg).encode()))

    def dial(self, number):
        self.command("dial", f"sip:{number}@{self.proxy}")

    def accept(self):
        self.command("accept")

    def hangup(self):
        self.command("hangup")

    def event_types(self):
        with self._lock:
            return [e.get("type") for e in self.events if e.get("event")]

    def wait_event(self, type, timeout=15.0, after=0, **match):
        """The first event of `type` (with the given fields) at index >= after; returns
        (index, event)."""
        def find():
            with self._lock:
                for i, e in enumerate(self.events[after:], after):
                    if e.get("event") and e.get("type") == type and all(
                            str(e.get(k, "")).find(v) >= 0 for k, v in match.items()):
                        return (i, e)
            return None
        return wait_for(find, timeout, msg=f"{self.number}: event {type} {match} "
                                             f"(seen {self.event_types()})")

    def mark(self):
        with self._lock:
            return len(self.events)

    def registered(self):
        return any(re.search(r"^CSeq: \d+ REGISTER", m, re.M)
                   for m in self.received("SIP/2.0 200"))

    def trace(self):
        self.log.flush()
        return Path(self.log.name).read_bytes().decode(errors="replace")

    def messages(self, inbound):
        """The SIP messages of the trace (text), received (inbound) or sent."""
        out = []
        port = f":{self.sip_port()}"
        for block in re.split(r"\n(?=(?:UDP|TCP) \S+ -> \S+\n)", self.trace()):
            m = re.match(r"(UDP|TCP) (\S+) -> (\S+)\n(.*)", block, re.S)
            if m and m.group(3 if inbound else 2).endswith(port):
                out.append(re.sub(r"\x1b\[[0-9;]*m", "", m.group(4)))
        return out

    def received(self, start):
        """Messages that reached this phone and begin with `start` ("INVITE", "SIP/2.0 200")."""
        if not start.startswith("SIP/"):
            start += " "
        return [m for m in self.messages(True) if m.startswith(start)]

    def sent(self, start):
        if not start.startswith("SIP/"):
            start += " "
        return [m for m in self.messages(False) if m.startswith(start)]

    def sip_port(self):
        return re.search(r"sip_listen\s+\S+:(\d+)", (self.dir / "config").read_text()).group(1)

    def stop(self):
        try:
            self.command("quit")
        except OSError:
            pass
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            self.sock.close()
        except OSError:
            pass
        self.log.close()


class Gateway:
    """SIPp as the trunk's far end: answers each INVITE (200), waits for the BYE."""

    def __init__(self, port, workdir):
        self.dir = Path(workdir) / "gateway"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(HERE / "gateway.xml"), "-i", "127.0.0.1", "-p", str(port),
             "-mp", str(port + 25),
             "-trace_msg", "-message_file", str(self.dir / "messages.log"), "-nostdin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            cwd=self.dir)

    def messages(self):
        p = self.dir / "messages.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def invites(self):
        return [b for b in re.split(r"-{10,}.*\n", self.messages())
                if re.search(r"^INVITE sip:", b, re.M) and "received" in b]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def workdir():
    return tempfile.mkdtemp(prefix="callbackd-sip-")
