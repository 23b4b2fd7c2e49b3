#include "db/outbox.h"
#include "db/array.h"
#include "db/handoff.h"
#include "db/leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A command is rendered once, as it is queued: the body the decision wrote (its type's fields)
 * completed with its id, seq and creation time, so that `body` is the command exactly as POSTed
 * to the PBX (the dispatcher sends it as stored). The seqs follow the batch's order: the rows
 * are numbered after the sort. (Until migration 016 a row trigger did this, a PL/pgSQL call
 * per command.) The statement's trigger queues them in pending_commands (migration 018). */
#define OUTBOX_INSERT                                                                              \
    "INSERT INTO commands (seq, id, created_at, type, callback_id, order_key, body) "              \
    "SELECT r.seq, r.id, r.at, r.type, nullif(r.callback_id, '')::uuid, r.order_key, "             \
    "r.body || jsonb_build_object('id', r.id, 'seq', r.seq, 'created_at', "                        \
    "to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) "                      \
    "FROM (SELECT nextval('commands_seq_seq') AS seq, gen_random_uuid() AS id, now() AS at, x.* "  \
    "FROM (SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (type text, "                 \
    "callback_id text, order_key text, body jsonb)) WITH ORDINALITY AS x(type, callback_id, "      \
    "order_key, body, n) ORDER BY x.n OFFSET 0) AS x) AS r ORDER BY r.seq"
/* Whether no command of order key `key` before seq `seq` is pending (CB-51: a later command
 * for a station waits for the earlier). A subquery with a LIMIT, not NOT EXISTS: an anti-join
 * may be planned as a read of the whole index per command looked at, a LIMIT keeps it a probe
 * of pending_commands_by_order_key whatever the statistics (migration 006). */
#define NONE_PENDING_BEFORE(key, seq)                                                              \
    "(SELECT e.seq FROM pending_commands AS e WHERE e.order_key = " key " AND e.seq < " seq        \
    " LIMIT 1) IS NULL"
/* When the dispatcher leads in this process: the same, returning each command as
 * db_handoff_command wants it (the dispatcher sends it once the transaction commits, if the
 * rows came back before the COMMIT: db/handoff.h). */
enum { HANDED_SEQ, HANDED_ID, HANDED_ORDER_KEY, HANDED_JSON, HANDED_FIRST };
static void collect_handed(struct db_conn *c, const PGresult *r);
static struct db_stmt outbox_insert_rows_handed = {
    .name = "outbox_insert_rows_handed",
    .n_params = 1,
    .slot = -1,
    .collect = collect_handed,
    .collect_at_commit = true,
    .sql = OUTBOX_INSERT " RETURNING seq, id, order_key, body::text, " NONE_PENDING_BEFORE(
        "commands.order_key", "commands.seq")};
/* The same, and a NOTIFY to the dispatcher leading in another process (db/leader.h). */
static struct db_stmt outbox_insert_rows_notify =
    DB_STMT("outbox_insert_rows_notify", 1,
            "WITH ins AS (" OUTBOX_INSERT " RETURNING 1) SELECT pg_notify('" DB_OUTBOX_CHANNEL
            "', '') WHERE EXISTS (SELECT 1 FROM ins)");

void db_outbox_queue(struct db_conn *c, struct db_pipeline *p, json_t *rows)
{
    if (json_array_size(rows) > 0 && db_leader_is_local(DB_LEADER_DISPATCHER_KEY)) {
        c->wake_on_commit |= DB_WAKE_DISPATCHER; /* unless all are handed over: collect_handed */
        c->outbox_unhanded++;
        db_pipeline_add_rows(p, &outbox_insert_rows_handed, rows);
    } else
        db_pipeline_add_rows(p, &outbox_insert_rows_notify, rows);
}

