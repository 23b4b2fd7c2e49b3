#include "db/pool.h"
#include "db/handoff.h"
#include "db/world_pool.h"
#include "db/leader.h"
#include "db/outage.h"
#include "service/log.h"
#include "service/clock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct db_pool {
    char *url;
    int size;
    int wait_ms; /* for a free connection */
    struct db_limits limits;
    struct db_conn *conns;
    pthread_mutex_t lock;
    pthread_cond_t freed; /* on CLOCK_MONOTONIC */
    int in_use;
};

static atomic_int next_slot;
/* Shutting down: no wait on the server lasts past this (monotonic ms; 0: no cap). */
static atomic_llong waits_end_ms;

static enum db_status run_round_trip(struct db_conn *c, struct db_pipeline *p, bool commit);

/* A wait on the server looks this often whether a shutdown has capped it (waits_end_ms). */
#define WAIT_SLICE_MS 100

/* When the answer to a round trip sent now is due (monotonic ms; -1: never). A shutdown's cap
 * comes on top, in await_answer: it may come while the answer is awaited. */
static long long answer_deadline(const struct db_conn *c)
{
    return c->limits.answer_timeout_ms > 0 ? cb_monotonic_ms() + c->limits.answer_timeout_ms : -1;
}

void db_waits_end_within(int ms)
{
    atomic_store(&waits_end_ms, cb_monotonic_ms() + ms);
}

/* Drops the session: the next use reconnects. */
static void drop(struct db_conn *c)
{
    if (c->pg)
        PQfinish(c->pg); /* non-blocking: the Terminate message is not waited on */
    c->pg = NULL;
    memset(c->prepared, 0, sizeof c->prepared);
}

/* Sends what libpq holds and waits until the next result can be read without blocking, or
 * `deadline` (or a shutdown's cap, db_waits_end_within) passes. False when it did not come in
 * time (`*late`) or the connection failed. */
static bool await_answer(struct db_conn *c, long long deadline, bool *late)
{
    PGconn *pg = c->pg;
    *late = false;
    for (;;) {
        int unsent = PQflush(pg); /* 1: more to send once the socket takes it */
        if (unsent < 0)
            return false;
        if (unsent == 0 && !PQisBusy(pg))
            return true;
        long long cap = atomic_load(&waits_end_ms);
        long long until = cap > 0 && (deadline < 0 || cap < deadline) ? cap : deadline;
        int wait = WAIT_SLICE_MS;
        if (until >= 0) {
            long long left = until - cb_monotonic_ms();
            if (left <= 0) {
                *late = true;
                return false;
            }
            if (left < wait)
                wait = (int)left;
        }
        struct pollfd fd = {.fd = PQsocket(pg), .events = POLLIN | (unsent ? POLLOUT : 0)};
        int n = c->await ? c->await(c->await_ctx, &fd, wait) : poll(&fd, 1, wait);
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0 && (fd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(pg))
            return false;
    }
}

/* The connection did not answer: drops it; no answer in time is an outage, a broken connection
 * alone is not (the next use reconnects, and that attempt tells). */
static void lost(struct db_conn *c, bool late, long long deadline)
{
    if (late) {
        char error[96];
        snprintf(error, sizeof error, "no answer from the database within %d ms",
                 c->limits.answer_timeout_ms);
        db_outage_failed(error, deadline - c->limits.answer_timeout_ms);
    }
    drop(c);
}

/* The next result of what was sent, waiting no longer than `deadline`: NULL at the end of the
 * results, or with `*failed` when the answer did not come (the connection is then dropped). */
static PGresult *next_result(struct db_conn *c, long long deadline, bool *failed)
{
    bool late;
    *failed = !await_answer(c, deadline, &late);
    if (*failed) {
        lost(c, late, deadline);
        return NULL;
    }
    return PQgetResult(c->pg);
}

