/* Bearer tokens: the bootstrap admin token from the environment, and minted tokens whose
 * SHA-256 alone is stored, each with an optional expiry; a verified one is cached until it
 * expires or is deleted (api_token_cache_forget). */
#ifndef API_AUTH_H
#define API_AUTH_H

#include "api/http.h"

struct api_token_cache;

struct api_token_cache *api_token_cache_new(void);
void api_token_cache_free(struct api_token_cache *c);
/* Drops a deleted token (by id) from the cache: its next request is looked up, and refused. */
void api_token_cache_forget(struct api_token_cache *c, const char *token_id);
/* Counts the cache's forgets and clears. A principal carries the count read before its token
 * was verified (api_principal.cache_epoch): when it differs now, the token may have been
 * deleted since, unheard of by whoever holds that principal (api/stream_feed.c checks). */
uint64_t api_token_cache_epoch(struct api_token_cache *c);
/* Drops every cached token (revocations may have been missed while the feed was away), and
 * returns the uses they carried that are still to be written, as api_token_cache_uses does:
 * a token used just before the feed (re)connects keeps that use. */
json_t *api_token_cache_clear(struct api_token_cache *c);
/* The uses to write: [{"id", "at_ms"}] for each token used since its last written use and at
 * least a minute after it (or never written), whether a cached entry or the pending uses carry
 * it (api/auth.c); they count as written from now on. */
json_t *api_token_cache_uses(struct api_token_cache *c);
/* Takes back uses that api_token_cache_uses or _clear gave and that could not be written: they
 * are given again next time. */
void api_token_cache_unwritten(struct api_token_cache *c, json_t *uses);

/* What api_authenticate found. */
enum api_auth {
    API_AUTH_KNOWN,   /* a known token: r->who is its principal */
    API_AUTH_REFUSED, /* `*err`: API_UNAUTHORIZED, or API_SERVICE_UNAVAILABLE when the database
                         did not answer within its bounds (db/pool.h) */
    API_AUTH_LOOKUP,  /* only when the caller may not wait: the token is neither the bootstrap
                         one nor cached, and only the database knows it */
};

/* Reads the Authorization header into r->who. A token neither the bootstrap one nor cached is
 * looked up in the database when `may_wait` (a request thread, api/runner.c); an HTTP thread,
 * which never waits on the database, gets API_AUTH_LOOKUP instead. */
enum api_auth api_authenticate(struct api_request *r, bool may_wait, enum api_error *err);
/* Whether the principal has one of the route's scopes. */
bool api_authorized(const struct api_request *r, unsigned scopes);
/* Whether the principal may act for station `number` (admin, or station:<number>). */
bool api_may_act_for(const struct api_request *r, const char *number);
/* Whether the principal may read what concerns station `number` (admin, operator, or it). */
bool api_may_read_for(const struct api_request *r, const char *number);
/* SHA-256 of `token` into `out` (32 bytes). */
void api_token_hash(const char *token, unsigned char out[32]);
/* Parses one scope string ("admin", "operator", "station:<number>"); false when invalid. */
bool api_scope_valid(const char *scope);

#endif
