/* Counters and histograms for GET /metrics, as atomics shared by every thread. */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#define CB_HIST_BUCKETS 12

/* A latency histogram in seconds, Prometheus style (cumulative at render time). */
struct cb_histogram {
    atomic_ullong buckets[CB_HIST_BUCKETS + 1]; /* the last is +Inf */
    atomic_ullong count;
    atomic_ullong sum_us;
};

struct cb_metrics {
    int n_routes;
    /* http: per route (index + 1; 0 = no route) and status 100..599 */
    atomic_ullong (*http_requests)[500];
    struct cb_histogram *http_latency; /* per route + 1 */
    /* PBX loop */
    atomic_ullong events_received, events_duplicate, events_applied, events_ignored;
    /* Statements that stored webhook batches, by group commit (service/event_batch.c) */
    atomic_ullong events_stores;
    atomic_llong inbox_lag; /* unapplied events, as last seen by the worker */
    atomic_ullong command_attempts, commands_delivered_total, commands_failed_total;
    atomic_ullong commands_handed_off;    /* sent as handed over, not read back (db/handoff.h) */
    struct cb_histogram delivery_latency; /* command created -> acknowledged */
    atomic_ullong timers_fired;
    /* API sets applied by group commit (service/set_batch.c): sets, and their transactions */
    atomic_ullong api_sets, api_set_transactions;
    atomic_llong api_sets_in_flight; /* submitted, not yet answered */
    atomic_int worker_leader;        /* 1 while this process runs the worker */
    /* HTTP connections (api/connections.c, api/server.c) */
    atomic_llong http_connections;       /* open now */
    atomic_ullong http_request_timeouts; /* closed: the request did not arrive in time */
    atomic_ullong http_bodies_cut;       /* closed: a body far over its limit */
    /* Counted in the database by service/gauges.c: active callbacks by enum cb_state, commands
     * pending / delivered / failed, and when that count began (monotonic ms, 0: never; and Unix
     * time in ms, for /metrics). */
    atomic_llong callbacks_by_state[8], commands_by_status[3];
    atomic_llong gauges_counted_ms, gauges_counted_unix_ms;
};

/* Allocates metrics for `n_routes` routes; NULL on OOM. */
struct cb_metrics *cb_metrics_new(int n_routes);
void cb_metrics_free(struct cb_metrics *m);
/* Counts one HTTP answer on route `route_index` (-1 = none). */
void cb_metrics_http(struct cb_metrics *m, int route_index, unsigned status, double seconds);
/* Adds one observation to a histogram. */
void cb_histogram_observe(struct cb_histogram *h, double seconds);

/* A growing text buffer for rendering. */
struct cb_text {
    char *s;
    size_t len, cap;
};
void cb_text_printf(struct cb_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a histogram in Prometheus text format with `labels` ("" or `route="x"`). */
void cb_histogram_render(struct cb_text *t, const char *name, const char *labels,
                         const struct cb_histogram *h);

/* The parts of /metrics that service/metrics_render.c renders (api/health.c renders the HTTP
 * part): the database counts as last made by service/gauges.c (every process sees the same;
 * left out when old rather than shown stale), and the PBX loop's metrics (events, inbox lag,
 * delivery, timers, leadership). */
struct cb_app;
void cb_metrics_render_counts(struct cb_text *t, struct cb_app *app);
void cb_metrics_render_pbx(struct cb_text *t, struct cb_app *app);

#endif
