"""Raw-socket clients for the network-limit tests (test_network_limits.py, test_network_tls.py)
and the slowloris soak (tests/soak/slowloris.py): what http.client cannot do on purpose, such
as connecting from a chosen loopback address, trickling a request, or reading an answer that
comes before the body was sent.

Every address here is on loopback: the whole of 127.0.0.0/8 is local on Linux, so a client bound
to 127.0.0.2 reaches a server on 127.0.0.1 and the server sees it as another address.
"""

import json
import resource
import select
import socket
import time

import openapi_contract


def connect(port, src="127.0.0.1", host="127.0.0.1", timeout=5.0):
    """A TCP connection to host:port from the loopback address `src`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((host, port))
    return s


def closed_by_peer(s, wait=0.0):
    """True when the server has closed `s` (end of stream or reset) within `wait` seconds;
    bytes it sent meanwhile are read and dropped."""
    deadline = time.monotonic() + wait
    while True:
        left = max(0.0, deadline - time.monotonic())
        try:
            ready, _, _ = select.select([s], [], [], left)
        except (OSError, ValueError):
            return True
        if not ready:
            return False
        try:
            if not s.recv(65536):
                return True
        except BlockingIOError:
            continue
        except OSError:
            return True


def read_answer(s, timeout=5.0):
    """Reads one HTTP answer from `s`: (status, headers with lower-case names, body bytes).
    Raises TimeoutError when it is not whole within `timeout` seconds, ConnectionError when the
    connection ends first."""
    deadline = time.monotonic() + timeout
    buf = b""

    def more():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no whole answer within {timeout}s (got {buf[:200]!r})")
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"no whole answer within {timeout}s (got {buf[:200]!r})") from None
        if not data:
            raise ConnectionError(f"connection closed; got {buf[:200]!r}")
        return data

    while b"\r\n\r\n" not in buf:
        buf += more()
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += more()
    return status, headers, body[:length]


def request(port, method, path, headers=None, body=b"", src="127.0.0.1", timeout=5.0,
            check=True):
    """One request on a new connection from `src`; returns (status, headers, body, seconds).
    With `check`, a problem+json or JSON answer is checked against openapi.yaml."""
    started = time.monotonic()
    with connect(port, src=src, timeout=timeout) as s:
        s.sendall(head(method, path, headers, len(body) if body else None) + body)
        status, h, b = read_answer(s, timeout)
    if check:
        check_contract(method, path, status, h, b)
    return status, h, b, time.monotonic() - started


def head(method, path, headers=None, content_length=None, close=True):
    """The request line and headers, as bytes."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_contract(method, path, status, headers, body):
    """The answer must match openapi.yaml (as Service.call checks every answer)."""
    doc = None
    if body:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = body.decode(errors="replace")
    openapi_contract.check_response(method, path, status, headers.get("content-type"), doc,
                                    len(body))
    return doc


def raise_fd_limit(need):
    """Raises this process's soft RLIMIT_NOFILE to at least `need` (up to the hard limit);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        want = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


class Slowloris:
    """`n` connections from `src` that each send a request line, then one header line every
    `every` seconds and never the end of the headers. `round()` sends the next line on each
    open connection and, with `reconnect`, opens a new one for each the server closed (as an
    attacker would). Counts what the server did: connections it closed at once (a cap), later
    (the request deadline), and how many it holds now."""

    def __init__(self, port, n, src="127.0.0.1", path="/healthz"):
        self.port, self.n, self.src, self.path = port, n, src, path
        self.socks = []
        self.opened = 0
        self.refused = 0     # closed by the server within `settle` of being opened
        self.cut = 0         # closed by the server later, while trickling
        self.connect_errors = 0
        self.lines = 0

    def _open(self, count, settle):
        fresh = []
        for _ in range(count):
            try:
                s = connect(self.port, src=self.src, timeout=2.0)
                s.setblocking(False)
                s.sendall(f"GET {self.path} HTTP/1.1\r\nHost: x\r\n".encode())
            except OSError:
                self.connect_errors += 1
                continue
            self.opened += 1
            fresh.append(s)
        time.sleep(settle)
        for s in fresh:
            if closed_by_peer(s):
                self.refused += 1
                s.close()
            else:
                self.socks.append(s)

    def open(self, settle=0.3):
        self._open(self.n, settle)
        return self

    def round(self, reconnect=False, settle=0.3):
        kept = []
        for s in self.socks:
            try:
                if closed_by_peer(s):
                    raise ConnectionError
                s.send(f"X-Trickle-{self.lines}: 1\r\n".encode())
                kept.append(s)
            except OSError:
                self.cut += 1
                s.close()
        self.lines += 1
        self.socks = kept
        if reconnect and len(self.socks) < self.n:
            self._open(self.n - len(self.socks), settle)

    def held(self):
        """Connections still open (after looking for the ones the server closed)."""
        kept = []
        for s in self.socks:
            if closed_by_peer(s):
                self.cut += 1
                s.close()
            else:
                kept.append(s)
        self.socks = kept
        return len(kept)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []
