/* The command outbox (CB-51): commands are written in the transaction of the state change that
 * causes them, then delivered by the dispatcher in order per station. */
#ifndef DB_OUTBOX_H
#define DB_OUTBOX_H

#include <jansson.h>

#include "db/pool.h"

/* Queues commands for insertion in `c`'s transaction, in order (their seq follows it): `rows` is
 * a JSON array of {"type", "callback_id" ("" = none), "order_key" (the station whose commands
 * keep their order), "body" (the command as POSTed minus id/seq/created_at)}. Steals `rows`.
 * The dispatcher is woken once the transaction commits: in-process when it leads here, else by a
 * NOTIFY on DB_OUTBOX_CHANNEL (db/leader.h). */
void db_outbox_queue(struct db_conn *c, struct db_pipeline *p, json_t *rows);

/* A command as GET /v1/commands shows it (text), from the columns of `commands` unqualified:
 * the body as POSTed with its id, seq, times, status and attempts. */
#define DB_COMMAND_DOC                                                                             \
    "(body || jsonb_build_object('id', id, 'seq', seq, 'created_at', to_char(created_at AT TIME "  \
    "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'status', status, 'attempts', attempts, "   \
    "'last_error', last_error, 'delivered_at', to_char(delivered_at AT TIME ZONE 'UTC', "          \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))::text"

/* The NOTIFY channel that wakes a dispatcher leading in another process when commands are
 * queued (db_outbox_queue). */
#define DB_OUTBOX_CHANNEL "callbackd_commands"

/* A command ready for an attempt. */
struct db_command {
    long long seq;
    char id[40];
    int attempts;
    bool expired;    /* created_at + command_ttl_s has passed: to be failed, not sent */
    char *order_key; /* the station (or trunk group) whose commands keep their order; owned */
    bool more;       /* another pending command of the same order key waits behind this one */
    char *json;      /* the command as POSTed: body + id, seq, created_at; owned (free) */
};

void db_outbox_commands_free(struct db_command *cmds, int n);

/* How one attempt at a command ended. */
enum db_outcome_kind {
    DB_OUTCOME_DELIVERED, /* acknowledged: status delivered */
    DB_OUTCOME_NOT_ACKED, /* not acknowledged: the next attempt after a backoff of 1 s, 2 s, 4 s
                           * ... 30 s, never later than the end of command_ttl_s */
    DB_OUTCOME_EXPIRED,   /* command_ttl_s has passed: status failed */
};

/* The outcome of one attempt, to record. */
struct db_outcome {
    long long seq;
    enum db_outcome_kind kind;
    const char *error; /* DB_OUTCOME_NOT_ACKED: why, kept as last_error */
    double age_s;      /* DB_OUTCOME_DELIVERED: seconds since the acknowledgement (delivered_at) */
    bool recorded;     /* out: the command was pending and now carries the outcome */
    double latency_s;  /* out, DB_OUTCOME_DELIVERED: created to delivered */
};

/* One round of the dispatcher, in one round trip and one transaction (CB-51): records
 * `outcomes` (one statement per kind, whatever their number), then, when `due_limit` > 0, reads
 * up to `due_limit` pending commands due for an attempt into `due` (`*n_due`), in seq order, each
 * the first pending one of its order key and none of an order key in `busy_keys` (those with an
 * attempt in flight); and `*next_ms`, the milliseconds until the next command waiting for a
 * later attempt is due (-1 when none is; meaningful when fewer than `due_limit` were due). A
 * failure records nothing. */
enum db_status db_outbox_round(struct db_conn *c, struct db_outcome *outcomes, int n_outcomes,
                               const char *const *busy_keys, int n_busy, int due_limit,
                               struct db_command *due, int *n_due, long long *next_ms);
/* GET /v1/commands: up to `limit` commands with seq > `after`, oldest first, as JSON objects
 * (the command + seq, status, attempts, last_error, delivered_at) appended to `items`. */
enum db_status db_outbox_list(struct db_conn *c, long long after, int limit, json_t *items);
/* Commands by status for /metrics: pending, delivered, failed. */
enum db_status db_outbox_count_by_status(struct db_conn *c, long long counts[3]);

#endif
