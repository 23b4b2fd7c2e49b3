/* A fixed pool of libpq connections with statements prepared once per connection.
 * A broken connection is reconnected on its next use; callers see DB_UNAVAILABLE meanwhile. One
 * the server closed while it sat idle in the pool is reconnected before it is handed out.
 * No wait on the server is unbounded (issue 11): connecting is bounded by connect_timeout, every
 * round trip by the connection's answer timeout (non-blocking libpq and poll(): a server that
 * accepts and never answers is not helped by statement_timeout, which the server enforces), the
 * wait for a free pooled connection by the pool's wait; and during an outage (db/outage.h) a
 * request is refused at once instead of waiting. */
#ifndef DB_POOL_H
#define DB_POOL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

enum db_status {
    DB_OK = 0,
    DB_RETRY,       /* serialization failure or deadlock: run the transaction again */
    DB_UNAVAILABLE, /* the database cannot be reached: 503 */
    DB_CONFLICT,    /* a unique or foreign key constraint refused the write */
    DB_ABORT,       /* the transaction function chose to roll back (an API error) */
    DB_ERROR,       /* anything else: 500, logged */
};

/* A prepared statement, declared `static struct db_stmt` next to the code that runs it. */
struct db_conn;
struct db_stmt {
    const char *name; /* also the name it is prepared under */
    const char *sql;
    int n_params;
    int slot; /* assigned on first use; index into each connection's prepared flags */
    /* Reads the rows of a deferred run of the statement that went out ahead of the COMMIT
     * (db_flush, or a statement with results), so before the transaction can commit; NULL: none.
     * Not called when the rows come back with the COMMIT itself, unless collect_at_commit. */
    void (*collect)(struct db_conn *c, const PGresult *r);
    /* Also call `collect` when the rows come back with the COMMIT (its outcome decides then). */
    bool collect_at_commit;
};
#define DB_STMT(n, np, s)                                                                          \
    {                                                                                              \
        .name = (n), .sql = (s), .n_params = (np), .slot = -1                                      \
    }
#define DB_MAX_STMTS 192

/* How long a connection may wait on the server; 0 = no limit. */
struct db_limits {
    int connect_timeout_s;    /* libpq connect_timeout (libpq waits 2 s at least) */
    int statement_timeout_ms; /* the session's statement_timeout, enforced by the server */
    int answer_timeout_ms;    /* the client's wait for the answer to one round trip; past it the
                                 connection is dropped (DB_UNAVAILABLE) and the outage noted */
};

struct db_conn {
    PGconn *pg;
    char *url; /* db_conn_open's own copy; the pool's string for a pooled connection */
    struct db_limits limits;
    bool prepared[DB_MAX_STMTS];
    bool in_use;
    /* A transaction was begun but BEGIN is not sent yet: it goes out in the same round trip as
     * the transaction's first statement (db_tx_run). */
    bool begin_pending;
    /* Writes whose results nobody reads, sent with the next round trip (at the latest with
     * COMMIT): see db_pipeline_defer. */
    struct db_pipeline *deferred;
    /* The background loops leading in this process that the transaction's writes gave work to,
     * woken once it commits (DB_WAKE_*, db/leader.h); forgotten on rollback. */
    unsigned wake_on_commit;
    /* Outbox inserts of the transaction whose commands were not handed to the dispatcher
     * (db/handoff.h): the dispatcher reads the outbox once it commits. */
    int outbox_unhanded;
    bool offered; /* commands of the transaction were handed (db_handoff_offer) */
    /* A decision of the transaction was taken before its locks (db_world_assume); the last
     * transaction that took one failed its check, so the next decisions check first. */
    bool world_assumed, world_distrust;
    bool world_assumed_fresh; /* one of those decisions was on facts read afresh (not kept) */
    /* The facts this session keeps between decisions (db/world_pool.h); NULL: none kept. */
    struct db_world_memory *world;
    /* Waits for the server's answer in place of poll(2) on its one descriptor, with poll's
     * contract (`fd->revents` set; 1 when ready, 0 at the timeout, -1 on failure), doing other
     * work meanwhile; NULL: poll. The dispatcher's loop (service/dispatcher.c) goes on sending
     * commands while the round trip that records outcomes is out. */
    int (*await)(void *ctx, struct pollfd *fd, int timeout_ms);
    void *await_ctx;
    char last_sqlstate[6];
};

struct db_pool;

/* Creates a pool of `size` connections to `url` with `limits`, where a caller waits up to
 * `wait_ms` for a free connection; connects lazily. Returns NULL on OOM. */
