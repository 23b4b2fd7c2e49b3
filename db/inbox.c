#include "db/inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* WITH ORDINALITY keeps the batch order in seq; ON CONFLICT DO NOTHING skips known ids, and a
 * row inserted earlier by the same statement counts as known. */
static struct db_stmt inbox_store =
    DB_STMT("inbox_store", 1,
            "WITH ins AS ("
            " INSERT INTO pbx_events (id, type, body)"
            " SELECT e.value->>'id', e.value->>'type', e.value"
            " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(value, pos) ORDER BY e.pos"
            " ON CONFLICT (id) DO NOTHING RETURNING 1)"
            "SELECT n, CASE WHEN n > 0 THEN pg_notify('" DB_INBOX_CHANNEL "', '')::text END"
            " FROM (SELECT count(*) AS n FROM ins) AS s");
static struct db_stmt inbox_unapplied = DB_STMT(
    "inbox_unapplied", 1,
    "SELECT seq, body::text FROM pbx_events WHERE applied_at IS NULL ORDER BY seq LIMIT $1");
static struct db_stmt inbox_mark =
    DB_STMT("inbox_mark", 1,
            "UPDATE pbx_events AS p SET applied_at = clock_timestamp(), outcome = u.outcome"
            " FROM jsonb_to_recordset($1::jsonb) AS u(seq bigint, outcome text)"
            " WHERE p.seq = u.seq AND p.applied_at IS NULL"
            /* the join's condition again, as an index scan whatever the inbox's size */
            " AND p.seq = ANY(" DB_JSON_KEYS("seq", "bigint") ")");
static struct db_stmt inbox_lag =
    DB_STMT("inbox_lag", 0, "SELECT count(*) FROM pbx_events WHERE applied_at IS NULL");
static struct db_stmt inbox_purge =
    DB_STMT("inbox_purge", 2,
            "DELETE FROM pbx_events WHERE seq IN (SELECT seq FROM pbx_events"
            " WHERE applied_at < now() - make_interval(secs => $1::int) LIMIT $2::int)");

enum db_status db_inbox_store(struct db_conn *c, const char *events_json, int *accepted)
{
    const char *params[] = {events_json};
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_store, params, &st);
    if (st == DB_OK)
        *accepted = (int)db_int(r, 0, 0);
    PQclear(r);
    return st;
}

enum db_status db_inbox_unapplied(struct db_conn *c, int limit, struct db_inbox_event *out, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {lim};
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_unapplied, params, &st);
    *n = 0;
    if (st == DB_OK) {
        for (int i = 0; i < PQntuples(r) && i < limit; i++) {
            json_error_t err;
            out[*n].seq = db_int(r, i, 0);
            out[*n].body = json_loads(db_str(r, i, 1), 0, &err);
            if (!out[*n].body) /* jsonb always parses; a NULL body is applied as ignored */
                out[*n].body = json_null();
            (*n)++;
        }
    }
    PQclear(r);
    return st;
}

void db_inbox_events_free(struct db_inbox_event *events, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(events[i].body);
        events[i].body = NULL;
    }
}

enum db_status db_inbox_mark(struct db_conn *c, const long long *seqs, const char *const *outcomes,
                             int n)
{
    json_t *rows = json_array();
    for (int i = 0; rows && i < n; i++)
        json_array_append_new(
            rows, json_pack("{s:I, s:s}", "seq", (json_int_t)seqs[i], "outcome", outcomes[i]));
    char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    if (!text)
        return DB_ERROR;
    const char *params[] = {text};
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_mark, params, &st);
    if (st == DB_OK && atoi(PQcmdTuples(r)) != n)
        st = DB_ABORT;
    PQclear(r);
    free(text);
    return st;
}

enum db_status db_inbox_lag(struct db_conn *c, long long *lag)
{
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_lag, NULL, &st);
    if (st == DB_OK)
        *lag = db_int(r, 0, 0);
    PQclear(r);
    return st;
}

enum db_status db_inbox_purge(struct db_conn *c, int retention_s, int limit, int *deleted)
{
    char ret[16], lim[16];
    snprintf(ret, sizeof ret, "%d", retention_s);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {ret, lim};
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_purge, params, &st);
    if (st == DB_OK)
        *deleted = atoi(PQcmdTuples(r));
    PQclear(r);
    return st;
}
