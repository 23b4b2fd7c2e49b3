/* Filling the pool of facts (service/core/pool.h) from the database, locking what a decision
 * may change, and checking under those locks that what the pool holds is current (the
 * versions of migration 019). db_world_load (db/world.c) runs these until the scope rules
 * (service/core/scope.c) lack nothing and every piece they read is current. */
#ifndef DB_WORLD_POOL_H
#define DB_WORLD_POOL_H

#include "db/pool.h"
#include "service/core/scope.h"

/* Reads what `scope` lacks into the pool, in one round trip (the decision's first: `first`). */
enum db_status db_world_fill(struct db_conn *c, struct cb_pool *pool, const struct cb_scope *scope,
                             bool first);

/* Takes the decision lock of each number of `scope->locks` (sorted by key in the database; once
 * the decision `locked` some, only those that are free, else DB_RETRY) and reads the current
 * version of every number of `scope->used` and of 'provisioning', in one round trip, with the
 * options into `opts` when not NULL (`first`: the decision's first round trip). What moved is
 * read again in the same round trip, under the locks, into the pool (all of it when
 * 'provisioning' moved: the pool is cleared); `*changed` tells whether anything moved, and
 * `settled` (remade) holds every number of `scope->used` at the version the pool now has. */
enum db_status db_world_check(struct db_conn *c, struct cb_pool *pool, const struct cb_scope *scope,
                              bool locked, struct cb_options *opts, bool first,
                              struct cb_numbers *settled, bool *changed);
/* Whether a scope computed after such a check can be decided on without another: every number
 * it read was settled at the version it read, and every lock it needs is in `held`. */
bool db_world_settled(const struct cb_scope *scope, const struct cb_numbers *settled,
                      const struct cb_numbers *held);

/* Whether a decision on `scope` may be taken before it holds its locks (db_world_assume): the
 * pool holds each number the scope read at one version, the global version, and the options
 * (into `opts`); the last transaction of `c` that did so did not fail its check; and, for facts
 * read afresh, such decisions have seldom failed lately in the process. */
bool db_world_assumable(struct db_conn *c, const struct cb_pool *pool, const struct cb_scope *scope,
                        struct cb_options *opts);
/* Queues, ahead of the decision's writes and in their round trip, its locks and the check that
 * nothing it read has moved since (migration 022): the decision is taken on the pool as it is,
 * one or two round trips sooner. When something moved the transaction fails (DB_RETRY) and runs
 * again, and its decisions then check before they decide (`first`: the decision's first round
 * trip, as for db_world_check). */
enum db_status db_world_assume(struct db_conn *c, const struct cb_pool *pool,
                               const struct cb_scope *scope, bool first);

/* ---- a session that keeps its pool (the worker's) ------------------------------------------ */

/* What a session keeps between its decisions: the pool, and for the transaction under way what
 * its decisions locked and checked and what they wrote, applied to the pool once it commits. */
struct db_world_memory;

/* Keeps a pool on `c` from now on (bounded: cleared when over `max_callbacks` callback rows).
 * False when out of memory. */
bool db_world_keep(struct db_conn *c, size_t max_callbacks);
/* Frees what `c` keeps (db_conn_close). */
void db_world_forget(struct db_conn *c);
/* The pool `c` keeps, NULL when none. */
struct cb_pool *db_world_kept(struct db_conn *c);
/* The decision of the transaction under way read `scope` and held its locks: its numbers may keep
 * their pieces at the commit's version. */
void db_world_checked(struct db_conn *c, const struct cb_scope *scope);
/* It wrote what `w` marks (copied), and its writes have been queued (db_world_save): queues the
 * read of the transaction's id, which the commit's triggers left as the version of what it
 * wrote. */
void db_world_wrote(struct db_conn *c, struct db_pipeline *p, const struct cb_world *w);
/* The transaction committed (or not): what its decisions wrote goes into the pool (or is
 * forgotten). */
void db_world_settle(struct db_conn *c, bool committed);

#endif
