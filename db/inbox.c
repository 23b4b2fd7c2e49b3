#include "db/inbox.h"
#include "db/leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parsed fields of an event, by column (migration 009). */
#define DB_EVENT_COLUMNS                                                                           \
    "station, flag, feature, forward_to, trunk_group, line, from_number, to_number, attempt, "     \
    "parties, conference, callback_id, recall, digits, call_state, dialed"

/* WITH ORDINALITY keeps the batch order in seq; ON CONFLICT DO NOTHING skips known ids, and a
 * row inserted earlier by the same statement counts as known. Returns the ids it inserted; the
 * second column NOTIFYs the worker (once) when $2 (it leads in another process). */
static struct db_stmt inbox_store =
    DB_STMT("inbox_store", 2,
            "WITH ins AS ("
            " INSERT INTO pbx_events (id, type, body, parsed, " DB_EVENT_COLUMNS ")"
            " SELECT e.id, e.type, e.body, true, " DB_EVENT_COLUMNS
            " FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id text, type text, body jsonb,"
            "   station text, flag boolean, feature text, forward_to text, trunk_group text,"
            "   line text, from_number text, to_number text, attempt text, parties text[],"
            "   conference boolean, callback_id uuid, recall text, digits text, call_state text,"
            "   dialed text)) WITH ORDINALITY AS e ORDER BY e.ordinality"
            " ON CONFLICT (id) DO NOTHING RETURNING id)"
            " SELECT id, CASE WHEN $2::boolean AND row_number() OVER () = 1"
            " THEN pg_notify('" DB_INBOX_CHANNEL "', '') END FROM ins");
/* The parsed fields, as columns; `parties` as "a,b" (directory numbers hold no comma). */
enum { UN_SEQ, UN_PARSED, UN_BODY, UN_ID, UN_TYPE, UN_FIELDS };
static struct db_stmt inbox_unapplied = DB_STMT(
    "inbox_unapplied", 1,
    "SELECT seq, parsed, CASE WHEN NOT parsed THEN body::text END, id, type, station, flag,"
    " feature, forward_to, trunk_group, line, from_number, to_number, attempt,"
    " array_to_string(parties, ','), conference, callback_id, recall, digits, call_state, dialed"
    " FROM pbx_events WHERE applied_at IS NULL ORDER BY seq LIMIT $1");
/* Marks the events of $1 ([{seq, outcome}]) that are not applied yet, and fails (migration 022)
 * unless that is all of them. The join's condition is there again as `= ANY`: an index scan
 * whatever the inbox's size. */
#define MARK_UNAPPLIED                                                                             \
    "UPDATE pbx_events AS p SET applied_at = clock_timestamp(), outcome = u.outcome"               \
    " FROM jsonb_to_recordset($1::jsonb) AS u(seq bigint, outcome text)"                           \
    " WHERE p.seq = u.seq AND p.applied_at IS NULL"                                                \
    " AND p.seq = ANY(" DB_JSON_KEYS("seq", "bigint") ")"
static struct db_stmt inbox_mark =
    DB_STMT("inbox_mark", 1,
            "WITH m AS (" MARK_UNAPPLIED " RETURNING 1)"
            " SELECT callbackd_assume(count(*) = jsonb_array_length($1::jsonb),"
            " format('%s of %s events were applied already',"
            " jsonb_array_length($1::jsonb) - count(*), jsonb_array_length($1::jsonb))) FROM m");
static struct db_stmt inbox_lag =
    DB_STMT("inbox_lag", 0, "SELECT count(*) FROM pbx_events WHERE applied_at IS NULL");
static struct db_stmt inbox_purge =
    DB_STMT("inbox_purge", 2,
            "DELETE FROM pbx_events WHERE seq IN (SELECT seq FROM pbx_events"
            " WHERE applied_at < now() - make_interval(secs => $1::int) LIMIT $2::int)");

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Which rows the statement inserted, from the ids it returned: the first row carrying each id
 * (a later one with the same id was skipped as known). */
static int mark_stored(const PGresult *r, const char *const *ids, int n, bool *stored)
{
    int got = PQntuples(r), accepted = 0;
    const char **back = got > 0 ? malloc((size_t)got * sizeof *back) : NULL;
    bool *taken = got > 0 ? calloc((size_t)got, sizeof *taken) : NULL;
    for (int i = 0; back && i < got; i++)
        back[i] = db_str(r, i, 0);
    if (back)
        qsort((void *)back, (size_t)got, sizeof *back, compare_ids);
    for (int i = 0; i < n; i++) {
        stored[i] = false;
        const char **hit = back && taken && ids[i] ? bsearch(&ids[i], (const void *)back,
                                                             (size_t)got, sizeof *back, compare_ids)
                                                   : NULL;
        if (hit && !taken[hit - back]) {
            taken[hit - back] = true;
            stored[i] = true;
            accepted++;
        }
    }
    free((void *)back);
    free(taken);
    return accepted;
}

