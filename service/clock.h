/* The clocks of the process: the monotonic one for waits, deadlines and durations, the wall
 * clock for what is stored and shown (the rules core never reads either: its `now` is passed
 * in). */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds and in nanoseconds. */
long long cb_monotonic_ms(void);
uint64_t cb_monotonic_ns(void);
/* The absolute time `ms` (CLOCK_MONOTONIC milliseconds) for a pthread_cond_timedwait on a
 * condition made by cb_cond_init_monotonic. */
struct timespec cb_monotonic_at(long long ms);
/* Initialises a condition variable whose timed waits run on CLOCK_MONOTONIC (a change of the
 * wall clock neither shortens nor stretches them). */
void cb_cond_init_monotonic(pthread_cond_t *cond);

/* The wall clock in milliseconds since the epoch: the edge's `now` for the core. */
int64_t cb_service_now(void);

#endif
