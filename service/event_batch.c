#include "service/event_batch.h"
#include "db/inbox.h"
#include "service/group_commit.h"
#include "service/metrics.h"

#include <stdlib.h>

/* Webhooks stored by one statement at most (up to 500 events each: openapi.yaml). */
#define EVENT_BATCH_MAX 8
/* Statements running at once: two, as for the sets (service/set_batch.c), so that a webhook
 * arriving while one statement commits need not wait for it. */
#define EVENT_BATCHES_AT_ONCE 2

/* A submitted webhook, on its submitter's stack until it is done. */
struct pending {
    struct cb_group_item gc; /* first: a batch's items are these */
    json_t *rows;            /* borrowed */
    int accepted;
    enum db_status st;
};

struct cb_event_batcher {
    struct db_pool *pool;
    struct cb_metrics *metrics;
    struct cb_group_commit group;
};

/* Stores the rows of `p[0..n)` in one statement and counts each webhook's new events. */
static enum db_status store(struct cb_event_batcher *b, struct pending **p, int n)
{
    json_t *all = json_array();
    for (int i = 0; all && i < n; i++)
        if (json_array_extend(all, p[i]->rows) != 0) {
            json_decref(all);
            all = NULL;
        }
    size_t total = all ? json_array_size(all) : 0;
    const char **ids = all ? calloc(total + 1, sizeof *ids) : NULL;
    bool *stored = all ? calloc(total + 1, sizeof *stored) : NULL;
    char *text = all ? json_dumps(all, JSON_COMPACT) : NULL;
    for (size_t i = 0; ids && i < total; i++)
        ids[i] = json_string_value(json_object_get(json_array_get(all, i), "id"));
    enum db_status st = DB_ERROR;
    struct db_conn *c = ids && stored && text ? db_pool_acquire(b->pool, &st) : NULL;
    if (c) {
        st = db_inbox_store(c, text, ids, (int)total, stored);
        db_pool_release(b->pool, c);
        atomic_fetch_add(&b->metrics->events_stores, 1);
    }
    for (int i = 0, row = 0; st == DB_OK && i < n; i++) {
        p[i]->accepted = 0;
        for (size_t k = 0; k < json_array_size(p[i]->rows); k++)
            p[i]->accepted += stored[row++];
    }
    free(text);
    free(stored);
    free((void *)ids);
    json_decref(all);
    return st;
}

/* Runs one batch (service/group_commit.c: outside its lock) and records each webhook's outcome.
 * When the statement fails with several webhooks in it, each is stored alone, so that one the
 * database refuses cannot fail the others; an unreachable database answers them all. */
static void run_batch(void *ctx, struct cb_group_item **items, int n)
{
    struct cb_event_batcher *b = ctx;
    struct pending **p = (struct pending **)items;
    enum db_status st = store(b, p, n);
    for (int i = 0; i < n; i++)
        p[i]->st = st == DB_OK || st == DB_UNAVAILABLE || n == 1 ? st : store(b, &p[i], 1);
}

struct cb_event_batcher *cb_event_batcher_new(struct db_pool *pool, struct cb_metrics *metrics)
{
    struct cb_event_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->pool = pool;
    b->metrics = metrics;
    cb_group_commit_init(&b->group, EVENT_BATCH_MAX, EVENT_BATCHES_AT_ONCE, run_batch, b);
    return b;
}

void cb_event_batcher_free(struct cb_event_batcher *b)
{
    if (!b)
        return;
    cb_group_commit_fini(&b->group);
    free(b);
}

enum db_status cb_events_store_batched(struct cb_event_batcher *b, json_t *rows, int *accepted)
{
    struct pending me = {.rows = rows};
    cb_group_commit_submit(&b->group, &me.gc);
    *accepted = me.accepted;
    return me.st;
}
