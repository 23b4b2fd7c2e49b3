/* The change log behind GET /v1/stream (migrations/011 to 013; no NOTIFY: the feed polls):
 * numbering the committed changes in commit order, reading them back by stream id, and the
 * retention purge. */
#ifndef DB_CHANGES_H
#define DB_CHANGES_H

#include <jansson.h>

#include "db/pool.h"
#include "service/core/core.h"

enum db_change_kind {
    DB_CHANGE_CALLBACK = 0,
    DB_CHANGE_COMMAND = 1,
    DB_CHANGE_STATION = 2,
};

/* One numbered change: the row after it, read the way the API reads that kind. */
struct db_change {
    long long id;
    enum db_change_kind kind;
    char station[CB_NUMBER_MAX]; /* the station token that may see it ("" for none) */
    struct cb_callback callback; /* DB_CHANGE_CALLBACK */
    struct cb_station st;        /* DB_CHANGE_STATION */
    char cos[33];                /* DB_CHANGE_STATION: the station's class of service */
    char *command;               /* DB_CHANGE_COMMAND: the command document (JSON text); owned */
};

/* Numbers the committed changes not numbered yet, in one transaction holding the numbering
 * lock (another process numbering waits its turn), and purges what is older than
 * `retention_s` when `purge`. `*last_id` is the last id given. */
enum db_status db_changes_number(struct db_conn *c, bool purge, int retention_s,
                                 long long *last_id);
/* The last id given, and the last id the purge removed (a reader behind it lost changes). */
enum db_status db_changes_position(struct db_conn *c, long long *last_id,
                                   long long *purged_through);
/* The changes with ids in (after, upto], in id order, into `out` (room for `max`, at most
 * upto - after of them); `*n` is how many. Free with db_changes_clear. */
enum db_status db_changes_read(struct db_conn *c, long long after, long long upto,
                               struct db_change *out, int max, int *n);
/* Frees what db_changes_read put in `out`. */
void db_changes_clear(struct db_change *out, int n);

#endif
