/* The command outbox (CB-51): commands are written in the transaction of the state change that
 * causes them, then delivered by the dispatcher in order per station. */
#ifndef DB_OUTBOX_H
#define DB_OUTBOX_H

#include <jansson.h>

#include "db/pool.h"

/* Stores one command: `body` is the whole command as POSTed minus id/seq/created_at (the
 * type fields, "type" and "callback_id"); `order_key` the station whose commands keep order. */
enum db_status db_outbox_insert(struct db_conn *c, const char *type, const char *callback_id,
                                const char *order_key, json_t *body);

#endif