/* The outcome of the query just sent, as PQexec gives it (its last result, or its first error);
 * NULL when no answer came in time or the connection broke (then dropped). */
static PGresult *collect(struct db_conn *c, long long deadline)
{
    PGresult *last = NULL, *r;
    bool failed;
    while ((r = next_result(c, deadline, &failed)) != NULL) {
        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(last);
            last = r;
        }
    }
    if (failed) {
        PQclear(last);
        return NULL;
    }
    db_outage_answered();
    return last;
}

/* PQexec with the connection's answer timeout. */
static PGresult *exec_simple(struct db_conn *c, const char *sql)
{
    if (!PQsendQuery(c->pg, sql)) {
        drop(c);
        return NULL;
    }
    return collect(c, answer_deadline(c));
}

/* A PostgreSQL backend allocates through glibc's malloc, which gives the top of its heap back to
 * the kernel (brk) whenever more than its trim threshold is free there: 128 KiB until the
 * process frees a block that malloc had mapped on its own, which raises the threshold to twice
 * that block's size (mallopt(3), dynamic mmap threshold). A batch of 100 events (a few hundred
 * KiB of parameter, jsonb and tuples, in pieces under 128 KiB) then grows the heap and gives it
 * back at every statement, and each give-back flushes the TLB of every CPU the process ran on:
 * an inter-processor interrupt, which on a virtual machine costs a VM exit. Measured on the
 * 2-core bench VM (perf, tests/bench accept run after the latency run): the backends spent a
 * fifth of their time there, and 17,700 events/s were accepted instead of 33,000. Whether a
 * backend falls into it depends on its history (one fed single events first does). A 2 MiB
 * block made and freed once per session, at connect, sets the threshold to 4 MiB for the
 * session's life: the heap stays grown to what a statement needs. */
#define DB_BACKEND_HEAP_KEEP (2 * 1024 * 1024)

static PGconn *connect_url(const char *url, const struct db_limits *limits)
{
    /* connect_timeout bounds the whole start-up exchange: a server that accepts and never
     * answers fails in time too. Keepalives let an idle session (the worker's LISTEN) notice a
     * server that vanished from the network; they come before the URL, which may set its own
     * (libpq: later settings win), while connect_timeout is CALLBACKD_DB_CONNECT_TIMEOUT_S's. */
    long long began = cb_monotonic_ms();
    char connect_timeout[16], statements[256];
    snprintf(connect_timeout, sizeof connect_timeout, "%d", limits->connect_timeout_s);
    const char *keys[] = {
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
        "dbname",     "connect_timeout", "application_name",    NULL};
    const char *vals[] = {"1", "30", "10", "3", url, connect_timeout, "callbackd", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg && PQstatus(pg) == CONNECTION_OK && PQsetnonblocking(pg, 1) == 0) {
        /* First, one large allocation in the server process, made and freed (DB_BACKEND_HEAP_KEEP).
         * Then: every statement here is a short OLTP query built around an index. JIT compiling one
         * (switched on by a misestimate) costs more than running it; and a sequential scan is
         * what a generic plan picks on a small or middling table when it misjudges
         * jsonb_to_recordset (100 rows) or = ANY(array parameter), whose filter then costs rows
         * times elements. Both off for the session, keeping the URL's own options; a table
         * without a usable index is still read, scans are only discouraged. */
        int n = snprintf(statements, sizeof statements,
                         "DO $$BEGIN PERFORM repeat('x', %d); END$$; "
                         "SET jit = off; SET enable_seqscan = off",
                         DB_BACKEND_HEAP_KEEP);
        if (limits->statement_timeout_ms > 0) /* the API's sessions (CALLBACKD_DB_*) */
            snprintf(statements + n, sizeof statements - (size_t)n, "; SET statement_timeout = %d",
                     limits->statement_timeout_ms);
        struct db_conn setup = {.pg = pg, .limits = *limits};
        setup.limits.answer_timeout_ms = limits->connect_timeout_s * 1000;
        PGresult *r = exec_simple(&setup, statements);
        bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok && r)
            db_outage_failed(PQresultErrorMessage(r), began);
        else if (!ok && !db_outage_ongoing()) /* no answer in time was noted already */
            db_outage_failed("the connection closed as it was set up", began);
        PQclear(r);
        if (ok)
            return pg;
        drop(&setup);
        return NULL;
    }
    /* One warning per outage (db/outage.c), not one per attempt. */
    db_outage_failed(pg ? PQerrorMessage(pg) : "out of memory", began);
    if (pg)
        PQfinish(pg);
    return NULL;
}

