"""End-to-end harness: the real callbackd binary, a private PostgreSQL and a fake PBX.

Standard library, plus openapi_contract.py (PyYAML, jsonschema); pytest is used by conftest.py,
not here. What it gives:

- PgCluster: a PostgreSQL cluster driven through deploy/pg-cluster.sh (create/start/stop/restart,
  run SQL with psql, create/drop databases).
- Service: one callbackd process on a free 127.0.0.1 port, with `call`, `ok`, `error` helpers
  for the REST API, `stop` (SIGTERM), `kill` (SIGKILL) and its captured log.
- DbProxy: a TCP proxy in front of PostgreSQL that can hang (accept, never answer) and resume.
- FakePBX: the PBX side of the command channel (openapi.yaml); it verifies each
  command's HMAC signature, records the commands and can be told to fail (500) or hang.
- sign / post_events / send / event: the PBX -> callbackd event webhook, signed as openapi.yaml says.
- wait_for: polling helper.

Every answer `Service.call` receives, and every command the FakePBX receives, is checked
against openapi.yaml (openapi_contract.py): a mismatch raises there and is recorded, so that
conftest fails the test even when it happened in another thread.
"""

import contextlib
import hashlib
import hmac
import http.client
import itertools
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openapi_contract

REPO = Path(__file__).resolve().parents[2]
PG_CLUSTER = REPO / "deploy" / "pg-cluster.sh"

ADMIN = "test-admin-token-0123456789abcdef"
SECRET = "test-pbx-secret-0123456789abcdef"
SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


_log_dir = None


def log_dir():
    """This process's directory for service logs (conftest removes it at the end of the session,
    so logs of services a test started by hand do not pile up in /tmp)."""
    global _log_dir
    if _log_dir is None:
        _log_dir = tempfile.mkdtemp(prefix="callbackd-e2e-logs-")
    return _log_dir


def remove_log_dir():
    global _log_dir
    if _log_dir is not None:
        shutil.rmtree(_log_dir, ignore_errors=True)
        _log_dir = None


def free_port():
    """A TCP port free on 127.0.0.1 right now, for a process that binds it next: random, below
    Linux's ephemeral range (32768-60999), where the kernel's own choice (what bind to port 0
    gave before) may go to any outgoing connection of a busy machine before the process binds
    it, and apart from private_port()'s and the SIP test's fixed ports (15060-15099)."""
    return random_free_port(16000, 19999)


def private_port():
    """A port for a private PostgreSQL: random, below Linux's ephemeral range (32768-60999) so
    that neither free_port() nor outgoing connections take it while the cluster is stopped for
    a restart test, and away from other test clusters started at the same time."""
    return random_free_port(20000, 32000)


def random_free_port(lowest, highest):
    """A port in [lowest, highest] free on 127.0.0.1 right now."""
    for _ in range(100):
        port = random.randint(lowest, highest)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {lowest}-{highest}")


def wait_for(pred, timeout=10.0, interval=0.05, msg=None):
    """Polls `pred` until it returns something truthy, which is returned; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {msg or pred}: last={last!r}")
        time.sleep(interval)


def pg_bindir():
    """The newest installed PostgreSQL server's bin directory."""
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin")), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1]