/* Offers the commands an insert returned to the dispatcher of this process, in seq order. */
static void collect_handed(struct db_conn *c, const PGresult *r)
{
    struct db_handoff_command cmds[DB_HANDOFF_MAX];
    int n = PQntuples(r), filled = 0;
    bool ok = n <= DB_HANDOFF_MAX; /* more: read from the outbox, as without a hand-off */
    for (int i = 0; ok && i < n; i++) {
        struct db_command *cmd = &cmds[i].cmd;
        filled = i + 1;
        *cmd = (struct db_command){.seq = db_int(r, i, HANDED_SEQ),
                                   .order_key = strdup(db_str(r, i, HANDED_ORDER_KEY)),
                                   .json = strdup(db_str(r, i, HANDED_JSON))};
        snprintf(cmd->id, sizeof cmd->id, "%s", db_str(r, i, HANDED_ID));
        cmds[i].first = db_bool(r, i, HANDED_FIRST);
        ok = cmd->order_key && cmd->json;
        if (!ok)
            break;
        /* The statement's own rows are not in its view of pending_commands: an earlier one of
         * the same key is found here, and this one waits behind it. */
        for (int k = 0; k < i; k++)
            if (!strcmp(cmds[k].cmd.order_key, cmd->order_key)) {
                cmds[k].cmd.more = true;
                cmds[i].first = false;
            }
    }
    if (ok && db_handoff_offer(c, cmds, n)) {
        c->offered = true;
        if (--c->outbox_unhanded == 0)
            c->wake_on_commit &= ~DB_WAKE_DISPATCHER;
        return;
    }
    for (int i = 0; i < filled; i++)
        db_outbox_commands_free(&cmds[i].cmd, 1);
}

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The first pending command of each order key, due and not of a busy key (CB-51: a later
 * command for a station waits for the earlier). Read from the queue of pending commands
 * (migration 018), bounded by what is pending whatever the history: its partial indexes
 * pending_commands_due (seq) and pending_commands_by_order_key (order_key, seq), and the
 * command itself by a key probe of `commands`. */
enum { DUE_SEQ, DUE_ID, DUE_ATTEMPTS, DUE_EXPIRED, DUE_ORDER_KEY, DUE_MORE, DUE_JSON };
static struct db_stmt outbox_due = DB_STMT(
    "outbox_due", 2,
    "SELECT q.seq, c.id, c.attempts,"
    " now() >= c.created_at + make_interval(secs => o.command_ttl_s), q.order_key,"
    " EXISTS (SELECT 1 FROM pending_commands AS f WHERE f.order_key = q.order_key"
    "         AND f.seq > q.seq),"
    " c.body::text" /* the command as POSTed, complete since it was queued (OUTBOX_INSERT) */
    " FROM pending_commands AS q"
    " CROSS JOIN LATERAL (SELECT * FROM commands WHERE seq = q.seq OFFSET 0) AS c"
    " CROSS JOIN system_options AS o"
    " WHERE q.next_attempt_at <= now() AND q.order_key <> ALL ($2::text[])"
    " AND " NONE_PENDING_BEFORE("q.order_key", "q.seq") " ORDER BY q.seq LIMIT $1::int");
/* When the next of those is due, once every one due now has been read: only a command waiting
 * for its next attempt (the first of its key, after a failed attempt) has a next_attempt_at
 * after now(), so the range scan of pending_commands_next_attempt reads only those. */
static struct db_stmt outbox_next_ms =
    DB_STMT("outbox_next_ms", 0,
            "SELECT ceil(extract(epoch FROM q.next_attempt_at - clock_timestamp()) * 1000)::bigint"
            " FROM pending_commands AS q WHERE q.next_attempt_at > now()"
            " ORDER BY q.next_attempt_at LIMIT 1");
/* The outcomes of a round, one statement per kind for the whole batch, on `commands` (none of
 * these columns is indexed; its trigger takes a delivered or failed command off the queue and
 * moves a retried one's next attempt there: migration 018). delivered_at is when the PBX
 * acknowledged: `age_s` (measured by the dispatcher) before the recording, on the database's
 * clock like created_at. */
