/* Due timers: expiry (CB-10), notification timeout (CB-23), recall timeout (CB-24). */
#include "service/core/internal.h"

static void on_timer(struct cb_world *w, enum cb_timer_kind kind, const char *callback_id,
                     cb_time now, struct cb_decisions *out)
{
    struct cb_callback *c = cb_world_callback(w, callback_id);
    if (!c || !cb_callback_active(c))
        return;
    struct cb_cause cause = {.kind = CB_CAUSE_TIMER};
    CB_COPY(cause.ref, cb_timer_kind_name(kind));
    switch (kind) {
    case CB_TIMER_EXPIRY:
        /* CB-10: in any state; a message (expires_at 0) never expires, and a timer that fires
         * before the stored expiry is stale (the callback was set again). */
        if (c->expires_at == 0 || now < c->expires_at)
            return;
        cb_end(w, c, CB_END_EXPIRED, now, &cause, out);
        break;
    case CB_TIMER_NOTIFY_TIMEOUT:
        if (c->state != CB_STATE_NOTIFYING)
            return;
        cb_notify_timeout(w, c, now, &cause, out); /* CB-23 */
        break;
    case CB_TIMER_RECALL_TIMEOUT:
        if (c->state != CB_STATE_RECALLING)
            return;
        cb_recall_outcome(w, c, CB_RECALL_NO_ANSWER, now, &cause, out); /* CB-24 */
        break;
    default:
        return;
    }
    /* A freed slot or line may serve the next callback in a queue. */
    cb_core_schedule(w, now, &cause, out);
}

/* The entry point opens the world's index for this decision and frees it (index.c). */
void cb_core_on_timer(struct cb_world *w, enum cb_timer_kind kind, const char *callback_id,
                      cb_time now, struct cb_decisions *out)
{
    struct cb_world_index index;
    bool opened = cb_index_open(w, &index);
    on_timer(w, kind, callback_id, now, out);
    cb_index_close(w, opened);
}
