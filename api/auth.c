/* Bearer tokens (api/auth.h). A verified minted token is cached by its hash, so that a request
 * costs no round trip; the cache honours the token's life cycle: an expired entry is refused
 * from memory, a deleted token is forgotten by every process (the stream feed hears the
 * trigger's NOTIFY and calls api_token_cache_forget; on every new session of the feed the
 * whole cache is dropped, in case one was missed; the epoch they bump tells the feed which
 * open streams' tokens to look up again), and each entry keeps its last use, which
 * the feed writes about once a minute (api_token_cache_uses), never per request. A use no
 * entry carries (a token looked up across a clear, which may not be cached; entries dropped
 * when the cache is full; a write that failed) waits among the pending uses until then. */
#include "api/auth.h"
#include "api/router.h"
#include "api/validate.h"
#include "db/pool.h"
#include "db/tokens.h"
#include "service/config.h"
#include "service/hex.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bounded; when full it starts over. */
#define TOKEN_CACHE_MAX 4096
/* A token's last use is written again once it is this much later than the one written. */
#define TOKEN_USE_WRITE_MS 60000

struct cached_token {
    unsigned char hash[32];
    struct api_principal who;
    _Atomic int64_t used_ms; /* the last request with it (ms since the epoch) */
    int64_t written_ms;      /* the last use written to the database (under the lock) */
};

struct api_token_cache {
    pthread_rwlock_t lock;
    struct cached_token *items;
    size_t n;
    json_t *pending; /* {token id: ms of its last use}, at most TOKEN_CACHE_MAX (under the lock) */
    _Atomic uint64_t epoch; /* counts the forgets and clears (changed under the write lock) */
};

struct api_token_cache *api_token_cache_new(void)
{
    struct api_token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->items = calloc(TOKEN_CACHE_MAX, sizeof *c->items);
    c->pending = json_object();
    if (!c->items || !c->pending) {
        free(c->items);
        json_decref(c->pending);
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
    json_decref(c->pending);
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

/* The cached principal of `hash`, unless it expired by `now_ms`; its use is noted. */
static bool cache_find(struct api_token_cache *c, const unsigned char hash[32],
                       struct api_principal *who, int64_t now_ms)
{
    bool found = false;
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->n && !found; i++)
        if (CRYPTO_memcmp(c->items[i].hash, hash, 32) == 0) {
            if (c->items[i].who.expires_ms && c->items[i].who.expires_ms <= now_ms)
                break;
            *who = c->items[i].who;
            atomic_store(&c->items[i].used_ms, now_ms);
            found = true;
        }
    pthread_rwlock_unlock(&c->lock);
    return found;
}

/* Whether the use `used_ms` of a token whose last written use is `written_ms` is to be written:
 * it is later, and the first or at least a minute after the one written. */
static bool use_due(int64_t used_ms, int64_t written_ms)
{
    return used_ms > written_ms && (written_ms == 0 || used_ms - written_ms >= TOKEN_USE_WRITE_MS);
}

/* Keeps a use to write that no entry carries (c->lock held for writing); a later one of the
 * same token replaces it. `bounded`: dropped when TOKEN_CACHE_MAX tokens wait already. */
static void keep_use(struct api_token_cache *c, const char *token_id, int64_t used_ms, bool bounded)
{
    json_t *kept = json_object_get(c->pending, token_id);
    if (kept ? json_integer_value(kept) >= used_ms
             : bounded && json_object_size(c->pending) >= TOKEN_CACHE_MAX)
        return;
    json_object_set_new(c->pending, token_id, json_integer(used_ms));
}

/* Keeps the uses the entries carry that are due, counted as written from now on (c->lock held
 * for writing; `bounded` as for keep_use). */
static void keep_entries_uses(struct api_token_cache *c, bool bounded)
{
    for (size_t i = 0; i < c->n; i++) {
        struct cached_token *t = &c->items[i];
        int64_t used = atomic_load(&t->used_ms);
        if (use_due(used, t->written_ms)) {
            keep_use(c, t->who.token_id, used, bounded);
            t->written_ms = used;
        }
    }
}

/* Caches a principal looked up in the database, with the last use the database has of it
 * (`written_ms`: a token cached again after a clear is not written again before its minute),
 * unless a token was forgotten (or the cache cleared) since the lookup began: it may be that
 * one, deleted after the lookup read it. Its use is kept either way. */
static void cache_put(struct api_token_cache *c, const unsigned char hash[32],
                      const struct api_principal *who, int64_t now_ms, int64_t written_ms)
{
    pthread_rwlock_wrlock(&c->lock);
    if (atomic_load(&c->epoch) != who->cache_epoch) {
        if (use_due(now_ms, written_ms))
            keep_use(c, who->token_id, now_ms, true);
        pthread_rwlock_unlock(&c->lock);
        return;
    }
    if (c->n == TOKEN_CACHE_MAX) { /* starts over: the uses the entries carried wait */
        keep_entries_uses(c, true);
        c->n = 0;
    }
    struct cached_token *t = &c->items[c->n++];
    memcpy(t->hash, hash, 32);
    t->who = *who;
    atomic_store(&t->used_ms, now_ms);
    t->written_ms = written_ms;
    pthread_rwlock_unlock(&c->lock);
}

void api_token_cache_forget(struct api_token_cache *c, const char *token_id)
{
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < c->n;)
        if (!strcmp(c->items[i].who.token_id, token_id)) {
            c->items[i].who = c->items[c->n - 1].who;
            memcpy(c->items[i].hash, c->items[c->n - 1].hash, 32);
            atomic_store(&c->items[i].used_ms, atomic_load(&c->items[c->n - 1].used_ms));
            c->items[i].written_ms = c->items[c->n - 1].written_ms;
            c->n--;
        } else
            i++;
    atomic_fetch_add(&c->epoch, 1);
    pthread_rwlock_unlock(&c->lock);
}

