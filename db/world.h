/* Loading the facts of one rules decision (struct cb_world) and persisting what the core
 * marked, in the caller's transaction.
 *
 * Loading: the scope rules (service/core/scope.c) say which facts the decision concerns, from
 * the pool of facts (service/core/pool.h); what the pool lacks is read (db/world_pool.c), a round
 * trip per step of the rules that needs facts not yet read, until nothing lacks. Then the
 * decision takes a transaction-scoped advisory lock per number it may change (the scope's
 * targets and the requesters queued on them) and reads, in the same round trip, the version of
 * every number whose facts it read (migration 019): whatever changed meanwhile is read again,
 * under the locks, and the rules run again on it. Decisions on one target or requester are
 * therefore serialized, while unrelated ones run in parallel (and commit in groups). Locks are
 * taken in the order of their keys; a deadlock that still occurs is retried by db_tx_run.
 *
 * A session that keeps its pool between decisions (the worker's: db_world_keep) reads nothing
 * while nothing changed: its own writes go into the pool as it commits, at the version its
 * commit left. Any other session reads its decision's facts afresh.
 *
 * When nothing lacks before the decision has checked anything (the worker's pool is warm, or an
 * API request's facts came in its first round trip), it is taken on the pool at once, and the
 * locks and the check of the versions (migration 022) go ahead of its writes, in their round
 * trip (db_world_assume): a decision of the worker is then the round trip of its writes alone,
 * an API request's its read and its writes. If something moved, that check fails the
 * transaction, which runs again, checking first. */
#ifndef DB_WORLD_H
#define DB_WORLD_H

#include "db/pool.h"
#include "service/core/core.h"
#include "service/core/scope.h"

/* Locks and loads the world for `seed`. The world's arrays are owned: db_world_free(). */
enum db_status db_world_load(struct db_conn *c, const struct cb_scope_seed *seed,
                             struct cb_world *w);
/* Writes back, in one round trip, what the core marked (stations, lines, callbacks), its history
 * and timers, and the `outbox` rows (see db_outbox_queue; stolen). */
enum db_status db_world_save(struct db_conn *c, struct cb_world *w, const struct cb_decisions *d,
                             json_t *outbox);
void db_world_free(struct cb_world *w);
/* Appends a copy of `g` with lines of its own (freed by db_world_free) to the world's trunk
 * groups, for which the caller made room; false when out of memory. */
bool db_world_add_trunk_group(struct cb_world *w, const struct cb_trunk_group *g);
#endif
