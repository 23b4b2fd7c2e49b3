/* Stations: provisioning (admin), reading with live state and softkey (CB-33), removal (CB-28). */
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/inputs.h"
#include "api/lists.h"
#include "api/stations.h"
#include "api/validate.h"
#include "db/directory.h"
#include "db/tx.h"
#include "service/core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KINDS[] = {"ip_phone", "analog", "mobile", "console", NULL};

json_t *api_station_json(const struct cb_station *s, const char *cos)
{
    const struct cb_station_state *st = &s->state;
    char target[CB_NUMBER_MAX];
    bool presented = cb_core_softkey(s, target);
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:s, s:b, s:s?, s:{s:s, s:s, s:b, s:b, s:b, s:s?, s:b, s:b}, "
        "s:{s:b, s:s?}}",
        "number", s->number, "kind", cb_kind_name(s->kind), "cos", cos, "callbacks_allowed",
        s->callbacks_allowed, "prime_line", s->prime_line, "resilient", s->resilient,
        "console_group", s->console_group[0] ? s->console_group : NULL, "state", "availability",
        st->busy ? "busy" : "idle", "hook", st->hook_off ? "off" : "on", "dnd", st->dnd,
        "make_busy", st->make_busy, "attendant_busy_out", st->attendant_busy_out, "forward_to",
        st->forward_to[0] ? st->forward_to : NULL, "failed_over", st->failed_over,
        "console_available", st->console_available, "softkey", "presented", presented, "target",
        presented ? target : NULL);
}

struct station_put {
    struct db_station st;
    json_t *errors;
};

static enum db_status station_put_tx(struct db_conn *c, void *ctx)
{
    struct station_put *p = ctx;
    struct db_cos cos = {0};
    bool found;
    enum db_status st = db_cos_get(c, p->st.cos, &cos, &found);
    if (st != DB_OK)
        return st;
    if (!found) {
        api_field_error(p->errors, "cos", "no class of service %s", p->st.cos);
        return DB_ABORT;
    }
    st = db_station_put(c, &p->st);
    if (st == DB_CONFLICT) {
        api_field_error(p->errors, "number", "%s is already a trunk or hunt group number",
                        p->st.s.number);
        return DB_ABORT;
    }
    return st;
}

bool api_parse_station_body(json_t *body, struct db_station *out, json_t *errors)
{
    struct cb_station *s = &out->s;
    size_t before = json_array_size(errors);
    int kind = -1;
    bool resilient_given = false;
    const struct api_field fields[] = {
        {.name = "kind", .type = API_F_ENUM, .required = true, .dest = &kind, .values = KINDS},
        {.name = "cos",
         .type = API_F_STRING,
         .required = true,
         .dest = out->cos,
         .min = 1,
         .max = 32,
         .check = api_valid_cos_id,
         .expect = "a class of service id"},
        {.name = "prime_line", .type = API_F_NUMBER, .dest = s->prime_line},
        {.name = "resilient",
         .type = API_F_BOOL,
         .dest = &s->resilient,
         .present = &resilient_given},
        {.name = "console_group",
         .type = API_F_STRING,
         .nullable = true, /* a GET shows null for a station outside any group */
         .dest = s->console_group,
         .min = 1,
         .max = CB_GROUP_MAX - 1,
         .expect = "a console group name of 1-64 characters"},
        {.name = "number", .type = API_F_IGNORED},
        {.name = "callbacks_allowed", .type = API_F_IGNORED}, /* the COS's, shown on GET */
        {.name = "state", .type = API_F_IGNORED},
        {.name = "softkey", .type = API_F_IGNORED},
    };
    api_parse_fields(body, fields, sizeof fields / sizeof fields[0], errors, "");
    /* cppcheck-suppress knownConditionTrueFalse ; set through fields[] */
    if (kind >= 0 && kind != CB_KIND_CONSOLE && s->console_group[0])
        api_field_error(errors, "console_group", "only consoles belong to a console group");
    if (kind >= 0)
        s->kind = (enum cb_station_kind)kind;
    return json_array_size(errors) == before;
}

void api_station_put(struct api_request *r)
{
    struct station_put p = {.errors = api_path_errors(r)};
    struct cb_station *s = &p.st.s;
    api_parse_station_body(r->json, &p.st, p.errors);
    if (json_array_size(p.errors)) {
        api_reply_validation(r, p.errors);
        return;
    }
    snprintf(s->number, sizeof s->number, "%.32s", r->params[0]);
    if (!s->prime_line[0])
        snprintf(s->prime_line, sizeof s->prime_line, "%s", s->number);
    enum db_status st = db_tx_run(r->app->pool, station_put_tx, &p);
    if (!api_write_committed(r, st, p.errors))
        return;
    api_station_get(r); /* answer with what is stored, live state included */
}

void api_station_get(struct api_request *r)
{
    struct db_station st;
    if (api_load_station(r, &st))
        api_reply_json(r, 200, api_station_json(&st.s, st.cos));
}

static enum db_status station_read(struct db_conn *c, const struct api_keyed_list *l,
                                   const char *after, int limit, void *rows, int *n)
{
    (void)l;
    return db_station_list(c, after, limit, rows, n);
}
static json_t *station_render(const struct api_keyed_list *l, const void *row)
{
    (void)l;
    const struct db_station *s = row;
    return api_station_json(&s->s, s->cos);
}
static const char *station_key(const void *row)
{
    return ((const struct db_station *)row)->s.number;
}

void api_station_list(struct api_request *r)
{
    static const struct api_keyed_list list = {.valid = cb_number_valid,
                                               .row_size = sizeof(struct db_station),
                                               .read = station_read,
                                               .render = station_render,
                                               .key = station_key};
    api_list_keyed(r, &list);
}

void api_station_delete(struct api_request *r)
{
    api_number_delete(r, DB_NUMBER_STATION);
}

bool api_load_station(struct api_request *r, struct db_station *out)
{
    struct db_conn *c = api_conn(r);
    if (!c)
        return false;
    bool found = false;
    enum db_status st = db_station_get(c, r->params[0], out, &found);
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else if (!found)
        api_reply_problem(r, API_NOT_FOUND, "no station %s", r->params[0]);
    return st == DB_OK && found;
}
