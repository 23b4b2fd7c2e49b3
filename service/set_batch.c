#include "service/set_batch.h"
#include "db/tx.h"
#include "service/group_commit.h"
#include "service/metrics.h"

#include <stdlib.h>

/* Sets applied in one transaction at most: bounds the world one batch loads and locks. */
#define SET_BATCH_MAX 32
/* Batches running at once. Two, not one: a batch waiting on a worker's locks (a burst of events
 * on its target) leaves a lane to the sets of other targets. Not more: each batch costs its own
 * statements and commit whatever its size, so with more lanes the same sets cost more. On the
 * 2-core bench machine (tests/bench, POST against one database, three alternating runs) one,
 * two and four lanes gave 775, 745 and 680 req/s at c4 and 1,855, 1,649 and 1,376 at c16. Their
 * locks are taken in one sorted statement (db/world.c), so concurrent batches wait for each
 * other, never deadlock. */
#define SET_BATCHES_AT_ONCE 2

/* A submitted set, on its submitter's stack until it is done. */
struct pending {
    struct cb_group_item gc; /* first: a batch's items are these */
    struct cb_set_item item;
    enum db_status st;
};

struct cb_set_batcher {
    struct db_pool *pool;
    struct cb_metrics *metrics;
    struct cb_group_commit group;
};

struct batch {
    struct pending *sets[SET_BATCH_MAX];
    struct cb_set_item items[SET_BATCH_MAX];
    int n;
};

static void run_batch(void *ctx, struct cb_group_item **items, int n);

struct cb_set_batcher *cb_set_batcher_new(struct db_pool *pool, struct cb_metrics *metrics)
{
    struct cb_set_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->pool = pool;
    b->metrics = metrics;
    cb_group_commit_init(&b->group, SET_BATCH_MAX, SET_BATCHES_AT_ONCE, run_batch, b);
    return b;
}

void cb_set_batcher_free(struct cb_set_batcher *b)
{
    if (!b)
        return;
    cb_group_commit_fini(&b->group);
    free(b);
}

static enum db_status batch_tx(struct db_conn *c, void *ctx)
{
    struct batch *t = ctx;
    for (int i = 0; i < t->n; i++)
        t->items[i] = t->sets[i]->item; /* afresh on a retry (deadlock): new ids, new results */
    return cb_request_set_many(c, t->items, t->n);
}

static enum db_status alone_tx(struct db_conn *c, void *ctx)
{
    struct pending *p = ctx;
    return cb_request_set(c, &p->item.req, p->item.request_id, &p->item.res);
}

/* Runs one batch (service/group_commit.c: outside its lock) and records each set's outcome. */
static void run_batch(void *ctx, struct cb_group_item **items, int n)
{
    struct cb_set_batcher *b = ctx;
    struct batch one = {.n = n}, *t = &one;
    for (int i = 0; i < n; i++)
        t->sets[i] = (struct pending *)items[i];
    enum db_status st = db_tx_run(b->pool, batch_tx, t);
    atomic_fetch_add(&b->metrics->api_set_transactions, 1);
    atomic_fetch_add(&b->metrics->api_sets, (unsigned long long)t->n);
    if (st == DB_OK) {
        for (int i = 0; i < t->n; i++) {
            t->sets[i]->item.res = t->items[i].res;
            t->sets[i]->st = t->items[i].res.error != CB_OK ? DB_ABORT : DB_OK;
        }
        return;
    }
    /* The whole batch rolled back. A write that one set made fail (a unique pair taken by a
     * concurrent request, say) must not fail the others: each is tried alone, as it would have
     * been without batching. An unreachable database answers them all. */
    for (int i = 0; i < t->n; i++)
        t->sets[i]->st =
            st == DB_UNAVAILABLE || t->n == 1 ? st : db_tx_run(b->pool, alone_tx, t->sets[i]);
}

enum db_status cb_set_batched(struct cb_set_batcher *b, const struct cb_set_request *req,
                              const char *request_id, struct cb_request_result *res)
{
    struct pending me = {.item = {.req = *req, .request_id = request_id}};
    atomic_fetch_add(&b->metrics->api_sets_in_flight, 1);
    cb_group_commit_submit(&b->group, &me.gc);
    atomic_fetch_sub(&b->metrics->api_sets_in_flight, 1);
    *res = me.item.res;
    return me.st;
}
