/* A group of inputs applied against one world (cb_core_group_begin .. end, as the worker applies
 * a group of events and timers) decides exactly what the same inputs decide one at a time, each
 * with a world index of its own: the same commands, history and timers for every input, and the
 * same world at the end. Checked on random worlds and random event sequences (a fixed seed, so
 * a failure repeats): stations, consoles in console groups, a hunt group and a trunk group,
 * callbacks in every waiting and engaged state, and the events that change them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/core.h"

#define G_T0       1700000000000LL
#define G_TARGETS  5 /* station targets "50x"; two of them are the hunt group's members */
#define G_REQ      10
#define G_CONSOLES 4 /* "70x", groups "g0" and "g1" */
#define G_LINES    3
#define G_EVENTS   40
#define G_WORLDS   3000

struct gworld {
    struct cb_world w;
    struct cb_station stations[G_TARGETS + G_REQ + G_CONSOLES];
    struct cb_trunk_group trunk;
    struct cb_trunk_line lines[G_LINES];
    struct cb_hunt_group hunt;
    char members[2][CB_NUMBER_MAX];
    char scope[G_TARGETS + 2][CB_NUMBER_MAX];
};

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

static bool chance(unsigned percent)
{
    return rnd(100) < percent;
}

static void station_number(char *out, size_t i)
{
    if (i < G_TARGETS)
        snprintf(out, CB_NUMBER_MAX, "50%zu", i);
    else if (i < G_TARGETS + G_REQ)
        snprintf(out, CB_NUMBER_MAX, "60%zu", i - G_TARGETS);
    else
        snprintf(out, CB_NUMBER_MAX, "70%zu", i - G_TARGETS - G_REQ);
}

/* The world of `seed`: the same for the same seed. */
static void gworld_build(struct gworld *g, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    rng_state = seed;
    struct cb_world *w = &g->w;
    w->options = (struct cb_options){.callback_cancel_timer_s = 3600,
                                     .notification_timeout_s = 20,
                                     .recall_timeout_s = 60,
                                     .command_ttl_s = 300,
                                     .max_per_requester = 10,
                                     .max_per_target = 50};
    w->stations = g->stations;
    for (size_t i = 0; i < G_TARGETS + G_REQ + G_CONSOLES; i++) {
        struct cb_station *s = &g->stations[w->n_stations++];
        station_number(s->number, i);
        memcpy(s->prime_line, s->number, sizeof(s->prime_line));
        s->kind = i >= G_TARGETS + G_REQ ? CB_KIND_CONSOLE : CB_KIND_IP_PHONE;
        if (s->kind == CB_KIND_CONSOLE)
            snprintf(s->console_group, sizeof(s->console_group), "g%zu", i % 2);
        s->callbacks_allowed = true;
        s->state.busy = chance(40);
        s->state.hook_off = s->state.busy && chance(50);
        s->state.dnd = chance(10);
        s->state.failed_over = chance(5);
        s->state.console_available = s->kind != CB_KIND_CONSOLE || chance(60);
    }
    snprintf(g->hunt.number, sizeof(g->hunt.number), "300");
    g->hunt.callback_activation = true;
    g->hunt.members = g->members;
    snprintf(g->members[0], CB_NUMBER_MAX, "503");
    snprintf(g->members[1], CB_NUMBER_MAX, "504");
    g->hunt.n_members = 2;
    w->hunt_groups = &g->hunt;
    w->n_hunt_groups = 1;
    snprintf(g->trunk.number, sizeof(g->trunk.number), "9");
    g->trunk.callback_activation = true;
    g->trunk.lines = g->lines;
    g->trunk.n_lines = G_LINES;
    for (size_t l = 0; l < G_LINES; l++) {
        snprintf(g->lines[l].id, sizeof(g->lines[l].id), "L%zu", l);
        g->lines[l].busy = chance(40);
    }
    w->trunk_groups = &g->trunk;
    w->n_trunk_groups = 1;
    w->scope_targets = g->scope;
    for (size_t t = 0; t < G_TARGETS; t++)
        station_number(g->scope[w->n_scope_targets++], t);
    snprintf(g->scope[w->n_scope_targets++], CB_NUMBER_MAX, "300");
    snprintf(g->scope[w->n_scope_targets++], CB_NUMBER_MAX, "9");

    /* Callbacks: one per (requester, target) at most, seq in a random order. */
    size_t n = 5 + rnd(40);
    bool used[G_REQ + G_CONSOLES][G_TARGETS + 2] = {{false}};
    for (size_t k = 0; k < n; k++) {
        size_t r = rnd(G_REQ + G_CONSOLES), t = rnd(G_TARGETS + 2);
        if (used[r][t])
            continue;
        used[r][t] = true;
        struct cb_callback c;
        memset(&c, 0, sizeof(c));
        snprintf(c.id, sizeof(c.id), "cb-%zu", k);
        c.seq = (int64_t)rnd(100000) * 100 + (int64_t)k;
        station_number(c.requester, G_TARGETS + r);
        snprintf(c.target, sizeof(c.target), "%s", g->scope[t]);
        c.target_type = t < G_TARGETS    ? CB_TARGET_STATION
                        : t == G_TARGETS ? CB_TARGET_HUNT_GROUP
                                         : CB_TARGET_TRUNK_GROUP;
        c.reason = c.target_type == CB_TARGET_STATION      ? CB_REASON_BUSY
                   : c.target_type == CB_TARGET_HUNT_GROUP ? CB_REASON_HUNT_GROUP_BUSY
                                                           : CB_REASON_TRUNKS_BUSY;
        c.mode = chance(5) ? CB_MODE_MESSAGE : CB_MODE_CALLBACK;
        c.state = c.mode == CB_MODE_MESSAGE ? CB_STATE_MESSAGE_LEFT : CB_STATE_PENDING;
        snprintf(c.origin_line, sizeof(c.origin_line), "%s", c.requester);
        snprintf(c.notify_line, sizeof(c.notify_line), "%s", c.requester);
        snprintf(c.notify_station, sizeof(c.notify_station), "%s", c.requester);
        if (c.target_type == CB_TARGET_TRUNK_GROUP)
            snprintf(c.external_number, sizeof(c.external_number), "555%zu", k);
        c.hook_cycle_needed = chance(15);
        c.idle_report_needed = chance(10);
        c.awaiting_release = chance(5);
        bool console = r >= G_REQ;
        if (c.mode == CB_MODE_CALLBACK) {
            unsigned roll = rnd(100);
            if (console && roll < 20) {
                c.state = CB_STATE_QUEUED;
            } else if (roll < 35) {
                c.state = roll < 30 ? CB_STATE_NOTIFYING : CB_STATE_RECALLING;
                if (console && chance(30)) /* rung on another console of the group (CB-31) */
                    station_number(c.notify_station, G_TARGETS + G_REQ + (r - G_REQ + 2) % 4);
                if (c.target_type == CB_TARGET_TRUNK_GROUP) {
                    for (size_t l = 0; l < G_LINES; l++)
                        if (!g->lines[l].reserved_for[0]) {
                            snprintf(g->lines[l].reserved_for, sizeof(g->lines[l].reserved_for),
                                     "%s", c.id);
                            snprintf(c.reserved_line, sizeof(c.reserved_line), "%s",
                                     g->lines[l].id);
                            break;
                        }
                }
            }
        }
        c.created_at = c.updated_at = G_T0;
        c.expires_at = G_T0 + 3600 * 1000;
        assert_non_null(cb_world_add_callback(w, &c));
    }
}

