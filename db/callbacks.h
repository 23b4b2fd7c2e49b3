/* Reading callbacks and their history for the API (writes go through db/world.c). */
#ifndef DB_CALLBACKS_H
#define DB_CALLBACKS_H

#include <jansson.h>

#include "db/pool.h"
#include "service/core/core.h"

/* Operator list filters (CB-34); empty strings / zero mean "any". */
struct db_callback_filter {
    const char *requester;
    const char *target;
    const char *states[8]; /* wire names; "active" expands to every non-terminal state */
    int n_states;
    int64_t created_after_ms, created_before_ms; /* 0 = unbounded */
};

/* A position in a list: (created_at, id) for operator lists, seq for the phone list. */
struct db_list_pos {
    bool backward; /* the cursor was a prev_cursor */
    int64_t created_ms;
    int64_t seq;
    char id[CB_ID_MAX];
};

enum db_status db_callback_get(struct db_conn *c, const char *id, struct cb_callback *out,
                               bool *found);
/* Newest first, after `pos` (NULL = from the newest); `out` holds limit + 1 rows so the caller
 * knows whether more follow. Backward positions return the rows before, still newest first. */
enum db_status db_callback_list(struct db_conn *c, const struct db_callback_filter *f,
                                const struct db_list_pos *pos, int limit, struct cb_callback *out,
                                int *n);
/* A station's active callbacks, oldest first (CB-32), paged like db_callback_list. */
enum db_status db_station_callbacks(struct db_conn *c, const char *requester,
                                    const struct db_list_pos *pos, int limit,
                                    struct cb_callback *out, int *n);
/* The history of a callback, oldest first, as a JSON array of openapi.yaml history entries. */
enum db_status db_callback_history(struct db_conn *c, const char *id, json_t **items);

/* Active callbacks by state (indexed by enum cb_state), for /metrics. */
enum db_status db_callbacks_active_by_state(struct db_conn *c, long long counts[8]);

#endif
