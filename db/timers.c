#include "db/timers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt timer_set = DB_STMT(
    "timer_set", 3,
    "INSERT INTO timers (kind, ref, due_at) VALUES ($1, $2, to_timestamp($3::bigint / 1000.0)) "
    "ON CONFLICT (kind, ref) DO UPDATE SET due_at = EXCLUDED.due_at");
static struct db_stmt timer_clear =
    DB_STMT("timer_clear", 2, "DELETE FROM timers WHERE kind = $1 AND ref = $2");

static struct db_stmt timers_set_rows = DB_STMT(
    "timers_set_rows", 1,
    "INSERT INTO timers (kind, ref, due_at) SELECT x.kind, x.ref, to_timestamp(x.at / 1000.0) "
    "FROM jsonb_to_recordset($1::jsonb) AS x(kind text, ref text, at bigint) "
    "ON CONFLICT (kind, ref) DO UPDATE SET due_at = EXCLUDED.due_at");
/* Key probes whatever the size of `timers`: see DB_JSON_KEYS. */
static struct db_stmt timers_clear_rows =
    DB_STMT("timers_clear_rows", 1,
            "DELETE FROM timers t USING jsonb_to_recordset($1::jsonb) AS x(kind text, ref text) "
            "WHERE t.kind = x.kind AND t.ref = x.ref "
            "AND t.kind = ANY(" DB_JSON_KEYS("kind", "text") ") "
                                                             "AND t.ref = ANY(" DB_JSON_KEYS(
                                                                 "ref", "text") ")");

void db_timers_queue(struct db_pipeline *p, json_t *sets, json_t *clears)
{
    db_pipeline_add_rows(p, &timers_clear_rows, clears);
    db_pipeline_add_rows(p, &timers_set_rows, sets);
}

enum db_status db_timer_set(struct db_conn *c, const char *kind, const char *ref, int64_t due_ms)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    const char *params[] = {kind, ref, due};
    return db_run(c, &timer_set, params);
}

enum db_status db_timer_clear(struct db_conn *c, const char *kind, const char *ref)
{
    const char *params[] = {kind, ref};
    return db_run(c, &timer_clear, params);
}

static struct db_stmt timers_due =
    DB_STMT("timers_due", 1,
            "SELECT kind, ref FROM timers WHERE due_at <= now() ORDER BY due_at LIMIT $1::int");
/* The timers of $1 (a JSON array of {kind, ref}) that are due, deleted and returned: each fires
 * once even if another worker read it too. */
static struct db_stmt timers_take_rows = DB_STMT(
    "timers_take_rows", 1,
    "DELETE FROM timers t USING jsonb_to_recordset($1::jsonb) AS x(kind text, ref text) "
    "WHERE t.kind = x.kind AND t.ref = x.ref AND t.due_at <= now() "
    "AND t.kind = ANY(" DB_JSON_KEYS("kind", "text") ") "
                                                     "AND t.ref = ANY(" DB_JSON_KEYS(
                                                         "ref", "text") ") "
                                                                        "RETURNING t.kind, t.ref");
static struct db_stmt timer_next_ms = DB_STMT(
    "timer_next_ms", 0,
    "SELECT ceil(extract(epoch FROM min(due_at) - clock_timestamp()) * 1000)::bigint FROM timers");
static struct db_stmt timer_arm = DB_STMT(
    "timer_arm", 3,
    "INSERT INTO timers (kind, ref, due_at) VALUES ($1, $2, to_timestamp($3::bigint / 1000.0)) "
    "ON CONFLICT (kind, ref) DO NOTHING");

enum db_status db_timers_due(struct db_conn *c, int limit, struct db_timer *out, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {lim};
    enum db_status st;
    PGresult *r = db_exec(c, &timers_due, params, &st);
    *n = 0;
    for (int i = 0; st == DB_OK && i < PQntuples(r) && i < limit; i++) {
        snprintf(out[*n].kind, sizeof out[*n].kind, "%s", db_str(r, i, 0));
        snprintf(out[*n].ref, sizeof out[*n].ref, "%s", db_str(r, i, 1));
        (*n)++;
    }
    PQclear(r);
    return st;
}

enum db_status db_timers_take(struct db_conn *c, const struct db_timer *timers, int n, bool *taken)
{
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        taken[i] = false;
        json_array_append_new(
            rows, json_pack("{s:s, s:s}", "kind", timers[i].kind, "ref", timers[i].ref));
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    if (!text)
        return DB_ERROR;
    const char *params[] = {text};
    enum db_status st;
    PGresult *r = db_exec(c, &timers_take_rows, params, &st);
    free(text);
    for (int k = 0; st == DB_OK && k < PQntuples(r); k++)
        for (int i = 0; i < n; i++)
            if (!taken[i] && !strcmp(timers[i].kind, db_str(r, k, 0)) &&
                !strcmp(timers[i].ref, db_str(r, k, 1))) {
                taken[i] = true;
                break;
            }
    PQclear(r);
    return st;
}

enum db_status db_timer_next_ms(struct db_conn *c, long long *ms)
{
    enum db_status st;
    PGresult *r = db_exec(c, &timer_next_ms, NULL, &st);
    if (st == DB_OK)
        *ms = db_is_null(r, 0, 0) ? -1 : db_int(r, 0, 0) < 0 ? 0 : db_int(r, 0, 0);
    PQclear(r);
    return st;
}

enum db_status db_timer_arm(struct db_conn *c, const char *kind, const char *ref, int64_t due_ms)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    const char *params[] = {kind, ref, due};
    return db_run(c, &timer_arm, params);
}
