/* The worker (CB-50, CB-52, CB-54): one thread per process competes for leadership; the leader
 * applies the event inbox in order, several events per transaction, and fires due timers. All
 * its work runs on the session that holds the lock: losing the session loses both. */
#include "service/worker.h"
#include "db/inbox.h"
#include "db/leader.h"
#include "db/timers.h"
#include "db/tx.h"
#include "db/world_pool.h"
#include "service/apply.h"
#include "service/decide.h"
#include "service/config.h"
#include "service/dispatcher.h"
#include "service/event_parse.h"
#include "service/leader.h"
#include "service/log.h"
#include "service/metrics.h"

#include <curl/curl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKER_GROUP_MAX 1000 /* events applied per transaction (group commit) */
/* Parties (stations, trunk groups, callbacks named) a group's events may concern: what bounds
 * the world it loads. A burst on a few busy parties goes in large groups, whose world is loaded
 * once; events spread over many parties go in groups of this many. */
#define WORKER_GROUP_PARTIES 100
#define WORKER_TIMERS_MAX    100 /* due timers fired per round */
/* The facts the worker keeps between its decisions (db/world_pool.h): about 1 KiB a callback
 * and its numbers, cleared beyond this many callbacks. */
#define WORKER_POOL_CALLBACKS 4096
#define PURGE_KIND            "inbox_purge"
#define PURGE_REF             "pbx_events"
#define PURGE_CHUNK           10000 /* rows deleted per purge transaction */
#define PURGE_PERIOD_MAX_S    3600
/* While events keep the worker busy, it looks at the timers this often, or when the next one it
 * knows of is due; at every round otherwise. A look is two round trips (the due timers, then
 * when the next is due), which at 1,000 events/s came after each of some 700 groups a second;
 * CB-52 gives a timer a second. */
#define WORKER_TIMERS_LOOK_MS 100

struct cb_worker {
    struct cb_app *app;
    struct cb_leader seat;
    atomic_bool stop;
    pthread_t thread;
    struct cb_dispatcher *dispatcher;
    cb_time lag_counted_at; /* when the inbox lag was last counted (ms) */
    cb_time trimmed_at;     /* when the heap was last trimmed (ms) */
    /* When the timers were last looked at, and when the next one known then is due (ms; -1:
     * none). */
    cb_time timers_looked_at, timers_due_at;
};

/* ---- the inbox ---------------------------------------------------------------------------- */

/* One transaction's worth of events. */
struct apply_group {
    struct db_inbox_event *events;
    int n;
    int failed_at; /* index of the event whose application failed, -1 if none */
    int applied, ignored;
};

/* Applies the group in order and marks each event; the caller's transaction commits all or
 * nothing (CB-50: applied exactly once). */
static enum db_status apply_group_tx(struct db_conn *c, void *ctx)
{
    struct apply_group *g = ctx;
    long long seqs[WORKER_GROUP_MAX];
    const char *outcomes[WORKER_GROUP_MAX];
    struct cb_event *events = calloc((size_t)g->n, sizeof *events);
    bool usable[WORKER_GROUP_MAX], ignored[WORKER_GROUP_MAX];
    if (!events)
        return DB_ERROR;
    g->failed_at = -1;
    g->applied = g->ignored = 0;
    for (int i = 0; i < g->n; i++) {
        events[i] = g->events[i].event;
        usable[i] = g->events[i].parsed;
    }
    /* The whole group against one world: loaded once, saved once (CB-50 group commit). */
    enum db_status st = cb_service_apply_events(c, events, usable, g->n, cb_service_now(), ignored);
    free(events);
    if (st == DB_UNAVAILABLE || st == DB_RETRY)
        return st;
    /* From here a failure is the group's (an event's, or its writes' when the COMMIT's round
     * trip carries them): not known which event's, apply_inbox narrows it down one at a time. */
    g->failed_at = 0;
    if (st != DB_OK)
        return st;
    for (int i = 0; i < g->n; i++) {
        seqs[i] = g->events[i].seq;
        outcomes[i] = ignored[i] ? "ignored" : "applied";
        if (ignored[i])
            g->ignored++;
        else
            g->applied++;
    }
    /* With the group's writes (and the locks and check of a decision taken on the facts the
     * worker keeps: db/world.h), in the COMMIT's round trip. */
    return db_inbox_mark(c, seqs, outcomes, g->n);
}

