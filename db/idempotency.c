#include "db/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt idem_expire =
    DB_STMT("idem_expire", 2,
            "DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 "
            "AND created_at < now() - interval '24 hours'");
static struct db_stmt idem_claim =
    DB_STMT("idem_claim", 3,
            "INSERT INTO idempotency_keys (token_id, key, request_hash, status, body) "
            "VALUES ($1, $2, $3::bytea, 0, '') ON CONFLICT DO NOTHING");
static struct db_stmt idem_read = DB_STMT(
    "idem_read", 3,
    "SELECT request_hash = $3::bytea, status, coalesce(location, ''), body FROM idempotency_keys "
    "WHERE token_id = $1 AND key = $2");
static struct db_stmt idem_store =
    DB_STMT("idem_store", 5,
            "UPDATE idempotency_keys SET status = $3::int, location = nullif($4, ''), body = $5 "
            "WHERE token_id = $1 AND key = $2");

enum db_status db_idem_claim(struct db_conn *c, const char *token_id, const char *key,
                             const char *hash_hex, struct db_idem_answer *prev)
{
    memset(prev, 0, sizeof *prev);
    const char *params[] = {token_id, key, hash_hex};
    enum db_status st;
    PQclear(db_exec(c, &idem_expire, params, &st));
    if (st != DB_OK)
        return st;
    PGresult *r = db_exec(c, &idem_claim, params, &st);
    bool claimed = st == DB_OK && atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (st != DB_OK || claimed)
        return st;
    r = db_exec(c, &idem_read, params, &st);
    if (st == DB_OK && PQntuples(r) == 1) {
        prev->found = true;
        prev->same_request = db_bool(r, 0, 0);
        prev->status = (int)db_int(r, 0, 1);
        snprintf(prev->location, sizeof prev->location, "%s", db_str(r, 0, 2));
        prev->body = strdup(db_str(r, 0, 3));
    }
    PQclear(r);
    return st;
}

enum db_status db_idem_store(struct db_conn *c, const char *token_id, const char *key, int status,
                             const char *location, const char *body)
{
    char s[16];
    snprintf(s, sizeof s, "%d", status);
    const char *params[] = {token_id, key, s, location ? location : "", body};
    return db_run(c, &idem_store, params);
}
