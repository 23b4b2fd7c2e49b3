#include "db/tx.h"

#define DB_TX_ATTEMPTS 5

enum db_status db_tx_run_on(struct db_conn *c, db_tx_fn fn, void *ctx)
{
    enum db_status st = DB_ERROR;
    for (int attempt = 0; attempt < DB_TX_ATTEMPTS; attempt++) {
        /* BEGIN goes out with the first statement, the deferred writes with COMMIT: a decision
         * is one or two round trips (its facts when they are not kept, then its locks, check,
         * writes and COMMIT: db/world.h). */
        c->begin_pending = true;
        c->last_sqlstate[0] = '\0'; /* this attempt's, for db_world_settle */
        st = fn(c, ctx);
        if (st == DB_OK)
            st = db_commit(c);
        db_discard(c);
        if (st != DB_OK && c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            (void)db_exec_simple(c, "ROLLBACK");
        if (st != DB_RETRY)
            return st;
    }
    return st;
}

enum db_status db_tx_run(struct db_pool *p, db_tx_fn fn, void *ctx)
{
    enum db_status why;
    struct db_conn *c = db_pool_acquire(p, &why);
    if (!c)
        return why;
    enum db_status st = db_tx_run_on(c, fn, ctx);
    db_pool_release(p, c);
    return st;
}
