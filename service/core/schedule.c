/* CB-11..CB-21, CB-31: deciding which waiting callbacks mature, and ringing their requesters.
 *
 * One pass over the callbacks of the scope targets, sorted once by queue position (CB-17) and
 * kept sorted while the world's index is open (a group of inputs schedules many times). Considering
 * a callback changes that callback only (and the trunk line it reserves): no other callback starts
 * or stops waiting during the pass, so visiting the sorted list in order is the same as picking,
 * again and again, the next waiting callback after the last one. What the rules ask of the rest of
 * the world (is this station rung already, how many callbacks engage this target, which line is
 * free) is counted once per pass and kept up to date as the pass rings callbacks, so a pass costs n
 * log n in the loaded callbacks, not n squared. */
#include "service/core/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define TARGET_TYPES 3 /* enum cb_target_type */

/* A scope target: where it is in the world, per target type (resolved at first use), and how
 * many callbacks on it notify or recall (CB-17). */
struct scope_target {
    bool resolved[TARGET_TYPES];
    size_t pos[TARGET_TYPES]; /* station / trunk group / hunt group position */
    size_t engaged;
};

/* What one pass knows about the world. Stations and groups do not change during a pass; the
 * engaged counts and the trunk lines change only when the pass rings a callback. */
struct pass {
    struct cb_world *w;
    cb_time now;
    const struct cb_cause *cause;
    struct cb_decisions *out;
    const struct cb_queued *candidates; /* the index's queue: not the pass's to free */
    size_t n_candidates;
    struct scope_target *targets; /* per scope position */
    size_t *station_engaged;      /* per station: callbacks ringing it or recalling from it */
    size_t *line_cursor;          /* per trunk group: the lines before it are taken (CB-15) */
    size_t *hunt_free;            /* per hunt group: free members, CB_NOWHERE until counted */
};

/* Where a maturing callback reaches its target: for a trunk group, the line it will hold. */
struct target_slot {
    struct cb_trunk_group *trunk;
    struct cb_trunk_line *line;
};

/* Out of memory aborts, as grow() in world.c does. */
static void *pass_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* The position of the station, trunk group or hunt group `c` waits for; CB_NOWHERE if none. */
static size_t find_target(struct cb_world *w, const struct cb_callback *c)
{
    switch (c->target_type) {
    case CB_TARGET_STATION: {
        const struct cb_station *s = cb_world_station(w, c->target);
        return s ? (size_t)(s - w->stations) : CB_NOWHERE;
    }
    case CB_TARGET_TRUNK_GROUP: {
        const struct cb_trunk_group *g = cb_world_trunk_group(w, c->target);
        return g ? (size_t)(g - w->trunk_groups) : CB_NOWHERE;
    }
    case CB_TARGET_HUNT_GROUP: {
        const struct cb_hunt_group *g = cb_world_hunt_group(w, c->target);
        return g ? (size_t)(g - w->hunt_groups) : CB_NOWHERE;
    }
    }
    return CB_NOWHERE;
}

/* find_target(), once per scope target and target type. */
static size_t target_position(struct pass *p, const struct cb_callback *c, size_t scope)
{
    struct scope_target *t = &p->targets[scope];
    size_t type = (size_t)c->target_type; /* a valid type: target_ready() switched on it */
    if (!t->resolved[type]) {
        t->pos[type] = find_target(p->w, c);
        t->resolved[type] = true;
    }
    return t->pos[type];
}

/* CB-15: the first line of the group that is idle and not reserved. Lines are only taken during
 * a pass, never freed, so the search resumes where it stopped. */
static struct cb_trunk_line *free_line(struct pass *p, size_t group)
{
    struct cb_trunk_group *g = &p->w->trunk_groups[group];
    size_t *at = &p->line_cursor[group];
    while (*at < g->n_lines && (g->lines[*at].busy || g->lines[*at].reserved_for[0]))
        (*at)++;
    return *at < g->n_lines ? &g->lines[*at] : NULL;
}

/* CB-16/CB-17: free members minus the group's callbacks already notifying or recalling. */
static size_t hunt_capacity(struct pass *p, size_t group, size_t scope)
{
    if (p->hunt_free[group] == CB_NOWHERE) {
        const struct cb_hunt_group *g = &p->w->hunt_groups[group];
        size_t n = 0;
        for (size_t i = 0; i < g->n_members; i++)
            if (cb_hunt_member_free(p->w, g->members[i]))
                n++;
        p->hunt_free[group] = n;
    }
    size_t used = p->targets[scope].engaged;
    return p->hunt_free[group] > used ? p->hunt_free[group] - used : 0;
}