/* The events of `seed`: station, console, feature, fail-over, trunk and recall results. */
static size_t gevents_build(struct cb_event *evs, uint64_t seed, const struct gworld *g)
{
    rng_state = seed ^ 0x9e3779b97f4a7c15ULL;
    size_t n = 1 + rnd(G_EVENTS);
    for (size_t i = 0; i < n; i++) {
        struct cb_event *e = &evs[i];
        memset(e, 0, sizeof(*e));
        snprintf(e->id, sizeof(e->id), "ev-%zu", i);
        station_number(e->station, rnd(G_TARGETS + G_REQ + G_CONSOLES));
        e->flag = chance(50);
        switch (rnd(9)) {
        case 0:
        case 1:
        case 2:
            e->type = CB_EV_STATION_STATE;
            break;
        case 3:
        case 4:
            e->type = CB_EV_STATION_HOOK;
            break;
        case 5:
            e->type = CB_EV_STATION_FEATURE;
            e->feature = (enum cb_feature)rnd(3);
            break;
        case 6:
            e->type = rnd(2) ? CB_EV_STATION_FAILOVER : CB_EV_CONSOLE_AVAILABILITY;
            break;
        case 7:
            e->type = CB_EV_TRUNK_STATE;
            snprintf(e->trunk_group, sizeof(e->trunk_group), "9");
            snprintf(e->line, sizeof(e->line), "L%u", rnd(G_LINES));
            break;
        default:
            e->type = CB_EV_RECALL_RESULT;
            if (g->w.n_callbacks)
                snprintf(e->callback_id, sizeof(e->callback_id), "%s",
                         g->w.callbacks[rnd((unsigned)g->w.n_callbacks)].id);
            e->recall_result = (enum cb_recall_result)rnd(4);
            break;
        }
    }
    return n;
}

