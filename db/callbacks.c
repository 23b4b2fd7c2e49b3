#include "db/callbacks.h"
#include "db/array.h"
#include "db/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt callback_get = DB_STMT("callback_get", 1,
                                             "SELECT " DB_CALLBACK_COLUMNS "FROM callbacks "
                                             "WHERE id = $1::uuid");

/* The list's filters but the states ($3, none = any state). */
#define FILTERS                                                                                    \
    "($1 = '' OR requester = $1) AND ($2 = '' OR target = $2) "                                    \
    "AND ($4::bigint = 0 OR created_at > to_timestamp($4::bigint / 1000.0)) "                      \
    "AND ($5::bigint = 0 OR created_at < to_timestamp($5::bigint / 1000.0)) "
/* A list reads its callbacks three ways, so that a ring changes no index of callbacks (migration
 * 023), each in the order of an index: all of them when it names no state; the ones of each
 * list_state its states fold into, the notifying ones apart; and the notifying ones among the
 * few ringing now (callbacks_notifying). The ways a list does not need are false before they
 * run: the lists' plans are made for their parameters. */
// clang-format off
#define ANY_STATE "cardinality($3::text[]) = 0"
#define LIST_STATE \
    "unnest(CASE WHEN " ANY_STATE " THEN '{}' ELSE callbackd_list_states($3::text[]) END) AS ls(v)"
#define IN_LIST_STATE "list_state = ls.v AND state = ANY($3::text[]) AND state <> 'notifying'"
#define NOTIFYING \
    "'notifying' = ANY($3::text[]) AND state = 'notifying' " \
    "AND id = ANY(ARRAY(SELECT id FROM callbacks_notifying))"
/* Newest first from a position, or oldest first (order "ASC") back from one. */
#define WAY(cond, position, order) \
    "(SELECT * FROM callbacks WHERE " FILTERS "AND " cond " AND " position \
    " ORDER BY created_at " order ", id " order " LIMIT $8::int)"
#define LIST(position, order) \
    "SELECT " DB_CALLBACK_COLUMNS "FROM (" \
    WAY(ANY_STATE, position, order) \
    " UNION ALL SELECT c.* FROM " LIST_STATE " CROSS JOIN LATERAL " \
    WAY(IN_LIST_STATE, position, order) " AS c" \
    " UNION ALL " WAY(NOTIFYING, position, order) ") x " \
    "ORDER BY created_at " order ", id " order " LIMIT $8::int"
// clang-format on

static struct db_stmt callback_list_forward = DB_STMT(
    "callback_list_forward", 8,
    LIST("($6::bigint = 0 OR (created_at, id) < (to_timestamp($6::bigint / 1000.0), $7::uuid))",
         "DESC"));
static struct db_stmt callback_list_backward =
    DB_STMT("callback_list_backward", 8,
            LIST("(created_at, id) > (to_timestamp($6::bigint / 1000.0), $7::uuid)", "ASC"));

static struct db_stmt station_callbacks_forward =
    DB_STMT("station_callbacks_forward", 3,
            "SELECT " DB_CALLBACK_COLUMNS "FROM callbacks "
            "WHERE requester = $1 AND ended_at IS NULL AND seq > $2::bigint "
            "ORDER BY seq LIMIT $3::int");
static struct db_stmt station_callbacks_backward =
    DB_STMT("station_callbacks_backward", 3,
            "SELECT " DB_CALLBACK_COLUMNS "FROM callbacks "
            "WHERE requester = $1 AND ended_at IS NULL AND seq < $2::bigint "
            "ORDER BY seq DESC LIMIT $3::int");

static struct db_stmt callback_history =
    DB_STMT("callback_history", 1,
            "SELECT coalesce(json_agg(json_build_object('at', to_char(at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'from', from_state, 'to', to_state, 'cause', "
            "json_build_object('kind', cause_kind, 'ref', cause_ref)) ORDER BY id), '[]') "
            "FROM callback_history WHERE callback_id = $1::uuid");