class PgCluster:
    """A private cluster under `dir` (deploy/pg-cluster.sh layout), or an existing one by URL."""

    def __init__(self, dir, url=None, port=None):
        self.dir = Path(dir)
        self.url = url
        self.port = port
        self.psql = str(pg_bindir() / "psql")

    @classmethod
    def create(cls, fast=True):
        """Creates and starts a throwaway cluster in a new temporary directory."""
        parent = Path(tempfile.mkdtemp(prefix="callbackd-pg-", dir="/tmp"))
        os.chmod(parent, 0o711)  # the postgres user must traverse it
        c = cls(parent / "pg")
        c._owned_parent = parent
        c.start(fast=fast, first_port=private_port())
        return c

    def _script(self, *args, env=None):
        r = subprocess.run(["bash", str(PG_CLUSTER), *args], capture_output=True, text=True,
                           env={**os.environ, **(env or {})}, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pg-cluster.sh {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def start(self, fast=True, first_port=None):
        """Starts the cluster: on the same port as before once it has run (a restart), else on
        `first_port` or the next free one."""
        env = {"PG_FAST": "1" if fast else "0"}
        args = ["start", str(self.dir)]
        if self.port:
            env["PG_PORT_STRICT"] = "1"
            args.append(str(self.port))
        elif first_port:
            args.append(str(first_port))
        self.url = self._script(*args, env=env)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self.url

    def stop(self, mode="fast"):
        """Shuts the cluster down: "fast" (connected clients are cut off, then a checkpoint) or
        "immediate" (no checkpoint: the next start runs crash recovery)."""
        self._script("stop", str(self.dir), mode)

    def restart(self, down_s=0.0):
        """Stops the cluster, waits `down_s` seconds, starts it again on the same port."""
        self.stop()
        time.sleep(down_s)
        return self.start()

    def running(self):
        return subprocess.run(["bash", str(PG_CLUSTER), "status", str(self.dir)],
                              capture_output=True).returncode == 0

    def destroy(self):
        """Stops the cluster and removes a directory made by `create`."""
        try:
            self.stop()
        finally:
            parent = getattr(self, "_owned_parent", None)
            if parent:
                subprocess.run(["rm", "-rf", str(parent)], check=False)

    def db_url(self, dbname):
        return self.url.rsplit("/", 1)[0] + "/" + dbname

    def sql(self, query, dbname="postgres"):
        """Runs one SQL text with psql; returns the rows as lists of strings."""
        r = subprocess.run([self.psql, self.db_url(dbname), "-X", "-q", "-A", "-t", "-F", "\t",
                            "-v", "ON_ERROR_STOP=1", "-c", query],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    @contextlib.contextmanager
    def holding(self, url, hold, release):
        """A session of its own on `url` that has run the SQL `hold` (locks, say) and keeps what
        it took until the block ends, then runs `release`: what waits on it meanwhile waits in
        the service, whatever the machine's speed."""
        psql = subprocess.Popen([self.psql, url, "-X", "-q", "-A", "-t"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        psql.stdin.write(hold + "\n\\echo held\n")
        psql.stdin.flush()
        while (line := psql.stdout.readline()).strip() != "held":
            assert line, "psql ended before it held"
        try:
            yield
        finally:
            psql.stdin.write(release + "\n\\q\n")
            psql.stdin.flush()
            psql.wait(timeout=30)

    def create_db(self, prefix="cbtest"):
        """A new empty database; returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.sql(f'CREATE DATABASE "{name}"')
        return name

    def drop_db(self, name):
        try:
            self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except RuntimeError:
            pass


class DbProxy:
    """A TCP proxy in front of PostgreSQL on 127.0.0.1:`target_port` that can be told to hang:
    it then goes on accepting connections but moves no byte either way, like a database that
    accepts connections and never answers (or a SIGSTOPped server: the kernel still completes
    the TCP handshake). `resume()` lets what waited through. Starts hung when `hung`."""

    def __init__(self, target_port, hung=False):
        self.target = ("127.0.0.1", target_port)
        self.flowing = threading.Event()
        if not hung:
            self.flowing.set()
        self.closed = False
        self.socks = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, dbname):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def hang(self, drop=False):
        """Stops moving bytes; with `drop`, also closes the connections open now (a server that
        restarted and now hangs: callbackd must connect again, and that hangs)."""
        self.flowing.clear()
        if drop:
            with self.lock:
                socks, self.socks = self.socks, []
            for sock in socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass

    def resume(self):
        self.flowing.set()

    def _keep(self, sock):
        with self.lock:
            self.socks.append(sock)

    def _wait_flowing(self):
        while not self.flowing.wait(0.05):
            if self.closed:
                return False
        return not self.closed

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._keep(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        if not self._wait_flowing():
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        self._keep(upstream)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while self._wait_flowing():
                if not select.select([src], [], [], 0.05)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if not self._wait_flowing():
                    return
                dst.sendall(data)
        except (OSError, ValueError):  # ValueError: the other direction's pump closed them
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.flowing.set()
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            for sock in self.socks:
                try:
                    sock.close()
                except OSError:
                    pass


class PortTaken(Exception):
    """callbackd could not bind its port: another process took it first."""


class Service:
    """One callbackd process. `env` entries override the defaults; a value None removes it.
    `rlimits` ({resource.RLIMIT_*: (soft, hard)}) are set in the process before it starts."""

    def __init__(self, database_url, env=None, args=("serve",), bin=None, admin=ADMIN,
                 secret=SECRET, pbx=None, port=None, rlimits=None):
        self.bin = bin or os.environ.get("CALLBACKD_BIN") or str(REPO / "build" / "callbackd")
        self.port = port or free_port()
        self.admin = admin
        self.secret = secret
        self.base_env = {
            "CALLBACKD_LISTEN": f"127.0.0.1:{self.port}",
            "CALLBACKD_DATABASE_URL": database_url,
            "CALLBACKD_ADMIN_TOKEN": admin,
            "CALLBACKD_PBX_SECRET": secret,
            "CALLBACKD_LOG_LEVEL": "debug",
        }
        if pbx is not None:
            self.base_env["CALLBACKD_PBX_COMMAND_URL"] = pbx.url
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.rlimits = dict(rlimits or {})  # resource.RLIMIT_* -> (soft, hard) for the process
        self.proc = None
        self.logfile = None
        self.exit_status = None
        self.tls = bool(self.environment().get("CALLBACKD_TLS_CERT"))

    # -- process ---------------------------------------------------------------------------

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBACKD_")}
        env.update(self.base_env)
        for k, v in self.extra_env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def start(self, wait=True, timeout=20.0):
        """Starts the process (its stderr goes to the log); waits for /readyz 200 if `wait`.
        A port that another test's process took between free_port() and the bind is given up
        for another (callbackd logs "cannot listen" and exits), up to three times."""
        for attempt in range(3):
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except PortTaken:
                if attempt == 2 or self.extra_env.get("CALLBACKD_LISTEN"):
                    raise
                self.port = free_port()
                self.base_env["CALLBACKD_LISTEN"] = f"127.0.0.1:{self.port}"
        return self

    def _spawn(self):
        self.logfile = tempfile.NamedTemporaryFile(prefix="callbackd-", suffix=".log",
                                                   dir=log_dir(), delete=False)
        limits = self.rlimits

        def set_limits():
            for which, value in limits.items():
                resource.setrlimit(which, value)

        self.proc = subprocess.Popen([self.bin, *self.args], env=self.environment(),
                                     stdout=self.logfile, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=set_limits if limits else None)
        self.exit_status = None

    def wait_ready(self, timeout=20.0):
        """Waits for /readyz 200 from this process: the port answering is not enough (another
        test's process may hold it), its log must say it listens (at the info level the harness
        runs it with)."""
        says_it = self.environment().get("CALLBACKD_LOG_LEVEL", "info") in ("debug", "info")

        def ready():
            if self.proc.poll() is not None:
                if "cannot listen" in self.log():
                    raise PortTaken(self.port)
                raise AssertionError(f"callbackd exited with {self.proc.returncode}:\n{self.log()}")
            if says_it and "callbackd listening" not in self.log():
                return False
            try:
                return self.call("GET", "/readyz", token=None)[0] == 200
            except OSError:
                return False
        wait_for(ready, timeout, msg="callbackd /readyz 200")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM, then waits; returns the exit status (SIGKILL and an error after `timeout`)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"callbackd ignored SIGTERM for {timeout}s:\n{self.log()}")
        self.exit_status = self.proc.returncode
        return self.exit_status

    def kill(self):
        """SIGKILL (a crash): returns once the process is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.exit_status = self.proc.returncode if self.proc else None

    def log(self):
        """The whole log (stdout and stderr) so far."""
        if self.logfile is None:
            return ""
        return Path(self.logfile.name).read_text(errors="replace")

    def log_records(self):
        """The log lines that are JSON objects, parsed."""
        out = []
        for line in self.log().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def sanitizer_reports(self):
        """Lines of ASan/LSan/UBSan reports in the log (empty for a clean run)."""
        return [line for line in self.log().splitlines() if any(m in line for m in SAN_MARKERS)]

    def cleanup(self):
        if self.running():
            self.kill()
        if self.logfile is not None:
            self.logfile.close()
            try:
                os.unlink(self.logfile.name)
            except OSError:
                pass

    # -- HTTP ------------------------------------------------------------------------------

    def call(self, method, path, body=None, token=ADMIN, headers=None, raw=None, timeout=10.0):
        """One request. `body` is sent as JSON, `raw` (bytes/str) as is; `token` None sends no
        Authorization. Returns (status, doc, headers): doc is the parsed JSON, the text when the
        answer is not JSON, None when empty; headers is case-insensitive (`headers["x-y"]`).
        The answer must match openapi.yaml (status documented for the operation, body valid
        against its schema): else openapi_contract.ContractError."""
        h = {}
        if token is ADMIN:
            token = self.admin
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
            h["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
            status, rh = resp.status, resp.headers
        finally:
            conn.close()
        doc = None
        if payload:
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = payload.decode(errors="replace")
        self.last = (status, doc, rh)
        openapi_contract.check_response(method, path, status, rh.get("Content-Type"), doc,
                                        len(payload))
        return status, doc, rh

    def ok(self, method, path, body=None, status=None, **kw):
        """A request that must succeed (2xx, or exactly `status`); returns the document."""
        st, doc, h = self.call(method, path, body, **kw)
        good = st == status if status is not None else 200 <= st < 300
        assert good, f"{method} {path} -> {st} (wanted {status or '2xx'}): {doc}"
        return doc

    def error(self, method, path, body=None, status=None, code=None, **kw):
        """A request that must fail with `status` and problem `code` (RFC 9457, openapi.yaml)."""
        st, doc, h = self.call(method, path, body, **kw)
        assert st == status, f"{method} {path} -> {st} (wanted {status}): {doc}"
        ctype = h.get("Content-Type", "")
        assert ctype.split(";")[0].strip() == "application/problem+json", \
            f"{method} {path}: Content-Type {ctype!r}"
        assert isinstance(doc, dict), f"{method} {path}: not a JSON object: {doc!r}"
        for field in ("type", "title", "status", "detail", "code"):
            assert field in doc, f"{method} {path}: problem without {field}: {doc}"
        assert doc["status"] == status, doc
        if code is not None:
            assert doc["code"] == code, f"{method} {path}: code {doc['code']!r}, wanted {code!r}: {doc}"
        return doc

    # -- PBX events --------------------------------------------------------------------------

    def post_events(self, events, secret=None, ts=None, headers=None, raw=None):
        """POST /v1/pbx/events signed with `secret` (default: the service's) at time `ts`."""
        body = raw if raw is not None else json.dumps({"events": list(events)}).encode()
        if isinstance(body, str):
            body = body.encode()
        h = sign(secret if secret is not None else self.secret, body, ts)
        h.update(headers or {})
        return self.call("POST", "/v1/pbx/events", token=None, raw=body, headers=h)

    def send(self, *events):
        """Posts events that must all be accepted (202); returns the answer."""
        st, doc, _ = self.post_events(events)
        assert st == 202, f"events refused: {st} {doc}"
        return doc


_event_ids = itertools.count(1)


def schema_before(pg, dbname, version):
    """The schema as `callbackd migrate` left it at `version`: each file up to it applied in its
    own transaction and recorded, as db/migrate.c does."""
    pg.sql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
           " applied_at timestamptz NOT NULL DEFAULT now())", dbname)
    for f in sorted((REPO / "migrations").glob("[0-9][0-9][0-9]_*.sql")):
        v = int(f.name[:3])
        if v > version:
            break
        r = subprocess.run([pg.psql, pg.db_url(dbname), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1",
                            "-f", str(f)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (f.name, r.stderr)
        pg.sql(f"INSERT INTO schema_migrations (version, name) VALUES ({v}, '{f.name}')", dbname)


def event(type, **fields):
    """An event of `type` with a fresh unique id (and the given fields)."""
    ev = {"id": f"ev-{uuid.uuid4().hex[:8]}-{next(_event_ids)}", "type": type}
    ev.update(fields)
    return ev


def sign(secret, body, ts=None):
    """The two signature headers of openapi.yaml for `body` (bytes) at Unix time `ts` (default: now)."""
    if isinstance(body, str):
        body = body.encode()
    ts = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Callbackd-Timestamp": ts, "X-Callbackd-Signature": f"v1={mac}"}


def post_events(svc, events, **kw):
    """Module-level form of Service.post_events."""
    return svc.post_events(events, **kw)


def send(svc, *events):
    """Module-level form of Service.send: the events must be accepted (202)."""
    return svc.send(*events)


def verify(secret, headers, body, max_skew=300):
    """True when `headers` carry a valid, fresh signature of `body`."""
    ts = headers.get("X-Callbackd-Timestamp")
    sig = headers.get("X-Callbackd-Signature")
    if not ts or not sig or not ts.isdigit() or abs(time.time() - int(ts)) > max_skew:
        return False
    want = sign(secret, body, int(ts))["X-Callbackd-Signature"]
    return hmac.compare_digest(want, sig)


class _QuietServer(ThreadingHTTPServer):
    """A client that goes away mid-request (callbackd killed, or the PBX taken down) is no
    error worth a traceback."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakePBX:
    """The PBX's command endpoint. `mode` is "ok" (200), "fail" (500), "hang" (no answer
    until `release()` or `hang_s` seconds) or "down" (the listening socket and every open
    connection closed: connections are refused until another mode is set, which listens again on
    the same port; pass `port=private_port()` so that no outgoing connection takes it meanwhile).
    Every request is recorded in `requests` (with whether its signature was valid, and `acked`
    once a 200 was written); valid ones that were acknowledged also in `commands`.
    The body of each validly signed request is checked against the `pbxCommand` webhook of
    openapi.yaml; a mismatch is recorded (openapi_contract.VIOLATIONS, `contract_errors`) and
    fails the test that is running, while the PBX answers as its mode says."""

    def __init__(self, secret=SECRET, hang_s=30.0, port=0):
        self.secret = secret
        self.mode = "ok"
        self.hang_s = hang_s
        self.requests = []
        self.commands = []
        self.contract_errors = []
        self.lock = threading.Lock()
        self._released = threading.Event()
        self._conns = set()  # open connections, closed when the PBX goes down
        pbx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with pbx.lock:
                    pbx._conns.add(self.connection)

            def finish(self):
                with pbx.lock:
                    pbx._conns.discard(self.connection)
                super().finish()

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                pbx._handle(self, body)

        self._handler = Handler
        self._listen(port)

    def _listen(self, port):
        self.server = _QuietServer(("127.0.0.1", port), self._handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/commands"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _close_listener_and_connections(self):
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handle(self, h, body):
        good = verify(self.secret, h.headers, body)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        mode = self.mode
        rec = {"path": h.path, "headers": dict(h.headers), "body": body, "doc": doc,
               "signed": good, "mode": mode, "at": time.time()}
        with self.lock:
            self.requests.append(rec)
        if not good:
            return self._answer(h, 401, b'{"error":"bad signature"}')
        try:
            openapi_contract.check_command(doc)
        except openapi_contract.ContractError as e:
            with self.lock:
                self.contract_errors.append(str(e))
        if mode == "down":  # a request read as the PBX went down: no answer
            return None
        if mode == "hang":
            self._released.wait(self.hang_s)
            return self._answer(h, 503, b"{}")
        if mode == "fail":
            return self._answer(h, 500, b'{"error":"told to fail"}')
        with self.lock:
            self.commands.append(doc)
        if self._answer(h, 200, b"{}"):
            rec["acked"] = True

    @staticmethod
    def _answer(h, status, payload):
        """Writes the answer; False when the client was gone."""
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
            return True
        except OSError:
            return False  # the client gave up (hang mode)

    def set_mode(self, mode):
        assert mode in ("ok", "fail", "hang", "down")
        if mode == "hang":
            self._released.clear()
        else:
            self._released.set()
        before, self.mode = self.mode, mode  # first: a request read meanwhile sees the new mode
        if mode == "down" and before != "down":
            self._close_listener_and_connections()
        elif before == "down" and mode != "down":
            self._listen(self.port)

    def release(self):
        self._released.set()

    def received(self, type=None, **match):
        """The acknowledged commands, optionally of one `type` and with fields equal to `match`."""
        with self.lock:
            cmds = list(self.commands)
        return [c for c in cmds if isinstance(c, dict)
                and (type is None or c.get("type") == type)
                and all(c.get(k) == v for k, v in match.items())]

    def wait_command(self, type, timeout=10.0, **match):
        """Waits for an acknowledged command of `type` matching `match`; returns the first."""
        return wait_for(lambda: self.received(type, **match), timeout,
                        msg=f"command {type} {match}")[0]

    def bad_signatures(self):
        with self.lock:
            return [r for r in self.requests if not r["signed"]]

    def close(self):
        self._released.set()
        if self.mode != "down":
            self.server.shutdown()
            self.server.server_close()


def run_binary(args, env, bin=None, timeout=30.0):
    """Runs callbackd to completion with exactly `env` (plus PATH); returns CompletedProcess."""
    bin = bin or os.environ.get("CALLBACKD_BIN") or str(REPO / "build" / "callbackd")
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            full[k] = os.environ[k]
    full.update(env)
    return subprocess.run([bin, *args], env=full, capture_output=True, text=True, timeout=timeout)


class labelled:
    """`with labelled(case):` prefixes an assertion failure inside with `case`, for tests that
    check many cases against one running service (one start instead of one per case)."""

    def __init__(self, case):
        self.case = case

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is AssertionError:
            raise AssertionError(f"[case {self.case!r}] {exc}") from None
        return False
