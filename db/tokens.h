/* Minted API tokens: only their SHA-256 is stored, with scopes, an optional expiry and the last
 * use (written coarsely, never per request). */
#ifndef DB_TOKENS_H
#define DB_TOKENS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/pool.h"

/* The NOTIFY channel of a deleted token (migrations/011); the payload is its id. */
#define DB_TOKENS_REVOKED_CHANNEL "callbackd_tokens"

/* Stores a token hash (hex) with its scopes (a JSON array) and a lifetime (`expires_in_s`, 0 for
 * none); `*doc` receives the token as GET /v1/tokens/{id} shows it (new reference). */
enum db_status db_token_insert(struct db_conn *c, const char *hash_hex, json_t *scopes,
                               long long expires_in_s, json_t **doc);
/* A token as GET /v1/tokens/{id} shows it; `*doc` NULL when there is none. */
enum db_status db_token_get(struct db_conn *c, const char *id, json_t **doc);
/* Tokens newest first, after the position `after` ("" from the newest: "<created µs>,<id>");
 * appends up to `limit` documents to `items`; `next` receives the position of the last one when
 * more follow, else "". */
enum db_status db_token_list(struct db_conn *c, const char *after, int limit, json_t *items,
                             char next[96]);
/* Deletes a token (every process drops it from its cache: the trigger's NOTIFY). */
enum db_status db_token_delete(struct db_conn *c, const char *id, bool *found);
/* Records last uses: `uses` is a JSON array of {"id", "at_ms"}; a later use already written
 * is kept. Steals `uses`. */
enum db_status db_tokens_touch(struct db_conn *c, json_t *uses);
/* Of the token ids in `ids` (a JSON array of strings, borrowed), those no longer in the table:
 * a new JSON array into `*gone`. */
enum db_status db_tokens_gone(struct db_conn *c, json_t *ids, json_t **gone);
/* The token with this hash (hex), unless expired: its id, scopes (JSON text into `scopes`,
 * malloc'd), expiry and last use written (ms since the epoch, 0 for none). `*found` false when
 * none. */
enum db_status db_token_by_hash(struct db_conn *c, const char *hash_hex, char id[40], char **scopes,
                                int64_t *expires_ms, int64_t *used_ms, bool *found);

#endif