enum db_status db_inbox_store(struct db_conn *c, const char *rows_json, const char *const *ids,
                              int n, bool *stored)
{
    bool local = db_leader_is_local(DB_LEADER_WORKER_KEY);
    const char *params[] = {rows_json, local ? "false" : "true"};
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_store, params, &st);
    int accepted = st == DB_OK ? mark_stored(r, ids, n, stored) : 0;
    PQclear(r);
    if (st == DB_OK && accepted > 0 && local) {
        c->wake_on_commit |= DB_WAKE_WORKER;
        db_leader_wake_committed(c); /* committed: the statement is its own transaction */
    }
    return st;
}

/* An enumeration's word back into its value; `none` when the column is NULL or unknown. */
static int word(const PGresult *r, int row, int col, const char *const *names, int none)
{
    int v = db_is_null(r, row, col) ? -1 : cb_event_word_parse(names, db_str(r, row, col));
    return v < 0 ? none : v;
}

/* A row stored by the webhook back into the struct it parsed (its columns, in UN_FIELDS order). */
static void read_event(const PGresult *r, int i, struct cb_event *e)
{
    int col = UN_FIELDS;
    snprintf(e->id, sizeof e->id, "%s", db_str(r, i, UN_ID));
    e->type = (enum cb_event_type)word(r, i, UN_TYPE, cb_event_type_names, 0);
    snprintf(e->station, sizeof e->station, "%s", db_str(r, i, col++));
    e->flag = db_bool(r, i, col++);
    e->feature = (enum cb_feature)word(r, i, col++, cb_feature_names, 0);
    snprintf(e->forward_to, sizeof e->forward_to, "%s", db_str(r, i, col++));
    snprintf(e->trunk_group, sizeof e->trunk_group, "%s", db_str(r, i, col++));
    snprintf(e->line, sizeof e->line, "%s", db_str(r, i, col++));
    snprintf(e->from, sizeof e->from, "%s", db_str(r, i, col++));
    snprintf(e->to, sizeof e->to, "%s", db_str(r, i, col++));
    int attempt = word(r, i, col++, cb_attempt_result_names, 0);
    e->attempt_result = attempt == 0 ? -1 : attempt; /* "answered": no failed attempt */
    const char *parties = db_str(r, i, col++);
    while (*parties && e->n_parties < CB_MAX_PARTIES) {
        size_t len = strcspn(parties, ",");
        snprintf(e->parties[e->n_parties++], CB_NUMBER_MAX, "%.*s", (int)len, parties);
        parties += len + (parties[len] == ',');
    }
    e->conference = db_bool(r, i, col++);
    snprintf(e->callback_id, sizeof e->callback_id, "%s", db_str(r, i, col++));
    e->recall_result = (enum cb_recall_result)word(r, i, col++, cb_recall_result_names, 0);
    snprintf(e->digits, sizeof e->digits, "%s", db_str(r, i, col++));
    e->call_state = (enum cb_call_state)word(r, i, col++, cb_call_state_names, 0);
    snprintf(e->dialed, sizeof e->dialed, "%s", db_str(r, i, col++));
}

enum db_status db_inbox_unapplied(struct db_conn *c, int limit, struct db_inbox_event **out, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {lim};
    enum db_status st;
    PGresult *r = db_exec(c, &inbox_unapplied, params, &st);
    int rows = st == DB_OK ? PQntuples(r) : 0;
    rows = rows < limit ? rows : limit;
    /* As many as were read: at the rates of a live PBX that is a few, not the limit (an event is
     * some 850 bytes). */
    *out = rows > 0 ? calloc((size_t)rows, sizeof **out) : NULL;
    *n = 0;
    if (rows > 0 && !*out)
        st = DB_ERROR;
    for (int i = 0; st == DB_OK && i < rows; i++) {
        struct db_inbox_event *e = &(*out)[(*n)++];
        e->seq = db_int(r, i, UN_SEQ);
        e->parsed = db_bool(r, i, UN_PARSED);
        if (e->parsed)
            read_event(r, i, &e->event);
        else { /* stored before migration 009: its body, parsed by the worker */
            json_error_t err;
            e->body = json_loads(db_str(r, i, UN_BODY), 0, &err);
            if (!e->body) /* jsonb always parses; a NULL body is applied as ignored */
                e->body = json_null();
            snprintf(e->event.id, sizeof e->event.id, "%s", db_str(r, i, UN_ID));
        }
    }
    PQclear(r);
    return st;
}

void db_inbox_events_free(struct db_inbox_event *events, int n)
{
    for (int i = 0; events && i < n; i++)
        json_decref(events[i].body);
    free(events);
}

enum db_status db_inbox_mark(struct db_conn *c, const long long *seqs, const char *const *outcomes,
                             int n)
{
    json_t *rows = json_array();
    for (int i = 0; rows && i < n; i++)
        json_array_append_new(
            rows, json_pack("{s:I, s:s}", "seq", (json_int_t)seqs[i], "outcome", outcomes[i]));
    struct db_pipeline p = {0};
    db_pipeline_add_rows(&p, &inbox_mark, rows); /* steals rows */
    enum db_status st = p.overflow || !rows ? DB_ERROR : DB_OK;
    db_pipeline_defer(c, &p);
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
