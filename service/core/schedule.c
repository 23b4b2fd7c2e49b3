/* CB-11..CB-21, CB-31: deciding which waiting callbacks mature, and ringing their requesters. */
#include "service/core/internal.h"

#include <stdio.h>

/* Where a maturing callback reaches its target: for a trunk group, the line it will hold. */
struct target_slot {
    struct cb_trunk_group *trunk;
    struct cb_trunk_line *line;
};

/* CB-11..CB-16, CB-19: can the target take the recall now? */
static bool target_ready(struct cb_world *w, const struct cb_callback *c, struct target_slot *slot)
{
    memset(slot, 0, sizeof(*slot));
    if (c->mode != CB_MODE_CALLBACK)
        return false; /* CB-40: a message never matures */
    switch (c->target_type) {
    case CB_TARGET_STATION: {
        const struct cb_station *t = cb_world_station(w, c->target);
        if (!t || t->state.busy || t->state.failed_over || cb_station_blocking(t))
            return false; /* CB-11, CB-12, CB-14, CB-19 */
        if (c->awaiting_release || c->hook_cycle_needed || c->idle_report_needed)
            return false;                                  /* CB-13, CB-14, CB-24 */
        return cb_target_engaged_count(w, c->target) == 0; /* CB-17: one at a time */
    }
    case CB_TARGET_TRUNK_GROUP:
        /* CB-15: a line that is idle and not held for another callback. */
        slot->trunk = cb_world_trunk_group(w, c->target);
        slot->line = slot->trunk ? cb_trunk_free_line(slot->trunk) : NULL;
        return slot->line != NULL;
    case CB_TARGET_HUNT_GROUP: {
        /* CB-16/CB-17: one callback per idle member. */
        const struct cb_hunt_group *g = cb_world_hunt_group(w, c->target);
        if (!g || c->hook_cycle_needed || c->idle_report_needed)
            return false;
        return cb_hunt_capacity(w, g) > 0;
    }
    }
    return false;
}

/* CB-11/CB-17/CB-19: a station that may be rung now: idle, on its primary controller, and not
 * already being rung or recalling for another callback. */
static bool station_can_be_rung(const struct cb_world *w, const struct cb_station *s)
{
    return !s->state.busy && !s->state.failed_over && !cb_station_engaged(w, s->number);
}

/* CB-31: an available console of the requester's console group, other than the requester. */
static const struct cb_station *other_console(const struct cb_world *w,
                                              const struct cb_station *requester)
{
    if (!requester->console_group[0])
        return NULL;
    for (size_t i = 0; i < w->n_stations; i++) {
        const struct cb_station *s = &w->stations[i];
        if (s == requester || s->kind != CB_KIND_CONSOLE ||
            !cb_streq(s->console_group, requester->console_group))
            continue;
        if (s->state.console_available && station_can_be_rung(w, s))
            return s;
    }
    return NULL;
}

/* CB-15, CB-20, CB-21, CB-31: reserve the line (trunks), then ring `who` on its prime line with
 * three short bursts, bypassing its forwarding; start the notification timeout. */
static void notify(struct cb_world *w, struct cb_callback *c, const struct cb_station *who,
                   const struct target_slot *slot, cb_time now, const struct cb_cause *cause,
                   struct cb_decisions *out)
{
    if (slot->line) {
        struct cb_command *res = cb_emit(out, CB_CMD_RESERVE_TRUNK, c->id);
        CB_COPY(res->trunk_group, c->target);
        CB_COPY(res->line, slot->line->id);
        CB_COPY(res->for_station, c->requester);
        CB_COPY(slot->line->reserved_for, c->id);
        slot->line->dirty = true;
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
    cb_transition(c, CB_STATE_NOTIFYING, now, cause, out);
    cb_emit_timer(out, CB_TIMER_NOTIFY_TIMEOUT, c->id,
                  now + w->options.notification_timeout_s * 1000);
}

/* CB-31: a queued callback waits for the console that set it; once that console is available
 * it is rung there if the target is still free, else it goes back to waiting for the target. */
static void consider_queued(struct cb_world *w, struct cb_callback *c, cb_time now,
                            const struct cb_cause *cause, struct cb_decisions *out)
{
    const struct cb_station *req = cb_world_station(w, c->requester);
    if (!req || req->state.failed_over || !req->state.console_available)
        return;
    struct target_slot slot;
    if (!target_ready(w, c, &slot))
        cb_transition(c, CB_STATE_PENDING, now, cause, out);
    else if (station_can_be_rung(w, req))
        notify(w, c, req, &slot, now, cause, out);
}

/* CB-11..CB-19, CB-31: a pending callback matures if its target and its requester allow. */
static void consider_pending(struct cb_world *w, struct cb_callback *c, cb_time now,
                             const struct cb_cause *cause, struct cb_decisions *out)
{
    struct target_slot slot;
    if (!target_ready(w, c, &slot))
        return;
    const struct cb_station *req = cb_world_station(w, c->requester);
    if (!req || req->state.failed_over)
        return; /* CB-19: waits for the fail-back, keeping its place */
    if (req->kind == CB_KIND_CONSOLE && !req->state.console_available) {
        /* CB-31: another console of the group takes it, else it queues for this one. */
        const struct cb_station *alt = other_console(w, req);
        if (alt)
            notify(w, c, alt, &slot, now, cause, out);
        else
            cb_transition(c, CB_STATE_QUEUED, now, cause, out);
        return;
    }
    if (station_can_be_rung(w, req)) /* CB-17: a busy requester is skipped, keeps its place */
        notify(w, c, req, &slot, now, cause, out);
}

static bool waiting_in_scope(const struct cb_world *w, const struct cb_callback *c)
{
    return cb_callback_active(c) && c->mode == CB_MODE_CALLBACK &&
           (c->state == CB_STATE_PENDING || c->state == CB_STATE_QUEUED) &&
           cb_in_scope(w, c->target);
}

/* Is a before b in the queue? By seq (CB-17: first set, first served), then by position. */
static bool queued_before(const struct cb_world *w, size_t a, size_t b)
{
    const struct cb_callback *ca = &w->callbacks[a], *cb = &w->callbacks[b];
    return ca->seq < cb->seq || (ca->seq == cb->seq && a < b);
}

/* Visits the waiting callbacks of the scope targets in seq order across all targets, so that a
 * requester with several matured callbacks is rung for its oldest one first (CB-17). No
 * callback is added during the walk, so indexes stay valid. */
void cb_core_schedule(struct cb_world *w, cb_time now, const struct cb_cause *cause,
                      struct cb_decisions *out)
{
    size_t last = 0;
    bool have_last = false;
    for (;;) {
        size_t next = 0;
        bool found = false;
        for (size_t i = 0; i < w->n_callbacks; i++) {
            if (!waiting_in_scope(w, &w->callbacks[i]))
                continue;
            if (have_last && !queued_before(w, last, i))
                continue;
            if (!found || queued_before(w, i, next)) {
                next = i;
                found = true;
            }
        }
        if (!found)
            return;
        struct cb_callback *c = &w->callbacks[next];
        if (c->state == CB_STATE_QUEUED)
            consider_queued(w, c, now, cause, out);
        else
            consider_pending(w, c, now, cause, out);
        last = next;
        have_last = true;
    }
}
