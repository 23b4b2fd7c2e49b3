/* The feed behind GET /v1/stream: one thread per process that follows the change log
 * (db/changes.c) on a session of its own, keeps the latest changes rendered as Server-Sent
 * Events in a ring, and wakes the open streams (api/stream.c) that have something new. It also
 * keeps the token cache true to the database: a deleted token is forgotten (its streams end),
 * and the tokens' last uses are written about once a minute. */
#ifndef API_STREAM_FEED_H
#define API_STREAM_FEED_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "db/changes.h"

struct api_stream_feed;

/* A change rendered as one SSE message ("id: N\nevent: K\ndata: {...}\n\n"). */
struct api_feed_event {
    long long id;
    enum db_change_kind kind;
    char station[CB_NUMBER_MAX]; /* the station token that may see it too ("" for none) */
    char *text;
    size_t len;
};

/* One open stream. The fields under `lock` are shared by the connection's HTTP thread (the
 * content reader, api/stream.c) and the feed's thread (waking it). */
struct api_stream {
    struct api_stream *prev, *next; /* the feed's list (its streams lock) */
    struct api_stream_feed *feed;
    struct MHD_Connection *conn;
    atomic_int refs; /* the response, and the feed while a catch-up for it is queued or read */
    pthread_mutex_t lock;
    bool suspended; /* the reader suspended the connection: the next wake resumes it */
    bool ended;     /* end the stream at the next read (stopping, token revoked) */
    bool reset_due; /* the first message is a reset */
    bool ping_due;  /* a ": ping" is due */
    bool greeted;   /* the opening comment is sent */
    long long pos;  /* the last id delivered or passed over */
    unsigned types; /* 1 << enum db_change_kind: the kinds asked for */
    bool sees_all;  /* admin or operator: every change of those kinds */
    int n_stations; /* else the station:<n> scopes: their callbacks and stations */
    char stations[API_MAX_STATION_SCOPES][CB_NUMBER_MAX];
    char token_id[40];
    uint64_t token_epoch;  /* the token cache's epoch before the token was verified */
    bool token_check_due;  /* its token is looked up again (the feed's streams lock) */
    int64_t expires_ms;    /* the token's expiry (0 none): the stream ends then */
    int64_t last_write_ms; /* CLOCK_MONOTONIC */
    char *out;             /* bytes to send, from out_off to out_len */
    size_t out_len, out_off, out_cap;
    /* Changes older than the ring, read from the database by the feed's thread. */
    bool catchup_queued;
    struct api_stream *catchup_next;
    struct api_feed_event *backlog;
    int backlog_n, backlog_off;
    long long backlog_upto; /* every id up to this one was read */
};

struct cb_text;
/* The feed's lines of /metrics: open streams, the last stream id read, whether its session is
 * up. */
void api_stream_feed_render_metrics(struct api_stream_feed *f, struct cb_text *t);
/* Starts the feed's thread. NULL when out of memory or threads. */
struct api_stream_feed *api_stream_feed_start(struct cb_app *app);
/* Ends every open stream (at their next read) and refuses new ones: before the server drains. */
void api_stream_feed_end_streams(struct api_stream_feed *f);
/* Stops the thread and frees; after MHD_stop_daemon (no stream is left). */
void api_stream_feed_stop(struct api_stream_feed *f);
/* Adds a stream to the feed (one reference is the caller's). False when stopping. */
bool api_stream_feed_add(struct api_stream_feed *f, struct api_stream *s);
/* Removes a stream whose connection is done, and drops the caller's reference. */
void api_stream_feed_remove(struct api_stream_feed *f, struct api_stream *s);
/* Drops one reference to a stream; the last frees it. */
void api_stream_unref(struct api_stream *s);

/* What the reader takes from the feed: the messages after `s->pos` that the ring holds,
 * appended to its output (at most about `budget` bytes). Returns false when the ring no longer
 * holds what follows `s->pos`: a catch-up from the database is then queued (once) and the
 * stream is woken when it is read. Called with s->lock held. */
bool api_stream_feed_take(struct api_stream_feed *f, struct api_stream *s, size_t budget);
/* Appends `n` bytes to the stream's output. False when out of memory. */
bool api_stream_append(struct api_stream *s, const char *text, size_t n);
/* Whether the stream may see the event (its kinds, its scopes). */
bool api_stream_sees(const struct api_stream *s, const struct api_feed_event *e);
/* Resumes the stream's connection when its reader suspended it. Called with s->lock held. */
void api_stream_wake_locked(struct api_stream *s);

#endif
