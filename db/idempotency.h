/* Idempotency-Key for POST /v1/callbacks (openapi.yaml): per token, 24 h, same body = same answer.
 */
#ifndef DB_IDEMPOTENCY_H
#define DB_IDEMPOTENCY_H

#include "db/pool.h"

struct db_idem_answer {
    bool found;        /* the key was used before (within 24 h) */
    bool same_request; /* ...with the same body */
    int status;
    char location[128];
    char *body; /* malloc'd */
};

/* Claims (token, key) for a request whose canonical body hashes to `hash_hex`, in the caller's
 * transaction. When it was used before, fills `prev` instead (a concurrent first use is waited
 * for: the unique key serializes them). */
enum db_status db_idem_claim(struct db_conn *c, const char *token_id, const char *key,
                             const char *hash_hex, struct db_idem_answer *prev);
/* Records the answer of a claimed key. */
enum db_status db_idem_store(struct db_conn *c, const char *token_id, const char *key, int status,
                             const char *location, const char *body);

#endif
