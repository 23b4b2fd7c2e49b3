/* The command dispatcher (CB-51): one thread that POSTs pending commands to the PBX, several at
 * once (libcurl multi, connections to the PBX kept and reused), never two of one order key at
 * once and never a later command of a key before the earlier is acknowledged and recorded.
 *
 * One loop: wait for a wake-up (in-process or a NOTIFY: db_outbox_queue), a finished POST or
 * the next due time; then one round trip to the database (db_outbox_round) records every outcome
 * that finished since the last round and reads what is due next, excluding the keys still in
 * flight; start those POSTs; repeat. Outcomes are thus recorded in batches that grow with the load.
 * While that round trip is out the loop goes on (await_sending): POSTs progress and commands
 * handed over by committing transactions are started.
 */
#include "service/dispatcher.h"
#include "db/handoff.h"
#include "db/leader.h"
#include "db/outbox.h"
#include "service/config.h"
#include "service/hmac.h"
#include "service/leader.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/clock.h"

#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DISPATCH_IN_FLIGHT  16   /* POSTs at once, each on its own kept connection */
#define DISPATCH_TIMEOUT_MS 5000 /* openapi.yaml: no answer in 5 s is a failed attempt */
#define DISPATCH_IDLE_MS    1000 /* look at the outbox at least this often */
#define DISPATCH_RETRY_MS   1000 /* after a database error */
/* Outcomes are recorded with the next look at the outbox, or at the latest this long after they
 * are known (at once when a slot is needed): one statement records many at load. */
#define DISPATCH_RECORD_MS 20

enum slot_state {
    SLOT_FREE,
    SLOT_SENDING, /* its POST is in flight: its order key is busy */
    SLOT_DONE,    /* finished: the outcome waits for the next round to be recorded */
};

/* One command between being due and its outcome being recorded. */
struct slot {
    enum slot_state state;
    CURL *easy; /* reused: the multi handle keeps the connections */
    struct curl_slist *headers;
    struct db_command cmd;
    enum db_outcome_kind outcome;
    char error[256];
    long long done_ms; /* monotonic: when the outcome became known */
};

struct cb_dispatcher {
    struct cb_app *app;
    struct cb_leader seat;
    atomic_bool stop;
    pthread_t thread;
    CURLM *multi;
    struct slot slots[DISPATCH_IN_FLIGHT];
    bool look;                /* the outbox may hold something due: read it on the next round */
    long long looked_ms;      /* monotonic: when it was last read */
    long long due_at_ms;      /* monotonic: when the next pending command is due (-1: unknown) */
    long long hold_off_until; /* monotonic: no round before (after a database error) */
};

static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

static int count_slots(const struct cb_dispatcher *d, enum slot_state state)
{
    int n = 0;
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++)
        n += d->slots[i].state == state;
    return n;
}

/* Frees a slot's command and request; its easy handle stays for the next one. */
static void slot_clear(struct slot *s)
{
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    db_outbox_commands_free(&s->cmd, 1);
    s->state = SLOT_FREE;
}

/* Abandons every POST in flight and every unrecorded outcome (stop, or leadership lost): they
 * stay pending and are sent again, with the same id, by whoever leads next. */
static void abandon_all(struct cb_dispatcher *d)
{
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++) {
        struct slot *s = &d->slots[i];
        if (s->state == SLOT_SENDING)
            curl_multi_remove_handle(d->multi, s->easy);
        if (s->state != SLOT_FREE)
            slot_clear(s);
    }
    d->look = true;
    d->due_at_ms = -1;
    db_handoff_close();
}

static void finish(struct cb_dispatcher *d, struct slot *s, enum db_outcome_kind outcome,
                   const char *error)
{
    s->state = SLOT_DONE;
    s->outcome = outcome;
    s->done_ms = cb_monotonic_ms();
    snprintf(s->error, sizeof s->error, "%s", error ? error : "");
    /* The next command of the key is due once this outcome is recorded (unless retried). */
    if (outcome != DB_OUTCOME_NOT_ACKED && s->cmd.more)
        d->look = true;
}

/* Starts the signed POST of the slot's command (the slot SENDING), or, when it cannot be
 * started, counts a failed attempt (the slot DONE, not acknowledged). */
