/* The feed behind GET /v1/stream (api/stream_feed.h).
 *
 * One thread, one database session of its own:
 *  - every FEED_POLL_MS while a stream of this process is open, every second otherwise, it
 *    numbers the committed changes (db/changes.c; any process may, one at a time) and reads
 *    what was numbered, by this process or another. The change log sends no NOTIFY: PostgreSQL
 *    commits the transactions that notify one at a time, and a NOTIFY in its triggers made
 *    every write of the service wait for the others (migration 013);
 *  - LISTEN callbackd_tokens: a token deleted, forgotten at once and its streams ended. A
 *    deletion the feed could not hear (its session was away, or the stream was being opened
 *    as the notification came) is caught by looking the token up again: the streams open
 *    when a session starts listening, and any stream whose token was verified before the
 *    token cache last forgot or cleared (its epoch, api/auth.h); see check_tokens.
 * Every second it also writes the tokens' last uses once they are a minute newer than what was
 * written, and wakes the streams that wrote nothing for 15 s to send them a ping. Once a minute
 * the numbering also purges what is older than the retention.
 *
 * The ring holds the latest FEED_RING changes rendered once, while a stream is open in this
 * process (an idle process keeps none: forget_to); a stream further behind (a client
 * reconnecting with an older Last-Event-ID, or one reading slower than the changes come) gets
 * them read from the database in pages (a catch-up), on this thread, never on an HTTP one. */
#include "api/stream_feed.h"
#include "api/auth.h"
#include "api/callback_json.h"
#include "api/stations.h"
#include "db/leader.h"
#include "db/outage.h"
#include "db/tokens.h"
#include "service/clock.h"
#include "service/config.h"
#include "service/log.h"
#include "service/metrics.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define FEED_RING            8192 /* changes kept rendered */
#define FEED_READ_MAX        1000 /* changes read per query */
#define FEED_TICK_MS         1000
#define FEED_POLL_MS         25 /* the log read while a stream is open: its share of the delay */
#define FEED_OUTAGE_RETRY_MS 5000
#define FEED_PING_MS         15000
#define FEED_PURGE_MS        60000
#define FEED_USES_MS         5000
#define FEED_RETENTION_S     3900 /* an hour is promised; a few minutes more */
/* Numbering while changes keep coming (one numbered in the last FEED_TICK_MS), with no stream
 * open: small batches often rather than a second's worth at once (3,500 changes at 1,000
 * events/s took 47-66 ms of a core in one statement, a stall for everything else on a 2-core
 * machine). */
#define FEED_NUMBER_BUSY_MS 100

struct api_stream_feed {
    struct cb_app *app;
    pthread_t thread;
    bool started;
    int wake_fd;
    atomic_bool stopping;
    atomic_bool closed; /* no new stream */
    struct db_conn *conn;
    atomic_bool connected;      /* conn is up (for /metrics) */
    _Atomic long long sessions; /* sessions opened (for /metrics) */
    atomic_int n_streams;
    atomic_bool token_check_due; /* a stream's token_check_due is set */
    struct db_change *changes;   /* FEED_READ_MAX: one read's rows */
    struct api_feed_event *page; /* FEED_READ_MAX: one read rendered */
    /* The ring: ids in (ring_base, fetched] are all in it (a purged id is just absent). */
    pthread_mutex_t ring_lock;
    struct api_feed_event ring[FEED_RING];
    int ring_start, ring_n;
    long long ring_base, fetched;
    bool known; /* fetched is a position of the database (read at least once) */
    /* Open streams. */
    pthread_mutex_t streams_lock;
    struct api_stream *streams;
    /* Streams waiting for a catch-up. */
    pthread_mutex_t catchup_lock;
    struct api_stream *catchup_head;
};

static void feed_wake(struct api_stream_feed *f)
{
    uint64_t one = 1;
    (void)!write(f->wake_fd, &one, sizeof one);
}

/* ---- streams ---------------------------------------------------------------------------- */