/* Reads every row; reverses them when they came in the opposite order. */
static void read_rows(const PGresult *r, struct cb_callback *out, int *n, bool reverse)
{
    *n = PQntuples(r);
    for (int i = 0; i < *n; i++)
        db_callback_from_row(r, reverse ? *n - 1 - i : i, &out[i]);
}

enum db_status db_callback_get(struct db_conn *c, const char *id, struct cb_callback *out,
                               bool *found)
{
    const char *params[] = {id};
    enum db_status st;
    PGresult *r = db_exec(c, &callback_get, params, &st);
    *found = st == DB_OK && PQntuples(r) == 1;
    if (*found)
        db_callback_from_row(r, 0, out);
    PQclear(r);
    return st;
}

enum db_status db_callback_list(struct db_conn *c, const struct db_callback_filter *f,
                                const struct db_list_pos *pos, int limit, struct cb_callback *out,
                                int *n)
{
    char *states = db_array_of(f->states, f->n_states), after[24], before[24], at[24], lim[16];
    if (!states)
        return DB_ERROR;
    snprintf(after, sizeof after, "%lld", (long long)f->created_after_ms);
    snprintf(before, sizeof before, "%lld", (long long)f->created_before_ms);
    snprintf(at, sizeof at, "%lld", (long long)(pos ? pos->created_ms : 0));
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {f->requester ? f->requester : "",
                            f->target ? f->target : "",
                            states,
                            after,
                            before,
                            at,
                            pos ? pos->id : "00000000-0000-0000-0000-000000000000",
                            lim};
    bool backward = pos && pos->backward;
    enum db_status st;
    PGresult *r =
        db_exec(c, backward ? &callback_list_backward : &callback_list_forward, params, &st);
    free(states);
    *n = 0;
    if (st == DB_OK)
        read_rows(r, out, n, backward);
    PQclear(r);
    return st;
}

enum db_status db_station_callbacks(struct db_conn *c, const char *requester,
                                    const struct db_list_pos *pos, int limit,
                                    struct cb_callback *out, int *n)
{
    char seq[24], lim[16];
    snprintf(seq, sizeof seq, "%lld", (long long)(pos ? pos->seq : 0));
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {requester, seq, lim};
    bool backward = pos && pos->backward;
    enum db_status st;
    PGresult *r = db_exec(c, backward ? &station_callbacks_backward : &station_callbacks_forward,
                          params, &st);
    *n = 0;
    if (st == DB_OK)
        read_rows(r, out, n, backward);
    PQclear(r);
    return st;
}

enum db_status db_callback_history(struct db_conn *c, const char *id, json_t **items)
{
    const char *params[] = {id};
    enum db_status st;
    PGresult *r = db_exec(c, &callback_history, params, &st);
    *items = st == DB_OK ? json_loads(db_str(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    return st == DB_OK && !*items ? DB_ERROR : st;
}

/* Read from callbacks_active_by_requester (its predicate spelled out: migration 005), not from
 * the whole table with its ended callbacks. */
static struct db_stmt callbacks_active_by_state =
    DB_STMT("callbacks_active_by_state", 0,
            "SELECT state, count(*) FROM callbacks WHERE ended_at IS NULL "
            "AND requester IS NOT NULL GROUP BY state");

enum db_status db_callbacks_active_by_state(struct db_conn *c, long long counts[8])
{
    enum db_status st;
    PGresult *r = db_exec(c, &callbacks_active_by_state, NULL, &st);
    for (int i = 0; i < 8; i++)
        counts[i] = 0;
    for (int i = 0; st == DB_OK && i < PQntuples(r); i++) {
        int s = cb_state_parse(db_str(r, i, 0));
        if (s >= 0 && s < 8)
            counts[s] = db_int(r, i, 1);
    }
    PQclear(r);
    return st;
}
