#include "service/callbacks.h"
#include "db/outbox.h"
#include "db/world.h"
#include "service/command_json.h"
#include "service/event_parse.h"
#include "service/ids.h"
#include "service/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Queue positions come from the database on insert; in the world a new callback sorts last. */
#define CB_NEW_SEQ (INT64_MAX / 2)

/* The station whose commands must keep their order: the callback's requester, else the
 * command's station (CB-51: in order per station; reserve_trunk before ring). */
static const char *order_key(struct cb_world *w, const struct cb_command *cmd)
{
    struct cb_callback *cb = cmd->callback_id[0] ? cb_world_callback(w, cmd->callback_id) : NULL;
    if (cb)
        return cb->requester;
    if (cmd->station[0])
        return cmd->station;
    if (cmd->from_station[0])
        return cmd->from_station;
    return cmd->trunk_group;
}

enum db_status cb_service_persist(struct db_conn *c, struct cb_world *w,
                                  const struct cb_decisions *d)
{
    json_t *outbox = json_array();
    for (size_t i = 0; i < d->n_commands; i++) {
        json_t *body = cb_command_json(&d->commands[i]);
        if (!body) {
            json_decref(outbox);
            return DB_ERROR;
        }
        /* The outbox trigger wakes the dispatcher (migrations/002). */
        json_array_append_new(outbox,
                              json_pack("{s:s, s:s, s:s, s:o}", "type",
                                        cb_command_type_name(d->commands[i].type), "callback_id",
                                        d->commands[i].callback_id, "order_key",
                                        order_key(w, &d->commands[i]), "body", body));
    }
    return db_world_save(c, w, d, outbox);
}

/* Whether a decision changed anything: an event that changed nothing was ignored. */
static bool changed_anything(const struct cb_world *w, const struct cb_decisions *d)
{
    if (d->n_commands || d->n_history || d->n_timers)
        return true;
    for (size_t i = 0; i < w->n_stations; i++)
        if (w->stations[i].dirty)
            return true;
    for (size_t g = 0; g < w->n_trunk_groups; g++)
        for (size_t i = 0; i < w->trunk_groups[g].n_lines; i++)
            if (w->trunk_groups[g].lines[i].dirty)
                return true;
    for (size_t i = 0; i < w->n_callbacks; i++)
        if (w->callbacks[i].dirty || w->callbacks[i].is_new)
            return true;
    return false;
}

/* Whether the event names something provisioned (API.md: otherwise stored and ignored). */
static bool concerns_world(struct cb_world *w, const struct cb_event *ev)
{
    switch (ev->type) {
    case CB_EV_TRUNK_STATE: {
        struct cb_trunk_group *g = cb_world_trunk_group(w, ev->trunk_group);
        for (size_t i = 0; g && i < g->n_lines; i++)
            if (!strcmp(g->lines[i].id, ev->line))
                return true;
        return false;
    }
    case CB_EV_CALL_ATTEMPT:
        return cb_world_station(w, ev->from) != NULL;
    case CB_EV_CALL_CONNECTED:
        return w->n_callbacks > 0;
    case CB_EV_RECALL_RESULT:
        return cb_world_callback(w, ev->callback_id) != NULL;
    default:
        return cb_world_station(w, ev->station) != NULL;
    }
}

enum db_status cb_service_apply_event(struct db_conn *c, json_t *event, int64_t now_ms,
                                      bool *ignored)
{
    struct cb_event ev;
    *ignored = true;
    if (!cb_event_parse(event, &ev, NULL, "")) {
        cb_log(CB_LOG_WARN, "stored event does not parse; ignored",
               json_pack("{s:s?}", "event_id", json_string_value(json_object_get(event, "id"))));
        return DB_OK;
    }
    struct db_world_seed seed = {0};
    char group[CB_NUMBER_MAX] = "";
    switch (ev.type) {
    case CB_EV_TRUNK_STATE:
        seed.numbers[seed.n_numbers++] = ev.trunk_group;
        break;
    case CB_EV_CALL_ATTEMPT:
        seed.numbers[seed.n_numbers++] = ev.from;
        break;
    case CB_EV_CALL_CONNECTED:
        for (size_t i = 0; i < ev.n_parties && seed.n_numbers < 8; i++)
            seed.numbers[seed.n_numbers++] = ev.parties[i];
        break;
    case CB_EV_RECALL_RESULT:
        seed.callback_ids[seed.n_callback_ids++] = ev.callback_id;
        break;
    case CB_EV_DIGITS:
        seed.numbers[seed.n_numbers++] = ev.station;
        if (ev.dialed[0]) {
            seed.numbers[seed.n_numbers++] = ev.dialed;
            enum db_status st = db_resolve_trunk_prefix(c, ev.dialed, group);
            if (st != DB_OK)
                return st;
            if (group[0])
                seed.numbers[seed.n_numbers++] = group;
        }
        cb_new_uuid(ev.new_id);
        ev.new_seq = CB_NEW_SEQ;
        break;
    default:
        seed.numbers[seed.n_numbers++] = ev.station;
        break;
    }
    struct cb_world w;
    enum db_status st = db_world_load(c, &seed, &w);
    if (st == DB_OK && concerns_world(&w, &ev)) {
        struct cb_decisions d;
        cb_decisions_init(&d);
        cb_core_on_event(&w, &ev, now_ms, &d);
        *ignored = !changed_anything(&w, &d);
        st = cb_service_persist(c, &w, &d);
        cb_decisions_free(&d);
    }
    db_world_free(&w);
    return st;
}

enum db_status cb_service_fire_timer(struct db_conn *c, const char *kind, const char *ref,
                                     int64_t now_ms)
{
    int k = cb_timer_kind_parse(kind);
    if (k < 0)
        return DB_OK;
    struct db_world_seed seed = {.callback_ids = {ref}, .n_callback_ids = 1};
    struct cb_world w;
    enum db_status st = db_world_load(c, &seed, &w);
    if (st == DB_OK) {
        struct cb_decisions d;
        cb_decisions_init(&d);
        cb_core_on_timer(&w, (enum cb_timer_kind)k, ref, now_ms, &d);
        st = cb_service_persist(c, &w, &d);
        cb_decisions_free(&d);
    }
    db_world_free(&w);
    return st;
}

cb_time cb_service_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (cb_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
