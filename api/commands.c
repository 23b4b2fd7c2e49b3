/* GET /v1/commands (openapi.yaml): every command kept in the outbox, in
 * seq order, with its delivery status; `after` is a plain seq, `cursor` continues a list. */
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/lists.h"
#include "api/validate.h"
#include "db/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A command seq: 0 or a positive whole number. */
static bool valid_seq(const char *s)
{
    int64_t seq;
    return api_parse_whole(s, INT64_MAX, &seq);
}

void api_commands_list(struct api_request *r)
{
    int limit;
    char cursor[API_CURSOR_MAX];
    int64_t after = 0;
    json_t *errors = json_array();
    api_list_params(r, valid_seq, &limit, cursor, errors);
    const char *after_arg = api_query(r, "after", errors);
    if (after_arg && !api_parse_whole(after_arg, INT64_MAX, &after))
        api_field_error(errors, "after", "must be a command seq (a whole number, 0 or more)");
    if (cursor[0])
        api_parse_whole(cursor, INT64_MAX, &after); /* checked by api_list_params */
    if (api_refuse_invalid(r, errors))
        return;
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    json_t *items = json_array();
    enum db_status st = db_outbox_list(c, after, limit + 1, items);
    api_conn_release(r, c);
    if (st != DB_OK) {
        json_decref(items);
        api_reply_db_error(r, st);
        return;
    }
    char next[24] = "";
    if ((int)json_array_size(items) > limit) {
        json_array_remove(items, (size_t)limit);
        snprintf(next, sizeof next, "%lld",
                 (long long)json_integer_value(
                     json_object_get(json_array_get(items, (size_t)limit - 1), "seq")));
    }
    api_reply_json(r, 200, api_list_answer(items, next[0] ? next : NULL, NULL));
}
