/* Durable timers (CB-52): "call me back at T for (kind, ref)", polled by the worker. */
#ifndef DB_TIMERS_H
#define DB_TIMERS_H

#include <stdint.h>

#include "db/pool.h"

/* Sets (or moves) the timer (kind, ref) to `due_ms` (milliseconds since the epoch). */
enum db_status db_timer_set(struct db_conn *c, const char *kind, const char *ref, int64_t due_ms);
/* Removes the timer (kind, ref) if it exists. */
enum db_status db_timer_clear(struct db_conn *c, const char *kind, const char *ref);

#endif
