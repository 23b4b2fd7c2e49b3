/* Trunk groups (lines) and hunt groups (members): PUT, GET, list; DELETE is api/number_delete.c. */
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/lists.h"
#include "api/stations.h"
#include "api/validate.h"
#include "db/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct group_put {
    struct db_group g;
    enum db_number_kind kind;
    json_t *errors;
};

static enum db_status group_put_tx(struct db_conn *c, void *ctx)
{
    struct group_put *p = ctx;
    enum db_status st;
    if (p->kind == DB_NUMBER_HUNT_GROUP) {
        char missing[CB_NUMBER_MAX];
        st = db_first_missing_station(c, p->g.items, missing);
        if (st != DB_OK)
            return st;
        if (missing[0]) {
            api_field_error(p->errors, "members", "%s is not a provisioned station", missing);
            return DB_ABORT;
        }
        st = db_hunt_group_put(c, &p->g);
    } else
        st = db_trunk_group_put(c, &p->g);
    if (st == DB_CONFLICT) {
        api_field_error(p->errors, "number", "%s is already used by another station or group",
                        p->g.number);
        return DB_ABORT;
    }
    return st;
}

static bool has_duplicates(json_t *a)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        for (size_t j = i + 1; j < json_array_size(a); j++)
            if (json_equal(json_array_get(a, i), json_array_get(a, j)))
                return true;
    return false;
}

bool api_parse_group_body(json_t *body, bool trunk, json_t **items, bool *callback_activation,
                          json_t *errors)
{
    size_t before = json_array_size(errors);
    const char *list = trunk ? "lines" : "members";
    *items = NULL;
    const struct api_field fields[] = {
        {.name = list,
         .type = API_F_STRING_ARRAY,
         .required = true,
         .dest = items,
         .min = 0,
         .max = DB_GROUP_ITEMS_MAX,
         .check = trunk ? api_valid_line_id : cb_number_valid,
         .expect = trunk ? "a line id (1-64 characters, no spaces or /)" : "a station number"},
        {.name = "callback_activation", .type = API_F_BOOL, .dest = callback_activation},
        {.name = "number", .type = API_F_IGNORED},
        {.name = trunk ? "line_states" : "member_states", .type = API_F_IGNORED},
    };
    api_parse_fields(body, fields, sizeof fields / sizeof fields[0], errors, "");
    /* cppcheck-suppress knownConditionTrueFalse ; set through fields[] */
    if (*items && has_duplicates(*items))
        api_field_error(errors, list, "must not name the same %s twice", trunk ? "line" : "member");
    return json_array_size(errors) == before;
}

static void group_put(struct api_request *r, enum db_number_kind kind)
{
    bool trunk = kind == DB_NUMBER_TRUNK_GROUP;
    struct group_put p = {.kind = kind, .errors = api_path_errors(r)};
    json_t *items = NULL;
    api_parse_group_body(r->json, trunk, &items, &p.g.callback_activation, p.errors);
    if (json_array_size(p.errors)) {
        api_reply_validation(r, p.errors);
        return;
    }
    snprintf(p.g.number, sizeof p.g.number, "%.32s", r->params[0]);
    p.g.items = items;
    enum db_status st = db_tx_run(r->app->pool, group_put_tx, &p);
    if (!api_write_committed(r, st, p.errors))
        return;
    if (trunk)
        api_trunk_group_get(r);
    else
        api_hunt_group_get(r);
}

/* The group as openapi.yaml shows it; for trunks `lines` are ids and `line_states` their state. */
static json_t *group_json(const struct db_group *g, bool trunk)
{
    json_t *doc =
        json_pack("{s:s, s:b}", "number", g->number, "callback_activation", g->callback_activation);
    if (!trunk) {
        json_object_set(doc, "members", g->items);
        return doc;
    }
    json_t *lines = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(g->items, i, l) json_array_append(lines, json_object_get(l, "line"));
    json_object_set_new(doc, "lines", lines);
    json_object_set(doc, "line_states", g->items);
    return doc;
}

static void group_get(struct api_request *r, enum db_number_kind kind)
{
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    struct db_group g = {0};
    bool found = false;
    enum db_status st = db_group_get(c, kind, r->params[0], &g, &found);
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else if (!found)
        api_reply_problem(r, API_NOT_FOUND, "no %s group %s",
                          kind == DB_NUMBER_TRUNK_GROUP ? "trunk" : "hunt", r->params[0]);
    else
        api_reply_json(r, 200, group_json(&g, kind == DB_NUMBER_TRUNK_GROUP));
    json_decref(g.items);
}

static enum db_status group_read(struct db_conn *c, const struct api_keyed_list *l,
                                 const char *after, int limit, void *rows, int *n)
{
    return db_group_list(c, (enum db_number_kind)l->kind, after, limit, rows, n);
}
static json_t *group_render(const struct api_keyed_list *l, const void *row)
{
    return group_json(row, l->kind == DB_NUMBER_TRUNK_GROUP);
}
static const char *group_key(const void *row)
{
    return ((const struct db_group *)row)->number;
}
static void group_release(void *row)
{
    json_decref(((struct db_group *)row)->items);
}

static void group_list(struct api_request *r, enum db_number_kind kind)
{
    const struct api_keyed_list list = {.valid = cb_number_valid,
                                        .row_size = sizeof(struct db_group),
                                        .read = group_read,
                                        .render = group_render,
                                        .key = group_key,
                                        .release = group_release,
                                        .kind = (int)kind};
    api_list_keyed(r, &list);
}

void api_trunk_group_put(struct api_request *r)
{
    group_put(r, DB_NUMBER_TRUNK_GROUP);
}
void api_trunk_group_get(struct api_request *r)
{
    group_get(r, DB_NUMBER_TRUNK_GROUP);
}
void api_trunk_group_list(struct api_request *r)
{
    group_list(r, DB_NUMBER_TRUNK_GROUP);
}
void api_trunk_group_delete(struct api_request *r)
{
    api_number_delete(r, DB_NUMBER_TRUNK_GROUP);
}
void api_hunt_group_put(struct api_request *r)
{
    group_put(r, DB_NUMBER_HUNT_GROUP);
}
void api_hunt_group_get(struct api_request *r)
{
    group_get(r, DB_NUMBER_HUNT_GROUP);
}
void api_hunt_group_list(struct api_request *r)
{
    group_list(r, DB_NUMBER_HUNT_GROUP);
}
void api_hunt_group_delete(struct api_request *r)
{
    api_number_delete(r, DB_NUMBER_HUNT_GROUP);
}
