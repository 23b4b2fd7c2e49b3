/* A small world for the rules core's unit tests: stations, one trunk group, one hunt group,
 * options at the defaults openapi.yaml documents, and helpers that apply one input and keep its
 * decisions. */
#ifndef TEST_CORE_FIXTURE_H
#define TEST_CORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/core.h"

#define FX_STATIONS 16
#define FX_LINES    4
#define FX_MEMBERS  4
#define FX_SCOPE    16
#define FX_T0       1700000000000LL

struct fx {
    struct cb_world w;
    struct cb_station stations[FX_STATIONS];
    struct cb_trunk_group trunk;
    struct cb_trunk_line lines[FX_LINES];
    struct cb_hunt_group hunt;
    char members[FX_MEMBERS][CB_NUMBER_MAX];
    char scope[FX_SCOPE][CB_NUMBER_MAX];
    struct cb_decisions d; /* what the last input decided */
    cb_time now;
    int64_t next_seq;
    int next_event;
    int next_id;
};

static inline void fx_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}
#define FX_COPY(dst, src) fx_copy((dst), sizeof(dst), (src))

/* Adds a station that starts as openapi.yaml says: idle, on hook, nothing active, console
 * available. */
static inline struct cb_station *fx_station(struct fx *f, const char *number)
{
    assert_true(f->w.n_stations < FX_STATIONS);
    struct cb_station *s = &f->stations[f->w.n_stations++];
    memset(s, 0, sizeof(*s));
    FX_COPY(s->number, number);
    FX_COPY(s->prime_line, number);
    s->kind = CB_KIND_IP_PHONE;
    s->callbacks_allowed = true;
    s->state.console_available = true;
    return s;
}

static inline struct cb_station *fx_console(struct fx *f, const char *number, const char *group)
{
    struct cb_station *s = fx_station(f, number);
    s->kind = CB_KIND_CONSOLE;
    FX_COPY(s->console_group, group);
    return s;
}

/* Adds a target to the scheduling scope (its whole queue is in the world). */
static inline void fx_scope(struct fx *f, const char *target)
{
    assert_true(f->w.n_scope_targets < FX_SCOPE);
    FX_COPY(f->scope[f->w.n_scope_targets++], target);
}

/* Trunk group `number` with `n` lines "L1".."Ln", all idle, callback activation on. */
static inline struct cb_trunk_group *fx_trunk(struct fx *f, const char *number, size_t n)
{
    assert_true(n <= FX_LINES);
    memset(&f->trunk, 0, sizeof(f->trunk));
    FX_COPY(f->trunk.number, number);
    f->trunk.callback_activation = true;
    f->trunk.n_lines = n;
    f->trunk.lines = f->lines;
    for (size_t i = 0; i < n; i++) {
        memset(&f->lines[i], 0, sizeof(f->lines[i]));
        snprintf(f->lines[i].id, sizeof(f->lines[i].id), "L%zu", i + 1);
    }
    f->w.trunk_groups = &f->trunk;
    f->w.n_trunk_groups = 1;
    fx_scope(f, number);
    return &f->trunk;
}

/* Hunt group `number` whose members are the stations named (they are added as stations). */
static inline struct cb_hunt_group *fx_hunt(struct fx *f, const char *number, size_t n,
                                            const char *const *members)
{
    assert_true(n <= FX_MEMBERS);
    memset(&f->hunt, 0, sizeof(f->hunt));
    FX_COPY(f->hunt.number, number);
    f->hunt.callback_activation = true;
    f->hunt.n_members = n;
    f->hunt.members = f->members;
    for (size_t i = 0; i < n; i++) {
        FX_COPY(f->members[i], members[i]);
        fx_station(f, members[i]);
    }
    f->w.hunt_groups = &f->hunt;
    f->w.n_hunt_groups = 1;
    fx_scope(f, number);
    return &f->hunt;
}

static inline int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->w.stations = f->stations;
    f->w.scope_targets = f->scope;
    f->w.options = (struct cb_options){.callback_cancel_timer_s = 3600,
                                       .notification_timeout_s = 20,
                                       .recall_timeout_s = 60,
                                       .command_ttl_s = 300,
                                       .max_per_requester = 10,
                                       .max_per_target = 50};
    FX_COPY(f->w.options.fac.setup, "*41");
    FX_COPY(f->w.options.fac.cancel_all, "#41");
    FX_COPY(f->w.options.fac.cancel_individual, "#42");
    f->now = FX_T0;
    f->next_seq = 1;
    cb_decisions_init(&f->d);
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    cb_decisions_free(&f->d);
    cb_world_free_callbacks(&f->w);
    free(f);
    return 0;
}

