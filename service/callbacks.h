/* The service layer of the callback rules: loads the facts from the database, calls the pure
 * core (service/core), and persists its decisions (state, history, outbox, timers) in the
 * caller's transaction. The API handlers and the worker both go through here.
 *
 * NOTE for the webhook (api/events.c): validate each event with cb_event_parse() from
 * service/event_parse.h — the ONE event parser, shared with cb_service_apply_event(); it
 * appends {field, message} errors named with a prefix such as "events[3].". */
#ifndef CB_CALLBACKS_H
#define CB_CALLBACKS_H

#include <jansson.h>

#include "db/pool.h"
#include "service/core/core.h"

/* Applies one stored PBX event (its JSON as received) in the caller's transaction: live state,
 * every rule it triggers, outbox commands, timers. `*ignored` is set when it concerns nothing
 * provisioned (API.md: stored and ignored). */
enum db_status cb_service_apply_event(struct db_conn *c, json_t *event, int64_t now_ms,
                                      bool *ignored);

/* Applies a group of stored events, in order, in the caller's transaction, loading and saving
 * the facts once for the whole group (the worker's group commit); each event sees the effects
 * of those before it. `ignored[i]` tells the outcome of each. */
enum db_status cb_service_apply_events(struct db_conn *c, json_t *const *events, int n,
                                       int64_t now_ms, bool *ignored);

/* Fires due callback timers (`kinds[i]` as cb_timer_kind_name, `refs[i]` the callback id) in
 * order, against one world, in the caller's transaction. */
enum db_status cb_service_fire_timers(struct db_conn *c, const char *const *kinds,
                                      const char *const *refs, int n, int64_t now_ms);

/* One rules decision: `decide` calls the core on the world loaded (and locked) for `seed`.
 * A refusal (d->error set) rolls back as DB_ABORT; otherwise everything is persisted. */
struct db_world_seed;
typedef void (*cb_decide_fn)(struct cb_world *w, struct cb_decisions *d, void *arg);
enum db_status cb_service_decide(struct db_conn *c, const struct db_world_seed *seed,
                                 cb_decide_fn decide, void *arg);

/* Persists one decision: the marked world, history, timers, and the commands into the outbox
 * (waking the dispatcher). */
enum db_status cb_service_persist(struct db_conn *c, struct cb_world *w,
                                  const struct cb_decisions *d);
/* The wall clock in milliseconds: the edge's `now` for the core. */
cb_time cb_service_now(void);

#endif
