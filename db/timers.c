#include "db/timers.h"

#include <stdio.h>

static struct db_stmt timer_set = DB_STMT(
    "timer_set", 3,
    "INSERT INTO timers (kind, ref, due_at) VALUES ($1, $2, to_timestamp($3::bigint / 1000.0)) "
    "ON CONFLICT (kind, ref) DO UPDATE SET due_at = EXCLUDED.due_at");
static struct db_stmt timer_clear =
    DB_STMT("timer_clear", 2, "DELETE FROM timers WHERE kind = $1 AND ref = $2");

enum db_status db_timer_set(struct db_conn *c, const char *kind, const char *ref, int64_t due_ms)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    const char *params[] = {kind, ref, due};
    enum db_status st;
    PQclear(db_exec(c, &timer_set, params, &st));
    return st;
}

enum db_status db_timer_clear(struct db_conn *c, const char *kind, const char *ref)
{
    const char *params[] = {kind, ref};
    enum db_status st;
    PQclear(db_exec(c, &timer_clear, params, &st));
    return st;
}
