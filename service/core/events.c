/* PBX events: the live state they report, and the rules each one triggers (CB-12..CB-31). */
#include "service/core/internal.h"

/* Does this callback wait on `number` as its target: the station itself, or a member of the
 * hunt group it targets (CB-12, CB-13, CB-16)? */
static bool waits_on_station(struct cb_world *w, const struct cb_callback *c, const char *number)
{
    if (c->target_type == CB_TARGET_STATION)
        return cb_streq(c->target, number);
    if (c->target_type == CB_TARGET_HUNT_GROUP) {
        const struct cb_hunt_group *g = cb_world_hunt_group(w, c->target);
        return g && cb_hunt_has_member(g, number);
    }
    return false;
}

/* The callbacks whose `kind` key is `key`, in the order a scan of the world finds them. */
static struct cb_positions callbacks_by(struct cb_world *w, enum cb_index_kind kind,
                                        const char *key)
{
    struct cb_positions ps = {0};
    cb_positions_add(w, &ps, kind, key);
    cb_positions_sort(&ps);
    return ps;
}

/* Those that may wait on station `number` (waits_on_station), in scan order. */
static struct cb_positions callbacks_waiting_on(struct cb_world *w, const char *number)
{
    struct cb_positions ps = {0};
    cb_positions_add(w, &ps, CB_INDEX_TARGETS, number);
    for (size_t g = 0; g < w->n_hunt_groups; g++)
        if (cb_hunt_has_member(&w->hunt_groups[g], number))
            cb_positions_add(w, &ps, CB_INDEX_TARGETS, w->hunt_groups[g].number);
    cb_positions_sort(&ps);
    return ps;
}

/* CB-18: the hunt groups `number` belongs to lose their notifying callbacks when no member is
 * free any more. */
static void hunt_groups_lost_member(struct cb_world *w, const char *number, cb_time now,
                                    const struct cb_cause *cause, struct cb_decisions *out)
{
    for (size_t g = 0; g < w->n_hunt_groups; g++) {
        const struct cb_hunt_group *hg = &w->hunt_groups[g];
        if (!cb_hunt_has_member(hg, number))
            continue;
        bool any_free = false;
        for (size_t m = 0; m < hg->n_members && !any_free; m++)
            any_free = cb_hunt_member_free(w, hg->members[m]);
        if (any_free)
            continue;
        struct cb_positions ps = callbacks_by(w, CB_INDEX_TARGETS, hg->number);
        for (size_t i = 0; i < ps.n; i++) {
            struct cb_callback *c = &w->callbacks[ps.pos[i]];
            if (c->state == CB_STATE_NOTIFYING && cb_streq(c->target, hg->number))
                cb_back_to_pending(w, c, now, cause, out);
        }
        cb_positions_free(&ps);
    }
}

/* CB-18/CB-19: `number` can no longer take the recall: callbacks ringing for it stop. */
static void target_lost(struct cb_world *w, const char *number, cb_time now,
                        const struct cb_cause *cause, struct cb_decisions *out)
{
    struct cb_positions ps = callbacks_by(w, CB_INDEX_TARGETS, number);
    for (size_t i = 0; i < ps.n; i++) {
        struct cb_callback *c = &w->callbacks[ps.pos[i]];
        if (c->state == CB_STATE_NOTIFYING && c->target_type == CB_TARGET_STATION &&
            cb_streq(c->target, number))
            cb_back_to_pending(w, c, now, cause, out);
    }
    cb_positions_free(&ps);
    hunt_groups_lost_member(w, number, now, cause, out);
}

/* CB-19/CB-31: `number` can no longer be rung: callbacks ringing it wait again. */
static void notified_lost(struct cb_world *w, const char *number, cb_time now,
                          const struct cb_cause *cause, struct cb_decisions *out)
{
    struct cb_positions ps = callbacks_by(w, CB_INDEX_NOTIFIED, number);
    for (size_t i = 0; i < ps.n; i++) {
        struct cb_callback *c = &w->callbacks[ps.pos[i]];
        if (c->state == CB_STATE_NOTIFYING && cb_streq(c->notify_station, number))
            cb_back_to_pending(w, c, now, cause, out);
    }
    cb_positions_free(&ps);
}

