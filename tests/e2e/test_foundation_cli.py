"""Running the binary (README, "Configuration"): configuration errors, --help/--version, `migrate`,
start-up of two processes at once, flags overriding variables, TLS, SIGTERM."""

import http.client
import re
import socket
import threading
import subprocess
import time

import pytest

from harness import ADMIN, REPO, SECRET, Service, free_port, run_binary

REQUIRED = ("CALLBACKD_DATABASE_URL", "CALLBACKD_ADMIN_TOKEN", "CALLBACKD_PBX_SECRET")


# Configuration is checked before anything connects: a database that is not there will do.
NOWHERE = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"


def base_env(db_url=NOWHERE):
    return {
        "CALLBACKD_LISTEN": f"127.0.0.1:{free_port()}",
        "CALLBACKD_DATABASE_URL": db_url,
        "CALLBACKD_ADMIN_TOKEN": ADMIN,
        "CALLBACKD_PBX_SECRET": SECRET,
    }


def assert_config_error(r, var):
    assert r.returncode == 2, f"exit {r.returncode}, wanted 2; stderr: {r.stderr}"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"wanted one line on stderr, got: {r.stderr!r}"
    assert var in lines[0], f"{var} not named in {lines[0]!r}"


@pytest.mark.parametrize("var", REQUIRED)
def test_missing_required_variable_exits_2_naming_it(var):
    env = base_env()
    del env[var]
    assert_config_error(run_binary(["serve"], env), var)


@pytest.mark.parametrize("var", REQUIRED)
def test_empty_required_variable_exits_2_naming_it(var):
    env = base_env()
    env[var] = ""
    assert_config_error(run_binary([], env), var)


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                                    "127.0.0.1:0x50", "127.0.0.1:-1"])
def test_bad_listen_exits_2(listen):
    env = base_env()
    env["CALLBACKD_LISTEN"] = listen
    assert_config_error(run_binary(["serve"], env), "CALLBACKD_LISTEN")


@pytest.mark.parametrize("level", ["verbose", "INFOO", "0"])
def test_bad_log_level_exits_2(level):
    env = base_env()
    env["CALLBACKD_LOG_LEVEL"] = level
    assert_config_error(run_binary(["serve"], env), "CALLBACKD_LOG_LEVEL")


def test_flag_overrides_variable_and_is_checked_too():
    env = base_env()
    r = run_binary(["serve", "--callbackd_log_level=loud"], env)
    assert_config_error(r, "CALLBACKD_LOG_LEVEL")


def test_tls_needs_both_cert_and_key(tmp_path):
    env = base_env()
    env["CALLBACKD_TLS_CERT"] = str(tmp_path / "cert.pem")
    r = run_binary(["serve"], env)
    assert r.returncode == 2, r.stderr
    assert "CALLBACKD_TLS_KEY" in r.stderr


@pytest.mark.parametrize("var,value", [
    ("CALLBACKD_INBOX_RETENTION_S", "599"), ("CALLBACKD_INBOX_RETENTION_S", "1"),
    ("CALLBACKD_DB_CONNECT_TIMEOUT_S", "1"), ("CALLBACKD_DB_CONNECT_TIMEOUT_S", "61"),
    ("CALLBACKD_DB_STATEMENT_TIMEOUT_MS", "99"), ("CALLBACKD_DB_STATEMENT_TIMEOUT_MS", "2s"),
    ("CALLBACKD_DB_POOL_WAIT_MS", "-1"), ("CALLBACKD_DB_POOL_WAIT_MS", "60001")])
def test_database_limits_out_of_range_exit_2(var, value):
    env = base_env()
    env[var] = value
    assert_config_error(run_binary(["serve"], env), var)


def test_inbox_retention_shorter_than_twice_the_signature_window_is_refused():
    """A webhook is accepted while its timestamp is within 300 s of the server's clock: up to
    600 s after it first arrived. Its id must be remembered that long, or a captured copy
    replayed after the purge would be applied again."""
    env = base_env()
    env["CALLBACKD_INBOX_RETENTION_S"] = "300"
    r = run_binary(["serve"], env)
    assert_config_error(r, "CALLBACKD_INBOX_RETENTION_S")
    assert "600" in r.stderr and "signature" in r.stderr, r.stderr
    # 600 is accepted: `migrate` then gets as far as the (absent) database, exit 1.
    env["CALLBACKD_INBOX_RETENTION_S"] = "600"
    r = run_binary(["migrate"], env)
    assert r.returncode == 1, (r.returncode, r.stderr)


def test_help_and_version_exit_0_without_configuration():
    r = run_binary(["--help"], {})
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "usage" in out.lower() and "migrate" in out and "CALLBACKD_DATABASE_URL" in out

    version = re.search(r"project\(callbackd VERSION ([0-9.]+)",
                        (REPO / "CMakeLists.txt").read_text()).group(1)
    r = run_binary(["--version"], {})
    assert r.returncode == 0, r.stderr
    assert version in r.stdout + r.stderr


def schema_rows(pg, dbname):
    return pg.sql("SELECT version, name, applied_at FROM schema_migrations ORDER BY version", dbname)


def migration_files():
    return sorted(p for p in (REPO / "migrations").glob("*.sql"))


