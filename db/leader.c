#include "db/leader.h"

#include <stdio.h>

static struct db_stmt leader_try =
    DB_STMT("leader_try", 1, "SELECT pg_try_advisory_lock($1::bigint)");
static struct db_stmt leader_release =
    DB_STMT("leader_release", 1, "SELECT pg_advisory_unlock($1::bigint)");

enum db_status db_leader_try(struct db_conn *c, long long key, bool *got)
{
    char k[24];
    snprintf(k, sizeof k, "%lld", key);
    const char *params[] = {k};
    enum db_status st;
    PGresult *r = db_exec(c, &leader_try, params, &st);
    *got = st == DB_OK && db_bool(r, 0, 0);
    PQclear(r);
    return st;
}

enum db_status db_leader_release(struct db_conn *c, long long key)
{
    char k[24];
    snprintf(k, sizeof k, "%lld", key);
    const char *params[] = {k};
    return db_run(c, &leader_release, params);
}

enum db_status db_listen(struct db_conn *c, const char *channel)
{
    char sql[96];
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    return db_exec_simple(c, sql);
}

int db_conn_socket(const struct db_conn *c)
{
    return PQsocket(c->pg);
}

bool db_conn_alive(const struct db_conn *c)
{
    return PQstatus(c->pg) == CONNECTION_OK;
}

bool db_notifications_drain(struct db_conn *c)
{
    bool any = false;
    PGnotify *note;
    while ((note = PQnotifies(c->pg))) {
        PQfreemem(note);
        any = true;
    }
    return any;
}

bool db_notifications_read(struct db_conn *c, bool *any)
{
    *any = false;
    if (!PQconsumeInput(c->pg))
        return false;
    *any = db_notifications_drain(c);
    return true;
}