/* Whether an idle session is still there: a server that closed it (restart, shutdown, a
 * terminated backend) left its goodbye and end-of-file on the socket, which a look without
 * waiting finds. A `quiet` session (a pooled one: no LISTEN there) has nothing else to hear
 * between transactions, so anything at all means it is gone, even while libpq, having read
 * only the goodbye, still says the connection is fine. */
static bool idle_session_alive(PGconn *pg, bool quiet)
{
    if (PQstatus(pg) != CONNECTION_OK)
        return false;
    struct pollfd fd = {.fd = PQsocket(pg), .events = POLLIN};
    if (poll(&fd, 1, 0) <= 0)
        return true;
    if (quiet) {
        if (!db_outage_ongoing()) /* during one, the outage's warning says it all */
            cb_logf(CB_LOG_INFO, "pooled database connection closed by the server: reconnecting");
        return false;
    }
    return PQconsumeInput(pg) && PQstatus(pg) == CONNECTION_OK;
}

/* Whether the connection is usable; reconnects when it is not. */
static bool conn_ensure(struct db_conn *c, bool quiet)
{
    if (c->pg && idle_session_alive(c->pg, quiet))
        return true;
    drop(c);
    c->pg = connect_url(c->url, &c->limits);
    return c->pg != NULL;
}

struct db_conn *db_conn_open(const char *url, const struct db_limits *limits)
{
    struct db_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->url = strdup(url);
    c->limits = *limits;
    if (!c->url || !conn_ensure(c, false)) {
        free(c->url);
        free(c);
        return NULL;
    }
    return c;
}

void db_conn_close(struct db_conn *c)
{
    if (!c)
        return;
    db_discard(c);
    db_world_forget(c);
    free(c->deferred);
    drop(c);
    free(c->url);
    free(c);
}

struct db_pool *db_pool_new(const char *url, int size, const struct db_limits *limits, int wait_ms)
{
    struct db_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->url = strdup(url);
    p->size = size;
    p->wait_ms = wait_ms;
    p->limits = *limits;
    p->conns = calloc((size_t)size, sizeof *p->conns);
    if (!p->url || !p->conns) {
        free(p->conns);
        free(p->url);
        free(p);
        return NULL;
    }
    for (int i = 0; i < size; i++) {
        p->conns[i].url = p->url; /* the pool's: not freed with the connection */
        p->conns[i].limits = *limits;
    }
    pthread_mutex_init(&p->lock, NULL);
    cb_cond_init_monotonic(&p->freed);
    return p;
}

void db_pool_free(struct db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; p->conns && i < p->size; i++) {
        drop(&p->conns[i]);
        db_discard(&p->conns[i]);
        free(p->conns[i].deferred);
    }
    free(p->conns);
    free(p->url);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p);
}

