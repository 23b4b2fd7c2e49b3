/* Minted API tokens: only their SHA-256 is stored. */
#ifndef DB_TOKENS_H
#define DB_TOKENS_H

#include <jansson.h>

#include "db/pool.h"

/* Stores a token hash (hex) with its scopes (a JSON array); fills id and created_at. */
enum db_status db_token_insert(struct db_conn *c, const char *hash_hex, json_t *scopes, char id[40],
                               char created_at[40]);

#endif