/* CB-11..CB-16, CB-19: can the target take the recall now? */
static bool target_ready(struct pass *p, const struct cb_queued *k, struct target_slot *slot)
{
    const struct cb_callback *c = &p->w->callbacks[k->pos];
    memset(slot, 0, sizeof(*slot));
    if (c->mode != CB_MODE_CALLBACK)
        return false; /* CB-40: a message never matures */
    switch (c->target_type) {
    case CB_TARGET_STATION: {
        size_t at = target_position(p, c, k->scope);
        const struct cb_station *t = at == CB_NOWHERE ? NULL : &p->w->stations[at];
        if (!t || t->state.busy || t->state.failed_over || cb_station_blocking(t))
            return false; /* CB-11, CB-12, CB-14, CB-19 */
        if (c->awaiting_release || c->hook_cycle_needed || c->idle_report_needed)
            return false;                         /* CB-13, CB-14, CB-24 */
        return p->targets[k->scope].engaged == 0; /* CB-17: one at a time */
    }
    case CB_TARGET_TRUNK_GROUP: {
        /* CB-15: a line that is idle and not held for another callback. */
        size_t at = target_position(p, c, k->scope);
        slot->trunk = at == CB_NOWHERE ? NULL : &p->w->trunk_groups[at];
        slot->line = slot->trunk ? free_line(p, at) : NULL;
        return slot->line != NULL;
    }
    case CB_TARGET_HUNT_GROUP: {
        /* CB-16/CB-17: one callback per idle member. */
        size_t at = target_position(p, c, k->scope);
        if (at == CB_NOWHERE || c->hook_cycle_needed || c->idle_report_needed)
            return false;
        return hunt_capacity(p, at, k->scope) > 0;
    }
    }
    return false;
}

/* CB-11/CB-17/CB-19: a station that may be rung now: idle, on its primary controller, and not
 * already being rung or recalling for another callback. */
static bool station_can_be_rung(const struct pass *p, size_t station)
{
    const struct cb_station *s = &p->w->stations[station];
    return !s->state.busy && !s->state.failed_over && p->station_engaged[station] == 0;
}

/* CB-31: an available console of the requester's console group, other than the requester: the
 * first in the world's order, as the stations are provisioned. */
static size_t other_console(const struct pass *p, size_t requester)
{
    const struct cb_station *req = &p->w->stations[requester];
    struct cb_index_iter it;
    if (!req->console_group[0] ||
        !cb_index_start(p->w, CB_INDEX_CONSOLES, req->console_group, NULL, &it))
        return CB_NOWHERE;
    size_t first = CB_NOWHERE;
    for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
        if (pos != requester && pos < first && p->w->stations[pos].state.console_available &&
            station_can_be_rung(p, pos))
            first = pos;
    return first;
}

/* CB-17: `c` now rings `who`: that station and the callback's target are engaged. Stations
 * that share the number (there should be none) count it too, as a scan by number would. */
static void count_engaged(struct pass *p, const char *who, size_t scope)
{
    struct cb_index_iter it;
    if (cb_index_start(p->w, CB_INDEX_STATIONS, who, NULL, &it))
        for (size_t pos; (pos = cb_index_next(&it)) != CB_NOWHERE;)
            p->station_engaged[pos]++;
    if (scope != CB_NOWHERE)
        p->targets[scope].engaged++;
}

/* CB-15, CB-20, CB-21, CB-31: reserve the line (trunks), then ring `who` on its prime line with
 * three short bursts, bypassing its forwarding; start the notification timeout. */
static void notify(struct pass *p, const struct cb_queued *k, size_t who_pos,
                   const struct target_slot *slot)
{
    struct cb_world *w = p->w;
    struct cb_callback *c = &w->callbacks[k->pos];
    const struct cb_station *who = &w->stations[who_pos];
    struct cb_decisions *out = p->out;
    if (slot->line) {
        struct cb_command *res = cb_emit(out, CB_CMD_RESERVE_TRUNK, c->id);
        CB_COPY(res->trunk_group, c->target);
        CB_COPY(res->line, slot->line->id);
        CB_COPY(res->for_station, c->requester);
        CB_COPY(slot->line->reserved_for, c->id);
        cb_mark(w, &slot->line->dirty);
        CB_COPY(c->reserved_line, slot->line->id);
    }
    CB_COPY(c->notify_station, who->number);
    CB_COPY(c->notify_line, cb_station_line(who));
    struct cb_command *ring = cb_emit(out, CB_CMD_RING, c->id);
    CB_COPY(ring->station, c->notify_station);
    CB_COPY(ring->line, c->notify_line);
    if (!cb_streq(who->number, c->requester))
        CB_COPY(ring->on_behalf_of, c->requester);
    char dialed[2 * CB_NUMBER_MAX];
    cb_dialed_number(c, dialed);
    snprintf(ring->display, sizeof(ring->display), "Callback %s", dialed);
    cb_transition(w, c, CB_STATE_NOTIFYING, p->now, p->cause, out);
    cb_emit_timer(out, CB_TIMER_NOTIFY_TIMEOUT, c->id,
                  p->now + w->options.notification_timeout_s * 1000);
    count_engaged(p, c->notify_station, k->scope);
}

