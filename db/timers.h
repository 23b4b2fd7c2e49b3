/* Durable timers (CB-52): "call me back at T for (kind, ref)", polled by the worker. */
#ifndef DB_TIMERS_H
#define DB_TIMERS_H

#include <stdint.h>

#include "db/pool.h"

/* Sets (or moves) the timer (kind, ref) to `due_ms` (milliseconds since the epoch). */
enum db_status db_timer_set(struct db_conn *c, const char *kind, const char *ref, int64_t due_ms);
/* Queues timer changes: `sets` [{"kind","ref","at" (ms)}] and `clears` [{"kind","ref"}], about
 * distinct timers (the caller keeps only the last change of each). Steals both. */
void db_timers_queue(struct db_pipeline *p, json_t *sets, json_t *clears);
/* Removes the timer (kind, ref) if it exists. */
enum db_status db_timer_clear(struct db_conn *c, const char *kind, const char *ref);

/* The worker's side (CB-52). A due timer: */
struct db_timer {
    char kind[32];
    char ref[128];
};
/* Up to `limit` timers due now, earliest first; `*n` how many. */
enum db_status db_timers_due(struct db_conn *c, int limit, struct db_timer *out, int *n);
/* Deletes those of the `n` timers that are due; `taken[i]` says whether timer i was (it may have
 * been moved or cleared since it was read). */
enum db_status db_timers_take(struct db_conn *c, const struct db_timer *timers, int n, bool *taken);
/* Milliseconds until the earliest timer is due (0 if one is due; -1 when there is none). */
enum db_status db_timer_next_ms(struct db_conn *c, long long *ms);
/* Sets the timer (kind, ref) to `due_ms` unless it exists already. */
enum db_status db_timer_arm(struct db_conn *c, const char *kind, const char *ref, int64_t due_ms);

#endif
