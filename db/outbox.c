#include "db/outbox.h"

#include <stdlib.h>

static struct db_stmt outbox_insert =
    DB_STMT("outbox_insert", 4,
            "INSERT INTO commands (id, type, callback_id, order_key, body) "
            "VALUES (gen_random_uuid(), $1, nullif($2, '')::uuid, $3, $4::jsonb)");

enum db_status db_outbox_insert(struct db_conn *c, const char *type, const char *callback_id,
                                const char *order_key, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return DB_ERROR;
    const char *params[] = {type, callback_id ? callback_id : "", order_key, text};
    enum db_status st;
    PQclear(db_exec(c, &outbox_insert, params, &st));
    free(text);
    return st;
}