/* Marks one event "ignored" after its application failed twice: a bug must not wedge the
 * inbox behind it. */
static enum db_status mark_ignored_tx(struct db_conn *c, void *ctx)
{
    const struct db_inbox_event *e = ctx;
    const char *outcome = "ignored";
    return db_inbox_mark(c, &e->seq, &outcome, 1);
}

/* The party an event is about, which the group's world is loaded for (service/apply.c seeds
 * a few more numbers from some events: its parties and dialed digits, as many or fewer). */
static const char *event_party(const struct cb_event *e)
{
    switch (e->type) {
    case CB_EV_TRUNK_STATE:
        return e->trunk_group;
    case CB_EV_CALL_ATTEMPT:
        return e->from;
    case CB_EV_CALL_CONNECTED:
        return e->n_parties ? e->parties[0] : "";
    case CB_EV_RECALL_RESULT:
        return e->callback_id;
    default:
        return e->station;
    }
}

/* How many of the `n` events from `events` go in one group: at most `limit`, and no more than
 * WORKER_GROUP_PARTIES distinct parties (a hash set of them, by the core's cb_hash_text). */
static int group_size(const struct db_inbox_event *events, int n, int limit)
{
    enum { SLOTS = 4 * WORKER_GROUP_PARTIES };
    const char *seen[SLOTS] = {0};
    int parties = 0, i = 0;
    for (; i < n && i < limit; i++) {
        const char *p = events[i].parsed ? event_party(&events[i].event) : "";
        size_t k = (size_t)(cb_hash_text(p) % SLOTS);
        while (seen[k] && strcmp(seen[k], p) != 0)
            k = (k + 1) % SLOTS;
        if (!seen[k]) {
            if (parties == WORKER_GROUP_PARTIES)
                break;
            seen[k] = p;
            parties++;
        }
    }
    return i > 0 ? i : 1;
}

/* Applies up to WORKER_GROUP_MAX events; `*full` when more may be waiting, `*n_read` how many
 * were read. An event whose
 * application fails is isolated: the events before it are committed as a group, it is tried
 * alone once more, and if it fails again it is marked ignored and logged. */
