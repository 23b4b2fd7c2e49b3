"""Issue 11: HTTPS (CALLBACKD_TLS_CERT, CALLBACKD_TLS_KEY) speaks TLS 1.2 and 1.3 only, and in
TLS 1.2 only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305). Old clients
are refused at the handshake: `openssl s_client -tls1_1` and Python's ssl with TLS 1.0/1.1 or
legacy suites, the client's own security level lowered so that it really offers them. The
certificate is self-signed, made for each test with `openssl req`."""

import socket
import ssl
import subprocess
import time
import warnings

import pytest

from net_helpers import closed_by_peer, connect


@pytest.fixture
def tls_files(tmp_path):
    def make(kind):
        key, cert = tmp_path / f"{kind}-key.pem", tmp_path / f"{kind}-cert.pem"
        newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else \
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        return {"CALLBACKD_TLS_CERT": str(cert), "CALLBACKD_TLS_KEY": str(key)}
    return make


@pytest.fixture
def tls_svc(start_service, tls_files):
    return start_service(env={**tls_files("rsa"), "CALLBACKD_REQUEST_TIMEOUT_S": "2"})


def client(min_version, max_version, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.0 and 1.1 are deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = min_version
        ctx.maximum_version = max_version
    # OpenSSL 3's default security level would not even offer the old protocols and suites.
    ctx.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    return ctx


def handshake(port, ctx):
    """(version, cipher) of a completed handshake, after a GET /healthz answered 200."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
            return s.version(), s.cipher()[0]


def refused(port, ctx):
    try:
        handshake(port, ctx)
    except (ssl.SSLError, ConnectionError):
        return True
    return False


def test_tls_1_2_and_1_3_with_modern_suites_are_served(tls_svc):
    v = ssl.TLSVersion
    assert handshake(tls_svc.port, client(v.TLSv1_3, v.TLSv1_3))[0] == "TLSv1.3"
    for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                  "ECDHE-RSA-CHACHA20-POLY1305"):
        assert handshake(tls_svc.port, client(v.TLSv1_2, v.TLSv1_2, suite)) == ("TLSv1.2", suite)
    # The API itself, over HTTPS (the harness checks the answer against openapi.yaml).
    assert tls_svc.ok("GET", "/v1/system-options")["callback_cancel_timer_s"] == 3600


def test_tls_1_0_and_1_1_clients_are_refused(tls_svc):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]
    for version in old:
        assert refused(tls_svc.port, client(version, version)), version
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_svc.port}",
                        "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "Cipher is (NONE)" in r.stdout, r.stdout + r.stderr
    assert tls_svc.call("GET", "/healthz", token=None)[0] == 200


def test_legacy_tls_1_2_suites_are_refused(tls_svc):
    """No RSA key exchange (no forward secrecy), no CBC, no finite-field DHE."""
    v = ssl.TLSVersion
    for suite in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                  "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256"):
        assert refused(tls_svc.port, client(v.TLSv1_2, v.TLSv1_2, suite)), suite


def test_an_ecdsa_certificate_is_served_too(start_service, tls_files):
    svc = start_service(env=tls_files("ec"))
    v = ssl.TLSVersion
    assert handshake(svc.port, client(v.TLSv1_2, v.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256")) == \
        ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert handshake(svc.port, client(v.TLSv1_3, v.TLSv1_3))[0] == "TLSv1.3"


def test_a_stalled_tls_handshake_is_cut_at_the_request_deadline(tls_svc):
    s = connect(tls_svc.port)
    opened = time.monotonic()
    try:
        assert closed_by_peer(s, wait=8.0)
    finally:
        s.close()
    took = time.monotonic() - opened
    assert 1.5 <= took <= 4.5, f"closed after {took:.2f}s (deadline 2 s)"
