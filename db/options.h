/* The system options row (openapi.yaml, SystemOptions). */
#ifndef DB_OPTIONS_H
#define DB_OPTIONS_H

#include "db/pool.h"
#include "service/core/model.h"

/* The columns db_options_read() parses, in its order (more may follow them). */
#define DB_OPTION_COLUMNS                                                                          \
    "callback_cancel_timer_s, notification_timeout_s, recall_timeout_s, command_ttl_s, "           \
    "max_per_requester, max_per_target, digit_collection_during_busy_or_alerting, fac_setup, "     \
    "fac_cancel_all, fac_cancel_individual"

/* Reads the options; `lock` takes a row lock for a read-modify-write. */
enum db_status db_options_get(struct db_conn *c, struct cb_options *out, bool lock);
enum db_status db_options_put(struct db_conn *c, const struct cb_options *o);

/* Parses a row of DB_OPTION_COLUMNS. */
enum db_status db_options_read(const PGresult *r, struct cb_options *o);

#endif
