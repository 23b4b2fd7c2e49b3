#include "api/auth.h"
#include "api/router.h"
#include "api/validate.h"
#include "db/pool.h"
#include "service/config.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Minted tokens cannot be revoked (API.md has no such endpoint), so a verified hash stays valid:
 * the cache saves a round trip per request. Bounded; when full it is cleared. */
#define TOKEN_CACHE_MAX 4096

struct cached_token {
    unsigned char hash[32];
    struct api_principal who;
};

struct api_token_cache {
    pthread_rwlock_t lock;
    struct cached_token *items;
    size_t n;
};

static struct db_stmt token_by_hash = DB_STMT(
    "token_by_hash", 1, "SELECT id, array_to_json(scopes) FROM tokens WHERE hash = $1::bytea");

struct api_token_cache *api_token_cache_new(void)
{
    struct api_token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->items = calloc(TOKEN_CACHE_MAX, sizeof *c->items);
    if (!c->items) {
        free(c);
        return NULL;
    }
    pthread_rwlock_init(&c->lock, NULL);
    return c;
}

void api_token_cache_free(struct api_token_cache *c)
{
    if (!c)
        return;
    pthread_rwlock_destroy(&c->lock);
    free(c->items);
    free(c);
}

void api_token_hash(const char *token, unsigned char out[32])
{
    SHA256((const unsigned char *)token, strlen(token), out);
}

bool api_scope_valid(const char *scope)
{
    if (!strcmp(scope, "admin") || !strcmp(scope, "operator"))
        return true;
    return !strncmp(scope, "station:", 8) && cb_number_valid(scope + 8);
}

/* Adds one scope string to a principal. */
static void grant(struct api_principal *who, const char *scope)
{
    if (!strcmp(scope, "admin"))
        who->admin = true;
    else if (!strcmp(scope, "operator"))
        who->operator= true;
    else if (!strncmp(scope, "station:", 8) && who->n_stations < API_MAX_STATION_SCOPES)
        snprintf(who->stations[who->n_stations++], CB_NUMBER_MAX, "%s", scope + 8);
}

static bool cache_find(struct api_token_cache *c, const unsigned char hash[32],
                       struct api_principal *who)
{
    bool found = false;
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->n && !found; i++)
        if (CRYPTO_memcmp(c->items[i].hash, hash, 32) == 0) {
            *who = c->items[i].who;
            found = true;
        }
    pthread_rwlock_unlock(&c->lock);
    return found;
}

static void cache_put(struct api_token_cache *c, const unsigned char hash[32],
                      const struct api_principal *who)
{
    pthread_rwlock_wrlock(&c->lock);
    if (c->n == TOKEN_CACHE_MAX)
        c->n = 0;
    memcpy(c->items[c->n].hash, hash, 32);
    c->items[c->n].who = *who;
    c->n++;
    pthread_rwlock_unlock(&c->lock);
}

/* Looks the hash up in the tokens table: 1 found, 0 unknown, -1 database unreachable. */
static int lookup_db(struct cb_app *app, const unsigned char hash[32], struct api_principal *who)
{
    char hex[2 + 64 + 1] = "\\x";
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", hash[i]);
    enum db_status st;
    struct db_conn *c = db_pool_acquire(app->pool, &st);
    if (!c)
        return -1;
    const char *params[] = {hex};
    PGresult *r = db_exec(c, &token_by_hash, params, &st);
    int found = st == DB_OK ? PQntuples(r) == 1 : -1;
    if (found == 1) {
        memset(who, 0, sizeof *who);
        snprintf(who->token_id, sizeof who->token_id, "%s", db_str(r, 0, 0));
        json_t *scopes = json_loads(db_str(r, 0, 1), 0, NULL);
        size_t i;
        json_t *s;
        json_array_foreach(scopes, i, s)
            grant(who, json_string_value(s) ? json_string_value(s) : "");
        json_decref(scopes);
        who->authenticated = true;
    }
    PQclear(r);
    db_pool_release(app->pool, c);
    return found;
}

enum api_auth api_authenticate(struct api_request *r, bool may_wait, enum api_error *err)
{
    const char *h;
    int given = api_header(r, "Authorization", &h);
    *err = API_UNAUTHORIZED;
    if (given != 1 || strncasecmp(h, "Bearer ", 7) != 0) /* two credentials are none */
        return API_AUTH_REFUSED;
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    if (!*token || strlen(token) > 512)
        return API_AUTH_REFUSED;
    unsigned char hash[32], admin[32];
    api_token_hash(token, hash);
    api_token_hash(r->app->cfg->admin_token, admin);
    memset(&r->who, 0, sizeof r->who);
    if (CRYPTO_memcmp(hash, admin, 32) == 0) {
        r->who.authenticated = r->who.admin = true;
        snprintf(r->who.token_id, sizeof r->who.token_id, "admin");
        return API_AUTH_KNOWN;
    }
    if (cache_find(r->app->tokens, hash, &r->who))
        return API_AUTH_KNOWN;
    if (!may_wait)
        return API_AUTH_LOOKUP;
    /* Bounded like every API use of the database: the pool's wait, connect_timeout, the answer
     * timeout, and at once during an outage (db/pool.h). */
    int found = lookup_db(r->app, hash, &r->who);
    if (found < 0)
        *err = API_SERVICE_UNAVAILABLE;
    if (found != 1)
        return API_AUTH_REFUSED;
    cache_put(r->app->tokens, hash, &r->who);
    return API_AUTH_KNOWN;
}

bool api_may_act_for(const struct api_request *r, const char *number)
{
    if (r->who.admin)
        return true;
    for (int i = 0; i < r->who.n_stations; i++)
        if (!strcmp(r->who.stations[i], number))
            return true;
    return false;
}

bool api_may_read_for(const struct api_request *r, const char *number)
{
    return r->who.operator|| api_may_act_for(r, number);
}

bool api_authorized(const struct api_request *r, unsigned scopes)
{
    if (r->who.admin)
        return true;
    if ((scopes & API_SCOPE_OPERATOR) && r->who.operator)
        return true;
    if ((scopes & API_SCOPE_STATION_ANY) && r->who.n_stations > 0)
        return true;
    if ((scopes & API_SCOPE_STATION_PARAM) && r->n_params > 0)
        return api_may_act_for(r, r->params[0]);
    return false;
}
