/* Minted API tokens (db/tokens.h). */
#include "db/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIME(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* The token as the API shows it (never the token itself, nor its hash). */
#define TOKEN_DOC                                                                                  \
    "json_build_object('id', id, 'scopes', scopes, 'created_at', " TIME(                           \
        "created_at") ", 'expires_at', " TIME("expires_at") ", 'last_used_at', " TIME("last_used_" \
                                                                                      "at") ")::"  \
                                                                                            "text"
/* A list position: created_at in microseconds, then the id. */
#define TOKEN_POSITION "(extract(epoch FROM created_at) * 1000000)::bigint || ',' || id"

static struct db_stmt token_insert =
    DB_STMT("token_insert", 3,
            "INSERT INTO tokens (hash, scopes, expires_at) SELECT $1::bytea, array_agg(s),"
            " CASE WHEN $3::bigint > 0 THEN now() + make_interval(secs => $3::bigint) END"
            " FROM jsonb_array_elements_text($2::jsonb) AS s RETURNING " TOKEN_DOC);
static struct db_stmt token_get =
    DB_STMT("token_get", 1, "SELECT " TOKEN_DOC " FROM tokens WHERE id = $1::uuid");
static struct db_stmt token_list = DB_STMT(
    "token_list", 2,
    "SELECT " TOKEN_DOC ", " TOKEN_POSITION " FROM tokens"
    " WHERE $1 = '' OR (created_at, id) < (to_timestamp(split_part($1, ',', 1)::bigint"
    " / 1000000.0), split_part($1, ',', 2)::uuid) ORDER BY created_at DESC, id DESC LIMIT $2::int");
static struct db_stmt token_delete =
    DB_STMT("token_delete", 1, "DELETE FROM tokens WHERE id = $1::uuid");
static struct db_stmt tokens_touch =
    DB_STMT("tokens_touch", 1,
            "UPDATE tokens t SET last_used_at = to_timestamp((u->>'at_ms')::bigint / 1000.0)"
            " FROM jsonb_array_elements($1::jsonb) u WHERE t.id = (u->>'id')::uuid"
            " AND (t.last_used_at IS NULL OR t.last_used_at < to_timestamp((u->>'at_ms')::bigint / "
            "1000.0))");
static struct db_stmt tokens_gone =
    DB_STMT("tokens_gone", 1,
            "SELECT x FROM jsonb_array_elements_text($1::jsonb) x"
            " WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = x::uuid)");
static struct db_stmt token_by_hash = DB_STMT(
    "token_by_hash", 1,
    "SELECT id, array_to_json(scopes),"
    " coalesce(floor(extract(epoch FROM expires_at) * 1000)::bigint, 0)," /* the ms shown (cut) */
    " coalesce(floor(extract(epoch FROM last_used_at) * 1000)::bigint, 0)"
    " FROM tokens WHERE hash = $1::bytea AND (expires_at IS NULL OR expires_at > now())");

/* Parses the document of row `row`; NULL (and `*st` DB_ERROR) when it is not JSON. */
static json_t *doc_of(const PGresult *r, int row, enum db_status *st)
{
    json_t *doc = json_loads(db_str(r, row, 0), 0, NULL);
    if (!doc)
        *st = DB_ERROR;
    return doc;
}

enum db_status db_token_insert(struct db_conn *c, const char *hash_hex, json_t *scopes,
                               long long expires_in_s, json_t **doc)
{
    char *text = json_dumps(scopes, JSON_COMPACT);
    char secs[24];
    snprintf(secs, sizeof secs, "%lld", expires_in_s);
    const char *params[] = {hash_hex, text ? text : "[]", secs};
    enum db_status st;
    PGresult *r = db_exec(c, &token_insert, params, &st);
    *doc = st == DB_OK && PQntuples(r) == 1 ? doc_of(r, 0, &st) : NULL;
    PQclear(r);
    free(text);
    return st;
}

enum db_status db_token_get(struct db_conn *c, const char *id, json_t **doc)
{
    const char *params[] = {id};
    enum db_status st;
    PGresult *r = db_exec(c, &token_get, params, &st);
    *doc = st == DB_OK && PQntuples(r) == 1 ? doc_of(r, 0, &st) : NULL;
    PQclear(r);
    return st;
}

enum db_status db_token_list(struct db_conn *c, const char *after, int limit, json_t *items,
                             char next[96])
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *params[] = {after, lim};
    enum db_status st;
    PGresult *r = db_exec(c, &token_list, params, &st);
    next[0] = '\0';
    int n = st == DB_OK ? PQntuples(r) : 0;
    for (int i = 0; st == DB_OK && i < n && i < limit; i++) {
        json_t *doc = doc_of(r, i, &st);
        if (doc)
            json_array_append_new(items, doc);
        if (n > limit && i == limit - 1)
            snprintf(next, 96, "%s", db_str(r, i, 1));
    }
    PQclear(r);
    return st;
}

enum db_status db_token_delete(struct db_conn *c, const char *id, bool *found)
{
    const char *params[] = {id};
    enum db_status st;
    PGresult *r = db_exec(c, &token_delete, params, &st);
    *found = st == DB_OK && atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    return st;
}

enum db_status db_tokens_touch(struct db_conn *c, json_t *uses)
{
    char *text = json_dumps(uses, JSON_COMPACT);
    json_decref(uses);
    if (!text)
        return DB_ERROR;
    const char *params[] = {text};
    enum db_status st = db_run(c, &tokens_touch, params);
    free(text);
    return st;
}

enum db_status db_tokens_gone(struct db_conn *c, json_t *ids, json_t **gone)
{
    *gone = NULL;
    char *text = json_dumps(ids, JSON_COMPACT);
    if (!text)
        return DB_ERROR;
    const char *params[] = {text};
    enum db_status st;
    PGresult *r = db_exec(c, &tokens_gone, params, &st);
    free(text);
    if (st == DB_OK && !(*gone = json_array()))
        st = DB_ERROR;
    for (int i = 0; st == DB_OK && i < PQntuples(r); i++)
        json_array_append_new(*gone, json_string(db_str(r, i, 0)));
    PQclear(r);
    return st;
}

enum db_status db_token_by_hash(struct db_conn *c, const char *hash_hex, char id[40], char **scopes,
                                int64_t *expires_ms, int64_t *used_ms, bool *found)
{
    const char *params[] = {hash_hex};
    enum db_status st;
    PGresult *r = db_exec(c, &token_by_hash, params, &st);
    *found = st == DB_OK && PQntuples(r) == 1;
    *scopes = NULL;
    if (*found) {
        snprintf(id, 40, "%s", db_str(r, 0, 0));
        *scopes = strdup(db_str(r, 0, 1));
        *expires_ms = db_int(r, 0, 2);
        *used_ms = db_int(r, 0, 3);
        if (!*scopes)
            st = DB_ERROR;
    }
    PQclear(r);
    return st;
}
