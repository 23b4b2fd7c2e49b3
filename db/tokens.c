#include "db/tokens.h"

#include <stdio.h>
#include <stdlib.h>

static struct db_stmt token_insert =
    DB_STMT("token_insert", 2,
            "INSERT INTO tokens (hash, scopes) SELECT $1::bytea, array_agg(s) FROM "
            "jsonb_array_elements_text($2::jsonb) AS s RETURNING id, "
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");

enum db_status db_token_insert(struct db_conn *c, const char *hash_hex, json_t *scopes, char id[40],
                               char created_at[40])
{
    char *text = json_dumps(scopes, JSON_COMPACT);
    const char *params[] = {hash_hex, text ? text : "[]"};
    enum db_status st;
    PGresult *r = db_exec(c, &token_insert, params, &st);
    if (st == DB_OK && PQntuples(r) == 1) {
        snprintf(id, 40, "%s", db_str(r, 0, 0));
        snprintf(created_at, 40, "%s", db_str(r, 0, 1));
    }
    PQclear(r);
    free(text);
    return st;
}