static struct db_stmt outbox_delivered_rows =
    DB_STMT("outbox_delivered_rows", 2,
            "UPDATE commands AS c SET status = 'delivered',"
            " delivered_at = clock_timestamp() - make_interval(secs => x.age_s),"
            " attempts = c.attempts + 1, last_error = NULL"
            " FROM unnest($1::bigint[], $2::float8[]) AS x(seq, age_s)"
            " WHERE c.seq = x.seq AND c.status = 'pending'"
            " RETURNING c.seq, extract(epoch FROM c.delivered_at - c.created_at)");
/* Backoff 1 s, 2 s, 4 s ... capped at 30 s (openapi.yaml), never past the TTL's end. */
static struct db_stmt outbox_not_acked_rows =
    DB_STMT("outbox_not_acked_rows", 2,
            "UPDATE commands AS c SET attempts = c.attempts + 1, last_error = x.error,"
            " next_attempt_at = least(clock_timestamp() + make_interval(secs => least(30, power(2, "
            "least(c.attempts, 5)))),"
            "                         c.created_at + make_interval(secs => o.command_ttl_s))"
            " FROM unnest($1::bigint[], $2::text[]) AS x(seq, error), system_options AS o"
            " WHERE c.seq = x.seq AND c.status = 'pending' RETURNING c.seq");
static struct db_stmt outbox_expired_rows =
    DB_STMT("outbox_expired_rows", 1,
            "UPDATE commands AS c SET status = 'failed',"
            " last_error = coalesce(c.last_error, 'command_ttl_s passed before delivery')"
            " FROM unnest($1::bigint[]) AS x(seq) WHERE c.seq = x.seq AND c.status = 'pending'"
            " RETURNING c.seq");
static struct db_stmt outbox_list =
    DB_STMT("outbox_list", 2,
            "SELECT " DB_COMMAND_DOC " FROM commands WHERE seq > $1::bigint ORDER BY seq "
            "LIMIT $2::int");
/* Pending: the queue; delivered and failed: their running totals (migration 024). Neither reads
 * the history of every command sent. */
static struct db_stmt outbox_count =
    DB_STMT("outbox_count", 0,
            "SELECT (SELECT count(*) FROM pending_commands),"
            " coalesce((SELECT n FROM command_totals WHERE status = 'delivered'), 0),"
            " coalesce((SELECT n FROM command_totals WHERE status = 'failed'), 0)");

void db_outbox_commands_free(struct db_command *cmds, int n)
{
    for (int i = 0; i < n; i++) {
        free(cmds[i].order_key);
        free(cmds[i].json);
        cmds[i].order_key = cmds[i].json = NULL;
    }
}

/* Queues the statement recording the outcomes of `kind`, if there are any; returns its index in
 * the pipeline (-1 when none). */
static int queue_outcomes(struct db_pipeline *p, struct db_outcome *outcomes, int n,
                          enum db_outcome_kind kind, bool *oom)
{
    static struct db_stmt *const stmts[] = {
        [DB_OUTCOME_DELIVERED] = &outbox_delivered_rows,
        [DB_OUTCOME_NOT_ACKED] = &outbox_not_acked_rows,
        [DB_OUTCOME_EXPIRED] = &outbox_expired_rows,
    };
    struct db_array seqs, extra; /* extra: the errors, or the ages of the acknowledgements */
    db_array_open(&seqs);
    db_array_open(&extra);
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (outcomes[i].kind != kind)
            continue;
        db_array_add_int(&seqs, outcomes[i].seq);
        if (kind == DB_OUTCOME_DELIVERED) {
            char age[32];
            snprintf(age, sizeof age, "%.6f", outcomes[i].age_s > 0 ? outcomes[i].age_s : 0.0);
            db_array_add_text(&extra, age);
        } else
            db_array_add_text(&extra, outcomes[i].error ? outcomes[i].error : "");
        count++;
    }
    char *seq_list = db_array_close(&seqs), *extra_list = db_array_close(&extra);
    int at = -1;
    if (!seq_list || !extra_list)
        *oom = true;
    else if (count > 0) {
        at = p->n;
        const char *params[] = {seq_list, extra_list};
        db_pipeline_add(p, stmts[kind], params);
    }
    free(seq_list);
    free(extra_list);
    return at;
}

