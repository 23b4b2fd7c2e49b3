#include "service/group_commit.h"

#include <string.h>

void cb_group_commit_init(struct cb_group_commit *g, int max_items, int lanes, cb_group_run_fn run,
                          void *ctx)
{
    memset(g, 0, sizeof *g);
    g->run = run;
    g->ctx = ctx;
    g->max_items = max_items < 1                     ? 1
                   : max_items > CB_GROUP_COMMIT_MAX ? CB_GROUP_COMMIT_MAX
                                                     : max_items;
    g->lanes = lanes < 1 ? 1 : lanes;
    pthread_mutex_init(&g->lock, NULL);
}

void cb_group_commit_fini(struct cb_group_commit *g)
{
    pthread_mutex_destroy(&g->lock);
}

/* With the lock held: when a lane is free and someone waits, wakes the first waiting submitter,
 * which leads the next batch. Only that one: every submitter waits on its own condition, so a
 * batch's end wakes its own submitters and at most one more, not every thread waiting. */
static void wake_next_leader(struct cb_group_commit *g)
{
    if (g->head && g->running < g->lanes)
        pthread_cond_signal(&g->head->wake);
}

void cb_group_commit_submit(struct cb_group_commit *g, struct cb_group_item *item)
{
    item->taken = item->done = false;
    item->next = NULL;
    pthread_cond_init(&item->wake, NULL);
    pthread_mutex_lock(&g->lock);
    /* `item` lives on the submitter's stack while queued: a leader takes it off the queue
     * before running it, and this function returns only once it is done. */
    if (g->tail)
        g->tail->next = item;
    else
        g->head = item;
    g->tail = item;
    while (!item->done) {
        if (item->taken || g->running >= g->lanes) {
            pthread_cond_wait(&item->wake, &g->lock);
            continue;
        }
        /* Lead: take what is waiting (this item among it, in arrival order). */
        struct cb_group_item *batch[CB_GROUP_COMMIT_MAX];
        int n = 0;
        while (g->head && n < g->max_items) {
            g->head->taken = true;
            batch[n++] = g->head;
            g->head = g->head->next;
        }
        if (!g->head)
            g->tail = NULL;
        g->running++;
        wake_next_leader(g); /* more than a batch waits, and another lane is free */
        pthread_mutex_unlock(&g->lock);
        g->run(g->ctx, batch, n);
        pthread_mutex_lock(&g->lock);
        g->running--;
        for (int i = 0; i < n; i++) {
            batch[i]->done = true;
            if (batch[i] != item)
                pthread_cond_signal(&batch[i]->wake);
        }
        wake_next_leader(g);
    }
    pthread_mutex_unlock(&g->lock);
    /* Nobody signals it any more: whoever did held the lock, released before this returns. */
    pthread_cond_destroy(&item->wake);
}
