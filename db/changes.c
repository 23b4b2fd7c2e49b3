/* The change log behind GET /v1/stream (migrations/011, 012, 017, 025). Triggers write a row for
 * each change in the writing transaction, which queues itself once (stream_unnumbered_xacts);
 * here the changes of the committed ones get their stream ids (stream_ids: the change rows are
 * never written again), one numbering transaction at a time across every process (an advisory
 * lock), so that ids grow in commit order and a reader that sees id N has seen every id below it.
 * The rows are read back as the API reads callbacks, stations and commands, by the stream feed
 * (api/stream_feed.c). */
#include "db/changes.h"
#include "db/outbox.h"
#include "db/rows.h"
#include "db/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The numbering lock: pg_advisory_xact_lock(DB_CHANGES_LOCK_CLASS, 1); the (int, int) key space
 * of db/world.c's number locks (class 25442) is another class. */
#define DB_CHANGES_LOCK_CLASS "25443"

static struct db_stmt changes_lock =
    DB_STMT("changes_lock", 0, "SELECT pg_advisory_xact_lock(" DB_CHANGES_LOCK_CLASS ", 1)");
/* Numbers every change of the committed transactions queued (migration 025), in write order
 * (seq): a change that waited on a row lock was written after the commit of the transaction
 * holding it, so changes of one row keep their commit order. Every queued transaction at once:
 * numbering some of them could number that later change first (its transaction may be the
 * older). A change costs one narrow row (its id), not a new version of the change row; a
 * transaction, one queue row in and out. The changes are found by key probes of their
 * transactions (stream_changes_one_per_transaction). */
static struct db_stmt changes_number_stmt =
    DB_STMT("changes_number", 0,
            "WITH queued AS (DELETE FROM stream_unnumbered_xacts RETURNING xid),"
            " todo AS (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM stream_changes"
            "          WHERE xid = ANY (ARRAY(SELECT xid FROM queued))),"
            " base AS (SELECT last_id FROM stream_position),"
            " numbered AS (INSERT INTO stream_ids (id, seq) SELECT base.last_id + todo.n, todo.seq"
            "              FROM todo, base RETURNING id),"
            " moved AS (UPDATE stream_position SET last_id = (SELECT max(id) FROM numbered)"
            "           WHERE EXISTS (SELECT 1 FROM numbered) RETURNING last_id),"
            " passed AS (INSERT INTO stream_passes (last_id) SELECT last_id FROM moved)"
            " SELECT coalesce((SELECT last_id FROM moved), (SELECT last_id FROM stream_position))");
/* Deletes the changes numbered up to the last pass older than the retention ($1 seconds), the
 * oldest first, at most 100,000 a time; the passes they cover go with them (migration 026). */
static struct db_stmt changes_purge = DB_STMT(
    "changes_purge", 1,
    "WITH upto AS (SELECT last_id FROM stream_passes"
    "              WHERE at < now() - make_interval(secs => $1::int)"
    "              ORDER BY at DESC LIMIT 1),"
    " old AS (SELECT id, seq FROM stream_ids WHERE id <= (SELECT last_id FROM upto)"
    "         ORDER BY id LIMIT 100000),"
    " rows_gone AS (DELETE FROM stream_changes WHERE seq = ANY (ARRAY(SELECT seq FROM old))),"
    " gone AS (DELETE FROM stream_ids WHERE id = ANY (ARRAY(SELECT id FROM old)) RETURNING id),"
    " passes_gone AS (DELETE FROM stream_passes WHERE last_id <= (SELECT max(id) FROM gone))"
    " UPDATE stream_position SET purged_through = greatest(purged_through,"
    " (SELECT max(id) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone)");
static struct db_stmt changes_position =
    DB_STMT("changes_position", 0, "SELECT last_id, purged_through FROM stream_position");

/* The changes numbered in (after, upto]: `i` their ids, `ch` their rows. */
#define CHANGES "stream_ids i JOIN stream_changes ch ON ch.seq = i.seq"
#define RANGE   "i.id > $1::bigint AND i.id <= $2::bigint"
static struct db_stmt changes_callbacks =
    DB_STMT("changes_callbacks", 2,
            "SELECT " DB_CALLBACK_COLUMNS ", change_id, coalesce(station, '') FROM"
            " (SELECT i.id AS change_id, ch.station, r.* FROM " CHANGES
            "  CROSS JOIN LATERAL jsonb_populate_record(NULL::callbacks, ch.data) r"
            "  WHERE " RANGE " AND ch.kind = 'callback') x ORDER BY change_id");
static struct db_stmt changes_stations =
    DB_STMT("changes_stations", 2,
            "SELECT " DB_STATION_COLUMNS ", i.id, coalesce(ch.station, '') FROM " CHANGES
            " CROSS JOIN LATERAL jsonb_populate_record(NULL::stations, ch.data) s"
            " CROSS JOIN LATERAL (SELECT coalesce((ch.data->>'callbacks_allowed')::boolean, false)"
            "                     AS callbacks_allowed) c"
            " WHERE " RANGE " AND ch.kind = 'station' ORDER BY i.id");
