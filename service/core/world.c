/* The world's lookups and predicates, and the growable decision arrays. */
#include "service/core/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Grows `*arr` (elements of `elem` bytes) to hold `need`; out of memory aborts, as Redis does:
 * a half-made decision cannot be reported sanely. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(arr, ncap * elem);
    if (!p)
        abort();
    *cap = ncap;
    return p;
}

void cb_decisions_init(struct cb_decisions *d)
{
    memset(d, 0, sizeof(*d));
}

void cb_decisions_free(struct cb_decisions *d)
{
    free(d->commands);
    free(d->history);
    free(d->timers);
    memset(d, 0, sizeof(*d));
}

struct cb_command *cb_emit(struct cb_decisions *out, enum cb_command_type type,
                           const char *callback_id)
{
    out->commands =
        grow(out->commands, &out->cap_commands, out->n_commands + 1, sizeof(*out->commands));
    struct cb_command *c = &out->commands[out->n_commands++];
    memset(c, 0, sizeof(*c));
    c->type = type;
    CB_COPY(c->callback_id, callback_id);
    return c;
}

void cb_emit_history(struct cb_decisions *out, const char *callback_id, enum cb_state from,
                     enum cb_state to, cb_time at, const struct cb_cause *cause)
{
    out->history = grow(out->history, &out->cap_history, out->n_history + 1, sizeof(*out->history));
    struct cb_history_entry *h = &out->history[out->n_history++];
    memset(h, 0, sizeof(*h));
    CB_COPY(h->callback_id, callback_id);
    h->at = at;
    h->from = from;
    h->to = to;
    h->cause.kind = cause->kind;
    CB_COPY(h->cause.ref, cause->ref);
}

static struct cb_timer_op *push_timer(struct cb_decisions *out)
{
    out->timers = grow(out->timers, &out->cap_timers, out->n_timers + 1, sizeof(*out->timers));
    struct cb_timer_op *t = &out->timers[out->n_timers++];
    memset(t, 0, sizeof(*t));
    return t;
}

void cb_emit_timer(struct cb_decisions *out, enum cb_timer_kind kind, const char *callback_id,
                   cb_time at)
{
    struct cb_timer_op *t = push_timer(out);
    t->kind = kind;
    CB_COPY(t->callback_id, callback_id);
    t->at = at;
}

void cb_emit_timer_clear(struct cb_decisions *out, enum cb_timer_kind kind, const char *callback_id)
{
    struct cb_timer_op *t = push_timer(out);
    t->kind = kind;
    CB_COPY(t->callback_id, callback_id);
    t->clear = true;
}

void cb_set_error(struct cb_decisions *out, enum cb_error error, const char *fmt, ...)
{
    va_list ap;
    out->error = error;
    va_start(ap, fmt);
    vsnprintf(out->error_detail, sizeof(out->error_detail), fmt, ap);
    va_end(ap);
}

/* Each lookup below answers from the index while a decision runs (index.c), else scans: both
 * find the first element with the key, in array order. */
struct cb_station *cb_world_station(struct cb_world *w, const char *number)
{
    if (!number || !*number)
        return NULL;
    if (w->index) {
        size_t pos = cb_index_first(w, CB_INDEX_STATIONS, number);
        return pos == CB_NOWHERE ? NULL : &w->stations[pos];
    }
    for (size_t i = 0; i < w->n_stations; i++)
        if (cb_streq(w->stations[i].number, number))
            return &w->stations[i];
    return NULL;
}

struct cb_trunk_group *cb_world_trunk_group(struct cb_world *w, const char *number)
{
    if (!number || !*number)
        return NULL;
    if (w->index) {
        size_t pos = cb_index_first(w, CB_INDEX_TRUNK_GROUPS, number);
        return pos == CB_NOWHERE ? NULL : &w->trunk_groups[pos];
    }
    for (size_t i = 0; i < w->n_trunk_groups; i++)
        if (cb_streq(w->trunk_groups[i].number, number))
            return &w->trunk_groups[i];
    return NULL;
}

struct cb_hunt_group *cb_world_hunt_group(struct cb_world *w, const char *number)
{
    if (!number || !*number)
        return NULL;
    if (w->index) {
        size_t pos = cb_index_first(w, CB_INDEX_HUNT_GROUPS, number);
        return pos == CB_NOWHERE ? NULL : &w->hunt_groups[pos];
    }
    for (size_t i = 0; i < w->n_hunt_groups; i++)
        if (cb_streq(w->hunt_groups[i].number, number))
            return &w->hunt_groups[i];
    return NULL;
}

struct cb_callback *cb_world_callback(struct cb_world *w, const char *id)
{
    if (!id || !*id)
        return NULL;
    if (w->index) {
        size_t pos = cb_index_first(w, CB_INDEX_CALLBACKS, id);
        return pos == CB_NOWHERE ? NULL : &w->callbacks[pos];
    }
    for (size_t i = 0; i < w->n_callbacks; i++)
        if (cb_streq(w->callbacks[i].id, id))
            return &w->callbacks[i];
    return NULL;
}