def test_migrate_applies_each_file_once_and_is_idempotent(pg, db_url, start_service):
    dbname = db_url.rsplit("/", 1)[1]
    env = base_env(db_url)
    r = run_binary(["migrate"], env)
    assert r.returncode == 0, r.stderr
    rows = schema_rows(pg, dbname)
    want = [int(p.name.split("_", 1)[0]) for p in migration_files()]
    assert [int(v) for v, _, _ in rows] == want
    # The schema is really there.
    assert pg.sql("SELECT count(*) FROM information_schema.tables "
                  "WHERE table_name = 'stations'", dbname) == [["1"]]

    r = run_binary(["migrate"], env)
    assert r.returncode == 0, r.stderr
    assert schema_rows(pg, dbname) == rows, "a second migrate must apply nothing"

    # serve on the migrated database is ready, and applies nothing more.
    svc = start_service()
    assert svc.call("GET", "/readyz", token=None)[0] == 200
    assert schema_rows(pg, dbname) == rows


def test_migrate_on_unreachable_database_fails():
    env = base_env(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2")
    r = run_binary(["migrate"], env)
    assert r.returncode != 0


def test_two_processes_starting_at_once_on_empty_database_both_come_up(pg, db_url, start_service):
    a = start_service(wait=False)
    b = start_service(wait=False)
    a.wait_ready()
    b.wait_ready()
    dbname = db_url.rsplit("/", 1)[1]
    assert len(schema_rows(pg, dbname)) == len(migration_files())
    # Both serve the same data.
    a.ok("PUT", "/v1/classes-of-service/shared", {"callbacks_allowed": True})
    assert b.ok("GET", "/v1/classes-of-service/shared")["callbacks_allowed"] is True


def test_sigterm_exits_0_and_stops_listening(start_service):
    svc = start_service()
    assert svc.call("GET", "/healthz", token=None)[0] == 200
    assert svc.stop() == 0
    with pytest.raises(OSError):
        svc.call("GET", "/healthz", token=None, timeout=2)


def test_sigterm_during_requests_exits_0(start_service):
    """Requests keep arriving while SIGTERM lands: the process still exits 0 promptly."""
    svc = start_service()
    svc.ok("PUT", "/v1/classes-of-service/busy", {"callbacks_allowed": True})
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                svc.call("GET", "/v1/classes-of-service/busy", timeout=2)
            except OSError:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    status = svc.stop()
    stop.set()
    for t in threads:
        t.join()
    assert status == 0
    assert time.monotonic() - t0 < 10


def test_flag_overrides_environment(db_url, start_service):
    port = free_port()
    svc = start_service(env={"CALLBACKD_LISTEN": "not-an-address"}, port=port, wait=False,
                        args=("serve", f"--callbackd_listen=127.0.0.1:{port}"))
    svc.wait_ready()
    assert svc.call("GET", "/healthz", token=None)[0] == 200


def test_a_port_in_use_ends_the_start_with_its_reason(db_url, start_service):
    """Another process has the port: callbackd says so and exits 1, having stopped and freed
    what it had started (the sanitizer build reports any leak at exit)."""
    port = free_port()
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        svc = start_service(port=port, wait=False)
        assert svc.proc.wait(timeout=20) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in svc.log()
    assert '"msg":"stopped"' not in svc.log()


def test_https_when_cert_and_key_are_set(db_url, start_service, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    svc = start_service(env={"CALLBACKD_TLS_CERT": str(cert), "CALLBACKD_TLS_KEY": str(key)})
    assert svc.tls
    assert svc.call("GET", "/healthz", token=None)[0] == 200
    svc.ok("PUT", "/v1/classes-of-service/tls", {"callbacks_allowed": False})
    # Plain HTTP on the same port gets no HTTP answer.
    plain = Service(db_url, port=svc.port)
    try:
        status = plain.call("GET", "/healthz", token=None, timeout=3)[0]
    except (OSError, http.client.HTTPException):
        status = None
    assert status is None or status >= 400


def write_credentials(directory, files):
    """A credentials directory as systemd's LoadCredential= makes it: one file per secret."""
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_text(content)
        (directory / name).chmod(0o400)
    return str(directory)


def test_secrets_and_tls_come_from_the_credentials_directory(db_url, start_service, tmp_path):
    """LoadCredential= (README "Deploying"): no secret in the environment; the database URL,
    both tokens and the TLS files are files of $CREDENTIALS_DIRECTORY."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    creds = write_credentials(tmp_path / "credentials", {
        "database_url": db_url + "\n", "admin_token": ADMIN + "\n", "pbx_secret": SECRET,
        "tls_cert": cert.read_text(), "tls_key": key.read_text()})
    svc = start_service(env={"CREDENTIALS_DIRECTORY": creds, "CALLBACKD_DATABASE_URL": None,
                             "CALLBACKD_ADMIN_TOKEN": None, "CALLBACKD_PBX_SECRET": None},
                        wait=False)
    svc.tls = True
    svc.wait_ready()
    assert svc.call("GET", "/readyz", token=None)[0] == 200
    svc.ok("PUT", "/v1/classes-of-service/from-credentials", {"callbacks_allowed": True})
    assert svc.call("GET", "/v1/classes-of-service", token="not-the-admin-token-at-all")[0] == 401


@pytest.mark.parametrize("name,content", [("admin_token", "\n"), ("database_url", "")])
def test_an_empty_credential_exits_2_naming_it(tmp_path, name, content):
    env = base_env()
    del env["CALLBACKD_" + name.upper()]
    env["CREDENTIALS_DIRECTORY"] = write_credentials(tmp_path / "credentials", {name: content})
    assert_config_error(run_binary(["serve"], env), name)
