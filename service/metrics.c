#include "service/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const double BOUNDS[CB_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

struct cb_metrics *cb_metrics_new(int n_routes)
{
    struct cb_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n_routes = n_routes;
    m->http_requests = calloc((size_t)n_routes + 1, sizeof *m->http_requests);
    m->http_latency = calloc((size_t)n_routes + 1, sizeof *m->http_latency);
    if (!m->http_requests || !m->http_latency) {
        cb_metrics_free(m);
        return NULL;
    }
    return m;
}

void cb_metrics_free(struct cb_metrics *m)
{
    if (!m)
        return;
    free(m->http_requests);
    free(m->http_latency);
    free(m);
}

void cb_histogram_observe(struct cb_histogram *h, double seconds)
{
    int b = 0;
    while (b < CB_HIST_BUCKETS && seconds > BOUNDS[b])
        b++;
    atomic_fetch_add(&h->buckets[b], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (unsigned long long)(seconds * 1e6));
}

void cb_metrics_http(struct cb_metrics *m, int route_index, unsigned status, double seconds)
{
    int slot = route_index >= 0 && route_index < m->n_routes ? route_index + 1 : 0;
    if (status >= 100 && status < 600)
        atomic_fetch_add(&m->http_requests[slot][status - 100], 1);
    cb_histogram_observe(&m->http_latency[slot], seconds);
}

void cb_text_printf(struct cb_text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->s && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *g = realloc(t->s, cap);
        if (!g)
            return;
        t->s = g;
        t->cap = cap;
    }
}

void cb_histogram_render(struct cb_text *t, const char *name, const char *labels,
                         const struct cb_histogram *h)
{
    unsigned long long cumulative = 0;
    const char *sep = labels[0] ? "," : "";
    for (int b = 0; b <= CB_HIST_BUCKETS; b++) {
        cumulative += atomic_load(&h->buckets[b]);
        if (b < CB_HIST_BUCKETS)
            cb_text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, BOUNDS[b],
                           cumulative);
        else
            cb_text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cumulative);
    }
    cb_text_printf(t, "%s_sum{%s} %.6f\n", name, labels, (double)atomic_load(&h->sum_us) / 1e6);
    cb_text_printf(t, "%s_count{%s} %llu\n", name, labels, atomic_load(&h->count));
}
