/* The worker's inputs through the rules core, in the caller's transaction: stored PBX events
 * and due timers, each group against one world loaded and saved once (service/decide.c). */
#ifndef CB_APPLY_H
#define CB_APPLY_H

#include "db/pool.h"
#include "service/core/core.h"

/* Applies a group of stored events, as the webhook parsed them, in order, loading and saving the
 * world once for the whole group (the worker's group commit); each event sees the effects of
 * those before it. `ignored[i]` tells each one's outcome (the core's: it named nothing in the
 * world or changed nothing). An event whose `usable[i]` is false (`usable` NULL: all are) is
 * ignored without being applied. */
enum db_status cb_service_apply_events(struct db_conn *c, const struct cb_event *events,
                                       const bool *usable, int n, int64_t now_ms, bool *ignored);

/* Fires due callback timers (`kinds[i]` as cb_timer_kind_name, `refs[i]` the callback id) in
 * order, against one world. */
enum db_status cb_service_fire_timers(struct db_conn *c, const char *const *kinds,
                                      const char *const *refs, int n, int64_t now_ms);

#endif
