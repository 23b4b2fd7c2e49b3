/* The system options row (openapi.yaml, SystemOptions). */
#ifndef DB_OPTIONS_H
#define DB_OPTIONS_H

#include "db/pool.h"
#include "service/core/model.h"

/* Reads the options; `lock` takes a row lock for a read-modify-write. */
enum db_status db_options_get(struct db_conn *c, struct cb_options *out, bool lock);
enum db_status db_options_put(struct db_conn *c, const struct cb_options *o);

/* Queues the (unlocked) options read; db_options_read() parses its result. */
void db_options_queue(struct db_pipeline *p);
enum db_status db_options_read(const PGresult *r, struct cb_options *o);

#endif
