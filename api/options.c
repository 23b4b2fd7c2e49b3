/* System options: GET (defaults until changed), PUT (partial, every field range-checked). */
#include "api/bodies.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "db/options.h"
#include "db/tx.h"

#include <string.h>

static json_t *options_json(const struct cb_options *o)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:{s:s, s:s, s:s}}", "callback_cancel_timer_s",
        (json_int_t)o->callback_cancel_timer_s, "notification_timeout_s",
        (json_int_t)o->notification_timeout_s, "recall_timeout_s", (json_int_t)o->recall_timeout_s,
        "command_ttl_s", (json_int_t)o->command_ttl_s, "max_per_requester",
        (json_int_t)o->max_per_requester, "max_per_target", (json_int_t)o->max_per_target,
        "digit_collection_during_busy_or_alerting", o->digit_collection_during_busy_or_alerting,
        "fac", "setup", o->fac.setup, "cancel_all", o->fac.cancel_all, "cancel_individual",
        o->fac.cancel_individual);
}

void api_options_get(struct api_request *r)
{
    struct db_conn *c = api_conn(r);
    if (!c)
        return;
    struct cb_options o;
    enum db_status st = db_options_get(c, &o, false);
    api_conn_release(r, c);
    if (st != DB_OK)
        api_reply_db_error(r, st);
    else
        api_reply_json(r, 200, options_json(&o));
}

struct options_put {
    json_t *body;
    json_t *errors;
    struct cb_options result;
};

#define DAY_S  86400
#define YEAR_S (366 * DAY_S)

bool api_parse_options_body(json_t *body, struct cb_options *o, json_t *errors)
{
    size_t before = json_array_size(errors);
    json_t *fac = NULL;
    const struct api_field fields[] = {
        {.name = "callback_cancel_timer_s",
         .type = API_F_INT,
         .dest = &o->callback_cancel_timer_s,
         .min = 1,
         .max = YEAR_S},
        {.name = "notification_timeout_s",
         .type = API_F_INT,
         .dest = &o->notification_timeout_s,
         .min = 1,
         .max = DAY_S},
        {.name = "recall_timeout_s",
         .type = API_F_INT,
         .dest = &o->recall_timeout_s,
         .min = 1,
         .max = DAY_S},
        {.name = "command_ttl_s",
         .type = API_F_INT,
         .dest = &o->command_ttl_s,
         .min = 1,
         .max = 7 * DAY_S},
        {.name = "max_per_requester",
         .type = API_F_INT,
         .dest = &o->max_per_requester,
         .min = 1,
         .max = 1000},
        {.name = "max_per_target",
         .type = API_F_INT,
         .dest = &o->max_per_target,
         .min = 1,
         .max = 100000},
        {.name = "digit_collection_during_busy_or_alerting",
         .type = API_F_BOOL,
         .dest = &o->digit_collection_during_busy_or_alerting},
        {.name = "fac", .type = API_F_OBJECT, .dest = &fac},
    };
    api_parse_fields(body, fields, sizeof fields / sizeof fields[0], errors, "");
    if (fac) { /* cppcheck-suppress knownConditionTrueFalse ; set through fields[] */
        const char *expect = "\"\" (disabled) or a code of 1-32 characters of 0-9 * #";
        const struct api_field codes[] = {
            {.name = "setup",
             .type = API_F_STRING,
             .dest = o->fac.setup,
             .max = 32,
             .check = api_valid_fac,
             .expect = expect},
            {.name = "cancel_all",
             .type = API_F_STRING,
             .dest = o->fac.cancel_all,
             .max = 32,
             .check = api_valid_fac,
             .expect = expect},
            {.name = "cancel_individual",
             .type = API_F_STRING,
             .dest = o->fac.cancel_individual,
             .max = 32,
             .check = api_valid_fac,
             .expect = expect},
        };
        api_parse_fields(fac, codes, 3, errors, "fac.");
        const char *c3[] = {o->fac.setup, o->fac.cancel_all, o->fac.cancel_individual};
        const char *n3[] = {"fac.setup", "fac.cancel_all", "fac.cancel_individual"};
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (c3[i][0] && !strcmp(c3[i], c3[j]))
                    api_field_error(errors, n3[j], "must differ from %s", n3[i]);
    }
    return json_array_size(errors) == before;
}

/* Applies the given fields over the stored options, checking every range. */
static enum db_status options_put_tx(struct db_conn *c, void *ctx)
{
    struct options_put *p = ctx;
    struct cb_options *o = &p->result;
    enum db_status st = db_options_get(c, o, true);
    if (st != DB_OK)
        return st;
    json_array_clear(p->errors);
    if (!api_parse_options_body(p->body, o, p->errors))
        return DB_ABORT;
    return db_options_put(c, o);
}

void api_options_put(struct api_request *r)
{
    struct options_put p = {.body = r->json, .errors = json_array()};
    enum db_status st = db_tx_run(r->app->pool, options_put_tx, &p);
    if (api_write_committed(r, st, p.errors))
        api_reply_json(r, 200, options_json(&p.result));
}
