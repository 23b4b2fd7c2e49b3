"""pytest fixtures for the end-to-end tests (see harness.py).

The PostgreSQL cluster: tests/run.sh starts one and exports CALLBACKD_TEST_PG_URL (its
`postgres` database, as superuser), CALLBACKD_TEST_PG_DIR and CALLBACKD_TEST_PG_PORT. Without
them (plain `pytest` in tests/e2e) a private cluster is started for the session and removed
after it. Each test gets its own fresh database on that cluster.

Fixtures:
- pg: the session's PgCluster.
- db_url: the URL of a fresh empty database for this test.
- start_service(db_url=None, **kw): starts a Service (kw as for Service, e.g. env=, pbx=, wait=)
  and stops it at the end of the test, failing the test if it did not exit 0 on SIGTERM or if
  a sanitizer reported anything.
- svc: a running Service on db_url (no PBX command URL).
- pbx: a FakePBX; svc_pbx: a running Service that sends its commands to `pbx`.
- private_pg: a cluster of this test's own, for tests that stop/restart PostgreSQL (ctest may run
  several test files at once against the shared cluster, which must not go away under them).
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import openapi_contract  # noqa: E402
from harness import FakePBX, PgCluster, Service, remove_log_dir  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _openapi_contract(request):
    """Fails a test during which an answer or a PBX command did not match openapi.yaml, also
    when the mismatch was raised in another thread (harness.py checks each one)."""
    openapi_contract.take_violations()
    yield
    found = openapi_contract.take_violations()
    rep = getattr(request.node, "rep_call", None)
    if found and not (rep is not None and rep.failed):
        pytest.fail("\n".join(dict.fromkeys(found)), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _service_logs():
    yield
    remove_log_dir()


@pytest.fixture(scope="session")
def pg():
    url = os.environ.get("CALLBACKD_TEST_PG_URL")
    if url:
        port = os.environ.get("CALLBACKD_TEST_PG_PORT")
        yield PgCluster(os.environ.get("CALLBACKD_TEST_PG_DIR", ""), url=url,
                        port=int(port) if port else None)
        return
    cluster = PgCluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def db_url(pg):
    name = pg.create_db()
    yield pg.db_url(name)
    pg.drop_db(name)


@pytest.fixture
def start_service(request, db_url):
    started = []

    def start(url=None, wait=True, **kw):
        s = Service(url or db_url, **kw)
        started.append(s)
        return s.start(wait=wait)

    yield start

    problems = []
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for s in started:
        if s.proc is None:
            continue
        if s.running():
            status = s.stop()
            if status != 0:
                problems.append(f"callbackd on :{s.port} exited {status} on SIGTERM")
        reports = s.sanitizer_reports()
        if reports:
            problems.append(f"sanitizer reports from callbackd on :{s.port}: {reports[:5]}")
        if failed or problems:
            tail = "\n".join(s.log().splitlines()[-60:])
            print(f"---- callbackd :{s.port} log (tail) ----\n{tail}")
        s.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def svc(start_service):
    return start_service()


@pytest.fixture
def pbx():
    p = FakePBX()
    yield p
    p.close()


@pytest.fixture
def svc_pbx(start_service, pbx):
    return start_service(pbx=pbx)


@pytest.fixture
def private_pg():
    cluster = PgCluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()