static enum db_status apply_inbox(struct cb_worker *w, bool *full, int *n_read)
{
    struct cb_metrics *m = w->app->metrics;
    struct db_conn *c = w->seat.conn;
    (void)db_world_keep(c, WORKER_POOL_CALLBACKS); /* without it, each decision reads afresh */
    struct db_inbox_event *events = NULL;
    int n = 0;
    enum db_status st = db_inbox_unapplied(c, WORKER_GROUP_MAX, &events, &n);
    /* Events stored before the webhook stored them parsed (migration 009): parsed here, once. */
    for (int i = 0; st == DB_OK && i < n; i++)
        if (!events[i].parsed &&
            !(events[i].parsed = cb_event_parse(events[i].body, &events[i].event, NULL, "")))
            cb_log(CB_LOG_WARN, "stored event does not parse; ignored",
                   json_pack("{s:I, s:s}", "seq", (json_int_t)events[i].seq, "event_id",
                             events[i].event.id));
    *full = st == DB_OK && n == WORKER_GROUP_MAX;
    *n_read = n;
    /* limit: events in the next transaction; alone: the next one is the failing event's
     * second, solitary try. */
    int start = 0, limit = n;
    bool alone = false, alone_next = false;
    while (st == DB_OK && start < n && !atomic_load(&w->stop)) {
        struct apply_group g = {.events = events + start,
                                .n = group_size(events + start, n - start, limit)};
        cb_time began = cb_service_now();
        st = db_tx_run_on(c, apply_group_tx, &g);
        if (st == DB_OK) {
            /* How long a group takes, by size: what the apply rate is made of. */
            if (cb_log_enabled(CB_LOG_DEBUG))
                cb_log(CB_LOG_DEBUG, "event group applied",
                       json_pack("{s:i, s:i, s:I}", "events", g.n, "applied", g.applied, "ms",
                                 (json_int_t)(cb_service_now() - began)));
            atomic_fetch_add(&m->events_applied, (unsigned long long)g.applied);
            atomic_fetch_add(&m->events_ignored, (unsigned long long)g.ignored);
            start += g.n;
            alone = alone_next;
            alone_next = false;
            limit = alone ? 1 : n;
            continue;
        }
        if (g.failed_at < 0 || st == DB_UNAVAILABLE || st == DB_RETRY)
            break; /* the database (or another worker: db_inbox_mark), not an event: later */
        const struct db_inbox_event *bad = &events[start + g.failed_at];
        const char *id = bad->event.id;
        if (g.failed_at == 0 && alone) {
            cb_log(CB_LOG_ERROR, "event application failed twice; marked ignored",
                   json_pack("{s:I, s:s, s:i}", "seq", (json_int_t)bad->seq, "event_id", id,
                             "status", (int)st));
            st = db_tx_run_on(c, mark_ignored_tx, &events[start]);
            if (st == DB_OK)
                atomic_fetch_add(&m->events_ignored, 1);
            start++;
            alone = false;
            limit = n;
            continue;
        }
        cb_log(CB_LOG_WARN, "event application failed; retrying it alone",
               json_pack("{s:I, s:s, s:i}", "seq", (json_int_t)bad->seq, "event_id", id, "status",
                         (int)st));
        if (g.failed_at > 0) {
            limit = g.failed_at; /* commit those before it, then try it alone */
            alone_next = true;
        } else {
            limit = 1;
            alone = true;
        }
        st = DB_OK;
    }
    db_inbox_events_free(events, n);
    if (st == DB_OK) {
        /* The lag is a gauge: counting a large backlog at every group (a scan of the unapplied
         * index) is counted once a second at most. */
        cb_time now = cb_service_now();
        long long lag = 0;
        if (!*full)
            atomic_store(&m->inbox_lag, 0);
        else if (now - w->lag_counted_at >= 1000) {
            w->lag_counted_at = now;
            st = db_inbox_lag(c, &lag);
            atomic_store(&m->inbox_lag, lag);
        }
    }
    return st;
}

/* ---- timers ------------------------------------------------------------------------------- */

struct fire {
    struct cb_worker *w;
    const struct db_timer *t;
    bool fired;
    bool more; /* inbox_purge: a full chunk was deleted */
};

/* The inbox purge (CB-52's real use in this file): deletes events applied longer ago than the
 * retention, then sets itself again. */
static enum db_status purge_inbox(struct cb_worker *w, struct db_conn *c, bool *more)
{
    int retention = w->app->cfg->inbox_retention_s, deleted = 0;
    enum db_status st = db_inbox_purge(c, retention, PURGE_CHUNK, &deleted);
    if (st != DB_OK)
        return st;
    *more = deleted == PURGE_CHUNK;
    if (deleted > 0)
        cb_log(CB_LOG_INFO, "applied events purged",
               json_pack("{s:i, s:i}", "deleted", deleted, "retention_s", retention));
    int period_s = retention < PURGE_PERIOD_MAX_S ? retention : PURGE_PERIOD_MAX_S;
    return db_timer_set(c, PURGE_KIND, PURGE_REF,
                        cb_service_now() + (*more ? 0 : period_s * 1000LL));
}

