/* Group commit for the PBX webhook (POST /v1/pbx/events): the event batches of concurrent
 * webhooks are stored by one statement, its own transaction (service/group_commit.c). A PBX
 * that posts each event as it happens sends many small webhooks at once; each used to cost a
 * statement and a commit of its own. */
#ifndef CB_EVENT_BATCH_H
#define CB_EVENT_BATCH_H

#include <jansson.h>

#include "db/pool.h"

struct cb_event_batcher;
struct cb_metrics;

/* A batcher over `pool`, counting its statements in `metrics`; NULL on OOM. */
struct cb_event_batcher *cb_event_batcher_new(struct db_pool *pool, struct cb_metrics *metrics);
void cb_event_batcher_free(struct cb_event_batcher *b);

/* Stores `rows`, the inbox rows of one webhook's events in order (cb_event_columns), with the
 * webhooks submitted at the same time, in their order of arrival. Returns what its own
 * statement would have: DB_OK with `*accepted` the events that were new (an id stored before,
 * or earlier in this webhook or in one ahead of it, is a duplicate), or the database's status
 * (nothing of it stored). */
enum db_status cb_events_store_batched(struct cb_event_batcher *b, json_t *rows, int *accepted);

#endif
