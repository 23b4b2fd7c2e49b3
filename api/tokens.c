/* Tokens and their life cycle: POST /v1/tokens mints a scoped token, with an optional lifetime
 * (only its SHA-256 is stored); GET lists and shows them (never the token); DELETE revokes one,
 * and every process on the database refuses it from then on (api/auth.c). */
#include "api/auth.h"
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/lists.h"
#include "api/validate.h"
#include "db/tokens.h"
#include "db/tx.h"
#include "service/hex.h"

#include <stdio.h>
#include <string.h>

struct mint {
    const char *hash_hex;
    json_t *scopes;
    int64_t expires_in_s;
    json_t *doc;
};

static enum db_status mint_tx(struct db_conn *c, void *ctx)
{
    struct mint *m = ctx;
    return db_token_insert(c, m->hash_hex, m->scopes, m->expires_in_s, &m->doc);
}

bool api_parse_token_body(json_t *body, json_t **scopes, int64_t *expires_in_s, json_t *errors)
{
    *scopes = NULL;
    *expires_in_s = 0;
    const struct api_field fields[] = {
        {.name = "scopes",
         .type = API_F_STRING_ARRAY,
         .required = true,
         .dest = scopes,
         .min = 1,
         .max = API_MAX_STATION_SCOPES,
         .check = api_scope_valid,
         .expect = "\"admin\", \"operator\" or \"station:<number>\""},
        {.name = "expires_in_s",
         .type = API_F_INT,
         .nullable = true,
         .dest = expires_in_s,
         .min = API_TOKEN_LIFE_MIN_S,
         .max = API_TOKEN_LIFE_MAX_S},
    };
    return api_parse_fields(body, fields, 2, errors, "");
}

void api_tokens_post(struct api_request *r)
{
    struct mint m = {0};
    json_t *errors = json_array();
    if (!api_parse_token_body(r->json, &m.scopes, &m.expires_in_s, errors)) {
        api_reply_validation(r, errors);
        return;
    }
    json_decref(errors);

    char token[4 + 2 * 24 + 1] = "cbk_"; /* 24 random bytes */
    cb_random_hex(24, token + 4);
    unsigned char hash[32];
    api_token_hash(token, hash);
    char hex[2 + 64 + 1];
    cb_hex_bytea(hash, sizeof hash, hex);

    m.hash_hex = hex;
    enum db_status st = db_tx_run(r->app->pool, mint_tx, &m);
    if (st != DB_OK || !m.doc) {
        json_decref(m.doc);
        api_reply_db_error(r, st == DB_OK ? DB_ERROR : st);
        return;
    }
    char location[96];
    snprintf(location, sizeof location, "/v1/tokens/%s",
             json_string_value(json_object_get(m.doc, "id")));
    api_add_header(r, "Location", location);
    json_object_set_new(m.doc, "token", json_string(token));
    api_reply_json(r, 201, m.doc);
}

/* A token list position: "<created_at in µs>,<id>". */
static bool valid_position(const char *s)
{
    const char *comma = strchr(s, ',');
    if (!comma || comma == s || comma - s > 19)
        return false;
    char micros[24];
    memcpy(micros, s, (size_t)(comma - s));
    micros[comma - s] = '\0';
    int64_t v;
    return api_parse_whole(micros, INT64_MAX / 2, &v) && cb_uuid_valid(comma + 1);
}

void api_tokens_list(struct api_request *r)
{
    int limit;
    char cursor[API_CURSOR_MAX];
    if (!api_list_begin(r, valid_position, &limit, cursor))
        return;
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    json_t *items = json_array();
    char next[96];
    enum db_status st = db_token_list(c, cursor, limit, items, next);
    api_conn_release(r, c);
    if (st != DB_OK) {
        json_decref(items);
        api_reply_db_error(r, st);
        return;
    }
    api_reply_json(r, 200, api_list_answer(items, next[0] ? next : NULL, NULL));
}

void api_token_get(struct api_request *r)
{
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    json_t *doc = NULL;
    enum db_status st = db_token_get(c, r->params[0], &doc);
    api_conn_release(r, c);
    if (st != DB_OK) {
        json_decref(doc);
        api_reply_db_error(r, st);
    } else if (!doc)
        api_reply_problem(r, API_NOT_FOUND, "no token %s", r->params[0]);
    else
        api_reply_json(r, 200, doc);
}

struct revoke {
    const char *id;
    bool found;
};

static enum db_status revoke_tx(struct db_conn *c, void *ctx)
{
    struct revoke *v = ctx;
    return db_token_delete(c, v->id, &v->found);
}

void api_token_delete(struct api_request *r)
{
    struct revoke v = {.id = r->params[0]};
    enum db_status st = db_tx_run(r->app->pool, revoke_tx, &v);
    if (st != DB_OK) {
        api_reply_db_error(r, st);
        return;
    }
    if (!v.found) {
        api_reply_problem(r, API_NOT_FOUND, "no token %s", r->params[0]);
        return;
    }
    /* This process refuses it at once; the others when the trigger's NOTIFY reaches them. */
    api_token_cache_forget(r->app->tokens, r->params[0]);
    api_reply_empty(r, 204);
}