static void on_station_state(struct cb_world *w, struct cb_station *s, bool busy, cb_time now,
                             const struct cb_cause *cause, struct cb_decisions *out)
{
    if (s->state.busy != busy) {
        s->state.busy = busy;
        cb_mark_station(w, s);
    }
    if (busy) {
        target_lost(w, s->number, now, cause, out); /* CB-18 */
        return;
    }
    /* CB-12/CB-24: an idle report is what a callback preserved after "busy" waits for. */
    struct cb_positions ps = callbacks_waiting_on(w, s->number);
    for (size_t i = 0; i < ps.n; i++) {
        struct cb_callback *c = &w->callbacks[ps.pos[i]];
        if (cb_callback_active(c) && c->idle_report_needed && waits_on_station(w, c, s->number)) {
            c->idle_report_needed = false;
            cb_touch(w, c, now);
        }
    }
    cb_positions_free(&ps);
}

static void on_station_hook(struct cb_world *w, struct cb_station *s, bool off, cb_time now,
                            const struct cb_cause *cause, struct cb_decisions *out)
{
    if (s->state.hook_off != off) {
        s->state.hook_off = off;
        cb_mark_station(w, s);
    }
    if (off)
        cb_answer(w, s->number, now, cause, out); /* CB-22 */
    if (!off && s->attempt != CB_ATTEMPT_NONE) {
        /* CB-01: hanging up ends the failed attempt. */
        s->attempt = CB_ATTEMPT_NONE;
        s->attempt_to[0] = '\0';
        cb_mark_station(w, s);
    }
    /* CB-13/CB-14/CB-24: an off then an on on the target completes the hook cycle. */
    struct cb_positions ps = callbacks_waiting_on(w, s->number);
    for (size_t i = 0; i < ps.n; i++) {
        struct cb_callback *c = &w->callbacks[ps.pos[i]];
        if (!cb_callback_active(c) || !c->hook_cycle_needed || !waits_on_station(w, c, s->number))
            continue;
        if (off && !c->hook_off_seen) {
            c->hook_off_seen = true;
            cb_touch(w, c, now);
        } else if (!off && c->hook_off_seen) {
            c->hook_cycle_needed = false;
            c->hook_off_seen = false;
            cb_touch(w, c, now);
        }
    }
    cb_positions_free(&ps);
}

static void set_feature(struct cb_world *w, struct cb_station *s, enum cb_feature f, bool active)
{
    bool *flag = f == CB_FEATURE_DND         ? &s->state.dnd
                 : f == CB_FEATURE_MAKE_BUSY ? &s->state.make_busy
                                             : &s->state.attendant_busy_out;
    if (*flag != active) {
        *flag = active;
        cb_mark_station(w, s);
    }
}

static void on_station_feature(struct cb_world *w, struct cb_station *s, enum cb_feature f,
                               bool active, cb_time now, const struct cb_cause *cause,
                               struct cb_decisions *out)
{
    set_feature(w, s, f, active);
    bool blocking = cb_station_blocking(s);
    struct cb_positions ps = callbacks_by(w, CB_INDEX_TARGETS, s->number);
    for (size_t i = 0; i < ps.n; i++) {
        struct cb_callback *c = &w->callbacks[ps.pos[i]];
        if (!cb_callback_active(c) || c->mode != CB_MODE_CALLBACK ||
            c->target_type != CB_TARGET_STATION || !cb_streq(c->target, s->number))
            continue;
        if (blocking && !c->awaiting_release) {
            /* CB-14 (and CB-18 when ringing): held until release and a hook cycle. A recall
             * in progress goes on; if it fails, the callback waits for the release too. */
            cb_back_to_pending(w, c, now, cause, out);
            c->awaiting_release = true;
            cb_touch(w, c, now);
        } else if (!blocking && c->awaiting_release) {
            /* CB-14: released; now a hook cycle. */
            c->awaiting_release = false;
            c->hook_cycle_needed = true;
            c->hook_off_seen = false;
            cb_touch(w, c, now);
        }
    }
    cb_positions_free(&ps);
}

static void on_failover(struct cb_world *w, struct cb_station *s, bool failed_over, cb_time now,
                        const struct cb_cause *cause, struct cb_decisions *out)
{
    if (s->state.failed_over != failed_over) {
        s->state.failed_over = failed_over;
        cb_mark_station(w, s);
    }
    if (failed_over) {
        target_lost(w, s->number, now, cause, out);   /* CB-19: the target does not mature */
        notified_lost(w, s->number, now, cause, out); /* CB-19: the requester waits */
    }
}

static void on_console(struct cb_world *w, struct cb_station *s, bool available, cb_time now,
                       const struct cb_cause *cause, struct cb_decisions *out)
{
    if (s->state.console_available != available) {
        s->state.console_available = available;
        cb_mark_station(w, s);
    }
    if (!available)
        notified_lost(w, s->number, now, cause, out); /* CB-31: it cannot answer: reroute */
}