/* Forgets the previous decisions and the world's marks before the next input. */
static inline void fx_begin(struct fx *f)
{
    cb_decisions_free(&f->d);
    cb_decisions_init(&f->d);
    for (size_t i = 0; i < f->w.n_stations; i++)
        f->stations[i].dirty = false;
    for (size_t i = 0; i < f->w.n_callbacks; i++) {
        f->w.callbacks[i].dirty = false;
        f->w.callbacks[i].is_new = false;
    }
    for (size_t i = 0; i < FX_LINES; i++)
        f->lines[i].dirty = false;
}

static inline struct cb_cause fx_api_cause(const char *ref)
{
    struct cb_cause c = {.kind = CB_CAUSE_API};
    FX_COPY(c.ref, ref);
    return c;
}

/* Sets a callback through the API entry point; returns its id copy in `id_out` (may be NULL). */
static inline struct cb_callback *fx_set_full(struct fx *f, const char *requester,
                                              const char *target, const char *external,
                                              enum cb_mode mode, char *id_out)
{
    fx_begin(f);
    struct cb_set_request req = {.mode = mode, .new_seq = f->next_seq++};
    FX_COPY(req.requester, requester);
    FX_COPY(req.target, target);
    FX_COPY(req.external_number, external ? external : "");
    snprintf(req.new_id, sizeof(req.new_id), "cb-%d", ++f->next_id);
    if (id_out)
        snprintf(id_out, CB_ID_MAX, "%s", req.new_id);
    struct cb_cause cause = fx_api_cause("req-1");
    return cb_core_set(&f->w, &req, f->now, &cause, &f->d);
}

static inline struct cb_callback *fx_set(struct fx *f, const char *requester, const char *target)
{
    return fx_set_full(f, requester, target, NULL, CB_MODE_CALLBACK, NULL);
}

/* The callback by id (pointers into the world move when it grows). */
static inline struct cb_callback *fx_cb(struct fx *f, const char *id)
{
    struct cb_callback *c = cb_world_callback(&f->w, id);
    assert_non_null(c);
    return c;
}

/* A fresh event of `type` with the next id ("ev-N"). */
static inline struct cb_event fx_event(struct fx *f, enum cb_event_type type)
{
    struct cb_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    snprintf(ev.id, sizeof(ev.id), "ev-%d", ++f->next_event);
    return ev;
}

static inline enum cb_outcome fx_apply(struct fx *f, const struct cb_event *ev)
{
    fx_begin(f);
    return cb_core_on_event(&f->w, ev, f->now, &f->d);
}

static inline void fx_station_ev(struct fx *f, enum cb_event_type type, const char *station,
                                 bool flag)
{
    struct cb_event ev = fx_event(f, type);
    FX_COPY(ev.station, station);
    ev.flag = flag;
    fx_apply(f, &ev);
}

static inline void fx_busy(struct fx *f, const char *station)
{
    fx_station_ev(f, CB_EV_STATION_STATE, station, true);
}

static inline void fx_idle(struct fx *f, const char *station)
{
    fx_station_ev(f, CB_EV_STATION_STATE, station, false);
}

static inline void fx_hook(struct fx *f, const char *station, bool off)
{
    fx_station_ev(f, CB_EV_STATION_HOOK, station, off);
}

/* A whole hook cycle: off, then on. */
static inline void fx_hook_cycle(struct fx *f, const char *station)
{
    fx_hook(f, station, true);
    fx_hook(f, station, false);
}

static inline void fx_feature(struct fx *f, const char *station, enum cb_feature feature,
                              bool active)
{
    struct cb_event ev = fx_event(f, CB_EV_STATION_FEATURE);
    FX_COPY(ev.station, station);
    ev.feature = feature;
    ev.flag = active;
    fx_apply(f, &ev);
}

static inline void fx_trunk_state(struct fx *f, const char *line, bool busy)
{
    struct cb_event ev = fx_event(f, CB_EV_TRUNK_STATE);
    FX_COPY(ev.trunk_group, f->trunk.number);
    FX_COPY(ev.line, line);
    ev.flag = busy;
    fx_apply(f, &ev);
}

static inline void fx_recall(struct fx *f, const char *callback_id, enum cb_recall_result r)
{
    struct cb_event ev = fx_event(f, CB_EV_RECALL_RESULT);
    FX_COPY(ev.callback_id, callback_id);
    ev.recall_result = r;
    fx_apply(f, &ev);
}

