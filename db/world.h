/* Loading the facts of one rules decision (struct cb_world) and persisting what the core
 * marked, in the caller's transaction.
 *
 * Concurrency: every transaction that runs the rules takes a transaction-scoped advisory lock
 * per directory number it may touch (the seed numbers, the targets of their callbacks, and
 * the requesters queued on those targets), then loads. Decisions on one target or requester
 * are therefore serialized, while unrelated ones run in parallel (and commit in groups).
 * Locks are taken in sorted order; a deadlock that still occurs is retried by db_tx_run. */
#ifndef DB_WORLD_H
#define DB_WORLD_H

#include "db/pool.h"
#include "service/core/core.h"

/* What to load: numbers (stations or groups) and callback ids the decision is about. */
struct db_world_seed {
    const char *const *numbers; /* borrowed */
    int n_numbers;
    /* Numbers dialed, perhaps through a trunk group ("95551234"): the trunk groups that prefix
     * them join the seed, for the core to split them (cb_core_resolve_number). Borrowed. */
    const char *const *dialed;
    int n_dialed;
    const char *const *callback_ids; /* borrowed; loaded even when ended (outside the scope) */
    int n_callback_ids;
    /* The decision cannot free a requester of the seed to be rung (an API set, a station turning
     * busy...): the queues of the targets its callbacks wait on are not loaded, unless one of its
     * callbacks is engaged (it may end). False loads them. */
    bool narrow;
};

/* Locks and loads the world for `seed`. The world's arrays are owned: db_world_free(). */
enum db_status db_world_load(struct db_conn *c, const struct db_world_seed *seed,
                             struct cb_world *w);
/* Writes back, in one round trip, what the core marked (stations, lines, callbacks), its history
 * and timers, and the `outbox` rows (see db_outbox_queue; stolen). */
enum db_status db_world_save(struct db_conn *c, struct cb_world *w, const struct cb_decisions *d,
                             json_t *outbox);
void db_world_free(struct cb_world *w);
#endif
