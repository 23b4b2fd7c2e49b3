/* GET /v1/stream: the live changes as Server-Sent Events (api/stream_feed.c follows the change
 * log and keeps them rendered). The handler runs on a request thread: it checks the query and
 * Last-Event-ID, reads the log's position (a reset when the id asked for is no longer kept, or
 * was never given) and answers with a response whose content reader runs on the connection's
 * HTTP thread. When the reader has nothing to send it suspends the connection, which then costs
 * no thread and no wake-up until the feed resumes it: a change it may see, a catch-up read for
 * it, a ping due, its end. */
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/stream_feed.h"
#include "api/validate.h"
#include "service/clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The response's own buffer: libmicrohttpd allocates it with each response, and writes a chunked
 * answer into the connection's buffer instead; kept small, it costs an open stream nothing. */
#define STREAM_BLOCK  256
#define STREAM_BUDGET 16384 /* bytes of messages taken from the feed per read, about */

static const char *const TYPE_NAMES[] = {"callback", "command", "station"};

/* Fills the stream's output with what is due (s->lock held). */
static void fill(struct api_stream *s)
{
    if (!s->greeted) {
        s->greeted = true;
        api_stream_append(s, ": ok\n\n", 6);
    }
    if (s->reset_due) {
        char reset[64];
        int n = snprintf(reset, sizeof reset, "id: %lld\nevent: reset\ndata: {}\n\n", s->pos);
        s->reset_due = false;
        api_stream_append(s, reset, (size_t)n);
    }
    if (s->ping_due) {
        s->ping_due = false;
        api_stream_append(s, ": ping\n\n", 8);
    }
    if (s->expires_ms && s->expires_ms <= api_now_ms())
        s->ended = true; /* the token expired: the client reconnects and is refused */
    if (!s->ended)
        api_stream_feed_take(s->feed, s, STREAM_BUDGET);
}

/* Gives back to the kernel the whole pages of `buf` (the free part of the connection's memory
 * pool, libmicrohttpd's to lend to the reader, ours to fill until we return): libmicrohttpd
 * zeroes what it frees in its pool, so a connection's whole 64 KiB pool is resident once a
 * request went through it; an idle stream keeps only the pages in use. For anonymous private
 * memory MADV_DONTNEED is the same as writing zeros, which the reader may do. */
static void release_idle_pages(char *buf, size_t max)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)buf + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t to = ((uintptr_t)buf + max) & ~((uintptr_t)page - 1);
    if (to > from)
        (void)madvise((void *)from, to - from, MADV_DONTNEED);
}

/* libmicrohttpd's content reader, on the connection's HTTP thread. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct api_stream *s = cls;
    ssize_t n;
    pthread_mutex_lock(&s->lock);
    if (s->out_off == s->out_len) {
        s->out_off = s->out_len = 0;
        fill(s);
    }
    if (s->out_off < s->out_len) {
        size_t take = s->out_len - s->out_off < max ? s->out_len - s->out_off : max;
        memcpy(buf, s->out + s->out_off, take);
        s->out_off += take;
        s->last_write_ms = cb_monotonic_ms();
        n = (ssize_t)take;
    } else if (s->ended)
        n = MHD_CONTENT_READER_END_OF_STREAM;
    else {
        /* Nothing to send: no thread waits for it; the feed resumes the connection. An idle
         * stream keeps no buffer. */
        free(s->out);
        s->out = NULL;
        s->out_cap = s->out_len = s->out_off = 0;
        release_idle_pages(buf, max);
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The response is done with (the connection closed or the stream ended). */
static void stream_free(void *cls)
{
    struct api_stream *s = cls;
    api_stream_feed_remove(s->feed, s);
}

/* ?types=: the kinds asked for, comma-separated; 0 when one is not a kind. */
static unsigned parse_types(const char *v)
{
    unsigned types = 0;
    for (const char *p = v;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        unsigned found = 0;
        for (unsigned k = 0; k < 3; k++)
            if (strlen(TYPE_NAMES[k]) == n && !strncmp(TYPE_NAMES[k], p, n))
                found = 1u << k;
        if (!found)
            return 0;
        types |= found;
        if (!end)
            return types;
        p = end + 1;
    }
}

void api_stream_get(struct api_request *r)
{
    json_t *errors = json_array();
    unsigned types = 7;
    const char *t = api_query(r, "types", errors);
    if (t && !(types = parse_types(t)))
        api_field_error(errors, "types",
                        "must be a comma-separated list of callback, command, station");
    int64_t after = -1;
    const char *a = api_query(r, "after", errors);
    if (a && !api_parse_whole(a, INT64_MAX, &after))
        api_field_error(errors, "after", "must be a stream id (a whole number, 0 or more)");
    const char *last;
    int n_last = api_header(r, "Last-Event-ID", &last);
    if (n_last > 1)
        api_field_error(errors, "Last-Event-ID", "give it once");
    else if (n_last == 1 && !api_parse_whole(last, INT64_MAX, &after))
        api_field_error(errors, "Last-Event-ID", "must be a stream id (a whole number)");
    if (json_array_size(errors)) {
        api_reply_validation(r, errors);
        return;
    }
    json_decref(errors);
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    long long last_id = 0, purged = 0;
    enum db_status st = db_changes_position(c, &last_id, &purged);
    api_conn_release(r, c);
    if (st != DB_OK) {
        api_reply_db_error(r, st);
        return;
    }
    struct api_stream *s = calloc(1, sizeof *s);
    if (!s) {
        api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        return;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_store(&s->refs, 1);
    s->conn = r->conn;
    s->types = types;
    s->sees_all = r->who.admin || r->who.operator;
    s->n_stations = r->who.n_stations;
    memcpy(s->stations, r->who.stations, sizeof s->stations);
    snprintf(s->token_id, sizeof s->token_id, "%s", r->who.token_id);
    s->token_epoch = r->who.cache_epoch;
    s->expires_ms = r->who.expires_ms;
    s->last_write_ms = cb_monotonic_ms();
    /* An id this database never gave, or one whose changes are purged: the client reloads. */
    if (after >= 0 && after <= last_id && after >= purged)
        s->pos = after;
    else {
        s->pos = last_id;
        s->reset_due = after >= 0;
    }
    if (!api_stream_feed_add(r->app->streams, s)) {
        api_stream_unref(s);
        api_reply_problem(r, API_SERVICE_UNAVAILABLE, "the service is stopping; retry later");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  stream_read, s, stream_free);
    if (!resp) {
        api_stream_feed_remove(r->app->streams, s);
        api_reply_problem(r, API_INTERNAL_ERROR, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    api_reply_response(r, 200, resp);
}