void api_stream_unref(struct api_stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (int i = 0; i < s->backlog_n; i++)
        free(s->backlog[i].text);
    free(s->backlog);
    free(s->out);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool api_stream_append(struct api_stream *s, const char *text, size_t n)
{
    if (s->out_len + n > s->out_cap) {
        size_t cap = (s->out_len + n) * 2;
        char *g = realloc(s->out, cap);
        if (!g)
            return false;
        s->out = g;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, text, n);
    s->out_len += n;
    return true;
}

bool api_stream_sees(const struct api_stream *s, const struct api_feed_event *e)
{
    if (!(s->types & (1u << e->kind)))
        return false;
    if (s->sees_all)
        return true;
    if (e->kind == DB_CHANGE_COMMAND || !e->station[0])
        return false;
    for (int i = 0; i < s->n_stations; i++)
        if (!strcmp(s->stations[i], e->station))
            return true;
    return false;
}

void api_stream_wake_locked(struct api_stream *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

bool api_stream_feed_add(struct api_stream_feed *f, struct api_stream *s)
{
    pthread_mutex_lock(&f->streams_lock);
    bool ok = !atomic_load(&f->closed);
    if (ok) {
        /* Read under the streams lock: a forget after this read ends the stream once it is in
         * the list (end_streams); one before it shows in the epoch. */
        if (strcmp(s->token_id, "admin") != 0 &&
            s->token_epoch != api_token_cache_epoch(f->app->tokens)) {
            s->token_check_due = true;
            atomic_store(&f->token_check_due, true);
        }
        s->feed = f;
        s->next = f->streams;
        if (f->streams)
            f->streams->prev = s;
        f->streams = s;
        atomic_fetch_add(&f->n_streams, 1);
    }
    pthread_mutex_unlock(&f->streams_lock);
    if (ok)
        feed_wake(f); /* the feed polls the log while a stream is open: from now */
    return ok;
}

void api_stream_feed_remove(struct api_stream_feed *f, struct api_stream *s)
{
    pthread_mutex_lock(&f->streams_lock);
    if (s->prev)
        s->prev->next = s->next;
    else if (f->streams == s)
        f->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    atomic_fetch_sub(&f->n_streams, 1);
    pthread_mutex_unlock(&f->streams_lock);
    pthread_mutex_lock(&s->lock);
    s->ended = true; /* a catch-up being read for it is dropped */
    pthread_mutex_unlock(&s->lock);
    api_stream_unref(s);
}

/* Ends the streams of `token_id` (NULL: every stream). */
static void end_streams(struct api_stream_feed *f, const char *token_id)
{
    pthread_mutex_lock(&f->streams_lock);
    for (struct api_stream *s = f->streams; s; s = s->next) {
        if (token_id && strcmp(s->token_id, token_id) != 0)
            continue;
        pthread_mutex_lock(&s->lock);
        s->ended = true;
        api_stream_wake_locked(s);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&f->streams_lock);
}

void api_stream_feed_end_streams(struct api_stream_feed *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->streams_lock);
    atomic_store(&f->closed, true);
    pthread_mutex_unlock(&f->streams_lock);
    end_streams(f, NULL);
}

/* Queues a catch-up for the stream (s->lock held). */
static void queue_catchup(struct api_stream_feed *f, struct api_stream *s)
{
    if (s->catchup_queued)
        return;
    s->catchup_queued = true;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_lock(&f->catchup_lock);
    s->catchup_next = f->catchup_head;
    f->catchup_head = s;
    pthread_mutex_unlock(&f->catchup_lock);
    feed_wake(f);
}

/* The ring index of the first event with an id above `pos` (ring_lock held); ring_n if none. */
static int ring_after(const struct api_stream_feed *f, long long pos)
{
    int lo = 0, hi = f->ring_n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (f->ring[(f->ring_start + mid) % FEED_RING].id <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool api_stream_feed_take(struct api_stream_feed *f, struct api_stream *s, size_t budget)
{
    size_t start = s->out_len;
    /* A catch-up read for it first. */
    while (s->backlog_off < s->backlog_n && s->out_len - start < budget) {
        struct api_feed_event *e = &s->backlog[s->backlog_off++];
        if (e->id > s->pos) {
            if (api_stream_sees(s, e) && !api_stream_append(s, e->text, e->len))
                return true;
            s->pos = e->id;
        }
    }
    if (s->backlog_n && s->backlog_off == s->backlog_n) {
        if (s->backlog_upto > s->pos)
            s->pos = s->backlog_upto;
        for (int i = 0; i < s->backlog_n; i++)
            free(s->backlog[i].text);
        free(s->backlog);
        s->backlog = NULL;
        s->backlog_n = s->backlog_off = 0;
    }
    if (s->backlog_n)
        return true;
    pthread_mutex_lock(&f->ring_lock);
    bool held = true;
    if (f->known && s->pos < f->fetched) {
        if (s->pos < f->ring_base)
            held = false;
        else {
            int i = ring_after(f, s->pos);
            for (; i < f->ring_n && s->out_len - start < budget; i++) {
                const struct api_feed_event *e = &f->ring[(f->ring_start + i) % FEED_RING];
                if (api_stream_sees(s, e) && !api_stream_append(s, e->text, e->len))
                    break;
                s->pos = e->id;
            }
            if (i == f->ring_n)
                s->pos = f->fetched; /* what is left up to it is not in the database */
        }
    }
    pthread_mutex_unlock(&f->ring_lock);
    if (!held && !s->catchup_queued)
        queue_catchup(f, s);
    return held;
}

/* ---- rendering -------------------------------------------------------------------------- */

static const char *const KIND_NAMES[] = {"callback", "command", "station"};

/* Renders a change as its SSE message; false when out of memory. */
static bool render(const struct db_change *ch, struct api_feed_event *out)
{
    memset(out, 0, sizeof *out);
    out->id = ch->id;
    out->kind = ch->kind;
    snprintf(out->station, sizeof out->station, "%s", ch->station);
    char *data = NULL;
    if (ch->kind == DB_CHANGE_COMMAND)
        data = strdup(ch->command ? ch->command : "{}");
    else {
        json_t *doc;
        if (ch->kind == DB_CHANGE_CALLBACK)
            doc = api_callback_json(&ch->callback);
        else {
            json_t *full = api_station_json(&ch->st, ch->cos);
            doc = json_pack("{s:O?, s:O?, s:O?, s:O?}", "number", json_object_get(full, "number"),
                            "callbacks_allowed", json_object_get(full, "callbacks_allowed"),
                            "state", json_object_get(full, "state"), "softkey",
                            json_object_get(full, "softkey"));
            json_decref(full);
        }
        data = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
    }
    if (!data)
        return false;
    size_t cap = strlen(data) + 96;
    out->text = malloc(cap);
    if (out->text) {
        int n = snprintf(out->text, cap, "id: %lld\nevent: %s\ndata: %s\n\n", ch->id,
                         KIND_NAMES[ch->kind], data);
        out->len = n > 0 ? (size_t)n : 0;
    }
    free(data);
    return out->text != NULL;
}

/* Reads and renders the changes in (after, upto] (at most FEED_READ_MAX); `*n` rendered. The
 * caller frees the events' texts. */
static enum db_status read_events(struct api_stream_feed *f, long long after, long long upto,
                                  struct api_feed_event *out, int *n)
{
    int got = 0;
    *n = 0;
    enum db_status st = db_changes_read(f->conn, after, upto, f->changes, FEED_READ_MAX, &got);
    for (int i = 0; st == DB_OK && i < got; i++)
        if (render(&f->changes[i], &out[*n]))
            (*n)++;
    db_changes_clear(f->changes, got);
    return st;
}

/* ---- the thread ------------------------------------------------------------------------- */

/* Appends rendered events to the ring (the ring takes their texts) and wakes the streams that
 * may see one of them. */
static void publish(struct api_stream_feed *f, struct api_feed_event *ev, int n, long long upto)
{
    pthread_mutex_lock(&f->ring_lock);
    for (int i = 0; i < n; i++) {
        if (f->ring_n == FEED_RING) {
            struct api_feed_event *old = &f->ring[f->ring_start];
            f->ring_base = old->id;
            free(old->text);
            f->ring_start = (f->ring_start + 1) % FEED_RING;
            f->ring_n--;
        }
        f->ring[(f->ring_start + f->ring_n) % FEED_RING] = ev[i];
        f->ring_n++;
    }
    f->fetched = upto;
    pthread_mutex_unlock(&f->ring_lock);
    if (!n)
        return;
    pthread_mutex_lock(&f->streams_lock);
    for (struct api_stream *s = f->streams; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        if (s->suspended)
            for (int i = 0; i < n; i++)
                if (ev[i].id > s->pos && api_stream_sees(s, &ev[i])) {
                    api_stream_wake_locked(s);
                    break;
                }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&f->streams_lock);
}

/* Resumes every stream waiting for something to send. Used when the feed first learns the
 * log's position (f->known): a stream that looked before that had nothing to compare its
 * position with, so it asked for no catch-up and waits; once woken it asks. Without this, a
 * stream opened in the moment between start-up and the feed's first read waited for the next
 * change, or its 15 s ping, before it got the changes it had asked to catch up on. */
static void wake_streams(struct api_stream_feed *f)
{
    pthread_mutex_lock(&f->streams_lock);
    for (struct api_stream *s = f->streams; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        api_stream_wake_locked(s);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&f->streams_lock);
}

/* With no stream open in this process: the ring is emptied and starts at `last_id`, so that an
 * idle process keeps no rendered change (up to FEED_RING of them: most of its memory). A stream
 * that opens later with an older position is caught up from the database. */
static void forget_to(struct api_stream_feed *f, long long last_id)
{
    pthread_mutex_lock(&f->ring_lock);
    bool had = f->ring_n > 0, was_known = f->known;
    for (int i = 0; i < f->ring_n; i++)
        free(f->ring[(f->ring_start + i) % FEED_RING].text);
    f->ring_start = f->ring_n = 0;
    if (!f->known || last_id > f->fetched)
        f->fetched = last_id;
    f->ring_base = f->fetched;
    f->known = true;
    pthread_mutex_unlock(&f->ring_lock);
    if (had)
        malloc_trim(0); /* the texts' pages back to the system */
    if (!was_known)
        wake_streams(f);
}

/* Reads everything numbered up to `last_id` into the ring. */
static enum db_status fetch_to(struct api_stream_feed *f, long long last_id)
{
    struct api_feed_event *ev = f->page;
    if (!f->known) {
        pthread_mutex_lock(&f->ring_lock);
        f->ring_base = f->fetched = last_id;
        f->known = true;
        pthread_mutex_unlock(&f->ring_lock);
        wake_streams(f);
        return DB_OK;
    }
    while (f->fetched < last_id) {
        long long upto =
            last_id < f->fetched + FEED_READ_MAX ? last_id : f->fetched + FEED_READ_MAX;
        int n = 0;
        enum db_status st = read_events(f, f->fetched, upto, ev, &n);
        if (st != DB_OK)
            return st;
        publish(f, ev, n, upto);
    }
    return DB_OK;
}

/* Reads one page for each stream waiting for a catch-up. */
static enum db_status serve_catchups(struct api_stream_feed *f)
{
    pthread_mutex_lock(&f->catchup_lock);
    struct api_stream *queue = f->catchup_head;
    f->catchup_head = NULL;
    pthread_mutex_unlock(&f->catchup_lock);
    enum db_status st = DB_OK;
    while (queue) {
        struct api_stream *s = queue;
        queue = s->catchup_next;
        pthread_mutex_lock(&s->lock);
        long long pos = s->pos;
        bool ended = s->ended;
        pthread_mutex_unlock(&s->lock);
        struct api_feed_event *ev = NULL;
        int n = 0;
        long long upto = pos + FEED_READ_MAX;
        if (!ended && st == DB_OK && f->conn && (ev = calloc(FEED_READ_MAX, sizeof *ev))) {
            pthread_mutex_lock(&f->ring_lock);
            if (upto > f->ring_base)
                upto = f->ring_base;
            pthread_mutex_unlock(&f->ring_lock);
            st = read_events(f, pos, upto, ev, &n);
        }
        pthread_mutex_lock(&s->lock);
        s->catchup_queued = false;
        if (st == DB_OK && ev && !s->ended && s->pos == pos) {
            s->backlog = ev;
            s->backlog_n = n;
            s->backlog_off = 0;
            s->backlog_upto = upto;
            ev = NULL;
        }
        /* Woken either way: on a failure it asks again (the next tick). */
        api_stream_wake_locked(s);
        pthread_mutex_unlock(&s->lock);
        for (int i = 0; ev && i < n; i++)
            free(ev[i].text);
        free(ev);
        api_stream_unref(s);
    }
    return st;
}

/* Sends a ping to the streams that wrote nothing for FEED_PING_MS. */
static void ping_streams(struct api_stream_feed *f, long long now)
{
    pthread_mutex_lock(&f->streams_lock);
    for (struct api_stream *s = f->streams; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        if (now - s->last_write_ms >= FEED_PING_MS ||
            (s->expires_ms && s->expires_ms <= api_now_ms())) {
            s->ping_due = true;
            api_stream_wake_locked(s);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&f->streams_lock);
}

/* Sets token_check_due on every stream with a minted token (`all`), or on those whose token is
 * one of `ids` (a JSON array of strings). */
static void mark_token_checks(struct api_stream_feed *f, bool all, json_t *ids)
{
    bool any = false;
    pthread_mutex_lock(&f->streams_lock);
    for (struct api_stream *s = f->streams; s; s = s->next) {
        if (!strcmp(s->token_id, "admin"))
            continue;
        size_t i;
        json_t *id;
        bool mark = all;
        json_array_foreach(ids, i, id) mark = mark || !strcmp(s->token_id, json_string_value(id));
        s->token_check_due |= mark;
        any |= mark;
    }
    if (any)
        atomic_store(&f->token_check_due, true);
    pthread_mutex_unlock(&f->streams_lock);
}

/* Looks up again the tokens of the streams marked token_check_due, and ends the streams (and
 * forgets the cached entries) of those deleted. On this session, which listens already: a
 * deletion after the lookup is heard, and the stream it concerns is in the list by then. */
static enum db_status check_tokens(struct api_stream_feed *f)
{
    if (!atomic_exchange(&f->token_check_due, false))
        return DB_OK;
    json_t *ids = json_array();
    pthread_mutex_lock(&f->streams_lock);
    for (struct api_stream *s = f->streams; s && ids; s = s->next)
        if (s->token_check_due) {
            s->token_check_due = false;
            json_array_append_new(ids, json_string(s->token_id));
        }
    pthread_mutex_unlock(&f->streams_lock);
    json_t *gone = NULL;
    enum db_status st = json_array_size(ids) ? db_tokens_gone(f->conn, ids, &gone) : DB_OK;
    if (st != DB_OK)
        mark_token_checks(f, false, ids); /* again, on the next pass */
    size_t i;
    json_t *id;
    json_array_foreach(gone, i, id)
    {
        api_token_cache_forget(f->app->tokens, json_string_value(id));
        end_streams(f, json_string_value(id));
    }
    json_decref(gone);
    json_decref(ids);
    return st;
}

/* Writes the tokens' uses; those not written are given back to the cache, for the next time. */
static enum db_status write_uses(struct api_stream_feed *f, json_t *uses)
{
    if (!json_array_size(uses)) {
        json_decref(uses);
        return DB_OK;
    }
    enum db_status st = db_tokens_touch(f->conn, json_incref(uses));
    if (st != DB_OK)
        api_token_cache_unwritten(f->app->tokens, uses);
    json_decref(uses);
    return st;
}

static bool connect_feed(struct api_stream_feed *f)
{
    /* The API's limits: a hung database holds the feed (and a SIGTERM's wait for it) no longer
     * than a request. */
    struct db_limits limits = cb_config_db_api_limits(f->app->cfg);
    f->conn = db_conn_open(f->app->cfg->database_url, &limits);
    if (!f->conn)
        return false;
    if (db_listen(f->conn, DB_TOKENS_REVOKED_CHANNEL) != DB_OK) {
        db_conn_close(f->conn);
        f->conn = NULL;
        return false;
    }
    /* A token deleted while this session was away was not heard of: look every token up
     * again. The uses the dropped entries carried are written now (at the start they are
     * those of the first requests, which raced this session's connection). */
    write_uses(f, api_token_cache_clear(f->app->tokens));
    atomic_fetch_add(&f->sessions, 1);
    /* So were the streams' tokens: those open now are looked up again (check_tokens); those
     * added later that were verified before the clear are, by their epoch. */
    mark_token_checks(f, true, NULL);
    return true;
}

/* Handles the notifications that arrived (a token deleted). */
static void take_notifications(struct api_stream_feed *f)
{
    PGnotify *note;
    while ((note = PQnotifies(f->conn->pg))) {
        if (!strcmp(note->relname, DB_TOKENS_REVOKED_CHANNEL)) {
            api_token_cache_forget(f->app->tokens, note->extra);
            end_streams(f, note->extra);
        }
        PQfreemem(note);
    }
}

/* Waits for a notification, a wake-up or `timeout_ms`. */
static void wait_for_work(struct api_stream_feed *f, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = f->wake_fd, .events = POLLIN},
                            {.fd = f->conn ? PQsocket(f->conn->pg) : -1, .events = POLLIN}};
    if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
        return;
    uint64_t count;
    if (fds[0].revents & POLLIN)
        (void)!read(f->wake_fd, &count, sizeof count);
    if (f->conn && fds[1].revents && !PQconsumeInput(f->conn->pg)) {
        db_conn_close(f->conn);
        f->conn = NULL;
    }
}

/* Whether changes keep coming: a numbering gave new ids (at `advanced_at`, 0: never) within the
 * last tick. The log is then numbered every FEED_NUMBER_BUSY_MS. */
static bool changes_coming(long long advanced_at, long long now)
{
    return advanced_at > 0 && now - advanced_at < FEED_TICK_MS;
}

static void *feed_main(void *arg)
{
    struct api_stream_feed *f = arg;
    long long last_try = 0, last_tick = 0, last_purge = 0, last_uses = 0, last_poll = 0;
    /* When the log was last numbered, up to which id, and when that last gave new ids. */
    long long last_number = 0, numbered_to = -1, advanced_at = 0;
    bool number = true, fetch = true;
    bool was_down = false;
    while (!atomic_load(&f->stopping)) {
        long long now = cb_monotonic_ms();
        /* While the process knows the database away, the API's probe, the worker and the
         * dispatcher find out when it is back: one more attempt hanging on it each second
         * would only add failures, some ending just after its return. */
        long long retry_ms = db_outage_ongoing() ? FEED_OUTAGE_RETRY_MS : FEED_TICK_MS;
        if (!f->conn && now - last_try >= retry_ms) {
            last_try = now;
            if (connect_feed(f)) {
                number = fetch = true;
                if (was_down)
                    cb_logf(CB_LOG_INFO, "stream feed: database reachable again");
                was_down = false;
            } else if (!was_down) {
                cb_logf(CB_LOG_WARN, "stream feed: database unreachable; retrying every second");
                was_down = true;
            }
        }
        if (now - last_tick >= FEED_TICK_MS) {
            last_tick = now;
            number = fetch = true;
            ping_streams(f, now);
        }
        bool streaming = atomic_load(&f->n_streams) > 0;
        if (streaming && now - last_poll >= FEED_POLL_MS) {
            last_poll = now;
            number = fetch = true;
        }
        if (changes_coming(advanced_at, now) && now - last_number >= FEED_NUMBER_BUSY_MS)
            number = true;
        enum db_status st = DB_OK;
        if (f->conn) {
            take_notifications(f);
            long long last_id = -1, purged;
            if (number) {
                bool purge = now - last_purge >= FEED_PURGE_MS;
                st = db_changes_number(f->conn, purge, FEED_RETENTION_S, &last_id);
                if (st == DB_OK && purge)
                    last_purge = now;
                if (st == DB_OK) {
                    if (numbered_to >= 0 && last_id != numbered_to)
                        advanced_at = now;
                    numbered_to = last_id;
                    last_number = now;
                }
                number = false;
                fetch = true;
            }
            if (st == DB_OK && fetch) {
                if (last_id < 0)
                    st = db_changes_position(f->conn, &last_id, &purged);
                if (st == DB_OK && streaming)
                    st = fetch_to(f, last_id);
                else if (st == DB_OK)
                    forget_to(f, last_id);
                fetch = false;
            }
            if (st == DB_OK)
                st = check_tokens(f);
            if (st == DB_OK)
                st = serve_catchups(f);
            if (st == DB_OK && now - last_uses >= FEED_USES_MS) {
                last_uses = now;
                st = write_uses(f, api_token_cache_uses(f->app->tokens));
            }
            if (st != DB_OK && st != DB_RETRY &&
                (st == DB_UNAVAILABLE || PQstatus(f->conn->pg) != CONNECTION_OK)) {
                db_conn_close(f->conn);
                f->conn = NULL;
                number = fetch = true;
            }
            if (f->conn)
                take_notifications(f);
        }
        atomic_store(&f->connected, f->conn != NULL);
        /* More came meanwhile: at once. After a failure, or with no session, the next tick. */
        if (f->conn && st == DB_OK && (number || fetch))
            continue;
        long long at = cb_monotonic_ms(), next = last_tick + FEED_TICK_MS - at;
        if (streaming && last_poll + FEED_POLL_MS - at < next)
            next = last_poll + FEED_POLL_MS - at;
        if (changes_coming(advanced_at, at) && last_number + FEED_NUMBER_BUSY_MS - at < next)
            next = last_number + FEED_NUMBER_BUSY_MS - at;
        wait_for_work(f, next < 0 ? 0 : (int)next);
    }
    return NULL;
}

void api_stream_feed_render_metrics(struct api_stream_feed *f, struct cb_text *t)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->ring_lock);
    long long fetched = f->known ? f->fetched : 0;
    pthread_mutex_unlock(&f->ring_lock);
    cb_text_printf(t,
                   "# HELP callbackd_streams_open Open GET /v1/stream answers of this process.\n"
                   "# TYPE callbackd_streams_open gauge\n"
                   "callbackd_streams_open %d\n"
                   "# HELP callbackd_stream_last_id The last change id this process's streams "
                   "can send.\n"
                   "# TYPE callbackd_stream_last_id gauge\n"
                   "callbackd_stream_last_id %lld\n"
                   "# HELP callbackd_stream_feed_connected 1 while the stream feed's database "
                   "session is up.\n"
                   "# TYPE callbackd_stream_feed_connected gauge\n"
                   "callbackd_stream_feed_connected %d\n"
                   "# HELP callbackd_stream_feed_sessions_total Database sessions the stream feed "
                   "opened (each drops the token cache).\n"
                   "# TYPE callbackd_stream_feed_sessions_total counter\n"
                   "callbackd_stream_feed_sessions_total %lld\n",
                   atomic_load(&f->n_streams), fetched, atomic_load(&f->connected) ? 1 : 0,
                   atomic_load(&f->sessions));
}