struct db_pool *db_pool_new(const char *url, int size, const struct db_limits *limits, int wait_ms);
void db_pool_free(struct db_pool *p);
/* Takes a connection, waiting up to the pool's wait for a free one; connects or reconnects it.
 * Returns NULL (`*why` DB_UNAVAILABLE) when none is free in time, the database is unreachable,
 * or an outage is under way and this caller is not its probe. */
struct db_conn *db_pool_acquire(struct db_pool *p, enum db_status *why);
/* Returns a connection; one left broken or inside a transaction is reset first. */
void db_pool_release(struct db_pool *p, struct db_conn *c);
/* Connections currently handed out, and the pool size (for /metrics). */
int db_pool_in_use(struct db_pool *p);
int db_pool_size(struct db_pool *p);
/* Opens a connection outside the pool (the worker's own session); NULL when unreachable. */
struct db_conn *db_conn_open(const char *url, const struct db_limits *limits);
void db_conn_close(struct db_conn *c);

/* Shutting down: from now on no wait on the server lasts more than `ms` (a hung database must
 * not hold the worker's clean stop for its whole answer timeout). */
void db_waits_end_within(int ms);

/* Runs a prepared statement (preparing it on this connection first if needed). The result is
 * the caller's (PQclear); `*st` is the outcome classified. Text parameters; NULL = SQL NULL. */
PGresult *db_exec(struct db_conn *c, struct db_stmt *s, const char *const *params,
                  enum db_status *st);
/* Runs a prepared statement whose rows are not needed; returns its outcome. */
enum db_status db_run(struct db_conn *c, struct db_stmt *s, const char *const *params);
/* Runs plain SQL without parameters (migrations, ROLLBACK, advisory locks); a pending BEGIN and
 * the deferred writes go out first. */
enum db_status db_exec_simple(struct db_conn *c, const char *sql);
/* Classifies a result: DB_OK for COMMAND_OK/TUPLES_OK; otherwise by SQLSTATE and connection. */
enum db_status db_classify(struct db_conn *c, const PGresult *res);

/* Reads column `col` of row `row` as a string ("" for NULL), bool or integer. */
const char *db_str(const PGresult *r, int row, int col);
bool db_is_null(const PGresult *r, int row, int col);
bool db_bool(const PGresult *r, int row, int col);
long long db_int(const PGresult *r, int row, int col);

/* Several prepared statements sent in one round trip (libpq pipeline mode); they run one after
 * the other, in order, in the connection's current transaction. */
#define DB_PIPELINE_MAX    24
#define DB_PIPELINE_PARAMS 12 /* parameters of one statement at most (the largest has 10) */
struct db_pipeline {
    int n;
    bool overflow;
    struct db_stmt *stmts[DB_PIPELINE_MAX];
    char *params[DB_PIPELINE_MAX][DB_PIPELINE_PARAMS]; /* copies, freed by db_pipeline_clear */
    PGresult *results[DB_PIPELINE_MAX];
};

/* Queues `s` with its parameters (copied). */
void db_pipeline_add(struct db_pipeline *p, struct db_stmt *s, const char *const *params);
/* Queues a one-parameter statement taking a JSON array of rows; skipped when `rows` is empty.
 * Steals `rows`. */
/* In such a statement, the values of `key` in the rows $1 as an array of `type`. Repeating a
 * join's condition as `column = ANY(DB_JSON_KEYS(...))` keeps the plan a key probe whatever the
 * table's size (jsonb_to_recordset is estimated at 100 rows, so a large table would be hashed
 * whole). */
#define DB_JSON_KEYS(key, type)                                                                    \
    "array(SELECT (e->>'" key "')::" type " FROM jsonb_array_elements($1::jsonb) e)"
void db_pipeline_add_rows(struct db_pipeline *p, struct db_stmt *s, json_t *rows);
/* Runs what is queued; results land in p->results in order. The first failure decides. */
enum db_status db_pipeline_run(struct db_conn *c, struct db_pipeline *p);
/* Frees parameters and results; the pipeline can be reused. */
void db_pipeline_clear(struct db_pipeline *p);
/* Hands the statements queued in `p` to the connection, unsent: they go out in front of the
 * transaction's next round trip, at the latest with its COMMIT (db_commit), so that a decision's
 * writes cost no round trip of their own. Their failure is the outcome of that round trip. `p`
 * is emptied. */
void db_pipeline_defer(struct db_conn *c, struct db_pipeline *p);
/* Sends what is deferred now, for a caller that must know its outcome on its own. */
enum db_status db_flush(struct db_conn *c);
/* Sends what is deferred and COMMIT in one round trip (with BEGIN when nothing was sent yet). */
enum db_status db_commit(struct db_conn *c);
/* Forgets a pending BEGIN and the deferred writes (before a ROLLBACK, or when the connection is
 * given back). */
void db_discard(struct db_conn *c);

#endif