static void start_post(struct cb_dispatcher *d, struct slot *s)
{
    const struct db_command *cmd = &s->cmd;
    char ts[24], sig[CB_SIGNATURE_HEADER_MAX];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    size_t len = strlen(cmd->json);
    atomic_fetch_add(&d->app->metrics->command_attempts, 1);
    if (!cb_hmac_signature_header(d->app->cfg->pbx_secret, ts, cmd->json, len, sig)) {
        finish(d, s, DB_OUTCOME_NOT_ACKED, "cannot sign the command");
        return;
    }
    char ts_header[64], sig_header[128];
    snprintf(ts_header, sizeof ts_header, "X-Callbackd-Timestamp: %s", ts);
    snprintf(sig_header, sizeof sig_header, "X-Callbackd-Signature: %s", sig);
    const char *lines[] = {"Content-Type: application/json", ts_header, sig_header,
                           "Expect:"}; /* Expect: no 100-continue round trip */
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *more = curl_slist_append(s->headers, lines[i]);
        ok = more != NULL;
        if (ok)
            s->headers = more;
    }
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, cmd->json);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (void *)s);
    if (!ok || curl_multi_add_handle(d->multi, s->easy) != CURLM_OK) {
        finish(d, s, DB_OUTCOME_NOT_ACKED, "cannot start the request");
        return;
    }
    s->state = SLOT_SENDING;
}

/* Lets curl work on the POSTs in flight, and collects those that ended. */
static void collect_finished(struct cb_dispatcher *d)
{
    int running, left;
    curl_multi_perform(d->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *private = NULL;
        long status = 0;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &private);
        struct slot *s = (struct slot *)(void *)private;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(d->multi, msg->easy_handle);
        char error[256] = "";
        if (rc != CURLE_OK)
            snprintf(error, sizeof error, "%s", curl_easy_strerror(rc));
        else if (status < 200 || status > 299)
            snprintf(error, sizeof error, "the PBX answered HTTP %ld", status);
        finish(d, s, error[0] ? DB_OUTCOME_NOT_ACKED : DB_OUTCOME_DELIVERED, error);
        if (error[0])
            cb_log(CB_LOG_WARN, "command not acknowledged; will retry",
                   json_pack("{s:s, s:I, s:i, s:s}", "command_id", s->cmd.id, "seq",
                             (json_int_t)s->cmd.seq, "attempt", s->cmd.attempts + 1, "error",
                             error));
    }
}

/* Logs and counts the outcome of a slot just recorded. */
static void report(struct cb_dispatcher *d, const struct slot *s, const struct db_outcome *o)
{
    struct cb_metrics *m = d->app->metrics;
    if (!o->recorded)
        return;
    if (o->kind == DB_OUTCOME_DELIVERED) {
        atomic_fetch_add(&m->commands_delivered_total, 1);
        if (o->latency_s >= 0)
            cb_histogram_observe(&m->delivery_latency, o->latency_s);
        if (cb_log_enabled(CB_LOG_DEBUG))
            cb_log(CB_LOG_DEBUG, "command delivered",
                   json_pack("{s:s, s:I, s:f}", "command_id", s->cmd.id, "seq",
                             (json_int_t)s->cmd.seq, "latency_ms", o->latency_s * 1000.0));
    } else if (o->kind == DB_OUTCOME_EXPIRED) {
        /* CB-51: retried until command_ttl_s has passed, then failed. */
        atomic_fetch_add(&m->commands_failed_total, 1);
        cb_log(CB_LOG_WARN, "command failed: command_ttl_s passed",
               json_pack("{s:s, s:I, s:i}", "command_id", s->cmd.id, "seq", (json_int_t)s->cmd.seq,
                         "attempts", s->cmd.attempts));
    }
}

/* Whether a command of `order_key` is in hand: in flight, or acknowledged and not recorded yet
 * (CB-51: the next of a key waits for both). */
static bool key_held(const struct cb_dispatcher *d, const char *order_key)
{
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++)
        if (d->slots[i].state != SLOT_FREE && strcmp(d->slots[i].cmd.order_key, order_key) == 0)
            return true;
    return false;
}

static struct slot *free_slot(struct cb_dispatcher *d)
{
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++)
        if (d->slots[i].state == SLOT_FREE)
            return &d->slots[i];
    return NULL;
}

/* Sends the commands that transactions of this process handed over as they committed
 * (db/handoff.h), without reading them back: each at once when it was the first pending one of
 * its order key and no command of that key is in hand. Any other is left to the next read of
 * the outbox, where it is still pending. */
