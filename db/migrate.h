/* Schema migrations: migrations/NNN_name.sql, embedded at build time, each applied once, in
 * order, in its own transaction, recorded in schema_migrations, under an advisory lock. */
#ifndef DB_MIGRATE_H
#define DB_MIGRATE_H

#include "db/pool.h"

struct db_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct db_migration db_migrations[];
extern const int db_migrations_count;

/* Applies every pending migration; returns the number applied, or -1 (logged) on failure. */
int db_migrate(struct db_conn *c);
/* The highest version applied, 0 for none, -1 when the database cannot be read. */
int db_schema_version(struct db_conn *c);
/* The version this binary expects (its newest migration). */
int db_schema_expected(void);

#endif
