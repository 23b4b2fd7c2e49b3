/* The API's callback requests (set, cancel, cancel all, call again), each run through the
 * rules core in the caller's transaction (CB-32). */
#ifndef CB_REQUESTS_H
#define CB_REQUESTS_H

#include "db/pool.h"
#include "service/core/core.h"

struct cb_request_result {
    enum cb_error error; /* CB_OK, or the refusal (the caller rolls back) */
    char detail[160];
    struct cb_callback callback; /* the callback set / ended / called again */
    int cancelled;               /* cancel all */
};

/* One set of a batch: the request, its request id (the history cause) and its outcome. */
struct cb_set_item {
    struct cb_set_request req;
    const char *request_id;
    struct cb_request_result res;
};

/* CB-01..CB-10, CB-40: sets the `n` callbacks in order against one world (loaded, locked and
 * saved once), as if each were set alone one after the other. A refused set is reported in its
 * item's `res.error` and changes nothing; DB_OK means the others are to be committed. */
enum db_status cb_request_set_many(struct db_conn *c, struct cb_set_item *items, int n);
/* One set alone: DB_ABORT when it is refused. A target dialed through a trunk group
 * ("95551234") is split into group and outside number (openapi.yaml). */
enum db_status cb_request_set(struct db_conn *c, const struct cb_set_request *req,
                              const char *request_id, struct cb_request_result *res);
/* CB-25: cancels one callback (already checked to exist and be active). */
enum db_status cb_request_cancel(struct db_conn *c, const char *id, const char *request_id,
                                 struct cb_request_result *res);
/* CB-26: cancels every active callback of `requester`. */
enum db_status cb_request_cancel_all(struct db_conn *c, const char *requester,
                                     const char *request_id, struct cb_request_result *res);
/* CB-32: Call Again. */
enum db_status cb_request_call_again(struct db_conn *c, const char *id, const char *request_id,
                                     struct cb_request_result *res);

/* CB-28: ends every active callback `number` (a station or group being deprovisioned) set or
 * is the target of, undoing rings, lines and lamps. */
enum db_status cb_request_number_removed(struct db_conn *c, const char *number,
                                         const char *request_id);

#endif
