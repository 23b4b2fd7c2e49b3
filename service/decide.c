/* One decision of the rules (the API's requests, the worker's groups of events and timers):
 * loads and locks the world the decision concerns (db/world.c), calls the pure core
 * (service/core), and persists what it decided (state, history, outbox, timers) in the
 * caller's transaction. */
#include "service/decide.h"
#include "db/outbox.h"
#include "db/world.h"
#include "service/command_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    bool began = cb_core_group_begin(w); /* order_key looks callbacks up: by the index */
    for (size_t i = 0; i < d->n_commands; i++) {
        json_t *body = cb_command_json(&d->commands[i]);
        if (!body) {
            cb_core_group_end(w, began);
            json_decref(outbox);
            return DB_ERROR;
        }
        json_array_append_new(outbox,
                              json_pack("{s:s, s:s, s:s, s:o}", "type",
                                        cb_command_type_name(d->commands[i].type), "callback_id",
                                        d->commands[i].callback_id, "order_key",
                                        order_key(w, &d->commands[i]), "body", body));
    }
    cb_core_group_end(w, began);
    return db_world_save(c, w, d, outbox);
}

enum db_status cb_service_decide(struct db_conn *c, const struct cb_scope_seed *seed,
                                 cb_decide_fn decide, void *arg)
{
    struct cb_world w;
    enum db_status st = db_world_load(c, seed, &w);
    if (st == DB_OK) {
        struct cb_decisions d;
        cb_decisions_init(&d);
        decide(&w, &d, arg);
        st = d.error != CB_OK ? DB_ABORT : cb_service_persist(c, &w, &d);
        cb_decisions_free(&d);
    }
    db_world_free(&w);
    return st;
}
