/* CB-01..CB-10, CB-40: validating and setting a callback. */
#include "service/core/internal.h"

#include <stdlib.h>

/* What the dialed number names, found in the world. */
struct target_ref {
    enum cb_target_type type;
    struct cb_station *station;
    struct cb_trunk_group *trunk;
    struct cb_hunt_group *hunt;
};

static bool find_target(struct cb_world *w, const char *number, struct target_ref *t)
{
    memset(t, 0, sizeof(*t));
    if ((t->station = cb_world_station(w, number)) != NULL) {
        t->type = CB_TARGET_STATION;
        return true;
    }
    if ((t->hunt = cb_world_hunt_group(w, number)) != NULL) {
        t->type = CB_TARGET_HUNT_GROUP;
        return true;
    }
    if ((t->trunk = cb_world_trunk_group(w, number)) != NULL) {
        t->type = CB_TARGET_TRUNK_GROUP;
        return true;
    }
    return false;
}

/* CB-05: the reason follows the target's live state at set time. */
static enum cb_reason derive_reason(const struct target_ref *t)
{
    switch (t->type) {
    case CB_TARGET_TRUNK_GROUP:
        return CB_REASON_TRUNKS_BUSY;
    case CB_TARGET_HUNT_GROUP:
        return CB_REASON_HUNT_GROUP_BUSY;
    default:
        return t->station->state.busy || cb_station_blocking(t->station) ? CB_REASON_BUSY
                                                                         : CB_REASON_NO_ANSWER;
    }
}

static size_t count_active(const struct cb_world *w, const char *requester, const char *target,
                           const struct cb_callback *except)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_callbacks; i++) {
        const struct cb_callback *c = &w->callbacks[i];
        if (c == except || !cb_callback_active(c))
            continue;
        if ((requester && cb_streq(c->requester, requester)) ||
            (target && cb_streq(c->target, target)))
            n++;
    }
    return n;
}

/* Every refusal of CB-02..CB-09, in the documented order; CB_OK when the request may stand.
 * `*superseded` is the callback CB-08 will replace (it does not count against the limits). */
static enum cb_error check_request(struct cb_world *w, const struct cb_set_request *req,
                                   const struct cb_station *requester, const struct target_ref *t,
                                   struct cb_callback **superseded, struct cb_decisions *out)
{
    if (!requester->callbacks_allowed) {
        cb_set_error(out, CB_ERR_NOT_ALLOWED, "the class of service of %s does not allow callbacks",
                     req->requester);
        return out->error;
    }
    if (requester->state.failed_over) {
        cb_set_error(out, CB_ERR_FAILED_OVER,
                     "station %s has failed over to its secondary controller", req->requester);
        return out->error;
    }
    if (t->station && t->station->state.failed_over) {
        cb_set_error(out, CB_ERR_FAILED_OVER,
                     "station %s has failed over to its secondary controller", req->target);
        return out->error;
    }
    if (req->mode == CB_MODE_MESSAGE && t->type != CB_TARGET_STATION) {
        cb_set_error(out, CB_ERR_VALIDATION, "a message can only be left on a station");
        return out->error;
    }
    /* openapi.yaml: external_number is optional on a trunk group (the recall then seizes the
     * reserved line with no number to dial) and means nothing on any other target. */
    if (t->type != CB_TARGET_TRUNK_GROUP && req->external_number[0]) {
        cb_set_error(out, CB_ERR_VALIDATION, "external_number only applies to trunk groups");
        return out->error;
    }
    if ((t->trunk && !t->trunk->callback_activation) ||
        (t->hunt && !t->hunt->callback_activation)) {
        cb_set_error(out, CB_ERR_GROUP_DISABLED, "callbacks are not activated on group %s",
                     req->target);
        return out->error;
    }
    /* CB-06: group callbacks only when every line / member is in use. */
    if ((t->trunk && cb_trunk_free_line(t->trunk)) || (t->hunt && cb_hunt_capacity(w, t->hunt))) {
        cb_set_error(out, CB_ERR_TARGET_AVAILABLE, "group %s has a free %s: call it", req->target,
                     t->trunk ? "line" : "member");
        return out->error;
    }
    /* CB-08 before CB-09: the request that will be superseded does not count. */
    *superseded = cb_find_active(w, req->requester, req->target);
    if ((int64_t)count_active(w, req->requester, NULL, *superseded) >=
        w->options.max_per_requester) {
        cb_set_error(out, CB_ERR_LIMIT_REACHED, "%s already has %lld active callbacks",
                     req->requester, (long long)w->options.max_per_requester);
        return out->error;
    }
    if ((int64_t)count_active(w, NULL, req->target, *superseded) >= w->options.max_per_target) {
        cb_set_error(out, CB_ERR_LIMIT_REACHED, "%s already has %lld callbacks waiting on it",
                     req->target, (long long)w->options.max_per_target);
        return out->error;
    }
    return CB_OK;
}

