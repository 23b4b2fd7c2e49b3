/* What the threads of one callbackd process share: the configuration (immutable), the
 * database pool, the token cache and the metrics (atomics). Passed down, never global. */
#ifndef CB_APP_H
#define CB_APP_H

#include <stdatomic.h>
#include <stdbool.h>

struct cb_config;
struct db_pool;
struct api_token_cache;
struct cb_metrics;
struct cb_worker;
struct cb_gauges;
struct api_stream_feed;

struct cb_app {
    const struct cb_config *cfg;
    struct db_pool *pool;
    struct api_token_cache *tokens;
    struct cb_metrics *metrics;
    struct cb_worker *worker;    /* NULL until started */
    struct cb_gauges *gauges;    /* /metrics' database counts (service/gauges.c); may be NULL */
    struct cb_set_batcher *sets; /* group commit of the API's sets; NULL: one transaction each */
    struct cb_event_batcher *events; /* group commit of the PBX webhook (service/event_batch.c) */
    struct api_stream_feed *streams; /* GET /v1/stream's feed (api/stream_feed.c); the server's */
    atomic_bool schema_ready;        /* migrations applied (checked again by /readyz when false) */
};

#endif