static void start_handed(struct cb_dispatcher *d)
{
    struct db_handoff_command handed[DISPATCH_IN_FLIGHT];
    int n;
    while ((n = db_handoff_take(handed, DISPATCH_IN_FLIGHT)) > 0)
        for (int k = 0; k < n; k++) {
            struct db_command *cmd = &handed[k].cmd;
            struct slot *s = handed[k].first && !key_held(d, cmd->order_key) ? free_slot(d) : NULL;
            if (!s) {
                db_outbox_commands_free(cmd, 1);
                d->look = true;
                continue;
            }
            s->cmd = *cmd;
            atomic_fetch_add(&d->app->metrics->commands_handed_off, 1);
            start_post(d, s);
        }
}

/* Wakes the loop from a committing thread (db_handoff_open): a POST to start, no outbox to read.
 */
static void wake_handed(void *ctx)
{
    struct cb_dispatcher *d = ctx;
    curl_multi_wakeup(d->multi);
}

/* Whether the outcomes known must be recorded now: the oldest is old enough, or every slot is
 * taken. */
static bool must_record(const struct cb_dispatcher *d, long long now)
{
    int taken = 0;
    bool old = false;
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++) {
        const struct slot *s = &d->slots[i];
        taken += s->state != SLOT_FREE;
        old = old || (s->state == SLOT_DONE && now - s->done_ms >= DISPATCH_RECORD_MS);
    }
    return old || (taken == DISPATCH_IN_FLIGHT && count_slots(d, SLOT_DONE) > 0);
}

/* Forgets the wake-ups and notifications received so far: the look about to be taken sees every
 * commit they announce. */
static void take_signals(struct cb_dispatcher *d)
{
    uint64_t count;
    (void)!read(d->seat.wake_fd, &count, sizeof count);
    bool any;
    if (d->seat.conn)
        (void)db_notifications_read(d->seat.conn, &any);
}

/* Waits for the round trip's answer (db_conn's `await`) while POSTs go on: the ones in flight
 * progress and end, and commands handed over meanwhile are started, so that a round's recording
 * (a transaction and its flush, a millisecond or more) holds up no command but those of the keys
 * it records. The slots it records stay DONE until it returns, so their keys stay held. */
static int await_sending(void *ctx, struct pollfd *fd, int timeout_ms)
{
    struct cb_dispatcher *d = ctx;
    struct curl_waitfd w = {.fd = fd->fd,
                            .events = (fd->events & POLLIN ? CURL_WAIT_POLLIN : 0) |
                                      (fd->events & POLLOUT ? CURL_WAIT_POLLOUT : 0)};
    if (curl_multi_poll(d->multi, &w, 1, timeout_ms, NULL) != CURLM_OK)
        return poll(fd, 1, timeout_ms); /* the database's answer does not hang on curl */
    collect_finished(d);
    if (!atomic_load(&d->stop)) {
        start_handed(d);
        collect_finished(d); /* sends what it started */
    }
    /* curl tells readiness only (in, out): the socket's own state, an error or a hang-up
     * included, from poll(2) without waiting, so that a broken session is not waited on. */
    return poll(fd, 1, 0);
}

/* One round trip, when there is reason for one: records the finished outcomes (when `flush`,
 * or with a look, or when they are old enough or their slots needed), then, when `may_send` and
 * there is room and reason, reads what is due and starts it. */
