/* One decision of the rules, run in the caller's transaction: the world the decision concerns
 * is loaded and locked (db/world.c), the pure core (service/core) decides, and what it decided
 * is persisted (state, history, outbox, timers). The API's requests (service/requests.c) and the
 * worker's inputs (service/apply.c) both go through here. */
#ifndef CB_DECIDE_H
#define CB_DECIDE_H

#include "db/pool.h"
#include "service/clock.h" /* cb_service_now */
#include "service/core/core.h"

/* One rules decision: `decide` calls the core on the world loaded (and locked) for `seed`.
 * A refusal (d->error set) rolls back as DB_ABORT; otherwise everything is persisted. */
struct cb_scope_seed;
typedef void (*cb_decide_fn)(struct cb_world *w, struct cb_decisions *d, void *arg);
enum db_status cb_service_decide(struct db_conn *c, const struct cb_scope_seed *seed,
                                 cb_decide_fn decide, void *arg);

/* Persists one decision: the marked world, history, timers, and the commands into the outbox
 * (whose trigger wakes the dispatcher). */
enum db_status cb_service_persist(struct db_conn *c, struct cb_world *w,
                                  const struct cb_decisions *d);

#endif
