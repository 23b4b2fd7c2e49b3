/* The one transaction runner (STYLE.md 4): begin, run a function, commit; retry on
 * serialization failure or deadlock; roll back on anything else. */
#ifndef DB_TX_H
#define DB_TX_H

#include "db/pool.h"

/* The work of one transaction. Returns DB_OK to commit; anything else rolls back. */
typedef enum db_status (*db_tx_fn)(struct db_conn *c, void *ctx);

/* Runs `fn` in a transaction on a pooled connection. Returns the outcome: DB_OK when
 * committed, DB_ABORT when `fn` chose to roll back, DB_UNAVAILABLE / DB_ERROR otherwise. */
enum db_status db_tx_run(struct db_pool *p, db_tx_fn fn, void *ctx);
/* The same on a connection the caller holds (the worker's own session). */
enum db_status db_tx_run_on(struct db_conn *c, db_tx_fn fn, void *ctx);

#endif