/* Marks the outcomes of `kind` whose seq the statement returned (first column) as recorded,
 * with the latency of the second column when `with_latency`. */
static void mark_recorded(const PGresult *r, struct db_outcome *outcomes, int n,
                          enum db_outcome_kind kind, bool with_latency)
{
    for (int row = 0; row < PQntuples(r); row++) {
        long long seq = db_int(r, row, 0);
        for (int i = 0; i < n; i++) {
            if (outcomes[i].kind != kind || outcomes[i].seq != seq)
                continue;
            outcomes[i].recorded = true;
            if (with_latency)
                outcomes[i].latency_s = strtod(db_str(r, row, 1), NULL);
        }
    }
}

static void read_due(const PGresult *r, int limit, struct db_command *due, int *n_due)
{
    for (int row = 0; row < PQntuples(r) && *n_due < limit; row++) {
        struct db_command *cmd = &due[*n_due];
        *cmd = (struct db_command){.seq = db_int(r, row, DUE_SEQ),
                                   .attempts = (int)db_int(r, row, DUE_ATTEMPTS),
                                   .expired = db_bool(r, row, DUE_EXPIRED),
                                   .order_key = strdup(db_str(r, row, DUE_ORDER_KEY)),
                                   .more = db_bool(r, row, DUE_MORE),
                                   .json = strdup(db_str(r, row, DUE_JSON))};
        snprintf(cmd->id, sizeof cmd->id, "%s", db_str(r, row, DUE_ID));
        if (!cmd->order_key || !cmd->json) {
            /* Out of memory: the rest stays pending and is due again on a later round. */
            db_outbox_commands_free(cmd, 1);
            return;
        }
        (*n_due)++;
    }
}

enum db_status db_outbox_round(struct db_conn *c, struct db_outcome *outcomes, int n_outcomes,
                               const char *const *busy_keys, int n_busy, int due_limit,
                               struct db_command *due, int *n_due, long long *next_ms)
{
    struct db_pipeline p = {0};
    bool oom = false;
    *n_due = 0;
    *next_ms = -1;
    for (int i = 0; i < n_outcomes; i++) {
        outcomes[i].recorded = false;
        outcomes[i].latency_s = -1;
    }
    int at_delivered = queue_outcomes(&p, outcomes, n_outcomes, DB_OUTCOME_DELIVERED, &oom);
    int at_not_acked = queue_outcomes(&p, outcomes, n_outcomes, DB_OUTCOME_NOT_ACKED, &oom);
    int at_expired = queue_outcomes(&p, outcomes, n_outcomes, DB_OUTCOME_EXPIRED, &oom);
    int at_due = -1;
    if (due_limit > 0) {
        char *busy = db_array_of(busy_keys, n_busy);
        char lim[16];
        snprintf(lim, sizeof lim, "%d", due_limit);
        if (!busy)
            oom = true;
        else {
            at_due = p.n;
            db_pipeline_add(&p, &outbox_due, (const char *const[]){lim, busy});
            db_pipeline_add(&p, &outbox_next_ms, NULL);
        }
        free(busy);
    }
    enum db_status st = oom ? DB_ERROR : db_pipeline_run(c, &p);
    if (st == DB_OK) {
        if (at_delivered >= 0)
            mark_recorded(p.results[at_delivered], outcomes, n_outcomes, DB_OUTCOME_DELIVERED,
                          true);
        if (at_not_acked >= 0)
            mark_recorded(p.results[at_not_acked], outcomes, n_outcomes, DB_OUTCOME_NOT_ACKED,
                          false);
        if (at_expired >= 0)
            mark_recorded(p.results[at_expired], outcomes, n_outcomes, DB_OUTCOME_EXPIRED, false);
        if (at_due >= 0) {
            read_due(p.results[at_due], due_limit, due, n_due);
            const PGresult *next = p.results[at_due + 1];
            if (PQntuples(next) == 1 && !db_is_null(next, 0, 0))
                *next_ms = db_int(next, 0, 0) < 0 ? 0 : db_int(next, 0, 0);
        }
    }
    db_pipeline_clear(&p);
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
