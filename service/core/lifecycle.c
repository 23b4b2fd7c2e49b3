/* State transitions shared by every rule: moving, returning to pending (CB-18), ending with
 * undo (CB-29). */
#include "service/core/internal.h"

void cb_transition(struct cb_world *w, struct cb_callback *c, enum cb_state to, cb_time now,
                   const struct cb_cause *cause, struct cb_decisions *out)
{
    cb_emit_history(out, c->id, c->state, to, now, cause);
    c->state = to;
    cb_touch(w, c, now);
}

void cb_touch(struct cb_world *w, struct cb_callback *c, cb_time now)
{
    c->updated_at = now;
    cb_mark_callback(w, c);
}

/* CB-15: the line stops being held for this callback. The command names the group and line
 * stored in the callback, so it is right even when the group is no longer in the world. */
void cb_drop_line(struct cb_world *w, struct cb_callback *c, bool send_release,
                  struct cb_decisions *out)
{
    if (!c->reserved_line[0])
        return;
    if (send_release) {
        struct cb_command *cmd = cb_emit(out, CB_CMD_RELEASE_TRUNK, c->id);
        CB_COPY(cmd->trunk_group, c->target);
        CB_COPY(cmd->line, c->reserved_line);
    }
    struct cb_trunk_group *g = cb_world_trunk_group(w, c->target);
    struct cb_trunk_line *line = g ? cb_trunk_line_find(g, c->reserved_line) : NULL;
    if (line && cb_streq(line->reserved_for, c->id)) {
        line->reserved_for[0] = '\0';
        cb_mark_line(w, g, line);
    }
    c->reserved_line[0] = '\0';
    cb_mark_callback(w, c);
}

static void stop_ring(const struct cb_callback *c, struct cb_decisions *out)
{
    struct cb_command *cmd = cb_emit(out, CB_CMD_STOP_RING, c->id);
    CB_COPY(cmd->station, c->notify_station);
    CB_COPY(cmd->line, c->notify_line);
}

static enum cb_state end_state(enum cb_end_reason reason)
{
    switch (reason) {
    case CB_END_COMPLETED:
        return CB_STATE_COMPLETED;
    case CB_END_EXPIRED:
        return CB_STATE_EXPIRED;
    default:
        return CB_STATE_CANCELLED;
    }
}

void cb_end(struct cb_world *w, struct cb_callback *c, enum cb_end_reason reason, cb_time now,
            const struct cb_cause *cause, struct cb_decisions *out)
{
    if (!cb_callback_active(c))
        return;
    /* CB-29: a ringing requester stops ringing. */
    if (c->state == CB_STATE_NOTIFYING)
        stop_ring(c, out);
    /* CB-15/CB-29: a reserved line is released, unless the recall call is using it. */
    cb_drop_line(w, c, c->state != CB_STATE_RECALLING, out);
    /* CB-29/CB-40: a lit lamp goes off. */
    if (c->lamp_lit) {
        struct cb_command *cmd = cb_emit(out, CB_CMD_MWI, c->id);
        CB_COPY(cmd->station, c->target);
        CB_COPY(cmd->from, c->requester);
        cmd->on = false;
        c->lamp_lit = false;
    }
    cb_emit_timer_clear(out, CB_TIMER_EXPIRY, c->id);
    cb_emit_timer_clear(out, CB_TIMER_NOTIFY_TIMEOUT, c->id);
    cb_emit_timer_clear(out, CB_TIMER_RECALL_TIMEOUT, c->id);
    cb_transition(w, c, end_state(reason), now, cause, out);
    c->ended_at = now;
    c->end_reason = reason;
}

void cb_back_to_pending(struct cb_world *w, struct cb_callback *c, cb_time now,
                        const struct cb_cause *cause, struct cb_decisions *out)
{
    if (!cb_callback_active(c) || c->state != CB_STATE_NOTIFYING)
        return;
    stop_ring(c, out);
    cb_emit_timer_clear(out, CB_TIMER_NOTIFY_TIMEOUT, c->id);
    cb_drop_line(w, c, true, out);
    cb_transition(w, c, CB_STATE_PENDING, now, cause, out);
}