struct db_conn *db_pool_acquire(struct db_pool *p, enum db_status *why)
{
    *why = DB_UNAVAILABLE;
    /* During an outage, only the probe goes on: the others are refused without waiting. */
    if (!db_outage_may_try())
        return NULL;
    struct timespec until = cb_monotonic_at(cb_monotonic_ms() + p->wait_ms);
    struct db_conn *c = NULL;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* Prefer a connection that is already open. */
        for (int i = 0; i < p->size && !c; i++)
            if (!p->conns[i].in_use && p->conns[i].pg)
                c = &p->conns[i];
        for (int i = 0; i < p->size && !c; i++)
            if (!p->conns[i].in_use)
                c = &p->conns[i];
        if (c)
            break;
        if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
    }
    c->in_use = true;
    p->in_use++;
    pthread_mutex_unlock(&p->lock);
    /* A connection the server closed while it sat in the pool is opened afresh, instead of
     * failing the request it is given to with a 503 (each pooled connection once, after a
     * restart of the database: for many seconds when requests are few). */
    if (!conn_ensure(c, true)) {
        db_pool_release(p, c);
        return NULL;
    }
    *why = DB_OK;
    return c;
}

void db_pool_release(struct db_pool *p, struct db_conn *c)
{
    db_discard(c);
    if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* Left inside a transaction (an error path): roll back, or drop it if that fails. */
        PQclear(exec_simple(c, "ROLLBACK"));
        if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            drop(c);
    }
    pthread_mutex_lock(&p->lock);
    c->in_use = false;
    p->in_use--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

int db_pool_in_use(struct db_pool *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->in_use;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int db_pool_size(struct db_pool *p)
{
    return p->size;
}

enum db_status db_classify(struct db_conn *c, const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return DB_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->last_sqlstate, sizeof c->last_sqlstate, "%s", state ? state : "");
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK)
        return DB_UNAVAILABLE;
    if (!state)
        return DB_UNAVAILABLE; /* no server answer: the connection broke mid-query */
    if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
        return DB_RETRY;
    if (!strcmp(state, "23505") || !strcmp(state, "23503"))
        return DB_CONFLICT;
    /* Class 08 (connection), 57P0x (shutdown, crash), 53 (resources), 57014 (cancelled: the
     * statement_timeout of an API session): try again later. */
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strncmp(state, "53", 2) ||
        !strcmp(state, "57014"))
        return DB_UNAVAILABLE;
    cb_log(
        CB_LOG_ERROR, "database error",
        json_pack("{s:s, s:s}", "sqlstate", state, "error", res ? PQresultErrorMessage(res) : ""));
    return DB_ERROR;
}

