"""A client of GET /v1/stream (Server-Sent Events over a chunked HTTP/1.1 answer), as a page's
`fetch` with a streamed body would read it: one socket, the Authorization header, optionally
Last-Event-ID and Origin. A thread reads and parses the events into a queue; every event's data
is checked against openapi.yaml (its `x-events` schemas), and the answer's status and
Content-Type like any other answer."""

import json
import queue
import socket
import threading
import time

import openapi_contract
from harness import ADMIN


class EventStream:
    """One open stream. `next()` returns the next message: {"id", "event", "data"} for an
    event (data parsed), {"comment": text} for a comment line (": ok", ": ping")."""

    def __init__(self, svc, path="/v1/stream", token=ADMIN, headers=None, timeout=10.0):
        if token is ADMIN:
            token = svc.admin
        self.messages = queue.Queue()
        self.closed = threading.Event()
        self.ended = threading.Event()  # the server ended the answer (or the connection)
        self.sock = socket.create_connection(("127.0.0.1", svc.port), timeout=timeout)
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: text/event-stream"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.f = self.sock.makefile("rb")
        status_line = self.f.readline().decode()
        self.status = int(status_line.split()[1])
        self.headers = {}
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            if not line:
                break
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.body = None
        ctype = self.headers.get("content-type")
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            raw = self.f.read(n) if n else b""
            self.body = json.loads(raw) if raw else None
            openapi_contract.check_response("GET", path, self.status, ctype, self.body, len(raw))
            self.close()
            return
        openapi_contract.check_response("GET", path, self.status, ctype, "(a stream)", 1)
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _chunks(self):
        while True:
            size = int(self.f.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = self.f.read(size)
            self.f.readline()
            yield data

    def _read(self):
        buf = b""
        fields = {}
        try:
            for chunk in self._chunks():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode()
                    if text.startswith(":"):
                        self.messages.put({"comment": text[1:].strip()})
                    elif text == "":
                        if fields:
                            self._event(fields)
                        fields = {}
                    else:
                        k, _, v = text.partition(":")
                        fields[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError):
            pass
        finally:
            self.ended.set()

    def _event(self, fields):
        data = json.loads(fields.get("data", "null"))
        event = fields.get("event", "message")
        try:
            openapi_contract.check_stream_event(event, data)
        except AssertionError:
            pass  # recorded; the test fails at its end
        self.messages.put({"id": int(fields["id"]) if "id" in fields else None,
                           "event": event, "data": data})

    def next(self, timeout=5.0, comments=False):
        """The next event (or comment, with `comments`); AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                m = self.messages.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"no stream message within {timeout}s") from None
            if comments or "comment" not in m:
                return m

    def events(self, count, timeout=10.0):
        """The next `count` events."""
        deadline = time.monotonic() + timeout
        return [self.next(max(deadline - time.monotonic(), 0.001)) for _ in range(count)]

    def quiet(self, seconds):
        """The events that arrive within `seconds` (none expected, usually)."""
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                m = self.messages.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                break
            if "comment" not in m:
                got.append(m)
        return got

    def wait_open(self, timeout=5.0):
        """Waits for the opening comment: from then on every change is on this stream."""
        m = self.next(timeout, comments=True)
        assert m.get("comment") == "ok", m
        return self

    def close(self):
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def open_stream(svc, path="/v1/stream", **kw):
    """Opens a stream and waits for its opening comment (status 200 expected)."""
    s = EventStream(svc, path, **kw)
    assert s.status == 200, (s.status, s.body)
    return s.wait_open()


STATION_SHOWN = ("number", "callbacks_allowed", "state", "softkey")


def station_as_streamed(svc, number):
    """What a `station` message carries of `number`: those fields of GET /v1/stations/{number}."""
    station = svc.ok("GET", f"/v1/stations/{number}")
    return {k: station[k] for k in STATION_SHOWN}
