/* The PBX event inbox (CB-50): events are stored before the 202, then applied once, in the
 * order received, by the worker; applied events are purged after a retention period. */
#ifndef DB_INBOX_H
#define DB_INBOX_H

#include <jansson.h>

#include "db/pool.h"
#include "service/core/core.h"

/* The NOTIFY channel that wakes a worker leading in another process when events are stored
 * (db_inbox_store; one leading here is woken in-process: db/leader.h). */
#define DB_INBOX_CHANNEL "callbackd_events"

/* One stored event not yet applied. */
struct db_inbox_event {
    long long seq;
    bool parsed;           /* stored parsed by the webhook: `event` is what it parsed */
    struct cb_event event; /* (only its id when not parsed) */
    json_t *body;          /* when not parsed (stored before migration 009): as received; owned */
};

/* Stores a batch of validated events in one statement. `rows_json` is a JSON array with, per
 * event, its id, type, `body` (as received) and its parsed fields by column (cb_event_columns).
 * New ids get the next seqs in batch order, ids already stored (also earlier in the same batch)
 * are skipped, and the worker is woken when one is new (in-process when it leads here, else by a
 * NOTIFY). `ids` are the rows' ids, in order; `stored[i]` says whether row i was new. */
enum db_status db_inbox_store(struct db_conn *c, const char *rows_json, const char *const *ids,
                              int n, bool *stored);
/* Reads up to `limit` unapplied events in seq order into `*out`, an array of as many as were
 * read (`*n`; NULL when none), which the caller frees with db_inbox_events_free. */
enum db_status db_inbox_unapplied(struct db_conn *c, int limit, struct db_inbox_event **out,
                                  int *n);
void db_inbox_events_free(struct db_inbox_event *events, int n);
/* Marks `n` events applied with their outcome ("applied" or "ignored"), with the transaction's
 * next round trip (its COMMIT at the latest: db_pipeline_defer). When any of them was applied
 * already (another worker: CB-54 forbids applying twice), that round trip fails the transaction
 * as a serialization failure (DB_RETRY; migration 022). */
enum db_status db_inbox_mark(struct db_conn *c, const long long *seqs, const char *const *outcomes,
                             int n);
/* How many events wait to be applied. */
enum db_status db_inbox_lag(struct db_conn *c, long long *lag);
/* Deletes up to `limit` events applied more than `retention_s` ago; `*deleted` how many. */
enum db_status db_inbox_purge(struct db_conn *c, int retention_s, int limit, int *deleted);

#endif