static enum db_status run_round(struct cb_dispatcher *d, bool may_send, bool flush)
{
    struct db_outcome outcomes[DISPATCH_IN_FLIGHT];
    struct slot *done[DISPATCH_IN_FLIGHT];
    const char *busy[DISPATCH_IN_FLIGHT];
    int n_done = 0, n_busy = 0;
    long long now = cb_monotonic_ms();
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++) {
        struct slot *s = &d->slots[i];
        if (s->state == SLOT_DONE) {
            done[n_done] = s;
            outcomes[n_done++] = (struct db_outcome){.seq = s->cmd.seq,
                                                     .kind = s->outcome,
                                                     .error = s->error,
                                                     .age_s = (now - s->done_ms) / 1000.0};
        } else if (s->state == SLOT_SENDING)
            busy[n_busy++] = s->cmd.order_key;
    }
    /* Every slot not sending is free once the outcomes are recorded. */
    int due_limit = may_send && d->look ? DISPATCH_IN_FLIGHT - n_busy : 0;
    if (due_limit == 0 && (n_done == 0 || (!flush && !must_record(d, now))))
        return DB_OK;
    /* A reason to look that comes while the round trip is out (await_sending) is kept. */
    bool looking = due_limit > 0;
    if (looking) {
        take_signals(d);
        d->look = false;
    }
    struct db_command due[DISPATCH_IN_FLIGHT];
    int n_due = 0;
    long long next_ms = -1;
    struct db_conn *c = d->seat.conn;
    c->await = await_sending;
    c->await_ctx = d;
    enum db_status st =
        db_outbox_round(c, outcomes, n_done, busy, n_busy, due_limit, due, &n_due, &next_ms);
    c->await = NULL;
    if (st != DB_OK) {
        d->look = d->look || looking;
        return st; /* nothing recorded: the outcomes stay for the next round */
    }
    for (int i = 0; i < n_done; i++) {
        report(d, done[i], &outcomes[i]);
        slot_clear(done[i]);
    }
    if (due_limit == 0)
        return DB_OK;
    /* Their keys were left out of this look: a command may wait behind each. */
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++)
        if (d->slots[i].state == SLOT_SENDING)
            d->slots[i].cmd.more = true;
    d->looked_ms = cb_monotonic_ms();
    if (n_due == due_limit) {
        /* More may be due right away: look again as soon as a slot is free. */
        d->look = true;
        d->due_at_ms = -1;
    } else {
        /* Nothing was due yet something is said to be: never spin on it. */
        if (n_due == 0 && next_ms == 0)
            next_ms = CB_IDLE_FLOOR_MS;
        d->due_at_ms = next_ms < 0 ? -1 : d->looked_ms + next_ms;
    }
    for (int k = 0; k < n_due; k++)
        db_handoff_forget(due[k].seq); /* this read has them now: never sent by both roads */
    for (int k = 0; k < n_due; k++) {
        struct slot *s = free_slot(d);
        /* CB-51: never two of one key in hand (the query already leaves busy keys out, and the
         * outcomes of the others were recorded just before it). */
        if (!s || key_held(d, due[k].order_key)) {
            db_outbox_commands_free(&due[k], 1);
            d->look = d->look || !s; /* its slot went to a command handed over meanwhile */
            continue;
        }
        s->cmd = due[k];
        if (s->cmd.expired)
            finish(d, s, DB_OUTCOME_EXPIRED, NULL);
        else
            start_post(d, s);
    }
    return DB_OK;
}

/* How long the loop may sleep: not at all with a look to take or outcomes to record now. */
static int sleep_ms(const struct cb_dispatcher *d, long long now)
{
    if (now < d->hold_off_until)
        return (int)(d->hold_off_until - now);
    int sending = count_slots(d, SLOT_SENDING);
    if ((d->look && sending < DISPATCH_IN_FLIGHT) || must_record(d, now))
        return 0;
    /* Every slot sending: nothing can be sent before a POST ends, and that ends the wait. */
    long long ms = DISPATCH_IDLE_MS;
    if (sending < DISPATCH_IN_FLIGHT) {
        ms = d->looked_ms + DISPATCH_IDLE_MS - now;
        if (d->due_at_ms >= 0 && d->due_at_ms - now < ms)
            ms = d->due_at_ms - now;
    }
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++)
        if (d->slots[i].state == SLOT_DONE && d->slots[i].done_ms + DISPATCH_RECORD_MS - now < ms)
            ms = d->slots[i].done_ms + DISPATCH_RECORD_MS - now;
    return ms < 0 ? 0 : (int)ms;
}

/* Sleeps until a POST progresses, a NOTIFY or a wake-up arrives, or `timeout_ms` passes; sets
 * `look` for the last two. False when the database session was found dead. */
static bool wait_for_work(struct cb_dispatcher *d, int timeout_ms)
{
    if (atomic_load(&d->stop)) /* its wake-up may have been taken by the last look */
        return true;
    struct db_conn *c = d->seat.conn;
    if (c && db_notifications_drain(c)) { /* arrived with the last results */
        d->look = true;
        timeout_ms = 0;
    }
    struct curl_waitfd fds[2] = {{.fd = d->seat.wake_fd, .events = CURL_WAIT_POLLIN}};
    unsigned n = 1;
    if (c && db_conn_socket(c) >= 0)
        fds[n++] = (struct curl_waitfd){.fd = db_conn_socket(c), .events = CURL_WAIT_POLLIN};
    if (curl_multi_poll(d->multi, fds, n, timeout_ms, NULL) != CURLM_OK)
        cb_logf(CB_LOG_WARN, "dispatcher: poll failed");
    if (fds[0].revents) {
        uint64_t count;
        (void)!read(d->seat.wake_fd, &count, sizeof count);
        d->look = true;
    }
    bool any;
    if (n == 2 && fds[1].revents) {
        if (!db_notifications_read(c, &any))
            return false;
        d->look = d->look || any;
    }
    long long now = cb_monotonic_ms();
    if ((d->due_at_ms >= 0 && now >= d->due_at_ms) || now - d->looked_ms >= DISPATCH_IDLE_MS)
        d->look = true;
    return true;
}

