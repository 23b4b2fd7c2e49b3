/* Classes of service: PUT, GET one, GET list (admin writes, operators read). */
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/lists.h"
#include "api/validate.h"
#include "db/directory.h"
#include "db/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *cos_json(const struct db_cos *c)
{
    return json_pack("{s:s, s:b}", "id", c->id, "callbacks_allowed", c->callbacks_allowed);
}

static enum db_status cos_put_tx(struct db_conn *c, void *ctx)
{
    return db_cos_put(c, ctx);
}

bool api_parse_cos_body(json_t *body, struct db_cos *out, json_t *errors)
{
    const struct api_field fields[] = {
        {.name = "callbacks_allowed",
         .type = API_F_BOOL,
         .required = true,
         .dest = &out->callbacks_allowed},
        {.name = "id", .type = API_F_IGNORED},
    };
    return api_parse_fields(body, fields, 2, errors, "");
}

void api_cos_put(struct api_request *r)
{
    struct db_cos cos = {0};
    json_t *errors = api_path_errors(r);
    api_parse_cos_body(r->json, &cos, errors);
    if (api_refuse_invalid(r, errors))
        return;
    memcpy(cos.id, r->params[0], strlen(r->params[0]) + 1); /* a valid id: at most 32 */
    enum db_status st = db_tx_run(r->app->pool, cos_put_tx, &cos);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else
        api_reply_json(r, 200, cos_json(&cos));
}

void api_cos_get(struct api_request *r)
{
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    struct db_cos cos = {0};
    bool found = false;
    enum db_status st = db_cos_get(c, r->params[0], &cos, &found);
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else if (!found)
        api_reply_problem(r, API_NOT_FOUND, "no class of service %s", r->params[0]);
    else
        api_reply_json(r, 200, cos_json(&cos));
}

static enum db_status cos_read(struct db_conn *c, const struct api_keyed_list *l, const char *after,
                               int limit, void *rows, int *n)
{
    (void)l;
    return db_cos_list(c, after, limit, rows, n);
}
static json_t *cos_render(const struct api_keyed_list *l, const void *row)
{
    (void)l;
    return cos_json(row);
}
static const char *cos_key(const void *row)
{
    return ((const struct db_cos *)row)->id;
}

void api_cos_list(struct api_request *r)
{
    static const struct api_keyed_list list = {.valid = api_valid_cos_id,
                                               .row_size = sizeof(struct db_cos),
                                               .read = cos_read,
                                               .render = cos_render,
                                               .key = cos_key};
    api_list_keyed(r, &list);
}