/* Takes one due timer and fires it, in one transaction. */
static enum db_status fire_tx(struct db_conn *c, void *ctx)
{
    struct fire *f = ctx;
    bool taken;
    f->fired = false;
    enum db_status st = db_timers_take(c, f->t, 1, &taken);
    if (st != DB_OK || !taken)
        return st; /* moved or cleared since it was read */
    if (!strcmp(f->t->kind, PURGE_KIND))
        st = purge_inbox(f->w, c, &f->more);
    else /* expiry, notify_timeout, recall_timeout: the callback rules */
        st = cb_service_fire_timers(c, (const char *[]){f->t->kind}, (const char *[]){f->t->ref}, 1,
                                    cb_service_now());
    f->fired = st == DB_OK;
    return st;
}

/* The due callback timers of one round, fired together: taken, decided against one world and
 * saved in one transaction (as events are applied in groups). */
struct fire_group {
    const struct db_timer *due;
    int n;
    int fired;
};

static enum db_status fire_group_tx(struct db_conn *c, void *ctx)
{
    struct fire_group *g = ctx;
    bool taken[WORKER_TIMERS_MAX];
    const char *kinds[WORKER_TIMERS_MAX], *refs[WORKER_TIMERS_MAX];
    g->fired = 0;
    enum db_status st = db_timers_take(c, g->due, g->n, taken);
    int k = 0;
    for (int i = 0; st == DB_OK && i < g->n; i++)
        if (taken[i]) { /* not moved or cleared since it was read */
            kinds[k] = g->due[i].kind;
            refs[k++] = g->due[i].ref;
        }
    if (st == DB_OK)
        st = cb_service_fire_timers(c, kinds, refs, k, cb_service_now());
    if (st == DB_OK)
        st = db_flush(c); /* the group's writes: a failure there is the group's */
    g->fired = k;
    return st;
}

/* Removes a timer whose firing failed (a bug): logged, so that it does not fire forever. */
static enum db_status drop_tx(struct db_conn *c, void *ctx)
{
    const struct db_timer *t = ctx;
    return db_timer_clear(c, t->kind, t->ref);
}

/* Fires the due timers (CB-52: within a second of their time); `*next_ms` is when the next
 * one is due (-1: none). */