/* One round (none before the hold-off after a database error ends), then the POSTs it
 * started are sent; the wait is wait_for_work's, as long as sleep_ms says. */
static enum db_status dispatch_round(void *ctx, bool fresh, int *wait_ms)
{
    struct cb_dispatcher *d = ctx;
    if (fresh) {
        d->look = true;
        db_handoff_open(wake_handed, d); /* what was offered before is read from the outbox */
    }
    start_handed(d); /* before the round: a read that returns one of them finds it in hand */
    long long now = cb_monotonic_ms();
    enum db_status st = now >= d->hold_off_until ? run_round(d, true, false) : DB_OK;
    if (st == DB_UNAVAILABLE)
        return st;
    if (st != DB_OK)
        d->hold_off_until = now + DISPATCH_RETRY_MS;
    collect_finished(d); /* sends what the round started (and sees what already ended) */
    *wait_ms = sleep_ms(d, cb_monotonic_ms());
    return st;
}

static bool dispatch_wait(void *ctx, int wait_ms)
{
    struct cb_dispatcher *d = ctx;
    if (!wait_for_work(d, wait_ms))
        return false;
    collect_finished(d);
    return true;
}

static void dispatch_idle(void *ctx)
{
    abandon_all(ctx);
}

static void *dispatcher_main(void *arg)
{
    struct cb_dispatcher *d = arg;
    d->look = true;
    d->due_at_ms = -1;
    cb_leader_run(&(struct cb_leader_loop){.seat = &d->seat,
                                           .stop = &d->stop,
                                           .ready = &d->app->schema_ready,
                                           .ctx = d,
                                           .round = dispatch_round,
                                           .wait = dispatch_wait,
                                           .idle = dispatch_idle});
    /* Stopping: what was acknowledged is recorded, what is in flight is abandoned. */
    if (d->seat.leading && d->seat.conn && count_slots(d, SLOT_DONE) > 0)
        (void)run_round(d, false, true);
    abandon_all(d);
    return NULL;
}

static void dispatcher_free(struct cb_dispatcher *d)
{
    for (int i = 0; i < DISPATCH_IN_FLIGHT; i++)
        if (d->slots[i].easy)
            curl_easy_cleanup(d->slots[i].easy);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    free(d);
}

/* The options every POST shares; false when the handle cannot be made. */
static bool slot_init(struct slot *s, const char *url)
{
    s->easy = curl_easy_init();
    if (!s->easy)
        return false;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)DISPATCH_TIMEOUT_MS);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)DISPATCH_TIMEOUT_MS);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    return true;
}

struct cb_dispatcher *cb_dispatcher_start(struct cb_app *app)
{
    if (!app->cfg->pbx_command_url) {
        cb_logf(CB_LOG_INFO, "no CALLBACKD_PBX_COMMAND_URL: commands are kept, not sent");
        return NULL;
    }
    struct cb_dispatcher *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->app = app;
    d->multi = curl_multi_init();
    bool ok = d->multi != NULL;
    for (int i = 0; ok && i < DISPATCH_IN_FLIGHT; i++)
        ok = slot_init(&d->slots[i], app->cfg->pbx_command_url);
    if (!ok) {
        dispatcher_free(d);
        return NULL;
    }
    /* One kept connection per POST in flight, no more. */
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)DISPATCH_IN_FLIGHT);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)DISPATCH_IN_FLIGHT);
    struct db_limits limits = cb_config_db_background_limits(app->cfg);
    if (!cb_leader_init(&d->seat, "dispatcher", app->cfg->database_url, &limits,
                        DB_LEADER_DISPATCHER_KEY, DB_OUTBOX_CHANNEL, NULL)) {
        dispatcher_free(d);
        return NULL;
    }
    if (pthread_create(&d->thread, NULL, dispatcher_main, d) != 0) {
        cb_leader_fini(&d->seat);
        dispatcher_free(d);
        return NULL;
    }
    return d;
}

void cb_dispatcher_stop(struct cb_dispatcher *d)
{
    if (!d)
        return;
    atomic_store(&d->stop, true);
    cb_leader_wake(&d->seat);
    pthread_join(d->thread, NULL);
    cb_leader_fini(&d->seat);
    dispatcher_free(d);
}