/* A command's change row holds what the change may change and its seq (migration 018); what
 * never changes after the insert is read from `commands`, which keeps every command. */
static struct db_stmt changes_commands =
    DB_STMT("changes_commands", 2,
            "SELECT " DB_COMMAND_DOC ", change_id, '' FROM"
            " (SELECT i.id AS change_id, c.body, c.id, c.seq, c.created_at, r.status,"
            "  r.attempts, r.last_error, r.delivered_at FROM " CHANGES
            "  CROSS JOIN LATERAL jsonb_populate_record(NULL::commands, ch.data) r"
            "  CROSS JOIN LATERAL (SELECT body, id, seq, created_at FROM commands"
            "                      WHERE seq = r.seq OFFSET 0) c"
            "  WHERE " RANGE " AND ch.kind = 'command') x ORDER BY change_id");

struct numbering {
    bool purge;
    int retention_s;
    long long last_id;
};

static enum db_status number_tx(struct db_conn *c, void *ctx)
{
    struct numbering *w = ctx;
    enum db_status st = db_run(c, &changes_lock, NULL);
    if (st != DB_OK)
        return st;
    PGresult *r = db_exec(c, &changes_number_stmt, NULL, &st);
    if (st == DB_OK)
        w->last_id = db_int(r, 0, 0);
    PQclear(r);
    if (st == DB_OK && w->purge) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", w->retention_s);
        const char *params[] = {secs};
        st = db_run(c, &changes_purge, params);
    }
    return st;
}

enum db_status db_changes_number(struct db_conn *c, bool purge, int retention_s, long long *last_id)
{
    struct numbering w = {.purge = purge, .retention_s = retention_s};
    enum db_status st = db_tx_run_on(c, number_tx, &w);
    if (st == DB_OK)
        *last_id = w.last_id;
    return st;
}

enum db_status db_changes_position(struct db_conn *c, long long *last_id, long long *purged_through)
{
    enum db_status st;
    PGresult *r = db_exec(c, &changes_position, NULL, &st);
    if (st == DB_OK && PQntuples(r) == 1) {
        *last_id = db_int(r, 0, 0);
        *purged_through = db_int(r, 0, 1);
    } else if (st == DB_OK)
        st = DB_ERROR;
    PQclear(r);
    return st;
}

/* Reads one kind's rows of the range into `part` (id order); `cols` is where the change id
 * and the station follow the kind's own columns. */
static enum db_status read_kind(struct db_conn *c, struct db_stmt *s, const char *const *params,
                                enum db_change_kind kind, int cols, struct db_change *part, int max,
                                int *n)
{
    enum db_status st;
    PGresult *r = db_exec(c, s, params, &st);
    *n = 0;
    for (int i = 0; st == DB_OK && i < PQntuples(r) && *n < max; i++) {
        struct db_change *ch = &part[(*n)++];
        memset(ch, 0, sizeof *ch);
        ch->kind = kind;
        ch->id = db_int(r, i, cols);
        snprintf(ch->station, sizeof ch->station, "%s", db_str(r, i, cols + 1));
        if (kind == DB_CHANGE_CALLBACK)
            db_callback_from_row(r, i, &ch->callback);
        else if (kind == DB_CHANGE_STATION)
            db_station_from_row(r, i, &ch->st, ch->cos);
        else if (!(ch->command = strdup(db_str(r, i, 0))))
            st = DB_ERROR;
    }
    PQclear(r);
    return st;
}

static int by_id(const void *a, const void *b)
{
    long long x = ((const struct db_change *)a)->id, y = ((const struct db_change *)b)->id;
    return (x > y) - (x < y);
}

enum db_status db_changes_read(struct db_conn *c, long long after, long long upto,
                               struct db_change *out, int max, int *n)
{
    char a[24], u[24];
    if (upto > after + max)
        upto = after + max;
    snprintf(a, sizeof a, "%lld", after);
    snprintf(u, sizeof u, "%lld", upto);
    const char *params[] = {a, u};
    *n = 0;
    struct {
        struct db_stmt *stmt;
        enum db_change_kind kind;
        int cols;
    } kinds[] = {{&changes_callbacks, DB_CHANGE_CALLBACK, DB_CALLBACK_NCOLUMNS},
                 {&changes_stations, DB_CHANGE_STATION, 17},
                 {&changes_commands, DB_CHANGE_COMMAND, 1}};
    enum db_status st = DB_OK;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && st == DB_OK; k++) {
        int got = 0;
        st = read_kind(c, kinds[k].stmt, params, kinds[k].kind, kinds[k].cols, out + *n, max - *n,
                       &got);
        *n += got;
    }
    if (st != DB_OK) {
        db_changes_clear(out, *n);
        *n = 0;
        return st;
    }
    qsort(out, (size_t)*n, sizeof *out, by_id);
    return DB_OK;
}

void db_changes_clear(struct db_change *out, int n)
{
    for (int i = 0; i < n; i++) {
        free(out[i].command);
        out[i].command = NULL;
    }
}
