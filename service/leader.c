#include "service/leader.h"
#include "db/leader.h"
#include "service/log.h"
#include "service/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CB_LEADER_RETRY_MS 1000

bool cb_leader_init(struct cb_leader *l, const char *name, const char *url,
                    const struct db_limits *limits, long long lock_key, const char *channel,
                    atomic_int *gauge)
{
    *l = (struct cb_leader){.name = name,
                            .url = url,
                            .limits = *limits,
                            .lock_key = lock_key,
                            .channel = channel,
                            .gauge = gauge};
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return l->wake_fd >= 0;
}

static void wake_seat(void *l)
{
    cb_leader_wake(l);
}

static void set_leading(struct cb_leader *l, bool leading)
{
    if (l->leading == leading)
        return;
    l->leading = leading;
    /* Writers in this process wake it directly, without a NOTIFY (db/leader.h). */
    db_leader_local(l->lock_key, leading, wake_seat, l);
    if (l->gauge)
        atomic_store(l->gauge, leading ? 1 : 0);
    cb_log(leading ? CB_LOG_INFO : CB_LOG_WARN, leading ? "leadership taken" : "leadership lost",
           json_pack("{s:s}", "loop", l->name));
}

void cb_leader_lost(struct cb_leader *l)
{
    set_leading(l, false);
    db_conn_close(l->conn);
    l->conn = NULL;
}

bool cb_leader_hold(struct cb_leader *l, bool *fresh)
{
    *fresh = false;
    if (l->conn && !db_conn_alive(l->conn))
        cb_leader_lost(l);
    if (l->leading)
        return true;
    long long now = cb_monotonic_ms();
    if (l->last_try_ms && now - l->last_try_ms < CB_LEADER_RETRY_MS)
        return false;
    l->last_try_ms = now;
    if (!l->conn && !(l->conn = db_conn_open(l->url, &l->limits)))
        return false;
    bool got = false;
    enum db_status st = db_leader_try(l->conn, l->lock_key, &got);
    /* LISTEN before the first look at the work: no NOTIFY can fall between the two. */
    if (st == DB_OK && got)
        st = db_listen(l->conn, l->channel);
    if (st != DB_OK) {
        cb_leader_lost(l);
        return false;
    }
    if (got) {
        set_leading(l, true);
        *fresh = true;
    }
    return got;
}

void cb_leader_wait(struct cb_leader *l, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = l->wake_fd, .events = POLLIN}, {.fd = -1}};
    int n = 1;
    struct db_conn *c = l->leading ? l->conn : NULL;
    if (c) {
        /* A NOTIFY that arrived with the last result is already buffered: no need to sleep. */
        if (db_notifications_drain(c))
            return;
        fds[1] = (struct pollfd){.fd = db_conn_socket(c), .events = POLLIN};
        n = 2;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (poll(fds, (nfds_t)n, timeout_ms) < 0 && errno != EINTR)
        cb_logf(CB_LOG_WARN, "%s: poll failed", l->name);
    uint64_t count;
    if (fds[0].revents & POLLIN)
        (void)!read(l->wake_fd, &count, sizeof count);
    bool any;
    /* Reads what arrived (notifications, or the end of a dead connection). */
    if (c && fds[1].revents && !db_notifications_read(c, &any))
        cb_leader_lost(l);
}

void cb_leader_wake(struct cb_leader *l)
{
    uint64_t one = 1;
    (void)!write(l->wake_fd, &one, sizeof one);
}

void cb_leader_fini(struct cb_leader *l)
{
    if (l->conn && l->leading)
        (void)db_leader_release(l->conn, l->lock_key);
    set_leading(l, false);
    db_conn_close(l->conn);
    l->conn = NULL;
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    l->wake_fd = -1;
}

void cb_leader_run(const struct cb_leader_loop *loop)
{
    struct cb_leader *seat = loop->seat;
    while (!atomic_load(loop->stop)) {
        bool fresh;
        /* Not before the schema is current: the tables may not exist yet. */
        if (!atomic_load(loop->ready) || !cb_leader_hold(seat, &fresh)) {
            if (loop->idle)
                loop->idle(loop->ctx);
            cb_leader_wait(seat, 1000);
            continue;
        }
        int wait_ms = 0;
        enum db_status st = loop->round(loop->ctx, fresh, &wait_ms);
        bool alive = st != DB_UNAVAILABLE;
        if (alive && st != DB_OK) {
            cb_logf(CB_LOG_ERROR, "%s: database error; retrying in 1 s", seat->name);
            wait_ms = 1000;
        }
        if (alive && loop->wait)
            alive = loop->wait(loop->ctx, wait_ms);
        else if (alive && wait_ms > 0)
            cb_leader_wait(seat, wait_ms);
        if (!alive) {
            if (loop->idle)
                loop->idle(loop->ctx);
            cb_leader_lost(seat);
        }
    }
}