static inline void fx_attempt(struct fx *f, const char *from, const char *to, int result)
{
    struct cb_event ev = fx_event(f, CB_EV_CALL_ATTEMPT);
    FX_COPY(ev.from, from);
    FX_COPY(ev.to, to);
    ev.attempt_result = result;
    fx_apply(f, &ev);
}

static inline void fx_connected(struct fx *f, const char *a, const char *b, bool conference)
{
    struct cb_event ev = fx_event(f, CB_EV_CALL_CONNECTED);
    FX_COPY(ev.parties[0], a);
    FX_COPY(ev.parties[1], b);
    ev.n_parties = 2;
    ev.conference = conference;
    fx_apply(f, &ev);
}

static inline void fx_digits(struct fx *f, const char *station, const char *digits,
                             enum cb_call_state call_state, const char *dialed)
{
    struct cb_event ev = fx_event(f, CB_EV_DIGITS);
    FX_COPY(ev.station, station);
    FX_COPY(ev.digits, digits);
    ev.call_state = call_state;
    FX_COPY(ev.dialed, dialed ? dialed : "");
    snprintf(ev.new_id, sizeof(ev.new_id), "cb-%d", ++f->next_id);
    ev.new_seq = f->next_seq++;
    fx_apply(f, &ev);
}

static inline void fx_timer(struct fx *f, enum cb_timer_kind kind, const char *callback_id)
{
    fx_begin(f);
    cb_core_on_timer(&f->w, kind, callback_id, f->now, &f->d);
}

static inline void fx_schedule(struct fx *f)
{
    fx_begin(f);
    struct cb_cause cause = fx_api_cause("schedule");
    cb_core_schedule(&f->w, f->now, &cause, &f->d);
}

/* ---- assertions on the last decisions ---------------------------------------------------- */

static inline size_t fx_count(const struct fx *f, enum cb_command_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < f->d.n_commands; i++)
        if (f->d.commands[i].type == type)
            n++;
    return n;
}

/* The `nth` (0-based) command of `type`; fails the test when there is none. */
static inline const struct cb_command *fx_cmd(const struct fx *f, enum cb_command_type type,
                                              size_t nth)
{
    for (size_t i = 0; i < f->d.n_commands; i++)
        if (f->d.commands[i].type == type && nth-- == 0)
            return &f->d.commands[i];
    fail_msg("no %s command", cb_command_type_name(type));
    return NULL;
}

/* Index of the first command of `type`, or -1. */
static inline int fx_cmd_index(const struct fx *f, enum cb_command_type type)
{
    for (size_t i = 0; i < f->d.n_commands; i++)
        if (f->d.commands[i].type == type)
            return (int)i;
    return -1;
}

/* The last history entry recorded for `callback_id` in the last decisions, or NULL. */
static inline const struct cb_history_entry *fx_last_history(const struct fx *f,
                                                             const char *callback_id)
{
    const struct cb_history_entry *found = NULL;
    for (size_t i = 0; i < f->d.n_history; i++)
        if (strcmp(f->d.history[i].callback_id, callback_id) == 0)
            found = &f->d.history[i];
    return found;
}

static inline void fx_assert_history(const struct fx *f, const char *callback_id,
                                     enum cb_state from, enum cb_state to, enum cb_cause_kind kind,
                                     const char *ref)
{
    const struct cb_history_entry *h = fx_last_history(f, callback_id);
    assert_non_null(h);
    assert_int_equal(h->from, from);
    assert_int_equal(h->to, to);
    assert_int_equal(h->cause.kind, kind);
    assert_string_equal(h->cause.ref, ref);
    assert_int_equal(h->at, f->now);
}

/* The timer op of `kind` for `callback_id` in the last decisions, or NULL. */
static inline const struct cb_timer_op *fx_timer_op(const struct fx *f, enum cb_timer_kind kind,
                                                    const char *callback_id, bool clear)
{
    for (size_t i = 0; i < f->d.n_timers; i++)
        if (f->d.timers[i].kind == kind && f->d.timers[i].clear == clear &&
            strcmp(f->d.timers[i].callback_id, callback_id) == 0)
            return &f->d.timers[i];
    return NULL;
}

/* The id of the last event applied ("ev-N"), the cause ref of its transitions. */
static inline const char *fx_last_event_id(const struct fx *f, char buf[32])
{
    snprintf(buf, 32, "ev-%d", f->next_event);
    return buf;
}

#endif