/* CB-31: a queued callback waits for the console that set it; once that console is available
 * it is rung there if the target is still free, else it goes back to waiting for the target. */
static void consider_queued(struct pass *p, const struct cb_queued *k)
{
    const struct cb_station *req =
        k->requester == CB_NOWHERE ? NULL : &p->w->stations[k->requester];
    if (!req || req->state.failed_over || !req->state.console_available)
        return;
    struct target_slot slot;
    if (!target_ready(p, k, &slot))
        cb_transition(p->w, &p->w->callbacks[k->pos], CB_STATE_PENDING, p->now, p->cause, p->out);
    else if (station_can_be_rung(p, k->requester))
        notify(p, k, k->requester, &slot);
}

/* CB-11..CB-19, CB-31: a pending callback matures if its target and its requester allow. */
static void consider_pending(struct pass *p, const struct cb_queued *k)
{
    struct target_slot slot;
    if (!target_ready(p, k, &slot))
        return;
    const struct cb_station *req =
        k->requester == CB_NOWHERE ? NULL : &p->w->stations[k->requester];
    if (!req || req->state.failed_over)
        return; /* CB-19: waits for the fail-back, keeping its place */
    if (req->kind == CB_KIND_CONSOLE && !req->state.console_available) {
        /* CB-31: another console of the group takes it, else it queues for this one. */
        size_t alt = other_console(p, k->requester);
        if (alt != CB_NOWHERE)
            notify(p, k, alt, &slot);
        else
            cb_transition(p->w, &p->w->callbacks[k->pos], CB_STATE_QUEUED, p->now, p->cause,
                          p->out);
        return;
    }
    if (station_can_be_rung(p, k->requester)) /* CB-17: a busy requester is skipped */
        notify(p, k, k->requester, &slot);
}

static bool waiting(const struct cb_callback *c)
{
    return cb_callback_active(c) && c->mode == CB_MODE_CALLBACK &&
           (c->state == CB_STATE_PENDING || c->state == CB_STATE_QUEUED);
}

/* The callbacks of the scope targets in queue order, kept by the index across the inputs of a
 * group; false when there is none. Those not waiting are skipped as they are visited. */
static bool collect_candidates(struct pass *p)
{
    p->candidates = cb_index_queue(p->w, &p->n_candidates);
    return p->n_candidates > 0;
}

/* CB-17: the stations rung or recalling and the callbacks engaging each scope target, once. */
static void count_engaged_callbacks(struct pass *p)
{
    struct cb_world *w = p->w;
    p->targets = pass_calloc(w->n_scope_targets, sizeof(*p->targets));
    p->station_engaged = pass_calloc(w->n_stations, sizeof(*p->station_engaged));
    p->line_cursor = pass_calloc(w->n_trunk_groups, sizeof(*p->line_cursor));
    p->hunt_free = pass_calloc(w->n_hunt_groups, sizeof(*p->hunt_free));
    for (size_t i = 0; i < w->n_hunt_groups; i++)
        p->hunt_free[i] = CB_NOWHERE;
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *c = &w->callbacks[i];
        if (cb_callback_engaged(c))
            count_engaged(p, c->notify_station, cb_index_first(w, CB_INDEX_SCOPE, c->target));
    }
}

static void pass_free(struct pass *p)
{
    free(p->targets);
    free(p->station_engaged);
    free(p->line_cursor);
    free(p->hunt_free);
}

/* Visits the waiting callbacks of the scope targets in seq order across all targets, so that a
 * requester with several matured callbacks is rung for its oldest one first (CB-17). No
 * callback is added during the pass, so positions stay valid. */
static void schedule(struct cb_world *w, cb_time now, const struct cb_cause *cause,
                     struct cb_decisions *out)
{
    struct pass p = {.w = w, .now = now, .cause = cause, .out = out};
    if (collect_candidates(&p)) {
        count_engaged_callbacks(&p);
        for (size_t i = 0; i < p.n_candidates; i++) {
            const struct cb_queued *k = &p.candidates[i];
            const struct cb_callback *c = &w->callbacks[k->pos];
            if (!waiting(c))
                continue; /* ended, engaged or a message: nothing to mature */
            if (c->state == CB_STATE_QUEUED)
                consider_queued(&p, k);
            else
                consider_pending(&p, k);
        }
    }
    pass_free(&p);
}

void cb_core_schedule(struct cb_world *w, cb_time now, const struct cb_cause *cause,
                      struct cb_decisions *out)
{
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    schedule(w, now, cause, out);
    cb_index_close(w, opened);
}
