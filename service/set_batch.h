/* Group commit for the API's sets (POST /v1/callbacks, the softkey): the sets that HTTP threads
 * submit while transactions are running are applied together in the next one, against one
 * world (cb_request_set_many), so that N concurrent requests cost about one decision's
 * statements and one commit. A few batches run at once. No thread of its own: a waiting
 * request runs the batch (leader/follower: service/group_commit.c), so a lone request pays
 * nothing for it. */
#ifndef CB_SET_BATCH_H
#define CB_SET_BATCH_H

#include "db/pool.h"
#include "service/requests.h"

struct cb_set_batcher;

struct cb_metrics;

/* A batcher over `pool`, counting its sets and transactions in `metrics`; NULL on OOM. */
struct cb_set_batcher *cb_set_batcher_new(struct db_pool *pool, struct cb_metrics *metrics);
void cb_set_batcher_free(struct cb_set_batcher *b);

/* Sets one callback, batched with the sets submitted at the same time. Returns what its own
 * transaction would have: DB_OK (committed, `res->callback` is the new callback), DB_ABORT
 * (refused, `res` says why; nothing of it was written) or the database's status. */
enum db_status cb_set_batched(struct cb_set_batcher *b, const struct cb_set_request *req,
                              const char *request_id, struct cb_request_result *res);

#endif