static bool on_trunk_state(struct cb_world *w, const struct cb_event *ev)
{
    struct cb_trunk_group *g = cb_world_trunk_group(w, ev->trunk_group);
    struct cb_trunk_line *line = g ? cb_trunk_line_find(g, ev->line) : NULL;
    /* A line reserved by us may show busy: the reservation stands (no CB-18 revert). */
    if (!line)
        return false;
    if (line->busy != ev->flag) {
        line->busy = ev->flag;
        cb_mark_line(w, g, line);
    }
    return true;
}

static bool on_call_attempt(struct cb_world *w, const struct cb_event *ev)
{
    struct cb_station *s = cb_world_station(w, ev->from);
    if (!s)
        return false;
    /* CB-01: a failed attempt stays current until hook on or the next attempt. */
    bool failed = ev->attempt_result == CB_ATTEMPT_BUSY ||
                  ev->attempt_result == CB_ATTEMPT_NO_ANSWER ||
                  ev->attempt_result == CB_ATTEMPT_TRUNKS_BUSY;
    s->attempt = failed ? (enum cb_attempt_result)ev->attempt_result : CB_ATTEMPT_NONE;
    CB_COPY(s->attempt_to, failed ? ev->to : "");
    cb_mark_station(w, s);
    return true;
}

/* Applies the event to the station it names; false when that station is not in the world. */
static bool on_station_event(struct cb_world *w, const struct cb_event *ev, cb_time now,
                             const struct cb_cause *cause, struct cb_decisions *out)
{
    struct cb_station *s = cb_world_station(w, ev->station);
    if (!s)
        return false;
    switch (ev->type) {
    case CB_EV_STATION_STATE:
        on_station_state(w, s, ev->flag, now, cause, out);
        break;
    case CB_EV_STATION_HOOK:
        on_station_hook(w, s, ev->flag, now, cause, out);
        break;
    case CB_EV_STATION_FEATURE:
        on_station_feature(w, s, ev->feature, ev->flag, now, cause, out);
        break;
    case CB_EV_STATION_FORWARD:
        /* CB-07/CB-21: kept for display only; callbacks ignore forwarding. */
        if (!cb_streq(s->state.forward_to, ev->forward_to)) {
            CB_COPY(s->state.forward_to, ev->forward_to);
            cb_mark_station(w, s);
        }
        break;
    case CB_EV_STATION_FAILOVER:
        on_failover(w, s, ev->flag, now, cause, out);
        break;
    case CB_EV_CONSOLE_AVAILABILITY:
        on_console(w, s, ev->flag, now, cause, out);
        break;
    case CB_EV_DIGITS:
        cb_on_digits(w, ev, now, cause, out); /* CB-30 */
        break;
    default:
        return false;
    }
    return true;
}

/* An event about a number (or callback) not in the world changes nothing: it is ignored. */
static void on_event(struct cb_world *w, const struct cb_event *ev, cb_time now,
                     struct cb_decisions *out)
{
    struct cb_cause cause = {.kind = CB_CAUSE_EVENT};
    CB_COPY(cause.ref, ev->id);
    out->error = CB_OK;
    switch (ev->type) {
    case CB_EV_TRUNK_STATE:
        if (!on_trunk_state(w, ev))
            return;
        break;
    case CB_EV_CALL_ATTEMPT:
        if (!on_call_attempt(w, ev))
            return;
        break;
    case CB_EV_CALL_CONNECTED:
        cb_on_call_connected(w, ev, now, &cause, out);
        break;
    case CB_EV_RECALL_RESULT: {
        struct cb_callback *c = cb_world_callback(w, ev->callback_id);
        if (!c || !cb_callback_active(c))
            return;
        cb_recall_outcome(w, c, ev->recall_result, now, &cause, out);
        break;
    }
    default:
        if (!on_station_event(w, ev, now, &cause, out))
            return;
        break;
    }
    cb_core_schedule(w, now, &cause, out);
}

/* The entry point opens the world's index for this decision and frees it (index.c). An event
 * that sets no mark (cb_world.changes), adds no callback and decides nothing was ignored, even
 * when earlier events of the same group did. */
enum cb_outcome cb_core_on_event(struct cb_world *w, const struct cb_event *ev, cb_time now,
                                 struct cb_decisions *out)
{
    const size_t before[5] = {w->changes, w->n_callbacks, out->n_commands, out->n_history,
                              out->n_timers};
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    on_event(w, ev, now, out);
    cb_index_close(w, opened);
    bool changed = w->changes != before[0] || w->n_callbacks != before[1] ||
                   out->n_commands != before[2] || out->n_history != before[3] ||
                   out->n_timers != before[4];
    return changed ? CB_APPLIED : CB_IGNORED;
}
