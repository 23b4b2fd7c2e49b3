"""PostgreSQL going away and coming back while callbackd runs: 503 service_unavailable during
the outage (quickly, not a hang), /readyz 503 then 200, recovery without a restart of callbackd,
and one warning for the outage with one summary line when it ends, not a line per request.
Uses a cluster of its own (private_pg): other test files may share the session cluster."""

import threading
import time

from harness import wait_for


def test_database_outage_gives_503_then_recovers(private_pg, start_service):
    url = private_pg.db_url(private_pg.create_db())
    svc = start_service(url)
    svc.ok("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True})
    assert svc.call("GET", "/readyz", token=None)[0] == 200

    private_pg.stop()
    assert not private_pg.running()

    t0 = time.monotonic()
    svc.error("GET", "/v1/classes-of-service/gold", status=503, code="service_unavailable")
    assert time.monotonic() - t0 < 8, "a request during the outage must not hang"
    svc.error("PUT", "/v1/classes-of-service/silver", {"callbacks_allowed": True},
              status=503, code="service_unavailable")
    # Several in a row: every one answers 503 (no pool exhaustion, no crash).
    for _ in range(5):
        svc.error("GET", "/v1/stations", status=503, code="service_unavailable")
    st, _, _ = svc.call("GET", "/readyz", token=None)
    assert st == 503
    assert svc.call("GET", "/healthz", token=None)[0] == 200
    assert svc.running()
    # A burst: each refused at once, and none of them writes a line of its own but the
    # request's (at info: the outage has its warning).
    lines_before = len(svc.log_records())
    t0 = time.monotonic()
    for _ in range(200):
        svc.error("GET", "/v1/stations", status=503, code="service_unavailable")
    burst = time.monotonic() - t0
    print(f"database down: 200 requests refused in {burst:.2f} s")
    assert burst < 10, burst
    new = svc.log_records()[lines_before:]
    assert [r for r in new if r.get("msg") != "request"] == [], \
        [r for r in new if r.get("msg") != "request"][:5]
    assert all(r["level"] == "info" for r in new), {r["level"] for r in new}

    private_pg.start()
    t1 = time.monotonic()
    wait_for(lambda: svc.call("GET", "/readyz", token=None)[0] == 200, 15, msg="/readyz 200 again")
    wait_for(lambda: svc.call("GET", "/v1/classes-of-service/gold")[0] == 200, 15,
             msg="API answers again")
    assert time.monotonic() - t1 < 15
    assert svc.ok("GET", "/v1/classes-of-service/gold")["callbacks_allowed"] is True
    # The refused PUT was not applied later behind our back.
    svc.error("GET", "/v1/classes-of-service/silver", status=404, code="not_found")
    # Writes work again, on every pooled connection.
    for i in range(10):
        svc.ok("PUT", f"/v1/classes-of-service/c{i}", {"callbacks_allowed": bool(i % 2)})
    assert len(svc.ok("GET", "/v1/classes-of-service")["items"]) == 11
    # The outage in the log: one warning when it began, one summary when it ended.
    recs = svc.log_records()
    down = [r for r in recs if r.get("msg") == "database unreachable"]
    back = [r for r in recs if r.get("msg") == "database reachable again"]
    assert len(down) == 1 and down[0]["level"] == "warn" and down[0]["error"], down
    assert len(back) == 1 and back[0]["level"] == "info", back
    assert back[0]["requests_refused"] >= 200 and back[0]["down_s"] > 0, back
    warnings = [r for r in recs if r["level"] in ("warn", "error")]
    assert len(warnings) <= 3, warnings  # the outage, and leadership lost by the worker
    print(f"outage log: {down[0]} / {back[0]}")


def test_second_outage_recovers_too(private_pg, start_service):
    url = private_pg.db_url(private_pg.create_db())
    svc = start_service(url)
    for _ in range(2):
        private_pg.stop()
        svc.error("GET", "/v1/stations", status=503, code="service_unavailable")
        private_pg.start()
        wait_for(lambda: svc.call("GET", "/v1/stations")[0] == 200, 15, msg="recovery")
    # A quick bounce (stop and start at once): the pooled connections are all dead, yet the
    # next requests succeed after at most a short burst of 503s.
    private_pg.restart()
    wait_for(lambda: svc.call("GET", "/v1/stations")[0] == 200, 15, msg="recovery after a bounce")
    svc.ok("PUT", "/v1/classes-of-service/after", {"callbacks_allowed": True})


def test_pool_idle_through_a_restart_serves_at_once(private_pg, start_service):
    """Pooled connections the database closed while nobody used them (a restart during a quiet
    spell) are reopened before use: once the service answers again, every request succeeds,
    instead of one 503 per pooled connection, which with few requests stretched over many
    seconds. (The background sessions, reconnecting while the database recovers, may have seen
    the outage: then the API probes it once a second, and the first answer may take that long.)"""
    url = private_pg.db_url(private_pg.create_db())
    svc = start_service(url)
    svc.ok("PUT", "/v1/classes-of-service/gold", {"callbacks_allowed": True})

    def busy():
        for _ in range(15):
            svc.ok("GET", "/v1/classes-of-service/gold")

    for mode in ("fast", "immediate"):
        # Several connections open in the pool: concurrent requests.
        threads = [threading.Thread(target=busy) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        private_pg.stop(mode)
        private_pg.start()
        wait_for(lambda: svc.call("GET", "/v1/classes-of-service/gold")[0] == 200, 3,
                 msg="the first answer after the restart")
        statuses = [svc.call("GET", "/v1/classes-of-service/gold")[0] for _ in range(20)]
        assert statuses == [200] * 20, (mode, statuses)
        svc.ok("PUT", f"/v1/classes-of-service/after-{mode}", {"callbacks_allowed": True})
