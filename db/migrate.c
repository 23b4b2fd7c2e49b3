#include "db/migrate.h"
#include "service/log.h"

#include <stdio.h>
#include <string.h>

/* pg_advisory_lock key for migrations: two processes starting at once never apply one twice. */
#define DB_MIGRATION_LOCK 0x63626d6967LL

static struct db_stmt record_migration = DB_STMT(
    "record_migration", 2, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)");
static struct db_stmt applied_version =
    DB_STMT("applied_version", 0, "SELECT coalesce(max(version), 0) FROM schema_migrations");

int db_schema_expected(void)
{
    return db_migrations_count ? db_migrations[db_migrations_count - 1].version : 0;
}

int db_schema_version(struct db_conn *c)
{
    enum db_status st;
    PGresult *r = db_exec(c, &applied_version, NULL, &st);
    int v = -1;
    if (st == DB_OK && PQntuples(r) == 1)
        v = (int)db_int(r, 0, 0);
    else if (c->last_sqlstate[0] && !strcmp(c->last_sqlstate, "42P01"))
        v = 0; /* no schema_migrations table yet */
    PQclear(r);
    return v;
}

static int apply_one(struct db_conn *c, const struct db_migration *m)
{
    if (db_exec_simple(c, "BEGIN") != DB_OK)
        return -1;
    if (db_exec_simple(c, m->sql) != DB_OK) {
        cb_logf(CB_LOG_ERROR, "migration %s failed", m->name);
        (void)db_exec_simple(c, "ROLLBACK");
        return -1;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name};
    enum db_status st;
    PQclear(db_exec(c, &record_migration, params, &st));
    if (st != DB_OK || db_exec_simple(c, "COMMIT") != DB_OK) {
        (void)db_exec_simple(c, "ROLLBACK");
        return -1;
    }
    cb_log(CB_LOG_INFO, "migration applied", json_pack("{s:s}", "migration", m->name));
    return 0;
}

int db_migrate(struct db_conn *c)
{
    char lock[64];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%lld)", DB_MIGRATION_LOCK);
    if (db_exec_simple(c, lock) != DB_OK)
        return -1;
    int applied = 0;
    if (db_exec_simple(c, "SET client_min_messages = warning") != DB_OK ||
        db_exec_simple(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version integer PRIMARY KEY, name text NOT NULL,"
                          " applied_at timestamptz NOT NULL DEFAULT now())") != DB_OK) {
        applied = -1;
        goto out;
    }
    int current = db_schema_version(c);
    if (current < 0) {
        applied = -1;
        goto out;
    }
    for (int i = 0; i < db_migrations_count; i++) {
        if (db_migrations[i].version <= current)
            continue;
        if (apply_one(c, &db_migrations[i]) != 0) {
            applied = -1;
            goto out;
        }
        applied++;
    }
out:
    snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%lld)", DB_MIGRATION_LOCK);
    (void)db_exec_simple(c, lock);
    return applied;
}
