/* POST /v1/tokens: mints a scoped token; only its SHA-256 is stored. */
#include "api/auth.h"
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "db/tokens.h"
#include "db/tx.h"

#include <openssl/rand.h>
#include <stdio.h>

struct mint {
    const char *hash_hex;
    json_t *scopes;
    char id[40], created_at[40];
};

static enum db_status mint_tx(struct db_conn *c, void *ctx)
{
    struct mint *m = ctx;
    return db_token_insert(c, m->hash_hex, m->scopes, m->id, m->created_at);
}

bool api_parse_token_body(json_t *body, json_t **scopes, json_t *errors)
{
    *scopes = NULL;
    const struct api_field fields[] = {
        {.name = "scopes",
         .type = API_F_STRING_ARRAY,
         .required = true,
         .dest = scopes,
         .min = 1,
         .max = API_MAX_STATION_SCOPES,
         .check = api_scope_valid,
         .expect = "\"admin\", \"operator\" or \"station:<number>\""},
    };
    return api_parse_fields(body, fields, 1, errors, "");
}

void api_tokens_post(struct api_request *r)
{
    json_t *scopes = NULL;
    json_t *errors = json_array();
    if (!api_parse_token_body(r->json, &scopes, errors)) {
        api_reply_validation(r, errors);
        return;
    }
    json_decref(errors);

    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        api_reply_problem(r, API_INTERNAL_ERROR, "no randomness available");
        return;
    }
    char token[4 + 2 * sizeof raw + 1] = "cbk_";
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 4 + 2 * i, 3, "%02x", raw[i]);
    unsigned char hash[32];
    api_token_hash(token, hash);
    char hex[2 + 64 + 1] = "\\x";
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", hash[i]);

    struct mint m = {.hash_hex = hex, .scopes = scopes};
    enum db_status st = db_tx_run(r->app->pool, mint_tx, &m);
    if (st != DB_OK) {
        api_reply_db_error(r, st);
        return;
    }
    /* No Location: there is no resource to GET at /v1/tokens/{id}. */
    api_reply_json(r, 201,
                   json_pack("{s:s, s:s, s:O, s:s}", "id", m.id, "token", token, "scopes", scopes,
                             "created_at", m.created_at));
}
