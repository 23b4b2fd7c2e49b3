/* The command outbox (CB-51): commands are written in the transaction of the state change that
 * causes them, then delivered by the dispatcher in order per station. */
#ifndef DB_OUTBOX_H
#define DB_OUTBOX_H

#include <jansson.h>

#include "db/pool.h"

/* Queues commands for insertion, in order (their seq follows it): `rows` is a JSON array of
 * {"type", "callback_id" ("" = none), "order_key" (the station whose commands keep their
 * order), "body" (the command as POSTed minus id/seq/created_at)}. Steals `rows`. */
void db_outbox_queue(struct db_pipeline *p, json_t *rows);

/* The NOTIFY channel a trigger signals when commands are inserted (migrations/002). */
#define DB_OUTBOX_CHANNEL "callbackd_commands"

/* A command ready for an attempt. */
struct db_command {
    long long seq;
    char id[40];
    int attempts;
    bool expired; /* created_at + command_ttl_s has passed: to be failed, not sent */
    char *json;   /* the command as POSTed: body + id, seq, created_at; owned (free) */
};

/* Up to `limit` pending commands due for an attempt, in seq order, each the first pending one
 * of its order key (CB-51: a later command for a station waits for the earlier). */
enum db_status db_outbox_due(struct db_conn *c, int limit, struct db_command *out, int *n);
void db_outbox_commands_free(struct db_command *cmds, int n);
/* Records an acknowledged attempt; `*latency_s` = created to acknowledged. */
enum db_status db_outbox_delivered(struct db_conn *c, long long seq, double *latency_s);
/* Records a failed attempt and schedules the next one (1 s, 2 s, 4 s ... 30 s, never later
 * than the end of command_ttl_s). */
enum db_status db_outbox_attempt_failed(struct db_conn *c, long long seq, const char *error);
/* Marks a command failed (its command_ttl_s has passed). */
enum db_status db_outbox_fail(struct db_conn *c, long long seq);
/* Milliseconds until the next pending command is due (0 if one is; -1 when none is pending). */
enum db_status db_outbox_next_ms(struct db_conn *c, long long *ms);
/* GET /v1/commands: up to `limit` commands with seq > `after`, oldest first, as JSON objects
 * (the command + seq, status, attempts, last_error, delivered_at) appended to `items`. */
enum db_status db_outbox_list(struct db_conn *c, long long after, int limit, json_t *items);
/* Commands by status for /metrics: pending, delivered, failed. */
enum db_status db_outbox_count_by_status(struct db_conn *c, long long counts[3]);

#endif
