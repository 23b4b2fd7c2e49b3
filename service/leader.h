/* One background loop's seat (CB-54): its own database session, the advisory lock that makes it
 * the only one of its kind among every callbackd process, LISTEN on its channel, and a wake-up
 * descriptor for the rest of this process. Used by the worker and the dispatcher. */
#ifndef CB_LEADER_H
#define CB_LEADER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "db/pool.h"

/* The shortest sleep of a loop that found nothing to do although something seemed due. */
#define CB_IDLE_FLOOR_MS 10

struct cb_leader {
    const char *name; /* "worker" or "dispatcher", for logs */
    const char *url;  /* CALLBACKD_DATABASE_URL */
    struct db_limits limits;
    long long lock_key;   /* DB_LEADER_*_KEY */
    const char *channel;  /* LISTEN channel */
    atomic_int *gauge;    /* set to 1 while leading (may be NULL) */
    struct db_conn *conn; /* the session; NULL while the database is unreachable */
    bool leading;
    int wake_fd;           /* eventfd: cb_leader_wake */
    long long last_try_ms; /* monotonic: non-leaders try about once a second */
};

/* Prepares a seat (no connection yet); false when no eventfd can be made. */
bool cb_leader_init(struct cb_leader *l, const char *name, const char *url,
                    const struct db_limits *limits, long long lock_key, const char *channel,
                    atomic_int *gauge);
/* Connects if needed and tries to lead (at most once a second). True while this seat leads
 * (the caller works on l->conn); false otherwise (the caller waits and asks again). `*fresh` is
 * set when leadership was just taken. */
bool cb_leader_hold(struct cb_leader *l, bool *fresh);
/* The session failed (DB_UNAVAILABLE): drops it, and with it the lock. */
void cb_leader_lost(struct cb_leader *l);
/* Sleeps up to `timeout_ms` or until a NOTIFY on the channel or a cb_leader_wake. */
void cb_leader_wait(struct cb_leader *l, int timeout_ms);
/* Wakes the loop from another thread (async-signal safe). */
void cb_leader_wake(struct cb_leader *l);
/* Releases the lock, closes the session and the descriptor. */
void cb_leader_fini(struct cb_leader *l);

/* A background loop on a seat (the worker, the dispatcher): until `stop`, it takes the lead once
 * `ready` (the schema is current), runs rounds while leading and waits between them. */
struct cb_leader_loop {
    struct cb_leader *seat;
    atomic_bool *stop, *ready;
    void *ctx;
    /* One round while leading (`fresh`: the lead was just taken). Sets `*wait_ms`, how long to
     * wait before the next (0: at once). DB_UNAVAILABLE loses the seat; another error is logged
     * and the loop waits a second. */
    enum db_status (*round)(void *ctx, bool fresh, int *wait_ms);
    /* Waits up to `wait_ms` (called even for 0); false when the session was found dead. NULL:
     * cb_leader_wait, skipped for 0. */
    bool (*wait)(void *ctx, int wait_ms);
    /* Not leading (yet, or any more): drops the work in hand. May be NULL. */
    void (*idle)(void *ctx);
};
void cb_leader_run(const struct cb_leader_loop *loop);

#endif
