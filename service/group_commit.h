/* Group commit, leader/follower: work that request threads submit while transactions are
 * running is done together in the next one, so that N concurrent requests cost about one
 * transaction's statements and one commit. A few batches run at once ("lanes"). No thread of
 * its own: a waiting submitter runs the batch (the leader) for itself and those queued behind
 * it, so a lone request pays nothing for it. Used by the API's sets (service/set_batch.c) and
 * the PBX webhook's event batches (service/event_batch.c). */
#ifndef CB_GROUP_COMMIT_H
#define CB_GROUP_COMMIT_H

#include <pthread.h>
#include <stdbool.h>

/* One submission: embedded in the submitter's own struct, on its stack until submitted work
 * returns. */
struct cb_group_item {
    bool taken; /* a batch has it: off the queue */
    bool done;
    struct cb_group_item *next;
    pthread_cond_t wake; /* its submitter's own: done, or its turn to lead */
};

/* Runs one batch of `n` items (in submission order) outside the lock, and records each
 * item's outcome in the struct that embeds it. */
typedef void (*cb_group_run_fn)(void *ctx, struct cb_group_item **items, int n);

#define CB_GROUP_COMMIT_MAX 64 /* items per batch, at most */

struct cb_group_commit {
    cb_group_run_fn run;
    void *ctx;
    int max_items; /* per batch: at most CB_GROUP_COMMIT_MAX */
    int lanes;     /* batches running at once */
    pthread_mutex_t lock;
    struct cb_group_item *head, *tail; /* waiting, not taken */
    int running;                       /* batches under way */
};

void cb_group_commit_init(struct cb_group_commit *g, int max_items, int lanes, cb_group_run_fn run,
                          void *ctx);
void cb_group_commit_fini(struct cb_group_commit *g);

/* Submits `item` and returns once a batch (led by this thread or another) has run it. */
void cb_group_commit_submit(struct cb_group_commit *g, struct cb_group_item *item);

#endif