static bool prepare(struct db_conn *c, struct db_stmt *s, enum db_status *st)
{
    int slot = __atomic_load_n(&s->slot, __ATOMIC_ACQUIRE);
    if (slot < 0) {
        int fresh = atomic_fetch_add(&next_slot, 1);
        int expected = -1;
        if (!__atomic_compare_exchange_n(&s->slot, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            fresh = expected;
        slot = fresh;
    }
    if (slot >= DB_MAX_STMTS) {
        cb_logf(CB_LOG_ERROR, "too many prepared statements (raise DB_MAX_STMTS): %s", s->name);
        *st = DB_ERROR;
        return false;
    }
    if (c->prepared[slot])
        return true;
    PGresult *r = NULL;
    if (PQsendPrepare(c->pg, s->name, s->sql, s->n_params, NULL))
        r = collect(c, answer_deadline(c));
    else
        drop(c);
    *st = db_classify(c, r);
    PQclear(r);
    if (*st != DB_OK)
        return false;
    c->prepared[slot] = true;
    return true;
}

PGresult *db_exec(struct db_conn *c, struct db_stmt *s, const char *const *params,
                  enum db_status *st)
{
    if (!c->pg) {
        *st = DB_UNAVAILABLE;
        return NULL;
    }
    if (c->begin_pending || (c->deferred && c->deferred->n)) { /* in the same round trip */
        struct db_pipeline p = {0};
        db_pipeline_add(&p, s, params);
        *st = db_pipeline_run(c, &p);
        PGresult *r = p.results[0];
        p.results[0] = NULL;
        db_pipeline_clear(&p);
        return r;
    }
    if (!prepare(c, s, st))
        return NULL;
    PGresult *r = NULL;
    if (PQsendQueryPrepared(c->pg, s->name, s->n_params, params, NULL, NULL, 0))
        r = collect(c, answer_deadline(c));
    else
        drop(c);
    *st = db_classify(c, r);
    return r;
}

enum db_status db_run(struct db_conn *c, struct db_stmt *s, const char *const *params)
{
    enum db_status st;
    PQclear(db_exec(c, s, params, &st));
    return st;
}

enum db_status db_exec_simple(struct db_conn *c, const char *sql)
{
    if (!c->pg)
        return DB_UNAVAILABLE;
    if (c->begin_pending || c->deferred) {
        enum db_status st = run_round_trip(c, NULL, false); /* what is pending goes first */
        if (st != DB_OK)
            return st;
    }
    PGresult *r = exec_simple(c, sql);
    enum db_status st = db_classify(c, r);
    PQclear(r);
    return st;
}

const char *db_str(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col);
}

bool db_is_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

bool db_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

long long db_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void db_pipeline_add(struct db_pipeline *p, struct db_stmt *s, const char *const *params)
{
    if (p->n == DB_PIPELINE_MAX || s->n_params > DB_PIPELINE_PARAMS) {
        p->overflow = true;
        return;
    }
    p->stmts[p->n] = s;
    for (int i = 0; i < s->n_params; i++)
        p->params[p->n][i] = params[i] ? strdup(params[i]) : NULL;
    p->n++;
}

void db_pipeline_add_rows(struct db_pipeline *p, struct db_stmt *s, json_t *rows)
{
    if (json_array_size(rows) > 0) {
        char *text = json_dumps(rows, JSON_COMPACT);
        if (text) {
            const char *params[] = {text};
            db_pipeline_add(p, s, params);
        } else
            p->overflow = true;
        free(text);
    }
    json_decref(rows);
}

void db_pipeline_clear(struct db_pipeline *p)
{
    for (int i = 0; i < p->n; i++) {
        for (int k = 0; k < DB_PIPELINE_PARAMS; k++)
            free(p->params[i][k]);
        PQclear(p->results[i]);
    }
    memset(p, 0, sizeof *p);
}

/* Sends BEGIN (when pending), the deferred writes, the statements of `p` (may be NULL) and
 * COMMIT (when `commit`) in one round trip; results of `p` land in p->results. The first
 * failure decides the outcome; the rest of the pipeline is then skipped by the server. */
static enum db_status run_round_trip(struct db_conn *c, struct db_pipeline *p, bool commit)
{
    struct db_pipeline *parts[2] = {c->deferred, p};
    for (int k = 0; k < 2; k++) {
        if (parts[k] && parts[k]->overflow)
            return DB_ERROR;
        for (int i = 0; parts[k] && i < parts[k]->n; i++) {
            enum db_status st; /* preparing needs the ordinary mode: once per connection */
            if (!prepare(c, parts[k]->stmts[i], &st))
                return st;
        }
    }
    bool begin = c->begin_pending;
    c->begin_pending = false;
    int n_deferred = c->deferred ? c->deferred->n : 0;
    if (!begin && n_deferred == 0 && (!p || p->n == 0) && !commit)
        return DB_OK;
    enum db_status st = DB_OK;
    if (!c->pg) /* dropped while preparing */
        goto lost;
    if (!PQenterPipelineMode(c->pg))
        return DB_ERROR;
    if (begin && !PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
        goto broken;
    for (int k = 0; k < 2; k++)
        for (int i = 0; parts[k] && i < parts[k]->n; i++)
            if (!PQsendQueryPrepared(c->pg, parts[k]->stmts[i]->name, parts[k]->stmts[i]->n_params,
                                     (const char *const *)parts[k]->params[i], NULL, NULL, 0))
                goto broken;
    if (commit && !PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
        goto broken;
    if (!PQpipelineSync(c->pg))
        goto broken;
    long long deadline = answer_deadline(c);
    bool failed;
    int total = (begin ? 1 : 0) + n_deferred + (p ? p->n : 0) + (commit ? 1 : 0);
    for (int i = 0; i < total; i++) {
        PGresult *r = next_result(c, deadline, &failed);
        if (failed)
            goto lost;
        if (!r)
            goto broken;
        if (st == DB_OK && PQresultStatus(r) != PGRES_PIPELINE_ABORTED)
            st = db_classify(c, r);
        int in_deferred = i - (begin ? 1 : 0), in_p = in_deferred - n_deferred;
        if (st == DB_OK && in_deferred >= 0 && in_deferred < n_deferred &&
            c->deferred->stmts[in_deferred]->collect &&
            (!commit || c->deferred->stmts[in_deferred]->collect_at_commit) &&
            PQresultStatus(r) == PGRES_TUPLES_OK)
            c->deferred->stmts[in_deferred]->collect(c, r);
        if (p && in_p >= 0 && in_p < p->n)
            p->results[in_p] = r;
        else
            PQclear(r);
        while ((r = next_result(c, deadline, &failed)) != NULL) /* the end of statement i */
            PQclear(r);
        if (failed)
            goto lost;
    }
    PGresult *sync = next_result(c, deadline, &failed);
    if (failed)
        goto lost;
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(c->pg))
        goto broken;
    db_outage_answered();
    if (c->deferred)
        db_pipeline_clear(c->deferred);
    return st;
broken:
    /* The connection is out of step with us: drop it; the next use reconnects (503 meanwhile).
     * A connection the server closed is no news (the reconnection tells whether it is away). */
    if (PQstatus(c->pg) == CONNECTION_OK)
        cb_log(CB_LOG_WARN, "database pipeline broken",
               json_pack("{s:s}", "error", PQerrorMessage(c->pg)));
    drop(c);
lost: /* no answer in time, or the connection failed: already dropped */
    if (c->deferred)
        db_pipeline_clear(c->deferred);
    return DB_UNAVAILABLE;
}

enum db_status db_pipeline_run(struct db_conn *c, struct db_pipeline *p)
{
    return run_round_trip(c, p, false);
}

void db_pipeline_defer(struct db_conn *c, struct db_pipeline *p)
{
    if (!c->deferred)
        c->deferred = calloc(1, sizeof *c->deferred);
    struct db_pipeline *d = c->deferred;
    if (!d || d->n + p->n > DB_PIPELINE_MAX || p->overflow) {
        if (d)
            d->overflow = true; /* reported by the round trip that would have sent them */
        db_pipeline_clear(p);
        return;
    }
    for (int i = 0; i < p->n; i++) {
        d->stmts[d->n] = p->stmts[i];
        memcpy(d->params[d->n], p->params[i], sizeof p->params[i]); /* ownership moves */
        d->n++;
    }
    memset(p, 0, sizeof *p);
}

enum db_status db_flush(struct db_conn *c)
{
    return run_round_trip(c, NULL, false);
}

enum db_status db_commit(struct db_conn *c)
{
    if (c->begin_pending && !(c->deferred && (c->deferred->n || c->deferred->overflow))) {
        c->begin_pending = false; /* nothing was sent: nothing to end */
        c->wake_on_commit = 0;
        c->outbox_unhanded = 0;
        return DB_OK;
    }
    enum db_status st = run_round_trip(c, NULL, true);
    if (st == DB_OK) {
        db_world_settle(c, true);
        if (c->offered)
            db_handoff_settle(c, true);
        c->offered = false;
        db_leader_wake_committed(c);
    }
    return st;
}

void db_discard(struct db_conn *c)
{
    db_world_settle(c, false);
    c->begin_pending = false;
    c->wake_on_commit = 0;
    c->outbox_unhanded = 0;
    if (c->offered)
        db_handoff_settle(c, false);
    c->offered = false;
    if (c->deferred)
        db_pipeline_clear(c->deferred);
}
