#include "db/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt outbox_insert_rows = DB_STMT(
    "outbox_insert_rows", 1,
    "INSERT INTO commands (id, type, callback_id, order_key, body) "
    "SELECT gen_random_uuid(), x.type, nullif(x.callback_id, '')::uuid, x.order_key, x.body "
    "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (type text, callback_id text, "
    "order_key text, body jsonb)) WITH ORDINALITY AS x(type, callback_id, order_key, body, n) "
    "ORDER BY x.n");

void db_outbox_queue(struct db_pipeline *p, json_t *rows)
{
    db_pipeline_add_rows(p, &outbox_insert_rows, rows);
}

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static struct db_stmt outbox_due = DB_STMT(
    "outbox_due", 1,
    "SELECT c.seq, c.id, c.attempts,"
    " now() >= c.created_at + make_interval(secs => o.command_ttl_s),"
    " (c.body || jsonb_build_object('id', c.id, 'seq', c.seq, 'created_at', " RFC3339(
        "c.created_at") "))::text"
                        " FROM commands AS c CROSS JOIN system_options AS o"
                        " WHERE c.status = 'pending' AND c.next_attempt_at <= now()"
                        " AND NOT EXISTS (SELECT 1 FROM commands AS e WHERE e.status = 'pending'"
                        "                 AND e.order_key = c.order_key AND e.seq < c.seq)"
                        " ORDER BY c.seq LIMIT $1::int");
static struct db_stmt outbox_delivered = DB_STMT(
    "outbox_delivered", 1,
    "UPDATE commands SET status = 'delivered', delivered_at = clock_timestamp(),"
    " attempts = attempts + 1, last_error = NULL WHERE seq = $1::bigint AND status = 'pending'"
    " RETURNING extract(epoch FROM delivered_at - created_at)");
/* Backoff 1 s, 2 s, 4 s ... capped at 30 s (API.md), never past the TTL's end. */
static struct db_stmt outbox_attempt_failed =
    DB_STMT("outbox_attempt_failed", 2,
            "UPDATE commands AS c SET attempts = c.attempts + 1, last_error = $2,"
            " next_attempt_at = least(clock_timestamp() + make_interval(secs => least(30, power(2, "
            "least(c.attempts, 5)))),"
            "                         c.created_at + make_interval(secs => o.command_ttl_s))"
            " FROM system_options AS o WHERE c.seq = $1::bigint AND c.status = 'pending'");
static struct db_stmt outbox_fail =
    DB_STMT("outbox_fail", 1,
            "UPDATE commands SET status = 'failed',"
            " last_error = coalesce(last_error, 'command_ttl_s passed before delivery')"
            " WHERE seq = $1::bigint AND status = 'pending'");
/* Only the first pending command of each order key can be due: the others wait for it. */
static struct db_stmt outbox_next_ms = DB_STMT(
    "outbox_next_ms", 0,
    "SELECT ceil(extract(epoch FROM min(c.next_attempt_at) - clock_timestamp()) * 1000)::bigint"
    " FROM commands AS c WHERE c.status = 'pending'"
    " AND NOT EXISTS (SELECT 1 FROM commands AS e WHERE e.status = 'pending'"
    "                 AND e.order_key = c.order_key AND e.seq < c.seq)");
static struct db_stmt outbox_list =
    DB_STMT("outbox_list", 2,
            "SELECT (body || jsonb_build_object('id', id, 'seq', seq, 'created_at', " RFC3339(
                "created_at") ","
                              " 'status', status, 'attempts', attempts, 'last_error', last_error,"
                              " 'delivered_at', " RFC3339(
                                  "delivered_at") "))::text"
                                                  " FROM commands WHERE seq > $1::bigint ORDER BY "
                                                  "seq LIMIT $2::int");
static struct db_stmt outbox_count =
    DB_STMT("outbox_count", 0,
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = "
            "'delivered'),"
            " count(*) FILTER (WHERE status = 'failed') FROM commands");

enum db_status db_outbox_due(struct db_conn *c, int limit, struct db_command *out, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {lim};
    enum db_status st;
    PGresult *r = db_exec(c, &outbox_due, params, &st);
    *n = 0;
    for (int i = 0; st == DB_OK && i < PQntuples(r) && i < limit; i++) {
        struct db_command *cmd = &out[*n];
        cmd->seq = db_int(r, i, 0);
        snprintf(cmd->id, sizeof cmd->id, "%s", db_str(r, i, 1));
        cmd->attempts = (int)db_int(r, i, 2);
        cmd->expired = db_bool(r, i, 3);
        cmd->json = strdup(db_str(r, i, 4));
        if (!cmd->json) {
            st = DB_ERROR;
            break;
        }
        (*n)++;
    }
    PQclear(r);
    return st;
}

void db_outbox_commands_free(struct db_command *cmds, int n)
{
    for (int i = 0; i < n; i++) {
        free(cmds[i].json);
        cmds[i].json = NULL;
    }
}

/* Runs a statement whose only parameter is a seq. */
static PGresult *exec_seq(struct db_conn *c, struct db_stmt *s, long long seq, const char *extra,
                          enum db_status *st)
{
    char k[24];
    snprintf(k, sizeof k, "%lld", seq);
    const char *params[] = {k, extra};
    return db_exec(c, s, params, st);
}

enum db_status db_outbox_delivered(struct db_conn *c, long long seq, double *latency_s)
{
    enum db_status st;
    PGresult *r = exec_seq(c, &outbox_delivered, seq, NULL, &st);
    *latency_s = -1;
    if (st == DB_OK && PQntuples(r) == 1)
        *latency_s = strtod(db_str(r, 0, 0), NULL);
    PQclear(r);
    return st;
}

enum db_status db_outbox_attempt_failed(struct db_conn *c, long long seq, const char *error)
{
    enum db_status st;
    PQclear(exec_seq(c, &outbox_attempt_failed, seq, error, &st));
    return st;
}

enum db_status db_outbox_fail(struct db_conn *c, long long seq)
{
    enum db_status st;
    PQclear(exec_seq(c, &outbox_fail, seq, NULL, &st));
    return st;
}

enum db_status db_outbox_next_ms(struct db_conn *c, long long *ms)
{
    enum db_status st;
    PGresult *r = db_exec(c, &outbox_next_ms, NULL, &st);
    if (st == DB_OK)
        *ms = db_is_null(r, 0, 0) ? -1 : db_int(r, 0, 0) < 0 ? 0 : db_int(r, 0, 0);
    PQclear(r);
    return st;
}

enum db_status db_outbox_list(struct db_conn *c, long long after, int limit, json_t *items)
{
    char a[24], lim[16];
    snprintf(a, sizeof a, "%lld", after);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {a, lim};
    enum db_status st;
    PGresult *r = db_exec(c, &outbox_list, params, &st);
    for (int i = 0; st == DB_OK && i < PQntuples(r); i++) {
        json_error_t err;
        json_t *item = json_loads(db_str(r, i, 0), 0, &err);
        if (!item) {
            st = DB_ERROR;
            break;
        }
        json_array_append_new(items, item);
    }
    PQclear(r);
    return st;
}

enum db_status db_outbox_count_by_status(struct db_conn *c, long long counts[3])
{
    enum db_status st;
    PGresult *r = db_exec(c, &outbox_count, NULL, &st);
    for (int i = 0; st == DB_OK && i < 3; i++)
        counts[i] = db_int(r, 0, i);
    PQclear(r);
    return st;
}