/* The array is realloc'ed: pointers into it taken before this call are no longer valid. */
struct cb_callback *cb_world_add_callback(struct cb_world *w, const struct cb_callback *c)
{
    if (w->n_callbacks == w->cap_callbacks) {
        size_t ncap = w->cap_callbacks ? w->cap_callbacks * 2 : 8;
        struct cb_callback *p = realloc(w->callbacks, ncap * sizeof(*p));
        if (!p)
            return NULL;
        w->callbacks = p;
        w->cap_callbacks = ncap;
    }
    w->callbacks[w->n_callbacks] = *c;
    cb_index_add_callback(w, w->n_callbacks);
    return &w->callbacks[w->n_callbacks++];
}

void cb_world_free_callbacks(struct cb_world *w)
{
    free(w->callbacks);
    w->callbacks = NULL;
    w->n_callbacks = 0;
    w->cap_callbacks = 0;
}

/* openapi.yaml: exact station or hunt group numbers win; else the longest trunk group prefix. */
bool cb_core_resolve_number(struct cb_world *w, const char *dialed, char target[CB_NUMBER_MAX],
                            char external[CB_NUMBER_MAX])
{
    target[0] = '\0';
    external[0] = '\0';
    if (!dialed || !*dialed)
        return false;
    if (cb_world_station(w, dialed) || cb_world_hunt_group(w, dialed)) {
        cb_copy(target, CB_NUMBER_MAX, dialed);
        return true;
    }
    const struct cb_trunk_group *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < w->n_trunk_groups; i++) {
        const struct cb_trunk_group *g = &w->trunk_groups[i];
        size_t len = strlen(g->number);
        if (len > best_len && strncmp(dialed, g->number, len) == 0) {
            best = g;
            best_len = len;
        }
    }
    if (!best)
        return false;
    cb_copy(target, CB_NUMBER_MAX, best->number);
    cb_copy(external, CB_NUMBER_MAX, dialed + best_len);
    return true;
}

bool cb_callback_active(const struct cb_callback *c)
{
    return c->ended_at == 0 && !cb_state_is_terminal(c->state);
}

bool cb_callback_engaged(const struct cb_callback *c)
{
    return cb_callback_active(c) &&
           (c->state == CB_STATE_NOTIFYING || c->state == CB_STATE_RECALLING);
}

bool cb_station_blocking(const struct cb_station *s)
{
    return s->state.dnd || s->state.make_busy || s->state.attendant_busy_out;
}

const char *cb_station_line(const struct cb_station *s)
{
    return s->prime_line[0] ? s->prime_line : s->number;
}

bool cb_station_engaged(const struct cb_world *w, const char *number)
{
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *c = &w->callbacks[i];
        if (cb_callback_engaged(c) && cb_streq(c->notify_station, number))
            return true;
    }
    return false;
}

bool cb_hunt_has_member(const struct cb_hunt_group *g, const char *number)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (cb_streq(g->members[i], number))
            return true;
    return false;
}

bool cb_hunt_member_free(struct cb_world *w, const char *number)
{
    const struct cb_station *s = cb_world_station(w, number);
    return s && !s->state.busy && !s->state.failed_over;
}

size_t cb_target_engaged_count(const struct cb_world *w, const char *target)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *c = &w->callbacks[i];
        if (cb_callback_engaged(c) && cb_streq(c->target, target))
            n++;
    }
    return n;
}

size_t cb_hunt_capacity(struct cb_world *w, const struct cb_hunt_group *g)
{
    size_t free_members = 0;
    for (size_t i = 0; i < g->n_members; i++)
        if (cb_hunt_member_free(w, g->members[i]))
            free_members++;
    size_t used = cb_target_engaged_count(w, g->number);
    return free_members > used ? free_members - used : 0;
}

struct cb_trunk_line *cb_trunk_free_line(struct cb_trunk_group *g)
{
    for (size_t i = 0; i < g->n_lines; i++)
        if (!g->lines[i].busy && !g->lines[i].reserved_for[0])
            return &g->lines[i];
    return NULL;
}

struct cb_trunk_line *cb_trunk_line_find(struct cb_trunk_group *g, const char *id)
{
    for (size_t i = 0; i < g->n_lines; i++)
        if (cb_streq(g->lines[i].id, id))
            return &g->lines[i];
    return NULL;
}

bool cb_in_scope(const struct cb_world *w, const char *target)
{
    if (w->index)
        return cb_index_first(w, CB_INDEX_SCOPE, target) != CB_NOWHERE;
    for (size_t i = 0; i < w->n_scope_targets; i++)
        if (cb_streq(w->scope_targets[i], target))
            return true;
    return false;
}

void cb_dialed_number(const struct cb_callback *c, char out[2 * CB_NUMBER_MAX])
{
    snprintf(out, 2 * CB_NUMBER_MAX, "%s%s", c->target,
             c->target_type == CB_TARGET_TRUNK_GROUP ? c->external_number : "");
}

struct cb_callback *cb_find_active(struct cb_world *w, const char *requester, const char *target)
{
    struct cb_index_iter it;
    if (cb_index_start(w, CB_INDEX_PAIRS, requester, target, &it)) {
        size_t first = CB_NOWHERE;
        for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
            if (pos < first && cb_callback_active(&w->callbacks[pos]))
                first = pos;
        return first == CB_NOWHERE ? NULL : &w->callbacks[first];
    }
    for (size_t i = 0; i < w->n_callbacks; i++) {
        struct cb_callback *c = &w->callbacks[i];
        if (cb_callback_active(c) && cb_streq(c->requester, requester) &&
            cb_streq(c->target, target))
            return c;
    }
    return NULL;
}