uint64_t api_token_cache_epoch(struct api_token_cache *c)
{
    return atomic_load(&c->epoch);
}

/* The uses to write, one per token, counted as written (c->lock held for writing). */
static json_t *take_uses(struct api_token_cache *c)
{
    keep_entries_uses(c, false);
    json_t *uses = json_array();
    const char *id;
    json_t *at;
    json_object_foreach(c->pending, id, at) json_array_append_new(
        uses, json_pack("{s:s, s:I}", "id", id, "at_ms", json_integer_value(at)));
    json_object_clear(c->pending);
    return uses;
}

json_t *api_token_cache_clear(struct api_token_cache *c)
{
    pthread_rwlock_wrlock(&c->lock);
    json_t *uses = take_uses(c);
    c->n = 0;
    atomic_fetch_add(&c->epoch, 1);
    pthread_rwlock_unlock(&c->lock);
    return uses;
}

json_t *api_token_cache_uses(struct api_token_cache *c)
{
    pthread_rwlock_wrlock(&c->lock);
    json_t *uses = take_uses(c);
    pthread_rwlock_unlock(&c->lock);
    return uses;
}

void api_token_cache_unwritten(struct api_token_cache *c, json_t *uses)
{
    size_t i;
    json_t *use;
    pthread_rwlock_wrlock(&c->lock);
    json_array_foreach(uses, i, use)
    {
        const char *id = json_string_value(json_object_get(use, "id"));
        if (id)
            keep_use(c, id, json_integer_value(json_object_get(use, "at_ms")), true);
    }
    pthread_rwlock_unlock(&c->lock);
}

/* Looks the hash up in the tokens table (expired ones are not found), with the last use written
 * of it: 1 found, 0 unknown, -1 database unreachable. */
static int lookup_db(struct cb_app *app, const unsigned char hash[32], struct api_principal *who,
                     int64_t *written_ms)
{
    char hex[2 + 64 + 1];
    cb_hex_bytea(hash, 32, hex);
    enum db_status st;
    struct db_conn *c = db_pool_acquire(app->pool, &st);
    if (!c)
        return -1;
    char id[40];
    char *scope_text = NULL;
    int64_t expires_ms = 0;
    bool found = false;
    st = db_token_by_hash(c, hex, id, &scope_text, &expires_ms, written_ms, &found);
    db_pool_release(app->pool, c);
    if (st != DB_OK) {
        free(scope_text);
        return -1;
    }
    if (found) {
        memset(who, 0, sizeof *who);
        snprintf(who->token_id, sizeof who->token_id, "%s", id);
        who->expires_ms = expires_ms;
        json_t *scopes = json_loads(scope_text, 0, NULL);
        size_t i;
        json_t *s;
        json_array_foreach(scopes, i, s)
            grant(who, json_string_value(s) ? json_string_value(s) : "");
        json_decref(scopes);
        who->authenticated = true;
    }
    free(scope_text);
    return found ? 1 : 0;
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
    int64_t now = api_now_ms();
    uint64_t epoch = api_token_cache_epoch(r->app->tokens); /* before it is verified */
    if (cache_find(r->app->tokens, hash, &r->who, now)) {
        r->who.cache_epoch = epoch;
        return API_AUTH_KNOWN;
    }
    if (!may_wait)
        return API_AUTH_LOOKUP;
    /* Bounded like every API use of the database: the pool's wait, connect_timeout, the answer
     * timeout, and at once during an outage (db/pool.h). */
    int64_t written_ms = 0;
    int found = lookup_db(r->app, hash, &r->who, &written_ms);
    if (found < 0)
        *err = API_SERVICE_UNAVAILABLE;
    if (found != 1)
        return API_AUTH_REFUSED;
    r->who.cache_epoch = epoch;
    cache_put(r->app->tokens, hash, &r->who, now, written_ms);
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
