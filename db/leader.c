#include "db/leader.h"

#include <pthread.h>
#include <stdio.h>

static struct db_stmt leader_try =
    DB_STMT("leader_try", 1, "SELECT pg_try_advisory_lock($1::bigint)");
static struct db_stmt leader_release =
    DB_STMT("leader_release", 1, "SELECT pg_advisory_unlock($1::bigint)");

/* The two loops (worker, dispatcher): whether each leads here, and its wake-up. */
static struct local_leader {
    long long key;
    bool leading;
    void (*wake)(void *arg);
    void *arg;
} local[] = {{.key = DB_LEADER_WORKER_KEY}, {.key = DB_LEADER_DISPATCHER_KEY}};
static pthread_mutex_t local_lock = PTHREAD_MUTEX_INITIALIZER;

static struct local_leader *local_of(long long key)
{
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (local[i].key == key)
            return &local[i];
    return NULL;
}

void db_leader_local(long long key, bool leading, void (*wake)(void *arg), void *arg)
{
    struct local_leader *l = local_of(key);
    if (!l)
        return;
    pthread_mutex_lock(&local_lock);
    *l = (struct local_leader){.key = key, .leading = leading, .wake = wake, .arg = arg};
    pthread_mutex_unlock(&local_lock);
}

bool db_leader_is_local(long long key)
{
    struct local_leader *l = local_of(key);
    pthread_mutex_lock(&local_lock);
    bool leading = l && l->leading;
    pthread_mutex_unlock(&local_lock);
    return leading;
}

bool db_leader_local_wake(long long key)
{
    struct local_leader *l = local_of(key);
    pthread_mutex_lock(&local_lock);
    bool leading = l && l->leading && l->wake;
    if (leading) /* under the lock: the seat cannot be finished meanwhile */
        l->wake(l->arg);
    pthread_mutex_unlock(&local_lock);
    return leading;
}

void db_leader_wake_committed(struct db_conn *c)
{
    if (c->wake_on_commit & DB_WAKE_WORKER)
        (void)db_leader_local_wake(DB_LEADER_WORKER_KEY);
    if (c->wake_on_commit & DB_WAKE_DISPATCHER)
        (void)db_leader_local_wake(DB_LEADER_DISPATCHER_KEY);
    c->wake_on_commit = 0;
}

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
