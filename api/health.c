/* Health, readiness and metrics. /healthz and /metrics answer from memory on the HTTP thread
 * (api_answers_from_memory): whatever the database does, they answer at once (issue 11). */
#include "api/handlers.h"
#include "api/router.h"
#include "api/stream_feed.h"
#include "db/migrate.h"
#include "db/outage.h"
#include "service/gauges.h"
#include "service/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool api_answers_from_memory(const struct api_route *route)
{
    return route->handler == api_healthz || route->handler == api_metrics;
}

void api_healthz(struct api_request *r)
{
    api_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void api_readyz(struct api_request *r)
{
    enum db_status why;
    struct db_conn *c = db_pool_acquire(r->app->pool, &why);
    if (!c) {
        api_reply_problem(r, API_SERVICE_UNAVAILABLE, "the database is unreachable");
        return;
    }
    int version = db_schema_version(c);
    db_pool_release(r->app->pool, c);
    if (version < 0)
        api_reply_problem(r, API_SERVICE_UNAVAILABLE, "the database does not answer");
    else if (version < db_schema_expected())
        api_reply_problem(r, API_SERVICE_UNAVAILABLE, "migrations are pending (schema %d, need %d)",
                          version, db_schema_expected());
    else
        api_reply_json(r, 200, json_pack("{s:s, s:i}", "status", "ready", "schema", version));
}

/* Renders the HTTP part of /metrics; the PBX loop and the database counts add their own
 * (service/metrics_render.c). */

void api_metrics(struct api_request *r)
{
    struct cb_metrics *m = r->app->metrics;
    struct cb_text t = {0};
    cb_text_printf(&t, "# HELP callbackd_http_requests_total HTTP answers by route and status.\n"
                       "# TYPE callbackd_http_requests_total counter\n");
    for (int i = 0; i <= m->n_routes; i++)
        for (int s = 0; s < 500; s++) {
            unsigned long long n = atomic_load(&m->http_requests[i][s]);
            if (n)
                cb_text_printf(&t,
                               "callbackd_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                               i ? api_routes[i - 1].name : "none", s + 100, n);
        }
    cb_text_printf(&t, "# HELP callbackd_http_request_duration_seconds HTTP latency by route.\n"
                       "# TYPE callbackd_http_request_duration_seconds histogram\n");
    for (int i = 0; i <= m->n_routes; i++) {
        if (!atomic_load(&m->http_latency[i].count))
            continue;
        char labels[160];
        snprintf(labels, sizeof labels, "route=\"%s\"", i ? api_routes[i - 1].name : "none");
        cb_histogram_render(&t, "callbackd_http_request_duration_seconds", labels,
                            &m->http_latency[i]);
    }
    cb_text_printf(&t,
                   "# HELP callbackd_db_pool_connections Database connections of the API pool.\n"
                   "# TYPE callbackd_db_pool_connections gauge\n"
                   "callbackd_db_pool_connections{state=\"in_use\"} %d\n"
                   "callbackd_db_pool_connections{state=\"size\"} %d\n",
                   db_pool_in_use(r->app->pool), db_pool_size(r->app->pool));
    cb_text_printf(&t,
                   "# HELP callbackd_http_connections Open client connections.\n"
                   "# TYPE callbackd_http_connections gauge\n"
                   "callbackd_http_connections %lld\n"
                   "# HELP callbackd_http_connections_closed_total Client connections closed by "
                   "a limit: the request did not arrive within CALLBACKD_REQUEST_TIMEOUT_S, or "
                   "its body went far over the limit.\n"
                   "# TYPE callbackd_http_connections_closed_total counter\n"
                   "callbackd_http_connections_closed_total{reason=\"request_timeout\"} %llu\n"
                   "callbackd_http_connections_closed_total{reason=\"body_too_large\"} %llu\n",
                   (long long)atomic_load(&m->http_connections),
                   atomic_load(&m->http_request_timeouts), atomic_load(&m->http_bodies_cut));
    cb_text_printf(&t,
                   "# HELP callbackd_db_reachable 0 while this process finds the database away.\n"
                   "# TYPE callbackd_db_reachable gauge\n"
                   "callbackd_db_reachable %d\n",
                   db_outage_ongoing() ? 0 : 1);
    api_stream_feed_render_metrics(r->app->streams, &t);
    /* The PBX loop's counters are read before the database count begins: an event counted as
     * applied here has its commands in the count shown (when that count is this scrape's). */
    cb_metrics_render_pbx(&t, r->app);
    cb_gauges_refresh(r->app->gauges); /* asked for, waited on briefly */
    cb_metrics_render_counts(&t, r->app);
    if (!t.s) {
        api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        return;
    }
    api_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", t.s, t.len);
}