/* The new callback's fields, before it is placed in the world (and marked new there). */
static void build_callback(struct cb_world *w, const struct cb_set_request *req,
                           const struct cb_station *requester, const struct target_ref *t,
                           cb_time now, struct cb_callback *c)
{
    const struct cb_options *opt = &w->options;
    memset(c, 0, sizeof(*c));
    CB_COPY(c->id, req->new_id);
    c->seq = req->new_seq;
    CB_COPY(c->requester, req->requester);
    CB_COPY(c->target, req->target);
    c->target_type = t->type;
    c->reason = derive_reason(t);
    c->mode = req->mode;
    c->state = req->mode == CB_MODE_MESSAGE ? CB_STATE_MESSAGE_LEFT : CB_STATE_PENDING;
    CB_COPY(c->origin_line, req->origin_line[0] ? req->origin_line : req->requester);
    /* CB-20: notifications ring the prime line, whatever line the request came from. */
    CB_COPY(c->notify_line, cb_station_line(requester));
    CB_COPY(c->notify_station, requester->number);
    CB_COPY(c->external_number, req->external_number);
    if (t->station && req->mode == CB_MODE_CALLBACK) {
        /* CB-14: a feature active at set time must be released, then a hook cycle. */
        c->awaiting_release = cb_station_blocking(t->station);
        /* CB-13: the station rang unanswered: wait for a hook cycle. */
        c->hook_cycle_needed = c->reason == CB_REASON_NO_ANSWER;
    }
    c->created_at = now;
    c->updated_at = now;
    /* CB-10: the programmed period; CB-40: a message does not expire. */
    c->expires_at = req->mode == CB_MODE_CALLBACK ? now + opt->callback_cancel_timer_s * 1000 : 0;
}

static struct cb_callback *set_callback(struct cb_world *w, const struct cb_set_request *req,
                                        cb_time now, const struct cb_cause *cause,
                                        struct cb_decisions *out)
{
    out->error = CB_OK;
    out->error_detail[0] = '\0';
    if (!req->requester[0] || !req->target[0] || !req->new_id[0]) {
        cb_set_error(out, CB_ERR_VALIDATION, "requester, target and id are required");
        return NULL;
    }
    /* CB-02: a station cannot call itself back. */
    if (cb_streq(req->requester, req->target)) {
        cb_set_error(out, CB_ERR_VALIDATION, "requester and target are the same number");
        return NULL;
    }
    if (req->mode != CB_MODE_CALLBACK && req->mode != CB_MODE_MESSAGE) {
        cb_set_error(out, CB_ERR_VALIDATION, "mode must be callback or message");
        return NULL;
    }
    if (cb_world_callback(w, req->new_id)) {
        cb_set_error(out, CB_ERR_VALIDATION, "callback id %s is already in use", req->new_id);
        return NULL;
    }
    /* CB-02: both numbers must be provisioned. */
    const struct cb_station *requester = cb_world_station(w, req->requester);
    if (!requester) {
        cb_set_error(out, CB_ERR_UNKNOWN_NUMBER, "requester %s is not provisioned", req->requester);
        return NULL;
    }
    struct target_ref t;
    if (!find_target(w, req->target, &t)) {
        cb_set_error(out, CB_ERR_UNKNOWN_NUMBER, "target %s is not provisioned", req->target);
        return NULL;
    }
    struct cb_callback *old = NULL;
    if (check_request(w, req, requester, &t, &old, out) != CB_OK)
        return NULL;

    struct cb_callback fresh;
    build_callback(w, req, requester, &t, now, &fresh);
    /* Remember the superseded one by index: adding may move the array. */
    size_t old_index = old ? (size_t)(old - w->callbacks) : 0;
    if (old)
        CB_COPY(fresh.supersedes, old->id);
    struct cb_callback *c = cb_world_add_callback(w, &fresh);
    if (!c)
        abort();                /* out of memory: see grow() in world.c */
    cb_mark_new_callback(w, c); /* once in the world: the mark logs its position */
    /* CB-08: the original is cancelled first (its lamp goes off before the new one lights). */
    if (old)
        cb_end(w, &w->callbacks[old_index], CB_END_SUPERSEDED, now, cause, out);

    cb_emit_history(out, c->id, CB_STATE_NONE, c->state, now, cause);
    if (c->mode == CB_MODE_MESSAGE) {
        /* CB-40: light the target's lamp, naming the requester. */
        struct cb_command *cmd = cb_emit(out, CB_CMD_MWI, c->id);
        CB_COPY(cmd->station, c->target);
        CB_COPY(cmd->from, c->requester);
        cmd->on = true;
        c->lamp_lit = true;
    } else {
        cb_emit_timer(out, CB_TIMER_EXPIRY, c->id, c->expires_at);
    }
    /* The new callback cannot mature (its target is in use), but undoing a superseded one may
     * have freed a line or a slot for the next in a queue. */
    cb_core_schedule(w, now, cause, out);
    return c;
}

/* The entry point opens the world's index for this decision and frees it (index.c). */
struct cb_callback *cb_core_set(struct cb_world *w, const struct cb_set_request *req, cb_time now,
                                const struct cb_cause *cause, struct cb_decisions *out)
{
    /* A number dialed through a trunk group ("95551234": group 9, outside number 5551234) is
     * split here unless the request gives the outside number itself; a station's or hunt
     * group's number, or a trunk group's own, stays whole. */
    struct cb_set_request split = *req;
    if (req->softkey) {
        const struct cb_station *s = cb_world_station(w, req->requester);
        if (s && s->attempt == CB_ATTEMPT_NONE) { /* CB-01: no current failed attempt */
            cb_set_error(out, CB_ERR_NO_FAILED_ATTEMPT,
                         "station %s has no failed call attempt to use", s->number);
            return NULL;
        }
        if (s)
            CB_COPY(split.target, s->attempt_to);
    }
    char target[CB_NUMBER_MAX], external[CB_NUMBER_MAX];
    if (!split.external_number[0] && cb_core_resolve_number(w, split.target, target, external) &&
        external[0]) {
        CB_COPY(split.target, target);
        CB_COPY(split.external_number, external);
    }
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    struct cb_callback *c = set_callback(w, &split, now, cause, out);
    cb_index_close(w, opened);
    return c;
}