static enum db_status fire_timers(struct cb_worker *w, long long *next_ms, int *n_due)
{
    struct db_conn *c = w->seat.conn;
    (void)db_world_keep(c, WORKER_POOL_CALLBACKS);
    struct db_timer due[WORKER_TIMERS_MAX];
    int n = 0;
    enum db_status st = db_timers_due(c, WORKER_TIMERS_MAX, due, &n);
    *n_due = n;
    /* The callback timers (all but the inbox purge) together; when that fails, one by one
     * below, so that a timer whose firing fails is found and dropped. */
    struct db_timer group[WORKER_TIMERS_MAX];
    struct fire_group g = {.due = group};
    for (int i = 0; i < n; i++)
        if (strcmp(due[i].kind, PURGE_KIND) != 0)
            group[g.n++] = due[i];
    if (st == DB_OK && g.n > 1 && !atomic_load(&w->stop)) {
        enum db_status gst = db_tx_run_on(c, fire_group_tx, &g);
        if (gst == DB_OK) {
            atomic_fetch_add(&w->app->metrics->timers_fired, (unsigned long long)g.fired);
            int left = 0; /* only the purge remains */
            for (int i = 0; i < n; i++)
                if (!strcmp(due[i].kind, PURGE_KIND))
                    due[left++] = due[i];
            n = left;
        } else if (gst == DB_UNAVAILABLE)
            st = gst;
    }
    for (int i = 0; st == DB_OK && i < n && !atomic_load(&w->stop); i++) {
        struct fire f = {.w = w, .t = &due[i]};
        st = db_tx_run_on(c, fire_tx, &f);
        if (st == DB_OK && f.fired)
            atomic_fetch_add(&w->app->metrics->timers_fired, 1);
        if (st != DB_OK && st != DB_UNAVAILABLE) {
            cb_log(CB_LOG_ERROR, "timer failed to fire; dropped",
                   json_pack("{s:s, s:s, s:i}", "kind", due[i].kind, "ref", due[i].ref, "status",
                             (int)st));
            st = db_tx_run_on(c, drop_tx, &due[i]);
        }
    }
    if (st == DB_OK)
        st = *n_due == WORKER_TIMERS_MAX ? (*next_ms = 0, DB_OK) : db_timer_next_ms(c, next_ms);
    return st;
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* One round: the inbox, then the due timers; then it waits for the next timer (a second at
 * most) unless more events are waiting. */
static enum db_status worker_round(void *ctx, bool fresh, int *wait_ms)
{
    struct cb_worker *w = ctx;
    enum db_status st = DB_OK;
    if (fresh) /* the purge timer exists once per database; the first leader sets it */
        st = db_timer_arm(w->seat.conn, PURGE_KIND, PURGE_REF, cb_service_now());
    bool full = false;
    long long next_ms = -1;
    int n_events = 0, n_timers = 0;
    if (st == DB_OK)
        st = apply_inbox(w, &full, &n_events);
    cb_time now = cb_service_now();
    bool look = fresh || n_events == 0 || now - w->timers_looked_at >= WORKER_TIMERS_LOOK_MS ||
                (w->timers_due_at >= 0 && now >= w->timers_due_at);
    if (st == DB_OK && look) {
        st = fire_timers(w, &next_ms, &n_timers);
        w->timers_looked_at = now;
        w->timers_due_at = next_ms < 0 ? -1 : now + next_ms;
    } else if (st == DB_OK) { /* the next look: at the cadence, or when the known one is due */
        next_ms = w->timers_looked_at + WORKER_TIMERS_LOOK_MS - now;
        if (w->timers_due_at >= 0 && w->timers_due_at - now < next_ms)
            next_ms = w->timers_due_at - now;
    }
    if (st != DB_OK)
        return st;
    /* A group's world (thousands of callbacks when its events touch many queues) is freed
     * when it is saved, but glibc keeps the freed pages resident: given back once a second at
     * most while the worker works. */
    if (n_events + n_timers > 0 && now - w->trimmed_at >= 1000) {
        w->trimmed_at = now;
        malloc_trim(0);
    }
    /* Nothing was due yet a timer is said to be: never spin on it. */
    if (n_events == 0 && n_timers == 0 && next_ms == 0)
        next_ms = CB_IDLE_FLOOR_MS;
    *wait_ms = full || next_ms == 0 ? 0 : next_ms < 0 || next_ms > 1000 ? 1000 : (int)next_ms;
    return DB_OK;
}

static void *worker_main(void *arg)
{
    struct cb_worker *w = arg;
    cb_leader_run(&(struct cb_leader_loop){.seat = &w->seat,
                                           .stop = &w->stop,
                                           .ready = &w->app->schema_ready,
                                           .ctx = w,
                                           .round = worker_round});
    return NULL;
}

struct cb_worker *cb_worker_start(struct cb_app *app)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct cb_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->app = app;
    struct db_limits limits = cb_config_db_background_limits(app->cfg);
    if (!cb_leader_init(&w->seat, "worker", app->cfg->database_url, &limits, DB_LEADER_WORKER_KEY,
                        DB_INBOX_CHANNEL, &app->metrics->worker_leader)) {
        free(w);
        return NULL;
    }
    w->dispatcher = cb_dispatcher_start(app);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        cb_dispatcher_stop(w->dispatcher);
        cb_leader_fini(&w->seat);
        free(w);
        return NULL;
    }
    return w;
}

void cb_worker_stop(struct cb_worker *w)
{
    if (!w)
        return;
    cb_dispatcher_stop(w->dispatcher);
    atomic_store(&w->stop, true);
    cb_leader_wake(&w->seat);
    pthread_join(w->thread, NULL);
    cb_leader_fini(&w->seat);
    free(w);
    curl_global_cleanup();
}