struct api_stream_feed *api_stream_feed_start(struct cb_app *app)
{
    struct api_stream_feed *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->app = app;
    f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    f->changes = calloc(FEED_READ_MAX, sizeof *f->changes);
    f->page = calloc(FEED_READ_MAX, sizeof *f->page);
    pthread_mutex_init(&f->ring_lock, NULL);
    pthread_mutex_init(&f->streams_lock, NULL);
    pthread_mutex_init(&f->catchup_lock, NULL);
    if (f->wake_fd < 0 || !f->changes || !f->page ||
        pthread_create(&f->thread, NULL, feed_main, f) != 0) {
        api_stream_feed_stop(f);
        return NULL;
    }
    f->started = true;
    return f;
}

void api_stream_feed_stop(struct api_stream_feed *f)
{
    if (!f)
        return;
    atomic_store(&f->stopping, true);
    if (f->started) {
        feed_wake(f);
        pthread_join(f->thread, NULL);
    }
    db_conn_close(f->conn);
    f->conn = NULL;
    serve_catchups(f); /* drops the references of what is still queued */
    for (int i = 0; i < f->ring_n; i++)
        free(f->ring[(f->ring_start + i) % FEED_RING].text);
    if (f->wake_fd >= 0)
        close(f->wake_fd);
    pthread_mutex_destroy(&f->ring_lock);
    pthread_mutex_destroy(&f->streams_lock);
    pthread_mutex_destroy(&f->catchup_lock);
    free(f->changes);
    free(f->page);
    free(f);
}
