"""The admin console (/admin/) and the phone app (/phone/) in a real headless Chromium (issue
13): pages.mjs clicks them as a user would against the real binary, its PostgreSQL and a fake
PBX started here, and saves a screenshot of each page. Also the static files' headers, types,
caching and 404 outside them, with plain HTTP."""
import http.client
import os
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import free_port

HERE = Path(__file__).resolve().parent
SHOTS = Path(os.environ.get("CALLBACKD_BROWSER_SHOTS") or tempfile.mkdtemp(prefix="callbackd-shots-"))


def node_modules():
    """puppeteer-core as package-lock.json pins it (npm ci), installed once per lock file."""
    stamp = HERE / "node_modules" / ".installed-lock"
    lock = (HERE / "package-lock.json").read_text()
    if not stamp.exists() or stamp.read_text() != lock:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                       check=True, env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}, timeout=300)
        stamp.write_text(lock)


@pytest.fixture
def other_origin():
    """A page on another origin (an empty HTML page), for the CORS check."""
    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>another origin</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def get(svc, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def test_pages_are_served_with_their_types_caching_and_a_strict_csp(start_service):
    svc = start_service()
    for path, ctype in [("/admin/", "text/html"), ("/admin/admin.js", "text/javascript"),
                        ("/admin/admin.css", "text/css"), ("/phone/", "text/html"),
                        ("/phone/phone.js", "text/javascript"), ("/common/api.js", "text/javascript")]:
        status, h, body = get(svc, path)
        assert status == 200 and h["content-type"].startswith(ctype), (path, status, h)
        assert h["cache-control"] == "no-cache" and h["etag"].startswith('"'), path
        assert h["x-content-type-options"] == "nosniff", path
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
        assert "unsafe-inline" not in csp, csp
        status, h2, body2 = get(svc, path, {"If-None-Match": h["etag"]})
        assert status == 304 and body2 == b"", path
        if ctype == "text/html":
            assert b"<script>" not in body and b" style=" not in body, f"inline script or style in {path}"
    status, h, _ = get(svc, "/admin")
    assert status == 301 and h["location"] == "/admin/"
    for outside in ["/admin/nope.js", "/admin/../README.md", "/phone/index.html/", "/web/admin/index.html",
                    "/common/", "/admin/%2e%2e/openapi.yaml"]:
        status, h, _ = get(svc, outside)
        assert status == 404 and h["content-type"] == "application/problem+json", outside


def test_admin_console_and_phone_app_in_chromium(start_service, pbx, other_origin):
    node_modules()
    other = f"http://127.0.0.1:{other_origin}"
    svc = start_service(pbx=pbx, env={"CALLBACKD_CORS_ORIGINS": other})
    env = {**os.environ, "BASE": f"http://127.0.0.1:{svc.port}", "ADMIN": svc.admin,
           "SECRET": svc.secret, "OTHER": f"{other}/", "STRANGER": f"http://localhost:{other_origin}/",
           "SHOTS": str(SHOTS)}
    node = subprocess.Popen(["node", str(HERE / "pages.mjs")], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(240, node.kill)
    timer.start()
    out = []
    for line in node.stdout:
        out.append(line)
        if line.strip() == "ASK restart":  # the stream drops: callbackd restarts on its port
            assert svc.stop() == 0, "callbackd did not stop cleanly"
            svc = start_service(pbx=pbx, env={"CALLBACKD_CORS_ORIGINS": other}, port=svc.port)
        elif line.strip() == "ASK pbx fail":
            pbx.mode = "fail"
        elif line.strip() == "ASK pbx ok":
            pbx.mode = "ok"
        elif line.startswith("ASK "):
            raise AssertionError(f"pages.mjs asked for what this test does not know: {line}")
        if line.startswith("ASK "):
            node.stdin.write("done\n")
            node.stdin.flush()
    err = node.stderr.read()
    node.wait()
    timer.cancel()
    print("".join(out))
    print(err)
    assert node.returncode == 0, err[-3000:]
    for name in ["admin-callbacks.png", "admin-stations.png", "admin-commands.png",
                 "admin-tokens.png", "phone.png", "phone-forbidden.png"]:
        assert (SHOTS / name).stat().st_size > 5000, name
