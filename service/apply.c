/* The worker's inputs through the rules core: a group of stored PBX events, or of due
 * timers, applied in order against one world (service/decide.c), each seeing the effects of
 * those before it; the core tells each event's outcome. */
#include "service/apply.h"
#include "db/world.h"
#include "service/decide.h"
#include "service/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Queue positions come from the database on insert; in the world a new callback sorts last. */
#define CB_NEW_SEQ (INT64_MAX / 2)

/* A group of events being applied: parsed events and the union of what they concern. */
struct event_group {
    struct cb_event *evs;
    bool *parsed;
    const char **numbers;
    int n_numbers;
    const char **dialed; /* numbers dialed after a FAC: the trunk groups prefixing them load too */
    int n_dialed;
    const char **ids;
    int n_ids;
    bool may_free; /* some event may make a requester free to be rung (db/world.h "narrow") */
};

/* CB-17: whether the event may make a station free to be rung as a requester (idle, back on its
 * own controller, a console available again) or end a callback between its parties. The queues
 * of such a station's targets must then be scheduled; other events only make stations less
 * available, and a callback they may end is engaged, which the world's loading sees. */
static bool event_may_free(const struct cb_event *ev)
{
    switch (ev->type) {
    case CB_EV_STATION_STATE:
        return !ev->flag; /* idle */
    case CB_EV_STATION_FAILOVER:
        return !ev->flag; /* fail-back */
    case CB_EV_CONSOLE_AVAILABILITY:
        return ev->flag;
    case CB_EV_CALL_CONNECTED:
    case CB_EV_RECALL_RESULT:
        return true;
    default:
        return false;
    }
}

/* Adds what event `e` concerns to the group's seed. */
static void seed_event(struct event_group *g, int e)
{
    g->may_free |= event_may_free(&g->evs[e]);
    struct cb_event *ev = &g->evs[e];
    const char **num = g->numbers;
    int *n = &g->n_numbers;
    switch (ev->type) {
    case CB_EV_TRUNK_STATE:
        num[(*n)++] = ev->trunk_group;
        break;
    case CB_EV_CALL_ATTEMPT:
        num[(*n)++] = ev->from;
        break;
    case CB_EV_CALL_CONNECTED:
        for (size_t i = 0; i < ev->n_parties; i++)
            num[(*n)++] = ev->parties[i];
        break;
    case CB_EV_RECALL_RESULT:
        g->ids[g->n_ids++] = ev->callback_id;
        break;
    case CB_EV_DIGITS:
        num[(*n)++] = ev->station;
        if (ev->dialed[0]) {
            num[(*n)++] = ev->dialed;
            g->dialed[g->n_dialed++] = ev->dialed;
        }
        cb_new_uuid(ev->new_id);
        ev->new_seq = CB_NEW_SEQ;
        break;
    default:
        num[(*n)++] = ev->station;
        break;
    }
}

/* Applies the events to the loaded world in order, telling each one's outcome. */
struct apply_args {
    struct event_group *g;
    int n;
    int64_t now_ms;
    bool *ignored;
};

static void apply_in_order(struct cb_world *w, struct cb_decisions *d, void *arg)
{
    const struct apply_args *a = arg;
    struct event_group *g = a->g;
    int64_t now_ms = a->now_ms;
    bool *ignored = a->ignored;
    bool began = cb_core_group_begin(w);
    for (int e = 0; e < a->n; e++)
        if (g->parsed[e])
            ignored[e] = cb_core_on_event(w, &g->evs[e], now_ms, d) == CB_IGNORED;
    cb_core_group_end(w, began);
}

enum db_status cb_service_apply_events(struct db_conn *c, const struct cb_event *events,
                                       const bool *usable, int n, int64_t now_ms, bool *ignored)
{
    struct event_group g = {
        .evs = calloc((size_t)n, sizeof *g.evs),
        .parsed = calloc((size_t)n, sizeof *g.parsed),
        .numbers = calloc((size_t)n * (CB_MAX_PARTIES + 3), sizeof *g.numbers),
        .dialed = calloc((size_t)n, sizeof *g.dialed),
        .ids = calloc((size_t)n, sizeof *g.ids),
    };
    enum db_status st = g.evs && g.parsed && g.numbers && g.dialed && g.ids ? DB_OK : DB_ERROR;
    for (int e = 0; e < n && st == DB_OK; e++) {
        ignored[e] = true;
        g.evs[e] = events[e]; /* a copy: a Setup FAC gets its new callback's id in it */
        g.parsed[e] = !usable || usable[e];
        if (g.parsed[e])
            seed_event(&g, e);
    }
    if (st == DB_OK) {
        /* One world for the whole group: loaded and locked once, changed by each event in
         * turn (so each sees the ones before it), saved once. */
        struct cb_scope_seed seed = {.numbers = g.numbers,
                                     .n_numbers = g.n_numbers,
                                     /* split by the core against the trunk groups that prefix
                                      * them (cb_core_resolve_number), which join the seed */
                                     .dialed = g.dialed,
                                     .n_dialed = g.n_dialed,
                                     .callback_ids = g.ids,
                                     .n_callback_ids = g.n_ids,
                                     .narrow = !g.may_free};
        struct apply_args a = {.g = &g, .n = n, .now_ms = now_ms, .ignored = ignored};
        st = cb_service_decide(c, &seed, apply_in_order, &a);
    }
    free(g.evs);
    free(g.parsed);
    free(g.dialed);
    free(g.numbers);
    free(g.ids);
    return st;
}

struct timer_args {
    const char *const *kinds;
    const char *const *refs;
    int n;
    int64_t now_ms;
};

/* Fires the timers in order against one world, each seeing what the ones before it did. */
static void fire_timers(struct cb_world *w, struct cb_decisions *d, void *arg)
{
    const struct timer_args *t = arg;
    bool began = cb_core_group_begin(w);
    for (int i = 0; i < t->n; i++) {
        int k = cb_timer_kind_parse(t->kinds[i]);
        if (k >= 0)
            cb_core_on_timer(w, (enum cb_timer_kind)k, t->refs[i], t->now_ms, d);
    }
    cb_core_group_end(w, began);
}

enum db_status cb_service_fire_timers(struct db_conn *c, const char *const *kinds,
                                      const char *const *refs, int n, int64_t now_ms)
{
    if (n == 0)
        return DB_OK;
    struct cb_scope_seed seed = {.callback_ids = refs, .n_callback_ids = n};
    struct timer_args t = {.kinds = kinds, .refs = refs, .n = n, .now_ms = now_ms};
    return cb_service_decide(c, &seed, fire_timers, &t);
}
