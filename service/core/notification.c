/* CB-22..CB-24: the requester answers the notification, or does not; the recall call's outcome. */
#include "service/core/internal.h"

void cb_answer(struct cb_world *w, const char *station, cb_time now, const struct cb_cause *cause,
               struct cb_decisions *out)
{
    struct cb_positions ps = {0};
    cb_positions_add(w, &ps, CB_INDEX_NOTIFIED, station);
    cb_positions_sort(&ps);
    for (size_t i = 0; i < ps.n; i++) {
        struct cb_callback *c = &w->callbacks[ps.pos[i]];
        if (!cb_callback_active(c) || c->state != CB_STATE_NOTIFYING ||
            !cb_streq(c->notify_station, station))
            continue;
        /* CB-22: lifting the handset answers the ring (no stop_ring); the recall leaves from
         * the prime line that rang, through the reserved line for a trunk. */
        struct cb_command *cmd = cb_emit(out, CB_CMD_ORIGINATE, c->id);
        CB_COPY(cmd->from_station, c->notify_station);
        CB_COPY(cmd->from_line, c->notify_line);
        cb_dialed_number(c, cmd->to);
        CB_COPY(cmd->via_line, c->reserved_line);
        if (c->target_type == CB_TARGET_TRUNK_GROUP)
            CB_COPY(cmd->external_number, c->external_number);
        cb_emit_timer_clear(out, CB_TIMER_NOTIFY_TIMEOUT, c->id);
        cb_transition(w, c, CB_STATE_RECALLING, now, cause, out);
        cb_emit_timer(out, CB_TIMER_RECALL_TIMEOUT, c->id,
                      now + w->options.recall_timeout_s * 1000);
        break; /* CB-17: a station is rung for one callback at a time */
    }
    cb_positions_free(&ps);
}

void cb_recall_outcome(struct cb_world *w, struct cb_callback *c, enum cb_recall_result result,
                       cb_time now, const struct cb_cause *cause, struct cb_decisions *out)
{
    if (!cb_callback_active(c) || c->state != CB_STATE_RECALLING)
        return; /* a late or repeated result changes nothing */
    if (result == CB_RECALL_ANSWERED) {
        /* CB-24: done; the reserved line now belongs to the call (no release_trunk). */
        cb_end(w, c, CB_END_COMPLETED, now, cause, out);
        return;
    }
    if (c->target_type == CB_TARGET_TRUNK_GROUP) {
        /* CB-24: a trunk callback is not preserved; its line is released. */
        cb_drop_line(w, c, true, out);
        cb_end(w, c, CB_END_RECALL_FAILED, now, cause, out);
        return;
    }
    /* CB-24: preserved, expiry unchanged; it matures afresh after the next idle report (busy)
     * or the next hook cycle (no answer, failure, timeout). */
    cb_emit_timer_clear(out, CB_TIMER_RECALL_TIMEOUT, c->id);
    if (result == CB_RECALL_BUSY) {
        c->idle_report_needed = true;
        if (c->target_type == CB_TARGET_STATION)
            c->reason = CB_REASON_BUSY;
    } else {
        c->hook_cycle_needed = true;
        c->hook_off_seen = false;
        if (c->target_type == CB_TARGET_STATION)
            c->reason = CB_REASON_NO_ANSWER;
    }
    cb_transition(w, c, CB_STATE_PENDING, now, cause, out);
}

void cb_notify_timeout(struct cb_world *w, struct cb_callback *c, cb_time now,
                       const struct cb_cause *cause, struct cb_decisions *out)
{
    if (!cb_callback_active(c) || c->state != CB_STATE_NOTIFYING)
        return;
    /* CB-23: stop_ring and release come from the undo of cb_end (CB-29). */
    cb_end(w, c, CB_END_NO_RESPONSE, now, cause, out);
}
