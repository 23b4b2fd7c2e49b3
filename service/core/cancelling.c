/* CB-25..CB-28, CB-32: ending callbacks on request, on a connected call, on deprovisioning;
 * Call Again. */
#include "service/core/internal.h"

/* Finds an active callback by id, or says why not (not_found / invalid_state). */
static struct cb_callback *active_or_error(struct cb_world *w, const char *callback_id,
                                           struct cb_decisions *out)
{
    out->error = CB_OK;
    out->error_detail[0] = '\0';
    struct cb_callback *c = cb_world_callback(w, callback_id);
    if (!c) {
        cb_set_error(out, CB_ERR_NOT_FOUND, "no callback %s", callback_id ? callback_id : "");
        return NULL;
    }
    if (!cb_callback_active(c)) {
        cb_set_error(out, CB_ERR_INVALID_STATE, "callback %s has already ended (%s)", c->id,
                     cb_state_name(c->state));
        return NULL;
    }
    return c;
}

static void cancel(struct cb_world *w, const char *callback_id, enum cb_end_reason reason,
                   cb_time now, const struct cb_cause *cause, struct cb_decisions *out)
{
    struct cb_callback *c = active_or_error(w, callback_id, out);
    if (!c)
        return;
    /* CB-25 with the undo of CB-29; the freed slot or line may serve the next in the queue. */
    cb_end(w, c, reason, now, cause, out);
    cb_core_schedule(w, now, cause, out);
}

static void cancel_all(struct cb_world *w, const char *requester, cb_time now,
                       const struct cb_cause *cause, struct cb_decisions *out)
{
    out->cancelled_count = 0;
    for (size_t i = 0; i < w->n_callbacks; i++) {
        struct cb_callback *c = &w->callbacks[i];
        if (cb_callback_active(c) && cb_streq(c->requester, requester)) {
            cb_end(w, c, CB_END_CANCELLED_ALL, now, cause, out); /* CB-26 */
            out->cancelled_count++;
        }
    }
    cb_core_schedule(w, now, cause, out);
}

static void number_removed(struct cb_world *w, const char *number, cb_time now,
                           const struct cb_cause *cause, struct cb_decisions *out)
{
    for (size_t i = 0; i < w->n_callbacks; i++) {
        struct cb_callback *c = &w->callbacks[i];
        if (!cb_callback_active(c))
            continue;
        if (cb_streq(c->requester, number) || cb_streq(c->target, number))
            cb_end(w, c, CB_END_STATION_REMOVED, now, cause, out); /* CB-28 */
        else if (c->state == CB_STATE_NOTIFYING && cb_streq(c->notify_station, number))
            cb_back_to_pending(w, c, now, cause, out); /* a console ringing on behalf of */
    }
    cb_core_schedule(w, now, cause, out);
}

static void call_again(struct cb_world *w, const char *callback_id, cb_time now,
                       struct cb_decisions *out)
{
    (void)now; /* the callback does not change: nothing to date */
    struct cb_callback *c = active_or_error(w, callback_id, out);
    if (!c)
        return;
    /* CB-32: a plain call from the requester's prime line; the callback stays until a call
     * connects (CB-27). */
    const struct cb_station *req = cb_world_station(w, c->requester);
    struct cb_command *cmd = cb_emit(out, CB_CMD_ORIGINATE, c->id);
    CB_COPY(cmd->from_station, c->requester);
    CB_COPY(cmd->from_line, req ? cb_station_line(req) : c->requester);
    cb_dialed_number(c, cmd->to);
    if (c->target_type == CB_TARGET_TRUNK_GROUP)
        CB_COPY(cmd->external_number, c->external_number);
}

static bool is_party(const struct cb_event *ev, const char *number)
{
    for (size_t i = 0; i < ev->n_parties && i < CB_MAX_PARTIES; i++)
        if (cb_streq(ev->parties[i], number))
            return true;
    return false;
}

/* CB-27: is the callback's target among the parties? A hunt group is reached through its pilot
 * or a member; a trunk group through the number dialed (group + outside number). */
static bool target_is_party(struct cb_world *w, const struct cb_callback *c,
                            const struct cb_event *ev)
{
    switch (c->target_type) {
    case CB_TARGET_TRUNK_GROUP: {
        char dialed[2 * CB_NUMBER_MAX];
        cb_dialed_number(c, dialed);
        return is_party(ev, dialed);
    }
    case CB_TARGET_HUNT_GROUP: {
        if (is_party(ev, c->target))
            return true;
        const struct cb_hunt_group *g = cb_world_hunt_group(w, c->target);
        for (size_t i = 0; g && i < g->n_members; i++)
            if (is_party(ev, g->members[i]))
                return true;
        return false;
    }
    default:
        return is_party(ev, c->target);
    }
}

void cb_on_call_connected(struct cb_world *w, const struct cb_event *ev, cb_time now,
                          const struct cb_cause *cause, struct cb_decisions *out)
{
    if (ev->conference || ev->n_parties < 2)
        return; /* CB-27: a conference does not complete a callback */
    for (size_t i = 0; i < w->n_callbacks; i++) {
        struct cb_callback *c = &w->callbacks[i];
        /* The recall call itself is completed by its recall.result (CB-24). */
        if (!cb_callback_active(c) || c->state == CB_STATE_RECALLING)
            continue;
        if (is_party(ev, c->requester) && target_is_party(w, c, ev))
            cb_end(w, c, CB_END_CALL_COMPLETED, now, cause, out); /* CB-27, CB-40 */
    }
}

/* The entry points: each opens the world's index for the decision and frees it (index.c). */
void cb_core_cancel(struct cb_world *w, const char *callback_id, enum cb_end_reason reason,
                    cb_time now, const struct cb_cause *cause, struct cb_decisions *out)
{
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    cancel(w, callback_id, reason, now, cause, out);
    cb_index_close(w, opened);
}

void cb_core_cancel_all(struct cb_world *w, const char *requester, cb_time now,
                        const struct cb_cause *cause, struct cb_decisions *out)
{
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    cancel_all(w, requester, now, cause, out);
    cb_index_close(w, opened);
}

/* A removed station leaves the world before anything is decided, so that the scheduling pass
 * that follows cannot ring it again (a console that rang on behalf of another, CB-31). */
static void drop_station(struct cb_world *w, const char *number)
{
    for (size_t i = 0; i < w->n_stations; i++)
        if (cb_streq(w->stations[i].number, number)) {
            memmove(&w->stations[i], &w->stations[i + 1],
                    (w->n_stations - i - 1) * sizeof *w->stations);
            w->n_stations--;
            return;
        }
}

void cb_core_number_removed(struct cb_world *w, const char *number, cb_time now,
                            const struct cb_cause *cause, struct cb_decisions *out)
{
    drop_station(w, number); /* before the index is built over the stations */
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    number_removed(w, number, now, cause, out);
    cb_index_close(w, opened);
}

void cb_core_call_again(struct cb_world *w, const char *callback_id, cb_time now,
                        struct cb_decisions *out)
{
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    call_again(w, callback_id, now, out);
    cb_index_close(w, opened);
}