static void expect_same_decisions(const struct cb_decisions *a, const struct cb_decisions *b,
                                  uint64_t seed, size_t event)
{
    if (a->n_commands != b->n_commands || a->n_history != b->n_history ||
        a->n_timers != b->n_timers)
        fail_msg("world %llu, event %zu: grouped %zu/%zu/%zu commands/history/timers, alone "
                 "%zu/%zu/%zu",
                 (unsigned long long)seed, event, a->n_commands, a->n_history, a->n_timers,
                 b->n_commands, b->n_history, b->n_timers);
    for (size_t i = 0; i < a->n_commands; i++)
        if (memcmp(&a->commands[i], &b->commands[i], sizeof(a->commands[i])) != 0)
            fail_msg("world %llu, event %zu: command %zu differs (type %d vs %d, %s vs %s)",
                     (unsigned long long)seed, event, i, (int)a->commands[i].type,
                     (int)b->commands[i].type, a->commands[i].callback_id,
                     b->commands[i].callback_id);
    for (size_t i = 0; i < a->n_history; i++)
        if (memcmp(&a->history[i], &b->history[i], sizeof(a->history[i])) != 0)
            fail_msg("world %llu, event %zu: history %zu differs (%s %d->%d vs %s %d->%d)",
                     (unsigned long long)seed, event, i, a->history[i].callback_id,
                     (int)a->history[i].from, (int)a->history[i].to, b->history[i].callback_id,
                     (int)b->history[i].from, (int)b->history[i].to);
    for (size_t i = 0; i < a->n_timers; i++)
        if (memcmp(&a->timers[i], &b->timers[i], sizeof(a->timers[i])) != 0)
            fail_msg("world %llu, event %zu: timer %zu differs", (unsigned long long)seed, event,
                     i);
}

static void expect_same_world(const struct gworld *a, const struct gworld *b, uint64_t seed)
{
    assert_int_equal(a->w.n_callbacks, b->w.n_callbacks);
    for (size_t i = 0; i < a->w.n_callbacks; i++)
        if (memcmp(&a->w.callbacks[i], &b->w.callbacks[i], sizeof(a->w.callbacks[i])) != 0)
            fail_msg("world %llu: callback %s differs at the end", (unsigned long long)seed,
                     a->w.callbacks[i].id);
    for (size_t i = 0; i < a->w.n_stations; i++)
        if (memcmp(&a->stations[i], &b->stations[i], sizeof(a->stations[i])) != 0)
            fail_msg("world %llu: station %s differs at the end", (unsigned long long)seed,
                     a->stations[i].number);
    if (memcmp(a->lines, b->lines, sizeof(a->lines)) != 0)
        fail_msg("world %llu: trunk lines differ at the end", (unsigned long long)seed);
}

static void test_a_group_decides_what_its_inputs_decide_one_at_a_time(void **state)
{
    (void)state;
    struct gworld *grouped = calloc(1, sizeof(*grouped)), *alone = calloc(1, sizeof(*alone));
    struct cb_event *evs = calloc(G_EVENTS, sizeof(*evs));
    struct cb_decisions *da = calloc(G_EVENTS, sizeof(*da)), *db = calloc(G_EVENTS, sizeof(*db));
    assert_true(grouped && alone && evs && da && db);
    size_t commands = 0;
    for (uint64_t seed = 1; seed <= G_WORLDS; seed++) {
        gworld_build(grouped, seed);
        gworld_build(alone, seed);
        size_t n = gevents_build(evs, seed, grouped);
        cb_time now = G_T0 + 1000;
        bool began = cb_core_group_begin(&grouped->w);
        assert_true(began);
        for (size_t i = 0; i < n; i++) {
            cb_decisions_init(&da[i]);
            cb_core_on_event(&grouped->w, &evs[i], now + (cb_time)i, &da[i]);
        }
        cb_core_group_end(&grouped->w, began);
        for (size_t i = 0; i < n; i++) {
            cb_decisions_init(&db[i]);
            cb_core_on_event(&alone->w, &evs[i], now + (cb_time)i, &db[i]);
        }
        for (size_t i = 0; i < n; i++) {
            expect_same_decisions(&da[i], &db[i], seed, i);
            commands += da[i].n_commands;
            cb_decisions_free(&da[i]);
            cb_decisions_free(&db[i]);
        }
        expect_same_world(grouped, alone, seed);
        cb_world_free_callbacks(&grouped->w);
        cb_world_free_callbacks(&alone->w);
    }
    assert_true(commands > 1000); /* the worlds and events do make decisions */
    free(grouped);
    free(alone);
    free(evs);
    free(da);
    free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_group_decides_what_its_inputs_decide_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
